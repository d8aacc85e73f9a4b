/**
 * The `Rpc` seam over libp2p streams.
 *
 * Theory of operation: one protocol id, one new stream per request on the
 * existing connection to the remote (libp2p reuses it; a dial happens only when
 * there is none). The requester writes one length-prefixed request frame and
 * closes its writable end; the server reads exactly one frame, runs the
 * handler, writes one length-prefixed response frame (see
 * `response-envelope.ts`) and closes its writable end. A stream is released
 * only when both ends have closed or one has reset it, so every path below
 * ends in `close()` followed by waiting for the remote's close, or in
 * `abort()` — a leaked stream counts against the per-connection stream limit
 * until the connection dies.
 *
 * Every wait is bounded: requests by their deadline (`RpcOptions.timeout`),
 * the serving side by `handlerTimeout`, closing by `closeTimeout`, because
 * libp2p enforces no stream inactivity timeout by itself.
 *
 * Addresses are peer id strings.
 */
import { peerIdFromString } from '@libp2p/peer-id'
import { lpStream } from '@libp2p/utils'
import { raceSignal } from 'race-signal'
import {
  AbortError,
  ErrorCode,
  InvalidMessageError,
  PeerBusyError,
  PeerUnreachableError,
  RemoteError,
  RpcTimeoutError
} from '../overlay/errors.ts'
import { MAX_ERROR_FRAME_BYTES, OK_HEADER_BYTES, decodeEnvelope } from './response-envelope.ts'
import { RpcConnector } from './rpc-connector.ts'
import { FRAMING_ERRORS, MAX_VARINT_BYTES, RpcServer, waitForRemoteClose } from './rpc-server.ts'
import type { RpcHandler, StreamRpcComponents, StreamRpcInit } from './stream-rpc-init.ts'
import type { Address, Rpc, RpcOptions } from '../overlay/seams.ts'
import type { Connection, Logger, PeerId, Startable, Stream } from '@libp2p/interface'

export { libp2pComponents } from './stream-rpc-init.ts'
export type { RpcHandler, StreamRpcComponents, StreamRpcInit } from './stream-rpc-init.ts'

/** Largest encoded request or response, in bytes */
export const MAX_MESSAGE_BYTES = 4 * 1024 * 1024

/**
 * Concurrent streams of one protocol per connection and direction. libp2p's
 * own defaults (32 in, 64 out) reset the 33rd concurrent request.
 */
export const MAX_INBOUND_STREAMS = 256
export const MAX_OUTBOUND_STREAMS = 256

/**
 * Requests from one peer served at once. Every request costs a buffered
 * frame and a handler run (a routed lookup forwards and waits); without a
 * share per peer one peer with hundreds of requests in flight starves
 * everybody else's. Past it a request is answered busy unread.
 */
export const MAX_REQUESTS_PER_PEER = 64

/** Milliseconds the serving side allows for reading a request and running the handler */
export const HANDLER_TIMEOUT = 30_000

/** Milliseconds allowed for writing an answer and for the remote to close its end afterwards */
export const CLOSE_TIMEOUT = 5_000

/**
 * Milliseconds a dial may take, whatever the deadline of the request that
 * started it. A WebRTC connection between two busy browser pages takes
 * seconds to set up, more than one ring request may wait; a dial cut off by
 * each request's deadline would never finish, and the peer would stay out of
 * reach for good. So the dial goes on in the background, and the next
 * request to the peer takes it up or finds the connection open.
 */
export const CONNECT_TIMEOUT = 10_000

/** Longest delay a timer takes (signed 32-bit ms); Node fires longer ones after 1 ms */
const MAX_TIMER_MS = 2 ** 31 - 1

export class StreamRpc<Req, Res> implements Rpc<Req, Res>, Startable {
  private readonly components: StreamRpcComponents
  private readonly log: Logger
  private readonly self: Address
  private readonly protocol: string
  private readonly codec: Pick<StreamRpcInit<Req, Res>, 'encodeRequest' | 'decodeRequest' | 'encodeResponse' | 'decodeResponse'>
  private readonly maxMessageBytes: number
  private readonly maxResponseFrameBytes: number
  private readonly maxInboundStreams: number
  private readonly maxOutboundStreams: number
  private readonly server: RpcServer<Req, Res>
  private readonly runOnLimitedConnection: boolean
  private readonly connector: RpcConnector
  /** Present while started; aborting it ends every request and handler in flight */
  private shutdown?: AbortController
  private readonly streams: Set<Stream>

  constructor (components: StreamRpcComponents, init: StreamRpcInit<Req, Res>) {
    this.components = components
    this.log = components.logger.forComponent('ringcdn:rpc')
    this.self = components.peerId.toString()
    this.protocol = init.protocol
    this.codec = {
      encodeRequest: init.encodeRequest,
      decodeRequest: init.decodeRequest,
      encodeResponse: init.encodeResponse,
      decodeResponse: init.decodeResponse
    }
    this.maxMessageBytes = init.maxMessageBytes ?? MAX_MESSAGE_BYTES
    // an error frame may be larger than a tiny configured message limit
    this.maxResponseFrameBytes = Math.max(this.maxMessageBytes + OK_HEADER_BYTES, MAX_ERROR_FRAME_BYTES)
    this.maxInboundStreams = init.maxInboundStreams ?? MAX_INBOUND_STREAMS
    this.maxOutboundStreams = init.maxOutboundStreams ?? MAX_OUTBOUND_STREAMS
    this.runOnLimitedConnection = init.runOnLimitedConnection ?? false
    this.connector = new RpcConnector(components, this.log, {
      protocol: this.protocol,
      maxOutboundStreams: this.maxOutboundStreams,
      runOnLimitedConnection: this.runOnLimitedConnection,
      connectTimeout: timerMs(init.connectTimeout ?? CONNECT_TIMEOUT),
      addressHints: init.addressHints
    })
    this.streams = new Set()
    this.server = new RpcServer(this.log, {
      codec: this.codec,
      maxMessageBytes: this.maxMessageBytes,
      maxRequestsPerPeer: init.maxRequestsPerPeer ?? MAX_REQUESTS_PER_PEER,
      handlerTimeout: timerMs(init.handlerTimeout ?? HANDLER_TIMEOUT),
      closeTimeout: timerMs(init.closeTimeout ?? CLOSE_TIMEOUT),
      streams: this.streams
    })
    this.onStream = this.onStream.bind(this)
  }

  readonly [Symbol.toStringTag] = 'ringcdn/stream-rpc'

  isStarted (): boolean {
    return this.shutdown != null
  }

  async start (): Promise<void> {
    if (this.shutdown != null) {
      return
    }

    // set first: a stream may arrive as soon as the protocol is registered
    this.shutdown = new AbortController()
    try {
      await this.components.registrar.handle(this.protocol, this.onStream, {
        // the outbound limit is read from the local handler's options when
        // libp2p opens a stream, so it must be raised here as well
        maxInboundStreams: this.maxInboundStreams,
        maxOutboundStreams: this.maxOutboundStreams,
        runOnLimitedConnection: this.runOnLimitedConnection
      })
    } catch (err) {
      this.shutdown = undefined
      throw err
    }
    this.log('serving %s', this.protocol)
  }

  async stop (): Promise<void> {
    const shutdown = this.shutdown
    if (shutdown == null) {
      return
    }
    this.shutdown = undefined

    shutdown.abort(new AbortError('The RPC endpoint was stopped'))

    // the abort above settles every request and handler through their signals;
    // resetting the streams here as well frees them even where an await is
    // between two checks of the signal
    for (const stream of this.streams) {
      stream.abort(new AbortError('The RPC endpoint was stopped'))
    }
    this.streams.clear()

    try {
      await this.components.registrar.unhandle(this.protocol)
    } catch (err) {
      // the node may already be stopping; nothing is left to release then
      this.log.error('could not unhandle %s - %e', this.protocol, err)
    }
    this.log('stopped serving %s', this.protocol)
  }

  handle (handler: RpcHandler<Req, Res>): void {
    this.server.handler = handler
  }

  async request (to: Address, req: Req, options: RpcOptions): Promise<Res> {
    if (options.signal?.aborted === true) {
      throw new AbortError()
    }

    const shutdown = this.shutdown
    if (shutdown == null) {
      throw new AbortError('The RPC endpoint is not started')
    }

    let body: Uint8Array
    try {
      body = this.codec.encodeRequest(req)
    } catch (err: any) {
      throw new InvalidMessageError(`could not encode the request - ${err.message}`, { cause: err })
    }

    if (body.byteLength > this.maxMessageBytes) {
      throw new InvalidMessageError(`request of ${body.byteLength} bytes exceeds the limit of ${this.maxMessageBytes} bytes`)
    }

    const deadline = AbortSignal.timeout(timerMs(options.timeout))
    const signals = [deadline, shutdown.signal]
    if (options.signal != null) {
      signals.push(options.signal)
    }
    const signal = AbortSignal.any(signals)

    const failure = (err: any): Error => {
      if (options.signal?.aborted === true) {
        return new AbortError()
      }
      if (shutdown.signal.aborted) {
        return new AbortError('The RPC endpoint was stopped')
      }
      // our own named errors already say what went wrong
      if (err instanceof InvalidMessageError || err instanceof RemoteError || err instanceof PeerUnreachableError || err instanceof PeerBusyError) {
        return err
      }
      if (deadline.aborted) {
        return new RpcTimeoutError(`no answer from ${to} within ${options.timeout}ms`, { cause: err })
      }
      if (FRAMING_ERRORS.has(err?.name)) {
        return new InvalidMessageError(`invalid response frame from ${to} - ${err.message}`, { cause: err })
      }
      // dial failures, unsupported protocol, connection closed, stream reset
      // or closed before any answer: for the caller the remote is not there
      return new PeerUnreachableError(`${to} did not answer - ${err?.message}`, { cause: err })
    }

    if (to === this.self) {
      // libp2p cannot dial itself; a node that is its own successor (a ring
      // of one) still gets the same semantics, codec included
      try {
        return await this.loopback(body, signal)
      } catch (err) {
        throw failure(err)
      }
    }

    let stream: Stream | undefined
    try {
      const peerId = this.parseAddress(to)
      // the dial has its own deadline and outlives this request if need be (see `connect`); every
      // later step is asked to honour the request's signal and raced with it as well, so a transport
      // that does not (a WebRTC data channel that never opens, a close that never drains) costs
      // this request its deadline, not a maintenance round that never ends
      const connection = await raceSignal(this.connector.connect(peerId, to, shutdown.signal), signal)
      stream = await this.connector.openStream(connection, signal)
      this.streams.add(stream)

      const lp = lpStream(stream, {
        maxDataLength: this.maxResponseFrameBytes,
        maxBufferSize: this.maxResponseFrameBytes + MAX_VARINT_BYTES
      })
      await lp.write(body, { signal })
      // half-close: the server sees the end of the request
      await raceSignal(stream.close({ signal }), signal)
      const frame = (await lp.read({ signal })).subarray()
      const res = this.openResponse(frame, to)

      // the answer is in; only the remote's close is outstanding and it
      // follows the answer at once, so this bounded wait costs nothing
      await waitForRemoteClose(stream, signal).catch(err => {
        stream?.abort(err)
      })

      return res
    } catch (err: any) {
      stream?.abort(err)
      throw failure(err)
    } finally {
      if (stream != null) {
        this.streams.delete(stream)
      }
    }
  }

  private parseAddress (address: Address): PeerId {
    try {
      return peerIdFromString(address)
    } catch (err: any) {
      throw new PeerUnreachableError(`not a peer id: ${address}`, { cause: err })
    }
  }

  /** An open connection this adapter's requests may use (limited ones only when allowed) */
  isConnected (to: Address): boolean {
    let peerId: PeerId
    try {
      peerId = peerIdFromString(to)
    } catch {
      return false
    }
    return this.connector.isConnected(peerId)
  }

  /** Whether a dial to `to` is in progress (see `Rpc.connecting`) */
  connecting (to: Address): boolean {
    return this.connector.isDialing(to)
  }

  /** Starts a dial to `to` in the background unless a usable connection is open (see `Rpc.connect`) */
  connect (to: Address): void {
    const shutdown = this.shutdown
    if (shutdown == null || to === this.self || this.isConnected(to)) {
      return
    }
    let peerId: PeerId
    try {
      peerId = peerIdFromString(to)
    } catch {
      return
    }
    // the connector logs a failed dial; the next request to the peer reports it
    this.connector.connect(peerId, to, shutdown.signal).catch(() => {})
  }

  private openResponse (frame: Uint8Array, from: Address): Res {
    const envelope = decodeEnvelope(frame)

    if (!envelope.ok) {
      throw envelope.code === ErrorCode.BUSY ? new PeerBusyError(envelope.message) : new RemoteError(envelope.message, envelope.code)
    }

    try {
      return this.codec.decodeResponse(envelope.body)
    } catch (err: any) {
      throw new InvalidMessageError(`undecodable response from ${from} - ${err.message}`, { cause: err })
    }
  }

  private async loopback (body: Uint8Array, signal: AbortSignal): Promise<Res> {
    let req: Req
    try {
      req = this.codec.decodeRequest(body)
    } catch (err: any) {
      throw new InvalidMessageError(`undecodable request - ${err.message}`, { cause: err })
    }

    const frame = await this.server.answer(this.self, req, signal, signal)
    return this.openResponse(frame, this.self)
  }

  /** Serves one inbound stream; never throws */
  private async onStream (stream: Stream, connection: Connection): Promise<void> {
    await this.server.onStream(stream, connection, this.shutdown)
  }
}

/**
 * Builds the `Rpc` seam over libp2p streams for one protocol
 */
export function createStreamRpc <Req, Res> (components: StreamRpcComponents, init: StreamRpcInit<Req, Res>): StreamRpc<Req, Res> {
  return new StreamRpc(components, init)
}

/**
 * `AbortSignal.timeout` throws on fractional or negative delays and fires at
 * once on overlong ones; deadlines computed from shrinking budgets can be any
 * of those
 */
function timerMs (ms: number): number {
  if (Number.isNaN(ms)) {
    return 0
  }
  return Math.min(Math.max(Math.ceil(ms), 0), MAX_TIMER_MS)
}
