/**
 * The shapes of a `StreamRpc` (stream-rpc.ts): what it needs from libp2p, its
 * init options (each with its default, the constants in stream-rpc.ts), and
 * the handler it serves with.
 */
import type { Address, RpcHandlerOptions } from '../overlay/seams.ts'
import type { AbortOptions, ComponentLogger, Connection, Libp2p, PeerId, StreamHandler, StreamHandlerOptions } from '@libp2p/interface'
import type { Multiaddr } from '@multiformats/multiaddr'

/**
 * What the adapter needs from libp2p. The node's registrar and connection
 * manager (a service's components) fit, and so does a whole node through
 * `libp2pComponents(node)`.
 */
export interface StreamRpcComponents {
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
}

export interface StreamRpcInit<Req, Res> {
  /** The protocol id, versioned and namespaced by the caller, e.g. `/ringcdn/ring/1.0.0` */
  protocol: string
  encodeRequest(req: Req): Uint8Array
  /** May throw on bytes that do not decode; the stream is then reset */
  decodeRequest(bytes: Uint8Array): Req
  encodeResponse(res: Res): Uint8Array
  /** May throw on bytes that do not decode; the request then rejects with `InvalidMessageError` */
  decodeResponse(bytes: Uint8Array): Res

  /**
   * Largest encoded request or response in bytes. A larger request is refused
   * before it is sent and a larger inbound frame resets the stream, in both
   * cases as `InvalidMessageError`.
   *
   * @default 4_194_304
   */
  maxMessageBytes?: number

  /**
   * Concurrent inbound streams of this protocol per connection
   *
   * @default 256
   */
  maxInboundStreams?: number

  /**
   * Concurrent outbound streams of this protocol per connection
   *
   * @default 256
   */
  maxOutboundStreams?: number

  /**
   * Requests from one peer served at once; more are answered `PeerBusyError`
   * without being read
   *
   * @default 64
   */
  maxRequestsPerPeer?: number

  /**
   * Milliseconds the serving side allows for reading a request and running the
   * handler. A request that does not arrive in time resets the stream; a
   * handler that does not answer in time is answered with an error
   * (`RemoteError` at the requester) and its signal is aborted.
   *
   * @default 30_000
   */
  handlerTimeout?: number

  /**
   * Milliseconds allowed for writing an answer and waiting for the remote to
   * close its end of the stream; after that the stream is reset
   *
   * @default 5_000
   */
  closeTimeout?: number

  /**
   * Milliseconds a dial may take. A request whose own deadline ends first
   * fails, but its dial goes on, shared by later requests to the same peer.
   *
   * @default 10_000
   */
  connectTimeout?: number

  /**
   * Serve and send requests over limited (relayed) connections. Content must
   * never travel over relays, so this stays off for anything but signalling.
   *
   * @default false
   */
  runOnLimitedConnection?: boolean

  /**
   * Where to dial an address when no connection to it is open, e.g. the
   * multiaddrs the ring learned for a peer. Without hints, or when it returns
   * none, libp2p dials the peer id through its peer store.
   */
  addressHints?(address: Address): Multiaddr[]
}

export type RpcHandler<Req, Res> = (from: Address, req: Req, options: RpcHandlerOptions) => Promise<Res>

/**
 * Lets a libp2p node stand in for a service's components
 */
export function libp2pComponents (node: Pick<Libp2p, 'peerId' | 'logger' | 'handle' | 'unhandle' | 'getConnections' | 'dial'>): StreamRpcComponents {
  return {
    peerId: node.peerId,
    logger: node.logger,
    registrar: {
      handle: async (protocol, handler, options) => { await node.handle(protocol, handler, options) },
      unhandle: async (protocol, options) => { await node.unhandle(protocol, options) }
    },
    connectionManager: {
      getConnections: (peerId) => node.getConnections(peerId),
      openConnection: async (peer, options) => node.dial(peer, options)
    }
  }
}
