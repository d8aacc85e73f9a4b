/**
 * How long a node waits for a forwarded request, from the measured
 * round-trip time and the hops the path beyond still has to go. Every wait of
 * the forwarder comes from here, so the budget arithmetic of a routed request
 * sits in one place.
 */

import { distance, RING_BITS } from './ring-id.ts'
import { MIN_HOP_BUDGET_MS, RETRY_RESERVE } from './settings.ts'
import type { Liveness } from './liveness.ts'
import type { RoutingTable } from './routing-table.ts'
import type { Peer } from './seams.ts'
import type { RingSettings } from './settings.ts'

export class HopTiming {
  private readonly self: Peer
  private readonly settings: RingSettings
  private readonly liveness: Liveness
  private readonly table: RoutingTable

  constructor (self: Peer, settings: RingSettings, liveness: Liveness, table: RoutingTable) {
    this.self = self
    this.settings = settings
    this.liveness = liveness
    this.table = table
  }

  /**
   * How long to wait for a forward, with `remaining` of the request's budget
   * left. A forward waits for the whole path beyond it; one unanswered past
   * the allowance for that path gets another path tried beside it (see
   * `Forwarder.forward`), so a slow path still counts and a stuck one costs
   * only the allowance. The requester keeps a share of its budget to retry a
   * path that failed outright; a hop on the way keeps only the time to report
   * a failure back (a round trip at most): were it to keep a share for a
   * retry, the budget would shrink by that at every hop, and a long path
   * under churn reached its last hops with less than a round trip left.
   * `keep` is held back beyond that for a step after this forward (see
   * `Forwarder.keepAfter`), unless the forward's `allowance` would not fit.
   */
  wait (remaining: number, requester: boolean, keep: number = 0, allowance: number = 0): number {
    const full = requester ? remaining * (1 - RETRY_RESERVE) : remaining - this.reportReserve(remaining)
    // `keep` is kept back for what comes after this forward fails, unless that would cut the
    // forward's own allowance
    return full - keep >= allowance ? full - keep : full
  }

  /** The time to ask a key's owner's successor instead of the owner: a hop there and back, and its probe of the owner */
  aroundOwner (): number {
    return this.liveness.hopWait().allowed * FINAL_HOPS + this.liveness.probeWait()
  }

  /** The time a hop on the way keeps, with `remaining` of its budget left, to report a failure back */
  reportReserve (remaining: number): number {
    // floored: on loopback a round trip is a millisecond, less than a busy page takes to answer
    return Math.min(remaining * RETRY_RESERVE, Math.max(this.liveness.roundTripMs, MIN_HOP_BUDGET_MS))
  }

  /**
   * The budget a forward carries when we wait `wait` for it: the request
   * spends half a round trip on its way, and the hop's budget starts when it
   * arrives, so its failure report (sent a round trip before its deadline)
   * reaches us before our wait ends
   */
  budgetFor (wait: number): number {
    // never below 0: the field is unsigned, and a negative budget would arrive as 49 days
    return Math.max(0, Math.floor(wait - this.liveness.roundTripMs / 2))
  }

  /**
   * What a forward to `next` should take: the hops the path beyond still has
   * to go (there and back), estimated from the distance left and the ring
   * density our successor list shows (a lookup halves the distance per hop
   * on average), and the allowance, a wait per estimated hop as the paths we
   * forwarded to measured it
   */
  expect (next: bigint, key: bigint, final: boolean): PathEstimate {
    const hops = this.hopsBeyond(next, key, final)
    const perHop = this.liveness.hopWait()
    return { hops, allowance: perHop.allowed * hops, watchAfter: perHop.watchAfter * hops }
  }

  private hopsBeyond (next: bigint, key: bigint, final: boolean): number {
    const successors = this.table.state.successors
    const last = successors[successors.length - 1]
    if (final || last == null) {
      // the owner, or a short walk back from it
      return FINAL_HOPS
    }
    // nodes per unit of ring distance, from the span of our successor list
    const span = ringFraction(distance(this.self.id, last.id))
    const left = ringFraction(distance(next, key))
    const nodesBetween = span > 0 ? left * successors.length / span : 1
    return Math.log2(Math.max(2, nodesBetween)) / this.settings.fingerBits + 2
  }
}

/** Hops a final forward is allowed: the owner, or a short walk back from it */
const FINAL_HOPS = 2

/** A forward's expected path: hops beyond the next (an estimate), the wait they are allowed and when its next hop is probed, ms */
export interface PathEstimate {
  hops: number
  allowance: number
  watchAfter: number
}

/** Position of a ring distance as a fraction of the whole ring */
function ringFraction (d: bigint): number {
  return Number(d >> BigInt(RING_BITS - 53)) / 2 ** 53
}
