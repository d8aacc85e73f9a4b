/**
 * The stabilizer: keeps the successor list and the predecessor right, on
 * both sides of Chord's stabilize/notify exchange.
 *
 * Theory of operation:
 * - A round asks the first live successor for its predecessor and successor
 * list; the request doubles as Chord's notify (the successor learns that we
 * believe we precede it). A node between us and our successor becomes our
 * successor and is asked next, a bounded number of steps per round.
 * - A predecessor that has not stabilized with us for `predecessorTimeoutMs`
 * is dropped (its rounds are the heartbeat, so this costs no messages). When
 * rounds adapt to churn, each stabilize request says how long the sender may
 * wait before its next one and the timeout stretches to match, and any other
 * request from the predecessor counts as a heartbeat too; a
 * notify from a node behind our predecessor makes us probe the predecessor
 * at once. A node whose predecessor is replaced by a newcomer nudges the old
 * one to stabilize now, so corrections after a burst of joins cascade at
 * network speed.
 * - Crash tolerance comes from the successor list: when the first successor
 * stops answering, the next one takes over; a node that lost all of them
 * falls back on its fingers, then its predecessor, then rejoins through the
 * bootstrap list.
 */

import { InvalidMessageError } from './errors.ts'
import { inOpen } from './interval.ts'
import { RingRequest } from './messages.ts'
import { requireField } from './ring-client.ts'
import { NUDGE_INTERVAL_MS, SETUP_WAITS } from './settings.ts'
import { MAX_PEERS_PER_MESSAGE, peerFromWire, peersFromWire, peerToWire } from './wire.ts'
import type { RingContext } from './context.ts'
import type { Liveness } from './liveness.ts'
import type { RingResponse, StabilizeRequest, StabilizeResponse } from './messages.ts'
import type { PlacementRepair } from './placement.ts'
import type { OutgoingRequest, RingClient } from './ring-client.ts'
import type { RoutingTable } from './routing-table.ts'
import type { Address, Clock, Peer } from './seams.ts'
import type { RingSettings } from './settings.ts'

export interface StabilizerInit {
  placement: PlacementRepair
  /** Lost every successor, finger and predecessor: join again through the bootstrap list */
  rejoin(): Promise<void>
  /**
   * The longest we may wait before our next round, told to the successor;
   * undefined when rounds do not adapt (the successor assumes its own base round)
   */
  nextRoundMs(): number | undefined
  /** Word that our neighbourhood changed (a nudge): rounds return to their base period */
  neighbourhoodChanged(): void
}

export interface StabilizeOptions {
  /** Ask for the successor's fingers too (a first guess of ours, when joining) */
  wantFingers?: boolean
  /** The node is joining: with no successor left, the round ends (the join tries another contact) */
  joining?: boolean
  signal?: AbortSignal
}

export class Stabilizer {
  private readonly ctx: RingContext
  private readonly self: Peer
  private readonly settings: RingSettings
  private readonly clock: Clock
  private readonly liveness: Liveness
  private readonly table: RoutingTable
  private readonly client: RingClient
  private readonly placement: PlacementRepair
  private readonly rejoin: () => Promise<void>
  private readonly nextRoundMs: () => number | undefined
  private readonly neighbourhoodChanged: () => void
  private stabilizing = false
  private checkingPredecessor = false
  /** Our successor named us as its predecessor in the last stabilize answer */
  confirmed = false
  private lastNudgeAt = -Infinity

  constructor (ctx: RingContext, init: StabilizerInit) {
    this.ctx = ctx
    this.self = ctx.self
    this.settings = ctx.settings
    this.clock = ctx.clock
    this.liveness = ctx.liveness
    this.table = ctx.table
    this.client = ctx.client
    this.placement = init.placement
    this.rejoin = init.rejoin
    this.nextRoundMs = init.nextRoundMs
    this.neighbourhoodChanged = init.neighbourhoodChanged
  }

  /**
   * One stabilize round: ask the first live successor for its predecessor and
   * successor list (it also learns that we believe we precede it)
   */
  async stabilize (options: StabilizeOptions = {}): Promise<void> {
    if (this.stabilizing) {
      return
    }
    this.stabilizing = true
    try {
      await this.stabilizeRound(options)
    } finally {
      this.stabilizing = false
    }
  }

  private async stabilizeRound (options: StabilizeOptions): Promise<void> {
    this.liveness.expire()
    if (this.table.state.predecessor != null && this.table.predecessorQuietMs() > this.settings.predecessorTimeoutMs) {
      this.table.changePredecessor(undefined)
    }

    // each step moves to a closer successor; a burst of joins may need several, but not forever
    let steps = 0
    // nodes between us and our successor that we had marked dead, asked this round whether they live
    const checked = new Set<Address>()
    while (true) {
      if (this.table.state.successors.length === 0) {
        if (options.joining === true) {
          return
        }
        if (!this.recoverSuccessors()) {
          await this.rejoin()
          return
        }
      }
      const succ = this.table.state.successors[0]
      let res: StabilizeResponse
      try {
        res = await this.askSuccessor(succ, options)
      } catch (err: any) {
        if (err.name === 'AbortError') {
          throw err
        }
        this.ctx.fail(succ, `successor's stabilize: ${err.message}`)
        continue
      }

      const taken = this.takeStabilizeAnswer(succ, res, options.wantFingers === true)
      if (taken !== 'closer' && !(typeof taken === 'object' && await this.revived(taken.dead, checked, options.signal))) {
        return
      }
      if (++steps > this.table.state.successorListSize) {
        return
      }
    }
  }

  /**
   * Applies our successor's stabilize answer; `closer` when a node between us
   * and it is our successor now, to be asked next (bounded by the caller)
   */
  private takeStabilizeAnswer (succ: Peer, res: StabilizeResponse, wantFingers: boolean): 'settled' | 'closer' | { dead: Peer } {
    const current = this.table.state.successors[0]
    if (current != null && current.address !== succ.address && inOpen(current.id, this.self.id, succ.id)) {
      // a closer successor was adopted while we waited (a placement check ended here): the
      // answer describes a view that skips it, so ask the new successor instead
      return 'closer'
    }
    // the answer mostly repeats the peers we hold: keep our objects for them
    const held = this.table.state.successors
    const pred = res.predecessor != null ? peerFromWire(res.predecessor, held) : undefined
    this.confirmed = pred?.address === this.self.address
    const list = [succ, ...peersFromWire(res.successors, MAX_PEERS_PER_MESSAGE, held)].filter(p => !this.liveness.isDead(p.address))
    if (this.placement.hasAdopted()) {
      this.placement.passOnAdopted(succ, list[1])
    }
    if (wantFingers) {
      this.table.seedFingers(peersFromWire(res.fingers, MAX_PEERS_PER_MESSAGE), address => this.liveness.isDead(address))
    }
    if (pred != null && pred.address !== this.self.address && !this.liveness.isDead(pred.address) && inOpen(pred.id, this.self.id, succ.id)) {
      // a node joined between us and our successor: it is our successor now; notify it right away
      this.table.replaceSuccessors([pred, ...list])
      return 'closer'
    }
    this.table.replaceSuccessors(list)
    if (pred != null && pred.address !== this.self.address && inOpen(pred.id, this.self.id, succ.id)) {
      // our successor takes a node we marked dead for its predecessor: it heard from it lately
      return { dead: pred }
    }
    return 'settled'
  }

  /**
   * A node our successor names as its predecessor, between us and it, that
   * we marked dead: a loaded page misses a deadline and lives on, and
   * skipping it for the whole dead mark leaves it out of the ring (nobody's
   * successor) that long. One direct probe per round settles it; an answer
   * ends the mark (`Liveness.answered`), and the round asks our successor
   * again. Whether it answered
   */
  private async revived (peer: Peer, checked: Set<Address>, signal?: AbortSignal): Promise<boolean> {
    if (checked.has(peer.address)) {
      return false
    }
    checked.add(peer.address)
    try {
      // as for our successor's stabilize, a WebRTC set-up through the relay may take seconds
      await this.directThroughSetup(peer, { type: RingRequest.Type.PROBE }, 1, signal)
    } catch (err: any) {
      if (err.name === 'AbortError') {
        throw err
      }
      return false
    }
    this.ctx.log('%s, between us and our successor, answered a probe: no longer dead', peer.address)
    return !this.liveness.isDead(peer.address)
  }

  /**
   * One stabilize exchange with `succ`. A lost message must not cost a live
   * successor, so a silent successor gets a second chance before it counts as
   * failed; an unreachable one fails at once.
   */
  /**
   * Our successor's view, two attempts. A timeout while the transport is
   * still setting up a connection to it does not count: a new WebRTC
   * connection through a relay can take seconds on a loaded page, longer
   * than a direct request's deadline, and a joiner that dropped its new
   * successor for that would fail its join. The transport's own dial
   * deadline ends the set-up; `SETUP_WAITS` bounds the wait besides.
   */
  private async askSuccessor (succ: Peer, options: StabilizeOptions): Promise<StabilizeResponse> {
    const answer = await this.directThroughSetup(succ, {
      type: RingRequest.Type.STABILIZE,
      stabilize: { sender: peerToWire(this.self), wantFingers: options.wantFingers === true, nextRoundMs: this.nextRoundMs() }
    }, 2, options.signal)
    return requireField(answer.stabilize, 'stabilize')
  }

  /**
   * A direct request that may go `tries` times unanswered; a timeout while the
   * transport is still setting up a connection to `peer` does not count
   * (`SETUP_WAITS` of them at most)
   */
  private async directThroughSetup (peer: Peer, req: OutgoingRequest, tries: number, signal?: AbortSignal): Promise<RingResponse> {
    let timeouts = 0
    let setupWaits = 0
    while (true) {
      try {
        return await this.client.direct(peer.address, req, signal)
      } catch (err: any) {
        if (err.name !== 'RpcTimeoutError') {
          throw err
        }
        if (this.client.connecting(peer.address) && setupWaits < SETUP_WAITS) {
          setupWaits++
          continue
        }
        if (++timeouts >= tries) {
          throw err
        }
      }
    }
  }

  /** Lost every successor: fall back on the nearest live fingers, then the predecessor */
  private recoverSuccessors (): boolean {
    let candidates = this.table.distinctFingers().filter(p => !this.liveness.isDead(p.address))
    if (candidates.length === 0 && this.table.state.predecessor != null) {
      candidates = [this.table.state.predecessor]
    }
    if (candidates.length === 0) {
      return false
    }
    this.table.replaceSuccessors(candidates)
    return this.table.state.successors.length > 0
  }

  onStabilize (from: Address, req: StabilizeRequest): StabilizeResponse {
    const sender = peerFromWire(req.sender, this.table.state.predecessor != null ? [this.table.state.predecessor] : undefined)
    if (sender.address !== from || sender.address === this.self.address) {
      throw new InvalidMessageError('stabilize sender must be the requesting peer')
    }
    const pred = this.table.state.predecessor
    if (pred?.address === sender.address) {
      this.table.heardFromPredecessor(req.nextRoundMs)
    } else if (pred == null || this.table.predecessorQuietMs() > this.settings.predecessorTimeoutMs) {
      this.table.changePredecessor(sender, req.nextRoundMs)
    } else if (inOpen(sender.id, pred.id, this.self.id)) {
      this.table.changePredecessor(sender, req.nextRoundMs)
      // the replaced predecessor's successor is the newcomer now: tell it at once rather than at its
      // next round, so that the corrections after a burst of joins cascade at network speed
      this.client.direct(pred.address, { type: RingRequest.Type.NUDGE }).catch(() => {})
    } else {
      // a node behind our predecessor believes it precedes us: it has probably seen our
      // predecessor fail. Check directly instead of waiting for the predecessor timeout
      void this.checkPredecessor(pred, sender, req.nextRoundMs)
    }
    if (this.table.state.successors.length === 0) {
      // we were alone: the newcomer is our successor too
      this.table.replaceSuccessors([sender])
    }
    return {
      predecessor: this.table.state.predecessor != null ? peerToWire(this.table.state.predecessor) : undefined,
      successors: this.table.state.successors.slice(0, this.table.state.successorListSize - 1).map(peerToWire),
      fingers: req.wantFingers ? this.table.distinctFingers().map(peerToWire) : []
    }
  }

  /**
   * Probes `pred`; if it does not answer (twice) it has failed, and `candidate`
   * — a node that claimed to precede us — takes its place
   */
  private async checkPredecessor (pred: Peer, candidate: Peer, candidateRoundMs?: number): Promise<void> {
    if (this.checkingPredecessor) {
      return
    }
    this.checkingPredecessor = true
    try {
      for (let attempt = 0; attempt < 2; attempt++) {
        try {
          await this.client.direct(pred.address, { type: RingRequest.Type.PROBE })
          return
        } catch (err: any) {
          if (err.name !== 'RpcTimeoutError') {
            break
          }
        }
      }
      if (this.table.state.predecessor?.address === pred.address) {
        this.ctx.fail(pred, `predecessor silent to probes, ${candidate.address} notified instead`)
        this.table.changePredecessor(candidate, candidateRoundMs)
      }
    } catch {
      // stopped meanwhile
    } finally {
      this.checkingPredecessor = false
    }
  }

  /** Runs a stabilize round now, unless one ran or is running within the last `NUDGE_INTERVAL_MS` */
  nudge (): void {
    // even when no round starts now (one is running, or ran just now) the next ones must not be
    // put off: the round running may have asked before the change it is nudged about
    this.neighbourhoodChanged()
    const now = this.clock.now()
    if (!this.ctx.isMember() || this.stabilizing || now - this.lastNudgeAt < NUDGE_INTERVAL_MS) {
      return
    }
    this.lastNudgeAt = now
    this.stabilize().catch(err => { this.ctx.log.error('nudged stabilize failed: %s', err.message) })
  }
}
