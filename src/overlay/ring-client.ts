/**
 * The node's side of the ring protocol as a client: every request a node
 * sends goes through `call`, which stamps the namespace, ties the request to
 * the node's lifetime (stopping the node aborts it), turns an error answer
 * into its named error, and tells `Liveness` the peer answered.
 */

import { errorFromCode, InvalidMessageError } from './errors.ts'
import { RingRequest } from './messages.ts'
import type { Liveness } from './liveness.ts'
import type { RingResponse } from './messages.ts'
import type { Address, Clock, Rpc } from './seams.ts'
import type { RingSettings } from './settings.ts'

/** A ring request as the node's parts build it: `call` adds the namespace */
export type OutgoingRequest = Omit<RingRequest, 'namespace'>

export interface RingClientInit {
  rpc: Rpc<RingRequest, RingResponse>
  clock: Clock
  settings: RingSettings
  liveness: Liveness
  /** Aborted when the node stops */
  lifetime(): AbortSignal
}

export class RingClient {
  private readonly rpc: Rpc<RingRequest, RingResponse>
  private readonly clock: Clock
  private readonly settings: RingSettings
  private readonly liveness: Liveness
  private readonly lifetime: () => AbortSignal

  constructor (init: RingClientInit) {
    this.rpc = init.rpc
    this.clock = init.clock
    this.settings = init.settings
    this.liveness = init.liveness
    this.lifetime = init.lifetime
  }

  /** Sends `req` to `to` and waits up to `timeout` ms; an error answer rejects with its named error */
  async call (to: Address, req: OutgoingRequest, timeout: number, signal?: AbortSignal): Promise<RingResponse> {
    const sent = this.clock.now()
    const lifetime = this.lifetime()
    const res = await this.rpc.request(to, { ...req, namespace: this.settings.namespace }, {
      timeout,
      signal: signal == null || signal === lifetime ? lifetime : AbortSignal.any([signal, lifetime])
    })
    // a direct request's round trip (not a forward's, which includes the rest of the path) is one
    // sample of the network's RTT
    this.liveness.answered(to, sent, req.type !== RingRequest.Type.ROUTE)
    if (res.error !== 0) {
      throw errorFromCode(res.error, res.message)
    }
    return res
  }

  /**
   * A direct request (one round trip to a known peer) with its deadline,
   * `directRequestMs`. Not `async`: it hands back `call`'s own promise, so it
   * settles in the same microtask as `call` would (the simulator's traces
   * depend on that order)
   */

  direct (to: Address, req: OutgoingRequest, signal?: AbortSignal): Promise<RingResponse> {
    return this.call(to, req, this.settings.directRequestMs, signal)
  }

  /** Whether the transport is setting up a connection to `address` now */
  connecting (address: Address): boolean {
    return this.rpc.connecting?.(address) === true
  }

  /** Whether the transport holds a live connection to `address` (a closed tab closes its connections) */
  isConnected (address: Address): boolean {
    return this.rpc.isConnected?.(address) === true
  }
}

export function requireField<T> (value: T | undefined, name: string): T {
  if (value == null) {
    throw new InvalidMessageError(`message is missing its ${name} field`)
  }
  return value
}
