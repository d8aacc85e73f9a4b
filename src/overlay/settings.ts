/**
 * The ring's tunables: named defaults with units, the `RingNodeInit` fields
 * that override them, and `resolveSettings`, which applies the defaults once
 * so that no part of the node reads `init.x ?? DEFAULT` later.
 */

import { fingerCount } from './ring-id.ts'
import type { RequestSharesInit } from './request-shares.ts'
import type { PeersChange } from './routing-state.ts'
import type { Address, Peer } from './seams.ts'
import type { RingApplication } from './types.ts'

/** Bits of the key each finger level resolves: fingers have base 2^bits (k-ary Chord) */
export const FINGER_BITS = 2
/** Successors kept for crash tolerance */
export const SUCCESSOR_LIST_SIZE = 8
/** Time between stabilize rounds, ms */
export const STABILIZE_INTERVAL_MS = 5_000
/** Time between finger repairs, ms */
export const FIX_FINGERS_INTERVAL_MS = 5_000
/**
 * Stabilize and finger rounds back off while a node's neighbourhood stays as
 * it was, and return to their base period when it changes (see
 * adaptive-interval.ts)
 */
export const ADAPTIVE_MAINTENANCE = true
/** The longest period an adaptive round backs off to, as a multiple of its base period */
export const MAINTENANCE_BACKOFF = 16
/** Maintenance periods vary by ± half this fraction, so nodes do not fall into lock-step */
export const MAINTENANCE_JITTER = 0.2
/**
 * Upper bound of the wait per hop, ms; the deadline of a direct request
 * (stabilize, probe, notice, application message) is twice this (see
 * `RingSettings.directRequestMs`)
 */
export const HOP_TIMEOUT_MS = 500
/** Wait per remaining hop of a forwarded request before any forward was answered, in measured round-trip times */
export const HOP_WAIT_RTTS = 4
/**
 * Wait per remaining hop of a forwarded request: the measured time per hop
 * plus this many of its mean deviations. With TCP's 4, a requester in a
 * 1 000-page simulation was still allowed nearly its whole wait for a path,
 * so little time was left to try another beside a swallowed one (fetch p95
 * at 10 % swallowing pages 1.79× the baseline's, against 1.49× with 2, for
 * 9 % more probe bytes; bench/RESULTS.md)
 */
export const HOP_WAIT_DEVIATIONS = 2
/** Weights of a new sample in the time per hop and its deviation (RFC 6298's α and β) */
export const HOP_TIME_GAIN = 0.125
export const HOP_DEVIATION_GAIN = 0.25
/**
 * A peer not heard from for this long is probed (one round trip, short
 * deadline) before a lookup is forwarded through it, ms
 */
export const FRESH_CONTACT_MS = 3_000
/** Deadline of that probe, in measured round-trip times */
export const PROBE_WAIT_RTTS = 4
/**
 * Before any forward was answered, a forwarded request not answered within
 * this fraction of its hop allowance gets its next hop probed (that
 * allowance is several times the path's expected time); later, one not
 * answered within the measured time plus one deviation (`Liveness.hopWait`)
 */
export const WATCH_FRACTION = 0.3
/** Round-trip estimate before anything was measured, ms */
export const INITIAL_RTT_MS = 150
/** Weight of a new round-trip sample in the running estimate */
export const RTT_SMOOTHING = 0.1
/** Time budget of a lookup from its origin, ms */
export const LOOKUP_TIMEOUT_MS = 10_000
/**
 * A routed request's budget, as it arrives from another node, is cut to
 * this, ms: the unsigned field would let a sender make us hold a forward
 * for 49 days
 */
export const MAX_ROUTE_BUDGET_MS = 60_000
/** Hops a routed request may take before it fails with `HopLimitError` */
export const MAX_HOPS = 48
/** Next-hop attempts at one node before it gives up with `LookupFailedError` */
export const MAX_HOP_ATTEMPTS = 4
/** How long a peer that failed to answer is avoided, ms */
export const SUSPECT_TIMEOUT_MS = 30_000
/**
 * A peer that proved it lies about lookups (its answer named a malformed
 * owner, which no honest node sends) is not used as a next hop for this long, ms
 */
export const DISTRUST_MS = 10 * 60_000
/**
 * A next hop that left this many lookups in a row without any answer within
 * their whole wait, while it answers probes (a peer that swallows lookups),
 * is not used as a next hop for `SHUN_MS`; any lookup it answers ends the
 * streak
 */
export const LATE_LOOKUP_STREAK = 2
/** How long a next hop that let lookups go unanswered is routed around, ms */
export const SHUN_MS = 2 * 60_000
/** Peers a routed request names as avoided by the hops before (longer lists are cut to the newest) */
export const MAX_AVOIDED_HOPS = 8
/**
 * Fraction of the remaining budget a node keeps when it forwards: for retries
 * at the requester, to report a failure back at a hop on the way (at most a
 * round trip there)
 */
export const RETRY_RESERVE = 0.15

/** Stabilize rounds a joining node runs to be taken as its successor's predecessor */
export const JOIN_CONFIRM_ROUNDS = 3
/**
 * Direct-request deadlines a stabilize waits out while the transport is
 * setting up a connection to the successor (libp2p's own dial deadline,
 * 10 s, normally ends the set-up first)
 */
export const SETUP_WAITS = 10
/** Stabilize rounds a member may go without a predecessor before it checks its place in the ring */
export const ORPHAN_GRACE_ROUNDS = 1
/**
 * Stabilize rounds without word from our predecessor after which we check our
 * place in the ring (a live predecessor that still points at us stabilizes
 * with us every round; it is dropped after `predecessorTimeoutMs`)
 */
export const QUIET_PREDECESSOR_ROUNDS = 2
/** Stabilize rounds between two placement checks of a member */
export const PLACEMENT_CHECK_ROUNDS = 2
/**
 * Stabilize rounds between the placement checks every member makes even when
 * its neighbourhood looks right: a ring whose successor pointers wind around
 * it twice looks right locally everywhere, and only a lookup from elsewhere
 * shows it (Chord paper, §4 "loopy" rings). One lookup per member every two
 * minutes at the default round.
 */
export const PLACEMENT_CHECK_PERIOD_ROUNDS = 24
/**
 * While rounds are backed off, the periodic placement check's period
 * stretches with them, up to this many times its base (8 minutes at the
 * default round)
 */
export const PLACEMENT_CHECK_BACKOFF = 4
/** Nudges closer together than this are folded into one stabilize round, ms */
export const NUDGE_INTERVAL_MS = 500
/** Predecessor probes one finger repair may walk back before settling */
export const PROBE_STEPS = 3
/** Smallest wait per hop, whatever the measured round-trip time, ms */
export const MIN_HOP_WAIT_MS = 100
/** Below this, a forwarded request cannot complete a single round trip, ms */
export const MIN_HOP_BUDGET_MS = 50

export interface RingNodeInit {
  /** This node's ring position and address */
  self: Peer
  /**
   * Rings of different namespaces never mix: requests for another namespace
   * are refused with `WrongNamespaceError`
   *
   * @default ''
   */
  namespace?: string
  /** @default SUCCESSOR_LIST_SIZE (8) */
  successorListSize?: number
  /**
   * Fingers have base 2^fingerBits: 1 is classic Chord (log2 N fingers, ½·log2 N
   * hops), 2 halves the hops for three times the fingers
   *
   * @default FINGER_BITS (2)
   */
  fingerBits?: number
  /** @default STABILIZE_INTERVAL_MS (5 s) */
  stabilizeIntervalMs?: number
  /** @default FIX_FINGERS_INTERVAL_MS (5 s) */
  fixFingersIntervalMs?: number
  /**
   * A predecessor that has not stabilized with us for this long is dropped
   *
   * @default 3 × stabilizeIntervalMs
   */
  predecessorTimeoutMs?: number
  /** @default HOP_TIMEOUT_MS (500 ms) */
  hopTimeoutMs?: number
  /** @default LOOKUP_TIMEOUT_MS (10 s) */
  lookupTimeoutMs?: number
  /** @default MAX_HOPS (48) */
  maxHops?: number
  /** @default SUSPECT_TIMEOUT_MS (30 s) */
  suspectTimeoutMs?: number
  /** @default MAINTENANCE_JITTER (0.2) */
  jitter?: number
  /**
   * Stabilize and fix-fingers rounds back off (doubling, up to
   * `maintenanceBackoff` times their base period) while nothing changes
   * around the node, and return to the base period when something does. Off:
   * every round at its base period, as before.
   *
   * @default ADAPTIVE_MAINTENANCE (true)
   */
  adaptiveMaintenance?: boolean
  /** @default MAINTENANCE_BACKOFF (16) */
  maintenanceBackoff?: number
  /**
   * A member without a predecessor for a while looks up its own id from
   * elsewhere in the ring so that the node skipping it adopts it (see
   * `checkPlacement`). Switch it off only to measure what it buys.
   *
   * @default true
   */
  placementChecks?: boolean
  /**
   * Bounds on the requests that wait on work here (forwards, application
   * messages): per sender, and a fair share each once many wait
   *
   * @default MAX_WAITING_REQUESTS_PER_PEER (32) per sender, MAX_WAITING_REQUESTS (512) in all
   */
  requestShares?: RequestSharesInit
  /** What the node does as home of a key; may also be set later with `setApplication` */
  application?: RingApplication
  /**
   * Addresses of members to rejoin through when the node has lost every
   * successor, finger and predecessor (e.g. a relay's live member list)
   */
  bootstrap?(): Address[]
  /**
   * The ring id an address is bound to (the adapter's id binding), or
   * undefined: lets a join ask the contact nearest its own place first
   * (see join-order.ts)
   */
  idOf?(address: Address): bigint | undefined
  /** Peers entered or left the routing state: the connections worth keeping changed */
  onNeighboursChanged?(change: PeersChange): void
  /**
   * The least wait this node tells its successor to expect before its next
   * stabilize round, ms, read at each round; undefined: no floor. For a node
   * whose timers may fire later than it scheduled them (a hidden browser
   * page, which Chromium may hold to a wake-up a minute): the successor
   * stretches its predecessor timeout to match instead of dropping it
   * between two late rounds. The successor accepts at most its own longest
   * round; a node with fixed rounds (`adaptiveMaintenance: false`)
   * announces none.
   */
  roundFloorMs?(): number | undefined
}

/** `RingNodeInit` with every default applied */
export interface RingSettings {
  readonly self: Peer
  readonly namespace: string
  readonly successorListSize: number
  readonly fingerBits: number
  /** Index of the farthest finger */
  readonly topFinger: number
  readonly stabilizeIntervalMs: number
  readonly fixFingersIntervalMs: number
  readonly predecessorTimeoutMs: number
  /** Upper bound of the wait per hop of a forwarded request, ms */
  readonly hopTimeoutMs: number
  /**
   * Deadline of a direct request — one round trip to a known peer, not
   * forwarded (stabilize, probe, nudge, leave notice, application message) —
   * ms: twice the longest wait per hop
   */
  readonly directRequestMs: number
  readonly lookupTimeoutMs: number
  readonly maxHops: number
  readonly suspectTimeoutMs: number
  readonly jitter: number
  /** The longest round as a multiple of its base period: 1 when maintenance does not adapt */
  readonly maintenanceBackoff: number
  readonly placementChecks: boolean
}

export function resolveSettings (init: RingNodeInit): RingSettings {
  const stabilizeIntervalMs = init.stabilizeIntervalMs ?? STABILIZE_INTERVAL_MS
  const hopTimeoutMs = init.hopTimeoutMs ?? HOP_TIMEOUT_MS
  const fingerBits = init.fingerBits ?? FINGER_BITS
  return {
    self: init.self,
    namespace: init.namespace ?? '',
    successorListSize: init.successorListSize ?? SUCCESSOR_LIST_SIZE,
    fingerBits,
    topFinger: fingerCount(fingerBits) - 1,
    stabilizeIntervalMs,
    fixFingersIntervalMs: init.fixFingersIntervalMs ?? FIX_FINGERS_INTERVAL_MS,
    predecessorTimeoutMs: init.predecessorTimeoutMs ?? 3 * stabilizeIntervalMs,
    hopTimeoutMs,
    directRequestMs: 2 * hopTimeoutMs,
    lookupTimeoutMs: init.lookupTimeoutMs ?? LOOKUP_TIMEOUT_MS,
    maxHops: init.maxHops ?? MAX_HOPS,
    suspectTimeoutMs: init.suspectTimeoutMs ?? SUSPECT_TIMEOUT_MS,
    jitter: init.jitter ?? MAINTENANCE_JITTER,
    maintenanceBackoff: (init.adaptiveMaintenance ?? ADAPTIVE_MAINTENANCE) ? Math.max(1, init.maintenanceBackoff ?? MAINTENANCE_BACKOFF) : 1,
    placementChecks: init.placementChecks ?? true
  }
}
