/**
 * What a node believes about other peers' liveness, and its estimate of the
 * network's round-trip time — the failure detector of the ring.
 *
 * Theory of operation:
 * - Any word from a peer (an answer, or a request it sent) proves it alive
 * and clears every mark on it.
 * - A peer that missed one probe is *silent*: lookups route around it as a
 * next hop while a second probe settles it. One lost message must not cost a
 * live peer its place, so a silent peer keeps its roles.
 * - A peer that failed a direct request (unreachable, or silent twice) is
 * dead: forgotten by the routing table and not re-learned for
 * `suspectTimeoutMs`.
 * - Lookups are judged apart from liveness: a peer can answer every probe
 * and still swallow or lie about the lookups it is sent. A next hop that
 * proved it lies (a malformed answer) is distrusted, and one that left `LATE_LOOKUP_STREAK`
 * lookups in a row without any answer is shunned; either way lookups route
 * around it for a while, but it keeps its place (as a predecessor it still
 * owns its keys), and no word from it lifts the mark early.
 * - Round trips of direct requests (not forwarded ones, whose time includes
 * the rest of a path) feed a smoothed RTT: the unit of probe waits, and of
 * hop waits until forwards have been answered; answered forwards feed a
 * smoothed time per hop of a path, the unit of hop waits from then on.
 */

import { DISTRUST_MS, FRESH_CONTACT_MS, HOP_DEVIATION_GAIN, HOP_TIME_GAIN, HOP_WAIT_DEVIATIONS, HOP_WAIT_RTTS, INITIAL_RTT_MS, MIN_HOP_WAIT_MS, LATE_LOOKUP_STREAK, PROBE_WAIT_RTTS, RTT_SMOOTHING, SHUN_MS, WATCH_FRACTION } from './settings.ts'
import type { Address, Clock } from './seams.ts'
import type { RingSettings } from './settings.ts'

export class Liveness {
  private readonly clock: Clock
  private readonly settings: RingSettings
  /** Smoothed round-trip time of direct requests, ms: the unit of every hop wait */
  private rtt = INITIAL_RTT_MS
  /** When each peer last answered us or sent us a request */
  private readonly heardFrom = new Map<Address, number>()
  /** Peers that failed a direct request (unreachable, or silent twice): forgotten and not re-learned for a while */
  private readonly dead = new Map<Address, number>()
  /** Peers that missed one probe, until when: routed around while a second probe checks them */
  private readonly silent = new Map<Address, number>()
  /** Next hops that lied about lookups or let them go unanswered, until when: lookups route around them */
  private readonly shunned = new Map<Address, number>()
  /** Lookups in a row each next hop left without any answer */
  private readonly lateStreak = new Map<Address, number>()
  /** Smoothed time per estimated hop of the paths we forwarded to, and its mean deviation, ms; undefined before the first answer */
  private hopTime?: number
  private hopDeviation = 0

  constructor (clock: Clock, settings: RingSettings) {
    this.clock = clock
    this.settings = settings
  }

  /** Smoothed round-trip time of direct requests, ms */
  get roundTripMs (): number {
    return this.rtt
  }

  /** Whether `address` failed a direct request recently (routing avoids it) */
  isDead (address: Address): boolean {
    return isMarked(this.dead, address, this.clock.now())
  }

  /** Whether `address` missed a probe and is being checked again (lookups route around it) */
  isSilent (address: Address): boolean {
    return isMarked(this.silent, address, this.clock.now())
  }

  /** Whether lookups route around `address` for what it did to earlier lookups (see `distrust`, `lookupUnanswered`) */
  isShunned (address: Address): boolean {
    return isMarked(this.shunned, address, this.clock.now())
  }

  /** `address` proved it lies about lookups: not a next hop for `DISTRUST_MS` */
  distrust (address: Address): void {
    this.shunned.set(address, Math.max(this.shunned.get(address) ?? 0, this.clock.now() + DISTRUST_MS))
    this.lateStreak.delete(address)
  }

  /**
   * A lookup forwarded to `address` got no answer at all within its whole
   * wait (a hop on the way reports a failure back before that), the peer
   * being alive as far as we know
   */
  lookupUnanswered (address: Address): void {
    const streak = (this.lateStreak.get(address) ?? 0) + 1
    if (streak < LATE_LOOKUP_STREAK) {
      this.lateStreak.set(address, streak)
      return
    }
    this.lateStreak.delete(address)
    this.shunned.set(address, Math.max(this.shunned.get(address) ?? 0, this.clock.now() + SHUN_MS))
  }

  /** `address` answered a lookup we sent it (whatever the answer): its streak of late ones ends */
  lookupAnswered (address: Address): void {
    this.lateStreak.delete(address)
  }

  /** Whether a silent mark on `address` is still standing (expired or not): the check that set it has not ended */
  isBeingChecked (address: Address): boolean {
    return this.silent.has(address)
  }

  /** Whether `address` answered us or sent us a request within `FRESH_CONTACT_MS` */
  heardRecently (address: Address): boolean {
    const heard = this.heardFrom.get(address)
    return heard != null && this.clock.now() - heard < FRESH_CONTACT_MS
  }

  /** `address` sent us a request: it is alive */
  requestFrom (address: Address): void {
    this.dead.delete(address)
    this.silent.delete(address)
    this.heardFrom.set(address, this.clock.now())
  }

  /**
   * `address` answered a request sent at `sentAt`; a direct request's round
   * trip is one sample of the network's RTT
   */
  answered (address: Address, sentAt: number, direct: boolean): void {
    this.heardFrom.set(address, this.clock.now())
    this.silent.delete(address)
    // a loaded page misses a deadline and is marked dead while it lives on: its answer ends the
    // mark, or every role would pass it over for the whole `suspectTimeoutMs`
    this.dead.delete(address)
    if (direct) {
      this.rtt += RTT_SMOOTHING * (this.clock.now() - sentAt - this.rtt)
    }
  }

  /** `address` failed a direct request: dead for `suspectTimeoutMs` */
  markDead (address: Address): void {
    this.dead.set(address, this.clock.now() + this.settings.suspectTimeoutMs)
    this.silent.delete(address)
    this.heardFrom.delete(address)
    this.lateStreak.delete(address)
  }

  /** `address` left gracefully: avoided for `suspectTimeoutMs` like a dead peer */
  markLeft (address: Address): void {
    this.dead.set(address, this.clock.now() + this.settings.suspectTimeoutMs)
  }

  /** `address` missed a probe: routed around until `untilMs` unless heard from before */
  markSilent (address: Address, untilMs: number): void {
    this.silent.set(address, untilMs)
  }

  /** Evidence against `address` too weak to route around it: the next lookup through it probes it first */
  doubt (address: Address): void {
    this.heardFrom.delete(address)
  }

  /** Drops dead marks that have run out, and contacts too old to count as fresh */
  expire (): void {
    const now = this.clock.now()
    for (const [address, until] of this.dead) {
      if (until <= now) {
        this.dead.delete(address)
      }
    }
    for (const [address, until] of this.shunned) {
      if (until <= now) {
        this.shunned.delete(address)
      }
    }
    for (const [address, at] of this.heardFrom) {
      if (now - at > FRESH_CONTACT_MS) {
        this.heardFrom.delete(address)
      }
    }
  }

  /** Deadline of a probe before a forward, ms */
  probeWait (): number {
    // floored like the hop wait: on loopback a few RTTs are a few ms, less than a busy page takes
    // to answer, and a missed probe now makes lookups route around the peer
    return Math.max(MIN_HOP_WAIT_MS, Math.min(this.settings.directRequestMs, PROBE_WAIT_RTTS * this.rtt))
  }

  /**
   * A forward we sent was answered `ms` later, its path estimated at `hops`
   * hops beyond us: one sample of the time per estimated hop. Per estimated
   * hop, not per hop the answer reports: the estimate is what a wait
   * multiplies, so a bias in it (or a count a hostile hop made up) is learned
   * away, and the deviation is that of whole paths
   */
  pathAnswered (ms: number, hops: number): void {
    if (!Number.isFinite(ms) || ms < 0 || !(hops > 0)) {
      return
    }
    const sample = ms / hops
    if (this.hopTime == null) {
      this.hopTime = sample
      this.hopDeviation = sample / 2
      return
    }
    this.hopDeviation += HOP_DEVIATION_GAIN * (Math.abs(this.hopTime - sample) - this.hopDeviation)
    this.hopTime += HOP_TIME_GAIN * (sample - this.hopTime)
  }

  /**
   * What one estimated hop of a forwarded request should take, ms: `allowed`
   * is the wait past which another path is tried beside it, `watchAfter` the
   * time past which its next hop is probed. Learned from the paths we
   * forwarded to (TCP's retransmission timeout, RFC 6298: the smoothed time
   * plus `HOP_WAIT_DEVIATIONS` mean deviations); before any answered,
   * `HOP_WAIT_RTTS` round trips, with the watch at `WATCH_FRACTION` of that
   */
  hopWait (): { allowed: number, watchAfter: number } {
    if (this.hopTime == null) {
      const allowed = this.boundHopWait(HOP_WAIT_RTTS * this.rtt)
      return { allowed, watchAfter: WATCH_FRACTION * allowed }
    }
    return {
      allowed: this.boundHopWait(this.hopTime + HOP_WAIT_DEVIATIONS * this.hopDeviation),
      watchAfter: this.boundHopWait(this.hopTime + this.hopDeviation)
    }
  }

  private boundHopWait (ms: number): number {
    // floored: on a sub-millisecond network (loopback, in-process) a few RTTs would be too short
    // to forward at all
    return Math.max(MIN_HOP_WAIT_MS, Math.min(this.settings.hopTimeoutMs, ms))
  }
}

function isMarked (marks: Map<Address, number>, address: Address, now: number): boolean {
  const until = marks.get(address)
  if (until == null) {
    return false
  }
  if (until <= now) {
    marks.delete(address)
    return false
  }
  return true
}
