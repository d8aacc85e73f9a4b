/**
 * The content transfer protocol: one object from a holder to a requester over
 * one direct libp2p stream, chunk by chunk, verified as it arrives.
 *
 * Theory of operation (framing in `content.proto`): the requester sends
 * `{ key, digest, window }`; the holder answers a `ContentMeta` — size, chunk
 * size, per-chunk SHA-256s, content type — or a refusal (not found, busy,
 * refused), then sends the chunks as raw length-prefixed frames, never more
 * than the requester has credited. The requester checks each chunk's length
 * and digest the moment it arrives (a bad holder is caught at its first bad
 * chunk, not after 100 MiB), and the whole-object SHA-256 against the digest
 * it trusts at the end. The chunk digests come from the holder, so they only
 * catch inconsistency early; what makes bytes trustworthy is the whole-object
 * digest, which is why callers put the chunks into an atomic `ContentStore.put`
 * that commits only once the last chunk (and with it the final check) passed.
 *
 * Where the requester's time goes (P6, Chromium): every WebRTC message costs
 * main-thread work, so the requester does as little else per byte as it can.
 * An object of up to `maxAssembledBytes` is copied once, straight from the
 * stream's buffers into one buffer of its own; chunk digests are native
 * (WebCrypto), started as chunks arrive and checked in order, a few chunks
 * behind, before a chunk is handed on (a browser that hashes off the main
 * thread overlaps them with receipt; Chromium hashes in the call); the
 * whole-object digest is one native call over that buffer at the end
 * (WebCrypto cannot stream, and hashing in JS as the bytes arrived cost the
 * page more main-thread time than everything else in the transfer). The store
 * may keep the buffer's chunks without copying them (`handOver`). Larger
 * objects stream through `Sha256Stream` with a few chunks in memory.
 *
 * Both sides half-close and wait for the other's close (a leaked stream counts
 * against the per-connection stream limit); every wait has a deadline: the
 * request by `requestTimeoutMs`, every frame after it by `stallTimeoutMs`.
 *
 * Content never travels over limited (relayed) connections: the handler is
 * registered without `runOnLimitedConnection`, the holder refuses explicitly
 * if one gets through anyway, and the requester does not try.
 */
import { raceSignal } from 'race-signal'
import type { StreamRpcComponents } from './stream-rpc-init.ts'
import type { ComponentLogger, Connection, PeerId, Stream, AbortOptions } from '@libp2p/interface'
import type { Multiaddr } from '@multiformats/multiaddr'

/** Largest chunk a holder may send, bytes: bounds the requester's buffer */
export const MAX_CHUNK_BYTES = 1_048_576
/** Smallest chunk (but the last) a holder may use, bytes: bounds the number of chunk digests per object */
export const MIN_CHUNK_BYTES = 1_024
/** Largest meta answer a requester reads, bytes: 1 GiB in 256 KiB chunks needs ≈ 140 KiB of chunk digests */
export const MAX_CONTROL_FRAME_BYTES = 1_048_576
/**
 * Largest frame a holder reads (a request is ~80 bytes, a credit ~3), bytes:
 * a requester that opens its 64 streams and sends junk on each makes the
 * holder buffer a few KiB, not 64 × its meta bound
 */
export const MAX_REQUEST_FRAME_BYTES = 256
/** Chunks a holder may send ahead of the requester's credit */
export const TRANSFER_WINDOW = 8
/** Largest window a holder grants, whatever the requester asks */
export const MAX_TRANSFER_WINDOW = 64
/** Uploads a holder serves at once before it answers busy */
export const MAX_CONCURRENT_UPLOADS = 8
// uploads a holder serves at once to one requester; requesters know it too (they wait for their share)
export { MAX_UPLOADS_PER_PEER } from '../cdn/share-waiters.ts'
/** Time for the request (holder side) and for the meta answer (requester side), ms */
export const REQUEST_TIMEOUT_MS = 5_000
/** Longest wait for any one frame, credit or write during a transfer, ms */
export const STALL_TIMEOUT_MS = 5_000
/** Concurrent content streams per connection and direction */
export const MAX_CONTENT_STREAMS = 64
/** Objects whose chunk digests a holder remembers when its store has none for them */
export const CHUNK_DIGEST_CACHE_SIZE = 1_024

/**
 * Largest object a requester assembles in one buffer while it arrives, bytes
 * (32 MiB): below it the whole-object digest is one native call at the end,
 * above it the object is hashed as it streams, with a few chunks in memory
 */
export const MAX_ASSEMBLED_BYTES = 33_554_432
/** Chunk digests a requester computes ahead of the chunk it hands on next */
export const DIGESTS_IN_FLIGHT = 4

/** Content protocol id of a namespace */
export function contentProtocol (namespace: string): string {
  return `/ringcdn/${encodeURIComponent(namespace)}/content/1.0.0`
}

/** What the content protocol needs from libp2p: the RPC adapter's registrar, and a dial that can force a new connection */
export interface ContentProtocolComponents {
  logger: ComponentLogger
  registrar: StreamRpcComponents['registrar']
  connectionManager: {
    getConnections(peerId?: PeerId): Connection[]
    /** `force` dials a new connection even when one is open (libp2p returns the open one otherwise) */
    openConnection(peer: PeerId | Multiaddr[], options?: AbortOptions & { force?: boolean }): Promise<Connection>
  }
}

/** Resolves once the remote end closed `stream` too (a leaked stream counts against the per-connection stream limit) */
export async function waitForClose (stream: Stream, signal: AbortSignal): Promise<void> {
  if (stream.status !== 'open') {
    return
  }
  await raceSignal(new Promise<void>(resolve => {
    stream.addEventListener('close', () => { resolve() }, { once: true })
  }), signal)
}
