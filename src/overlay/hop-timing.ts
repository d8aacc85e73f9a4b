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
   */
  wait (remaining: number, requester: boolean): number {
    if (requester) {
      return remaining * (1 - RETRY_RESERVE)
    }
    return remaining - this.reportReserve(remaining)
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
   * The allowance of a forward to `next`: a wait per hop still to go,
   * estimated from the distance left and the ring density our successor list
   * shows (a lookup halves the distance per hop on average)
   */
  allowance (next: bigint, key: bigint, final: boolean): number {
    const perHop = this.liveness.perHopWait()
    const successors = this.table.state.successors
    const last = successors[successors.length - 1]
    if (final || last == null) {
      // the owner, or a short walk back from it
      return 2 * perHop
    }
    // nodes per unit of ring distance, from the span of our successor list
    const span = ringFraction(distance(this.self.id, last.id))
    const left = ringFraction(distance(next, key))
    const nodesBetween = span > 0 ? left * successors.length / span : 1
    const hops = Math.log2(Math.max(2, nodesBetween)) / this.settings.fingerBits + 2
    return perHop * hops
  }
}

/** Position of a ring distance as a fraction of the whole ring */
function ringFraction (d: bigint): number {
  return Number(d >> BigInt(RING_BITS - 53)) / 2 ** 53
}
