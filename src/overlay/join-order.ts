/**
 * Which contact a joiner asks first. The contact answers the join's lookup of
 * the joiner's own id, and the joiner then talks to the successor that lookup
 * names. When the first contact *is* that successor, the join costs one new
 * connection instead of two: on a browser page each is a WebRTC set-up
 * through a relay, seconds on a loaded machine, and most of a join's time.
 *
 * So the contacts are tried by clockwise distance from the joiner's id, the
 * nearest following member first: among the members a relay lists (a random
 * sample, or all of a small ring) it is the joiner's successor whenever the
 * sample holds the successor. The sample stays random, so a burst of joiners
 * still spreads over the ring (each takes the nearest member *of its own
 * sample*), unlike a relay that hands every joiner the members nearest it.
 * Pure.
 */

import { compareIds, distance } from './ring-id.ts'
import type { Address } from './seams.ts'

/**
 * `contacts` nearest following `self` first; those whose ring id `idOf`
 * does not know keep their order, after the others
 */
export function joinOrder (self: bigint, contacts: Address[], idOf?: (address: Address) => bigint | undefined): Address[] {
  if (idOf == null || contacts.length < 2) {
    return contacts
  }
  const known: Array<{ address: Address, d: bigint }> = []
  const unknown: Address[] = []
  for (const address of contacts) {
    const id = idOf(address)
    if (id == null) {
      unknown.push(address)
    } else {
      known.push({ address, d: distance(self, id) })
    }
  }
  // a stable sort: contacts at the same distance (the same id twice) keep their order
  known.sort((a, b) => compareIds(a.d, b.d))
  return [...known.map(k => k.address), ...unknown]
}
