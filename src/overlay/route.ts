/**
 * The hop decision: given a node's routing state and a key, deliver here or
 * forward to which candidates, best first. Pure: no I/O, no time, no state
 * changes, so it is table-tested and the simulator and libp2p run the very
 * same decision.
 *
 * Theory of operation (recursive Chord routing):
 * - A node owns the keys in `(predecessor, self]`. It delivers a key it owns.
 * - If the key lies in `(self, successor]`, the successor owns it: forward
 * with `final` set ("I believe you own this"). The next successors follow
 * as fall-backs: if the successor is dead, its keys belong to the next one.
 * - Otherwise forward to the known node that most closely precedes the key
 * (fingers and successors), then the next-closest ones as fall-backs.
 * - A node receiving a `final` request for a key just behind it that it does
 * not own by its own view either has no (live) predecessor — then nobody
 * closer is known and it delivers — or knows a predecessor between the key
 * and itself: a node joined there, so it walks the request back to that
 * predecessor. A `final` request for a key ahead of it is routed forward.
 * A node with no predecessor that knows no node between the key and itself
 * delivers wherever the key lies: it is the key's closest known owner.
 * - Suspects (peers that recently timed out) are skipped, and only tried as
 * a last resort when nothing else is left.
 * - Only a predecessor known to be gone (`gone`: it failed direct requests)
 * hands us its keys. One merely avoided by this lookup (its part of the walk
 * was slow) may still own them: delivering in its place would be a wrong
 * answer, so the walk goes back to it again, or fails.
 * - Except when the lookup found that very predecessor swallowing or lying
 * about it (`answerFor`: the request's avoid list) and sends us the key as
 * its owner's next successor: walking back would end where the lookup
 * already failed, so we answer for the predecessor (`answer-for`): it stays
 * the owner named, and the application answers from the replica it keeps of
 * its predecessor's state. A hostile page then costs the lookups for the
 * keys it owns a detour, not the answer.
 */

import { inHalfOpen, inOpen } from './interval.ts'
import { compareIds, distance } from './ring-id.ts'
import { knownPeers } from './routing-state.ts'
import type { RoutingState } from './routing-state.ts'
import type { Address, Peer } from './seams.ts'

export interface NextHop {
  peer: Peer
  /** The sender believes `peer` owns the key */
  final: boolean
}

export type RouteDecision =
  | { type: 'deliver' }
  | { type: 'forward', hops: NextHop[] }
  /** Our predecessor owns the key but swallowed or lied about this lookup: we answer in its name */
  | { type: 'answer-for', owner: Peer }

export interface SuspectSet {
  has(address: Address): boolean
}

const NO_SUSPECTS: SuspectSet = { has: () => false }

/** How many candidates `route` returns at most */
export const MAX_CANDIDATES = 4

export interface RouteOptions {
  /** Peers to route around (skipped unless nothing else is left) */
  suspects?: SuspectSet
  /**
   * Peers known to be gone: only a gone predecessor hands us its keys
   *
   * @default suspects
   */
  gone?: SuspectSet
  /** The sender believes we own the key (see the theory of operation above) */
  final?: boolean
  /**
   * Peers this lookup found swallowing or lying about it: a predecessor among
   * them that owns the key is answered for, not walked back to
   *
   * @default none
   */
  answerFor?: SuspectSet
  /** @default MAX_CANDIDATES */
  maxCandidates?: number
}

export function route (state: Readonly<RoutingState>, key: bigint, options: RouteOptions = {}): RouteDecision {
  const { suspects, gone, final, maxCandidates, answerFor } = withDefaults(options)
  const self = state.self
  const pred = state.predecessor != null && !gone.has(state.predecessor.address) ? state.predecessor : undefined

  if (key === self.id || (pred != null && inHalfOpen(key, pred.id, self.id))) {
    return { type: 'deliver' }
  }

  if (final && pred == null && !knownPeers(state).some(peer => inOpen(peer.id, key, self.id))) {
    // no predecessor yet (we just joined) and no known node between the key and us: we are the
    // closest node known to own it, however far behind us it lies. In a small ring a newcomer's
    // arc spans more than half the ring, and sending the request on would bring it straight back
    return { type: 'deliver' }
  }
  const back = final ? behind(state, key, pred, answerFor, suspects) : undefined
  if (back != null) {
    return back
  }
  // (a `final` request for a key ahead of us was misdirected: route it forward like any other)

  const live = state.successors.filter(p => !suspects.has(p.address))
  if (live.length === 0 && state.successors.length === 0) {
    // alone in the ring (or lost every successor): everything is ours
    return { type: 'deliver' }
  }

  if (live.length > 0 && inHalfOpen(key, self.id, live[0].id)) {
    return {
      type: 'forward',
      hops: live.slice(0, maxCandidates).map(peer => ({ peer, final: true }))
    }
  }

  const preceding = closestPreceding(state, key, suspects, maxCandidates)
  if (preceding.length > 0) {
    return { type: 'forward', hops: preceding.map(peer => ({ peer, final: false })) }
  }

  // only suspects are left: try them rather than give up
  const desperate = state.successors.slice(0, maxCandidates)
  if (desperate.length > 0 && inHalfOpen(key, self.id, desperate[0].id)) {
    return { type: 'forward', hops: desperate.map(peer => ({ peer, final: true })) }
  }
  return { type: 'forward', hops: closestPreceding(state, key, NO_SUSPECTS, maxCandidates).map(peer => ({ peer, final: false })) }
}

/**
 * A `final` request for a key that is not ours: `undefined` when the key
 * lies ahead of us (the request was misdirected and is routed forward like
 * any other). A key behind us: with no (live) predecessor we are the closest
 * node known to own it; otherwise our predecessor lies between the key and
 * us, so it (or a node before it) owns it, and we walk back to it. Unless
 * this lookup found that predecessor swallowing or lying: then we answer in
 * its name wherever behind us the key lies, as long as our successor does
 * not own it. (In a small ring the predecessor's arc may span more than half
 * the ring, where the half-ring test would send the request round again and
 * the walk ping-pong until its hops run out.)
 */
function behind (state: Readonly<RoutingState>, key: bigint, pred: Peer | undefined, answerFor: SuspectSet, suspects: SuspectSet): RouteDecision | undefined {
  const self = state.self.id
  if (pred != null && answerFor.has(pred.address)) {
    const first = state.successors.find(p => !suspects.has(p.address)) ?? state.successors[0]
    return first != null && inHalfOpen(key, self, first.id) ? undefined : { type: 'answer-for', owner: pred }
  }
  if (distance(key, self) > distance(self, key)) {
    return undefined
  }
  if (pred == null) {
    return { type: 'deliver' }
  }
  return { type: 'forward', hops: [{ peer: pred, final: true }] }
}

function withDefaults (options: RouteOptions): Required<RouteOptions> {
  const suspects = options.suspects ?? NO_SUSPECTS
  return { suspects, gone: options.gone ?? suspects, final: options.final ?? false, maxCandidates: options.maxCandidates ?? MAX_CANDIDATES, answerFor: options.answerFor ?? NO_SUSPECTS }
}

/**
 * Known peers strictly between `self` and `key`, the one closest to the key
 * first
 */
export function closestPreceding (state: Readonly<RoutingState>, key: bigint, suspects: SuspectSet, max: number): Peer[] {
  const self = state.self.id
  const seen = new Set<Address>()
  const found: Array<{ peer: Peer, d: bigint }> = []
  const consider = (peer: Peer): void => {
    if (seen.has(peer.address) || suspects.has(peer.address) || !inOpen(peer.id, self, key)) {
      return
    }
    seen.add(peer.address)
    found.push({ peer, d: distance(self, peer.id) })
  }
  for (const peer of state.fingers.values()) {
    consider(peer)
  }
  for (const peer of state.successors) {
    consider(peer)
  }
  found.sort((a, b) => compareIds(b.d, a.d))
  return found.slice(0, max).map(f => f.peer)
}
