/**
 * The ringcdn libp2p service: a page's node joins its site's Chord ring and
 * fetches static assets from the pages that hold them, verified, falling back
 * to the origin.
 *
 * A thin facade. The fetch path (`src/cdn/fetch-pipeline.ts`), what the page
 * holds and announces, home copies (`src/cdn/holdings.ts`) and the avoid list
 * are parts written against `Clock`, `Random` and small seams, which the
 * simulator runs too; this file wires them to libp2p: the wall clock, the
 * content protocol (`src/cdn/peer-downloader.ts`), the origin intake
 * (`src/cdn/origin-intake.ts`), the store, and `Response`s.
 *
 * Lifecycle: `start` registers the protocols; `afterStart` (when the node's
 * addresses are known, which become its dialling hints) creates the ring or
 * joins it in the background with bounded retries — pages must not wait for
 * the ring to load, and a fetch before the join simply goes to the origin;
 * `beforeStop` leaves gracefully while connections are still up.
 */
import { TypedEventEmitter, serviceCapabilities } from '@libp2p/interface'
import { multiaddr } from '@multiformats/multiaddr'
import { raceSignal } from 'race-signal'
import { AvoidList } from './cdn/avoid-list.ts'
import { createCounters } from './cdn/counters.ts'
import { DirectoryService } from './cdn/directory-service.ts'
import { NotStartedError } from './cdn/errors.ts'
import { FetchPipeline, LOOKUP_TIMEOUT_MS, MAX_HOLDER_ATTEMPTS, MAX_OBJECT_BYTES, PEER_TIMEOUT_MS } from './cdn/fetch-pipeline.ts'
import { Holdings } from './cdn/holdings.ts'
import { parseSri } from './cdn/integrity.ts'
import { Lookups } from './cdn/lookups.ts'
import { Manifest, loadManifest } from './cdn/manifest.ts'
import { OriginIntake } from './cdn/origin-intake.ts'
import { Origin } from './cdn/origin.ts'
import { PeerDownloader } from './cdn/peer-downloader.ts'
import { responseFrom } from './cdn/responses.ts'
import { ringProtocol } from './cdn/ring-cdn-init.ts'
import { REJOIN_INTERVAL_MS, RingMembership } from './cdn/ring-membership.ts'
import { keyForUrl, nodeIdFromBytes, normaliseUrl } from './keys.ts'
import { AddressBook } from './libp2p/address-book.ts'
import { ConnectionBudget } from './libp2p/connection-budget.ts'
import { ContentClient, ContentServer, contentProtocol } from './libp2p/content-protocol.ts'
import { libp2pRingIdOf } from './libp2p/ring-id-binding.ts'
import { StreamRpc } from './libp2p/stream-rpc.ts'
import { mathRandom, wallClock } from './libp2p/wall-clock.ts'
import { decodeRingRequest, decodeRingResponse, encodeRingResponse } from './overlay/codec.ts'
import { AbortError, InvalidParametersError } from './overlay/errors.ts'
import { checkRequestIds, checkResponseIds } from './overlay/id-binding.ts'
import { RingRequest } from './overlay/messages.ts'
import { idToHex } from './overlay/ring-id.ts'
import { RingNode } from './overlay/ring-node.ts'
import { warmNewNeighbours } from './overlay/warm-connections.ts'
import { MAX_RING_MESSAGE_BYTES } from './overlay/wire.ts'
import { MemoryContentStore } from './storage/memory-store.ts'
import { UploadSignalMonitor, parseUploadPolicy } from './upload-policy.ts'
import type { CdnCounters } from './cdn/counters.ts'
import type { FetchEvents } from './cdn/fetch-pipeline.ts'
import type { RingCdnComponents, RingCdnFetchOptions, RingCdnInit, RingCdnLocateResult, RingView, RingViewPeer } from './cdn/ring-cdn-init.ts'
import type { FetchTarget, Locator, StoredObject } from './cdn/seams.ts'
import type { FetchSource, RingCdnEvents, RingCdnStats } from './cdn/stats.ts'
import type { RingResponse } from './overlay/messages.ts'
import type { Peer, Rpc } from './overlay/seams.ts'
import type { ContentStore } from './storage/content-store.ts'
import type { UploadDecision, UploadPolicy } from './upload-policy.ts'
import type { Logger, Startable, AbortOptions } from '@libp2p/interface'
import type { Multiaddr } from '@multiformats/multiaddr'

export { LOOKUP_TIMEOUT_MS, MAX_OBJECT_BYTES, MAX_HOLDER_ATTEMPTS, PEER_TIMEOUT_MS, HOLDER_ANSWER_TIMEOUT_MS } from './cdn/fetch-pipeline.ts'
export { ORIGIN_MARGIN_MS, ORIGIN_SAFETY_FACTOR, ORIGIN_HEAD_START_MS } from './cdn/origin-estimator.ts'
export { MIN_PEER_THROUGHPUT } from './cdn/peer-downloader.ts'
export { MAX_BUFFERED_BYTES } from './cdn/origin-intake.ts'
export { ANNOUNCE_TIMEOUT_MS, ANNOUNCE_RETRIES, ANNOUNCE_RETRY_DELAY_MS } from './cdn/announcer.ts'
export { AVOID_PEER_MS, AVOID_SILENT_MS, AVOID_BUSY_MS, AVOID_TOO_LARGE_MS } from './cdn/avoid-list.ts'
export { HELD_KEYS } from './cdn/holdings.ts'
export { SOURCE_HEADER } from './cdn/responses.ts'
export { ringProtocol } from './cdn/ring-cdn-init.ts'
export type { RingCdnComponents, RingCdnInit, RingCdnFetchOptions, RingCdnLocateResult, RingTuning, RingView, RingViewPeer } from './cdn/ring-cdn-init.ts'
export { JOIN_RETRIES, JOIN_RETRY_DELAY_MS, JOIN_MAX_RETRY_DELAY_MS, BOOTSTRAP_DIAL_TIMEOUT_MS, REJOIN_INTERVAL_MS } from './cdn/ring-membership.ts'

/** Namespace when none is given and there is no page origin to use */
export const DEFAULT_NAMESPACE = 'ringcdn'
/** Bound on the graceful leave when stopping, ms */
export const LEAVE_TIMEOUT_MS = 3_000
/** Longest wait at start for this node's listen addresses, ms */
const ADDRESS_WAIT_MS = 2_000

/** The init options the service reads after construction, each resolved once */
interface Settings {
  lookupTimeoutMs: number
  maxObjectBytes: number
  homeCopies: boolean
  rejoinIntervalMs: number
}

export class RingCdn extends TypedEventEmitter<RingCdnEvents> implements Startable {
  readonly namespace: string
  readonly [Symbol.toStringTag] = 'ringcdn'
  readonly [serviceCapabilities]: string[] = ['@ringcdn/cdn']

  private readonly components: RingCdnComponents
  private readonly log: Logger
  private readonly init: RingCdnInit
  private readonly settings: Settings
  private readonly store: ContentStore
  private readonly ownsStore: boolean
  private readonly baseUrl?: string | URL
  private readonly addressBook: AddressBook
  private readonly budget: ConnectionBudget
  private readonly rpc: StreamRpc<RingRequest, RingResponse>
  private readonly contentServer: ContentServer
  private readonly membership: RingMembership
  private readonly counters: CdnCounters
  private readonly rpcsByType: Record<string, number> = {}
  private readonly lookups: Lookups
  private readonly holdings: Holdings
  private readonly pipeline: FetchPipeline<Response>
  private readonly avoidList: AvoidList
  private manifest?: Manifest
  private manifestLoading?: Promise<Manifest | undefined>
  private storeMaxBytes = Infinity
  private self?: Peer
  private ringNode?: RingNode
  private directory?: DirectoryService
  private lifecycle?: AbortController
  private joining?: Promise<void>
  private readonly uploadPolicy: UploadPolicy
  private uploadMonitor?: UploadSignalMonitor
  /** Paused by `pauseUploads()`, whatever the policy says */
  private uploadsPausedByCaller = false

  constructor (components: RingCdnComponents, init: RingCdnInit = {}) {
    super()
    this.components = components
    this.init = init
    this.log = components.logger.forComponent('ringcdn:cdn')
    this.namespace = init.namespace ?? pageOrigin() ?? DEFAULT_NAMESPACE
    this.ownsStore = init.store == null
    this.store = init.store ?? new MemoryContentStore({ logger: components.logger })
    this.baseUrl = init.baseUrl ?? pageHref()
    this.settings = {
      lookupTimeoutMs: init.lookupTimeoutMs ?? LOOKUP_TIMEOUT_MS,
      maxObjectBytes: init.maxObjectBytes ?? MAX_OBJECT_BYTES,
      homeCopies: init.homeCopies ?? true,
      rejoinIntervalMs: init.rejoinIntervalMs ?? REJOIN_INTERVAL_MS
    }
    this.uploadPolicy = parseUploadPolicy(init.uploadPolicy)
    this.counters = createCounters()

    this.addressBook = new AddressBook({ self: components.peerId.toString() })
    // named, not spread: libp2p's components object throws on keys it does not have
    this.membership = new RingMembership({ peerId: components.peerId, connectionManager: components.connectionManager, addressManager: components.addressManager, addressBook: this.addressBook, log: this.log }, {
      namespace: this.namespace,
      bootstrap: parseBootstrap(init.bootstrap ?? []),
      joinRetries: init.joinRetries,
      joinRetryDelayMs: init.joinRetryDelayMs,
      lifetime: () => this.lifecycle?.signal,
      joined: () => this.ringNode?.joined === true
    })
    this.budget = new ConnectionBudget(components, {
      tag: `ringcdn-${this.namespace}`,
      maxConnections: init.maxConnections,
      idleTimeoutMs: init.idleConnectionTimeoutMs
    })
    const ringIdOf = libp2pRingIdOf()
    this.rpc = new StreamRpc(components, {
      protocol: ringProtocol(this.namespace),
      encodeRequest: (req) => {
        this.countRequest(req)
        return RingRequest.encode(req)
      },
      decodeRequest: (bytes) => {
        // the limited codec: a hostile frame cannot make us build millions of peers
        const req = decodeRingRequest(bytes)
        // every peer's ring id must be its peer id's hash, or a node could sit at any key it likes
        checkRequestIds(req, ringIdOf)
        this.addressBook.harvestRequest(req)
        return req
      },
      encodeResponse: encodeRingResponse,
      decodeResponse: (bytes) => {
        const res = decodeRingResponse(bytes)
        checkResponseIds(res, ringIdOf)
        this.addressBook.harvestResponse(res)
        return res
      },
      // ring messages are small and the directory's batches are cut to fit: a peer's streams can
      // make us buffer this much per request in flight, not 4 MiB
      maxMessageBytes: MAX_RING_MESSAGE_BYTES,
      maxInboundStreams: init.maxRpcStreams,
      maxOutboundStreams: init.maxRpcStreams,
      addressHints: (address) => this.addressBook.hints(address)
    })
    const protocol = contentProtocol(this.namespace)
    this.contentServer = new ContentServer(components, {
      protocol,
      store: this.store,
      maxConcurrentUploads: init.maxConcurrentUploads,
      requestTimeoutMs: init.transferRequestTimeoutMs,
      stallTimeoutMs: init.transferStallTimeoutMs,
      onRequest: (from) => { this.budget.touch(from) },
      // paused: refused like a busy holder, so the requester tries the next one
      uploadsPaused: () => this.uploadsPaused,
      // the store let it go: as home node, stop listing ourselves as a holder
      onMiss: (key) => { this.holdings.forget(BigInt(`0x${key}`)) },
      onUpload: (to, bytes, complete) => {
        this.budget.touch(to)
        this.counters.bytesUploaded += bytes
        if (complete) {
          this.counters.uploads++
        }
        this.safeDispatchEvent('transfer', { detail: { direction: 'upload', peer: to, bytes, complete } })
      }
    })

    // the fetch path: the same parts the simulator runs, over libp2p adapters
    const log = components.logger.forComponent('ringcdn:cdn')
    const locator = this.locator()
    const avoidList = new AvoidList(wallClock)
    this.avoidList = avoidList
    const downloader = new PeerDownloader({
      client: new ContentClient(components, { protocol, onUse: (address) => { this.budget.touch(address) } }),
      store: this.store
    }, {
      maxObjectBytes: this.settings.maxObjectBytes,
      storeMaxBytes: () => this.storeMaxBytes,
      hints: (address) => this.addressBook.hints(address),
      minPeerThroughput: init.minPeerThroughput,
      requestTimeoutMs: init.transferRequestTimeoutMs,
      stallTimeoutMs: init.transferStallTimeoutMs,
      window: init.transferWindow
    })
    this.lookups = new Lookups({ clock: wallClock, locator, counters: this.counters }, {
      onAnswer: (res) => {
        this.addressBook.learn(res.home)
        res.holders.forEach(h => { this.addressBook.learn(h) })
      }
    })
    this.holdings = new Holdings({ clock: wallClock, locator, lookups: this.lookups, downloader, avoidList, counters: this.counters, log }, {
      lookupTimeoutMs: this.settings.lookupTimeoutMs,
      homeCopies: this.settings.homeCopies,
      homeCopyMaxBytes: init.homeCopyMaxBytes,
      trustedDigest: (key) => this.manifest?.byKey(key)?.digest,
      uploading: () => !this.uploadsPaused,
      announcing: () => this.uploadPolicy !== 'never'
    })
    const origin = new Origin({
      fetch: init.fetch ?? globalThis.fetch.bind(globalThis),
      log: components.logger.forComponent('ringcdn:origin'),
      timeoutMs: init.originTimeoutMs,
      stallTimeoutMs: init.originStallTimeoutMs,
      headTimeoutMs: init.headTimeoutMs
    })
    const intake = new OriginIntake({ origin, store: this.store, counters: this.counters, log }, {
      maxObjectBytes: this.settings.maxObjectBytes,
      maxBufferedBytes: init.maxBufferedBytes,
      storeMaxBytes: () => this.storeMaxBytes,
      onChunkDigests: (meta, chunkDigests) => { this.contentServer.rememberChunkDigests(meta.digest, meta.chunkSize, chunkDigests) },
      onIntegrityFailure: (state, err) => { this.pipeline.integrityFailure(state, err) },
      respond: (meta) => this.respond(meta, 'origin')
    })
    this.pipeline = new FetchPipeline({ clock: wallClock, locator, lookups: this.lookups, downloader, origin: intake, local: this.store, holdings: this.holdings, avoidList, counters: this.counters, log }, {
      lookupTimeoutMs: this.settings.lookupTimeoutMs,
      maxHolderAttempts: init.maxHolderAttempts ?? MAX_HOLDER_ATTEMPTS,
      peerTimeoutMs: init.peerTimeoutMs ?? PEER_TIMEOUT_MS,
      holderAnswerTimeoutMs: init.holderAnswerTimeoutMs,
      originMarginMs: init.originMarginMs,
      originSafetyFactor: init.originSafetyFactor,
      originHeadStartMs: init.originHeadStartMs,
      maxObjectBytes: this.settings.maxObjectBytes,
      trustOnFirstUse: init.trustOnFirstUse,
      deliver: (object, source) => this.respond(object, source),
      events: this.fetchEvents()
    })
    this.onSelfUpdate = this.onSelfUpdate.bind(this)
  }

  // ---- lifecycle -----------------------------------------------------------

  isStarted (): boolean {
    return this.lifecycle != null
  }

  async start (): Promise<void> {
    if (this.lifecycle != null) {
      return
    }
    this.lifecycle = new AbortController()
    await this.rpc.start()
    await this.contentServer.start()
    this.budget.start()
    this.storeMaxBytes = (await this.store.stats()).maxBytes
    for (const key of await this.store.keys()) {
      this.holdings.remember(BigInt(`0x${key}`))
    }
    this.startManifest()
    this.uploadMonitor = new UploadSignalMonitor({
      ...this.init.uploadPolicyOptions,
      policy: this.uploadPolicy,
      onChange: (decision) => { this.log('uploads %s', decision.upload ? 'resumed' : `paused (${decision.reason})`) }
    })
    // the battery API answers asynchronously; until it does, its rule does not apply
    this.uploadMonitor.start().catch(err => { this.log('upload signals unavailable - %e', err) })
  }

  /** Addresses are known now: they become this node's dialling hints, and the ring is created or joined */
  async afterStart (): Promise<void> {
    const lifecycle = this.lifecycle
    if (lifecycle == null) {
      return
    }
    const peerId = this.components.peerId
    this.self = { id: nodeIdFromBytes(peerId.toMultihash().bytes), address: peerId.toString(), hints: this.ownHints() }
    this.components.events.addEventListener('self:peer:update', this.onSelfUpdate)
    this.components.events.addEventListener('connection:open', this.membership.onConnectionOpen)
    const rpc = this.meteredRpc()
    const warmUp = warmNewNeighbours(rpc)
    const tuning = this.init.ring ?? {}
    this.ringNode = new RingNode({ clock: wallClock, random: mathRandom, rpc, log: this.components.logger.forComponent('ringcdn:ring') }, {
      ...tuning,
      self: this.self,
      namespace: this.namespace,
      bootstrap: () => this.membership.contacts,
      onNeighboursChanged: (change) => {
        change.added.forEach(p => { this.addressBook.learn(p) })
        this.budget.update(change)
        warmUp(change)
      }
    })
    this.directory = new DirectoryService({ ring: this.ringNode, random: mathRandom }, {
      ...this.init.directory,
      // a node that does not upload now must not send requesters to itself
      holdsLocally: (key) => !this.uploadsPaused && this.holdings.has(key),
      onSoleHolder: this.settings.homeCopies
        ? (key, holder) => { void this.holdings.copyAsHome(key, holder, lifecycle.signal) }
        : undefined
    })

    const ring = this.ringNode
    // the transports may still be starting to listen (afterStart runs for all components at once); the
    // first ring messages should carry our addresses, so the ring waits for them (briefly)
    this.joining = this.waitForAddresses(lifecycle.signal).then(async () => {
      if (this.membership.founder) {
        ring.create()
        this.log('started ring %s as %s', this.namespace, this.self?.address)
        return
      }
      await this.membership.join(ring, lifecycle.signal)
    })
    this.afterJoinAttempt(this.joining, ring, lifecycle.signal)
  }

  /**
   * A join whose retries all failed is not the end: the node tries again
   * every `rejoinIntervalMs` until it joins or stops (each new attempt is
   * what `whenJoined()` waits for from then on). The outcome of each is
   * also read through `whenJoined()`; a failure is logged here.
   */
  private afterJoinAttempt (attempt: Promise<void>, ring: RingNode, signal: AbortSignal): void {
    attempt.catch(err => {
      if (signal.aborted) {
        return
      }
      this.log.error('could not join ring %s, trying again in %d ms - %e', this.namespace, this.settings.rejoinIntervalMs, err)
      const timer = setTimeout(() => {
        signal.removeEventListener('abort', cancel)
        if (signal.aborted || ring.joined) {
          return
        }
        this.joining = this.membership.join(ring, signal)
        this.afterJoinAttempt(this.joining, ring, signal)
      }, this.settings.rejoinIntervalMs)
      const cancel = (): void => { clearTimeout(timer) }
      signal.addEventListener('abort', cancel, { once: true })
    })
  }

  private async waitForAddresses (signal: AbortSignal): Promise<void> {
    if (this.components.addressManager.getAddresses().length > 0) {
      return
    }
    const updated = new Promise<void>(resolve => {
      this.components.events.addEventListener('self:peer:update', () => { resolve() }, { once: true, signal })
    })
    // a node without listen addresses (a browser before its relay reservation) starts anyway
    await raceSignal(updated, AbortSignal.any([signal, AbortSignal.timeout(ADDRESS_WAIT_MS)])).catch(() => {})
    signal.throwIfAborted()
    this.onSelfUpdate()
  }

  /** Leaves the ring gracefully while connections are still up */
  async beforeStop (): Promise<void> {
    const ring = this.ringNode
    if (ring == null) {
      return
    }
    await raceSignal(ring.leave(), AbortSignal.timeout(LEAVE_TIMEOUT_MS)).catch(err => {
      this.log('leave did not complete - %e', err)
    })
  }

  async stop (): Promise<void> {
    const lifecycle = this.lifecycle
    if (lifecycle == null) {
      return
    }
    this.lifecycle = undefined
    lifecycle.abort(new AbortError('The CDN service was stopped'))
    this.components.events.removeEventListener('self:peer:update', this.onSelfUpdate)
    this.components.events.removeEventListener('connection:open', this.membership.onConnectionOpen)
    this.ringNode?.stop()
    this.ringNode = undefined
    this.uploadMonitor?.stop()
    this.uploadMonitor = undefined
    this.directory = undefined
    this.budget.stop()
    await Promise.all([this.rpc.stop(), this.contentServer.stop()])
    this.pipeline.clear()
    if (this.ownsStore) {
      await this.store.close()
    }
  }

  /**
   * Resolves once this node is a ring member; rejects with the join's last
   * error when every attempt failed
   */
  async whenJoined (options: AbortOptions = {}): Promise<void> {
    if (this.joining == null) {
      throw new NotStartedError('the CDN service has not started')
    }
    if (this.ringNode?.joined === true) {
      return
    }
    await raceSignal(this.joining, options.signal)
  }

  /** Whether this node is a ring member now */
  get joined (): boolean {
    return this.ringNode?.joined ?? false
  }

  /** This node's ring position (once started) */
  get nodeId (): bigint | undefined {
    return this.self?.id
  }

  /** The ring node, for diagnostics and tests: routing state, successors, predecessor */
  get ring (): RingNode | undefined {
    return this.ringNode
  }

  // ---- public API ----------------------------------------------------------

  /**
   * Whether this node refuses uploads now: consume-only, paused by the
   * caller, or (policy `'auto'`) paused by the page's signals
   */
  get uploadsPaused (): boolean {
    return this.uploadState.upload === false
  }

  /** Why uploads are paused, or `{ upload: true }` */
  get uploadState (): UploadDecision {
    if (this.uploadPolicy === 'never') {
      return { upload: false, reason: 'never' }
    }
    if (this.uploadsPausedByCaller) {
      return { upload: false, reason: 'custom' }
    }
    return this.uploadMonitor?.decision ?? { upload: true }
  }

  /** Refuses uploads until `resumeUploads()` (requesters are sent on to other holders) */
  pauseUploads (): void {
    this.uploadsPausedByCaller = true
  }

  /** Ends a `pauseUploads()`; the upload policy decides again */
  resumeUploads (): void {
    this.uploadsPausedByCaller = false
  }

  /**
   * A snapshot of this node's place in the ring, for views and diagnostics:
   * ids are 64-digit hex ring positions, peers are libp2p peer ids
   */
  getRing (): RingView {
    const ring = this.ringNode
    const view = (peer: Peer): RingViewPeer => ({ peer: peer.address, id: peer.id.toString(16).padStart(64, '0') })
    return {
      namespace: this.namespace,
      joined: ring?.joined ?? false,
      self: this.self == null ? undefined : view(this.self),
      predecessor: ring?.predecessor == null ? undefined : view(ring.predecessor),
      successors: ring?.successors.map(view) ?? [],
      fingers: ring?.fingers.map(({ index, peer }) => ({ ...view(peer), index })) ?? []
    }
  }

  /**
   * Fetches an asset: from this node's store, a peer or the origin, always
   * verified when a trusted digest is known. The `ringcdn-source` header says
   * which (`local`, `peer`, `origin`).
   *
   * @throws {OriginFetchError} the asset was needed from the origin and the origin could not be reached
   * @throws {IntegrityError} the origin's bytes did not match the trusted digest (`source: 'origin'`)
   * @throws {InvalidDigestError} `options.integrity` is malformed
   * @throws {InvalidUrlError} `url` is not an http(s) URL
   * @throws {AbortError}
   */
  async fetch (url: string | URL, options: RingCdnFetchOptions = {}): Promise<Response> {
    const lifecycle = this.lifecycle
    if (lifecycle == null) {
      throw new NotStartedError('the CDN service is not started')
    }
    options.signal?.throwIfAborted()
    const href = normaliseUrl(url, this.baseUrl)
    const key = keyForUrl(href)
    const target: FetchTarget = { href, key, keyHex: idToHex(key) }
    const signal = options.signal == null ? lifecycle.signal : AbortSignal.any([options.signal, lifecycle.signal])
    if (options.integrity != null) {
      try {
        target.digest = parseSri(options.integrity)
      } catch (err) {
        this.counters.requests++
        this.counters.failures++
        throw err
      }
      target.digestFrom = 'sri'
    } else {
      const digest = (await this.loadedManifest())?.get(href)?.digest
      if (digest != null) {
        target.digest = digest
        target.digestFrom = 'manifest'
      }
    }
    const { result } = await this.pipeline.fetch(target, { signal, lifetime: lifecycle.signal })
    return result
  }

  /**
   * Looks an asset URL (or a raw 256-bit key) up on the ring: its home node
   * and the holders it knows
   *
   * @throws {NotStartedError} when the node is not a ring member
   * @throws {LookupTimeoutError | LookupFailedError | HopLimitError | AbortError}
   */
  async locate (target: string | URL | bigint, options: AbortOptions & { timeout?: number } = {}): Promise<RingCdnLocateResult> {
    if (this.directory == null || this.ringNode?.joined !== true) {
      throw new NotStartedError('not a ring member')
    }
    const key = typeof target === 'bigint' ? target : keyForUrl(target, this.baseUrl)
    const res = await this.lookups.locate(key, options.timeout ?? this.settings.lookupTimeoutMs, options.signal)
    return { home: res.home.address, hops: res.hops, holders: res.holders.map(h => h.address) }
  }

  getStats (): RingCdnStats {
    const { hops, lookupsAnswered, holderFailuresByError, ...counters } = this.counters
    return {
      ...counters,
      meanHops: lookupsAnswered === 0 ? 0 : hops / lookupsAnswered,
      busyRefusals: this.contentServer.busyRefusals,
      ringBusyRefusals: this.ringNode?.busyRefusals ?? 0,
      directoryKeys: this.directory?.directory.size ?? 0,
      announcesDropped: this.directory?.announcesDropped ?? 0,
      holderFailuresByError: { ...holderFailuresByError },
      holdersAvoided: { ...this.avoidList.added },
      ringRpcsSentByType: { ...this.rpcsByType },
      connections: this.budget.usage()
    }
  }

  // ---- wiring --------------------------------------------------------------

  /** The ring's holder directory as the pipeline's locator; not ready until this node has joined */
  private locator (): Locator {
    const directory = (): DirectoryService => {
      if (this.directory == null) {
        throw new NotStartedError('not a ring member')
      }
      return this.directory
    }
    const self = (): Peer | undefined => this.self
    const joined = (): boolean => this.directory != null && this.ringNode?.joined === true
    return {
      get ready () { return joined() },
      get self () { return self() },
      locate: async (key, options) => directory().locate(key, options),
      announce: async (home, key, gone, options) => { await directory().announce(home, key, gone, options) },
      forget: (key, holder) => { this.directory?.forget(key, holder) }
    }
  }

  /** The pipeline's reports as the service's events */
  private fetchEvents (): FetchEvents {
    return {
      lookup: ({ target, home, hops, holders, durationMs, error }) => {
        this.safeDispatchEvent('lookup', { detail: { url: target.href, key: target.keyHex, home: home?.address, hops, holders: holders.length, durationMs, error } })
      },
      transfer: (target, source, bytes, durationMs, peer) => {
        this.safeDispatchEvent('transfer', { detail: { direction: 'download', url: target.href, key: target.keyHex, source, peer, bytes, durationMs, complete: true } })
      },
      holderFailure: (target, peer, err) => {
        this.safeDispatchEvent('holder-failure', { detail: { url: target.href, key: target.keyHex, peer, error: err.name, message: err.message } })
      },
      integrityFailure: (target, err, expected, peer) => {
        this.safeDispatchEvent('integrity-failure', { detail: { url: target.href, key: target.keyHex, source: err.source, peer, expected, message: err.message } })
      }
    }
  }

  /** A response streaming a stored object */
  private respond (object: StoredObject & { contentType?: string }, source: FetchSource): Response {
    return responseFrom(this.store.read(object.key, { digest: object.digest }), object, source)
  }

  private countRequest (req: RingRequest): void {
    this.counters.ringRpcsSent++
    this.rpcsByType[req.type] = (this.rpcsByType[req.type] ?? 0) + 1
    if (req.type === RingRequest.Type.ROUTE && req.route?.maintenance === false) {
      this.counters.lookupRpcsSent++
    }
  }

  /** The ring's Rpc, noting every peer it talks to as a user of its connection */
  private meteredRpc (): Rpc<RingRequest, RingResponse> {
    return {
      request: async (to, req, options) => {
        this.budget.touch(to)
        return this.rpc.request(to, req, options)
      },
      isConnected: (to) => this.rpc.isConnected(to),
      connect: (to) => {
        this.budget.touch(to)
        this.rpc.connect(to)
      },
      handle: (handler) => {
        this.rpc.handle(async (from, req, options) => {
          this.budget.touch(from)
          return handler(from, req, options)
        })
      }
    }
  }

  private ownHints (): Uint8Array[] {
    // the overlay carries at most 8 hints of at most 512 bytes each
    return this.components.addressManager.getAddresses()
      .map(ma => ma.bytes)
      .filter(bytes => bytes.byteLength <= 512)
      .slice(0, 8)
  }

  private onSelfUpdate (): void {
    if (this.self != null) {
      // RingNode sends `self` by reference: new addresses travel from the next message on
      this.self.hints = this.ownHints()
    }
    // relays list our addresses: new ones (e.g. a new relay reservation) must reach them
    this.membership.registerWithRelays()
  }

  private startManifest (): void {
    const source = this.init.manifest
    if (source == null) {
      return
    }
    if (source instanceof Manifest) {
      this.manifest = source
    } else if (typeof source === 'string' || source instanceof URL) {
      const url = new URL(source, this.baseUrl)
      this.manifestLoading = loadManifest(url, { fetch: this.init.fetch, signal: this.lifecycle?.signal })
        .then(manifest => {
          this.manifest = manifest
          this.log('manifest %s lists %d assets', url.href, manifest.size)
          return manifest
        }, err => {
          // without a manifest, digests come from integrity options and origin headers
          this.log.error('manifest %s not loaded - %e', url.href, err)
          return undefined
        })
    } else {
      this.manifest = new Manifest(source, this.baseUrl)
    }
  }

  private async loadedManifest (): Promise<Manifest | undefined> {
    return this.manifest ?? await this.manifestLoading
  }
}

/**
 * The ringcdn service for `createLibp2p({ services: { cdn: ringCdn(init) } })`
 */
export function ringCdn (init: RingCdnInit = {}): (components: RingCdnComponents) => RingCdn {
  return (components) => new RingCdn(components, init)
}

/**
 * The `bootstrap` option as multiaddrs
 *
 * @throws {InvalidParametersError} an address that is not a multiaddr, naming the option to fix
 */
function parseBootstrap (addrs: Array<string | Multiaddr>): Multiaddr[] {
  return addrs.map(addr => {
    if (typeof addr !== 'string') {
      return addr
    }
    try {
      return multiaddr(addr)
    } catch (err: any) {
      throw new InvalidParametersError(`bootstrap address "${addr}" (the \`bootstrap\` option of ringCdn()) is not a multiaddr such as /ip4/127.0.0.1/tcp/9090/ws/p2p/12D3KooW… (ringcdn-relay prints its own) - ${err.message}`, { cause: err })
    }
  })
}

function pageOrigin (): string | undefined {
  const origin = (globalThis as { location?: { origin?: string } }).location?.origin
  return origin != null && origin !== 'null' ? origin : undefined
}

function pageHref (): string | undefined {
  return (globalThis as { location?: { href?: string } }).location?.href
}
