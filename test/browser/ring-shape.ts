/**
 * The shape of the ring the pages' first successors draw, for a run that
 * does not agree with the true ring: whether it is one ring with a few wrong
 * pointers, several rings that never met (a split), or one cycle that winds
 * around the id space more than once (a "loopy" ring, which Chord's
 * stabilization alone never repairs). Each calls for a different fix, and
 * counts of wrong neighbours cannot tell them apart.
 */
import type { RingView } from '../../src/browser.ts'

export interface RingCycle {
  /** Pages on the cycle */
  length: number
  /** Times the cycle passes the top of the id space (1 for a proper ring) */
  windings: number
  /** The cycle's pages, by peer id, in successor order */
  peers: string[]
}

export interface RingShape {
  /** Joined pages */
  members: number
  /** The cycles of first-successor pointers among joined pages */
  cycles: RingCycle[]
  /** Joined pages on no cycle: their pointers lead into one */
  tails: number
  /** Joined pages whose first successor is missing or not a joined page */
  dangling: string[]
}

/** Follows every joined page's first successor and reports the cycles they form */
export function ringShape (views: RingView[]): RingShape {
  const members = views.filter(v => v.joined && v.self != null)
  const byPeer = new Map(members.map(v => [v.self?.peer ?? '', v]))
  const next = (peer: string): string | undefined => {
    const successor = byPeer.get(peer)?.successors[0]?.peer
    return successor != null && byPeer.has(successor) ? successor : undefined
  }
  const dangling = members.map(v => v.self?.peer ?? '').filter(peer => next(peer) == null)
  const onCycle = new Set<string>()
  const seen = new Set<string>()
  const cycles: RingCycle[] = []
  for (const start of byPeer.keys()) {
    // walk until the path meets itself (a new cycle), a page seen on an earlier walk, or a dangling pointer
    const path: string[] = []
    const index = new Map<string, number>()
    let at: string | undefined = start
    while (at != null && !seen.has(at) && !index.has(at)) {
      index.set(at, path.length)
      path.push(at)
      at = next(at)
    }
    if (at != null && index.has(at)) {
      const peers = path.slice(index.get(at))
      const id = (peer: string): string => byPeer.get(peer)?.self?.id ?? ''
      let windings = 0
      for (let i = 0; i < peers.length; i++) {
        // a step that does not go up in id passes the top of the id space
        if (id(peers[(i + 1) % peers.length]) <= id(peers[i])) {
          windings++
        }
      }
      cycles.push({ length: peers.length, windings, peers })
      peers.forEach(peer => onCycle.add(peer))
    }
    path.forEach(peer => seen.add(peer))
  }
  return {
    members: members.length,
    cycles,
    tails: members.length - onCycle.size - dangling.filter(peer => !onCycle.has(peer)).length,
    dangling
  }
}

/** One line: `24 members: one cycle of 24 winding once` or the parts that are wrong */
export function describeRingShape (shape: RingShape): string {
  const cycles = shape.cycles.map(c => `${c.length} winding ${c.windings}×`).join(', ')
  return `${shape.members} members: ${shape.cycles.length} cycle(s) [${cycles}], ${shape.tails} on tails, ${shape.dangling.length} dangling`
}
