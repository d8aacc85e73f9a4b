/**
 * Placement repair: members that nobody's successor pointer reaches find
 * the node that skips them and get adopted.
 *
 * Theory of operation: a member that has had no predecessor for a while,
 * or whose predecessor has stopped stabilizing with it, may sit where the
 * node before it points past it. This happens after bursts of concurrent
 * joins, when lookups answered during the burst handed joiners successors
 * too far ahead. Chord's stabilize repairs such a stretch only one node per
 * round, and meanwhile the orphans deliver keys that are not theirs. So the
 * orphan looks up its own id from elsewhere in the ring, naming itself as
 * the request's `origin`: the walk ends at the node whose successor interval
 * covers the orphan's id — the node that skips it — which adopts it as
 * successor. Every member also checks now and then even when its
 * neighbourhood looks right: a ring whose successor pointers wind around it
 * twice looks right locally everywhere (Chord paper, §4 "loopy" rings).
 */

import { inOpen } from './interval.ts'
import { RingRequest } from './messages.ts'
import { requireField } from './ring-client.ts'
import { compareIds, distance } from './ring-id.ts'
import { ORPHAN_GRACE_ROUNDS, PLACEMENT_CHECK_BACKOFF, PLACEMENT_CHECK_PERIOD_ROUNDS, PLACEMENT_CHECK_ROUNDS, QUIET_PREDECESSOR_ROUNDS } from './settings.ts'
import { peerFromWire, peerToWire } from './wire.ts'
import type { RingContext } from './context.ts'
import type { Forwarder } from './forwarder.ts'
import type { Liveness } from './liveness.ts'
import type { RingClient } from './ring-client.ts'
import type { RoutingTable } from './routing-table.ts'
import type { Address, Clock, Peer } from './seams.ts'
import type { RingSettings } from './settings.ts'

export interface PlacementRepairInit {
  forwarder: Forwarder
  /** Runs a stabilize round soon (a newly adopted successor should hear from us now) */
  nudge(): void
  /** The stabilize period now, ms: longer than the base while the neighbourhood is quiet */
  roundMs(): number
}

export class PlacementRepair {
  private readonly ctx: RingContext
  private readonly self: Peer
  private readonly settings: RingSettings
  private readonly clock: Clock
  private readonly liveness: Liveness
  private readonly table: RoutingTable
  private readonly client: RingClient
  private readonly forwarder: Forwarder
  private readonly nudge: () => void
  private readonly roundMs: () => number
  /** Since when this member has had no predecessor (undefined: it has one) */
  private orphanSince?: number
  private lastPlacementCheck = -Infinity
  /** Members adopted through their placement checks lately, with when (see `passOnAdopted`) */
  private readonly adopted = new Map<Address, { peer: Peer, at: number }>()
  private checkingPlacement = false

  constructor (ctx: RingContext, init: PlacementRepairInit) {
    this.ctx = ctx
    this.self = ctx.self
    this.settings = ctx.settings
    this.clock = ctx.clock
    this.liveness = ctx.liveness
    this.table = ctx.table
    this.client = ctx.client
    this.forwarder = init.forwarder
    this.nudge = init.nudge
    this.roundMs = init.roundMs
  }

  /** A new member: not an orphan, and its periodic check gets a random phase */
  reset (): void {
    this.orphanSince = undefined
    // members that join together must not check together: the periodic check gets a random phase
    this.lastPlacementCheck = this.clock.now() - PLACEMENT_CHECK_PERIOD_ROUNDS * this.settings.stabilizeIntervalMs * this.ctx.random.next()
  }

  /** Whether members were adopted lately whose checks may need passing on */
  hasAdopted (): boolean {
    return this.adopted.size > 0
  }

  /**
   * A member that has had no predecessor for a while, or whose predecessor
   * has stopped stabilizing with it, may sit where nobody's successor pointer
   * reaches it: the node before it points past it. This
   * happens after bursts of concurrent joins, when lookups answered during the
   * burst handed joiners successors too far ahead. Chord's stabilize repairs
   * such a stretch only one node per round (each node's successor walks back
   * one predecessor at a time), and meanwhile the orphans deliver keys that are
   * not theirs. So the orphan looks up its own id from elsewhere in the ring,
   * naming itself as the request's `origin`: the walk ends at the node whose
   * successor interval covers the orphan's id — the node that skips it — which
   * adopts it as successor (`adoptSkipped`). One round trip per orphan instead
   * of one stabilize round per node of the stretch; a settled ring has no
   * orphans, so this costs nothing there.
   */
  async checkPlacement (): Promise<void> {
    const now = this.clock.now()
    const round = this.settings.stabilizeIntervalMs
    if (!this.ctx.isMember() || !this.settings.placementChecks) {
      return
    }
    // the periodic check thins out with the rounds while the neighbourhood is quiet (a ring winds
    // around twice only after bursts of joins, which bring the rounds back to their base), but
    // not below a few times the base rate
    const periodicRound = Math.min(this.roundMs(), PLACEMENT_CHECK_BACKOFF * round)
    const due = now - this.lastPlacementCheck >= PLACEMENT_CHECK_PERIOD_ROUNDS * periodicRound
    if (this.table.state.predecessor != null) {
      this.orphanSince = undefined
      if (!due && this.table.predecessorQuietMs() < QUIET_PREDECESSOR_ROUNDS * round) {
        return
      }
    } else {
      this.orphanSince ??= now
      if (!due && now - this.orphanSince < ORPHAN_GRACE_ROUNDS * round) {
        return
      }
    }
    if (this.checkingPlacement || now - this.lastPlacementCheck < PLACEMENT_CHECK_ROUNDS * round) {
      return
    }
    // start the walk away from our neighbourhood, whose view of it is what may be wrong: at a
    // random member if we know some (a loop of the ring we are not on is reached only from there),
    // else at one of our fingers
    const succ = this.table.state.successors[0]
    const fingers = this.table.distinctFingers().filter(p => p.address !== succ?.address && !this.liveness.isDead(p.address)).map(p => p.address)
    const members = this.ctx.bootstrap().filter(a => a !== this.self.address && a !== succ?.address && !this.liveness.isDead(a))
    // in a ring of a few nodes our successor may be the only one we know: a walk from it still ends
    // at the node that skips us
    let entries = members.length > 0 ? members : fingers
    if (entries.length === 0 && succ != null) {
      entries = [succ.address]
    }
    if (entries.length === 0) {
      return
    }
    const entry = entries[Math.floor(this.ctx.random.next() * entries.length)]
    this.lastPlacementCheck = now
    this.checkingPlacement = true
    try {
      const res = await this.client.call(entry, {
        type: RingRequest.Type.ROUTE,
        route: { ...this.forwarder.request(this.self.id, { maintenance: true }), origin: peerToWire(this.self) }
      }, this.settings.lookupTimeoutMs)
      const owner = peerFromWire(requireField(res.route, 'route').owner)
      if (owner.address !== this.self.address) {
        this.ctx.log('placement check: the ring routes our id to %s', owner.address)
      }
    } catch (err: any) {
      this.ctx.log.trace('placement check through %s failed: %s', entry, err.message)
    } finally {
      this.checkingPlacement = false
    }
  }

  /**
   * `origin` (a member looking up its own id) lies between us and our
   * successor: our successor pointer skips it, so it is our successor now.
   * When `from` is the origin it sent the request moments ago, so it is
   * alive; a request passed on by another node names a third party, which
   * is believed only once it answers a probe of ours. Our next stabilize tells
   * it we precede it (nudged, so that this happens now rather than next round).
   */
  async adoptSkipped (origin: Peer, from: Address, signal?: AbortSignal): Promise<void> {
    if (!this.skips(origin)) {
      return
    }
    if (origin.address !== from) {
      // a claim about a third party is believed only once that party confirms it: a ROUTE naming
      // a dead or made-up origin just past us would otherwise take over our successor's keys.
      // One probe, and only when an adoption is due (rare: a settled ring has no orphans)
      try {
        requireField((await this.client.direct(origin.address, { type: RingRequest.Type.PROBE }, signal)).stabilize, 'stabilize')
      } catch {
        return
      }
      // our view may have moved on while we waited
      if (!this.skips(origin)) {
        return
      }
    }
    this.table.replaceSuccessors([origin, ...this.table.state.successors])
    this.adopted.set(origin.address, { peer: origin, at: this.clock.now() })
    this.nudge()
  }

  /** Whether our successor pointer skips `origin`: it lies between us and our successor */
  skips (origin: Peer): boolean {
    const succ = this.table.state.successors[0]
    return succ != null && origin.address !== this.self.address && !this.liveness.isDead(origin.address) && inOpen(origin.id, this.self.id, succ.id)
  }

  /**
   * Several members of a skipped stretch check their placement at once, and
   * all of their walks end here: we adopt each in turn, keep the closest as
   * successor, and learn from our successor's answer that its successor
   * pointer skips the others too. Rather than leave them to check again a
   * round later, one by one, we send each one's check on its behalf to the
   * adopted member just before it (the same ROUTE request with it as origin),
   * so the whole stretch is linked in one round.
   */
  passOnAdopted (succ: Peer, next: Peer | undefined): void {
    const now = this.clock.now()
    const skipped: Peer[] = []
    for (const [address, { peer, at }] of this.adopted) {
      if (now - at > QUIET_PREDECESSOR_ROUNDS * this.settings.stabilizeIntervalMs || this.liveness.isDead(address)) {
        this.adopted.delete(address)
      } else if (address !== succ.address && inOpen(peer.id, succ.id, (next ?? this.self).id)) {
        skipped.push(peer)
        this.adopted.delete(address)
      }
    }
    skipped.sort((a, b) => compareIds(distance(succ.id, a.id), distance(succ.id, b.id)))
    let before = succ
    for (const peer of skipped) {
      this.client.call(before.address, {
        type: RingRequest.Type.ROUTE,
        route: { ...this.forwarder.request(peer.id, { maintenance: true, timeout: this.settings.directRequestMs }), origin: peerToWire(peer) }
      }, this.settings.directRequestMs).catch(() => {})
      before = peer
    }
  }
}
