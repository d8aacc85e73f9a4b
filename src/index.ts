/**
 * @packageDocumentation
 *
 * ringcdn: a website's visitors serve its static assets to each other. Every
 * page runs a js-libp2p node with this service; the pages of a site form a
 * Chord ring, an asset's key is SHA-256 of its normalised URL, and a lookup
 * travels hop by hop to the key's home node, which answers with the pages
 * holding the asset. Bytes from peers are verified against a trusted digest
 * before they are stored or delivered; every failure falls back to the origin.
 *
 * @example
 *
 * ```ts
 * import { createLibp2p } from 'libp2p'
 * import { identify } from '@libp2p/identify'
 * import { ringCdn } from 'ringcdn'
 *
 * const node = await createLibp2p({
 *   // transports, encrypters, muxers…
 *   services: {
 *     identify: identify(),
 *     cdn: ringCdn({
 *       namespace: 'https://example.com',
 *       bootstrap: ['/dns4/relay.example.com/tcp/443/wss/p2p/12D3Koo…'],
 *       manifest: '/ringcdn-manifest.json'
 *     })
 *   }
 * })
 *
 * const res = await node.services.cdn.fetch('/js/app.js', { integrity: 'sha256-…' })
 * res.headers.get('ringcdn-source') // 'local' | 'peer' | 'origin'
 * ```
 */

// first: on Node < 22 this throws a NodeVersionError naming the version needed,
// before libp2p loads (libp2p 3 would fail later with "Promise.withResolvers is not a function")
import './cli/require-node.ts'

export { ringCdn, RingCdn, ringProtocol, SOURCE_HEADER, DEFAULT_NAMESPACE, LOOKUP_TIMEOUT_MS, MAX_OBJECT_BYTES, MAX_HOLDER_ATTEMPTS, PEER_TIMEOUT_MS, MIN_PEER_THROUGHPUT, MAX_BUFFERED_BYTES, JOIN_RETRIES, JOIN_RETRY_DELAY_MS, ANNOUNCE_TIMEOUT_MS, AVOID_PEER_MS, LEAVE_TIMEOUT_MS, HIDDEN_ROUND_FLOOR_MS } from './ring-cdn.ts'
export type { RingCdnComponents, RingCdnInit, RingCdnFetchOptions, RingCdnLocateResult, RingTuning, RingView, RingViewPeer } from './ring-cdn.ts'
export type { RingCdnStats, JoinStats, RingCdnEvents, FetchSource, LookupEventDetail, TransferEventDetail, IntegrityFailureDetail, HolderFailureDetail } from './cdn/stats.ts'
export {
  IntegrityError,
  OriginFetchError,
  LookupTimeoutError,
  NoHolderError,
  HolderBusyError,
  NotHeldError,
  TransferRefusedError,
  TransferError,
  LimitedConnectionError,
  ObjectSizeError,
  InvalidDigestError,
  ManifestError,
  NotStartedError
} from './cdn/errors.ts'
export type { IntegritySource } from './cdn/errors.ts'
export { Manifest, loadManifest, MANIFEST_VERSION, MAX_MANIFEST_BYTES } from './cdn/manifest.ts'
export { HOME_COPY_MAX_BYTES, MAX_CONCURRENT_HOME_COPIES } from './cdn/directory-service.ts'
export type { ManifestDocument, ManifestAsset, ManifestEntry, LoadManifestOptions } from './cdn/manifest.ts'
export { parseSri, toSri, parseDigestHeader, toDigestHeader, digestFromHeaders } from './cdn/integrity.ts'
export { contentProtocol } from './libp2p/content-protocol.ts'
export { normaliseUrl, keyForUrl, InvalidUrlError } from './keys.ts'
export { MemoryContentStore, IndexedDbContentStore, CHUNK_SIZE } from './storage/index.ts'
export type { ContentStore, ObjectInit, ObjectMeta, ContentStoreStats, MemoryContentStoreInit, IndexedDbContentStoreInit } from './storage/index.ts'
export { AbortError, LookupFailedError, HopLimitError, InvalidParametersError, JoinFailedError, NotMemberError, WrongNamespaceError } from './overlay/errors.ts'
export { serveServiceWorker, parseRange } from './service-worker-bridge.ts'
export type { ServiceWorkerCdn, ServeServiceWorkerOptions, ServiceWorkerProvider, ByteRange } from './service-worker-bridge.ts'
export { decideUploads, parseUploadPolicy, UploadSignalMonitor, InvalidUploadPolicyError, MIN_BATTERY_LEVEL, HIDDEN_UPLOADS } from './upload-policy.ts'
export { NodeVersionError, MIN_NODE_MAJOR } from './cli/node-version.ts'
export type { UploadPolicy, UploadPolicyOptions, UploadSignals, UploadDecision, UploadPauseReason, UploadSignalMonitorInit } from './upload-policy.ts'
