/**
 * The relay's side of the bootstrap protocol: reads one request per stream,
 * lets the `MemberRegistry` decide, answers, closes. A request that breaks
 * the rules (undecodable, oversized, wrong values) is answered with
 * `INVALID_REQUEST` and a message when the stream still allows it, and never
 * affects other streams. Members are dropped when their last connection to
 * the relay closes. The registry gets the asker's IP address (from its
 * connection, for the per-IP caps) and only the addresses that are its own
 * (`member-addrs.ts`).
 */
import { lpStream } from '@libp2p/utils'
import { multiaddr } from '@multiformats/multiaddr'
import { nodeIdFromBytes } from '../src/keys.ts'
import {
  BOOTSTRAP_PROTOCOL,
  MAX_ADDR_BYTES,
  MAX_BOOTSTRAP_REQUEST_BYTES,
  decodeBootstrapRequest
} from '../src/libp2p/bootstrap-client.ts'
import { BootstrapResponse } from '../src/libp2p/bootstrap-messages.ts'
import { ipOf, ownAddresses } from './member-addrs.ts'
import { UNKNOWN_IP } from './members.ts'
import { toResponse } from './peer-relays.ts'
import type { AskResult, MemberEntry, MemberRegistry } from './members.ts'
import type { PeerRelays } from './peer-relays.ts'
import type { BootstrapRequest } from '../src/libp2p/bootstrap-messages.ts'
import type { ComponentLogger, Connection, Libp2p, Logger, PeerId, Stream } from '@libp2p/interface'
import type { Multiaddr } from '@multiformats/multiaddr'

/** Time for a request to arrive and for the answer to be written, ms */
export const REQUEST_TIMEOUT_MS = 5_000
/** Concurrent bootstrap streams per connection (a page needs one at a time) */
export const MAX_STREAMS_PER_CONNECTION = 4

/** A bootstrap request broke the protocol's rules */
export class InvalidBootstrapRequestError extends Error {
  static name = 'InvalidBootstrapRequestError'
  name = 'InvalidBootstrapRequestError'
}

export interface BootstrapServerInit {
  registry: MemberRegistry
  /** The site's other relays: an empty namespace's founder is decided by its arbiter among them */
  peerRelays?: PeerRelays
  /** @default REQUEST_TIMEOUT_MS (5 s) */
  requestTimeoutMs?: number
}

export interface BootstrapServerStats {
  requests: number
  invalidRequests: number
  registrations: number
  founded: number
  /** Registered addresses dropped as not the registering page's own */
  droppedAddrs: number
  /** Requests refused (`UNAVAILABLE`) */
  refused: number
  /** Member registrations answered but not listed (a cap) */
  notListed: number
  /** Askers told to wait for a page founding their namespace to register */
  founderWaits: number
}

type Node = Pick<Libp2p, 'handle' | 'unhandle' | 'addEventListener' | 'removeEventListener' | 'getMultiaddrs' | 'peerId'> & { logger: ComponentLogger }

export class BootstrapServer {
  private readonly node: Node
  private readonly registry: MemberRegistry
  private readonly peerRelays?: PeerRelays
  private readonly log: Logger
  private readonly requestTimeoutMs: number
  private readonly counters: BootstrapServerStats = { requests: 0, invalidRequests: 0, registrations: 0, founded: 0, droppedAddrs: 0, refused: 0, notListed: 0, founderWaits: 0 }
  private shutdown?: AbortController

  constructor (node: Node, init: BootstrapServerInit) {
    this.node = node
    this.registry = init.registry
    this.peerRelays = init.peerRelays
    this.log = node.logger.forComponent('ringcdn:relay:bootstrap')
    this.requestTimeoutMs = init.requestTimeoutMs ?? REQUEST_TIMEOUT_MS
    this.onStream = this.onStream.bind(this)
    this.onDisconnect = this.onDisconnect.bind(this)
  }

  async start (): Promise<void> {
    this.shutdown = new AbortController()
    this.node.addEventListener('peer:disconnect', this.onDisconnect)
    await this.node.handle(BOOTSTRAP_PROTOCOL, this.onStream, {
      maxInboundStreams: MAX_STREAMS_PER_CONNECTION,
      // a page may reach the relay only through another relay: signalling is allowed there
      runOnLimitedConnection: true
    })
  }

  async stop (): Promise<void> {
    this.shutdown?.abort()
    this.shutdown = undefined
    this.node.removeEventListener('peer:disconnect', this.onDisconnect)
    await this.node.unhandle(BOOTSTRAP_PROTOCOL).catch(() => {})
    this.registry.clear()
  }

  stats (): BootstrapServerStats {
    return { ...this.counters }
  }

  private onDisconnect (evt: CustomEvent<PeerId>): void {
    const removed = this.registry.remove(evt.detail.toString())
    if (removed > 0) {
      this.log('%p disconnected: dropped from %d namespace(s)', evt.detail, removed)
    }
  }

  private async onStream (stream: Stream, connection: Connection): Promise<void> {
    const shutdown = this.shutdown
    if (shutdown == null) {
      stream.abort(new Error('The relay is stopping'))
      return
    }
    this.counters.requests++
    const signal = AbortSignal.any([shutdown.signal, AbortSignal.timeout(this.requestTimeoutMs)])
    const lp = lpStream(stream, { maxDataLength: MAX_BOOTSTRAP_REQUEST_BYTES })
    const from = connection.remotePeer
    let response: BootstrapResponse
    try {
      let bytes: Uint8Array
      try {
        bytes = (await lp.read({ signal })).subarray()
      } catch (err: any) {
        if (err.name === 'InvalidDataLengthError' || err.name === 'InvalidDataLengthLengthError') {
          throw new InvalidBootstrapRequestError(`request frame too large (at most ${MAX_BOOTSTRAP_REQUEST_BYTES} bytes)`, { cause: err })
        }
        throw err
      }
      response = await this.answer(connection, bytes, signal)
    } catch (err: any) {
      if (err.name !== InvalidBootstrapRequestError.name) {
        // timed out, reset by the page, or the relay is stopping: nobody to answer
        this.log('bootstrap stream from %p ended without a request - %e', from, err)
        stream.abort(err)
        return
      }
      this.counters.invalidRequests++
      this.log('invalid bootstrap request from %p - %e', from, err)
      response = { status: BootstrapResponse.Status.INVALID_REQUEST, members: [], registered: false, message: err.message }
    }
    try {
      await lp.write(BootstrapResponse.encode(response), { signal })
      await stream.close({ signal })
    } catch (err: any) {
      this.log('could not answer %p - %e', from, err)
      stream.abort(err)
    }
  }

  /** Decodes and checks one request and asks the registry; throws InvalidBootstrapRequestError */
  private async answer (connection: Connection, bytes: Uint8Array, signal: AbortSignal): Promise<BootstrapResponse> {
    const from = connection.remotePeer
    let req: BootstrapRequest
    try {
      req = decodeBootstrapRequest(bytes)
    } catch (err: any) {
      throw new InvalidBootstrapRequestError(err.message, { cause: err })
    }
    const self = from.toString()
    const addrs: Multiaddr[] = []
    for (const bytes of req.addrs) {
      if (bytes.byteLength > MAX_ADDR_BYTES) {
        throw new InvalidBootstrapRequestError(`an address of ${bytes.byteLength} bytes exceeds ${MAX_ADDR_BYTES}`)
      }
      let ma: Multiaddr
      try {
        ma = multiaddr(bytes)
      } catch (err: any) {
        throw new InvalidBootstrapRequestError(`not a multiaddr - ${err.message}`, { cause: err })
      }
      const peer = ma.getComponents().findLast(c => c.name === 'p2p')?.value
      // the page can only vouch for its own addresses: others' would send joiners to the wrong peer
      if (peer != null && peer !== self) {
        throw new InvalidBootstrapRequestError(`address ${ma.toString()} names another peer`)
      }
      addrs.push(ma)
    }
    const observedIp = ipOf(connection.remoteAddr)
    const own = ownAddresses(addrs, { peer: self, relayPeer: this.node.peerId.toString(), relayAddrs: this.node.getMultiaddrs(), observedIp })
    if (own.dropped > 0) {
      this.counters.droppedAddrs += own.dropped
      this.log('dropped %d address(es) of %p that are not its own', own.dropped, from)
    }
    const asker: MemberEntry = { peer: self, id: nodeIdFromBytes(from.toMultihash().bytes), addrs: own.kept, ip: observedIp ?? UNKNOWN_IP }
    const result = await this.decide(req, asker, signal)
    switch (result.type) {
      case 'found':
        this.counters.founded++
        this.log('%p founds namespace %s', from, req.namespace)
        break
      case 'unavailable':
        this.counters.refused++
        this.log('refused %p for namespace %s: %s', from, req.namespace, result.code)
        break
      case 'members':
        if (result.registered) {
          this.counters.registrations++
        }
        if (result.notListed != null) {
          this.counters.notListed++
          this.log('%p answered but not listed in %s: %s', from, req.namespace, result.notListed)
        }
        break
      case 'wait':
        this.counters.founderWaits++
        this.log('%p waits for the founder of %s', from, req.namespace)
        break
      case 'arbitrate':
        // decide() never returns it
        throw new Error('undecided founding')
      default:
        assertNever(result)
    }
    // an unavailable answer's code leads its message, so a client (and a test) can tell refusals apart
    return toResponse(result)
  }

  /**
   * The registry's answer. With peer relays, an empty namespace's founder is
   * chosen by its arbiter; when the arbiter does not answer in time this
   * relay decides itself (the site keeps working; see peer-relays.ts)
   */
  private async decide (req: BootstrapRequest, asker: MemberEntry, signal: AbortSignal): Promise<AskResult> {
    const mayFound = this.peerRelays == null || this.peerRelays.isArbiter(req.namespace)
    const result = this.registry.ask(req.namespace, asker, { member: req.member, limit: req.limit, mayFound })
    if (result.type !== 'arbitrate' || this.peerRelays == null) {
      return result
    }
    const decided = await this.peerRelays.arbitrate(req.namespace, asker, signal)
    return decided ?? this.registry.ask(req.namespace, asker, { member: req.member, limit: req.limit, mayFound: true })
  }
}

function assertNever (x: never): never {
  throw new Error(`unexpected ${JSON.stringify(x)}`)
}
