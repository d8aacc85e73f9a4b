/**
 * The simulated network behind the `Rpc` seam: every node of a simulation is
 * an address here, every request and answer is an event on the scheduler.
 *
 * Its parts: the latency model (`latency.ts`: coordinates, propagation,
 * transfer time, uplink queues), the connection model (`connections.ts`),
 * message delivery (`delivery.ts`), accounting (`traffic.ts`), one address
 * (`node.ts`), its endpoint per protocol (`endpoint.ts`) and a request in
 * flight (`call.ts`).
 *
 * Every message is encoded by the sender's and decoded by the receiver's
 * codec, so serialisation bugs show up in simulation.
 *
 * Loss drops each message (request or answer) independently; the requester
 * sees an `RpcTimeoutError` at its deadline.
 *
 * `crash(address)` is a black hole: messages to it vanish (requests time out),
 * answers it was about to send are never sent, and its own pending requests
 * never settle (their deadlines fire into nothing), so the dead node's code
 * cannot come back to life through a late rejection. The caller stops the
 * node's code.
 *
 * `leave(address)` is a clean departure: new requests to it fail with
 * `PeerUnreachableError` after `unreachableDelayMs`, requests in flight to it
 * fail when they arrive (the reset travels back), and, as with a crash, its
 * own pending requests never settle and answers it had not sent yet are not
 * sent (those requesters time out).
 *
 * Connections (`connectMs` > 0): a browser pays a set-up before its first
 * message to a peer and keeps only so many connections open (`connections.ts`).
 *
 * Accounting is a few counters per (address, traffic class), in typed arrays:
 * no per-message objects are kept.
 */
import { Connections } from './connections.ts'
import { Delivery } from './delivery.ts'
import { SimEndpoint } from './endpoint.ts'
import { BANDWIDTH_BYTES_PER_SEC, LATENCY_SPAN_MS, LatencyModel, MIN_LATENCY_MS } from './latency.ts'
import { ALIVE, CRASHED, LEFT, SimNode } from './node.ts'
import { TrafficLedger } from './traffic.ts'
import type { SimProtocol, SimTrace } from './protocol.ts'
import type { ClassTotals, TrafficStats } from './traffic.ts'
import type { Address, Rpc } from '../../src/overlay/seams.ts'
import type { SeededRandom } from '../random.ts'
import type { Scheduler } from '../scheduler.ts'

/** Largest encoded message either side accepts */
export const MAX_MESSAGE_BYTES = 4 * 1024 * 1024
const INITIAL_NODE_CAPACITY = 1024

export interface SimNetworkInit {
  /**
   * Probability in [0, 1] that any one message (request or answer) is silently dropped
   *
   * @default 0
   */
  loss?: number
  /**
   * One-way delay between two nodes at the same place, in milliseconds
   *
   * @default 10
   */
  minLatencyMs?: number
  /**
   * Extra one-way delay between opposite corners of the unit square, in milliseconds
   *
   * @default 100
   */
  latencySpanMs?: number
  /**
   * Link speed: a message of B bytes (encoded plus virtual) takes B / bandwidth
   * seconds on top of the propagation delay
   *
   * @default 1_250_000 (10 Mbit/s)
   */
  bandwidthBytesPerSec?: number
  /**
   * When true, a node's messages queue on its uplink: a message starts
   * transmitting only when the node's previous message has finished, so a node
   * serving many large answers at once slows down (hot spots become visible in
   * latency). When false, every message gets the full bandwidth.
   *
   * @default false
   */
  uplinkQueueing?: boolean
  /**
   * How long a request to an unknown or departed address, or to one without a
   * handler for the protocol, takes to fail with `PeerUnreachableError`, in milliseconds
   *
   * @default 2 × minLatencyMs
   */
  unreachableDelayMs?: number
  /**
   * Largest encoded message, in bytes. An oversized request is refused at once
   * with `InvalidMessageError` (it never reaches the remote); an oversized
   * answer makes the request reject with `InvalidMessageError` on arrival.
   *
   * @default 4 MiB
   */
  maxMessageBytes?: number
  /**
   * Set-up time of a connection on top of two round trips, in milliseconds;
   * 0 = connections are free and never counted (see the file's theory of operation)
   *
   * @default 0
   */
  connectMs?: number
  /**
   * Connections an address keeps open, least recently used closed first
   * (only with `connectMs` > 0)
   *
   * @default Infinity
   */
  maxConnections?: number
  /**
   * Chance that a new connection's set-up stalls for `CONNECT_STALL_MS`
   * (only with `connectMs` > 0)
   *
   * @default 0
   */
  connectStall?: number
  /**
   * How long after a node departs each peer that held a connection to it is
   * told the connection closed (`onConnectionLost`), in milliseconds: a
   * browser learns it from its ICE consent checks, ~15 s after a tab closed
   * (measured in Chromium). 0 = never told (only with `connectMs` > 0)
   *
   * @default 0
   */
  connectionLossMs?: number
  /**
   * Called for every message as it is delivered, lost or dropped, at the
   * virtual time that happens (e.g. to hash a run's trace). Costs a call per
   * message; leave it unset in large runs.
   */
  trace?: SimTrace
}

/**
 * The simulated network: addresses, their endpoints per protocol, node
 * lifecycle, and the parts that model latency, connections, delivery and
 * traffic
 */
export class SimNetwork {
  readonly maxMessageBytes: number
  /** @internal */
  readonly delivery: Delivery
  private readonly scheduler: Scheduler
  private readonly random: SeededRandom
  private readonly latency: LatencyModel
  private readonly connections: Connections
  private readonly ledger: TrafficLedger
  private readonly nodes = new Map<Address, SimNode>()
  /** The same nodes by index, for the connection model's peers */
  private readonly byIndex: SimNode[] = []
  private readonly connectionLossMs: number
  private nodeCount = 0
  private readonly protocolIndexes = new Map<string, number>()
  private capacity = INITIAL_NODE_CAPACITY

  constructor (scheduler: Scheduler, random: SeededRandom, init: SimNetworkInit = {}) {
    this.scheduler = scheduler
    this.random = random
    const lossRandom = random.fork('loss')
    const loss = init.loss ?? 0
    const minLatencyMs = init.minLatencyMs ?? MIN_LATENCY_MS
    this.latency = new LatencyModel({
      minLatencyMs,
      latencySpanMs: init.latencySpanMs ?? LATENCY_SPAN_MS,
      bandwidthBytesPerSec: init.bandwidthBytesPerSec ?? BANDWIDTH_BYTES_PER_SEC,
      uplinkQueueing: init.uplinkQueueing ?? false,
      capacity: INITIAL_NODE_CAPACITY
    })
    this.maxMessageBytes = init.maxMessageBytes ?? MAX_MESSAGE_BYTES
    const { connectMs, maxConnections, connectionLossMs, connectStall } = connectionModel(init)
    this.connectionLossMs = connectionLossMs
    if (!(loss >= 0 && loss <= 1)) {
      throw new RangeError(`loss must be a probability, got ${loss}`)
    }
    this.connections = new Connections(connectMs, maxConnections, this.latency, connectStall > 0 ? { chance: connectStall, random: random.fork('connect-stall') } : undefined)
    this.ledger = new TrafficLedger(INITIAL_NODE_CAPACITY)
    this.delivery = new Delivery({
      scheduler,
      nodes: this.nodes,
      latency: this.latency,
      connections: this.connections,
      traffic: this.ledger,
      lossRandom,
      loss,
      unreachableDelayMs: init.unreachableDelayMs ?? 2 * minLatencyMs,
      maxMessageBytes: this.maxMessageBytes,
      trace: init.trace
    })
  }

  rpc<Req, Res> (address: Address, protocol: SimProtocol<Req, Res>): Rpc<Req, Res> {
    const node = this.nodeOf(address)
    if (node.state !== ALIVE) {
      throw new Error(`${address} has ${node.state === CRASHED ? 'crashed' : 'left'}; a returning node needs a new address`)
    }
    let index = this.protocolIndexes.get(protocol.name)
    if (index === undefined) {
      index = this.protocolIndexes.size
      this.protocolIndexes.set(protocol.name, index)
    }
    const existing = node.endpoints[index]
    if (existing !== undefined) {
      if (existing.protocol !== protocol) {
        throw new Error(`${address} already has an endpoint for a different protocol named ${protocol.name}`)
      }
      return existing
    }
    const endpoint = new SimEndpoint(this, node, protocol, index)
    // a right-sized copy: a growing array would reserve room for 17 protocols on every node
    const endpoints = node.endpoints
    node.endpoints = Array.from({ length: Math.max(endpoints.length, index + 1) }, (_, i) => i === index ? endpoint : endpoints[i])
    return endpoint
  }

  /** The node vanishes without a word: a black hole from now on */
  crash (address: Address): void {
    const node = this.nodeOf(address)
    node.stop(CRASHED)
    this.connectionsLost(node, this.connections.close(node))
  }

  /** The node departs cleanly: requests to it fail fast from now on */
  leave (address: Address): void {
    const node = this.nodeOf(address)
    node.stop(LEFT)
    this.connectionsLost(node, this.connections.close(node))
  }

  /**
   * `listener` hears of each connection of `address` that closes because
   * its peer departed, `connectionLossMs` after the departure (the libp2p
   * facade's `peer:disconnect`)
   */
  onConnectionLost (address: Address, listener: (peer: Address) => void): void {
    this.nodeOf(address).onConnectionLost = listener
  }

  /** Tells the peers that held a connection to the departed `node`, once they would notice */
  private connectionsLost (node: SimNode, peers: number[]): void {
    if (this.connectionLossMs === 0) {
      return
    }
    for (const index of peers) {
      const peer = this.byIndex[index]
      if (peer?.onConnectionLost === undefined) {
        continue
      }
      this.scheduler.after(this.connectionLossMs, () => {
        if (peer.state === ALIVE) {
          peer.onConnectionLost?.(node.address)
        }
      })
    }
  }

  /**
   * Whether `from` holds a connection to `to` that is up now. Always false
   * when connections are free: there is nothing to hold (as before the model).
   *
   * @internal
   */
  isConnected (from: SimNode, to: Address): boolean {
    if (this.connections.connectMs === 0) {
      return false
    }
    const node = this.nodes.get(to)
    if (node === undefined || node.state !== ALIVE) {
      return false
    }
    return this.connections.isUp(from, node, this.scheduler.now)
  }

  /**
   * Whether `from` is setting up a connection to `to` now. Always false when
   * connections are free.
   *
   * @internal
   */
  isConnecting (from: SimNode, to: Address): boolean {
    if (this.connections.connectMs === 0) {
      return false
    }
    const node = this.nodes.get(to)
    if (node === undefined || node.state !== ALIVE) {
      return false
    }
    return this.connections.isOpening(from, node, this.scheduler.now)
  }

  /**
   * Starts a connection from `from` to `to` unless one is open or opening
   * (only when connections cost something)
   *
   * @internal
   */
  connect (from: SimNode, to: Address): void {
    if (this.connections.connectMs === 0 || from.state !== ALIVE) {
      return
    }
    const node = this.nodes.get(to)
    if (node === undefined || node.state !== ALIVE) {
      return
    }
    this.connections.readyAt(from, node, this.scheduler.now)
  }

  /** Connections set up so far (0 unless `connectMs` > 0) */
  get connectionsSetUp (): number {
    return this.connections.opened
  }

  /** Known to the network and neither crashed nor departed */
  isAlive (address: Address): boolean {
    return this.nodes.get(address)?.state === ALIVE
  }

  /** Every address the network has seen, alive or not, in order of first appearance */
  addresses (): IterableIterator<Address> {
    return this.nodes.keys()
  }

  /** One-way propagation delay between two addresses in milliseconds, without transfer time */
  latencyMs (a: Address, b: Address): number {
    return this.latency.propagation(this.nodeOf(a), this.nodeOf(b))
  }

  /** Messages that reached a live receiver */
  get messagesDelivered (): number {
    return this.ledger.delivered
  }

  /** Messages sent but never delivered: random loss, or a receiver that had crashed or gone */
  get messagesLost (): number {
    return this.ledger.lost
  }

  /** Messages sent: requests plus answers */
  get messagesSent (): number {
    return this.ledger.sent
  }

  /** Traffic class names seen so far (protocol names and `classify` results) */
  classes (): string[] {
    return this.ledger.classes()
  }

  /** Traffic of one address in class `cls`, or in all classes; zeros for unknown addresses or classes */
  traffic (address: Address, cls?: string): TrafficStats {
    const node = this.nodes.get(address)
    if (node === undefined) {
      return { requestBytesSent: 0, responseBytesSent: 0, requestBytesReceived: 0, responseBytesReceived: 0, messagesSent: 0, messagesReceived: 0 }
    }
    return this.ledger.stats(node.index, cls)
  }

  /** Bytes `address` sent (requests and answers) in class `cls` or in all classes */
  bytesSentBy (address: Address, cls?: string): number {
    const t = this.traffic(address, cls)
    return t.requestBytesSent + t.responseBytesSent
  }

  /** Bytes delivered to `address` (requests and answers) in class `cls` or in all classes */
  bytesReceivedBy (address: Address, cls?: string): number {
    const t = this.traffic(address, cls)
    return t.requestBytesReceived + t.responseBytesReceived
  }

  /** Bytes `address` uploaded answering others' requests, in class `cls` or in all classes */
  uploadedBy (address: Address, cls?: string): number {
    return this.traffic(address, cls).responseBytesSent
  }

  /** Network-wide traffic per class (copies) */
  totals (): Record<string, ClassTotals> {
    return this.ledger.totals()
  }

  /**
   * The counter row of a traffic class, registering it on first use
   *
   * @internal
   */
  classIndex (cls: string): number {
    return this.ledger.classIndex(cls)
  }

  private nodeOf (address: Address): SimNode {
    let node = this.nodes.get(address)
    if (node === undefined) {
      const index = this.nodeCount++
      if (index >= this.capacity) {
        this.capacity *= 2
        this.latency.grow(this.capacity)
        this.ledger.grow(this.capacity)
      }
      this.latency.place(index, this.random.fork(`coords:${address}`))
      node = new SimNode(address, index)
      this.nodes.set(address, node)
      this.byIndex[index] = node
    }
    return node
  }
}

/** The connection model's settings with their defaults, or a `RangeError` naming the one that is wrong */
function connectionModel (init: SimNetworkInit): { connectMs: number, maxConnections: number, connectionLossMs: number, connectStall: number } {
  const connectMs = init.connectMs ?? 0
  const maxConnections = init.maxConnections ?? Infinity
  if (!(connectMs >= 0) || !(maxConnections >= 1)) {
    throw new RangeError(`connectMs must be ≥ 0 and maxConnections ≥ 1, got ${connectMs} and ${maxConnections}`)
  }
  const connectionLossMs = init.connectionLossMs ?? 0
  if (!(connectionLossMs >= 0) || (connectionLossMs > 0 && connectMs === 0)) {
    throw new RangeError(`connectionLossMs must be ≥ 0, and needs connectMs > 0 (free connections are never held), got ${connectionLossMs} with connectMs ${connectMs}`)
  }
  const connectStall = init.connectStall ?? 0
  if (!(connectStall >= 0 && connectStall <= 1) || (connectStall > 0 && connectMs === 0)) {
    throw new RangeError(`connectStall must be a probability, and needs connectMs > 0, got ${connectStall} with connectMs ${connectMs}`)
  }
  return { connectMs, maxConnections, connectionLossMs, connectStall }
}
