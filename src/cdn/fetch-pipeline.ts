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
 * 4. Holders in turn (at most `maxHolderAttempts`, skipping avoided peers),
 * until `peerTimeoutMs` after the peer phase began; a holder that sent bad
 * bytes is avoided for a while and reported to the home as gone.
 * 5. Otherwise the origin.
 * 6. A stored object is announced to its home node in the background
 * (`Holdings`).
 */
import { AbortError } from '../overlay/errors.ts'
import { isVouched } from '../storage/content-store.ts'
import type { AvoidList } from './avoid-list.ts'
import type { CdnCounters } from './counters.ts'
import type { IntegrityError } from './errors.ts'
import type { Holdings } from './holdings.ts'
import type { Lookups } from './lookups.ts'
import type { Downloader, FetchState, FetchTarget, LocalIndex, LocateResult, Locator, OriginSource, StoredObject } from './seams.ts'
import type { FetchSource } from './stats.ts'
import type { Clock, Log, Peer } from '../overlay/seams.ts'

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
}

export interface FetchPipelineInit<R> {
  /** @default LOOKUP_TIMEOUT_MS (3 s) */
  lookupTimeoutMs?: number
  /** @default MAX_HOLDER_ATTEMPTS (3) */
  maxHolderAttempts?: number
  /** @default PEER_TIMEOUT_MS (8 s) */
  peerTimeoutMs?: number
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
}

export interface PipelineFetchOptions {
  signal: AbortSignal
  /** The node's life: background work a fetch starts (announcing) stops with it, not with the fetch */
  lifetime: AbortSignal
}

export class FetchPipeline<R> {
  private readonly clock: Clock
  private readonly locator: Locator
  private readonly lookups: Lookups
  private readonly downloader: Downloader
  private readonly origin: OriginSource<R>
  private readonly local: LocalIndex
  private readonly holdings: Holdings
  private readonly avoidList: AvoidList
  private readonly counters: CdnCounters
  private readonly log: Log
  private readonly lookupTimeoutMs: number
  private readonly maxHolderAttempts: number
  private readonly peerTimeoutMs: number
  private readonly maxObjectBytes: number
  private readonly trustOnFirstUse: boolean
  private readonly deliver: (object: StoredObject, source: 'local' | 'peer') => R
  private readonly events: FetchEvents
  /** Fetches going to peers or the origin, by key: a second fetch of the key waits for the first */
  private readonly inflight = new Map<string, Promise<void>>()

  constructor (components: FetchPipelineComponents<R>, init: FetchPipelineInit<R>) {
    this.clock = components.clock
    this.locator = components.locator
    this.lookups = components.lookups
    this.downloader = components.downloader
    this.origin = components.origin
    this.local = components.local
    this.holdings = components.holdings
    this.avoidList = components.avoidList
    this.counters = components.counters
    this.log = components.log
    this.lookupTimeoutMs = init.lookupTimeoutMs ?? LOOKUP_TIMEOUT_MS
    this.maxHolderAttempts = init.maxHolderAttempts ?? MAX_HOLDER_ATTEMPTS
    this.peerTimeoutMs = init.peerTimeoutMs ?? PEER_TIMEOUT_MS
    this.maxObjectBytes = init.maxObjectBytes ?? MAX_OBJECT_BYTES
    this.trustOnFirstUse = init.trustOnFirstUse ?? false
    this.deliver = init.deliver
    this.events = init.events ?? {}
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
      const done: Promise<void> = remote.then(() => {}, () => {}).finally(() => {
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

  private async fromRemote (state: FetchState, lifetime: AbortSignal): Promise<FetchOutcome<R>> {
    const fromPeer = await this.fromPeers(state, lifetime)
    if (fromPeer != null) {
      return fromPeer
    }
    const answer = await this.origin.get(state)
    this.counters.fromOrigin++
    this.events.transfer?.(state, 'origin', answer.bytes, this.clock.now() - state.startedAt)
    if (answer.stored != null) {
      this.holdings.stored(state.key, state.home, state.gone, lifetime)
    }
    return { result: answer.result, source: 'origin', bytes: answer.bytes }
  }

  /** Ring lookup, then the holders in turn; `undefined` sends the fetch to the origin */
  private async fromPeers (state: FetchState, lifetime: AbortSignal): Promise<FetchOutcome<R> | undefined> {
    if (!this.locator.ready) {
      return undefined
    }
    const peerDeadline = this.clock.now() + this.peerTimeoutMs
    const located = await this.lookup(state)
    if (located == null) {
      return undefined
    }
    state.home = located.home
    const self = this.locator.self?.address
    const holders = located.holders.filter(h => h.address !== self && !this.avoidList.has(h.address))
    if (holders.length === 0) {
      return undefined
    }
    if (state.digest == null) {
      // somebody holds it: now the origin's digest is worth a HEAD
      const digest = await this.origin.headDigest(state.href, state.signal)
      if (digest != null) {
        state.digest = digest
        state.digestFrom = 'origin'
      }
    }
    if (state.digest == null && !this.trustOnFirstUse) {
      this.log('no trusted digest for %s: not accepting peer bytes', state.href)
      return undefined
    }
    for (const holder of holders.slice(0, this.maxHolderAttempts)) {
      state.signal.throwIfAborted()
      const started = this.clock.now()
      const left = peerDeadline - started
      if (left <= 0) {
        this.log('out of time for peers: %s goes to the origin', state.href)
        return undefined
      }
      try {
        // without a trusted digest (trust on first use) the holder's claim is all that vouches for it
        const object = await this.downloader.download(holder, state.keyHex, {
          digest: state.digest,
          provenance: state.digestFrom ?? 'peer',
          maxObjectBytes: this.maxObjectBytes,
          startWithinMs: left,
          signal: state.signal
        })
        this.counters.fromPeers++
        this.counters.bytesFromPeers += object.size
        this.events.transfer?.(state, 'peer', object.size, this.clock.now() - started, holder.address)
        this.holdings.stored(state.key, state.home, state.gone, lifetime)
        return { result: this.deliver(object, 'peer'), source: 'peer', bytes: object.size }
      } catch (err: any) {
        if (state.signal.aborted) {
          throw new AbortError()
        }
        if (!this.holderFailed(state, holder.address, err)) {
          return undefined
        }
      }
    }
    return undefined
  }

  /** Counts and reports a holder that did not deliver; false when no other holder can help either */
  private holderFailed (state: FetchState, holder: string, err: any): boolean {
    this.holderFailure(state, holder, err)
    switch (err.name) {
      case 'IntegrityError':
        this.avoidList.avoid(holder)
        this.integrityFailure(state, err, holder)
        state.gone.push(holder)
        return true
      case 'HolderBusyError':
      case 'LimitedConnectionError':
      case 'TransferRefusedError':
        // it holds the asset; it just cannot serve it to us right now
        return true
      case 'ObjectSizeError':
      case 'ObjectTooLargeError':
        // the object does not fit
        return false
      default:
        state.gone.push(holder)
        return true
    }
  }

  private async lookup (state: FetchState): Promise<LocateResult | undefined> {
    const started = this.clock.now()
    try {
      const res = await this.lookups.locate(state.key, this.lookupTimeoutMs, state.signal)
      this.events.lookup?.({ target: state, home: res.home, hops: res.hops, holders: res.holders, durationMs: this.clock.now() - started })
      return res
    } catch (err: any) {
      if (state.signal.aborted) {
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

/** Waits for `promise` (whose outcome does not matter) unless `signal` aborts first */
async function raceAbort (promise: Promise<void>, signal: AbortSignal): Promise<void> {
  signal.throwIfAborted()
  await new Promise<void>((resolve, reject) => {
    const onAbort = (): void => { reject(new AbortError()) }
    signal.addEventListener('abort', onAbort, { once: true })
    promise.then(resolve, resolve).finally(() => { signal.removeEventListener('abort', onAbort) })
  })
}
