/**
 * The oracle: global knowledge no node has. It keeps the live ring members
 * sorted by id and judges lookups — an answer is correct when its owner is
 * the true successor of the key among the members at the time the answer
 * arrives.
 */

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
