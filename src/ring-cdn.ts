/**
 * The ringcdn libp2p service: a page's node joins its site's Chord ring and
 * fetches static assets from the pages that hold them, verified, falling back
 * to the origin.
 *
 * Theory of operation — `fetch(url)`:
 *
 * 1. The trusted digest, in order: the caller's `integrity` (SRI), the site
 * manifest, and — only once the ring says somebody holds the asset — the
 * origin's `Repr-Digest` / `Content-Digest` on a HEAD request (a HEAD for an
 * asset no peer has would only add origin load).
 * 2. The local store, if it holds that version; with no digest known, only a
 * version whose digest a trusted source vouched for when it was stored
 * (its `provenance` is `sri`, `manifest` or `origin`, never `peer`).
 * 3. A ring lookup of the key, hop by hop to its home node, which answers with
 * a sample of recent holders (`DirectoryService`), within `lookupTimeoutMs`.
 * 4. Holders in turn (at most `maxHolderAttempts`): the content protocol
 * (`src/libp2p/content-protocol.ts`) streams the object chunk by chunk into an
 * atomic `ContentStore.put`, checking each chunk on arrival and the whole
 * object at the end; the put commits only if everything checked out, so
 * nothing unverified is stored or delivered. Without a trusted digest no peer
 * bytes are accepted (unless `trustOnFirstUse`).
 * 5. Otherwise the origin. Its body is verified the same way when a digest is
 * known; an HTTP error status is returned as the origin sent it; an
 * unreachable origin is an `OriginFetchError`.
 * 6. The node tells the home node it holds the asset now (and which listed
 * holders failed), in the background, and answers from its store.
 *
 * Every step has a deadline, so a fetch reaches the origin within
 * `lookupTimeoutMs` + per-holder bounds, never hangs on the ring.
 *
 * Lifecycle: `start` registers the protocols; `afterStart` (when the node's
 * addresses are known, which become its dialling hints) creates the ring or
 * joins it in the background with bounded retries — pages must not wait for
 * the ring to load, and a fetch before the join simply goes to the origin;
 * `beforeStop` leaves gracefully while connections are still up.
 */
import { TypedEventEmitter, serviceCapabilities } from '@libp2p/interface'
import { multiaddr } from '@multiformats/multiaddr'
import { LRUCache } from 'lru-cache'
import pRetry from 'p-retry'
import { raceSignal } from 'race-signal'
import { DirectoryService, HOME_COPY_MAX_BYTES, MAX_CONCURRENT_HOME_COPIES } from './cdn/directory-service.ts'
import { IntegrityError, LookupTimeoutError, NotStartedError, OriginFetchError, TransferError } from './cdn/errors.ts'
import { Sha256Stream, digestFromHeaders, parseSri, sha256Hex, toDigestHeader } from './cdn/integrity.ts'
import { Manifest, loadManifest } from './cdn/manifest.ts'
import { Origin } from './cdn/origin.ts'
import { keyForUrl, nodeIdFromBytes, normaliseUrl } from './keys.ts'
import { AddressBook } from './libp2p/address-book.ts'
import { queryBootstrap } from './libp2p/bootstrap-client.ts'
import { ConnectionBudget } from './libp2p/connection-budget.ts'
import { ContentClient, ContentServer, REQUEST_TIMEOUT_MS, STALL_TIMEOUT_MS, contentProtocol } from './libp2p/content-protocol.ts'
import { StreamRpc } from './libp2p/stream-rpc.ts'
import { decodeRingRequest, decodeRingResponse, encodeRingResponse } from './overlay/codec.ts'
import { AbortError, JoinFailedError } from './overlay/errors.ts'
import { RingRequest } from './overlay/messages.ts'
import { idToHex } from './overlay/ring-id.ts'
import { RingNode } from './overlay/ring-node.ts'
import { rechunk } from './storage/chunks.ts'
import { CHUNK_SIZE, isVouched } from './storage/content-store.ts'
import { MemoryContentStore } from './storage/memory-store.ts'
import { UploadSignalMonitor, parseUploadPolicy } from './upload-policy.ts'
import type { LocateResult } from './cdn/directory-service.ts'
import type { HolderDirectoryInit } from './cdn/holder-directory.ts'
import type { ManifestDocument } from './cdn/manifest.ts'
import type { FetchSource, RingCdnEvents, RingCdnStats } from './cdn/stats.ts'
import type { RingResponse } from './overlay/messages.ts'
import type { RingNodeInit } from './overlay/ring-node.ts'
import type { Address, Clock, Peer, Random, Rpc } from './overlay/seams.ts'
import type { ContentStore, ObjectInit, ObjectMeta, Provenance } from './storage/content-store.ts'
import type { UploadDecision, UploadPolicy, UploadPolicyOptions } from './upload-policy.ts'
import type { ComponentLogger, Connection, Libp2pEvents, Logger, PeerId, PeerStore, Startable, StreamHandler, StreamHandlerOptions, TypedEventTarget, AbortOptions } from '@libp2p/interface'
import type { Multiaddr } from '@multiformats/multiaddr'

/** Namespace when none is given and there is no page origin to use */
export const DEFAULT_NAMESPACE = 'ringcdn'
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
/** A peer transfer slower than this on average is abandoned for the next holder, bytes per second */
export const MIN_PEER_THROUGHPUT = 1_048_576
/** An origin body without a known digest or length is buffered up to this size to be hashed before storing, bytes */
export const MAX_BUFFERED_BYTES = 33_554_432
/** Join attempts after the first fails */
export const JOIN_RETRIES = 5
/** Delay before the first join retry, ms (doubles per retry) */
export const JOIN_RETRY_DELAY_MS = 500
/** Longest delay between join retries, ms */
export const JOIN_MAX_RETRY_DELAY_MS = 8_000
/** Deadline of dialling one bootstrap address that names no peer id, ms */
export const BOOTSTRAP_DIAL_TIMEOUT_MS = 5_000
/** Deadline of telling a home node we hold an asset, ms */
export const ANNOUNCE_TIMEOUT_MS = 2_000
/**
 * Attempts after the first to tell a home node we hold an asset; each looks
 * the home up again (the one the fetch found may have left meanwhile)
 */
export const ANNOUNCE_RETRIES = 3
/** Wait before the first announce retry, ms; doubles for each further one */
export const ANNOUNCE_RETRY_DELAY_MS = 1_000
/** A peer that sent bad bytes is not asked again for this long, ms */
export const AVOID_PEER_MS = 600_000
/** Bound on the graceful leave when stopping, ms */
export const LEAVE_TIMEOUT_MS = 3_000
/** Keys this node remembers holding (answers "do you hold it?" for the home-node role) */
export const HELD_KEYS = 50_000
/** Response header naming where the bytes came from */
export const SOURCE_HEADER = 'ringcdn-source'
/** Longest wait at start for this node's listen addresses, ms */
const ADDRESS_WAIT_MS = 2_000

/** Ring protocol id of a namespace: namespaced and versioned, so rings of different sites never meet */
export function ringProtocol (namespace: string): string {
  return `/ringcdn/${encodeURIComponent(namespace)}/ring/1.0.0`
}

/** What the service needs from libp2p (a service's components provide it) */
export interface RingCdnComponents {
  peerId: PeerId
  logger: ComponentLogger
  registrar: {
    handle(protocol: string, handler: StreamHandler, options?: StreamHandlerOptions): Promise<void>
    unhandle(protocol: string, options?: AbortOptions): Promise<void>
  }
  connectionManager: {
    getConnections(peerId?: PeerId): Connection[]
    openConnection(peer: PeerId | Multiaddr[], options?: AbortOptions): Promise<Connection>
  }
  peerStore: Pick<PeerStore, 'merge'>
  addressManager: { getAddresses(): Multiaddr[] }
  events: TypedEventTarget<Libp2pEvents>
}

/** Ring maintenance settings the service passes through to `RingNode` */
export type RingTuning = Pick<RingNodeInit, 'successorListSize' | 'stabilizeIntervalMs' | 'fixFingersIntervalMs' | 'predecessorTimeoutMs' | 'hopTimeoutMs' | 'lookupTimeoutMs' | 'maxHops' | 'suspectTimeoutMs' | 'jitter'>

export interface RingCdnInit {
  /**
   * The ring to join: nodes of different namespaces never mix (namespaced,
   * versioned protocol ids, and every ring message's namespace is checked).
   * Usually the site origin.
   *
   * @default `location.origin` in a page, otherwise DEFAULT_NAMESPACE ('ringcdn')
   */
  namespace?: string
  /**
   * Multiaddrs of any ring members (with `/p2p/<id>`, or they are dialled to
   * learn it). Empty: this node starts a new ring.
   *
   * @default []
   */
  bootstrap?: Array<string | Multiaddr>
  /**
   * Where fetched assets are kept and served from. A store passed in is not
   * closed when the service stops.
   *
   * @default a new MemoryContentStore (64 MiB)
   */
  store?: ContentStore
  /**
   * The site manifest of trusted digests (format in `src/cdn/manifest.ts`):
   * the document itself, or its URL, loaded once at start
   *
   * @default none
   */
  manifest?: ManifestDocument | Manifest | string | URL
  /**
   * Relative asset URLs (and a manifest object's relative URLs) resolve
   * against this
   *
   * @default `location.href` in a page, none otherwise
   */
  baseUrl?: string | URL
  /**
   * Accept peer bytes for assets with no trusted digest, checked only against
   * the digest the holder claims. Such bytes are delivered to the fetch that
   * took them and stored with provenance `peer`: a later fetch of the asset
   * is not answered from them without a trusted digest, and no home copy is
   * ever made on a peer's word. Off: such assets always come from the origin.
   *
   * @default false
   */
  trustOnFirstUse?: boolean
  /**
   * How the origin is reached
   *
   * @default globalThis.fetch
   */
  fetch?: typeof globalThis.fetch
  /** @default LOOKUP_TIMEOUT_MS (3 s) */
  lookupTimeoutMs?: number
  /** @default MAX_HOLDER_ATTEMPTS (3) */
  maxHolderAttempts?: number
  /** @default PEER_TIMEOUT_MS (8 s) */
  peerTimeoutMs?: number
  /** @default MAX_OBJECT_BYTES (256 MiB) */
  maxObjectBytes?: number
  /**
   * Home copies: when an announcement leaves a key's home node with one
   * holder only, the home node downloads the object from it, verified
   * against the manifest's digest for that key, and lists itself too, so the
   * object outlives its one holder's session. Assets the manifest does not
   * list are never copied (the home knows only their key, so nothing it
   * trusts vouches for them). It costs the home node a download and the
   * holder an upload of objects neither asked for. Never while uploads are
   * paused or the upload policy is `'never'`.
   *
   * @default true
   */
  homeCopies?: boolean
  /** @default HOME_COPY_MAX_BYTES (8 MiB) */
  homeCopyMaxBytes?: number
  /** @default MIN_PEER_THROUGHPUT (1 MiB/s) */
  minPeerThroughput?: number
  /** @default MAX_BUFFERED_BYTES (32 MiB) */
  maxBufferedBytes?: number
  /**
   * Time for a holder to answer a content request (and, serving, for a
   * request to arrive), ms
   *
   * @default REQUEST_TIMEOUT_MS (5 s)
   */
  transferRequestTimeoutMs?: number
  /**
   * Longest pause in a transfer, either direction, ms
   *
   * @default STALL_TIMEOUT_MS (5 s)
   */
  transferStallTimeoutMs?: number
  /**
   * Chunks in flight per transfer
   *
   * @default TRANSFER_WINDOW (8)
   */
  transferWindow?: number
  /**
   * Uploads served at once; more are refused as busy, so the requester tries
   * another holder
   *
   * @default MAX_CONCURRENT_UPLOADS (8)
   */
  maxConcurrentUploads?: number
  /**
   * Time for the origin to answer with headers, ms.
   *
   * @default ORIGIN_TIMEOUT_MS (30 s)
   */
  originTimeoutMs?: number
  /**
   * Longest pause in an origin body, ms.
   *
   * @default ORIGIN_STALL_TIMEOUT_MS (15 s)
   */
  originStallTimeoutMs?: number
  /**
   * Time for the HEAD asking the origin for a digest, ms.
   *
   * @default HEAD_TIMEOUT_MS (3 s)
   */
  headTimeoutMs?: number
  /**
   * Connections kept open before idle transient ones are closed (routing
   * peers are always kept)
   *
   * @default MAX_CONNECTIONS (48)
   */
  maxConnections?: number
  /**
   * A transient connection unused this long may be closed when over budget, ms.
   *
   * @default IDLE_TIMEOUT_MS (10 s)
   */
  idleConnectionTimeoutMs?: number
  /** @default JOIN_RETRIES (5) */
  joinRetries?: number
  /** @default JOIN_RETRY_DELAY_MS (500 ms) */
  joinRetryDelayMs?: number
  /**
   * Ring maintenance settings.
   *
   * @default RingNode's defaults
   */
  ring?: RingTuning
  /**
   * Holder directory bounds.
   *
   * @default HolderDirectory's defaults
   */
  directory?: HolderDirectoryInit
  /**
   * Concurrent ring RPC streams per connection and direction
   *
   * @default MAX_INBOUND_STREAMS / MAX_OUTBOUND_STREAMS of StreamRpc (256)
   */
  maxRpcStreams?: number
  /**
   * When this node serves other nodes. `'auto'` pauses uploads while the page
   * is hidden, on a low battery that is not charging, or on a save-data or
   * cellular connection (where the browser tells; see `src/upload-policy.ts`);
   * `'always'` ignores those signals; `'never'` is consume-only: no uploads,
   * and the node never announces itself as a holder. `pauseUploads()` pauses
   * on top of any policy.
   *
   * @default 'auto'
   */
  uploadPolicy?: UploadPolicy
  /**
   * Thresholds and the decision hook of the `'auto'` upload policy
   *
   * @default UploadPolicyOptions' defaults (battery below 20 %, hidden, save-data and cellular pause)
   */
  uploadPolicyOptions?: UploadPolicyOptions
}

/** One peer in a `RingView` */
export interface RingViewPeer {
  /** libp2p peer id */
  peer: string
  /** Ring position, 64 hex digits */
  id: string
}

/** What `RingCdn.getRing()` returns */
export interface RingView {
  namespace: string
  joined: boolean
  /** Undefined until the service has started */
  self?: RingViewPeer
  predecessor?: RingViewPeer
  /** Nearest first */
  successors: RingViewPeer[]
  /** Distinct finger peers; `index` is the finger slot (its start is `fingerStart(self, index)` in ring-id.ts) */
  fingers: Array<RingViewPeer & { index: number }>
}

export interface RingCdnFetchOptions {
  /** SRI string (`sha256-<base64>`) the bytes must match, e.g. from the page's `integrity=` attribute */
  integrity?: string
  signal?: AbortSignal
}

export interface RingCdnLocateResult {
  /** Peer id of the key's home node */
  home: string
  hops: number
  /** Peer ids of the holders the home node listed */
  holders: string[]
}

/** State of one fetch as it moves through the sources */
interface FetchContext {
  href: string
  key: bigint
  keyHex: string
  signal: AbortSignal
  startedAt: number
  /** The trusted digest, once known */
  digest?: string
  /** Who vouched for `digest` (recorded with what is stored against it) */
  digestFrom?: Provenance
  home?: Peer
  gone: Address[]
}

const wallClock: Clock = {
  now: () => Date.now(),
  setTimer: (fn, ms) => {
    const timer = setTimeout(fn, ms)
    return { cancel: () => { clearTimeout(timer) } }
  }
}

const mathRandom: Random = { next: () => Math.random() }

export class RingCdn extends TypedEventEmitter<RingCdnEvents> implements Startable {
  readonly namespace: string
  readonly [Symbol.toStringTag] = 'ringcdn'
  readonly [serviceCapabilities]: string[] = ['@ringcdn/cdn']

  private readonly components: RingCdnComponents
  private readonly log: Logger
  private readonly init: RingCdnInit
  private readonly store: ContentStore
  private readonly ownsStore: boolean
  private readonly baseUrl?: string | URL
  private readonly trustOnFirstUse: boolean
  private readonly lookupTimeoutMs: number
  private readonly maxHolderAttempts: number
  private readonly peerTimeoutMs: number
  private readonly maxObjectBytes: number
  private readonly minPeerThroughput: number
  private readonly maxBufferedBytes: number
  private readonly origin: Origin
  private readonly addressBook: AddressBook
  private readonly budget: ConnectionBudget
  private readonly rpc: StreamRpc<RingRequest, RingResponse>
  private readonly contentServer: ContentServer
  private readonly contentClient: ContentClient
  private readonly bootstrapAddrs: Multiaddr[]
  /** Peer ids of bootstrap members, learned from their multiaddrs or from relays */
  private bootstrapIds: Address[] = []
  /** Bootstrap peers that speak the bootstrap protocol (relays keeping member lists) */
  private readonly relays = new Map<Address, PeerId>()
  /** Bootstrap peers that do not (ring members given directly) */
  private readonly notRelays = new Set<Address>()
  /** Registrations with relays in flight, and relays to ask again when theirs ends */
  private readonly registering = new Map<Address, Promise<void>>()
  private readonly registerAgain = new Set<Address>()
  /** Keys this node stored, so as home node it can list itself */
  // bounded by maxSize (one per key), not `max`: lru-cache allocates `max` slots up front, which
  // for 50 000 keys is ~1 MiB per page before it holds anything
  private readonly held = new LRUCache<bigint, true>({ maxSize: HELD_KEYS, sizeCalculation: () => 1 })
  /** Home copies being downloaded, by key */
  private readonly homeCopying = new Set<bigint>()
  /** Peers that sent bad bytes, until when they are avoided (ms since epoch) */
  private readonly avoided = new Map<Address, number>()
  /** Fetches going to peers or the origin, by key: a second fetch of the key waits for the first */
  private readonly inflight = new Map<string, Promise<unknown>>()
  private readonly counters: Omit<RingCdnStats, 'meanHops' | 'busyRefusals' | 'connections' | 'ringRpcsSentByType' | 'holderFailuresByError'> & { hops: number, lookupsAnswered: number }
  private readonly rpcsByType: Record<string, number> = {}
  private readonly holderFailuresByError: Record<string, number> = {}
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
    this.trustOnFirstUse = init.trustOnFirstUse ?? false
    this.lookupTimeoutMs = init.lookupTimeoutMs ?? LOOKUP_TIMEOUT_MS
    this.maxHolderAttempts = init.maxHolderAttempts ?? MAX_HOLDER_ATTEMPTS
    this.peerTimeoutMs = init.peerTimeoutMs ?? PEER_TIMEOUT_MS
    this.maxObjectBytes = init.maxObjectBytes ?? MAX_OBJECT_BYTES
    this.minPeerThroughput = init.minPeerThroughput ?? MIN_PEER_THROUGHPUT
    this.maxBufferedBytes = init.maxBufferedBytes ?? MAX_BUFFERED_BYTES
    this.bootstrapAddrs = (init.bootstrap ?? []).map(a => typeof a === 'string' ? multiaddr(a) : a)
    this.uploadPolicy = parseUploadPolicy(init.uploadPolicy)
    this.counters = {
      requests: 0,
      fromLocal: 0,
      fromPeers: 0,
      fromOrigin: 0,
      failures: 0,
      bytesFromPeers: 0,
      bytesFromOrigin: 0,
      bytesUploaded: 0,
      uploads: 0,
      integrityFailures: 0,
      lookups: 0,
      lookupFailures: 0,
      holderFailures: 0,
      ringRpcsSent: 0,
      lookupRpcsSent: 0,
      homeCopies: 0,
      bytesHomeCopied: 0,
      hops: 0,
      lookupsAnswered: 0
    }

    const fetchFn = init.fetch ?? globalThis.fetch.bind(globalThis)
    this.origin = new Origin({
      fetch: fetchFn,
      log: components.logger.forComponent('ringcdn:origin'),
      timeoutMs: init.originTimeoutMs,
      stallTimeoutMs: init.originStallTimeoutMs,
      headTimeoutMs: init.headTimeoutMs
    })
    this.addressBook = new AddressBook({ self: components.peerId.toString() })
    this.budget = new ConnectionBudget(components, {
      tag: `ringcdn-${this.namespace}`,
      maxConnections: init.maxConnections,
      idleTimeoutMs: init.idleConnectionTimeoutMs
    })
    this.rpc = new StreamRpc(components, {
      protocol: ringProtocol(this.namespace),
      encodeRequest: (req) => {
        this.countRequest(req)
        return RingRequest.encode(req)
      },
      decodeRequest: (bytes) => {
        // the limited codec: a hostile frame cannot make us build millions of peers
        const req = decodeRingRequest(bytes)
        this.addressBook.harvestRequest(req)
        return req
      },
      encodeResponse: encodeRingResponse,
      decodeResponse: (bytes) => {
        const res = decodeRingResponse(bytes)
        this.addressBook.harvestResponse(res)
        return res
      },
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
      onMiss: (key) => { this.held.delete(BigInt(`0x${key}`)) },
      onUpload: (to, bytes, complete) => {
        this.budget.touch(to)
        this.counters.bytesUploaded += bytes
        if (complete) {
          this.counters.uploads++
        }
        this.safeDispatchEvent('transfer', { detail: { direction: 'upload', peer: to, bytes, complete } })
      }
    })
    this.contentClient = new ContentClient(components, {
      protocol,
      onUse: (address) => { this.budget.touch(address) }
    })
    this.onSelfUpdate = this.onSelfUpdate.bind(this)
    this.onConnectionOpen = this.onConnectionOpen.bind(this)
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
      this.held.set(BigInt(`0x${key}`), true)
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
    this.components.events.addEventListener('connection:open', this.onConnectionOpen)
    const rpc = this.meteredRpc()
    const tuning = this.init.ring ?? {}
    this.ringNode = new RingNode({ clock: wallClock, random: mathRandom, rpc, log: this.components.logger.forComponent('ringcdn:ring') }, {
      ...tuning,
      self: this.self,
      namespace: this.namespace,
      bootstrap: () => this.bootstrapIds,
      onNeighboursChanged: (change) => {
        change.added.forEach(p => { this.addressBook.learn(p) })
        this.budget.update(change)
      }
    })
    this.directory = new DirectoryService({ ring: this.ringNode, random: mathRandom }, {
      ...this.init.directory,
      // a node that does not upload now must not send requesters to itself
      holdsLocally: (key) => !this.uploadsPaused && this.held.has(key),
      onSoleHolder: this.init.homeCopies === false
        ? undefined
        : (key, holder) => { void this.copyAsHome(key, holder, lifecycle.signal) }
    })

    const ring = this.ringNode
    // the transports may still be starting to listen (afterStart runs for all components at once); the
    // first ring messages should carry our addresses, so the ring waits for them (briefly)
    this.joining = this.waitForAddresses(lifecycle.signal).then(async () => {
      if (this.bootstrapAddrs.length === 0) {
        ring.create()
        this.log('started ring %s as %s', this.namespace, this.self?.address)
        return
      }
      await this.join(ring, lifecycle.signal)
    })
    // the outcome is read through whenJoined(); a failure is logged here too
    this.joining.catch(err => { this.log.error('could not join ring %s - %e', this.namespace, err) })
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
    this.components.events.removeEventListener('connection:open', this.onConnectionOpen)
    this.ringNode?.stop()
    this.ringNode = undefined
    this.uploadMonitor?.stop()
    this.uploadMonitor = undefined
    this.directory = undefined
    this.budget.stop()
    await Promise.all([this.rpc.stop(), this.contentServer.stop()])
    this.inflight.clear()
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
    const ctx: FetchContext = {
      href,
      key,
      keyHex: idToHex(key),
      signal: options.signal == null ? lifecycle.signal : AbortSignal.any([options.signal, lifecycle.signal]),
      startedAt: Date.now(),
      gone: []
    }
    this.counters.requests++
    try {
      if (options.integrity != null) {
        this.trust(ctx, parseSri(options.integrity), 'sri')
      } else {
        this.trust(ctx, (await this.loadedManifest())?.get(href)?.digest, 'manifest')
      }
      const local = await this.fromLocal(ctx)
      if (local != null) {
        return local
      }
      const pending = this.inflight.get(ctx.keyHex)
      if (pending != null) {
        // the same asset is on its way: wait for it rather than fetch it twice
        await raceSignal(pending, ctx.signal).catch(() => {})
        ctx.signal.throwIfAborted()
        const again = await this.fromLocal(ctx)
        if (again != null) {
          return again
        }
      }
      const remote = this.fromRemote(ctx)
      const done = remote.then(() => {}, () => {}).finally(() => {
        if (this.inflight.get(ctx.keyHex) === done) {
          this.inflight.delete(ctx.keyHex)
        }
      })
      this.inflight.set(ctx.keyHex, done)
      return await remote
    } catch (err: any) {
      this.counters.failures++
      if (ctx.signal.aborted && err.name !== 'AbortError') {
        throw new AbortError()
      }
      throw err
    }
  }

  /**
   * Looks an asset URL (or a raw 256-bit key) up on the ring: its home node
   * and the holders it knows
   *
   * @throws {NotStartedError} when the node is not a ring member
   * @throws {LookupTimeoutError | LookupFailedError | HopLimitError | AbortError}
   */
  async locate (target: string | URL | bigint, options: AbortOptions & { timeout?: number } = {}): Promise<RingCdnLocateResult> {
    const directory = this.directory
    if (directory == null || this.ringNode?.joined !== true) {
      throw new NotStartedError('not a ring member')
    }
    const key = typeof target === 'bigint' ? target : keyForUrl(target, this.baseUrl)
    const timeout = options.timeout ?? this.lookupTimeoutMs
    const res = await this.timedLocate(directory, key, timeout, options.signal)
    return { home: res.home.address, hops: res.hops, holders: res.holders.map(h => h.address) }
  }

  getStats (): RingCdnStats {
    const { hops, lookupsAnswered, ...counters } = this.counters
    return {
      ...counters,
      meanHops: lookupsAnswered === 0 ? 0 : hops / lookupsAnswered,
      busyRefusals: this.contentServer.busyRefusals,
      holderFailuresByError: { ...this.holderFailuresByError },
      ringRpcsSentByType: { ...this.rpcsByType },
      connections: this.budget.usage()
    }
  }

  // ---- sources -------------------------------------------------------------

  /**
   * The stored version the fetch may deliver: with a trusted digest, only
   * that version; without one, only a version whose digest a trusted source
   * vouched for when it was stored (never one a peer vouched for itself)
   */
  private async fromLocal (ctx: FetchContext): Promise<Response | undefined> {
    const meta = await this.store.getMeta(ctx.keyHex, { digest: ctx.digest })
    if (meta == null || (ctx.digest == null && !isVouched(meta))) {
      return undefined
    }
    this.counters.fromLocal++
    this.transferEvent(ctx, 'local', meta.size)
    return this.respond(meta, 'local')
  }

  private async fromRemote (ctx: FetchContext): Promise<Response> {
    const fromPeer = await this.fromPeers(ctx)
    if (fromPeer != null) {
      return fromPeer
    }
    return this.fromOrigin(ctx)
  }

  /** Ring lookup, then the holders in turn; `undefined` sends the fetch to the origin */
  private async fromPeers (ctx: FetchContext): Promise<Response | undefined> {
    const directory = this.directory
    if (directory == null || this.ringNode?.joined !== true) {
      return undefined
    }
    const peerDeadline = Date.now() + this.peerTimeoutMs
    const located = await this.lookup(ctx, directory)
    if (located == null) {
      return undefined
    }
    ctx.home = located.home
    const now = Date.now()
    const holders = located.holders.filter(h => h.address !== this.self?.address && !((this.avoided.get(h.address) ?? 0) > now))
    if (holders.length === 0) {
      return undefined
    }
    // somebody holds it: now the origin's digest is worth a HEAD
    if (ctx.digest == null) {
      this.trust(ctx, await this.origin.headDigest(ctx.href, ctx.signal), 'origin')
    }
    if (ctx.digest == null && !this.trustOnFirstUse) {
      this.log('no trusted digest for %s: not accepting peer bytes', ctx.href)
      return undefined
    }
    for (const holder of holders.slice(0, this.maxHolderAttempts)) {
      ctx.signal.throwIfAborted()
      const started = Date.now()
      const left = peerDeadline - started
      if (left <= 0) {
        this.log('out of time for peers: %s goes to the origin', ctx.href)
        return undefined
      }
      try {
        // without a trusted digest (trust on first use) the holder's claim is all that vouches for it
        const meta = await this.downloadFrom(holder, ctx.keyHex, { digest: ctx.digest, provenance: ctx.digestFrom ?? 'peer', maxObjectBytes: this.maxObjectBytes, startWithinMs: left, signal: ctx.signal })
        this.counters.fromPeers++
        this.counters.bytesFromPeers += meta.size
        this.transferEvent(ctx, 'peer', meta.size, holder.address, started)
        this.stored(ctx, meta)
        return this.respond(meta, 'peer')
      } catch (err: any) {
        if (ctx.signal.aborted) {
          throw new AbortError()
        }
        this.holderFailure(ctx, holder.address, err)
        switch (err.name) {
          case 'IntegrityError':
            this.avoided.set(holder.address, Date.now() + AVOID_PEER_MS)
            this.integrityFailure(ctx, err, holder.address)
            ctx.gone.push(holder.address)
            break
          case 'HolderBusyError':
          case 'LimitedConnectionError':
          case 'TransferRefusedError':
            // it holds the asset; it just cannot serve it to us right now
            break
          case 'ObjectSizeError':
          case 'ObjectTooLargeError':
            // no holder can help: the object does not fit
            return undefined
          default:
            ctx.gone.push(holder.address)
        }
      }
    }
    return undefined
  }

  private async lookup (ctx: FetchContext, directory: DirectoryService): Promise<LocateResult | undefined> {
    const started = Date.now()
    try {
      const res = await this.timedLocate(directory, ctx.key, this.lookupTimeoutMs, ctx.signal)
      this.safeDispatchEvent('lookup', {
        detail: { url: ctx.href, key: ctx.keyHex, home: res.home.address, hops: res.hops, holders: res.holders.length, durationMs: Date.now() - started }
      })
      return res
    } catch (err: any) {
      if (ctx.signal.aborted) {
        throw new AbortError()
      }
      this.log('lookup of %s failed - %e', ctx.href, err)
      this.safeDispatchEvent('lookup', {
        detail: { url: ctx.href, key: ctx.keyHex, holders: 0, durationMs: Date.now() - started, error: err.name }
      })
      return undefined
    }
  }

  /** A ring lookup with a hard deadline (the ring bounds its own walk; this bounds us whatever happens) */
  private async timedLocate (directory: DirectoryService, key: bigint, timeout: number, signal?: AbortSignal): Promise<LocateResult> {
    const deadline = AbortSignal.timeout(timeout)
    this.counters.lookups++
    try {
      const res = await raceSignal(directory.locate(key, { timeout, signal }), signal == null ? deadline : AbortSignal.any([signal, deadline]))
      this.counters.hops += res.hops
      this.counters.lookupsAnswered++
      this.addressBook.learn(res.home)
      res.holders.forEach(h => { this.addressBook.learn(h) })
      return res
    } catch (err: any) {
      if (signal?.aborted === true) {
        throw new AbortError()
      }
      this.counters.lookupFailures++
      if (deadline.aborted) {
        throw new LookupTimeoutError(`no answer for ${idToHex(key)} within ${timeout}ms`, { cause: err })
      }
      throw err
    }
  }

  /** One holder: the transfer streams straight into an atomic put that commits only verified bytes */
  private async downloadFrom (holder: Peer, keyHex: string, options: { digest?: string, provenance: Provenance, maxObjectBytes: number, startWithinMs?: number, signal: AbortSignal }): Promise<ObjectMeta> {
    const requestTimeoutMs = Math.min(this.init.transferRequestTimeoutMs ?? REQUEST_TIMEOUT_MS, options.startWithinMs ?? Infinity)
    const download = await this.contentClient.download(holder.address, keyHex, {
      digest: options.digest,
      hints: this.addressBook.hints(holder.address),
      maxObjectBytes: Math.min(options.maxObjectBytes, this.maxObjectBytes, this.storeMaxBytes),
      window: this.init.transferWindow,
      requestTimeoutMs,
      stallTimeoutMs: this.init.transferStallTimeoutMs,
      signal: options.signal
    })
    const allowedMs = 1_000 * download.init.size / this.minPeerThroughput + (this.init.transferStallTimeoutMs ?? STALL_TIMEOUT_MS)
    const deadline = AbortSignal.timeout(Math.ceil(allowedMs))
    try {
      // the transfer's chunks are its own buffers, nobody else's: the store may keep them uncopied
      return await this.store.put({ ...download.init, provenance: options.provenance }, download.chunks, { signal: AbortSignal.any([options.signal, deadline]), handOver: true })
    } catch (err: any) {
      download.abort(err)
      if (deadline.aborted && !options.signal.aborted) {
        throw new TransferError(`${holder.address} sent ${download.received} of ${download.init.size} bytes within ${Math.ceil(allowedMs)}ms`)
      }
      throw err
    }
  }

  private async fromOrigin (ctx: FetchContext): Promise<Response> {
    const res = await this.origin.get(ctx.href, ctx.signal)
    this.counters.fromOrigin++
    if (!res.ok) {
      // the origin's answer is the answer: a 404 stays a 404
      this.transferEvent(ctx, 'origin', 0)
      return withSource(res, 'origin')
    }
    if (ctx.digest == null) {
      this.trust(ctx, digestFromHeaders(res.headers), 'origin')
    }
    const size = identityLength(res.headers)
    const contentType = res.headers.get('content-type') ?? undefined
    const fits = (n: number): boolean => n <= this.storeMaxBytes && n <= this.maxObjectBytes

    if (ctx.digest != null && size != null && fits(size)) {
      return this.storeFromOrigin(ctx, res, { key: ctx.keyHex, size, chunkSize: CHUNK_SIZE, digest: ctx.digest, contentType, provenance: ctx.digestFrom ?? 'origin' })
    }
    if (size == null || (size <= this.maxBufferedBytes && fits(size))) {
      return this.bufferFromOrigin(ctx, res, contentType)
    }
    return this.passThrough(ctx, res, [], this.origin.readBody(res, ctx.signal))
  }

  /** Digest and length known: the body streams into the store, and the put commits only if the digest matches */
  private async storeFromOrigin (ctx: FetchContext, res: Response, init: ObjectInit): Promise<Response> {
    const chunkDigests: string[] = []
    const body = this.origin.readBody(res, ctx.signal)
    const verified = async function * (this: RingCdn): AsyncGenerator<Uint8Array, void, undefined> {
      const whole = new Sha256Stream()
      for await (const chunk of rechunk(body, init.chunkSize)) {
        whole.update(chunk)
        this.counters.bytesFromOrigin += chunk.byteLength
        chunkDigests.push(await sha256Hex(chunk))
        yield chunk
      }
      const actual = whole.digest()
      if (actual !== init.digest) {
        throw new IntegrityError(`${ctx.href} from the origin hashes to ${actual}, not ${init.digest}`, 'origin')
      }
    }
    let meta: ObjectMeta
    try {
      meta = await this.store.put(init, verified.call(this), { signal: ctx.signal })
    } catch (err: any) {
      // the store stops its source when it fails; this only makes sure the origin's body is released
      body.return().catch(() => {})
      switch (err.name) {
        case 'IntegrityError':
          this.integrityFailure(ctx, err)
          throw err
        case 'AbortError':
        case 'OriginFetchError':
          throw err
        case 'InvalidObjectError':
          // the body's length differs from its Content-Length
          throw new OriginFetchError(`${ctx.href}: the origin's body does not match its Content-Length - ${err.message}`, { cause: err })
        default:
          // the store could not take it (too large, quota): the body is partly read, so ask once more and pass it through
          this.log('could not store %s, passing it through - %e', ctx.href, err)
          return this.passThrough(ctx, await this.origin.get(ctx.href, ctx.signal), [], undefined)
      }
    }
    this.contentServer.rememberChunkDigests(meta.digest, meta.chunkSize, chunkDigests)
    this.transferEvent(ctx, 'origin', meta.size)
    this.stored(ctx, meta)
    return this.respond(meta, 'origin')
  }

  /**
   * Digest or length unknown: read the body (up to `maxBufferedBytes`), hash
   * it, then store it. A body that turns out longer is passed through.
   */
  private async bufferFromOrigin (ctx: FetchContext, res: Response, contentType: string | undefined): Promise<Response> {
    const body = this.origin.readBody(res, ctx.signal)
    const chunks = rechunk(body, CHUNK_SIZE)
    const buffered: Uint8Array[] = []
    const whole = new Sha256Stream()
    while (true) {
      const next = await chunks.next()
      if (next.done === true) {
        break
      }
      buffered.push(next.value)
      whole.update(next.value)
      this.counters.bytesFromOrigin += next.value.byteLength
      if (whole.bytes > this.maxBufferedBytes || whole.bytes > this.storeMaxBytes || whole.bytes > this.maxObjectBytes) {
        return this.passThrough(ctx, res, buffered, chunks)
      }
    }
    const actual = whole.digest()
    if (ctx.digest != null && actual !== ctx.digest) {
      const err = new IntegrityError(`${ctx.href} from the origin hashes to ${actual}, not ${ctx.digest}`, 'origin')
      this.integrityFailure(ctx, err)
      throw err
    }
    // the origin's own bytes, hashed here: vouched for by the origin when no other source named the digest
    const provenance = ctx.digestFrom ?? 'origin'
    const init: ObjectInit = { key: ctx.keyHex, size: whole.bytes, chunkSize: CHUNK_SIZE, digest: actual, chunkDigests: await Promise.all(buffered.map(sha256Hex)), contentType, provenance }
    this.transferEvent(ctx, 'origin', whole.bytes)
    try {
      const meta = await this.store.put(init, buffered, { signal: ctx.signal })
      this.stored(ctx, meta)
      return this.respond(meta, 'origin')
    } catch (err: any) {
      if (err.name === 'AbortError') {
        throw err
      }
      // verified bytes in hand: deliver them even if the store refused them
      this.log('could not store %s - %e', ctx.href, err)
      return this.responseFrom((async function * () { yield * buffered })(), { size: whole.bytes, contentType, digest: actual }, 'origin')
    }
  }

  /**
   * Too large to store or buffer: the origin's bytes go to the caller as
   * they come. With a digest, the last piece is held back until the whole
   * body has checked out, and a mismatch errors the body with
   * `IntegrityError` instead of completing it.
   */
  private passThrough (ctx: FetchContext, res: Response, prefix: Uint8Array[], rest: AsyncGenerator<Uint8Array, void, undefined> | undefined): Response {
    const digest = ctx.digest
    const body = rest ?? this.origin.readBody(res, ctx.signal)
    const counters = this.counters
    const onBad = (err: IntegrityError): void => { this.integrityFailure(ctx, err) }
    const href = ctx.href
    async function * checked (): AsyncGenerator<Uint8Array, void, undefined> {
      const whole = new Sha256Stream()
      let held: Uint8Array | undefined
      const pass = function * (piece: Uint8Array): Generator<Uint8Array> {
        whole.update(piece)
        if (held != null) {
          yield held
        }
        held = piece
      }
      for (const piece of prefix) {
        yield * pass(piece)
      }
      // the prefix was counted when it was buffered
      for await (const piece of body) {
        counters.bytesFromOrigin += piece.byteLength
        yield * pass(piece)
      }
      if (digest != null && whole.digest() !== digest) {
        const err = new IntegrityError(`${href} from the origin does not match ${digest}`, 'origin')
        onBad(err)
        throw err
      }
      if (held != null) {
        yield held
      }
    }
    this.transferEvent(ctx, 'origin', identityLength(res.headers) ?? 0)
    const headers = new Headers(res.headers)
    headers.set(SOURCE_HEADER, 'origin')
    return new Response(bodyFrom(checked()) as ReadableStream<Uint8Array<ArrayBuffer>>, { status: res.status, statusText: res.statusText, headers })
  }

  /**
   * Home copy (see `RingCdnInit.homeCopies`): the object under `key` has one
   * holder, so this node — its home — downloads a copy and lists itself. The
   * home knows the key, not the URL, so the only trusted digest it can have
   * is a manifest entry whose key matches; without one there is no copy: a
   * digest the holder names would let any member plant bytes in the home's
   * store, and the home's own page would then be served them.
   */
  private async copyAsHome (key: bigint, holder: Peer, stopped: AbortSignal): Promise<void> {
    const digest = this.manifest?.byKey(key)?.digest
    if (digest == null || this.uploadsPaused || this.uploadPolicy === 'never' || this.held.has(key) || this.homeCopying.has(key) ||
      this.homeCopying.size >= MAX_CONCURRENT_HOME_COPIES || this.directory == null || this.self == null) {
      return
    }
    this.homeCopying.add(key)
    const keyHex = idToHex(key)
    try {
      const meta = await this.downloadFrom(holder, keyHex, {
        digest,
        provenance: 'manifest',
        maxObjectBytes: this.init.homeCopyMaxBytes ?? HOME_COPY_MAX_BYTES,
        signal: stopped
      })
      this.held.set(key, true)
      this.counters.homeCopies++
      this.counters.bytesHomeCopied += meta.size
      // we are the home: the announcement is a local call that lists us next to the holder
      await this.directory.announce(this.self, key)
      this.log.trace('home copy of %s from %s (%d bytes)', keyHex, holder.address, meta.size)
    } catch (err: any) {
      this.log('home copy of %s from %s failed - %e', keyHex, holder.address, err)
      if (err.name === 'IntegrityError' || err.name === 'NotHeldError') {
        // it sent bytes that are not the object, or does not hold it after all: requesters are no
        // longer sent to it (a busy or unreachable holder stays listed: it may serve them)
        this.directory?.forget(key, holder.address)
      }
      if (err.name === 'IntegrityError') {
        this.counters.integrityFailures++
        this.avoided.set(holder.address, Date.now() + AVOID_PEER_MS)
      }
    } finally {
      this.homeCopying.delete(key)
    }
  }

  // ---- helpers -------------------------------------------------------------

  /**
   * A verified object is in the store: remember it, and tell its home node (in
   * the background). An announce that fails is tried again, to the home a new
   * lookup finds: a page that is not listed serves nobody, however long it
   * holds the object. The retries stop with the node, not with the fetch that
   * stored the object (its caller may abort once it has the response).
   */
  private stored (ctx: FetchContext, meta: ObjectMeta): void {
    this.held.set(ctx.key, true)
    const directory = this.directory
    const signal = this.lifecycle?.signal
    // consume-only: the ring never learns that this node holds anything
    if (directory == null || signal == null || this.uploadPolicy === 'never') {
      return
    }
    pRetry(async (attempt) => {
      if (!this.held.has(ctx.key)) {
        // evicted meanwhile: nothing to announce any more
        return
      }
      // the first attempt goes to the home the fetch found; a fetch whose lookup failed has none yet
      const home = attempt === 1 && ctx.home != null ? ctx.home : (await this.timedLocate(directory, ctx.key, this.lookupTimeoutMs, signal)).home
      await directory.announce(home, ctx.key, ctx.gone, { timeout: ANNOUNCE_TIMEOUT_MS, signal })
    }, {
      retries: ANNOUNCE_RETRIES,
      minTimeout: ANNOUNCE_RETRY_DELAY_MS,
      signal,
      shouldRetry: ({ error }) => error.name !== 'AbortError',
      onFailedAttempt: ({ error, attemptNumber, retriesLeft }) => {
        this.log('announcing %s failed (attempt %d, %d left) - %e', meta.key, attemptNumber, retriesLeft, error)
      }
    }).catch(() => {})
  }

  /** Takes `digest` as the fetch's trusted digest, vouched for by `from` (nothing when there is none) */
  private trust (ctx: FetchContext, digest: string | undefined, from: Provenance): void {
    if (digest != null) {
      ctx.digest = digest
      ctx.digestFrom = from
    }
  }

  private respond (meta: ObjectMeta, source: FetchSource): Response {
    return this.responseFrom(this.store.read(meta.key, { digest: meta.digest }), meta, source)
  }

  private responseFrom (source: AsyncGenerator<Uint8Array, void, undefined>, meta: { size: number, contentType?: string, digest: string }, from: FetchSource): Response {
    const headers = new Headers({
      'content-length': String(meta.size),
      'repr-digest': toDigestHeader(meta.digest),
      [SOURCE_HEADER]: from
    })
    if (meta.contentType != null) {
      headers.set('content-type', meta.contentType)
    }
    return new Response(bodyFrom(source) as ReadableStream<Uint8Array<ArrayBuffer>>, { status: 200, headers })
  }

  private transferEvent (ctx: FetchContext, source: FetchSource, bytes: number, peer?: string, started = ctx.startedAt): void {
    this.safeDispatchEvent('transfer', {
      detail: { direction: 'download', url: ctx.href, key: ctx.keyHex, source, peer, bytes, durationMs: Date.now() - started, complete: true }
    })
  }

  private holderFailure (ctx: FetchContext, peer: string, err: Error): void {
    this.counters.holderFailures++
    this.holderFailuresByError[err.name] = (this.holderFailuresByError[err.name] ?? 0) + 1
    this.log('holder %s of %s failed - %e', peer, ctx.href, err)
    this.safeDispatchEvent('holder-failure', {
      detail: { url: ctx.href, key: ctx.keyHex, peer, error: err.name, message: err.message }
    })
  }

  private integrityFailure (ctx: FetchContext, err: IntegrityError, peer?: string): void {
    this.counters.integrityFailures++
    this.safeDispatchEvent('integrity-failure', {
      detail: { url: ctx.href, key: ctx.keyHex, source: err.source, peer, expected: ctx.digest ?? '', message: err.message }
    })
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
      handle: (handler) => {
        this.rpc.handle(async (from, req, options) => {
          this.budget.touch(from)
          return handler(from, req, options)
        })
      }
    }
  }

  /**
   * Contacts to join through. A bootstrap address that speaks the bootstrap
   * protocol is a relay: it lists ring members to join through, or
   * tells us to found the ring (`found`). Any other bootstrap address is a
   * ring member itself. A peer already known not to be a relay is not dialled.
   */
  private async resolveBootstrap (signal: AbortSignal): Promise<{ contacts: Address[], found: boolean }> {
    const self = this.components.peerId.toString()
    const ids = new Set<Address>()
    let found = false
    for (const ma of this.bootstrapAddrs) {
      // a bootstrap peer that is not a relay is a ring member to join through
      const member = (id: Address): void => {
        this.addressBook.add(id, [ma, ...this.addressBook.hints(id)])
        ids.add(id)
      }
      const id = ma.getComponents().findLast(c => c.name === 'p2p')?.value
      if (id != null && this.notRelays.has(id)) {
        member(id)
        continue
      }
      let connection: Connection
      try {
        connection = await this.components.connectionManager.openConnection([ma], { signal: AbortSignal.any([signal, AbortSignal.timeout(BOOTSTRAP_DIAL_TIMEOUT_MS)]) })
      } catch (err: any) {
        signal.throwIfAborted()
        this.log('bootstrap address %a did not answer - %e', ma, err)
        continue
      }
      const remote = connection.remotePeer.toString()
      if (this.notRelays.has(remote)) {
        member(remote)
        continue
      }
      try {
        const answer = await queryBootstrap(connection, { namespace: this.namespace, addrs: this.components.addressManager.getAddresses(), member: false }, { signal })
        this.relays.set(remote, connection.remotePeer)
        if (answer.type === 'found') {
          found = true
        } else {
          // a random sample of the members: the join routes to our place through the ring
          for (const member of answer.members) {
            this.addressBook.add(member.peer, member.addrs)
            ids.add(member.peer)
          }
        }
      } catch (err: any) {
        signal.throwIfAborted()
        if (err.name === 'BootstrapUnsupportedError') {
          this.notRelays.add(remote)
          member(remote)
        } else {
          this.log('relay %a did not answer the bootstrap request - %e', ma, err)
        }
      }
    }
    ids.delete(self)
    this.bootstrapIds = [...ids]
    return { contacts: this.bootstrapIds, found }
  }

  private async join (ring: RingNode, signal: AbortSignal): Promise<void> {
    await pRetry(async () => {
      const { contacts, found } = await this.resolveBootstrap(signal)
      if (contacts.length === 0) {
        if (!found) {
          throw new JoinFailedError('no bootstrap address answered')
        }
        // the relay has no member of our namespace and lists us to concurrent askers: we found the ring
        ring.create()
        this.log('founded ring %s as %s', this.namespace, this.self?.address)
        return
      }
      await ring.join(contacts, { signal })
    }, {
      retries: this.init.joinRetries ?? JOIN_RETRIES,
      minTimeout: this.init.joinRetryDelayMs ?? JOIN_RETRY_DELAY_MS,
      maxTimeout: JOIN_MAX_RETRY_DELAY_MS,
      signal,
      shouldRetry: ({ error }) => error.name !== 'AbortError',
      onFailedAttempt: ({ error, attemptNumber, retriesLeft }) => {
        this.log('join attempt %d failed (%d left) - %e', attemptNumber, retriesLeft, error)
      }
    })
    this.log('joined ring %s as %s', this.namespace, this.self?.address)
    this.registerWithRelays()
  }

  /**
   * Tells relays we are a ring member, so they list us to joiners. In the
   * background and best effort: a relay that missed it hears again on the
   * next connection to it or change of our addresses.
   */
  private registerWithRelays (relays: Iterable<PeerId> = this.relays.values()): void {
    const lifecycle = this.lifecycle
    if (lifecycle == null || this.ringNode?.joined !== true) {
      return
    }
    for (const relay of relays) {
      const key = relay.toString()
      if (this.registering.has(key)) {
        // our addresses may have changed since that request was sent
        this.registerAgain.add(key)
        continue
      }
      const signal = AbortSignal.any([lifecycle.signal, AbortSignal.timeout(BOOTSTRAP_DIAL_TIMEOUT_MS * 2)])
      const run = (async () => {
        const connection = await this.components.connectionManager.openConnection(relay, { signal })
        const answer = await queryBootstrap(connection, { namespace: this.namespace, addrs: this.components.addressManager.getAddresses(), member: true }, { signal })
        this.log('registered with relay %p%s', relay, answer.type === 'members' && !answer.registered ? ' (not listed: the relay is full)' : '')
      })()
        .catch(err => { this.log('registering with relay %p failed - %e', relay, err) })
        .finally(() => {
          this.registering.delete(key)
          if (this.registerAgain.delete(key)) {
            this.registerWithRelays([relay])
          }
        })
      this.registering.set(key, run)
    }
  }

  /** A new connection to a relay (e.g. after it restarted): it may have forgotten us */
  private onConnectionOpen (evt: CustomEvent<Connection>): void {
    const relay = this.relays.get(evt.detail.remotePeer.toString())
    if (relay != null) {
      this.registerWithRelays([relay])
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
    this.registerWithRelays()
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

/** The origin's response with the source header added (headers of a fetched response are immutable) */
function withSource (res: Response, source: FetchSource): Response {
  const headers = new Headers(res.headers)
  headers.set(SOURCE_HEADER, source)
  return new Response(res.body, { status: res.status, statusText: res.statusText, headers })
}

/** The body length `fetch` will deliver, when the headers say it (a coded body is decoded, so its length is not) */
function identityLength (headers: Headers): number | undefined {
  const coding = headers.get('content-encoding')?.trim().toLowerCase()
  if (coding != null && coding !== '' && coding !== 'identity') {
    return undefined
  }
  const length = Number(headers.get('content-length') ?? NaN)
  return Number.isSafeInteger(length) && length >= 0 ? length : undefined
}

/** A pull-based byte stream over a generator: one chunk in memory at a time, cancelling stops the generator */
function bodyFrom (source: AsyncGenerator<Uint8Array, void, undefined>): ReadableStream<Uint8Array> {
  return new ReadableStream<Uint8Array>({
    async pull (controller) {
      try {
        const next = await source.next()
        if (next.done === true) {
          controller.close()
        } else {
          controller.enqueue(next.value)
        }
      } catch (err) {
        controller.error(err)
      }
    },
    async cancel () {
      await source.return(undefined)
    }
  }, { highWaterMark: 0 })
}

function pageOrigin (): string | undefined {
  const origin = (globalThis as { location?: { origin?: string } }).location?.origin
  return origin != null && origin !== 'null' ? origin : undefined
}

function pageHref (): string | undefined {
  return (globalThis as { location?: { href?: string } }).location?.href
}
