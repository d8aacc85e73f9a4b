/**
 * The peer phase of a fetch (steps 3 and 4 of `fetch-pipeline.ts`): a ring
 * lookup, the origin's digest on a HEAD once somebody holds the asset, then
 * the holders in turn within the phase's deadline, each within its answer
 * deadline. Every holder that does not deliver is counted, reported and,
 * when it wasted the fetch's time in a way it will likely repeat, avoided.
 * Written against seams and the injected `Clock` only, like the pipeline.
 */
import { AbortError } from '../overlay/errors.ts'
import { clockDeadline } from './deadline.ts'
import type { AvoidList } from './avoid-list.ts'
import type { CdnCounters } from './counters.ts'
import type { IntegrityError } from './errors.ts'
import type { FetchEvents } from './fetch-pipeline.ts'
import type { Lookups } from './lookups.ts'
import type { Downloader, FetchState, FetchTarget, LocateResult, Locator, OriginSource, StoredObject } from './seams.ts'
import type { Address, Clock, Log, Peer } from '../overlay/seams.ts'

/** A peer's verified answer */
export interface PeerWin {
  object: StoredObject
  holder: Address
  /** When the holder was asked, ms of the clock */
  started: number
}

export interface PeerPhaseComponents {
  clock: Clock
  locator: Locator
  lookups: Lookups
  downloader: Downloader
  /** For the digest HEAD */
  origin: Pick<OriginSource<unknown>, 'headDigest'>
  avoidList: AvoidList
  counters: CdnCounters
  log: Log
}

/** The pipeline's settings, resolved (defaults in `fetch-pipeline.ts`) */
export interface PeerPhaseInit {
  lookupTimeoutMs: number
  maxHolderAttempts: number
  peerTimeoutMs: number
  holderAnswerTimeoutMs: number
  maxObjectBytes: number
  trustOnFirstUse: boolean
  events: FetchEvents
  /** A holder's bytes did not match the trusted digest */
  onIntegrityFailure(target: FetchTarget & { digest?: string }, err: IntegrityError, peer?: string): void
}

export class PeerPhase {
  private readonly clock: Clock
  private readonly locator: Locator
  private readonly lookups: Lookups
  private readonly downloader: Downloader
  private readonly origin: Pick<OriginSource<unknown>, 'headDigest'>
  private readonly avoidList: AvoidList
  /** Downloads in flight, by holder: a BUSY answer while several run is our own per-peer share used up */
  private readonly downloading = new Map<string, number>()
  private readonly counters: CdnCounters
  private readonly log: Log
  private readonly lookupTimeoutMs: number
  private readonly maxHolderAttempts: number
  private readonly peerTimeoutMs: number
  private readonly holderAnswerTimeoutMs: number
  private readonly maxObjectBytes: number
  private readonly trustOnFirstUse: boolean
  private readonly events: FetchEvents
  private readonly onIntegrityFailure: PeerPhaseInit['onIntegrityFailure']

  constructor (components: PeerPhaseComponents, init: PeerPhaseInit) {
    this.clock = components.clock
    this.locator = components.locator
    this.lookups = components.lookups
    this.downloader = components.downloader
    this.origin = components.origin
    this.avoidList = components.avoidList
    this.counters = components.counters
    this.log = components.log
    this.lookupTimeoutMs = init.lookupTimeoutMs
    this.maxHolderAttempts = init.maxHolderAttempts
    this.peerTimeoutMs = init.peerTimeoutMs
    this.holderAnswerTimeoutMs = init.holderAnswerTimeoutMs
    this.maxObjectBytes = init.maxObjectBytes
    this.trustOnFirstUse = init.trustOnFirstUse
    this.events = init.events
    this.onIntegrityFailure = init.onIntegrityFailure
  }

  /**
   * Ring lookup, then the holders in turn; `undefined` when no peer can
   * deliver. `sized` hears the object's size once a holder has said it.
   */
  async fetch (state: FetchState, signal: AbortSignal, lifetime: AbortSignal, sized: () => void): Promise<PeerWin | undefined> {
    if (!this.locator.ready) {
      return undefined
    }
    const peerDeadline = this.clock.now() + this.peerTimeoutMs
    const located = await this.lookup(state, signal)
    if (located == null) {
      return undefined
    }
    state.home = located.home
    const self = this.locator.self?.address
    const listed = located.holders.filter(h => h.address !== self)
    const holders = listed.filter(h => !this.avoidList.has(h.address))
    this.counters.holdersSkipped += listed.length - holders.length
    if (holders.length === 0 || !(await this.trustedDigest(state, signal))) {
      return undefined
    }
    for (const holder of holders.slice(0, this.maxHolderAttempts)) {
      signal.throwIfAborted()
      const left = peerDeadline - this.clock.now()
      if (left <= 0) {
        this.log('out of time for peers: %s goes to the origin', state.href)
        return undefined
      }
      const win = await this.fromHolder(state, holder, left, signal, sized)
      if (win != null) {
        return win
      }
    }
    return undefined
  }

  /**
   * Whether peer bytes may be taken for this fetch: with a digest from the
   * manifest, SRI or the origin (asked with a HEAD now that somebody holds
   * the object), or on first use where the page trusts that
   */
  private async trustedDigest (state: FetchState, signal: AbortSignal): Promise<boolean> {
    if (state.digest == null) {
      const digest = await this.origin.headDigest(state.href, signal)
      if (digest != null && state.digest == null) {
        state.digest = digest
        state.digestFrom = 'origin'
      }
    }
    if (state.digest == null && !this.trustOnFirstUse) {
      this.log('no trusted digest for %s: not accepting peer bytes', state.href)
      return false
    }
    return true
  }

  /** Downloads from one holder within the time left; undefined (the holder counted and reported) when it did not deliver */
  private async fromHolder (state: FetchState, holder: Peer, left: number, signal: AbortSignal, sized: () => void): Promise<PeerWin | undefined> {
    const started = this.clock.now()
    // the holder must answer within this, or the next one is asked
    const answerWithin = Math.min(left, this.holderAnswerTimeoutMs)
    const answer = clockDeadline(this.clock, answerWithin)
    let answered = false
    this.downloading.set(holder.address, (this.downloading.get(holder.address) ?? 0) + 1)
    try {
      // without a trusted digest (trust on first use) the holder's claim is all that vouches for it
      const object = await this.downloader.download(holder, state.keyHex, {
        digest: state.digest,
        provenance: state.digestFrom ?? 'peer',
        maxObjectBytes: this.maxObjectBytes,
        startWithinMs: answerWithin,
        signal: AbortSignal.any([signal, answer.signal]),
        onStart: (size) => {
          answered = true
          answer.clear()
          state.size = size
          sized()
        }
      })
      return { object, holder: holder.address, started }
    } catch (err: any) {
      if (signal.aborted) {
        throw new AbortError()
      }
      const silent = !answered && (answer.signal.aborted || this.clock.now() - started >= answerWithin)
      // a holder serves each peer only a few transfers at once: BUSY while we download other assets
      // from it is our own share used up, not a reason to avoid it
      const ownShare = err.name === 'HolderBusyError' && (this.downloading.get(holder.address) ?? 0) > 1
      this.holderFailed(state, holder.address, err, silent, ownShare)
      return undefined
    } finally {
      answer.clear()
      const left = (this.downloading.get(holder.address) ?? 1) - 1
      if (left > 0) {
        this.downloading.set(holder.address, left)
      } else {
        this.downloading.delete(holder.address)
      }
    }
  }

  /**
   * Counts and reports a holder that did not deliver, and avoids it for a
   * while if it wasted the fetch's time in a way it will likely repeat. The
   * next holder is tried either way: one bad answer never ends the peer
   * phase while other holders remain.
   */
  private holderFailed (state: FetchState, holder: string, err: any, silent: boolean, ownShare: boolean = false): void {
    this.holderFailure(state, holder, err)
    if (silent) {
      // accepted the request and said nothing in time, or could not be reached in time
      this.avoidList.avoid(holder, 'silent')
      state.gone.push(holder)
      return
    }
    switch (err.name) {
      case 'IntegrityError':
        this.avoidList.avoid(holder, 'integrity')
        this.onIntegrityFailure(state, err, holder)
        state.gone.push(holder)
        break
      case 'HolderBusyError':
        // it holds the asset; it cannot serve it now, and a hostile holder says so every time
        if (!ownShare) {
          this.avoidList.avoid(holder, 'busy')
        }
        break
      case 'ObjectSizeError':
      case 'ObjectTooLargeError':
        // the object may not fit, or the holder lies about it: another holder will say which
        this.avoidList.avoid(holder, 'too-large')
        break
      case 'LimitedConnectionError':
      case 'TransferRefusedError':
        // it holds the asset; it just cannot serve it to us right now
        break
      default:
        state.gone.push(holder)
    }
  }

  private async lookup (state: FetchState, signal: AbortSignal): Promise<LocateResult | undefined> {
    const started = this.clock.now()
    try {
      const res = await this.lookups.locate(state.key, this.lookupTimeoutMs, signal)
      this.events.lookup?.({ target: state, home: res.home, hops: res.hops, holders: res.holders, durationMs: this.clock.now() - started })
      return res
    } catch (err: any) {
      if (signal.aborted) {
        throw new AbortError()
      }
      this.log('lookup of %s failed - %e', state.href, err)
      this.events.lookup?.({ target: state, holders: [], durationMs: this.clock.now() - started, error: err.name, message: err.message })
      return undefined
    }
  }

  private holderFailure (target: FetchTarget, peer: string, err: Error): void {
    this.counters.holderFailures++
    this.counters.holderFailuresByError[err.name] = (this.counters.holderFailuresByError[err.name] ?? 0) + 1
    this.log('holder %s of %s failed - %e', peer, target.href, err)
    this.events.holderFailure?.(target, peer, err)
  }
}
