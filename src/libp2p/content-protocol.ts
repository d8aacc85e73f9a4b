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
import { peerIdFromString } from '@libp2p/peer-id'
import { lpStream } from '@libp2p/utils'
import { LRUCache } from 'lru-cache'
import { raceSignal } from 'race-signal'
import { IntegrityError, HolderBusyError, LimitedConnectionError, NotHeldError, ObjectSizeError, TransferError, TransferRefusedError } from '../cdn/errors.ts'
import { DIGEST_BYTES, Sha256Stream, digestFromBytes, digestToBytes, sha256Hex } from '../cdn/integrity.ts'
import { AbortError } from '../overlay/errors.ts'
import { chunkCount, chunkLength } from '../storage/chunks.ts'
import { ContentCredit, ContentMeta, ContentRequest } from './content-messages.ts'
import type { Address } from '../overlay/seams.ts'
import type { ContentStore, ObjectInit, ObjectMeta } from '../storage/content-store.ts'
import type { ComponentLogger, Connection, Logger, PeerId, Startable, Stream, StreamHandler, StreamHandlerOptions, AbortOptions } from '@libp2p/interface'
import type { LengthPrefixedStream } from '@libp2p/utils'
import type { Multiaddr } from '@multiformats/multiaddr'
import type { Uint8ArrayList } from 'uint8arraylist'

/** Largest chunk a holder may send, bytes: bounds the requester's buffer */
export const MAX_CHUNK_BYTES = 1_048_576
/** Smallest chunk (but the last) a holder may use, bytes: bounds the number of chunk digests per object */
export const MIN_CHUNK_BYTES = 1_024
/** Chunk digests accepted in a meta whatever the object's size (≈ 128 KiB of digests) */
const MIN_CHUNK_DIGESTS_LIMIT = 4_096
/** Largest control frame (request, meta, credit), bytes: 1 GiB in 256 KiB chunks needs ≈ 140 KiB of chunk digests */
export const MAX_CONTROL_FRAME_BYTES = 1_048_576
/** Chunks a holder may send ahead of the requester's credit */
export const TRANSFER_WINDOW = 8
/** Largest window a holder grants, whatever the requester asks */
export const MAX_TRANSFER_WINDOW = 64
/** Uploads a holder serves at once before it answers busy */
export const MAX_CONCURRENT_UPLOADS = 8
/**
 * Uploads a holder serves at once to one requester: one peer asking for
 * everything at once must leave slots for the others (its further requests
 * are answered busy, so an honest requester moves on to another holder)
 */
export const MAX_UPLOADS_PER_PEER = 2
/** Time for the request (holder side) and for the meta answer (requester side), ms */
export const REQUEST_TIMEOUT_MS = 5_000
/** Longest wait for any one frame, credit or write during a transfer, ms */
export const STALL_TIMEOUT_MS = 5_000
/** Concurrent content streams per connection and direction */
export const MAX_CONTENT_STREAMS = 64
/** Tries to open a content stream to a holder before the download fails (see `openStream`) */
const STREAM_OPEN_ATTEMPTS = 2
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

/** The length prefix is a varint; this much room beyond a frame is buffered */
const MAX_VARINT_BYTES = 10

/** Content protocol id of a namespace */
export function contentProtocol (namespace: string): string {
  return `/ringcdn/${encodeURIComponent(namespace)}/content/1.0.0`
}

export interface ContentProtocolComponents {
  logger: ComponentLogger
  registrar: {
    handle(protocol: string, handler: StreamHandler, options?: StreamHandlerOptions): Promise<void>
    unhandle(protocol: string, options?: AbortOptions): Promise<void>
  }
  connectionManager: {
    getConnections(peerId?: PeerId): Connection[]
    /** `force` dials a new connection even when one is open (libp2p returns the open one otherwise) */
    openConnection(peer: PeerId | Multiaddr[], options?: AbortOptions & { force?: boolean }): Promise<Connection>
  }
}

export interface ContentServerInit {
  protocol: string
  store: ContentStore
  /** @default MAX_CONCURRENT_UPLOADS (8) */
  maxConcurrentUploads?: number
  /** @default MAX_UPLOADS_PER_PEER (2) */
  maxUploadsPerPeer?: number
  /** @default REQUEST_TIMEOUT_MS (5 s) */
  requestTimeoutMs?: number
  /** @default STALL_TIMEOUT_MS (5 s) */
  stallTimeoutMs?: number
  /** @default MAX_CONTENT_STREAMS (64) */
  maxStreams?: number
  /** An upload finished: `bytes` sent to `to` (also called for uploads cut short, with what was sent) */
  onUpload?(to: Address, bytes: number, complete: boolean): void
  /** A peer asked for content (the connection is in use) */
  onRequest?(from: Address): void
  /** A peer asked for an object (key, hex) the store does not hold */
  onMiss?(key: string): void
  /**
   * Whether uploads are paused now (upload policy): requests are then refused
   * with REFUSED, so the requester moves on to another holder
   *
   * @default never paused
   */
  uploadsPaused?(): boolean
}

/**
 * The holder side: serves objects from the content store
 */
export class ContentServer implements Startable {
  private readonly components: ContentProtocolComponents
  private readonly log: Logger
  private readonly protocol: string
  private readonly store: ContentStore
  private readonly maxUploads: number
  private readonly maxUploadsPerPeer: number
  private readonly requestTimeoutMs: number
  private readonly stallTimeoutMs: number
  private readonly maxStreams: number
  private readonly onUpload?: (to: Address, bytes: number, complete: boolean) => void
  private readonly onRequest?: (from: Address) => void
  private readonly onMiss?: (key: string) => void
  private readonly uploadsPaused: () => boolean
  private readonly streams = new Set<Stream>()
  /**
   * Chunk digests of stored objects that were put without them (an origin
   * body's chunk digests are known only once it has been read, after the put
   * began), by whole-object digest and chunk size
   */
  private readonly chunkDigests = new LRUCache<string, string[]>({ max: CHUNK_DIGEST_CACHE_SIZE })
  private shutdown?: AbortController
  /** Upload slots taken: uploads in progress and requests being admitted */
  uploads = 0
  /** Upload slots taken, by requester */
  private readonly uploadsByPeer = new Map<Address, number>()
  /** Requests answered busy so far */
  busyRefusals = 0
  /** Requests refused because uploads were paused */
  pausedRefusals = 0

  constructor (components: ContentProtocolComponents, init: ContentServerInit) {
    this.components = components
    this.log = components.logger.forComponent('ringcdn:content:server')
    this.protocol = init.protocol
    this.store = init.store
    this.maxUploads = init.maxConcurrentUploads ?? MAX_CONCURRENT_UPLOADS
    this.maxUploadsPerPeer = init.maxUploadsPerPeer ?? MAX_UPLOADS_PER_PEER
    this.requestTimeoutMs = init.requestTimeoutMs ?? REQUEST_TIMEOUT_MS
    this.stallTimeoutMs = init.stallTimeoutMs ?? STALL_TIMEOUT_MS
    this.maxStreams = init.maxStreams ?? MAX_CONTENT_STREAMS
    this.onUpload = init.onUpload
    this.onRequest = init.onRequest
    this.onMiss = init.onMiss
    this.uploadsPaused = init.uploadsPaused ?? (() => false)
    this.onStream = this.onStream.bind(this)
  }

  isStarted (): boolean {
    return this.shutdown != null
  }

  async start (): Promise<void> {
    if (this.shutdown != null) {
      return
    }
    this.shutdown = new AbortController()
    await this.components.registrar.handle(this.protocol, this.onStream, {
      maxInboundStreams: this.maxStreams,
      maxOutboundStreams: this.maxStreams,
      // content must not cross relays: libp2p refuses the stream on a limited connection
      runOnLimitedConnection: false
    })
  }

  async stop (): Promise<void> {
    const shutdown = this.shutdown
    if (shutdown == null) {
      return
    }
    this.shutdown = undefined
    shutdown.abort(new AbortError('The content server was stopped'))
    for (const stream of this.streams) {
      stream.abort(new AbortError('The content server was stopped'))
    }
    this.streams.clear()
    try {
      await this.components.registrar.unhandle(this.protocol)
    } catch (err) {
      this.log.error('could not unhandle %s - %e', this.protocol, err)
    }
  }

  /** Chunk digests for an object stored without them, so uploads of it can send them */
  rememberChunkDigests (digest: string, chunkSize: number, chunkDigests: string[]): void {
    this.chunkDigests.set(`${digest}/${chunkSize}`, chunkDigests)
  }

  /** Chunk digests of a stored object: from its meta, the cache, or by hashing it once */
  private async chunkDigestsOf (meta: ObjectMeta, stopped: AbortSignal): Promise<string[]> {
    if (meta.chunkDigests != null) {
      return meta.chunkDigests
    }
    const known = this.chunkDigests.get(`${meta.digest}/${meta.chunkSize}`)
    if (known != null) {
      return known
    }
    const list: string[] = []
    for (let i = 0; i < chunkCount(meta.size, meta.chunkSize); i++) {
      const chunk = await this.store.getChunk(meta.key, i, { digest: meta.digest, signal: this.stall(stopped), readOnly: true })
      if (chunk == null) {
        throw new NotHeldError(`${meta.key} was evicted`)
      }
      list.push(await sha256Hex(chunk))
    }
    this.rememberChunkDigests(meta.digest, meta.chunkSize, list)
    return list
  }

  private async onStream (stream: Stream, connection: Connection): Promise<void> {
    const shutdown = this.shutdown
    if (shutdown == null) {
      stream.abort(new AbortError('The content server is not started'))
      return
    }
    const from = connection.remotePeer.toString()
    this.streams.add(stream)
    const lp = lpStream(stream, { maxDataLength: MAX_CONTROL_FRAME_BYTES, maxBufferSize: 4 * MAX_CONTROL_FRAME_BYTES })
    let uploading = false
    let sent = 0
    let complete = false
    try {
      const req = ContentRequest.decode((await lp.read({ signal: AbortSignal.any([shutdown.signal, AbortSignal.timeout(this.requestTimeoutMs)]) })).subarray())
      this.onRequest?.(from)
      const admitted = await this.admit(req, from, connection)
      if (admitted.refusal != null) {
        await this.refuse(lp, stream, admitted.refusal.status, admitted.refusal.message, shutdown.signal)
        return
      }
      // admit() took the slot; it is given back in `finally`
      const { key, meta } = admitted
      uploading = true
      const chunkDigests = await this.chunkDigestsOf(meta, shutdown.signal)
      await lp.write(ContentMeta.encode({
        status: ContentMeta.Status.OK,
        size: meta.size,
        chunkSize: meta.chunkSize,
        chunkDigests: chunkDigests.map(digestToBytes),
        digest: digestToBytes(meta.digest),
        contentType: meta.contentType ?? '',
        message: ''
      }), { signal: this.stall(shutdown.signal) })

      const credit = new Credit(Math.max(1, Math.min(req.window, MAX_TRANSFER_WINDOW)))
      // credits arrive while we write; the loop ends when the requester closes its end
      void this.readCredits(lp, credit, shutdown.signal)
      const n = chunkCount(meta.size, meta.chunkSize)
      for (let i = 0; i < n; i++) {
        await credit.take(this.stall(shutdown.signal))
        // pinned to the version announced in the meta: a replaced object is not mixed in
        // read-only: the stream copies the bytes into its own messages, so the store need not copy them first
        const chunk = await this.store.getChunk(key, i, { digest: meta.digest, signal: shutdown.signal, readOnly: true })
        if (chunk == null) {
          throw new NotHeldError(`${key} was evicted during the upload`)
        }
        await lp.write(chunk, { signal: this.stall(shutdown.signal) })
        sent += chunk.byteLength
      }
      complete = true
      await this.closeAndWait(stream, shutdown.signal)
      this.log.trace('sent %s (%d bytes) to %s', key, sent, from)
    } catch (err: any) {
      this.log('upload to %s failed - %e', from, err)
      stream.abort(err)
    } finally {
      this.streams.delete(stream)
      if (uploading) {
        this.releaseSlot(from)
        this.onUpload?.(from, sent, complete)
      }
    }
  }

  /**
   * Whether to serve a request: the object to send (its upload slot taken),
   * or why not. The slot is taken before the store is asked: requests that
   * arrive together must not all pass the count while the first awaits.
   */
  private async admit (req: ContentRequest, from: Address, connection: Connection): Promise<{ refusal: { status: ContentMeta.Status, message: string }, key?: undefined, meta?: undefined } | { refusal?: undefined, key: string, meta: ObjectMeta }> {
    const refuse = (status: ContentMeta.Status, message: string): { refusal: { status: ContentMeta.Status, message: string } } => ({ refusal: { status, message } })
    if (connection.limits != null) {
      return refuse(ContentMeta.Status.REFUSED, 'content does not travel over limited connections')
    }
    if (req.key.byteLength !== DIGEST_BYTES || (req.digest.byteLength !== 0 && req.digest.byteLength !== DIGEST_BYTES)) {
      return refuse(ContentMeta.Status.REFUSED, 'malformed request')
    }
    if (this.uploadsPaused()) {
      this.pausedRefusals++
      return refuse(ContentMeta.Status.REFUSED, 'uploads are paused')
    }
    if (this.uploads >= this.maxUploads) {
      this.busyRefusals++
      return refuse(ContentMeta.Status.BUSY, `${this.uploads} uploads in progress`)
    }
    const byPeer = this.uploadsByPeer.get(from) ?? 0
    if (byPeer >= this.maxUploadsPerPeer) {
      this.busyRefusals++
      return refuse(ContentMeta.Status.BUSY, `${byPeer} uploads to you in progress`)
    }
    this.uploads++
    this.uploadsByPeer.set(from, byPeer + 1)
    try {
      const key = digestFromBytes(req.key)
      const wanted = req.digest.byteLength === 0 ? undefined : digestFromBytes(req.digest)
      const meta = await this.store.getMeta(key, { digest: wanted })
      if (meta == null) {
        if (wanted == null || !await this.store.has(key)) {
          this.onMiss?.(key)
        }
        this.releaseSlot(from)
        return refuse(ContentMeta.Status.NOT_FOUND, 'not held')
      }
      if (req.maxSize > 0 && meta.size > req.maxSize) {
        // refused before any chunk: the requester would drop them unread
        this.releaseSlot(from)
        return refuse(ContentMeta.Status.TOO_LARGE, `${meta.size} bytes, more than the ${req.maxSize} accepted`)
      }
      return { key, meta }
    } catch (err) {
      this.releaseSlot(from)
      throw err
    }
  }

  private releaseSlot (from: Address): void {
    this.uploads--
    const left = (this.uploadsByPeer.get(from) ?? 1) - 1
    if (left > 0) {
      this.uploadsByPeer.set(from, left)
    } else {
      this.uploadsByPeer.delete(from)
    }
  }

  private stall (stopped: AbortSignal): AbortSignal {
    return AbortSignal.any([stopped, AbortSignal.timeout(this.stallTimeoutMs)])
  }

  private async refuse (lp: LengthPrefixedStream<Stream>, stream: Stream, status: ContentMeta.Status, message: string, stopped: AbortSignal): Promise<void> {
    await lp.write(ContentMeta.encode({ status, size: 0, chunkSize: 0, chunkDigests: [], digest: new Uint8Array(0), contentType: '', message }), { signal: this.stall(stopped) })
    await this.closeAndWait(stream, stopped)
  }

  private async readCredits (lp: LengthPrefixedStream<Stream>, credit: Credit, stopped: AbortSignal): Promise<void> {
    try {
      while (true) {
        const frame = await lp.read({ signal: stopped })
        credit.give(ContentCredit.decode(frame.subarray()).chunks)
      }
    } catch {
      // the requester closed its end (done, or gave up) or the stream died:
      // a write or a credit wait then fails by itself
      credit.end()
    }
  }

  private async closeAndWait (stream: Stream, stopped: AbortSignal): Promise<void> {
    const signal = this.stall(stopped)
    await raceSignal(stream.close({ signal }), signal)
    await waitForClose(stream, signal)
  }
}

/** Chunks the holder may still send */
class Credit {
  private available: number
  private waiter?: PromiseWithResolvers<void>
  private ended = false

  constructor (initial: number) {
    this.available = initial
  }

  give (n: number): void {
    // a requester cannot raise its window beyond the cap by crediting ahead
    this.available = Math.min(this.available + n, MAX_TRANSFER_WINDOW)
    this.waiter?.resolve()
  }

  end (): void {
    this.ended = true
    this.waiter?.resolve()
  }

  async take (signal: AbortSignal): Promise<void> {
    while (this.available === 0) {
      if (this.ended) {
        throw new TransferError('the requester stopped crediting')
      }
      this.waiter = Promise.withResolvers()
      await raceSignal(this.waiter.promise, signal)
    }
    this.available--
  }
}

export interface DownloadOptions {
  /** The SHA-256 (hex) the requester trusts; without it the holder's claimed digest is checked for consistency only (trust on first use) */
  digest?: string
  /** Multiaddrs to dial the holder at when no connection is open */
  hints?: Multiaddr[]
  /** Largest object accepted, bytes */
  maxObjectBytes: number
  /** @default TRANSFER_WINDOW (8) */
  window?: number
  /** @default REQUEST_TIMEOUT_MS (5 s) */
  requestTimeoutMs?: number
  /** @default STALL_TIMEOUT_MS (5 s) */
  stallTimeoutMs?: number
  /**
   * Objects up to this size are assembled in one buffer as they arrive and
   * hashed whole at the end; larger ones are hashed as they stream
   *
   * @default MAX_ASSEMBLED_BYTES (32 MiB)
   */
  maxAssembledBytes?: number
  signal?: AbortSignal
}

/** A transfer whose meta has arrived: pass `init` and `chunks` to `ContentStore.put` (with `handOver`) */
export interface Download {
  /** The object as the holder describes it (its digest equals the requested one) */
  init: ObjectInit
  /**
   * The chunks, each checked against its digest before it is handed on; the
   * last one only once the whole-object digest matched. Throws
   * `IntegrityError` (source `peer`) or `TransferError` on any failure. The
   * chunks are the transfer's own (views into one buffer for an assembled
   * object) and nobody else holds them: the consumer may keep them.
   */
  chunks: AsyncGenerator<Uint8Array, void, undefined>
  /** Bytes received so far */
  readonly received: number
  /** Ends the transfer early (idempotent; a no-op once complete) */
  abort(err?: Error): void
}

export interface ContentClientInit {
  protocol: string
  /** The CDN used a connection to a peer */
  onUse?(address: Address): void
}

/**
 * The requester side
 */
export class ContentClient {
  private readonly components: ContentProtocolComponents
  private readonly log: Logger
  private readonly protocol: string
  private readonly onUse?: (address: Address) => void

  constructor (components: ContentProtocolComponents, init: ContentClientInit) {
    this.components = components
    this.log = components.logger.forComponent('ringcdn:content:client')
    this.protocol = init.protocol
    this.onUse = init.onUse
  }

  /**
   * Asks `holder` for `key` (hex) and returns once its meta has arrived
   *
   * @throws {NotHeldError | HolderBusyError | TransferRefusedError | LimitedConnectionError | ObjectSizeError | TransferError | AbortError}
   */
  async download (holder: Address, key: string, options: DownloadOptions): Promise<Download> {
    const requestTimeoutMs = options.requestTimeoutMs ?? REQUEST_TIMEOUT_MS
    const stallTimeoutMs = options.stallTimeoutMs ?? STALL_TIMEOUT_MS
    const window = Math.max(1, Math.min(options.window ?? TRANSFER_WINDOW, MAX_TRANSFER_WINDOW))
    const setup = options.signal == null ? AbortSignal.timeout(requestTimeoutMs) : AbortSignal.any([options.signal, AbortSignal.timeout(requestTimeoutMs)])
    this.onUse?.(holder)

    let stream: Stream
    try {
      stream = await this.openStream(holder, options.hints ?? [], setup, requestTimeoutMs / STREAM_OPEN_ATTEMPTS)
    } catch (err: any) {
      options.signal?.throwIfAborted()
      if (err.name === 'LimitedConnectionError') {
        throw err
      }
      // a WebRTC data channel that closes before it opens rejects with its `close` Event, not an Error
      throw new TransferError(`could not reach holder ${holder}: ${err?.message ?? `${String(err?.type ?? err)} event`}`, { cause: err })
    }

    const lp = lpStream(stream, {
      maxDataLength: Math.max(MAX_CHUNK_BYTES, MAX_CONTROL_FRAME_BYTES),
      // the holder sends at most `window` chunks beyond our credit
      maxBufferSize: (window + 1) * (MAX_CHUNK_BYTES + MAX_VARINT_BYTES)
    })
    let meta: ContentMeta
    try {
      await lp.write(ContentRequest.encode({
        key: digestToBytes(key),
        digest: options.digest == null ? new Uint8Array(0) : digestToBytes(options.digest),
        window,
        maxSize: options.maxObjectBytes
      }), { signal: setup })
      meta = ContentMeta.decode((await lp.read({ signal: setup })).subarray(), { limits: { chunkDigests: Math.max(MIN_CHUNK_DIGESTS_LIMIT, Math.ceil(options.maxObjectBytes / MIN_CHUNK_BYTES) + 1) } })
    } catch (err: any) {
      stream.abort(err)
      options.signal?.throwIfAborted()
      throw new TransferError(`no answer from holder ${holder}: ${err.message}`, { cause: err })
    }

    try {
      const init = this.checkMeta(holder, key, meta, options)
      return this.transfer(holder, stream, lp, init, { window, stallTimeoutMs, maxAssembledBytes: options.maxAssembledBytes ?? MAX_ASSEMBLED_BYTES, signal: options.signal })
    } catch (err: any) {
      // a refusal: the holder has closed its end; close ours so the stream is released
      stream.close({ signal: AbortSignal.timeout(stallTimeoutMs) }).catch(() => { stream.abort(err) })
      throw err
    }
  }

  private checkMeta (holder: Address, key: string, meta: ContentMeta, options: DownloadOptions): ObjectInit {
    switch (meta.status) {
      case ContentMeta.Status.OK:
        break
      case ContentMeta.Status.NOT_FOUND:
        throw new NotHeldError(`${holder} does not hold ${key}`)
      case ContentMeta.Status.BUSY:
        throw new HolderBusyError(`${holder} is busy: ${meta.message}`)
      case ContentMeta.Status.REFUSED:
        throw new TransferRefusedError(`${holder} refused: ${meta.message}`)
      case ContentMeta.Status.TOO_LARGE:
        throw new ObjectSizeError(`${key} is larger than the limit of ${options.maxObjectBytes} bytes: ${meta.message}`)
      default:
        throw new TransferError(`${holder} answered with unknown status ${String(meta.status)}`)
    }
    if (meta.size > options.maxObjectBytes) {
      throw new ObjectSizeError(`${key} has ${meta.size} bytes, more than the limit of ${options.maxObjectBytes}`)
    }
    if (!Number.isSafeInteger(meta.size) || meta.size < 0 || meta.chunkSize <= 0 || meta.chunkSize > MAX_CHUNK_BYTES || (meta.chunkSize < MIN_CHUNK_BYTES && meta.size > meta.chunkSize)) {
      throw new TransferError(`${holder} described ${key} with size ${meta.size} and chunk size ${meta.chunkSize}`)
    }
    const n = chunkCount(meta.size, meta.chunkSize)
    if (meta.chunkDigests.length !== 0 && meta.chunkDigests.length !== n) {
      throw new TransferError(`${holder} sent ${meta.chunkDigests.length} chunk digests for ${n} chunks`)
    }
    let digest: string
    let chunkDigests: string[]
    try {
      digest = digestFromBytes(meta.digest)
      chunkDigests = meta.chunkDigests.map(digestFromBytes)
    } catch (err: any) {
      throw new TransferError(`${holder} sent a malformed digest: ${err.message}`)
    }
    if (options.digest != null && digest !== options.digest) {
      // the holder must only offer the version asked for
      throw new TransferError(`${holder} offered ${digest} for ${options.digest}`)
    }
    const init: ObjectInit = { key, size: meta.size, chunkSize: meta.chunkSize, digest }
    if (chunkDigests.length > 0) {
      init.chunkDigests = chunkDigests
    }
    if (meta.contentType !== '') {
      init.contentType = meta.contentType
    }
    return init
  }

  private transfer (holder: Address, stream: Stream, lp: LengthPrefixedStream<Stream>, init: ObjectInit, options: { window: number, stallTimeoutMs: number, maxAssembledBytes: number, signal?: AbortSignal }): Download {
    const log = this.log
    const n = chunkCount(init.size, init.chunkSize)
    const creditBatch = Math.max(1, Math.floor(options.window / 2))
    let received = 0
    let finished = false
    const abort = (err: Error = new AbortError('The transfer was abandoned')): void => {
      if (!finished) {
        finished = true
        stream.abort(err)
      }
    }
    const stall = (): AbortSignal => options.signal == null
      ? AbortSignal.timeout(options.stallTimeoutMs)
      : AbortSignal.any([options.signal, AbortSignal.timeout(options.stallTimeoutMs)])

    async function * chunks (): AsyncGenerator<Uint8Array, void, undefined> {
      // small enough: one buffer for the whole object, hashed once at the end;
      // otherwise a streaming hash and one buffer per chunk
      const assembled = init.size <= options.maxAssembledBytes ? new Uint8Array(init.size) : undefined
      const whole = assembled == null ? new Sha256Stream() : undefined
      // received chunks whose digests are being computed, oldest first
      const pending: ReceivedChunk[] = []
      // chunks the holder may send in all, and chunks received but not yet credited back
      let credited = options.window
      let owed = 0
      try {
        for (let i = 0; i < n; i++) {
          let frame: Uint8ArrayList
          try {
            frame = await lp.read({ signal: stall() })
          } catch (err: any) {
            options.signal?.throwIfAborted()
            throw new TransferError(`transfer from ${holder} broke off at chunk ${i}/${n}: ${err.message}`, { cause: err })
          }
          const expected = chunkLength(init.size, init.chunkSize, i)
          if (frame.byteLength !== expected) {
            throw new TransferError(`chunk ${i} from ${holder} has ${frame.byteLength} bytes, expected ${expected}`)
          }
          // the one copy: out of the stream's buffers, straight into place
          const start = i * init.chunkSize
          const chunk = assembled?.subarray(start, start + expected) ?? new Uint8Array(expected)
          copyInto(frame, chunk)
          whole?.update(chunk)
          received += expected
          pending.push(receivedChunk(i, chunk, init.chunkDigests?.[i]))
          // the bytes are ours now, so the holder may send more while we check them
          if (++owed >= creditBatch && credited < n) {
            await lp.write(ContentCredit.encode({ chunks: owed }), { signal: stall() })
            credited += owed
            owed = 0
          }
          // hand chunks on in order, each once its digest matched, keeping a few digests in flight
          while (pending.length > (i === n - 1 ? 0 : DIGESTS_IN_FLIGHT)) {
            const next = pending.shift() as ReceivedChunk
            if (!await next.matches) {
              throw new IntegrityError(`chunk ${next.index} of ${init.key} from ${holder} does not match its digest`, 'peer')
            }
            if (next.index === n - 1) {
              // the last chunk is handed out only once the whole object has checked out
              await checkWhole(assembled, whole)
            }
            yield next.chunk
          }
        }
        if (n === 0) {
          await checkWhole(assembled, whole)
        }
        finished = true
        const signal = stall()
        await raceSignal(stream.close({ signal }), signal)
        await waitForClose(stream, signal).catch(err => { stream.abort(err) })
      } catch (err: any) {
        log('transfer of %s from %s failed - %e', init.key, holder, err)
        abort(err)
        throw err
      } finally {
        // the consumer stopped early (`return()` on the generator)
        abort()
      }
    }

    async function checkWhole (assembled: Uint8Array | undefined, whole: Sha256Stream | undefined): Promise<void> {
      const actual = assembled != null ? await sha256Hex(assembled) : whole?.digest()
      if (actual !== init.digest) {
        throw new IntegrityError(`${init.key} from ${holder} hashes to ${actual}, not ${init.digest}`, 'peer')
      }
    }

    return {
      init,
      chunks: chunks(),
      get received () { return received },
      abort
    }
  }

  /**
   * A stream to `holder` over a direct connection. A connection the holder
   * has just closed can still look open here, and a stream on it fails to
   * open (a WebRTC data channel closes before it opens) or never opens: one
   * more try, never on the connection that failed — on another one open by
   * then, or a new one — reaches a holder that is still there. So that a
   * stream that never opens leaves time for that try, opening one on a
   * connection gets `attemptMs` before the last attempt (the dial before it
   * gets the whole budget: a first WebRTC connection takes a relay round trip).
   */
  private async openStream (holder: Address, hints: Multiaddr[], signal: AbortSignal, attemptMs: number): Promise<Stream> {
    let failed: Connection | undefined
    for (let attempt = 1; ; attempt++) {
      const connection = await this.connect(holder, hints, signal, failed)
      const last = attempt >= STREAM_OPEN_ATTEMPTS
      const attemptSignal = last ? signal : AbortSignal.any([signal, AbortSignal.timeout(attemptMs)])
      // raced as well as passed: a data channel that never opens must not outlast the signal
      const opening = connection.newStream(this.protocol, { signal: attemptSignal, maxOutboundStreams: MAX_CONTENT_STREAMS })
      try {
        return await raceSignal(opening, attemptSignal)
      } catch (err: any) {
        opening.then(stream => { stream.abort(err) }, () => {})
        if (last || signal.aborted || err?.name === 'LimitedConnectionError') {
          throw err
        }
        this.log('a stream to %s failed to open on connection %s (%s), trying another connection', holder, connection.id, connection.status)
        failed = connection
      }
    }
  }

  /**
   * An open, unlimited connection is reused; otherwise dial the hints, or the
   * peer id through the peer store. `avoid` (a connection a stream just failed
   * to open on) is never returned: with it still listed as open, the dial is
   * forced, since libp2p would otherwise hand the same connection back.
   */
  private async connect (address: Address, hints: Multiaddr[], signal: AbortSignal, avoid?: Connection): Promise<Connection> {
    const peerId = peerIdFromString(address)
    const open = this.components.connectionManager.getConnections(peerId).filter(c => c.status === 'open' && c !== avoid)
    const direct = open.find(c => c.limits == null)
    if (direct != null) {
      return direct
    }
    const force = avoid != null && avoid.status === 'open'
    let connection: Connection | undefined
    if (open.length === 0 && hints.length > 0) {
      try {
        connection = await raceSignal(this.components.connectionManager.openConnection(hints.map(ma => withPeerId(ma, address)), { signal, force }), signal)
      } catch (err: any) {
        signal.throwIfAborted()
        this.log('dialling the hints of %s failed, trying the peer store - %e', address, err)
      }
    }
    connection ??= await raceSignal(this.components.connectionManager.openConnection(peerId, { signal, force }), signal)
    if (connection.limits != null) {
      throw new LimitedConnectionError(`only a limited connection to ${address} is open`)
    }
    return connection
  }
}

/** A chunk that arrived, with the check of its digest under way */
interface ReceivedChunk {
  index: number
  chunk: Uint8Array
  /** Whether it matches its digest (true when the holder sent none) */
  matches: Promise<boolean>
}

function receivedChunk (index: number, chunk: Uint8Array, digest: string | undefined): ReceivedChunk {
  const matches = digest == null ? Promise.resolve(true) : sha256Hex(chunk).then(actual => actual === digest)
  // a transfer that fails leaves later checks unawaited: they must not surface as unhandled
  matches.catch(() => {})
  return { index, chunk, matches }
}

/** Copies the pieces of `list` into `target`, which has exactly its length */
function copyInto (list: Uint8ArrayList, target: Uint8Array): void {
  let offset = 0
  for (const piece of list) {
    target.set(piece, offset)
    offset += piece.byteLength
  }
}

function withPeerId (ma: Multiaddr, address: Address): Multiaddr {
  return ma.getComponents().some(c => c.name === 'p2p') ? ma : ma.encapsulate(`/p2p/${address}`)
}

async function waitForClose (stream: Stream, signal: AbortSignal): Promise<void> {
  if (stream.status !== 'open') {
    return
  }
  await raceSignal(new Promise<void>(resolve => {
    stream.addEventListener('close', () => { resolve() }, { once: true })
  }), signal)
}
