/**
 * The node's routing table: the only writer of its `RoutingState`. Every
 * change goes through here so that two things never get missed: the
 * application hears when the predecessor (and with it the node's key range)
 * changes, and `onNeighboursChanged` hears which peers entered or left the
 * table (the connections worth keeping).
 */

import { distance, fingerIndexAtMost } from './ring-id.ts'
import { createRoutingState, distinctFingers, dropFingersUpTo, dropPeerFingers, forgetPeer, knownPeers, setFinger, setPredecessor, setSuccessors } from './routing-state.ts'
import type { PeersChange, RoutingState } from './routing-state.ts'
import type { Address, Clock, Peer } from './seams.ts'
import type { RingSettings } from './settings.ts'
import type { RingApplication } from './types.ts'

export interface RoutingTableInit {
  clock: Clock
  settings: RingSettings
  /** The application's hooks as they are now (the application may be set later) */
  application(): RingApplication
  onNeighboursChanged?(change: PeersChange): void
}

export class RoutingTable {
  /** Read-only view for `route()` and the parts that read the table */
  readonly state: Readonly<RoutingState>
  private readonly writable: RoutingState
  private readonly clock: Clock
  private readonly settings: RingSettings
  private readonly application: () => RingApplication
  private readonly onNeighboursChanged?: (change: PeersChange) => void
  /** When the predecessor last stabilized with us (or was set) */
  private predecessorHeardAt = 0

  constructor (init: RoutingTableInit) {
    this.clock = init.clock
    this.settings = init.settings
    this.application = init.application
    this.onNeighboursChanged = init.onNeighboursChanged
    this.writable = createRoutingState(init.settings.self, init.settings.successorListSize)
    this.state = this.writable
  }

  get predecessor (): Peer | undefined {
    return this.writable.predecessor
  }

  get successors (): readonly Peer[] {
    return this.writable.successors
  }

  /** The first successor, if any */
  get successor (): Peer | undefined {
    return this.writable.successors[0]
  }

  /** Distinct finger peers, nearest first (finger index → peer, duplicates of lower fingers dropped) */
  get fingers (): ReadonlyArray<{ index: number, peer: Peer }> {
    const seen = new Set<Address>()
    const out: Array<{ index: number, peer: Peer }> = []
    for (const index of [...this.writable.fingers.keys()].sort((a, b) => a - b)) {
      const peer = this.writable.fingers.get(index)
      if (peer != null && !seen.has(peer.address)) {
        seen.add(peer.address)
        out.push({ index, peer })
      }
    }
    return out
  }

  /** Distinct finger peers in table order */
  distinctFingers (): Peer[] {
    return distinctFingers(this.writable)
  }

  finger (index: number): Peer | undefined {
    return this.writable.fingers.get(index)
  }

  /** Time since the predecessor last stabilized with us (or was set), ms */
  predecessorQuietMs (): number {
    return this.clock.now() - this.predecessorHeardAt
  }

  /** Our predecessor stabilized with us: it is alive and still points at us */
  heardFromPredecessor (): void {
    this.predecessorHeardAt = this.clock.now()
  }

  replaceSuccessors (peers: Peer[]): void {
    this.reportChange(setSuccessors(this.writable, peers))
  }

  changePredecessor (peer: Peer | undefined): void {
    const { changed, previous } = setPredecessor(this.writable, peer)
    this.predecessorHeardAt = this.clock.now()
    if (changed) {
      this.application().predecessorChanged?.(previous, this.writable.predecessor)
      this.reportChange({ added: this.writable.predecessor != null ? [this.writable.predecessor] : [], removed: previous != null ? [previous] : [] })
    }
  }

  setFinger (index: number, peer: Peer): void {
    const { changed, previous } = setFinger(this.writable, index, peer)
    if (changed) {
      this.reportChange({ added: [peer], removed: previous != null ? [previous] : [] })
    }
  }

  /** Fingers `0..index` all start before our successor: they are the successor, not fingers */
  dropFingersUpTo (index: number): void {
    this.reportChange({ added: [], removed: dropFingersUpTo(this.writable, index) })
  }

  /**
   * Takes `peers` (a successor's fingers, when joining) as a first guess of
   * the fingers we have none for yet: each as the farthest finger whose start
   * it is past. Fix-fingers corrects them. Reported like any finger change:
   * the connections to them are worth keeping, and a seeded finger that
   * fix-fingers later confirms is not a change it would report.
   */
  seedFingers (peers: Peer[], skip: (address: Address) => boolean): void {
    for (const peer of peers) {
      if (peer.address === this.settings.self.address || skip(peer.address)) {
        continue
      }
      const index = fingerIndexAtMost(distance(this.settings.self.id, peer.id), this.settings.fingerBits)
      if (index >= 0 && !this.writable.fingers.has(index)) {
        this.setFinger(index, peer)
      }
    }
  }

  /**
   * `finger` let a forwarded lookup go unanswered. That does not prove it
   * dead (the rest of the path may be slow), so it keeps any place as
   * successor or predecessor — stabilize checks those directly — but it
   * loses its fingers, which fix-fingers re-learns if it was alive after all.
   */
  dropFinger (finger: Peer): void {
    if (dropPeerFingers(this.writable, finger.address)) {
      this.reportChange({ added: [], removed: [finger] })
    }
  }

  /** `peer` failed: gone from every role */
  forget (peer: Peer): void {
    const was = forgetPeer(this.writable, peer.address)
    if (was.predecessor) {
      this.application().predecessorChanged?.(peer, undefined)
    }
    if (was.predecessor || was.successor || was.fingers > 0) {
      this.reportChange({ added: [], removed: [peer] })
    }
  }

  /**
   * `leaving` left gracefully, naming its `replacement` (its predecessor, for
   * its successor) and its `successors`. The departure itself is reported by
   * the caller, once the application has taken the hand-over.
   */
  takeLeave (leaving: Peer, replacement: Peer | undefined, successors: Peer[]): void {
    const wasSuccessor = this.writable.successors[0]?.address === leaving.address
    if (this.writable.predecessor?.address === leaving.address) {
      this.changePredecessor(replacement)
    }
    forgetPeer(this.writable, leaving.address)
    if (wasSuccessor) {
      // its successors are ours now
      this.replaceSuccessors([...this.writable.successors, ...successors])
    } else if (this.writable.successors.length === 0 && replacement != null) {
      // a ring of two: our predecessor left, so it was our successor too
      this.replaceSuccessors([replacement, ...successors])
    }
  }

  /** Tells `onNeighboursChanged` about peers that really entered or left the table */
  reportChange (change: PeersChange): void {
    if (this.onNeighboursChanged == null || (change.added.length === 0 && change.removed.length === 0)) {
      return
    }
    // a peer may leave one role and still hold another: only report real departures
    const still = new Set(knownPeers(this.writable).map(p => p.address))
    const removed = change.removed.filter(p => !still.has(p.address))
    const added = change.added.filter(p => still.has(p.address))
    if (added.length > 0 || removed.length > 0) {
      this.onNeighboursChanged({ added, removed })
    }
  }
}
