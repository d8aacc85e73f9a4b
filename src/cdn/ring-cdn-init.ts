/**
 * The public shapes of the ringcdn service: what it needs from libp2p, its
 * init options (each with its default), and what its methods return.
 */
import type { DirectoryServiceInit } from './directory-service.ts'
import type { HolderDirectoryInit } from './holder-directory.ts'
import type { Manifest, ManifestDocument } from './manifest.ts'
import type { StreamRpcComponents } from '../libp2p/stream-rpc.ts'
import type { RingNodeInit } from '../overlay/ring-node.ts'
import type { ContentStore } from '../storage/content-store.ts'
import type { UploadPolicy, UploadPolicyOptions } from '../upload-policy.ts'
import type { Libp2pEvents, PeerStore, TypedEventTarget } from '@libp2p/interface'
import type { Multiaddr } from '@multiformats/multiaddr'

/** Ring protocol id of a namespace: namespaced and versioned, so rings of different sites never meet */
export function ringProtocol (namespace: string): string {
  return `/ringcdn/${encodeURIComponent(namespace)}/ring/1.0.0`
}

/** What the service needs from libp2p (a service's components provide it) */
export interface RingCdnComponents extends StreamRpcComponents {
  peerStore: Pick<PeerStore, 'merge'>
  addressManager: { getAddresses(): Multiaddr[] }
  events: TypedEventTarget<Libp2pEvents>
}

/** Ring maintenance settings the service passes through to `RingNode` */
export type RingTuning = Pick<RingNodeInit, 'successorListSize' | 'stabilizeIntervalMs' | 'fixFingersIntervalMs' | 'predecessorTimeoutMs' | 'hopTimeoutMs' | 'lookupTimeoutMs' | 'maxHops' | 'suspectTimeoutMs' | 'jitter' | 'adaptiveMaintenance' | 'maintenanceBackoff'>

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
  /**
   * Time for a holder to answer a request before the next one is asked (and
   * the silent one avoided for a while), ms
   *
   * @default HOLDER_ANSWER_TIMEOUT_MS (2 s)
   */
  holderAnswerTimeoutMs?: number
  /**
   * How long the holders asked so far have to start sending before the next
   * listed holder is asked beside them, ms (`Infinity`: one holder at a
   * time). By default learned from this page's holders' answer times: their
   * smoothed time plus four deviations, within 150 ms and 1 s.
   */
  holderHedgeMs?: number
  /**
   * How much longer than the origin alone a fetch may take because it tried
   * peers first, ms: the origin is brought in beside a slow peer path early
   * enough for that, by an estimate of its time for the object's size learned
   * from this node's origin fetches
   *
   * @default ORIGIN_MARGIN_MS (8 s)
   */
  originMarginMs?: number
  /**
   * The origin joins a fetch once the time left before the fetch's deadline
   * (the origin's estimated time plus `originMarginMs`) falls under this many
   * times the origin's estimated time
   *
   * @default ORIGIN_SAFETY_FACTOR (2)
   */
  originSafetyFactor?: number
  /**
   * The peers' time alone before the origin may join a fetch, however slow
   * the origin is expected to be (at most `originMarginMs`), ms
   *
   * @default ORIGIN_HEAD_START_MS (500 ms)
   */
  originHeadStartMs?: number
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
   * After every retry of a join failed (`whenJoined()` rejects), the node
   * tries again after this long, and so on until it joins or stops, ms
   *
   * @default REJOIN_INTERVAL_MS (15 s)
   */
  rejoinIntervalMs?: number
  /**
   * Ring maintenance settings.
   *
   * @default RingNode's defaults
   */
  ring?: RingTuning
  /**
   * Holder directory bounds: keys, holders per key, keys per holder.
   *
   * @default HolderDirectory's and DirectoryService's defaults
   */
  directory?: HolderDirectoryInit & Pick<DirectoryServiceInit, 'maxKeysPerHolder'>
  /**
   * Concurrent ring RPC streams per connection and direction (each can make
   * this node buffer up to a muxer receive window)
   *
   * @default RING_MAX_STREAMS (96)
   */
  maxRpcStreams?: number
  /**
   * When this node serves other nodes. `'auto'` pauses uploads on a low
   * battery that is not charging, or on a save-data or cellular connection
   * (where the browser tells; see `src/upload-policy.ts`), and holds a hidden
   * page to a background budget (`uploadPolicyOptions.hiddenUploads`, 1
   * upload at once, no home copies);
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
   * @default UploadPolicyOptions' defaults (battery below 20 %, save-data and cellular pause; hidden: 1 upload at once)
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
