/**
 * Tells a key's home node that this page holds the object now. A page that
 * is not listed serves nobody however long it holds the object, so an
 * announce that fails is tried again (with backoff on the `Clock`), each time
 * to the home a new lookup finds: the home the fetch found may have left
 * meanwhile. Retries stop with the node, not with the fetch that stored the
 * object (its caller may abort once it has its response).
 */
import { clockDelay } from './deadline.ts'
import type { Lookups } from './lookups.ts'
import type { Locator } from './seams.ts'
import type { Address, Clock, Log, Peer } from '../overlay/seams.ts'

/** Deadline of telling a home node we hold an asset, ms */
export const ANNOUNCE_TIMEOUT_MS = 2_000
/**
 * Attempts after the first to tell a home node we hold an asset; each looks
 * the home up again
 */
export const ANNOUNCE_RETRIES = 3
/** Wait before the first announce retry, ms; doubles for each further one */
export const ANNOUNCE_RETRY_DELAY_MS = 1_000

export interface AnnouncerComponents {
  clock: Clock
  locator: Locator
  lookups: Lookups
  log: Log
}

export interface AnnouncerInit {
  /** Deadline of a lookup that finds the home again, ms */
  lookupTimeoutMs: number
  /** @default ANNOUNCE_TIMEOUT_MS (2 s) */
  announceTimeoutMs?: number
  /** @default ANNOUNCE_RETRIES (3) */
  retries?: number
  /** @default ANNOUNCE_RETRY_DELAY_MS (1 s) */
  retryDelayMs?: number
}

export class Announcer {
  private readonly clock: Clock
  private readonly locator: Locator
  private readonly lookups: Lookups
  private readonly log: Log
  private readonly lookupTimeoutMs: number
  private readonly announceTimeoutMs: number
  private readonly retries: number
  private readonly retryDelayMs: number

  constructor (components: AnnouncerComponents, init: AnnouncerInit) {
    this.clock = components.clock
    this.locator = components.locator
    this.lookups = components.lookups
    this.log = components.log
    this.lookupTimeoutMs = init.lookupTimeoutMs
    this.announceTimeoutMs = init.announceTimeoutMs ?? ANNOUNCE_TIMEOUT_MS
    this.retries = init.retries ?? ANNOUNCE_RETRIES
    this.retryDelayMs = init.retryDelayMs ?? ANNOUNCE_RETRY_DELAY_MS
  }

  /**
   * Announces `key` in the background: first to `home` (the fetch's, when it
   * found one), then to the home a new lookup finds. Stops when `stillHeld`
   * says the object is gone, or `signal` aborts.
   */
  announce (key: bigint, home: Peer | undefined, gone: Address[], stillHeld: () => boolean, signal: AbortSignal): void {
    this.run(key, home, gone, stillHeld, signal).catch(() => {})
  }

  private async run (key: bigint, home: Peer | undefined, gone: Address[], stillHeld: () => boolean, signal: AbortSignal): Promise<void> {
    for (let attempt = 0; attempt <= this.retries; attempt++) {
      if (attempt > 0) {
        await clockDelay(this.clock, this.retryDelayMs * 2 ** (attempt - 1), signal)
      }
      if (!stillHeld()) {
        // evicted meanwhile: nothing to announce any more
        return
      }
      try {
        const to = attempt === 0 && home != null ? home : await this.findHome(key, signal)
        await this.locator.announce(to, key, gone, { timeout: this.announceTimeoutMs, signal })
        return
      } catch (err: any) {
        if (signal.aborted) {
          return
        }
        this.log('announcing %s failed (attempt %d, %d left) - %e', key.toString(16), attempt + 1, this.retries - attempt, err)
      }
    }
  }

  private async findHome (key: bigint, signal: AbortSignal): Promise<Peer> {
    return (await this.lookups.locate(key, this.lookupTimeoutMs, signal)).home
  }
}
