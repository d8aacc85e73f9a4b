/**
 * The simulated network behind the `Rpc` seam: every node of a simulation is
 * an address here, every request and answer is an event on the scheduler.
 *
 * Latency: each address gets random coordinates in the unit square (from its
 * own fork of the network's random stream, so it does not depend on join
 * order). One-way delay = round(minLatencyMs + distance × latencySpanMs / √2)
 * plus the transfer time of the message's bytes at `bandwidthBytesPerSec`,
 * rounded to whole milliseconds so that many deliveries share an instant (the
 * scheduler pays once per instant to settle promise chains).
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
 * Connections (`connectMs` > 0): a browser pays a WebRTC set-up through the
 * relay before its first message to a peer, and keeps only so many
 * connections open. The first request between two addresses starts a
 * connection that is ready `connectMs` plus two round trips later (offer and
 * answer through the relay, then ICE and DTLS); requests wait for it, and one
 * whose deadline passes first is never sent, as with libp2p, while the
 * connection still comes up for the next. Each address keeps at most
 * `maxConnections` (least recently used closed first, on both sides), and a
 * closed connection costs a new set-up. A departed address's connections
 * close with it.
 *
 * Accounting is a few counters per (address, traffic class), in typed arrays:
 * no per-message objects are kept.
 */
import { AbortError, ErrorCode, InvalidMessageError, PeerUnreachableError, RemoteError, RpcTimeoutError, codeOf } from '../src/overlay/errors.ts'
import type { SeededRandom } from './random.ts'
import type { Scheduler, SimTimer } from './scheduler.ts'
import type { Address, Rpc, RpcHandlerOptions, RpcOptions } from '../src/overlay/seams.ts'

/** Smallest one-way delay, between two nodes at the same coordinates */
export const MIN_LATENCY_MS = 10
/** Extra one-way delay across the whole diagonal of the unit square */
export const LATENCY_SPAN_MS = 100
/** 10 Mbit/s */
export const BANDWIDTH_BYTES_PER_SEC = 1_250_000
/** Largest encoded message either side accepts */
export const MAX_MESSAGE_BYTES = 4 * 1024 * 1024
/** What an error answer costs on the wire besides its message text (code, framing) */
const ERROR_OVERHEAD_BYTES = 8

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
   * Called for every message as it is delivered, lost or dropped, at the
   * virtual time that happens (e.g. to hash a run's trace). Costs a call per
   * message; leave it unset in large runs.
   */
  trace?: SimTrace
}

/**
 * What happened to one message: delivered as a request or answer, `lost` to
 * random loss (reported when sent), or `dropped` because its receiver had
 * crashed or gone (reported when it arrived, or when sent into a known crash)
 */
export type SimTraceKind = 'request' | 'response' | 'lost' | 'dropped'

export type SimTrace = (kind: SimTraceKind, from: Address, to: Address, protocol: string, bytes: number) => void

/**
 * How one protocol's messages become bytes. Every delivery goes through these,
 * so the simulator exercises the real codecs.
 */
export interface SimProtocol<Req, Res> {
  /** Unique per network; a request reaches the handler registered under the same name */
  name: string
  encodeRequest(req: Req): Uint8Array
  decodeRequest(bytes: Uint8Array): Req
  encodeResponse(res: Res): Uint8Array
  decodeResponse(bytes: Uint8Array): Res
  /** The traffic class a request and its answer are counted under (default: the protocol name) */
  classify?(req: Req): string
  /**
   * Bytes a message stands for beyond its encoding (e.g. the content of an
   * object the simulation does not materialise), added to its transfer time
   * and byte accounting
   */
  virtualBytes?(msg: Req | Res): number
}

/** One address's traffic in one class (or all classes), in bytes and messages; bytes include virtual bytes */
export interface TrafficStats {
  requestBytesSent: number
  /** What the node uploaded answering others */
  responseBytesSent: number
  requestBytesReceived: number
  responseBytesReceived: number
  messagesSent: number
  messagesReceived: number
}

/** The whole network's traffic in one class */
export interface ClassTotals {
  /** Messages sent: requests plus answers (error answers included) */
  messages: number
  /** Bytes sent, encoded plus virtual */
  bytes: number
  requests: number
  requestBytes: number
  responses: number
  responseBytes: number
  /** Messages sent that were never delivered: random loss, or sent to a node that had crashed or gone */
  lost: number
}

const ALIVE = 0
const CRASHED = 1
const LEFT = 2

/** Per (class, node) counters, STRIDE numbers per node */
const REQUEST_BYTES_SENT = 0
const RESPONSE_BYTES_SENT = 1
const REQUEST_BYTES_RECEIVED = 2
const RESPONSE_BYTES_RECEIVED = 3
const MESSAGES_SENT = 4
const MESSAGES_RECEIVED = 5
const STRIDE = 6
const INITIAL_NODE_CAPACITY = 1024

/** What a call's return leg carries */
const ANSWER_OK = 0
const ANSWER_ERROR = 1

const NO_ENDPOINTS: Array<SimEndpoint<any, any> | undefined> = []

/**
 * One address. Kept small (10^5 of them, more with churn since addresses are
 * never reused): its numbers live in the network's typed arrays, at `index`.
 */
class SimNode {
  readonly address: Address
  /** Row in the network's per-node arrays (coordinates, uplink, traffic counters) */
  readonly index: number
  state = ALIVE
  /** By protocol index, exactly as long as needed */
  endpoints: Array<SimEndpoint<any, any> | undefined> = NO_ENDPOINTS
  /** Aborts the signal every handler call of this node gets; made on the node's first inbound request */
  private controller: AbortController | undefined = undefined
  private options: RpcHandlerOptions | undefined = undefined

  constructor (address: Address, index: number) {
    this.address = address
    this.index = index
  }

  /**
   * What every handler call gets. A plain object with the signal as an own
   * property, so that handlers may spread it (a lazy getter would cost twice
   * the memory of the controller itself)
   */
  handlerOptions (): RpcHandlerOptions {
    if (this.options === undefined) {
      this.controller = new AbortController()
      this.options = { signal: this.controller.signal }
    }
    return this.options
  }

  /**
   * Crash or leave. Lets go of the handlers: under churn the network keeps
   * every address it has seen, and a handler closure would keep the whole dead
   * node's state alive with it.
   */
  stop (state: number): void {
    if (this.state !== ALIVE) {
      return
    }
    this.state = state
    for (const endpoint of this.endpoints) {
      if (endpoint !== undefined) {
        endpoint.handler = undefined
      }
    }
    this.endpoints = NO_ENDPOINTS
    this.controller?.abort()
    this.controller = undefined
    this.options = undefined
  }
}

/**
 * One request in flight, from send to settlement. It is the argument of every
 * event the request causes (delivery, answer, deadline), so a round trip
 * allocates one of these rather than a closure per hop.
 */
class Call {
  readonly endpoint: SimEndpoint<any, any>
  /** The receiver; `undefined` (typed away) when the address is unknown, which only `onUnreachable` sees */
  readonly to: SimNode
  readonly toAddress: Address
  readonly cls: number
  /** The encoded request, then the encoded answer */
  bytes: Uint8Array
  /** Bytes the current leg is counted as: encoded plus virtual */
  size: number
  /** Request, then answer: ANSWER_OK or ANSWER_ERROR */
  answer = ANSWER_OK
  errorCode = 0
  errorMessage = ''
  resolve: (res: any) => void
  reject: (err: Error) => void
  timer: SimTimer | undefined = undefined
  signal: AbortSignal | undefined = undefined
  timeout: number
  /** Settled, or abandoned because the requester is gone */
  done = false

  constructor (endpoint: SimEndpoint<any, any>, to: SimNode, toAddress: Address, cls: number, bytes: Uint8Array, size: number, timeout: number, resolve: (res: any) => void, reject: (err: Error) => void) {
    this.endpoint = endpoint
    this.to = to
    this.toAddress = toAddress
    this.cls = cls
    this.bytes = bytes
    this.size = size
    this.timeout = timeout
    this.resolve = resolve
    this.reject = reject
  }
}

/** One address's endpoint for one protocol */
class SimEndpoint<Req, Res> implements Rpc<Req, Res> {
  readonly network: SimNetwork
  readonly node: SimNode
  readonly protocol: SimProtocol<Req, Res>
  readonly protocolIndex: number
  /** Counter row of the protocol's name as a traffic class; registered on first use so unused protocols stay out of `totals()` */
  private defaultClass = -1
  handler: ((from: Address, req: Req, options: RpcHandlerOptions) => Promise<Res>) | undefined = undefined

  constructor (network: SimNetwork, node: SimNode, protocol: SimProtocol<Req, Res>, protocolIndex: number) {
    this.network = network
    this.node = node
    this.protocol = protocol
    this.protocolIndex = protocolIndex
  }

  // not `async`: the promise is settled from scheduler events, and an async wrapper would cost a promise and ticks per request
  request (to: Address, req: Req, options: RpcOptions): Promise<Res> {
    if (this.node.state !== ALIVE) {
      // never settles; a fresh one each time so that nothing accumulates reactions forever
      return new Promise<Res>(() => {})
    }
    const signal = options?.signal
    if (signal?.aborted === true) {
      return Promise.reject(new AbortError())
    }
    const timeout = options?.timeout
    if (typeof timeout !== 'number' || !(timeout >= 0)) {
      return Promise.reject(new TypeError(`a request needs a timeout ≥ 0 ms, got ${timeout}`))
    }
    const protocol = this.protocol
    let bytes: Uint8Array
    let cls: number
    let virtual: number
    try {
      bytes = protocol.encodeRequest(req)
      if (protocol.classify !== undefined) {
        cls = this.network.classIndex(protocol.classify(req))
      } else {
        if (this.defaultClass < 0) {
          this.defaultClass = this.network.classIndex(protocol.name)
        }
        cls = this.defaultClass
      }
      virtual = protocol.virtualBytes === undefined ? 0 : protocol.virtualBytes(req)
    } catch (err: any) {
      return Promise.reject(new InvalidMessageError(`${protocol.name} request failed to encode: ${err?.message}`, { cause: err }))
    }
    const max = this.network.maxMessageBytes
    if (bytes.byteLength > max) {
      return Promise.reject(new InvalidMessageError(`${protocol.name} request of ${bytes.byteLength} bytes exceeds the ${max} byte limit`))
    }
    return new Promise<Res>((resolve, reject) => {
      this.network.send(this, to, cls, bytes, bytes.byteLength + virtual, timeout, signal, resolve, reject)
    })
  }

  handle (handler: (from: Address, req: Req, options: RpcHandlerOptions) => Promise<Res>): void {
    this.handler = handler
  }

  isConnected (to: Address): boolean {
    return this.network.isConnected(this.node, to)
  }

  connect (to: Address): void {
    this.network.connect(this.node, to)
  }
}

/**
 * The simulated network: addresses, their endpoints per protocol, the latency
 * and loss model, node lifecycle and traffic accounting
 */
export class SimNetwork {
  readonly maxMessageBytes: number
  private readonly scheduler: Scheduler
  private readonly random: SeededRandom
  private readonly lossRandom: SeededRandom
  private readonly loss: number
  private readonly minLatencyMs: number
  /** Delay per unit of distance: the span over the unit square's diagonal */
  private readonly msPerDistance: number
  private readonly msPerByte: number
  private readonly uplinkQueueing: boolean
  private readonly unreachableDelayMs: number
  private readonly trace: SimTrace | undefined
  private readonly connectMs: number
  private readonly maxConnections: number
  /** Per node index: its open (or opening) connections, peer index → virtual time ready, least recently used first */
  private readonly links: Array<Map<number, number> | undefined> = []
  private connectionsOpened = 0

  private readonly nodes = new Map<Address, SimNode>()
  private nodeCount = 0
  private readonly protocolIndexes = new Map<string, number>()
  private readonly classIndexes = new Map<string, number>()
  private readonly classNames: string[] = []
  /** counters[cls][node.index × STRIDE + field] */
  private readonly counters: Float64Array[] = []
  /** Per node: x, y in the unit square */
  private coords = new Float64Array(INITIAL_NODE_CAPACITY * 2)
  /** Per node: virtual time its uplink is free again (only with `uplinkQueueing`) */
  private uplinkFreeAt = new Float64Array(INITIAL_NODE_CAPACITY)
  private readonly classTotals: ClassTotals[] = []
  private capacity = INITIAL_NODE_CAPACITY
  /**
   * The calls waiting on each abort signal. One listener per signal, not one
   * per call: a node's lifecycle signal goes with nearly every request it
   * makes, and an EventTarget listener costs more to add and remove than a set entry.
   */
  private readonly waiting = new WeakMap<AbortSignal, Set<Call>>()
  private delivered = 0
  private lost = 0
  private sent = 0

  constructor (scheduler: Scheduler, random: SeededRandom, init: SimNetworkInit = {}) {
    this.scheduler = scheduler
    this.random = random
    this.lossRandom = random.fork('loss')
    this.loss = init.loss ?? 0
    this.minLatencyMs = init.minLatencyMs ?? MIN_LATENCY_MS
    this.msPerDistance = (init.latencySpanMs ?? LATENCY_SPAN_MS) / Math.SQRT2
    this.msPerByte = 1000 / (init.bandwidthBytesPerSec ?? BANDWIDTH_BYTES_PER_SEC)
    this.uplinkQueueing = init.uplinkQueueing ?? false
    this.unreachableDelayMs = init.unreachableDelayMs ?? 2 * this.minLatencyMs
    this.maxMessageBytes = init.maxMessageBytes ?? MAX_MESSAGE_BYTES
    this.trace = init.trace
    this.connectMs = init.connectMs ?? 0
    this.maxConnections = init.maxConnections ?? Infinity
    if (!(this.connectMs >= 0) || !(this.maxConnections >= 1)) {
      throw new RangeError(`connectMs must be ≥ 0 and maxConnections ≥ 1, got ${this.connectMs} and ${this.maxConnections}`)
    }
    if (!(this.loss >= 0 && this.loss <= 1)) {
      throw new RangeError(`loss must be a probability, got ${this.loss}`)
    }
  }

  /**
   * The endpoint of `address` for `protocol`, creating the address on first
   * use. Asking again with the same protocol returns the same endpoint.
   * Throws for an address that has crashed or left: the simulation never
   * reuses addresses.
   */
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
    this.closeConnections(node)
  }

  /** The node departs cleanly: requests to it fail fast from now on */
  leave (address: Address): void {
    const node = this.nodeOf(address)
    node.stop(LEFT)
    this.closeConnections(node)
  }

  /**
   * Whether `from` holds a connection to `to` that is up now. Always false
   * when connections are free: there is nothing to hold (as before the model).
   *
   * @internal
   */
  isConnected (from: SimNode, to: Address): boolean {
    if (this.connectMs === 0) {
      return false
    }
    const node = this.nodes.get(to)
    if (node === undefined || node.state !== ALIVE) {
      return false
    }
    const ready = this.links[from.index]?.get(node.index)
    return ready !== undefined && ready <= this.scheduler.now
  }

  /**
   * Starts a connection from `from` to `to` unless one is open or opening
   * (only when connections cost something)
   *
   * @internal
   */
  connect (from: SimNode, to: Address): void {
    if (this.connectMs === 0 || from.state !== ALIVE) {
      return
    }
    const node = this.nodes.get(to)
    if (node === undefined || node.state !== ALIVE) {
      return
    }
    this.connectionReadyAt(from, node, this.scheduler.now)
  }

  /** Connections set up so far (0 unless `connectMs` > 0) */
  get connectionsSetUp (): number {
    return this.connectionsOpened
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
    return this.propagation(this.nodeOf(a), this.nodeOf(b))
  }

  /** Messages that reached a live receiver */
  get messagesDelivered (): number {
    return this.delivered
  }

  /** Messages sent but never delivered: random loss, or a receiver that had crashed or gone */
  get messagesLost (): number {
    return this.lost
  }

  /** Messages sent: requests plus answers */
  get messagesSent (): number {
    return this.sent
  }

  /** Traffic class names seen so far (protocol names and `classify` results) */
  classes (): string[] {
    return [...this.classNames]
  }

  /** Traffic of one address in class `cls`, or in all classes; zeros for unknown addresses or classes */
  traffic (address: Address, cls?: string): TrafficStats {
    const stats: TrafficStats = { requestBytesSent: 0, responseBytesSent: 0, requestBytesReceived: 0, responseBytesReceived: 0, messagesSent: 0, messagesReceived: 0 }
    const node = this.nodes.get(address)
    if (node === undefined) {
      return stats
    }
    const base = node.index * STRIDE
    for (let c = 0; c < this.counters.length; c++) {
      if (cls !== undefined && this.classNames[c] !== cls) {
        continue
      }
      const row = this.counters[c]
      stats.requestBytesSent += row[base + REQUEST_BYTES_SENT]
      stats.responseBytesSent += row[base + RESPONSE_BYTES_SENT]
      stats.requestBytesReceived += row[base + REQUEST_BYTES_RECEIVED]
      stats.responseBytesReceived += row[base + RESPONSE_BYTES_RECEIVED]
      stats.messagesSent += row[base + MESSAGES_SENT]
      stats.messagesReceived += row[base + MESSAGES_RECEIVED]
    }
    return stats
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
    const out: Record<string, ClassTotals> = {}
    for (let c = 0; c < this.classNames.length; c++) {
      out[this.classNames[c]] = { ...this.classTotals[c] }
    }
    return out
  }

  /**
   * The counter row of a traffic class, registering it on first use
   *
   * @internal
   */
  classIndex (cls: string): number {
    let index = this.classIndexes.get(cls)
    if (index === undefined) {
      index = this.classNames.length
      this.classIndexes.set(cls, index)
      this.classNames.push(cls)
      this.counters.push(new Float64Array(this.capacity * STRIDE))
      this.classTotals.push({ messages: 0, bytes: 0, requests: 0, requestBytes: 0, responses: 0, responseBytes: 0, lost: 0 })
    }
    return index
  }

  /**
   * Starts a request whose promise executor handed over `resolve` and `reject`
   *
   * @internal
   */
  send (endpoint: SimEndpoint<any, any>, toAddress: Address, cls: number, bytes: Uint8Array, size: number, timeout: number, signal: AbortSignal | undefined, resolve: (res: any) => void, reject: (err: Error) => void): void {
    const scheduler = this.scheduler
    const now = scheduler.now
    const to = this.nodes.get(toAddress)
    const call = new Call(endpoint, to as SimNode, toAddress, cls, bytes, size, timeout, resolve, reject)
    if (to === undefined || to.state === LEFT || (to.state === ALIVE && to.endpoints[endpoint.protocolIndex]?.handler === undefined)) {
      // the dial fails: nothing is sent
      scheduler.schedule(now + this.unreachableDelayMs, this.onUnreachable, call)
    } else {
      const from = endpoint.node
      this.count(from, cls, REQUEST_BYTES_SENT, size)
      const totals = this.classTotals[cls]
      totals.requests++
      totals.requestBytes += size
      if (to.state === CRASHED) {
        this.lose(call, 'dropped', from, to, size)
      } else if (this.loss > 0 && this.lossRandom.next() < this.loss) {
        this.lose(call, 'lost', from, to, size)
      } else {
        const readyAt = this.connectMs > 0 ? this.connectionReadyAt(from, to, now) : now
        if (readyAt > now) {
          scheduler.schedule(readyAt, this.onConnected, call)
        } else {
          scheduler.schedule(this.arrival(from, to, size), this.onRequestArrives, call)
        }
      }
    }
    if (timeout !== Infinity) {
      call.timer = scheduler.schedule(now + timeout, this.onDeadline, call)
    }
    if (signal !== undefined) {
      let calls = this.waiting.get(signal)
      if (calls === undefined) {
        calls = new Set()
        this.waiting.set(signal, calls)
        signal.addEventListener('abort', () => { this.abortAll(calls as Set<Call>) }, { once: true })
      }
      calls.add(call)
      call.signal = signal
    }
  }

  /** The connection a request waited for is up: send it, unless its requester gave up meanwhile */
  private readonly onConnected = (call: Call): void => {
    if (call.done) {
      return
    }
    this.scheduler.schedule(this.arrival(call.endpoint.node, call.to, call.size), this.onRequestArrives, call)
  }

  /**
   * When the connection between `from` and `to` is (or will be) ready: an open
   * or opening one is reused and becomes the most recently used on both sides;
   * otherwise one is set up now
   */
  private connectionReadyAt (from: SimNode, to: SimNode, now: number): number {
    if (from === to) {
      return now
    }
    const mine = this.linksOf(from)
    const ready = mine.get(to.index)
    if (ready !== undefined) {
      mine.delete(to.index)
      mine.set(to.index, ready)
      const theirs = this.linksOf(to)
      theirs.delete(from.index)
      theirs.set(from.index, ready)
      return ready
    }
    const at = now + this.connectMs + 4 * this.propagation(from, to)
    this.connectionsOpened++
    this.link(from, to, at)
    this.link(to, from, at)
    return at
  }

  private linksOf (node: SimNode): Map<number, number> {
    let links = this.links[node.index]
    if (links === undefined) {
      links = new Map()
      this.links[node.index] = links
    }
    return links
  }

  /** Records a connection on `a`'s side, closing `a`'s least recently used one beyond the budget */
  private link (a: SimNode, b: SimNode, readyAt: number): void {
    const links = this.linksOf(a)
    links.set(b.index, readyAt)
    if (links.size > this.maxConnections) {
      const oldest = links.keys().next().value as number
      links.delete(oldest)
      this.links[oldest]?.delete(a.index)
    }
  }

  private closeConnections (node: SimNode): void {
    const links = this.links[node.index]
    if (links === undefined) {
      return
    }
    for (const peer of links.keys()) {
      this.links[peer]?.delete(node.index)
    }
    this.links[node.index] = undefined
  }

  /** A signal fired: every call still waiting on it rejects, in the order they were sent */
  private abortAll (calls: Set<Call>): void {
    for (const call of [...calls]) {
      if (!call.done) {
        this.finish(call)
        call.reject(new AbortError())
      }
    }
    calls.clear()
  }

  private readonly onRequestArrives = (call: Call): void => {
    const to = call.to
    const from = call.endpoint.node
    const size = call.size
    if (to.state === CRASHED) {
      this.dropped(call, from, to)
      return
    }
    if (to.state === LEFT) {
      // the connection is gone: the reset travels back
      this.dropped(call, from, to)
      this.scheduler.schedule(this.scheduler.now + this.propagation(to, from), this.onUnreachable, call)
      return
    }
    const endpoint = to.endpoints[call.endpoint.protocolIndex] as SimEndpoint<any, any>
    const protocol = endpoint.protocol
    this.received(call, to, REQUEST_BYTES_RECEIVED, size)
    this.trace?.('request', from.address, to.address, protocol.name, size)
    let req: unknown
    try {
      req = protocol.decodeRequest(call.bytes)
    } catch (err: any) {
      this.answerError(call, ErrorCode.INVALID_MESSAGE, `${protocol.name} request failed to decode: ${err?.message}`)
      return
    }
    let answer: unknown
    try {
      answer = (endpoint.handler as NonNullable<typeof endpoint.handler>)(from.address, req, to.handlerOptions())
    } catch (err: any) {
      this.answerError(call, codeOf(err), err?.message ?? String(err))
      return
    }
    if (typeof (answer as Promise<unknown>)?.then === 'function') {
      (answer as Promise<unknown>).then(
        res => { this.answer(call, res) },
        err => { this.answerError(call, codeOf(err), err?.message ?? String(err)) }
      )
    } else {
      // a handler that answered synchronously
      this.answer(call, answer)
    }
  }

  private answer (call: Call, res: unknown): void {
    const responder = call.to
    if (responder.state !== ALIVE) {
      return
    }
    const protocol = (responder.endpoints[call.endpoint.protocolIndex] as SimEndpoint<any, any>).protocol
    let bytes: Uint8Array
    try {
      bytes = protocol.encodeResponse(res)
    } catch (err: any) {
      this.answerError(call, ErrorCode.UNKNOWN, `${protocol.name} response failed to encode: ${err?.message}`)
      return
    }
    let virtual: number
    try {
      virtual = protocol.virtualBytes === undefined ? 0 : protocol.virtualBytes(res)
    } catch (err: any) {
      this.answerError(call, ErrorCode.UNKNOWN, `${protocol.name} response failed to size: ${err?.message}`)
      return
    }
    call.bytes = bytes
    call.answer = ANSWER_OK
    this.sendAnswer(call, bytes.byteLength + virtual)
  }

  private answerError (call: Call, code: number, message: string): void {
    if (call.to.state !== ALIVE) {
      return
    }
    call.answer = ANSWER_ERROR
    call.errorCode = code
    call.errorMessage = message
    call.bytes = EMPTY
    this.sendAnswer(call, ERROR_OVERHEAD_BYTES + message.length)
  }

  private sendAnswer (call: Call, size: number): void {
    const responder = call.to
    const requester = call.endpoint.node
    call.size = size
    this.count(responder, call.cls, RESPONSE_BYTES_SENT, size)
    const totals = this.classTotals[call.cls]
    totals.responses++
    totals.responseBytes += size
    if (requester.state !== ALIVE) {
      this.lose(call, 'dropped', responder, requester, size)
    } else if (this.loss > 0 && this.lossRandom.next() < this.loss) {
      this.lose(call, 'lost', responder, requester, size)
    } else {
      this.scheduler.schedule(this.arrival(responder, requester, size), this.onAnswerArrives, call)
    }
  }

  private readonly onAnswerArrives = (call: Call): void => {
    const requester = call.endpoint.node
    const responder = call.to
    const size = call.size
    if (requester.state !== ALIVE) {
      this.dropped(call, responder, requester)
      return
    }
    this.received(call, requester, RESPONSE_BYTES_RECEIVED, size)
    const protocol = call.endpoint.protocol
    this.trace?.('response', responder.address, requester.address, protocol.name, size)
    if (call.done) {
      return
    }
    this.finish(call)
    if (call.answer === ANSWER_ERROR) {
      call.reject(new RemoteError(call.errorMessage, call.errorCode))
      return
    }
    const bytes = call.bytes
    if (bytes.byteLength > this.maxMessageBytes) {
      call.reject(new InvalidMessageError(`${protocol.name} response of ${bytes.byteLength} bytes from ${responder.address} exceeds the ${this.maxMessageBytes} byte limit`))
      return
    }
    let res: unknown
    try {
      res = protocol.decodeResponse(bytes)
    } catch (err: any) {
      call.reject(new InvalidMessageError(`${protocol.name} response from ${responder.address} failed to decode: ${err?.message}`, { cause: err }))
      return
    }
    call.resolve(res)
  }

  private readonly onUnreachable = (call: Call): void => {
    if (call.done || call.endpoint.node.state !== ALIVE) {
      return
    }
    this.finish(call)
    call.reject(new PeerUnreachableError(`${call.toAddress} is not reachable over ${call.endpoint.protocol.name}`))
  }

  private readonly onDeadline = (call: Call): void => {
    call.timer = undefined
    if (call.done) {
      return
    }
    this.finish(call)
    if (call.endpoint.node.state !== ALIVE) {
      // a stopped node's requests never settle
      return
    }
    call.reject(new RpcTimeoutError(`no answer over ${call.endpoint.protocol.name} within ${call.timeout} ms`))
  }

  private finish (call: Call): void {
    call.done = true
    call.timer?.cancel()
    call.timer = undefined
    if (call.signal !== undefined) {
      this.waiting.get(call.signal)?.delete(call)
      call.signal = undefined
    }
  }

  private lose (call: Call, kind: SimTraceKind, from: SimNode, to: SimNode, size: number): void {
    this.lost++
    this.classTotals[call.cls].lost++
    this.trace?.(kind, from.address, to.address, call.endpoint.protocol.name, size)
  }

  /** A message reached a receiver that is no longer there */
  private dropped (call: Call, from: SimNode, to: SimNode): void {
    this.lose(call, 'dropped', from, to, call.size)
  }

  private received (call: Call, node: SimNode, field: number, size: number): void {
    this.delivered++
    const row = this.counters[call.cls]
    const base = node.index * STRIDE
    row[base + field] += size
    row[base + MESSAGES_RECEIVED]++
  }

  private count (node: SimNode, cls: number, field: number, size: number): void {
    this.sent++
    const row = this.counters[cls]
    const base = node.index * STRIDE
    row[base + field] += size
    row[base + MESSAGES_SENT]++
    const totals = this.classTotals[cls]
    totals.messages++
    totals.bytes += size
  }

  private propagation (from: SimNode, to: SimNode): number {
    const coords = this.coords
    const dx = coords[2 * from.index] - coords[2 * to.index]
    const dy = coords[2 * from.index + 1] - coords[2 * to.index + 1]
    return Math.round(this.minLatencyMs + Math.sqrt(dx * dx + dy * dy) * this.msPerDistance)
  }

  /** Virtual time a message of `size` bytes sent now from `from` reaches `to` */
  private arrival (from: SimNode, to: SimNode, size: number): number {
    const now = this.scheduler.now
    const transfer = size * this.msPerByte
    if (this.uplinkQueueing) {
      const freeAt = this.uplinkFreeAt[from.index]
      const start = freeAt > now ? freeAt : now
      this.uplinkFreeAt[from.index] = start + transfer
      return Math.max(now, Math.round(start + transfer)) + this.propagation(from, to)
    }
    return now + this.propagation(from, to) + Math.round(transfer)
  }

  private nodeOf (address: Address): SimNode {
    let node = this.nodes.get(address)
    if (node === undefined) {
      const coords = this.random.fork(`coords:${address}`)
      const index = this.nodeCount++
      if (index >= this.capacity) {
        this.grow()
      }
      this.coords[2 * index] = coords.next()
      this.coords[2 * index + 1] = coords.next()
      node = new SimNode(address, index)
      this.nodes.set(address, node)
    }
    return node
  }

  private grow (): void {
    this.capacity *= 2
    const coords = new Float64Array(this.capacity * 2)
    coords.set(this.coords)
    this.coords = coords
    const uplinkFreeAt = new Float64Array(this.capacity)
    uplinkFreeAt.set(this.uplinkFreeAt)
    this.uplinkFreeAt = uplinkFreeAt
    for (let c = 0; c < this.counters.length; c++) {
      const bigger = new Float64Array(this.capacity * STRIDE)
      bigger.set(this.counters[c])
      this.counters[c] = bigger
    }
  }
}

const EMPTY = new Uint8Array(0)
