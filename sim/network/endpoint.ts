/**
 * One address's endpoint for one protocol: the `Rpc` seam a simulated node's
 * code talks to. It encodes and sizes a request, then hands it to the
 * network's delivery.
 */
import { AbortError, InvalidMessageError } from '../../src/overlay/errors.ts'
import { ALIVE } from './node.ts'
import type { SimNetwork } from './network.ts'
import type { SimNode } from './node.ts'
import type { SimProtocol } from './protocol.ts'
import type { Address, Rpc, RpcHandlerOptions, RpcOptions } from '../../src/overlay/seams.ts'

/** One address's endpoint for one protocol */
export class SimEndpoint<Req, Res> implements Rpc<Req, Res> {
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
      this.network.delivery.send(this, to, cls, bytes, bytes.byteLength + virtual, timeout, signal, resolve, reject)
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

  connecting (to: Address): boolean {
    return this.network.isConnecting(this.node, to)
  }
}
