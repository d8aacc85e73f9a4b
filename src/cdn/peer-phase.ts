/**
 * The peer phase of a fetch (steps 3 and 4 of `fetch-pipeline.ts`): a ring
 * lookup, the origin's digest on a HEAD once somebody holds the asset, then
 * the holders within the phase's deadline, each within its answer deadline:
 * one at first, and the next beside it when none has started sending within
 * the hedge delay (`HedgeDelay`, a few of the holders' answer times), so a
 * holder that accepts a request and says nothing costs a fetch that delay
 * rather than the whole answer deadline. Every holder that does not deliver
 * is counted, reported and, when it wasted the fetch's time in a way it will
 * likely repeat, avoided.
 * Written against seams and the injected `Clock` only, like the pipeline.
 */
import { AbortError, InvalidParametersError } from '../overlay/errors.ts'
import { clockDeadline } from './deadline.ts'
import { HEDGE_MAX_MS, HedgeDelay } from './hedge-delay.ts'
import { MAX_SHARE_WAITS, MAX_UPLOADS_PER_PEER, ShareWaiters } from './share-waiters.ts'
import type { AvoidList } from './avoid-list.ts'
import type { CdnCounters } from './counters.ts'
import type { IntegrityError } from './errors.ts'
import type { FetchEvents } from './fetch-pipeline.ts'
import type { Lookups } from './lookups.ts'
import type { Attempt, Race } from './peer-race.ts'
import type { Downloader, FetchState, FetchTarget, LocateResult, Locator, OriginSource, StoredObject } from './seams.ts'
import type { Address, Clock, Log, Peer, Timer } from '../overlay/seams.ts'

/** What the peer phase tells the fetch as it goes */
export interface PeerPhaseHooks {
  /** A holder said the object's size (`state.size`) */
  sized(): void
  /**
   * More than one holder was asked, every holder the fetch may ask has been,
   * and none has started sending within the hedge delay since the last: the
   * peers look silent, and the origin should be brought in beside them
   */
  stalled(): void
}

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
  /** A fixed hedge delay, ms (`Infinity`: holders strictly one after another); learned from the holders' answers when absent */
  holderHedgeMs?: number
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
  /** Requests this page sent that the holder has not answered yet, by holder: such a holder is asked last */
  private readonly unanswered = new Map<string, number>()
  /** Fetches waiting for our share of a holder, woken as our downloads from it end */
  private readonly shareWaiters = new ShareWaiters()
  private readonly counters: CdnCounters
  private readonly log: Log
  private readonly lookupTimeoutMs: number
  private readonly maxHolderAttempts: number
  private readonly peerTimeoutMs: number
  private readonly holderAnswerTimeoutMs: number
  private readonly holderHedgeMs?: number
  /** Learns the holders' answer times; the hedge delay unless a fixed one is set */
  private readonly hedge: HedgeDelay
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
    if (init.holderHedgeMs != null && !(init.holderHedgeMs >= 0)) {
      throw new InvalidParametersError(`holderHedgeMs must be a number of ms >= 0 (or Infinity), not ${init.holderHedgeMs}`)
    }
    this.holderHedgeMs = init.holderHedgeMs
    this.hedge = new HedgeDelay({ maxMs: Math.min(init.holderAnswerTimeoutMs / 2, HEDGE_MAX_MS) })
    this.maxObjectBytes = init.maxObjectBytes
    this.trustOnFirstUse = init.trustOnFirstUse
    this.events = init.events
    this.onIntegrityFailure = init.onIntegrityFailure
  }

  /**
   * Ring lookup, then the holders; `undefined` when no peer can deliver
   */
  async fetch (state: FetchState, signal: AbortSignal, hooks: PeerPhaseHooks): Promise<PeerWin | undefined> {
    if (!this.locator.ready) {
      return undefined
    }
    const peerDeadline = this.clock.now() + this.peerTimeoutMs
    let located = await this.lookup(state, signal)
    if (located == null) {
      return undefined
    }
    if (this.avoidList.has(located.home.address)) {
      // a home we avoid (it served us bytes that are not what it listed, or stayed silent) answers
      // for its keys with whatever it likes: its successor's replica is asked instead
      located = await this.lookupAround(state, located.home, signal)
      if (located == null) {
        return undefined
      }
    }
    state.home = located.home
    const win = await this.raceListed(state, located.holders, peerDeadline, signal, hooks)
    if (win !== undefined || !this.avoidList.has(located.home.address) || this.clock.now() >= peerDeadline || state.askedAround === true) {
      return win ?? undefined
    }
    // the home listed holders that all failed, itself among them (now avoided): once more, around it
    const around = await this.lookupAround(state, located.home, signal)
    if (around == null) {
      return undefined
    }
    return await this.raceListed(state, around.holders, peerDeadline, signal, hooks) ?? undefined
  }

  /**
   * The listed holders this page may ask (not itself, not avoided), raced;
   * `null` when there was nobody to ask or no trusted digest
   */
  private async raceListed (state: FetchState, listed: Peer[], peerDeadline: number, signal: AbortSignal, hooks: PeerPhaseHooks): Promise<PeerWin | undefined | null> {
    const self = this.locator.self?.address
    const others = listed.filter(h => h.address !== self)
    const holders = others.filter(h => !this.avoidList.has(h.address))
    this.counters.holdersSkipped += others.length - holders.length
    if (holders.length === 0 || !(await this.trustedDigest(state, signal))) {
      return null
    }
    // a holder still silent to another of this page's requests is asked last: a silent holder costs
    // a page one hedge delay, not one per fetch in flight
    const ordered = [...holders.filter(h => !this.unanswered.has(h.address)), ...holders.filter(h => this.unanswered.has(h.address))]
    return this.race(state, ordered.slice(0, this.maxHolderAttempts), peerDeadline, signal, hooks)
  }

  /** Looks the key up once more, around a home we avoid: its successor answers from its replica (route's `answer-for`) */
  private async lookupAround (state: FetchState, home: Peer, signal: AbortSignal): Promise<LocateResult | undefined> {
    state.askedAround = true
    this.counters.lookupsAroundHome++
    return this.lookup(state, signal, [home.address])
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

  /**
   * Asks the holders, one at first; when none has started sending within the
   * hedge delay, the next one beside it. Only one transfer runs at a time: a
   * holder that starts while another is sending is stopped at once (and may
   * be asked again if that transfer fails), so a hedge costs a request, never
   * a second download. The first verified object wins. With more than one
   * holder asked, nobody left to ask and nobody sending a hedge delay after
   * the last was asked, the fetch hears that the peers look stalled (the
   * origin joins beside them).
   */
  private async race (state: FetchState, holders: Peer[], peerDeadline: number, signal: AbortSignal, hooks: PeerPhaseHooks): Promise<PeerWin | undefined> {
    const race: Race = { queue: [...holders], live: new Set(), won: false, stalled: false, lastAsked: -Infinity, asked: 0, waiting: new Map(), shareWaits: 0, wake: () => {} }
    const onStart = (attempt: Attempt, size: number): boolean => {
      if (race.won || (race.sending != null && race.sending !== attempt)) {
        return false
      }
      race.sending = attempt
      this.hedge.sample(this.clock.now() - attempt.asked)
      state.size = size
      hooks.sized()
      return true
    }
    try {
      for (;;) {
        const win = this.settle(state, race)
        if (win != null) {
          return win
        }
        if (signal.aborted) {
          throw new AbortError()
        }
        const now = this.clock.now()
        const hedgeMs = this.hedgeMs()
        const mayAsk = race.queue.length > 0 && race.sending == null && peerDeadline > now
        if (this.shareIsFull(race, mayAsk)) {
          // our own downloads fill our share of this holder: it would answer BUSY
          this.waitForShare(race, race.queue.shift() as Peer)
          continue
        }
        if (mayAsk && (race.live.size === 0 || now - race.lastAsked >= hedgeMs)) {
          if (race.live.size > 0) {
            this.counters.holderHedges++
          }
          race.live.add(this.ask(state, race.queue.shift() as Peer, peerDeadline - now, onStart, () => { race.wake() }))
          race.lastAsked = now
          race.asked++
          continue
        }
        if (await this.awaitedShare(race, peerDeadline, signal, hooks)) {
          continue
        }
        if (race.live.size === 0) {
          if (race.queue.length > 0) {
            this.log('out of time for peers: %s goes to the origin', state.href)
          }
          return undefined
        }
        // nobody left to ask in time, nobody sending, and more than one holder asked: once the last has had
        // the hedge delay, the peers look stalled (one holder slow to answer may just be slow)
        const stallAt = !mayAsk && race.sending == null && !race.stalled && race.asked > 1 ? race.lastAsked + hedgeMs : Infinity
        if (now >= stallAt) {
          race.stalled = true
          this.log('the holders of %s are silent: the origin joins', state.href)
          hooks.stalled()
        }
        await this.nextEvent(race, mayAsk ? race.lastAsked + hedgeMs : stallAt, signal)
      }
    } finally {
      this.release(state, race)
    }
  }

  /** The fetch is over: the attempts still going are stopped, or judged once their deadline passes */
  private release (state: FetchState, race: Race): void {
    race.won = true
    for (const cancel of race.waiting.values()) {
      cancel()
    }
    race.waiting.clear()
    for (const attempt of race.live) {
      if (attempt.outcome != null) {
        // ended in the same turn as the win: its failure still counts (bad bytes are reported)
        if (attempt.outcome.object == null && !attempt.dropped) {
          this.holderFailed(state, attempt.holder.address, attempt.outcome.err, attempt.outcome.silent, attempt.outcome.ownShare)
        }
      } else if (attempt.started) {
        attempt.stop.abort()
      } else {
        this.judgeLate(state, attempt)
      }
    }
  }

  /** Takes in the attempts that ended: the verified object if one delivered; the others counted, or asked again later */
  private settle (state: FetchState, race: Race): PeerWin | undefined {
    for (const attempt of race.live) {
      const outcome = attempt.outcome
      if (outcome == null) {
        continue
      }
      race.live.delete(attempt)
      if (attempt === race.sending) {
        race.sending = undefined
      }
      if (outcome.object != null) {
        race.won = true
        return { object: outcome.object, holder: attempt.holder.address, started: attempt.asked }
      }
      if (attempt.dropped) {
        // it answered; it was stopped only because another holder was sending
        race.queue.unshift(attempt.holder)
      } else if (outcome.ownShare && race.shareWaits < MAX_SHARE_WAITS) {
        this.waitForShare(race, attempt.holder)
      } else {
        this.holderFailed(state, attempt.holder.address, outcome.err, outcome.silent, outcome.ownShare)
      }
    }
    return undefined
  }

  /** Whether our own downloads fill our share of the next holder to ask (and this fetch may still wait for it) */
  private shareIsFull (race: Race, mayAsk: boolean): boolean {
    return mayAsk && race.shareWaits < MAX_SHARE_WAITS && (this.downloading.get(race.queue[0].address) ?? 0) >= MAX_UPLOADS_PER_PEER
  }

  /**
   * Nobody else to ask: only holders busy with our own downloads, which free
   * up as they end. That may outlast the origin's time: the origin joins
   * beside, so a wait costs no more than the origin's time from here, and
   * the first verified answer wins. False (at once) unless that is the case
   */
  private async awaitedShare (race: Race, peerDeadline: number, signal: AbortSignal, hooks: PeerPhaseHooks): Promise<boolean> {
    if (race.live.size > 0 || race.waiting.size === 0 || peerDeadline <= this.clock.now()) {
      return false
    }
    if (!race.stalled) {
      race.stalled = true
      hooks.stalled()
    }
    await this.nextEvent(race, peerDeadline, signal)
    return true
  }

  /** Our own downloads fill our share of `holder`: it is asked again once one of them ends */
  private waitForShare (race: Race, holder: Peer): void {
    race.shareWaits++
    this.counters.shareWaits++
    if (!this.downloading.has(holder.address)) {
      // they ended in the meantime
      race.queue.unshift(holder)
      return
    }
    race.waiting.set(holder.address, this.shareWaiters.wait(holder.address, () => {
      race.waiting.delete(holder.address)
      race.queue.unshift(holder)
      race.wake()
    }))
  }

  /** Until an attempt ends, the clock reaches `at` (ms), or the fetch is stopped */
  private async nextEvent (race: Race, at: number, signal: AbortSignal): Promise<void> {
    await new Promise<void>(resolve => {
      let timer: Timer | undefined
      const done = (): void => {
        timer?.cancel()
        signal.removeEventListener('abort', done)
        resolve()
      }
      race.wake = done
      signal.addEventListener('abort', done, { once: true })
      if (Number.isFinite(at)) {
        timer = this.clock.setTimer(done, Math.max(0, at - this.clock.now()))
      }
    })
  }

  /** How long the holders asked so far have before the next one is asked beside them, ms */
  private hedgeMs (): number {
    return this.holderHedgeMs ?? this.hedge.ms
  }

  /**
   * Asks one holder within the time left. The attempt's `outcome` is set when
   * it ends (it never rejects); `onStart` decides whether a holder that
   * started sending may go on.
   */
  private ask (state: FetchState, holder: Peer, left: number, onStart: (attempt: Attempt, size: number) => boolean, settled: () => void): Attempt {
    // the holder must answer within this, or it is silent
    const answerWithin = Math.min(left, this.holderAnswerTimeoutMs)
    const answer = clockDeadline(this.clock, answerWithin)
    const stop = new AbortController()
    const attempt: Attempt = { holder, asked: this.clock.now(), started: false, dropped: false, stop, done: Promise.resolve() }
    // our other downloads from the holder when we asked: a BUSY answer may arrive just after they ended
    const othersAtAsk = this.downloading.get(holder.address) ?? 0
    count(this.downloading, holder.address, 1)
    let unanswered = true
    count(this.unanswered, holder.address, 1)
    const answered = (): void => {
      if (unanswered) {
        unanswered = false
        count(this.unanswered, holder.address, -1)
      }
    }
    // without a trusted digest (trust on first use) the holder's claim is all that vouches for it
    attempt.done = this.downloader.download(holder, state.keyHex, {
      digest: state.digest,
      provenance: state.digestFrom ?? 'peer',
      maxObjectBytes: this.maxObjectBytes,
      startWithinMs: answerWithin,
      // not the peer phase's signal: a holder still silent when the fetch ends is given its whole deadline, to judge it
      signal: AbortSignal.any([state.signal, answer.signal, stop.signal]),
      onStart: (size) => {
        attempt.started = true
        answered()
        answer.clear()
        if (!onStart(attempt, size)) {
          attempt.dropped = true
          stop.abort()
        }
      }
    }).then(object => {
      attempt.outcome = { object }
    }, (err: any) => {
      const silent = !attempt.started && (answer.signal.aborted || this.clock.now() - attempt.asked >= answerWithin)
      // a holder serves each peer only a few transfers at once: BUSY while we download other assets
      // from it is our own share used up, not a reason to avoid it
      const ownShare = err.name === 'HolderBusyError' && (othersAtAsk > 0 || (this.downloading.get(holder.address) ?? 0) > 1)
      attempt.outcome = { err, silent, ownShare }
    }).finally(() => {
      answer.clear()
      answered()
      count(this.downloading, holder.address, -1)
      this.shareWaiters.freed(holder.address)
      settled()
    })
    return attempt
  }

  /**
   * A holder still silent when the peer phase ended (another holder
   * delivered, or the origin did): one that starts is stopped at once; one
   * that never answers within its deadline is avoided as silent, so this
   * page's next fetches do not wait for it again
   */
  private judgeLate (state: FetchState, attempt: Attempt): void {
    void attempt.done.then(() => {
      const outcome = attempt.outcome
      if (outcome != null && outcome.object == null && outcome.silent && !attempt.dropped && !state.signal.aborted) {
        this.holderFailure(state, attempt.holder.address, outcome.err)
        this.avoidList.avoid(attempt.holder.address, 'silent')
      }
    })
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

  private async lookup (state: FetchState, signal: AbortSignal, avoid?: Address[]): Promise<LocateResult | undefined> {
    const started = this.clock.now()
    try {
      const res = await this.lookups.locate(state.key, this.lookupTimeoutMs, signal, avoid)
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

/** Adds `by` to `key`'s count, dropping the key at 0 */
function count (counts: Map<string, number>, key: string, by: number): void {
  const n = (counts.get(key) ?? 0) + by
  if (n > 0) {
    counts.set(key, n)
  } else {
    counts.delete(key)
  }
}
