/**
 * RingNode: one member of a Chord ring — a facade that wires the parts and
 * owns the node's lifecycle (`Lifecycle`). Each part has its own theory of
 * operation:
 * - `RoutingTable` (routing-table.ts): the only writer of the routing state;
 * - `Liveness` (liveness.ts): dead and silent peers, the RTT estimate;
 * - `RingClient` (ring-client.ts): every request the node sends;
 * - `Forwarder` (forwarder.ts): recursive lookups, hop allowances, the
 * owner's confirmation;
 * - `Stabilizer` (stabilizer.ts): successor and predecessor pointers;
 * - `FingerRepair` (fingers.ts), `PlacementRepair` (placement.ts);
 * - `Maintenance` (maintenance.ts): the repeating tasks on the `Clock`;
 * - `ringServer`, `ringHandlers` (handlers.ts): the checks every request
 * passes, and the answer to each request type.
 *
 * Lifecycle: join asks any member to route our own id; the answer is our
 * successor. Stabilize rounds with it (each doubles as Chord's notify) make
 * us its predecessor and give us its successor list and fingers as a first
 * guess; the node counts as a member once the successor names us its
 * predecessor. A graceful leave stops answering as owner, tells the
 * predecessor our successor list and the successor our predecessor, and
 * hands the application state we were home for to the successor.
 */

import { AdaptiveInterval } from './adaptive-interval.ts'
import { InvalidParametersError, JoinFailedError, NotMemberError } from './errors.ts'
import { FingerRepair } from './fingers.ts'
import { Forwarder } from './forwarder.ts'
import { ringHandlers, ringServer } from './handlers.ts'
import { joinOrder } from './join-order.ts'
import { Liveness } from './liveness.ts'
import { Maintenance } from './maintenance.ts'
import { RingRequest } from './messages.ts'
import { PlacementRepair } from './placement.ts'
import { RequestShares } from './request-shares.ts'
import { requireField, RingClient } from './ring-client.ts'
import { RoutingTable } from './routing-table.ts'
import { silentLog } from './seams.ts'
import { JOIN_CONFIRM_ROUNDS, resolveSettings } from './settings.ts'
import { Stabilizer } from './stabilizer.ts'
import { peerFromWire, peerToWire } from './wire.ts'
import type { RingContext } from './context.ts'
import type { RingResponse } from './messages.ts'
import type { RoutingChange } from './routing-table.ts'
import type { Address, Clock, Log, Peer, Random, Rpc } from './seams.ts'
import type { RingNodeInit, RingSettings } from './settings.ts'
import type { StabilizeOptions } from './stabilizer.ts'
import type { JoinOptions, LookupOptions, LookupResult, RingApplication, RingNodeComponents, RoutingSnapshot } from './types.ts'

export { MAX_PEERS_PER_MESSAGE } from './wire.ts'
export { ADAPTIVE_MAINTENANCE, FINGER_BITS, FIX_FINGERS_INTERVAL_MS, FRESH_CONTACT_MS, HOP_TIMEOUT_MS, HOP_WAIT_RTTS, LOOKUP_TIMEOUT_MS, MAINTENANCE_BACKOFF, MAINTENANCE_JITTER, MAX_HOP_ATTEMPTS, MAX_HOPS, PLACEMENT_CHECK_BACKOFF, PLACEMENT_CHECK_PERIOD_ROUNDS, RETRY_RESERVE, STABILIZE_INTERVAL_MS, SUCCESSOR_LIST_SIZE, SUSPECT_TIMEOUT_MS } from './settings.ts'
export type { RingNodeInit } from './settings.ts'
export type { JoinOptions, LookupOptions, LookupResult, RingApplication, RingNodeComponents, RoutingSnapshot } from './types.ts'

/**
 * Where a node is in its life:
 * - `stopped`: refuses every request (before `start`, after `stop`)
 * - `serving`: answers requests but is not a member yet (joining, or
 * rejoining after it lost its whole routing state)
 * - `member`: part of the ring, maintenance running
 * - `leaving`: still a member while it hands over, but no longer answers as
 * a key's owner (its keys are its successor's now)
 */
export type Lifecycle = 'stopped' | 'serving' | 'member' | 'leaving'

export class RingNode {
  readonly self: Peer
  readonly namespace: string

  private readonly settings: RingSettings
  private readonly clock: Clock
  private readonly random: Random
  private readonly rpc: Rpc<RingRequest, RingResponse>
  private readonly log: Log
  private readonly liveness: Liveness
  private readonly client: RingClient
  private readonly forwarder: Forwarder
  private readonly placement: PlacementRepair
  private readonly stabilizer: Stabilizer
  private readonly fingerRepair: FingerRepair
  private readonly maintenance: Maintenance
  /** Period of the stabilize rounds: backs off while the neighbourhood is quiet */
  private readonly stabilizeRound: AdaptiveInterval
  /** Period of the finger rounds: backs off while the fingers stay as they were */
  private readonly fingerRound: AdaptiveInterval
  /** Each sender's share of the requests that wait on work here (forwards, application messages) */
  private readonly shares: RequestShares
  /** Answers each request the node receives (handlers.ts) */
  private readonly serve: (from: Address, req: RingRequest) => Promise<RingResponse>
  private readonly bootstrap: () => Address[]
  private readonly idOf?: (address: Address) => bigint | undefined
  private readonly table: RoutingTable
  private application: RingApplication
  /** Aborted when the node stops: ends its in-flight requests */
  private lifetime = new AbortController()
  private phase: Lifecycle = 'stopped'

  constructor (components: RingNodeComponents, init: RingNodeInit) {
    this.clock = components.clock
    this.random = components.random
    this.rpc = components.rpc
    this.log = components.log ?? silentLog
    this.settings = resolveSettings(init)
    this.self = this.settings.self
    this.namespace = this.settings.namespace
    this.stabilizeRound = new AdaptiveInterval({ baseMs: this.settings.stabilizeIntervalMs, maxFactor: this.settings.maintenanceBackoff })
    this.fingerRound = new AdaptiveInterval({ baseMs: this.settings.fixFingersIntervalMs, maxFactor: this.settings.maintenanceBackoff })
    this.table = new RoutingTable({
      clock: this.clock,
      settings: this.settings,
      application: () => this.application,
      onNeighboursChanged: init.onNeighboursChanged,
      onChange: (what) => { this.routingChanged(what) }
    })
    this.liveness = new Liveness(this.clock, this.settings)
    this.client = new RingClient({ rpc: this.rpc, clock: this.clock, settings: this.settings, liveness: this.liveness, lifetime: () => this.lifetime.signal })
    const ctx: RingContext = {
      self: this.self,
      settings: this.settings,
      clock: this.clock,
      random: this.random,
      log: this.log,
      liveness: this.liveness,
      table: this.table,
      client: this.client,
      application: () => this.application,
      isMember: () => this.isMember(),
      bootstrap: () => this.bootstrap(),
      fail: (peer, why) => { this.fail(peer, why) }
    }
    this.forwarder = new Forwarder(ctx)
    this.placement = new PlacementRepair(ctx, { forwarder: this.forwarder, nudge: () => { this.stabilizer.nudge() }, roundMs: () => this.stabilizeRound.ms })

    this.fingerRepair = new FingerRepair(ctx, { lookup: (key) => this.lookup(key, { maintenance: true }) })
    this.stabilizer = new Stabilizer(ctx, {
      placement: this.placement,
      rejoin: this.rejoin.bind(this),
      nextRoundMs: () => this.settings.maintenanceBackoff > 1 ? Math.max(this.stabilizeRound.nextMaxMs, roundFloor(init.roundFloorMs?.())) : undefined,
      neighbourhoodChanged: () => { this.maintenance.changed(this.stabilizeRound) }
    })
    this.bootstrap = init.bootstrap ?? (() => [])
    this.idOf = init.idOf
    this.shares = new RequestShares(init.requestShares)
    this.application = init.application ?? {}
    const handlers = ringHandlers(ctx, {
      forwarder: this.forwarder,
      stabilizer: this.stabilizer,
      placement: this.placement,
      shares: this.shares,
      leaving: () => this.phase === 'leaving',
      lifetime: () => this.lifetime.signal
    })
    this.serve = ringServer(ctx, { namespace: this.namespace, handlers, shares: this.shares, stopped: () => this.phase === 'stopped' })
    this.maintenance = new Maintenance({ clock: this.clock, random: this.random, log: this.log, jitter: this.settings.jitter, active: () => this.isMember() }, [
      {
        interval: this.stabilizeRound,
        run: async () => {
          await this.stabilizer.stabilize()
          void this.placement.checkPlacement()
        }
      },
      { interval: this.fingerRound, run: async () => this.fingerRepair.fixNextFinger() }
    ])
  }

  /** True once the node has joined (or created) a ring, until it stops */
  get joined (): boolean {
    return this.isMember()
  }

  /** How many successors the node keeps */
  get successorListSize (): number {
    return this.settings.successorListSize
  }

  get predecessor (): Peer | undefined {
    return this.table.predecessor
  }

  get successors (): readonly Peer[] {
    return this.table.successors
  }

  /** Distinct finger peers, nearest first (finger index → peer, duplicates of lower fingers dropped) */
  get fingers (): ReadonlyArray<{ index: number, peer: Peer }> {
    return this.table.fingers
  }

  /** Requests refused because their sender had its share of our waiting work (see request-shares.ts) */
  get busyRefusals (): number {
    return this.shares.refused
  }

  setApplication (application: RingApplication): void {
    this.application = application
  }

  /** Starts answering requests (a joining node must, before it is a member) */
  start (): void {
    if (this.phase !== 'stopped') {
      return
    }
    this.phase = 'serving'
    this.lifetime = new AbortController()
    this.rpc.handle(async (from, req) => this.serve(from, req))
  }

  /** Starts a new ring with this node as its only member */
  create (): void {
    this.start()
    this.becomeMember()
  }

  /**
   * Becomes a member with routing state known from elsewhere, instead of
   * joining through a contact: the simulator's `--start converged`, where the
   * oracle computes every node's neighbours and fingers. Maintenance starts
   * as after a join and corrects whatever in `snapshot` is stale. A member,
   * or a snapshot without successors, is refused with `InvalidParametersError`.
   */
  resume (snapshot: RoutingSnapshot): void {
    if (this.isMember()) {
      throw new InvalidParametersError('already a ring member')
    }
    const successors = snapshot.successors.filter(p => p.address !== this.self.address)
    if (successors.length === 0) {
      throw new InvalidParametersError('a routing snapshot needs at least one successor other than this node')
    }
    this.start()
    this.table.replaceSuccessors(successors)
    for (const { index, peer } of snapshot.fingers ?? []) {
      if (Number.isInteger(index) && index >= 0 && index <= this.settings.topFinger) {
        this.table.setFinger(index, peer)
      }
    }
    this.table.changePredecessor(snapshot.predecessor)
    // our successor already takes us as its predecessor when the snapshot is right; if not, the
    // first stabilize round says so
    this.stabilizer.confirmed = true
    this.becomeMember()
  }

  /**
   * Joins the ring through any of `contacts` (addresses of members), tried
   * one after another: nearest following our id first when `idOf` knows
   * their ids (join-order.ts), else in the order given
   */
  async join (contacts: Address[], options: JoinOptions = {}): Promise<void> {
    this.start()
    let lastError: unknown
    for (const address of joinOrder(this.self.id, contacts, this.idOf)) {
      if (address === this.self.address) {
        continue
      }
      options.signal?.throwIfAborted()
      try {
        const res = await this.client.call(address, {
          type: RingRequest.Type.ROUTE,
          route: this.forwarder.request(this.self.id, { maintenance: true })
        }, this.settings.lookupTimeoutMs, options.signal)
        const owner = peerFromWire(requireField(res.route, 'route').owner)
        options.onRouted?.(owner)
        if (owner.address === this.self.address) {
          // an earlier, interrupted attempt got us adopted already: the ring routes our id to us. Our
          // predecessor stands in as successor if we know no other; stabilize corrects it
          if (this.table.state.successors.length === 0 && this.table.state.predecessor != null) {
            this.table.replaceSuccessors([this.table.state.predecessor])
          }
          if (this.table.state.successors.length > 0) {
            this.becomeMember()
            return
          }
          lastError = new Error(`${address} routes our id to us, and we know no neighbour`)
          this.log('join through %s failed: %s', address, (lastError as Error).message)
          continue
        }
        this.table.replaceSuccessors([owner])
        // a member only once our successor has taken us as its predecessor: until then lookups
        // for our keys would not reach us (bounded: concurrent joiners may keep moving it)
        for (let round = 0; round < JOIN_CONFIRM_ROUNDS && !this.stabilizer.confirmed; round++) {
          await this.stabilizer.stabilize({ wantFingers: round === 0, joining: true, signal: options.signal })
        }
        if (this.table.state.successors.length === 0) {
          lastError = new Error(`the successor ${address} named, ${owner.address}, was lost while we joined`)
          this.log('join through %s failed: %s', address, (lastError as Error).message)
          continue
        }
        this.becomeMember()
        this.log('joined through %s, successor %s', address, this.table.state.successors[0].address)
        return
      } catch (err: any) {
        if (err.name === 'AbortError') {
          throw err
        }
        lastError = err
        this.log('join through %s failed: %s', address, err.message)
      }
    }
    throw new JoinFailedError(`no contact answered the join (${contacts.length} tried)${lastError != null ? `: ${(lastError as Error).message}` : ''}`)
  }

  /**
   * Finds the owner (successor) of `key`, carrying `options.app` to it
   */
  async lookup (key: bigint, options: LookupOptions = {}): Promise<LookupResult> {
    if (!this.isMember()) {
      throw new NotMemberError('not a ring member')
    }
    const started = this.clock.now()
    const req = this.forwarder.request(key, options)
    const res = await this.forwarder.forward(key, req, options.signal)
    const result = { owner: peerFromWire(res.owner), hops: res.hops, app: res.app }
    if (options.confirm !== true || options.app != null || result.owner.address === this.self.address) {
      return result
    }
    return this.forwarder.confirmOwner(key, result, started + req.budgetMs, options)
  }

  /** Sends a direct application message */
  async message (to: Address, payload: Uint8Array<ArrayBuffer>, options: { timeout?: number, signal?: AbortSignal } = {}): Promise<Uint8Array<ArrayBuffer> | undefined> {
    const res = await this.client.call(to, { type: RingRequest.Type.APP, app: { payload } }, options.timeout ?? this.settings.directRequestMs, options.signal)
    return res.app
  }

  /**
   * Leaves gracefully: neighbours are told who replaces us, the successor
   * gets what we were home for, then the node stops
   */
  async leave (): Promise<void> {
    if (!this.isMember()) {
      this.stop()
      return
    }
    this.maintenance.stop()
    this.phase = 'leaving'
    const pred = this.table.state.predecessor
    const succ = this.table.state.successors[0]
    const notices: Array<Promise<unknown>> = []
    if (pred != null && pred.address !== succ?.address) {
      notices.push(this.client.direct(pred.address, {
        type: RingRequest.Type.LEAVE,
        leave: { sender: peerToWire(this.self), successors: this.table.state.successors.map(peerToWire) }
      }))
    }
    if (succ != null) {
      notices.push(this.client.direct(succ.address, {
        type: RingRequest.Type.LEAVE,
        leave: {
          sender: peerToWire(this.self),
          predecessor: pred != null ? peerToWire(pred) : undefined,
          successors: this.table.state.successors.slice(1).map(peerToWire),
          app: this.application.handoverOnLeave?.()
        }
      }))
    }
    await Promise.allSettled(notices)
    this.stop()
  }

  /** Stops at once: timers cancelled, in-flight work aborted, requests refused */
  stop (): void {
    this.phase = 'stopped'
    this.maintenance.stop()
    this.lifetime.abort()
  }

  /**
   * One stabilize round: ask the first live successor for its predecessor and
   * successor list (it also learns that we believe we precede it)
   */

  stabilize (options: StabilizeOptions = {}): Promise<void> {
    return this.stabilizer.stabilize(options)
  }

  /**
   * Repairs one finger, walking down from the far side of the ring: one
   * probe for a live finger, a lookup for a missing or dead one
   */

  fixNextFinger (): Promise<void> {
    return this.fingerRepair.fixNextFinger()
  }

  private isMember (): boolean {
    return this.phase === 'member' || this.phase === 'leaving'
  }

  /**
   * The transport lost its last connection to `address`: the peer closed it
   * or the connection failed (a browser notices a closed tab this way, within
   * about 15 s, from its ICE consent checks). Liveness news that arrives
   * without a message of ours: a lost first successor gets a stabilize round
   * now (a nudge, rate-limited), which finds out whether it is gone, instead
   * of the next round, which may be a minute away while the neighbourhood had
   * been quiet. Nobody is blamed on it: a connection also closes for reasons
   * of its own (the other side's connection budget). A lost predecessor needs
   * nothing here: its own predecessor lost the same connection, and the
   * notify of that node's round makes us probe it.
   */
  connectionLost (address: Address): void {
    if (this.phase !== 'member' || this.table.state.successors[0]?.address !== address) {
      return
    }
    this.stabilizer.nudge()
  }

  /** Whether `address` failed a direct request recently (routing avoids it) */
  isSuspect (address: Address): boolean {
    return this.liveness.isDead(address)
  }

  // ---- maintenance -------------------------------------------------------

  private becomeMember (): void {
    this.phase = 'member'
    this.placement.reset()
    this.maintenance.start()
  }

  /**
   * What the adaptive rounds make of a routing change: a new first successor
   * or predecessor brings the stabilize rounds back to their base period, a
   * moved tail of the successor list keeps them from backing off further,
   * and a finger that changed brings the finger rounds back
   */
  private routingChanged (what: RoutingChange): void {
    switch (what) {
      case 'neighbourhood':
        this.maintenance.changed(this.stabilizeRound)
        break
      case 'successors':
        this.stabilizeRound.stirred()
        break
      // 'fingers'
      default:
        this.maintenance.changed(this.fingerRound)
    }
  }

  /**
   * A member that knows no other (it founded a ring nobody has joined, or
   * lost every neighbour) joins through the bootstrap list now rather than
   * at its next stabilize round: the bootstrap list just named members of
   * another ring of the same namespace, which this node's would otherwise
   * stay apart from
   */
  joinIfAlone (): void {
    if (this.phase !== 'member' || this.table.state.successors.length > 0 || this.table.state.predecessor != null) {
      return
    }
    void this.rejoin()
  }

  /** Nothing left in the routing state: join again through the bootstrap list, or stay alone */
  private async rejoin (): Promise<void> {
    const contacts = this.bootstrap().filter(a => a !== this.self.address)
    if (contacts.length === 0 || this.phase !== 'member') {
      // nobody to join through, or a join is under way already
      return
    }
    try {
      this.phase = 'serving'
      this.maintenance.stop()
      await this.join(contacts)
    } catch (err: any) {
      this.log('rejoin failed: %s', err.message)
      if (this.phase === 'serving') {
        // stay reachable and keep trying on the next round
        this.becomeMember()
      }
    }
  }

  /** A peer failed a direct request: forget it everywhere and do not re-learn it for a while */
  private fail (peer: Peer, why?: string): void {
    // a peer wrongly marked dead is left out of every role for `suspectTimeoutMs`: the log says why
    this.log('%s marked dead: %s', peer.address, why ?? 'failed a direct request')
    this.liveness.markDead(peer.address)
    this.table.forget(peer)
  }
}

/** A round floor as the wire carries it (whole ms); none when it is not a finite number */
function roundFloor (ms: number | undefined): number {
  return ms != null && Number.isFinite(ms) ? Math.round(ms) : 0
}
