/**
 * How a `StreamRpc` reaches a peer: an open connection is reused; otherwise
 * one dial per peer at a time, bounded by its own deadline rather than by the
 * request that started it, and the first stream on a fresh connection opened
 * alone before others follow.
 */
import { raceSignal } from 'race-signal'
import type { StreamRpcComponents } from './stream-rpc-init.ts'
import type { Address } from '../overlay/seams.ts'
import type { Connection, Logger, PeerId, Stream } from '@libp2p/interface'
import type { Multiaddr } from '@multiformats/multiaddr'

export interface RpcConnectorInit {
  protocol: string
  maxOutboundStreams: number
  runOnLimitedConnection: boolean
  /** Milliseconds a dial may take (see `CONNECT_TIMEOUT`) */
  connectTimeout: number
  addressHints?(address: Address): Multiaddr[]
}

export class RpcConnector {
  private readonly components: StreamRpcComponents
  private readonly log: Logger
  private readonly protocol: string
  private readonly maxOutboundStreams: number
  private readonly runOnLimitedConnection: boolean
  private readonly connectTimeout: number
  private readonly addressHints?: (address: Address) => Multiaddr[]
  /** Dials in progress, by peer: shared by every request to that peer, bounded by `connectTimeout` */
  private readonly dialing = new Map<Address, Promise<Connection>>()
  /** Connections a stream of this protocol was negotiated on: the remote accepts streams */
  private readonly proven = new WeakSet<Connection>()
  /** Connections whose first stream is being negotiated, settled when that ends */
  private readonly warming = new WeakMap<Connection, Promise<void>>()

  constructor (components: StreamRpcComponents, log: Logger, init: RpcConnectorInit) {
    this.components = components
    this.log = log
    this.protocol = init.protocol
    this.maxOutboundStreams = init.maxOutboundStreams
    this.runOnLimitedConnection = init.runOnLimitedConnection
    this.connectTimeout = init.connectTimeout
    this.addressHints = init.addressHints
  }

  /** An open connection this adapter's requests may use (limited ones only when allowed) */
  isConnected (peerId: PeerId): boolean {
    return this.hasUsableConnection(peerId)
  }

  /** Whether a dial to `address` is in progress */
  isDialing (address: Address): boolean {
    return this.dialing.has(address)
  }

  private hasUsableConnection (peerId: PeerId): boolean {
    return this.components.connectionManager.getConnections(peerId)
      .some(conn => conn.status === 'open' && (conn.limits == null || this.runOnLimitedConnection))
  }

  /**
   * An open connection is reused; otherwise dial the address hints or, without
   * any, the peer id through the peer store. The dial is shared by every
   * request to the peer and bounded by `connectTimeout`, not by the request's
   * deadline (see `CONNECT_TIMEOUT`); the caller races it with its own signal.
   */
  async connect (peerId: PeerId, address: Address, shutdown: AbortSignal): Promise<Connection> {
    if (this.hasUsableConnection(peerId)) {
      return this.components.connectionManager.openConnection(peerId, { signal: shutdown })
    }
    let dial = this.dialing.get(address)
    if (dial == null) {
      const signal = AbortSignal.any([shutdown, AbortSignal.timeout(this.connectTimeout)])
      const hints = this.hintsFor(peerId, address)
      dial = this.components.connectionManager.openConnection(hints.length > 0 ? hints : peerId, { signal })
      this.dialing.set(address, dial)
      dial.then(() => {
        this.log('connected to %s', address)
      }, (err: any) => {
        // every request that waited on this dial has seen the error already, or gave up before it
        this.log('could not connect to %s - %e', address, err)
      }).finally(() => {
        if (this.dialing.get(address) === dial) {
          this.dialing.delete(address)
        }
      })
    }
    return dial
  }

  /**
   * Opens a stream, one at a time on a connection until the first succeeds.
   *
   * Right after a dial resolves, the remote may not have finished its side of
   * the upgrade; a muxer that receives more than a few streams before anyone
   * listens for them (yamux: `maxEarlyStreams`, 10) aborts the whole
   * connection. A burst of requests on a fresh connection did exactly that
   * over TCP. Once one stream has been negotiated the remote is listening.
   */
  async openStream (connection: Connection, signal: AbortSignal): Promise<Stream> {
    while (!this.proven.has(connection)) {
      const first = this.warming.get(connection)
      if (first == null) {
        break
      }
      // never rejects; the loop re-checks because the first attempt may fail
      await raceSignal(first, signal)
    }

    const opening = connection.newStream(this.protocol, {
      signal,
      maxOutboundStreams: this.maxOutboundStreams,
      runOnLimitedConnection: this.runOnLimitedConnection
    })

    if (!this.proven.has(connection)) {
      this.warming.set(connection, opening.then(
        () => { this.proven.add(connection) },
        () => {}
      ).finally(() => {
        this.warming.delete(connection)
      }))
    }

    try {
      return await raceSignal(opening, signal)
    } catch (err: any) {
      // a stream that opens after we gave up on it would stay open unused
      opening.then(stream => { stream.abort(err) }, () => {})
      throw err
    }
  }

  private hintsFor (peerId: PeerId, address: Address): Multiaddr[] {
    const hints: Multiaddr[] = []

    for (const ma of this.addressHints?.(address) ?? []) {
      const p2p = ma.getComponents().findLast(c => c.name === 'p2p')?.value
      if (p2p == null) {
        // pinning the peer id makes the dial fail on an impostor
        hints.push(ma.encapsulate(`/p2p/${address}`))
      } else if (p2p === address) {
        hints.push(ma)
      } else {
        this.log('ignoring address hint %a for %p: other peer id', ma, peerId)
      }
    }

    return hints
  }
}
