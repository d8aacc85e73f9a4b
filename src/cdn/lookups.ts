/**
 * Ring lookups with a hard deadline on the injected `Clock`: the ring bounds
 * its own walk, this bounds the caller whatever happens on the ring. Every
 * lookup (a fetch's, a `locate` call's, an announce retry's) is counted here.
 */
import { raceSignal } from 'race-signal'
import { AbortError } from '../overlay/errors.ts'
import { idToHex } from '../overlay/ring-id.ts'
import { clockDeadline } from './deadline.ts'
import { LookupTimeoutError } from './errors.ts'
import type { CdnCounters } from './counters.ts'
import type { LocateResult, Locator } from './seams.ts'
import type { Address, Clock } from '../overlay/seams.ts'

export interface LookupsComponents {
  clock: Clock
  locator: Locator
  counters: CdnCounters
}

export interface LookupsInit {
  /** Sees every answer (the service learns the peers' addresses from it) */
  onAnswer?(res: LocateResult): void
}

export class Lookups {
  private readonly clock: Clock
  private readonly locator: Locator
  private readonly counters: CdnCounters
  private readonly onAnswer?: (res: LocateResult) => void

  constructor (components: LookupsComponents, init: LookupsInit = {}) {
    this.clock = components.clock
    this.locator = components.locator
    this.counters = components.counters
    this.onAnswer = init.onAnswer
  }

  /**
   * `avoid`: peers found lying about `key` (see `Locator.locate`)
   *
   * @throws {LookupTimeoutError} no answer within `timeout` ms
   * @throws {AbortError} when `signal` aborts
   */
  async locate (key: bigint, timeout: number, signal?: AbortSignal, avoid?: Address[]): Promise<LocateResult> {
    const deadline = clockDeadline(this.clock, timeout, signal)
    this.counters.lookups++
    try {
      const res = await raceSignal(this.locator.locate(key, { timeout, signal, avoid }), deadline.signal)
      this.counters.hops += res.hops
      this.counters.lookupsAnswered++
      this.onAnswer?.(res)
      return res
    } catch (err: any) {
      if (signal?.aborted === true) {
        throw new AbortError()
      }
      this.counters.lookupFailures++
      if (deadline.signal.aborted) {
        throw new LookupTimeoutError(`no answer for ${idToHex(key)} within ${timeout}ms`, { cause: err })
      }
      throw err
    } finally {
      deadline.clear()
    }
  }
}
