/**
 * The fetch path of a page, written against seams only (a locator, a
 * downloader, an origin, the local index) and the injected `Clock`, so the
 * libp2p service and the simulator run the same code.
 *
 * Theory of operation — `fetch(target)`:
 *
 * 1. The local store, if it holds the version with the trusted digest; with
 * no digest known, only a version a trusted source vouched for when it was
 * stored (provenance `sri`, `manifest` or `origin`, never `peer`).
 * 2. A fetch of a key already on its way waits for that one, then looks in
 * the store again.
 * 3. A ring lookup within `lookupTimeoutMs`; then, once somebody holds the
 * asset, the origin's digest on a HEAD if none is known yet (a HEAD for an
 * asset no peer has would only add origin load). Without a trusted digest no
 * peer bytes are taken, unless `trustOnFirstUse`.
 * 4. Holders (at most `maxHolderAttempts`, skipping avoided peers) until
 * `peerTimeoutMs` after the peer phase began; each must answer within
 * `holderAnswerTimeoutMs`, and when none has started sending within the
 * hedge delay (a few of the holders' answer times, `HedgeDelay`) the next
 * is asked beside it. A holder that sent bad bytes, said nothing in
 * time, answered BUSY or TOO_LARGE is avoided for a while (`AvoidList`), and
 * the next one is asked.
 * 5. The origin: at once when the peer path gives up, and beside it while it
 * is still going once the peers take longer than the origin would
 * (`originStartAt`: the origin's time for the object's size is estimated
 * from this node's own origin fetches, `OriginEstimator`). Whichever
 * answers first wins (a peer's answer only ever verified against a trusted
 * digest) and the other is stopped. So a fetch takes at most about
 * `originMarginMs` longer than the origin alone would have.
 * 6. A stored object is announced to its home node in the background
 * (`Holdings`). An origin body the caller reads while it is stored
 * (`OriginAnswer.storing`) is announced once it is stored whole.
 */
import { AbortError } from '../overlay/errors.ts'
import { isVouched } from '../storage/content-store.ts'
import { ORIGIN_HEAD_START_MS, ORIGIN_MARGIN_MS, ORIGIN_SAFETY_FACTOR, OriginEstimator, originStartAt } from './origin-estimator.ts'
import { PeerPhase } from './peer-phase.ts'
import type { AvoidList } from './avoid-list.ts'
import type { CdnCounters } from './counters.ts'
import type { IntegrityError } from './errors.ts'
import type { Holdings } from './holdings.ts'
import type { Lookups } from './lookups.ts'
import type { PeerWin } from './peer-phase.ts'
import type { Downloader, FetchState, FetchTarget, LocalIndex, Locator, OriginAnswer, OriginSource, StoredObject } from './seams.ts'
import type { FetchSource } from './stats.ts'
import type { Clock, Log, Peer, Timer } from '../overlay/seams.ts'

/** Deadline of one ring lookup (key → home node → holders), ms */
export const LOOKUP_TIMEOUT_MS = 3_000
/** Largest object fetched from peers or stored, bytes (256 MiB) */
export const MAX_OBJECT_BYTES = 268_435_456
/** Holders tried per fetch before falling back to the origin */
export const MAX_HOLDER_ATTEMPTS = 3
/**
 * From the start of a fetch's peer phase (lookup and digest HEAD included)
 * until a holder has started sending, ms; past it the fetch goes to the
 * origin. A transfer under way then has its own deadline, scaled by size.
 */
export const PEER_TIMEOUT_MS = 8_000
/**
 * A holder must answer a request (the object's size, or a refusal) within
 * this, or the next holder is asked, ms. Room for a new connection (a
 * WebRTC set-up through the relay takes 0.3 s and more on a busy page) and
 * the answer; a holder that takes longer is avoided as silent.
 */
export const HOLDER_ANSWER_TIMEOUT_MS = 2_000

export interface FetchPipelineComponents<R> {
  clock: Clock
  locator: Locator
  lookups: Lookups
  downloader: Downloader
  origin: OriginSource<R>
  local: LocalIndex
  holdings: Holdings
  avoidList: AvoidList
  counters: CdnCounters
  log: Log
  /** Learns the origin's time per size from this node's origin fetches (a fresh one when absent) */
  estimator?: OriginEstimator
}

/** A lookup a fetch made, as the pipeline saw it */
export interface PipelineLookup {
  target: FetchTarget
  home?: Peer
  hops?: number
  holders: Peer[]
  durationMs: number
  /** Error name, when the lookup failed */
  error?: string
  /** Its message */
  message?: string
}

/** What the pipeline reports as it goes; the service turns these into events, the simulator into metrics */
export interface FetchEvents {
  lookup?(lookup: PipelineLookup): void
  transfer?(target: FetchTarget, source: FetchSource, bytes: number, durationMs: number, peer?: string): void
  holderFailure?(target: FetchTarget, peer: string, err: Error): void
  integrityFailure?(target: FetchTarget, err: IntegrityError, expected: string, peer?: string): void
  /** The origin was brought in beside a peer path still under way, and `winner` answered first */
  race?(target: FetchTarget, winner: 'peer' | 'origin'): void
}

export interface FetchPipelineInit<R> {
  /** @default LOOKUP_TIMEOUT_MS (3 s) */
  lookupTimeoutMs?: number
  /** @default MAX_HOLDER_ATTEMPTS (3) */
  maxHolderAttempts?: number
  /** @default PEER_TIMEOUT_MS (8 s) */
  peerTimeoutMs?: number
  /** @default HOLDER_ANSWER_TIMEOUT_MS (2 s) */
  holderAnswerTimeoutMs?: number
  /** A fixed hedge delay, ms; learned from the holders' answer times when absent (`HedgeDelay`) */
  holderHedgeMs?: number
  /**
   * How much longer than the origin alone a fetch may take because it tried
   * peers first, ms (`originStartAt`)
   *
   * @default ORIGIN_MARGIN_MS (8 s)
   */
  originMarginMs?: number
  /** @default ORIGIN_SAFETY_FACTOR (2) */
  originSafetyFactor?: number
  /**
   * The peers' time alone before the origin may join, ms
   *
   * @default ORIGIN_HEAD_START_MS (500 ms)
   */
  originHeadStartMs?: number
  /** @default MAX_OBJECT_BYTES (256 MiB) */
  maxObjectBytes?: number
  /** @default false */
  trustOnFirstUse?: boolean
  /** The caller's result for an object in the store */
  deliver(object: StoredObject, source: 'local' | 'peer'): R
  events?: FetchEvents
}

export interface FetchOutcome<R> {
  result: R
  source: FetchSource
  /** Bytes delivered (0 for an origin error status) */
  bytes: number
  /** The origin's bytes still going into the store as the caller reads them (`OriginAnswer.storing`) */
  storing?: Promise<StoredObject | undefined>
}

export interface PipelineFetchOptions {
  signal: AbortSignal
  /** The node's life: background work a fetch starts (announcing) stops with it, not with the fetch */
  lifetime: AbortSignal
}

/** What happened next in a fetch's race of the peer path and the origin */
type Step<R> =
  | { kind: 'go' }
  | { kind: 'peer', won?: PeerWin }
  | { kind: 'peer-error', err: Error }
  | { kind: 'origin', answer: OriginAnswer<R> }
  | { kind: 'origin-error', err: Error }

export class FetchPipeline<R> {
  private readonly clock: Clock
  private readonly origin: OriginSource<R>
  private readonly local: LocalIndex
  private readonly holdings: Holdings
  private readonly counters: CdnCounters
  private readonly log: Log
  private readonly originMarginMs: number
  private readonly originSafetyFactor: number
  private readonly originHeadStartMs: number
  private readonly estimator: OriginEstimator
  private readonly peers: PeerPhase
  private readonly deliver: (object: StoredObject, source: 'local' | 'peer') => R
  private readonly events: FetchEvents
  /** Fetches going to peers or the origin, by key: a second fetch of the key waits for the first */
  private readonly inflight = new Map<string, Promise<void>>()

  constructor (components: FetchPipelineComponents<R>, init: FetchPipelineInit<R>) {
    this.clock = components.clock
    this.origin = components.origin
    this.local = components.local
    this.holdings = components.holdings
    this.counters = components.counters
    this.log = components.log
    this.originMarginMs = init.originMarginMs ?? ORIGIN_MARGIN_MS
    this.originSafetyFactor = init.originSafetyFactor ?? ORIGIN_SAFETY_FACTOR
    this.originHeadStartMs = init.originHeadStartMs ?? ORIGIN_HEAD_START_MS
    this.estimator = components.estimator ?? new OriginEstimator()
    this.deliver = init.deliver
    this.events = init.events ?? {}
    this.peers = new PeerPhase(components, {
      lookupTimeoutMs: init.lookupTimeoutMs ?? LOOKUP_TIMEOUT_MS,
      maxHolderAttempts: init.maxHolderAttempts ?? MAX_HOLDER_ATTEMPTS,
      peerTimeoutMs: init.peerTimeoutMs ?? PEER_TIMEOUT_MS,
      holderAnswerTimeoutMs: init.holderAnswerTimeoutMs ?? HOLDER_ANSWER_TIMEOUT_MS,
      holderHedgeMs: init.holderHedgeMs,
      maxObjectBytes: init.maxObjectBytes ?? MAX_OBJECT_BYTES,
      trustOnFirstUse: init.trustOnFirstUse ?? false,
      events: this.events,
      onIntegrityFailure: (target, err, peer) => { this.integrityFailure(target, err, peer) }
    })
  }

  /**
   * @throws {OriginFetchError} the origin was needed and could not be reached
   * @throws {IntegrityError} the origin's bytes did not match the trusted digest
   * @throws {AbortError}
   */
  async fetch (target: FetchTarget, options: PipelineFetchOptions): Promise<FetchOutcome<R>> {
    const state: FetchState = { ...target, signal: options.signal, startedAt: this.clock.now(), gone: [] }
    this.counters.requests++
    try {
      const local = await this.fromLocal(state)
      if (local != null) {
        return local
      }
      const pending = this.inflight.get(state.keyHex)
      if (pending != null) {
        // the same asset is on its way: wait for it rather than fetch it twice
        await raceAbort(pending, state.signal)
        const again = await this.fromLocal(state)
        if (again != null) {
          return again
        }
      }
      const remote = this.fromRemote(state, options.lifetime)
      // a second fetch of the key waits until the object is in the store, not only until the first has its answer
      const done: Promise<void> = remote.then(async (outcome) => { await outcome.storing }, () => {}).finally(() => {
        if (this.inflight.get(state.keyHex) === done) {
          this.inflight.delete(state.keyHex)
        }
      })
      this.inflight.set(state.keyHex, done)
      return await remote
    } catch (err: any) {
      this.counters.failures++
      if (state.signal.aborted && err.name !== 'AbortError') {
        throw new AbortError()
      }
      throw err
    }
  }

  /** Forgets fetches in flight (the node stopped) */
  clear (): void {
    this.inflight.clear()
  }

  /** A transfer whose bytes did not match the trusted digest: counted and reported */
  integrityFailure (target: FetchTarget & { digest?: string }, err: IntegrityError, peer?: string): void {
    this.counters.integrityFailures++
    this.events.integrityFailure?.(target, err, target.digest ?? '', peer)
  }

  private async fromLocal (state: FetchState): Promise<FetchOutcome<R> | undefined> {
    const object = await this.local.getMeta(state.keyHex, { digest: state.digest })
    if (object == null || (state.digest == null && !isVouched(object))) {
      return undefined
    }
    this.counters.fromLocal++
    this.events.transfer?.(state, 'local', object.size, this.clock.now() - state.startedAt)
    return { result: this.deliver(object, 'local'), source: 'local', bytes: object.size }
  }

  /**
   * The peer path, with the origin brought in beside it once the peers take
   * longer than the origin's estimated time allows (`originStartAt`), or at
   * once when the peer path gives up. The first answer wins and the other
   * path is stopped; an origin that fails while the peers are still trying
   * leaves the fetch to them.
   */
  private async fromRemote (state: FetchState, lifetime: AbortSignal): Promise<FetchOutcome<R>> {
    const stopPeers = new AbortController()
    const stopOrigin = new AbortController()
    const peerSignal = AbortSignal.any([state.signal, stopPeers.signal])
    let goOrigin!: () => void
    const originGo = new Promise<Step<R>>(resolve => { goOrigin = () => { resolve({ kind: 'go' }) } })
    let timer: Timer | undefined
    let settled = false
    const plan = (): void => {
      if (settled) {
        // a holder that answered as the race ended
        return
      }
      timer?.cancel()
      const at = originStartAt(state.startedAt, this.estimator.estimate(state.size), { marginMs: this.originMarginMs, safetyFactor: this.originSafetyFactor, headStartMs: this.originHeadStartMs })
      timer = this.clock.setTimer(goOrigin, Math.max(0, at - this.clock.now()))
    }
    plan()

    const peer: Promise<Step<R>> = this.peers.fetch(state, peerSignal, { sized: plan, stalled: () => { goOrigin() } }).then(
      (won): Step<R> => ({ kind: 'peer', won }),
      (err): Step<R> => ({ kind: 'peer-error', err })
    )
    let origin: Promise<Step<R>> | undefined
    let raced = false
    let peerDone = false
    let originError: Error | undefined
    try {
      while (true) {
        const next = await Promise.race(peerDone ? [origin ?? originGo] : [peer, origin ?? originGo])
        switch (next.kind) {
          case 'go':
            if (!peerDone) {
              raced = true
              this.counters.originRaces++
              this.log('peers are slow for %s: the origin races them', state.href)
            }
            origin = this.fromOrigin(state, stopOrigin.signal)
            break
          case 'peer-error':
            if (state.signal.aborted) {
              throw new AbortError()
            }
            // not a holder's fault (each of those is caught): the peer path is done all the same
            this.log('peer path for %s failed - %e', state.href, next.err)
          // falls through
          case 'peer':
            peerDone = true
            if (next.kind === 'peer' && next.won != null) {
              stopOrigin.abort()
              return this.peerWon(state, next.won, lifetime, raced)
            }
            if (originError != null) {
              throw originError
            }
            goOrigin()
            break
          case 'origin':
            stopPeers.abort()
            return this.originWon(state, next.answer, lifetime, raced && !peerDone)
          case 'origin-error':
            if (state.signal.aborted) {
              throw new AbortError()
            }
            if (peerDone) {
              throw next.err
            }
            // the peers may still deliver
            originError = next.err
            origin = new Promise(() => {})
            break
          default:
            assertNever(next)
        }
      }
    } finally {
      settled = true
      timer?.cancel()
    }
  }

  /** The origin's answer, timed for the estimator; settles to a step, never rejects */
  private async fromOrigin (state: FetchState, stop: AbortSignal): Promise<Step<R>> {
    const started = this.clock.now()
    try {
      // a copy with its own signal, made now: it sees every digest the peer path has found so far
      const answer = await this.origin.get({ ...state, signal: AbortSignal.any([state.signal, stop]) })
      // a body passed through (too large to keep) resolves at its headers: no measure of the whole
      if (answer.stored != null) {
        this.estimator.observe(answer.bytes, this.clock.now() - started)
      }
      answer.storing?.then(object => {
        if (object != null) {
          this.estimator.observe(answer.bytes, this.clock.now() - started)
        }
      }, () => {})
      return { kind: 'origin', answer }
    } catch (err: any) {
      return { kind: 'origin-error', err }
    }
  }

  /** `raced`: the origin beat a peer path still under way */
  private originWon (state: FetchState, answer: OriginAnswer<R>, lifetime: AbortSignal, raced: boolean): FetchOutcome<R> {
    if (raced) {
      this.events.race?.(state, 'origin')
    }
    this.counters.fromOrigin++
    if (answer.storing != null) {
      // the caller has its answer and reads it while it is stored: the page holds the object (and says
      // so to the ring) only once it is stored whole
      answer.storing.then(object => {
        if (object != null) {
          this.events.transfer?.(state, 'origin', answer.bytes, this.clock.now() - state.startedAt)
          this.holdings.stored(state.key, state.home, state.gone, lifetime)
        }
      }, () => {})
      return { result: answer.result, source: 'origin', bytes: answer.bytes, storing: answer.storing }
    }
    this.events.transfer?.(state, 'origin', answer.bytes, this.clock.now() - state.startedAt)
    if (answer.stored != null) {
      this.holdings.stored(state.key, state.home, state.gone, lifetime)
    }
    return { result: answer.result, source: 'origin', bytes: answer.bytes }
  }

  /** `raced`: the origin had been brought in beside the peer path, and lost */
  private peerWon (state: FetchState, won: PeerWin, lifetime: AbortSignal, raced: boolean): FetchOutcome<R> {
    if (raced) {
      this.counters.originRacesWonByPeer++
      this.events.race?.(state, 'peer')
    }
    const { object, holder, started } = won
    this.counters.fromPeers++
    this.counters.bytesFromPeers += object.size
    this.events.transfer?.(state, 'peer', object.size, this.clock.now() - started, holder)
    this.holdings.stored(state.key, state.home, state.gone, lifetime)
    return { result: this.deliver(object, 'peer'), source: 'peer', bytes: object.size }
  }
}

function assertNever (value: never): never {
  throw new Error(`unexpected step ${JSON.stringify(value)}`)
}

/** Waits for `promise` (whose outcome does not matter) unless `signal` aborts first */
async function raceAbort (promise: Promise<void>, signal: AbortSignal): Promise<void> {
  signal.throwIfAborted()
  await new Promise<void>((resolve, reject) => {
    const onAbort = (): void => { reject(new AbortError()) }
    signal.addEventListener('abort', onAbort, { once: true })
    promise.then(resolve, resolve).finally(() => { signal.removeEventListener('abort', onAbort) })
  })
}
