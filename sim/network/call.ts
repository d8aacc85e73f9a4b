/**
 * One request in flight on the simulated network.
 */
import type { SimEndpoint } from './endpoint.ts'
import type { SimNode } from './node.ts'
import type { Address } from '../../src/overlay/seams.ts'
import type { SimTimer } from '../scheduler.ts'

/** What a call's return leg carries */
export const ANSWER_OK = 0
export const ANSWER_ERROR = 1

/**
 * One request in flight, from send to settlement. It is the argument of every
 * event the request causes (delivery, answer, deadline), so a round trip
 * allocates one of these rather than a closure per hop.
 */
export class Call {
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
