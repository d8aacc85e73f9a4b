/**
 * The ringcdn libp2p service: a page's node joins its site's Chord ring and
 * fetches static assets from the pages that hold them, verified, falling back
 * to the origin.
 *
 * A thin facade. The fetch path (`src/cdn/fetch-pipeline.ts`), what the page
 * holds and announces, home copies (`src/cdn/holdings.ts`) and the avoid list
 * are parts written against `Clock`, `Random` and small seams, which the
 * simulator runs too; this file wires them to libp2p (`src/cdn/fetch-path.ts`):
 * the wall clock, the content protocol (`src/cdn/peer-downloader.ts`), the
 * origin intake (`src/cdn/origin-intake.ts`), the store, and `Response`s. The
 * ring protocol's transport (`src/libp2p/ring-transport.ts`), joining
 * (`src/cdn/ring-membership.ts`), the manifest (`src/cdn/manifest-source.ts`)
 * and the upload gate (`src/upload-gate.ts`) are parts of their own too.
 *
 * Lifecycle: `start` registers the protocols; `afterStart` (when the node's
 * addresses are known, which become its dialling hints) creates the ring or
 * joins it in the background with bounded retries — pages must not wait for
 * the ring to load, and a fetch before the join simply goes to the origin;
 * `beforeStop` leaves gracefully while connections are still up.
 */
import { TypedEventEmitter, serviceCapabilities } from '@libp2p/interface'
import { raceSignal } from 'race-signal'
import { AvoidList } from './cdn/avoid-list.ts'
import { createCounters } from './cdn/counters.ts'
import { DirectoryService } from './cdn/directory-service.ts'
import { NotStartedError } from './cdn/errors.ts'
import { createFetchPath, directoryLocator, fetchEventsOf } from './cdn/fetch-path.ts'
import { FetchPipeline, LOOKUP_TIMEOUT_MS, MAX_OBJECT_BYTES } from './cdn/fetch-pipeline.ts'
import { Holdings } from './cdn/holdings.ts'
import { parseSri } from './cdn/integrity.ts'
import { Lookups } from './cdn/lookups.ts'
import { ManifestSource } from './cdn/manifest-source.ts'
import { responseFrom } from './cdn/responses.ts'
import { ringProtocol } from './cdn/ring-cdn-init.ts'
import { REJOIN_INTERVAL_MS, RingMembership, parseBootstrap } from './cdn/ring-membership.ts'
import { keyForUrl, nodeIdFromBytes, normaliseUrl } from './keys.ts'
import { AddressBook } from './libp2p/address-book.ts'
import { ConnectionBudget } from './libp2p/connection-budget.ts'
import { ContentClient } from './libp2p/content-client.ts'
import { contentProtocol } from './libp2p/content-protocol.ts'
import { ContentServer } from './libp2p/content-server.ts'
import { RingTransport } from './libp2p/ring-transport.ts'
import { mathRandom, wallClock } from './libp2p/wall-clock.ts'
import { AbortError } from './overlay/errors.ts'
import { idFromBytes, idToHex } from './overlay/ring-id.ts'
import { RingNode } from './overlay/ring-node.ts'
import { warmNewNeighbours } from './overlay/warm-connections.ts'
import { pageHidden, pageHref, pageOrigin } from './page-globals.ts'
import { MemoryContentStore } from './storage/memory-store.ts'
import { UploadGate } from './upload-gate.ts'
import type { CdnCounters } from './cdn/counters.ts'
import type { RingCdnComponents, RingCdnFetchOptions, RingCdnInit, RingCdnLocateResult, RingView, RingViewPeer } from './cdn/ring-cdn-init.ts'
import type { FetchTarget, StoredObject } from './cdn/seams.ts'
import type { FetchSource, JoinStats, RingCdnEvents, RingCdnStats } from './cdn/stats.ts'
import type { Peer } from './overlay/seams.ts'
import type { ContentStore } from './storage/content-store.ts'
import type { UploadDecision } from './upload-policy.ts'
import type { Logger, Startable, AbortOptions, PeerId } from '@libp2p/interface'

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
/**
 * The least round a hidden page announces to its successor, ms: Chromium may
 * hold a hidden page's chained timers to one wake-up a minute, and a successor
 * expecting a 10 s round would drop it between two wake-ups (a crash of it is
 * then noticed by the probes that find it gone, not by this timeout)
 */
export const HIDDEN_ROUND_FLOOR_MS = 60_000
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
  private readonly transport: RingTransport
  private readonly contentServer: ContentServer
  private readonly membership: RingMembership
  private readonly counters: CdnCounters
  private readonly lookups: Lookups
  private readonly holdings: Holdings
  private readonly pipeline: FetchPipeline<Response>
  private readonly avoidList: AvoidList
  private readonly manifests: ManifestSource
  private storeMaxBytes = Infinity
  private self?: Peer
  private ringNode?: RingNode
  private directory?: DirectoryService
  private lifecycle?: AbortController
  private joining?: Promise<void>
  /** When the service started joining, knew its addresses, and first became a member (ms of `performance.now()`) */
  private startedAt?: number
  private addressesAt?: number
  private joinedAt?: number
  private readonly uploads: UploadGate

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
    this.uploads = new UploadGate({ policy: init.uploadPolicy, options: init.uploadPolicyOptions, log: this.log })
    this.manifests = new ManifestSource({ source: init.manifest, baseUrl: this.baseUrl, fetch: init.fetch, log: this.log })
    this.counters = createCounters()

    this.addressBook = new AddressBook({ self: components.peerId.toString() })
    // named, not spread: libp2p's components object throws on keys it does not have
    this.membership = new RingMembership({ peerId: components.peerId, connectionManager: components.connectionManager, addressManager: components.addressManager, addressBook: this.addressBook, log: this.log }, {
      namespace: this.namespace,
      bootstrap: parseBootstrap(init.bootstrap ?? []),
      joinRetries: init.joinRetries,
      joinRetryDelayMs: init.joinRetryDelayMs,
      lifetime: () => this.lifecycle?.signal,
      joined: () => this.ringNode?.joined === true,
      membersListed: () => { this.ringNode?.joinIfAlone() }
    })
    this.budget = new ConnectionBudget(components, {
      tag: `ringcdn-${this.namespace}`,
      maxConnections: init.maxConnections,
      idleTimeoutMs: init.idleConnectionTimeoutMs
    })
    this.transport = new RingTransport(components, {
      protocol: ringProtocol(this.namespace),
      addressBook: this.addressBook,
      budget: this.budget,
      counters: this.counters,
      maxStreams: init.maxRpcStreams
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
      // a hidden page's background budget (`UploadPolicyOptions.hiddenUploads`): BUSY beyond it
      uploadLimit: () => this.uploads.maxUploads,
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
    const locator = directoryLocator({ directory: () => this.directory, self: () => this.self, joined: () => this.ringNode?.joined === true })
    const client = new ContentClient(components, { protocol, onUse: (address) => { this.budget.touch(address) } })
    const path = createFetchPath({ logger: components.logger, client, store: this.store, locator, addressBook: this.addressBook, counters: this.counters, events: fetchEventsOf(this) }, {
      ...this.settings,
      storeMaxBytes: () => this.storeMaxBytes,
      trustedDigest: (key) => this.manifests.current?.byKey(key)?.digest,
      // home copies are downloads for the ring's sake: none while paused or on a hidden page's budget
      uploading: () => this.uploads.copiesAllowed,
      announcing: () => this.uploads.policy !== 'never',
      onChunkDigests: (digest, chunkSize, chunkDigests) => { this.contentServer.rememberChunkDigests(digest, chunkSize, chunkDigests) },
      respond: (object, source) => this.respond(object, source)
    }, init)
    this.avoidList = path.avoidList
    this.lookups = path.lookups
    this.holdings = path.holdings
    this.pipeline = path.pipeline
    this.onSelfUpdate = this.onSelfUpdate.bind(this)
    this.onPeerDisconnect = this.onPeerDisconnect.bind(this)
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
    await this.transport.start()
    await this.contentServer.start()
    this.budget.start()
    this.storeMaxBytes = (await this.store.stats()).maxBytes
    for (const key of await this.store.keys()) {
      this.holdings.remember(BigInt(`0x${key}`))
    }
    this.manifests.start(this.lifecycle.signal)
    this.uploads.start()
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
    this.components.events.addEventListener('peer:disconnect', this.onPeerDisconnect)
    const rpc = this.transport.metered()
    const warmUp = warmNewNeighbours(rpc)
    const tuning = this.init.ring ?? {}
    this.ringNode = new RingNode({ clock: wallClock, random: mathRandom, rpc, log: this.components.logger.forComponent('ringcdn:ring') }, {
      ...tuning,
      self: this.self,
      namespace: this.namespace,
      bootstrap: () => this.membership.contacts,
      idOf: (address) => {
        const bytes = this.transport.ringIdOf(address)
        return bytes == null ? undefined : idFromBytes(bytes)
      },
      roundFloorMs: () => pageHidden() ? HIDDEN_ROUND_FLOOR_MS : undefined,
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
    this.startedAt = performance.now()
    this.addressesAt = this.joinedAt = undefined
    this.membership.resetProgress()
    this.joining = this.waitForAddresses(lifecycle.signal).then(async () => {
      this.addressesAt = performance.now()
      if (this.membership.founder) {
        ring.create()
        this.log('started ring %s as %s', this.namespace, this.self?.address)
        return
      }
      await this.membership.join(ring, lifecycle.signal)
    })
    const joined = (attempt: Promise<void>): void => {
      attempt.then(() => { this.joinedAt ??= performance.now() }, () => {})
    }
    joined(this.joining)
    this.membership.rejoinOnFailure(this.joining, ring, lifecycle.signal, this.settings.rejoinIntervalMs, (attempt) => {
      this.joining = attempt
      joined(attempt)
    })
  }

  private async waitForAddresses (signal: AbortSignal): Promise<void> {
    if (this.components.addressManager.getAddresses().length > 0) {
      return
    }
    // a page's relay reservation gives it its addresses at once (`transport:listening`); libp2p's
    // `self:peer:update` comes a second later (it debounces its peer-record update by 1 s). A node that
    // listens itself (Node) waits for that update: starting its join before it made a test ring of real
    // libp2p nodes miss its repair after a crash 5 times in 12 runs of test/libp2p/connection-loss.spec.ts
    // (0 in 10 of a variant of it with logging), against 1 in 22 waiting; why, not found
    const waited = new AbortController()
    const updated = new Promise<void>(resolve => {
      const options = { signal: AbortSignal.any([signal, waited.signal]) }
      this.components.events.addEventListener('transport:listening', () => {
        if (this.components.addressManager.getAddresses().some(ma => ma.getComponents().some(c => c.name === 'p2p-circuit'))) {
          resolve()
        }
      }, options)
      this.components.events.addEventListener('self:peer:update', () => { resolve() }, options)
    })
    // a node without listen addresses (a browser before its relay reservation) starts anyway
    await raceSignal(updated, AbortSignal.any([signal, AbortSignal.timeout(ADDRESS_WAIT_MS)])).catch(() => {}).finally(() => { waited.abort() })
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
    this.components.events.removeEventListener('peer:disconnect', this.onPeerDisconnect)
    this.ringNode?.stop()
    this.ringNode = undefined
    this.uploads.stop()
    this.directory = undefined
    this.budget.stop()
    await Promise.all([this.transport.stop(), this.contentServer.stop()])
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
    return this.uploads.state
  }

  /** Refuses uploads until `resumeUploads()` (requesters are sent on to other holders) */
  pauseUploads (): void {
    this.uploads.pause()
  }

  /** Ends a `pauseUploads()`; the upload policy decides again */
  resumeUploads (): void {
    this.uploads.resume()
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
      const digest = (await this.manifests.loaded())?.get(href)?.digest
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
      ringRpcsSentByType: { ...this.transport.sentByType },
      connections: this.budget.usage(),
      join: this.joinStats()
    }
  }

  private joinStats (): JoinStats {
    const since = (at?: number): number | undefined => at == null || this.startedAt == null ? undefined : Math.round(at - this.startedAt)
    const { answeredAt, routedAt, ...progress } = this.membership.progress
    return { ...progress, addressesMs: since(this.addressesAt), answeredMs: since(answeredAt), routedMs: since(routedAt), joinedMs: since(this.joinedAt) }
  }

  // ---- wiring --------------------------------------------------------------

  /** A response streaming a stored object */
  private respond (object: StoredObject & { contentType?: string }, source: FetchSource): Response {
    return responseFrom(this.store.read(object.key, { digest: object.digest }), object, source)
  }

  private ownHints (): Uint8Array[] {
    // the overlay carries at most 8 hints of at most 512 bytes each
    return this.components.addressManager.getAddresses()
      .map(ma => ma.bytes)
      .filter(bytes => bytes.byteLength <= 512)
      .slice(0, 8)
  }

  /** libp2p closed its last connection to a peer: news for the ring if it was a neighbour */
  private onPeerDisconnect (evt: CustomEvent<PeerId>): void {
    this.ringNode?.connectionLost(evt.detail.toString())
  }

  private onSelfUpdate (): void {
    if (this.self != null) {
      // RingNode sends `self` by reference: new addresses travel from the next message on
      this.self.hints = this.ownHints()
    }
    // relays list our addresses: new ones (e.g. a new relay reservation) must reach them
    this.membership.registerWithRelays()
  }
}

/**
 * The ringcdn service for `createLibp2p({ services: { cdn: ringCdn(init) } })`
 */
export function ringCdn (init: RingCdnInit = {}): (components: RingCdnComponents) => RingCdn {
  return (components) => new RingCdn(components, init)
}
