/**
 * The serving side of a `StreamRpc`: one request frame in, one response frame
 * out, per inbound stream; at most `maxRequestsPerPeer` requests of one peer
 * served at once (the rest answered busy unread), every step bounded
 * (`handlerTimeout` for reading and handling, `closeTimeout` for answering).
 */
import { lpStream } from '@libp2p/utils'
import { raceSignal } from 'race-signal'
import { AbortError, ErrorCode, InvalidMessageError, RpcTimeoutError, codeOf } from '../overlay/errors.ts'
import { encodeError, encodeOk } from './response-envelope.ts'
import type { RpcHandler, StreamRpcInit } from './stream-rpc-init.ts'
import type { Address } from '../overlay/seams.ts'
import type { Connection, Logger, Stream } from '@libp2p/interface'
import type { LengthPrefixedStream } from '@libp2p/utils'

/** The length prefix is a varint; this much room beyond a frame is buffered */
export const MAX_VARINT_BYTES = 10

/** Errors of `@libp2p/utils` framing: the bytes on the wire broke the framing rules */
export const FRAMING_ERRORS = new Set([
  'InvalidDataLengthError',
  'InvalidDataLengthLengthError',
  'InvalidMessageLengthError',
  'StreamBufferError'
])

export interface RpcServerInit<Req, Res> {
  codec: Pick<StreamRpcInit<Req, Res>, 'decodeRequest' | 'encodeResponse'>
  maxMessageBytes: number
  maxRequestsPerPeer: number
  handlerTimeout: number
  closeTimeout: number
  /** Streams in use, shared with the requesting side: reset when the endpoint stops */
  streams: Set<Stream>
}

export class RpcServer<Req, Res> {
  private readonly log: Logger
  private readonly codec: Pick<StreamRpcInit<Req, Res>, 'decodeRequest' | 'encodeResponse'>
  private readonly maxMessageBytes: number
  private readonly maxRequestsPerPeer: number
  private readonly handlerTimeout: number
  private readonly closeTimeout: number
  private readonly streams: Set<Stream>
  /** Requests being served, by requester */
  private readonly serving = new Map<Address, number>()
  handler?: RpcHandler<Req, Res>

  constructor (log: Logger, init: RpcServerInit<Req, Res>) {
    this.log = log
    this.codec = init.codec
    this.maxMessageBytes = init.maxMessageBytes
    this.maxRequestsPerPeer = init.maxRequestsPerPeer
    this.handlerTimeout = init.handlerTimeout
    this.closeTimeout = init.closeTimeout
    this.streams = init.streams
  }

  /**
   * Runs the handler and builds the response frame. Rejects only when
   * `gone` is aborted, when there is nobody left to answer.
   */
  async answer (from: Address, req: Req, signal: AbortSignal, gone: AbortSignal): Promise<Uint8Array> {
    const handler = this.handler
    if (handler == null) {
      return encodeError(ErrorCode.UNKNOWN, 'no handler for this protocol')
    }

    let res: Res
    try {
      res = await raceSignal(handler(from, req, { signal }), signal)
    } catch (err: any) {
      if (gone.aborted) {
        throw err
      }
      if (signal.aborted) {
        this.log.error('handler for a request from %s ran out of its %dms', from, this.handlerTimeout)
        return encodeError(ErrorCode.UNKNOWN, `handler did not answer within ${this.handlerTimeout}ms`)
      }
      this.log('handler failed on a request from %s - %e', from, err)
      return encodeError(codeOf(err), err?.message ?? String(err))
    }

    let body: Uint8Array
    try {
      body = this.codec.encodeResponse(res)
    } catch (err: any) {
      this.log.error('could not encode the answer to %s - %e', from, err)
      return encodeError(ErrorCode.INVALID_MESSAGE, 'the answer could not be encoded')
    }

    if (body.byteLength > this.maxMessageBytes) {
      const err = new InvalidMessageError(`answer of ${body.byteLength} bytes exceeds the limit of ${this.maxMessageBytes} bytes`)
      this.log.error('refusing to send to %s - %e', from, err)
      return encodeError(err.code, err.message)
    }

    return encodeOk(body)
  }

  /**
   * Serves one inbound stream: one request frame in, one response frame out.
   * Never throws; every path closes or resets the stream.
   */
  async onStream (stream: Stream, connection: Connection, shutdown: AbortController | undefined): Promise<void> {
    if (shutdown == null) {
      stream.abort(new AbortError('The RPC endpoint is not started'))
      return
    }

    const from = connection.remotePeer.toString()
    const inFlight = this.serving.get(from) ?? 0
    if (inFlight >= this.maxRequestsPerPeer) {
      await this.refuseBusy(stream, from, inFlight, shutdown.signal)
      return
    }
    this.serving.set(from, inFlight + 1)
    try {
      await this.serve(stream, from, shutdown)
    } finally {
      const left = (this.serving.get(from) ?? 1) - 1
      if (left > 0) {
        this.serving.set(from, left)
      } else {
        this.serving.delete(from)
      }
    }
  }

  /** Answers busy without reading the request, so a flood costs no buffered frames */
  private async refuseBusy (stream: Stream, from: Address, inFlight: number, stopped: AbortSignal): Promise<void> {
    this.log('%s has %d requests in flight: answering busy', from, inFlight)
    const closing = AbortSignal.any([stopped, AbortSignal.timeout(this.closeTimeout)])
    this.streams.add(stream)
    try {
      const lp = lpStream(stream, { maxDataLength: this.maxMessageBytes, maxBufferSize: this.maxMessageBytes + MAX_VARINT_BYTES })
      await lp.write(encodeError(ErrorCode.BUSY, `${inFlight} of your requests are being served`), { signal: closing })
      await raceSignal(stream.close({ signal: closing }), closing)
      await waitForRemoteClose(stream, closing)
    } catch (err: any) {
      stream.abort(err)
    } finally {
      this.streams.delete(stream)
    }
  }

  private async serve (stream: Stream, from: Address, shutdown: AbortController): Promise<void> {
    // the requester resetting the stream (it gave up) or the connection dying
    const gone = new AbortController()
    const onClose = (): void => {
      gone.abort(new AbortError('The stream closed'))
    }
    stream.addEventListener('close', onClose, { once: true })
    const deadline = AbortSignal.timeout(this.handlerTimeout)
    const stopOrGone = AbortSignal.any([shutdown.signal, gone.signal])
    const signal = AbortSignal.any([stopOrGone, deadline])
    this.streams.add(stream)
    const lp = lpStream(stream, {
      maxDataLength: this.maxMessageBytes,
      maxBufferSize: this.maxMessageBytes + MAX_VARINT_BYTES
    })

    try {
      const req = await this.readRequest(lp, stream, from, { signal, deadline, stopped: shutdown.signal })
      if (req == null) {
        return
      }

      let frame: Uint8Array
      try {
        frame = await this.answer(from, req, signal, stopOrGone)
      } catch {
        this.log('request from %s abandoned: %s', from, shutdown.signal.aborted ? 'stopping' : 'stream closed')
        stream.abort(new AbortError('The request was abandoned'))
        return
      }

      // the handler's deadline may have passed; writing the answer gets its own
      const closing = AbortSignal.any([shutdown.signal, AbortSignal.timeout(this.closeTimeout)])
      try {
        await lp.write(frame, { signal: closing })
        await raceSignal(stream.close({ signal: closing }), closing)
        await waitForRemoteClose(stream, closing)
      } catch (err: any) {
        this.log('could not answer %s - %e', from, err)
        stream.abort(err)
      }
    } catch (err: any) {
      // not expected: every step above handles its own failures
      this.log.error('serving a request from %s failed - %e', from, err)
      stream.abort(err)
    } finally {
      stream.removeEventListener('close', onClose)
      this.streams.delete(stream)
    }
  }

  /**
   * Reads and decodes the one request frame. On any failure resets the stream
   * and returns `undefined`.
   */
  private async readRequest (lp: LengthPrefixedStream<Stream>, stream: Stream, from: Address, signals: { signal: AbortSignal, deadline: AbortSignal, stopped: AbortSignal }): Promise<Req | undefined> {
    const { signal, deadline, stopped } = signals
    let bytes: Uint8Array
    try {
      bytes = (await lp.read({ signal })).subarray()
    } catch (err: any) {
      if (stopped.aborted) {
        this.log('stopping; dropping a request from %s', from)
        stream.abort(new AbortError('The RPC endpoint was stopped'))
      } else if (FRAMING_ERRORS.has(err?.name) || err?.name === 'UnexpectedEOFError') {
        const invalid = new InvalidMessageError(`invalid request frame from ${from} - ${err.message}`, { cause: err })
        this.log.error('%e', invalid)
        stream.abort(invalid)
      } else if (deadline.aborted) {
        const timeout = new RpcTimeoutError(`no complete request from ${from} within ${this.handlerTimeout}ms`)
        this.log.error('%e', timeout)
        stream.abort(timeout)
      } else {
        // reset by the requester or the connection closed: nobody to tell
        this.log('stream from %s closed before a request arrived - %e', from, err)
        stream.abort(err)
      }
      return undefined
    }

    try {
      return this.codec.decodeRequest(bytes)
    } catch (err: any) {
      const invalid = new InvalidMessageError(`undecodable request from ${from} - ${err.message}`, { cause: err })
      this.log.error('%e', invalid)
      stream.abort(invalid)
      return undefined
    }
  }
}

/**
 * A stream is released once both ends closed. After our own close, wait for
 * the remote's within the given bound.
 */
export async function waitForRemoteClose (stream: Stream, signal: AbortSignal): Promise<void> {
  if (stream.status !== 'open') {
    return
  }

  await raceSignal(new Promise<void>(resolve => {
    stream.addEventListener('close', () => { resolve() }, { once: true })
  }), signal)
}
