/**
 * A node's view of the ring: predecessor, successor list and finger table.
 *
 * Mechanism only: the mutators change the state and report what changed;
 * `RingNode` decides when to call them and what to do about the changes
 * (connections to open or release, application hand-overs).
 *
 * Invariants kept here:
 * - the successor list is ordered by clockwise distance from `self`, holds
 * no duplicates, never holds `self`, and has at most `successorListSize`
 * entries;
 * - fingers are keyed by finger index `i` (the successor of `self + 2^i`)
 * and never hold `self`; only indices whose start lies beyond the first
 * successor are kept, so a node stores about log2(N) distinct fingers.
 */

import { compareIds, distance } from './ring-id.ts'
import type { Address, Peer } from './seams.ts'

export interface RoutingState {
  readonly self: Peer
  readonly successorListSize: number
  predecessor?: Peer
  successors: Peer[]
  fingers: Map<number, Peer>
}

export interface PeersChange {
  added: Peer[]
  removed: Peer[]
}

export function createRoutingState (self: Peer, successorListSize: number): RoutingState {
  return { self, successorListSize, successors: [], fingers: new Map() }
}

/** Sets (or clears) the predecessor; reports the previous one when it changed */
export function setPredecessor (state: RoutingState, peer: Peer | undefined): { changed: boolean, previous?: Peer } {
  const previous = state.predecessor
  if (peer?.address === state.self.address) {
    peer = undefined
  }
  if (previous?.address === peer?.address) {
    return { changed: false }
  }
  state.predecessor = peer
  return { changed: true, previous }
}

/**
 * Replaces the successor list with `candidates`, normalised: `self` and
 * duplicates dropped, sorted by clockwise distance, truncated to the list size
 */
export function setSuccessors (state: RoutingState, candidates: Peer[]): PeersChange {
  const seen = new Set<Address>([state.self.address])
  const next: Peer[] = []
  for (const peer of candidates) {
    if (!seen.has(peer.address) && peer.id !== state.self.id) {
      seen.add(peer.address)
      next.push(peer)
    }
  }
  const self = state.self.id
  // each distance once rather than twice per comparison (a bigint subtraction allocates)
  const sorted = next.map(peer => ({ peer, d: distance(self, peer.id) }))
    .sort((a, b) => compareIds(a.d, b.d))
    .slice(0, state.successorListSize)
    .map(entry => entry.peer)
  const change = diff(state.successors, sorted)
  state.successors = sorted
  return change
}

/** Sets finger `index`; `undefined` or `self` removes it */
export function setFinger (state: RoutingState, index: number, peer: Peer | undefined): { changed: boolean, previous?: Peer } {
  const previous = state.fingers.get(index)
  if (peer == null || peer.address === state.self.address) {
    if (previous == null) {
      return { changed: false }
    }
    state.fingers.delete(index)
    return { changed: true, previous }
  }
  if (previous?.address === peer.address) {
    return { changed: false }
  }
  state.fingers.set(index, peer)
  return { changed: true, previous }
}

/** Drops every finger with index ≤ `index` (their starts fall before the first successor) */
export function dropFingersUpTo (state: RoutingState, index: number): Peer[] {
  const removed: Peer[] = []
  for (const [i, peer] of state.fingers) {
    if (i <= index) {
      state.fingers.delete(i)
      removed.push(peer)
    }
  }
  return removed
}

/** Drops every finger that is `address`; true if there was one */
export function dropPeerFingers (state: RoutingState, address: Address): boolean {
  let removed = false
  for (const [i, peer] of state.fingers) {
    if (peer.address === address) {
      state.fingers.delete(i)
      removed = true
    }
  }
  return removed
}

/** Removes a peer from every role it holds (it failed or left); reports which */
export function forgetPeer (state: RoutingState, address: Address): { predecessor: boolean, successor: boolean, fingers: number } {
  let predecessor = false
  if (state.predecessor?.address === address) {
    state.predecessor = undefined
    predecessor = true
  }
  const before = state.successors.length
  state.successors = state.successors.filter(p => p.address !== address)
  let fingers = 0
  for (const [i, peer] of state.fingers) {
    if (peer.address === address) {
      state.fingers.delete(i)
      fingers++
    }
  }
  return { predecessor, successor: state.successors.length !== before, fingers }
}

/** Every distinct peer the state refers to: the nodes worth keeping connections to */
export function knownPeers (state: RoutingState): Peer[] {
  const out = new Map<Address, Peer>()
  if (state.predecessor != null) {
    out.set(state.predecessor.address, state.predecessor)
  }
  for (const p of state.successors) {
    out.set(p.address, p)
  }
  for (const p of state.fingers.values()) {
    out.set(p.address, p)
  }
  return [...out.values()]
}

/** Whether `address` holds any role in the state (is one of `knownPeers`), without building the list */
export function refersTo (state: RoutingState, address: Address): boolean {
  if (state.predecessor?.address === address) {
    return true
  }
  for (const p of state.successors) {
    if (p.address === address) {
      return true
    }
  }
  for (const p of state.fingers.values()) {
    if (p.address === address) {
      return true
    }
  }
  return false
}

/** Distinct finger peers, nearest first */
export function distinctFingers (state: RoutingState): Peer[] {
  const out = new Map<Address, Peer>()
  for (const i of [...state.fingers.keys()].sort((a, b) => a - b)) {
    const p = state.fingers.get(i)
    if (p != null) {
      out.set(p.address, p)
    }
  }
  return [...out.values()]
}

function diff (before: Peer[], after: Peer[]): PeersChange {
  const was = new Set(before.map(p => p.address))
  const is = new Set(after.map(p => p.address))
  return {
    added: after.filter(p => !was.has(p.address)),
    removed: before.filter(p => !is.has(p.address))
  }
}
