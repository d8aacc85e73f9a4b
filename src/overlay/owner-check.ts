/**
 * Is the owner an answer names believable? A lookup's answer comes back
 * along a path of peers, any of which may lie ("I own every key"), so each
 * node on the way checks the owner against what its own routing state shows
 * of the ring before it passes the answer on. Pure: no I/O, no time.
 *
 * Theory of operation (Castro et al., "Secure routing for structured
 * peer-to-peer overlay networks", §4: a route failure test on the owner's
 * position):
 * - The owner of a key is the first node at or after it. A node whose id
 * lies strictly between us and the key (clockwise) comes before the key, so
 * it cannot own it — whatever the ring looks like elsewhere: such an answer
 * is `impossible`. A hop we sent the request to as a node *preceding* the
 * key that names itself the owner is lying, and that is proof against it.
 * - Node ids are SHA-256 of peer ids, so they lie uniformly on the ring: the
 * gap from a key to its owner is about one mean gap between nodes, which our
 * successor list measures. An owner many mean gaps past the key is
 * `implausible`: most likely a liar naming a node it chose. The factor is
 * wide (the gap from a random key to the next node is exponential: one that
 * large is a one-in-ten-million event at a fair estimate, one in three
 * thousand where our estimate is half the truth), and a rejected answer only sends the lookup another
 * way; it proves nothing against the hop, which may have passed on another's lie.
 */

import { inOpen } from './interval.ts'
import { distance } from './ring-id.ts'
import type { RoutingState } from './routing-state.ts'
import type { Peer } from './seams.ts'

export type OwnerVerdict = 'plausible' | 'impossible' | 'implausible'

/** An owner this many mean gaps between nodes past the key is not believed */
export const OWNER_GAP_FACTOR = 16n

/** Successors needed before the mean gap between nodes is estimated at all */
const MIN_SUCCESSORS_FOR_GAP = 3

export function judgeOwner (state: Readonly<RoutingState>, key: bigint, owner: Peer): OwnerVerdict {
  const self = state.self.id
  if (key === self) {
    // only ourselves can own our own id: a lookup of it is a placement check, which the node
    // that skips us answers with us (or with the node that holds our place)
    return 'plausible'
  }
  if (inOpen(owner.id, self, key)) {
    return 'impossible'
  }
  const successors = state.successors
  if (successors.length < MIN_SUCCESSORS_FOR_GAP) {
    return 'plausible'
  }
  const span = distance(self, successors[successors.length - 1].id)
  // distance(key, owner) / (span / n) > factor, in integers
  if (distance(key, owner.id) * BigInt(successors.length) > OWNER_GAP_FACTOR * span) {
    return 'implausible'
  }
  return 'plausible'
}
