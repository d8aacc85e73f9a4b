/**
 * How the simulated network delivers a request and its answer: every request
 * and answer is an event on the scheduler, encoded by the sender's and
 * decoded by the receiver's codec, so serialisation bugs show up in
 * simulation.
 *
 * Loss drops each message (request or answer) independently; the requester
 * sees an `RpcTimeoutError` at its deadline. A crashed receiver is a black
 * hole; a departed one resets requests in flight to it, and new requests to
 * it fail with `PeerUnreachableError` after `unreachableDelayMs`. A stopped
 * node's own pending requests never settle and answers it had not sent yet
 * are not sent (see `network.ts` for the whole theory of operation).
 */
import { AbortError, ErrorCode, InvalidMessageError, PeerUnreachableError, RemoteError, RpcTimeoutError, codeOf } from '../../src/overlay/errors.ts'
import { ANSWER_ERROR, ANSWER_OK, Call } from './call.ts'
import { ALIVE, CRASHED, LEFT } from './node.ts'
import { REQUEST_BYTES_RECEIVED, RESPONSE_BYTES_RECEIVED } from './traffic.ts'
import type { Connections } from './connections.ts'
import type { SimEndpoint } from './endpoint.ts'
import type { LatencyModel } from './latency.ts'
import type { SimNode } from './node.ts'
import type { SimTrace, SimTraceKind } from './protocol.ts'
import type { TrafficLedger } from './traffic.ts'
import type { Address } from '../../src/overlay/seams.ts'
import type { SeededRandom } from '../random.ts'
import type { Scheduler } from '../scheduler.ts'

/** What an error answer costs on the wire besides its message text (code, framing) */
const ERROR_OVERHEAD_BYTES = 8

const EMPTY = new Uint8Array(0)

/**
 * An `AbortError` without a stack. Most aborts in a run are a watched
 * forward's probe ending with its watch, whose error nobody reads; the stack
 * would name only the scheduler and the abort's dispatch, and capturing it
 * was 1.5 % of a run
 */
function abortError (): AbortError {
  const limit = Error.stackTraceLimit
  Error.stackTraceLimit = 0
  try {
    return new AbortError()
  } finally {
    Error.stackTraceLimit = limit
  }
}

export interface DeliveryInit {
  scheduler: Scheduler
  /** Every address the network has seen */
  nodes: Map<Address, SimNode>
  latency: LatencyModel
  connections: Connections
  traffic: TrafficLedger
  /** The stream random loss draws from */
  lossRandom: SeededRandom
  loss: number
  unreachableDelayMs: number
  maxMessageBytes: number
  trace: SimTrace | undefined
}

/** Requests and answers in flight: sending, arrival, deadlines, aborts and loss */
export class Delivery {
  private readonly scheduler: Scheduler
  private readonly nodes: Map<Address, SimNode>
  private readonly latency: LatencyModel
  private readonly connections: Connections
  private readonly traffic: TrafficLedger
  private readonly lossRandom: SeededRandom
  private readonly loss: number
  private readonly unreachableDelayMs: number
  private readonly maxMessageBytes: number
  private readonly trace: SimTrace | undefined
  /**
   * The calls waiting on each abort signal. One listener per signal, not one
   * per call: a node's lifecycle signal goes with nearly every request it
   * makes, and an EventTarget listener costs more to add and remove than a set entry.
   */
  private readonly waiting = new WeakMap<AbortSignal, Set<Call>>()

  constructor (init: DeliveryInit) {
    this.scheduler = init.scheduler
    this.nodes = init.nodes
    this.latency = init.latency
    this.connections = init.connections
    this.traffic = init.traffic
    this.lossRandom = init.lossRandom
    this.loss = init.loss
    this.unreachableDelayMs = init.unreachableDelayMs
    this.maxMessageBytes = init.maxMessageBytes
    this.trace = init.trace
  }

  /** Starts a request whose promise executor handed over `resolve` and `reject` */
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
      this.traffic.requestSent(from, cls, size)
      if (to.state === CRASHED) {
        this.lose(call, 'dropped', from, to, size)
      } else if (this.loss > 0 && this.lossRandom.next() < this.loss) {
        this.lose(call, 'lost', from, to, size)
      } else {
        const readyAt = this.connections.connectMs > 0 ? this.connections.readyAt(from, to, now) : now
        if (readyAt > now) {
          scheduler.schedule(readyAt, this.onConnected, call)
        } else {
          scheduler.schedule(this.latency.arrival(from, to, size, now), this.onRequestArrives, call)
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
    this.scheduler.schedule(this.latency.arrival(call.endpoint.node, call.to, call.size, this.scheduler.now), this.onRequestArrives, call)
  }

  /** A signal fired: every call still waiting on it rejects, in the order they were sent */
  private abortAll (calls: Set<Call>): void {
    for (const call of [...calls]) {
      if (!call.done) {
        this.finish(call)
        call.reject(abortError())
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
      this.scheduler.schedule(this.scheduler.now + this.latency.propagation(to, from), this.onUnreachable, call)
      return
    }
    const endpoint = to.endpoints[call.endpoint.protocolIndex] as SimEndpoint<any, any>
    const protocol = endpoint.protocol
    this.traffic.received(call.cls, to, REQUEST_BYTES_RECEIVED, size)
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
    this.traffic.responseSent(responder, call.cls, size)
    if (requester.state !== ALIVE) {
      this.lose(call, 'dropped', responder, requester, size)
    } else if (this.loss > 0 && this.lossRandom.next() < this.loss) {
      this.lose(call, 'lost', responder, requester, size)
    } else {
      this.scheduler.schedule(this.latency.arrival(responder, requester, size, this.scheduler.now), this.onAnswerArrives, call)
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
    this.traffic.received(call.cls, requester, RESPONSE_BYTES_RECEIVED, size)
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
    this.traffic.lose(call.cls)
    this.trace?.(kind, from.address, to.address, call.endpoint.protocol.name, size)
  }

  /** A message reached a receiver that is no longer there */
  private dropped (call: Call, from: SimNode, to: SimNode): void {
    this.lose(call, 'dropped', from, to, call.size)
  }
}
