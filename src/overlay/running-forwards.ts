/**
 * The forwards of one routed request at one node that are still running
 * after the node sent another beside them. A forward unanswered past its
 * allowance may be stuck at a peer that swallows lookups, or only slow; the
 * node tries another path beside it rather than instead of it, so a slow
 * path that does answer still counts, and whichever answers first wins.
 */

import { MAX_AVOIDED_HOPS, MIN_HOP_BUDGET_MS } from './settings.ts'
import { MAX_ADDRESS_LENGTH } from './wire.ts'
import type { RouteResponse } from './messages.ts'
import type { Address, Clock, Timer } from './seams.ts'

/**
 * Takes a slot of the sender's share for a detour (another path beside a
 * late forward) and returns its release, or nothing when the sender's share
 * is full (see request-shares.ts)
 */
export type DetourSlot = () => (() => void) | undefined

/** The release of a detour of our own lookups, which takes no share */
export const NOTHING_TO_RELEASE = (): void => {}

/** How one forward ended, as far as the waiting node is concerned */
export type ForwardOutcome =
  | { route: RouteResponse }
  | { err: any }
  /** Unanswered past its allowance: left running while another forward goes out */
  | { late: true }

export class RunningForwards {
  private readonly peers = new Set<Address>()
  private readonly pending = new Set<Promise<RouteResponse>>()
  /** Every forward sent for the request, running or not */
  private readonly sent: Array<Promise<unknown>> = []
  /** Releases of detour slots, once every forward sent has settled */
  private readonly releases: Array<() => void> = []
  private winner?: RouteResponse
  private won?: (route: RouteResponse) => void
  /** The first answer of a forward left running */
  private readonly first = new Promise<RouteResponse>(resolve => { this.won = resolve })

  /** Whether a forward to `address` is still running: sending it another would only wait twice */
  has (address: Address): boolean {
    return this.peers.has(address)
  }

  get size (): number {
    return this.pending.size
  }

  /** `forward` (sent to `address`) went past its allowance: it keeps running beside the next */
  add (address: Address, forward: Promise<RouteResponse>): void {
    this.peers.add(address)
    this.pending.add(forward)
    forward.then(route => {
      this.winner ??= route
      this.won?.(route)
    }, () => {}).finally(() => {
      this.pending.delete(forward)
    })
  }

  /**
   * Waits for `forward`, for any forward left running to answer, or — with
   * `lateAfter` — for that long, whichever comes first
   */
  async race (forward: Promise<RouteResponse>, clock: Clock, lateAfter?: number): Promise<ForwardOutcome> {
    if (this.sent[this.sent.length - 1] !== forward) {
      this.sent.push(forward)
    }
    let timer: Timer | undefined
    const outcomes: Array<Promise<ForwardOutcome>> = [
      forward.then(route => ({ route }), err => ({ err })),
      this.first.then(route => ({ route }))
    ]
    if (lateAfter != null) {
      outcomes.push(new Promise(resolve => { timer = clock.setTimer(() => { resolve({ late: true }) }, lateAfter) }))
    }
    try {
      return await Promise.race(outcomes)
    } finally {
      timer?.cancel()
    }
  }

  /** Calls `release` once every forward sent for the request has settled (see `settled`) */
  holdUntilSettled (release: () => void): void {
    this.releases.push(release)
  }

  /** No more forwards will be sent for the request: the held releases follow the last one to settle */
  settled (): void {
    if (this.releases.length === 0) {
      return
    }
    void Promise.allSettled(this.sent).then(() => {
      for (const release of this.releases) {
        release()
      }
    })
  }

  /** The first answer of the forwards left running, once one answers; undefined once all failed */
  async settle (): Promise<RouteResponse | undefined> {
    if (this.winner == null && this.pending.size > 0) {
      await Promise.race([this.first, Promise.allSettled([...this.pending])])
    }
    return this.winner
  }
}

/** When to try another path beside a forward waiting `wait` with `allowance` for its path: past the allowance, if time is left */
export function besideAfter (wait: number, allowance: number): number | undefined {
  return wait - allowance >= MIN_HOP_BUDGET_MS ? allowance : undefined
}

/** Adds `address` to a request's avoid list, dropping the oldest beyond `MAX_AVOIDED_HOPS` */
export function addAvoided (avoided: Set<Address>, address: Address): void {
  avoided.delete(address)
  avoided.add(address)
  for (const oldest of avoided) {
    if (avoided.size <= MAX_AVOIDED_HOPS) {
      break
    }
    avoided.delete(oldest)
  }
}

/** The avoid list a request arrived with, as far as we take it: addresses of sane length, the newest `MAX_AVOIDED_HOPS` */
export function inheritAvoided (list: string[]): Set<string> {
  return new Set(list.filter(address => address.length <= MAX_ADDRESS_LENGTH).slice(-MAX_AVOIDED_HOPS))
}

/** `avoided` as a request's list with `address` added last (the set itself unchanged) */
export function withAvoided (avoided: Set<Address>, address: Address): Address[] {
  const list = new Set(avoided)
  addAvoided(list, address)
  return [...list]
}
