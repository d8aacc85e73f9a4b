/**
 * The requester side of the content protocol (theory of operation in
 * `content-protocol.ts`): asks a holder for an object, checks its meta, and
 * receives and verifies its chunks as they arrive.
 */

import { peerIdFromString } from '@libp2p/peer-id'
import { lpStream } from '@libp2p/utils'
import { raceSignal } from 'race-signal'
import { IntegrityError, HolderBusyError, LimitedConnectionError, NotHeldError, ObjectSizeError, TransferError, TransferRefusedError } from '../cdn/errors.ts'
import { Sha256Stream, digestFromBytes, digestToBytes, sha256Hex } from '../cdn/integrity.ts'
import { AbortError } from '../overlay/errors.ts'
import { chunkCount, chunkLength } from '../storage/chunks.ts'
import { ContentCredit, ContentMeta, ContentRequest } from './content-messages.ts'
import { DIGESTS_IN_FLIGHT, MAX_ASSEMBLED_BYTES, MAX_CHUNK_BYTES, MAX_CONTENT_STREAMS, MAX_CONTROL_FRAME_BYTES, MAX_TRANSFER_WINDOW, MIN_CHUNK_BYTES, REQUEST_TIMEOUT_MS, STALL_TIMEOUT_MS, TRANSFER_WINDOW, waitForClose } from './content-protocol.ts'
import type { ContentProtocolComponents } from './content-protocol.ts'
import type { Address } from '../overlay/seams.ts'
import type { ObjectInit } from '../storage/content-store.ts'
import type { Connection, Logger, Stream } from '@libp2p/interface'
import type { LengthPrefixedStream } from '@libp2p/utils'
import type { Multiaddr } from '@multiformats/multiaddr'
import type { Uint8ArrayList } from 'uint8arraylist'

/** Chunk digests accepted in a meta whatever the object's size (≈ 128 KiB of digests) */
const MIN_CHUNK_DIGESTS_LIMIT = 4_096
/** Tries to open a content stream to a holder before the download fails (see `openStream`) */
const STREAM_OPEN_ATTEMPTS = 2
/** The length prefix is a varint; this much room beyond a frame is buffered */
const MAX_VARINT_BYTES = 10

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
