/**
 * The oracle: global knowledge no node has. It keeps the live ring members
 * sorted by id and judges lookups — an answer is correct when its owner is
 * the true successor of the key among the members at the time the answer
 * arrives.
 */

import { compareIds, distance, fingerCount, fingerStart } from '../src/overlay/ring-id.ts'
import { FINGER_BITS } from '../src/overlay/ring-node.ts'
import type { RoutingSnapshot } from '../src/overlay/ring-node.ts'
import type { Peer } from '../src/overlay/seams.ts'

export class Oracle {
  /** Members sorted by id */
  private readonly members: Peer[] = []
  private readonly byAddress = new Map<string, Peer>()

  get size (): number {
    return this.members.length
  }

  has (address: string): boolean {
    return this.byAddress.has(address)
  }

  add (peer: Peer): void {
    if (this.byAddress.has(peer.address)) {
      return
    }
    this.members.splice(this.lowerBound(peer.id), 0, peer)
    this.byAddress.set(peer.address, peer)
  }

  /** Adds many members at once (one sort instead of an insertion each) */
  addAll (peers: readonly Peer[]): void {
    for (const peer of peers) {
      if (!this.byAddress.has(peer.address)) {
        this.byAddress.set(peer.address, peer)
        this.members.push(peer)
      }
    }
    this.members.sort((a, b) => compareIds(a.id, b.id))
  }

  remove (address: string): void {
    const peer = this.byAddress.get(address)
    if (peer == null) {
      return
    }
    this.byAddress.delete(address)
    this.members.splice(this.lowerBound(peer.id), 1)
  }

  /** The first member at or clockwise after `key`: the key's true owner */
  successor (key: bigint): Peer | undefined {
    if (this.members.length === 0) {
      return undefined
    }
    const i = this.lowerBound(key)
    return this.members[i === this.members.length ? 0 : i]
  }

  /** The member clockwise after `peer` (its true successor) */
  next (peer: Peer): Peer | undefined {
    if (this.members.length < 2) {
      return undefined
    }
    const i = this.lowerBound(peer.id)
    return this.members[(i + 1) % this.members.length]
  }

  /** The member clockwise before `peer` (its true predecessor) */
  previous (peer: Peer): Peer | undefined {
    if (this.members.length < 2) {
      return undefined
    }
    const i = this.lowerBound(peer.id)
    return this.members[(i - 1 + this.members.length) % this.members.length]
  }

  /** Up to `count` members clockwise after `peer`, nearest first (its true successor list) */
  successorsOf (peer: Peer, count: number): Peer[] {
    const out: Peer[] = []
    const n = this.members.length
    const i = this.lowerBound(peer.id)
    for (let k = 1; k <= Math.min(count, n - 1); k++) {
      out.push(this.members[(i + k) % n])
    }
    return out
  }

  /**
   * What `self`'s routing state is once the ring has settled (Chord's invariants hold everywhere): the
   * true predecessor, the next `successors` members, and finger `i` = the owner of its start for every
   * finger that starts beyond the first successor (the ones a node keeps, see `fixNextFinger`)
   */
  settledState (self: Peer, successors: number, fingerBits: number = FINGER_BITS): RoutingSnapshot {
    const list = this.successorsOf(self, successors)
    const fingers: Array<{ index: number, peer: Peer }> = []
    const first = list[0]
    if (first != null) {
      const reach = distance(self.id, first.id)
      for (let i = fingerCount(fingerBits) - 1; i >= 0; i--) {
        const start = fingerStart(self.id, i, fingerBits)
        if (distance(self.id, start) <= reach) {
          break
        }
        const owner = this.successor(start)
        if (owner != null && owner.address !== self.address) {
          fingers.push({ index: i, peer: owner })
        }
      }
    }
    return { predecessor: this.previous(self), successors: list, fingers }
  }

  /** A uniformly random member */
  pick (r: number): Peer | undefined {
    return this.members[Math.floor(r * this.members.length)]
  }

  all (): readonly Peer[] {
    return this.members
  }

  /** Index of the first member whose id is ≥ `id` */
  private lowerBound (id: bigint): number {
    let lo = 0
    let hi = this.members.length
    while (lo < hi) {
      const mid = (lo + hi) >>> 1
      if (this.members[mid].id < id) {
        lo = mid + 1
      } else {
        hi = mid
      }
    }
    return lo
  }
}
