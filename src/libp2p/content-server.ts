/**
 * The holder side of the content protocol (theory of operation in
 * `content-protocol.ts`): admits a request against the upload limits, answers
 * the object's meta and sends its chunks as the requester credits them.
 */

import { lpStream } from '@libp2p/utils'
import { LRUCache } from 'lru-cache'
import { raceSignal } from 'race-signal'
import { NotHeldError, TransferError } from '../cdn/errors.ts'
import { DIGEST_BYTES, digestFromBytes, digestToBytes, sha256Hex } from '../cdn/integrity.ts'
import { AbortError } from '../overlay/errors.ts'
import { chunkCount } from '../storage/chunks.ts'
import { ContentCredit, ContentMeta, ContentRequest } from './content-messages.ts'
import { CHUNK_DIGEST_CACHE_SIZE, MAX_CONCURRENT_UPLOADS, MAX_CONTENT_STREAMS, MAX_REQUEST_FRAME_BYTES, MAX_TRANSFER_WINDOW, MAX_UPLOADS_PER_PEER, REQUEST_TIMEOUT_MS, STALL_TIMEOUT_MS, waitForClose } from './content-protocol.ts'
import type { ContentProtocolComponents } from './content-protocol.ts'
import type { Address } from '../overlay/seams.ts'
import type { ContentStore, ObjectMeta } from '../storage/content-store.ts'
import type { Connection, Logger, Startable, Stream } from '@libp2p/interface'
import type { LengthPrefixedStream } from '@libp2p/utils'

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
  /**
   * Uploads allowed at once now, when fewer than `maxConcurrentUploads` (a
   * hidden page's background budget); read at each request, so the cap
   * changes at run time: uploads in flight are never cut, new requests
   * beyond it are answered BUSY. The per-peer share shrinks with it.
   *
   * @default no run-time cap
   */
  uploadLimit?(): number | undefined
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
  private readonly uploadLimit: () => number | undefined
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
    this.uploadLimit = init.uploadLimit ?? (() => undefined)
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
    // requests and credits are tiny: a longer frame resets the stream before it is buffered
    const lp = lpStream(stream, { maxDataLength: MAX_REQUEST_FRAME_BYTES, maxBufferSize: 16 * MAX_REQUEST_FRAME_BYTES })
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
    // BUSY, not REFUSED, beyond a background budget too: the holder is over its cap for now, which is
    // what BUSY says (the requester avoids it for a while and tries the next holder)
    const limit = Math.min(this.maxUploads, this.uploadLimit() ?? Infinity)
    if (this.uploads >= limit) {
      this.busyRefusals++
      return refuse(ContentMeta.Status.BUSY, `${this.uploads} uploads in progress`)
    }
    const byPeer = this.uploadsByPeer.get(from) ?? 0
    if (byPeer >= Math.min(this.maxUploadsPerPeer, limit)) {
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
