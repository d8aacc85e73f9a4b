/**
 * One address of the simulated network and its lifecycle: alive, crashed (a
 * black hole) or left (requests to it fail fast).
 */
import type { SimEndpoint } from './endpoint.ts'
import type { Address, RpcHandlerOptions } from '../../src/overlay/seams.ts'

export const ALIVE = 0
export const CRASHED = 1
export const LEFT = 2

const NO_ENDPOINTS: Array<SimEndpoint<any, any> | undefined> = []

/**
 * One address. Kept small (10^5 of them, more with churn since addresses are
 * never reused): its numbers live in the network's typed arrays, at `index`.
 */
export class SimNode {
  readonly address: Address
  /** Row in the network's per-node arrays (coordinates, uplink, traffic counters) */
  readonly index: number
  state = ALIVE
  /** By protocol index, exactly as long as needed */
  endpoints: Array<SimEndpoint<any, any> | undefined> = NO_ENDPOINTS
  /** Told when a connection of this node closes because its peer departed (`SimNetwork.onConnectionLost`) */
  onConnectionLost: ((peer: Address) => void) | undefined = undefined
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
    this.onConnectionLost = undefined
    this.controller?.abort()
    this.controller = undefined
    this.options = undefined
  }
}
