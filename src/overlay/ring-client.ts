/**
 * The node's side of the ring protocol as a client: every request a node
 * sends goes through `call`, which stamps the namespace, ties the request to
 * the node's lifetime (stopping the node aborts it), turns an error answer
 * into its named error, and tells `Liveness` the peer answered.
 *
 * Tying a request to two signals without `AbortSignal.any`: a composite
 * signal per request (and a transport listener on each) was ~4 % of the
 * simulator's time, most of it for forwards on behalf of others, whose
 * only signal is the lifetime. So `call` passes the lifetime itself when the
 * caller's signal is the lifetime or one of our scopes, and a scope (a group
 * of requests the caller ends early) follows the lifetime through one
 * listener per lifetime, not one per scope.
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

/** A group of requests that `end` aborts, as do the node's stopping and the caller's own signal */
export interface RequestScope {
  readonly signal: AbortSignal
  /** Aborts the scope's requests still in flight; call it once the group is over */
  end(reason: unknown): void
}

export class RingClient {
  private readonly rpc: Rpc<RingRequest, RingResponse>
  private readonly clock: Clock
  private readonly settings: RingSettings
  private readonly liveness: Liveness
  private readonly lifetime: () => AbortSignal
  /** The scopes not ended yet, by their signal; all of them end when the lifetime they began in does */
  private readonly scopes = new Map<AbortSignal, AbortController>()
  /** The lifetime whose abort ends the scopes (one listener per lifetime) */
  private scopesLifetime?: AbortSignal

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
    const res = await this.rpc.request(to, { ...req, namespace: this.settings.namespace }, {
      timeout,
      signal: this.withLifetime(signal)
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

  /** `signal`, tied to the node's lifetime */
  private withLifetime (signal?: AbortSignal): AbortSignal {
    const lifetime = this.lifetime()
    if (signal == null || signal === lifetime) {
      return lifetime
    }
    // a scope follows the lifetime already
    return this.scopes.has(signal) ? signal : AbortSignal.any([signal, lifetime])
  }

  /**
   * A scope for requests that the caller ends early, that also end when
   * `signal` aborts or the node stops. Requests made with its signal cost no
   * composite signal
   */
  scope (signal?: AbortSignal): RequestScope {
    const controller = new AbortController()
    const lifetime = this.lifetime()
    if (lifetime.aborted) {
      controller.abort(lifetime.reason)
    } else if (signal?.aborted === true) {
      controller.abort(signal.reason)
    }
    const follow = signal == null || signal === lifetime || controller.signal.aborted
      ? undefined
      : () => { this.endScope(controller, signal.reason) }
    if (follow != null) {
      signal?.addEventListener('abort', follow, { once: true })
    }
    if (!controller.signal.aborted) {
      if (this.scopesLifetime !== lifetime) {
        this.scopesLifetime = lifetime
        lifetime.addEventListener('abort', () => {
          // a scope still open here began in this lifetime: the one before ended them all
          for (const scope of [...this.scopes.values()]) {
            scope.abort(lifetime.reason)
          }
          this.scopes.clear()
        }, { once: true })
      }
      this.scopes.set(controller.signal, controller)
    }
    return {
      signal: controller.signal,
      end: (reason) => {
        if (follow != null) {
          signal?.removeEventListener('abort', follow)
        }
        this.endScope(controller, reason)
      }
    }
  }

  private endScope (controller: AbortController, reason: unknown): void {
    this.scopes.delete(controller.signal)
    controller.abort(reason)
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
