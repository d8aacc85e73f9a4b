/**
 * The node's routing table: the only writer of its `RoutingState`. Every
 * change goes through here so that two things never get missed: the
 * application hears when the predecessor (and with it the node's key range)
 * changes, and `onNeighboursChanged` hears which peers entered or left the
 * table (the connections worth keeping). It also tells the maintenance
 * schedule when the node's neighbourhood or its fingers changed, so that
 * rounds put off while all was quiet come back to their base period.
 */

import { distance, fingerIndexAtMost } from './ring-id.ts'
import { createRoutingState, distinctFingers, dropFingersUpTo, dropPeerFingers, forgetPeer, refersTo, setFinger, setPredecessor, setSuccessors } from './routing-state.ts'
import type { PeersChange, RoutingState } from './routing-state.ts'
import type { Address, Clock, Peer } from './seams.ts'
import type { RingSettings } from './settings.ts'
import type { RingApplication } from './types.ts'

/** What changed in the table, as far as the maintenance schedule cares */
export type RoutingChange = 'neighbourhood' | 'successors' | 'fingers'

export interface RoutingTableInit {
  clock: Clock
  settings: RingSettings
  /** The application's hooks as they are now (the application may be set later) */
  application(): RingApplication
  onNeighboursChanged?(change: PeersChange): void
  /**
   * The first successor or the predecessor changed (`neighbourhood`), a
   * later successor did (`successors`), or a finger did (`fingers`): what the
   * adaptive maintenance rounds watch
   */
  onChange?(what: RoutingChange): void
}

export class RoutingTable {
  /** Read-only view for `route()` and the parts that read the table */
  readonly state: Readonly<RoutingState>
  private readonly writable: RoutingState
  private readonly clock: Clock
  private readonly settings: RingSettings
  private readonly application: () => RingApplication
  private readonly onNeighboursChanged?: (change: PeersChange) => void
  private readonly onChange: (what: RoutingChange) => void
  /** When the predecessor last stabilized with us (or was set) */
  private predecessorHeardAt = 0
  /** The longest the predecessor said it waits between its rounds, ms (our base round unless it said) */
  private predecessorRoundMs: number

  constructor (init: RoutingTableInit) {
    this.clock = init.clock
    this.settings = init.settings
    this.application = init.application
    this.onNeighboursChanged = init.onNeighboursChanged
    this.onChange = init.onChange ?? (() => {})
    this.predecessorRoundMs = init.settings.stabilizeIntervalMs
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

  /**
   * Time since the predecessor last stabilized with us (or was set), in
   * our base rounds' time, ms: a predecessor whose rounds have backed off k
   * times (it says so in its stabilize requests) may stay quiet k times
   * longer, so every threshold in base rounds holds for it as it is
   */
  predecessorQuietMs (): number {
    return (this.clock.now() - this.predecessorHeardAt) * this.settings.stabilizeIntervalMs / this.predecessorRoundMs
  }

  /**
   * Our predecessor stabilized with us — it is alive and still points at us —
   * and said it waits at most `roundMs` before its next round; or, with no
   * `roundMs`, it sent us some other request (traffic that flows anyway
   * doubles as its heartbeat)
   */
  heardFromPredecessor (roundMs?: number): void {
    this.predecessorHeardAt = this.clock.now()
    if (roundMs != null) {
      this.predecessorRoundMs = this.clampRound(roundMs)
    }
  }

  /**
   * A round a peer announces, within what we accept: our base round up to
   * our longest. Unannounced (a predecessor named by a leaving node or a
   * snapshot): the longest, since dropping a live predecessor costs a
   * placement check while keeping a dead one a little longer costs nothing
   * a lookup does not repair (it probes a predecessor it walks back to)
   */
  private clampRound (roundMs: number | undefined): number {
    const base = this.settings.stabilizeIntervalMs
    const longest = base * this.settings.maintenanceBackoff
    return Math.min(longest, Math.max(base, roundMs ?? longest))
  }

  replaceSuccessors (peers: Peer[]): void {
    const first = this.writable.successors[0]?.address
    const change = setSuccessors(this.writable, peers)
    this.reportChange(change)
    if (this.writable.successors[0]?.address !== first) {
      this.onChange('neighbourhood')
    } else if (change.added.length > 0 || change.removed.length > 0) {
      this.onChange('successors')
    }
  }

  /** `roundMs`: the longest the new predecessor said it waits between its rounds */
  changePredecessor (peer: Peer | undefined, roundMs?: number): void {
    const { changed, previous } = setPredecessor(this.writable, peer)
    this.predecessorHeardAt = this.clock.now()
    this.predecessorRoundMs = this.clampRound(roundMs)
    if (changed) {
      this.onChange('neighbourhood')
      this.application().predecessorChanged?.(previous, this.writable.predecessor)
      this.reportChange({ added: this.writable.predecessor != null ? [this.writable.predecessor] : [], removed: previous != null ? [previous] : [] })
    }
  }

  setFinger (index: number, peer: Peer): void {
    const { changed, previous } = setFinger(this.writable, index, peer)
    if (changed) {
      this.onChange('fingers')
      this.reportChange({ added: [peer], removed: previous != null ? [previous] : [] })
    }
  }

  /** Fingers `0..index` all start before our successor: they are the successor, not fingers */
  dropFingersUpTo (index: number): void {
    const removed = dropFingersUpTo(this.writable, index)
    if (removed.length > 0) {
      this.onChange('fingers')
    }
    this.reportChange({ added: [], removed })
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
      this.onChange('fingers')
      this.reportChange({ added: [], removed: [finger] })
    }
  }

  /** `peer` failed: gone from every role */
  forget (peer: Peer): void {
    const was = forgetPeer(this.writable, peer.address)
    if (was.predecessor) {
      this.application().predecessorChanged?.(peer, undefined)
    }
    if (was.predecessor || was.successor) {
      this.onChange('neighbourhood')
    }
    if (was.fingers > 0) {
      this.onChange('fingers')
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
    if (wasSuccessor) {
      this.onChange('neighbourhood')
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
    // a peer may leave one role and still hold another: only report real departures. A change
    // names a peer or two, so they are looked up in the state rather than the state listed (every
    // finger set from a snapshot listed it, quadratic in the fingers)
    const removed = change.removed.filter(p => !refersTo(this.writable, p.address))
    const added = change.added.filter(p => refersTo(this.writable, p.address))
    if (added.length > 0 || removed.length > 0) {
      this.onNeighboursChanged({ added, removed })
    }
  }
}
