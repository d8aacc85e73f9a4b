/**
 * The forwarder: recursive Chord routing at one node. Each hop runs
 * `route()` on the routing table, delivers or forwards, and waits for the
 * answer, which returns along the path.
 *
 * Theory of operation:
 * - A forwarded request carries the time left (`budgetMs`), so deadlines
 * shrink hop by hop. Each forward gets an allowance: the hops still to go
 * (estimated) times what a hop of the paths this node forwarded to took,
 * plus a margin for their spread (`HopTiming`, `Liveness.hopWait`); past it,
 * another path is tried beside it (below). The requester keeps a share of
 * its budget for a retry after an outright failure; a hop on the way keeps
 * only a round trip to report a failure back, so a long path does not reach
 * its last hops with its budget spent. A forward to the key's owner keeps
 * back the time to ask the owner's successor instead (`keepAfter`).
 * - A hop not heard from recently is probed first, so a crashed finger costs
 * one short probe rather than a long wait; a forward whose answer is late
 * gets its hop probed too, so a hop that crashed since we last heard from
 * it does not hold the lookup for the whole wait.
 * - A peer that misses a probe is silent (see `Liveness`): lookups route
 * around it as a next hop while a second probe settles it. A silent
 * predecessor hands us its keys only once dead or after a second missed
 * probe: one lost message must not make us answer for keys that are not
 * ours.
 * - A peer can answer every probe and still swallow or lie about lookups.
 * Past a forward's allowance a node tries another path beside it (whichever
 * answers first wins; one at a time per node, on a path with no detour before,
 * never beside the key's owner), naming the late hop in the request's
 * `avoid` list so the rest of the walk goes around it. The late forward
 * runs out: an honest hop reports a failure within the wait, so a hop
 * silent for all of it swallowed the request; two in a row and it is
 * shunned as a next hop for a while (`Liveness`).
 * - Every answer is checked before it is passed on (answer-check.ts): an
 * owner that cannot own the key, or one implausibly far past it that no
 * second path names, sends the lookup another way.
 * - Hops that fail a lookup are skipped for its retries only: a downstream
 * failure says little about the next hop, and blaming it globally would
 * cascade up the path. Only direct evidence (a peer unreachable, or silent
 * to direct requests twice) marks it dead.
 * - A lookup that asks for it (`confirm`) has the owner it found confirm the
 * key directly (`confirmOwner`): the answer came back along the whole path,
 * and the ring may have changed meanwhile.
 */

import { AnswerCheck } from './answer-check.ts'
import { HopLimitError, LookupFailedError, PeerBusyError } from './errors.ts'
import { HopTiming } from './hop-timing.ts'
import { inHalfOpen } from './interval.ts'
import { RingRequest } from './messages.ts'
import { PeerWindow } from './request-shares.ts'
import { requireField } from './ring-client.ts'
import { idToBytes } from './ring-id.ts'
import { route } from './route.ts'
import { addAvoided, besideAfter, inheritAvoided, NOTHING_TO_RELEASE, RunningForwards, withAvoided } from './running-forwards.ts'
import { MAX_AVOIDED_HOPS, MAX_HOP_ATTEMPTS, MIN_HOP_BUDGET_MS } from './settings.ts'
import { peerFromWire, peerToWire } from './wire.ts'
import type { RingContext } from './context.ts'
import type { PathEstimate } from './hop-timing.ts'
import type { Liveness } from './liveness.ts'
import type { RingResponse, RouteRequest, RouteResponse } from './messages.ts'
import type { OutgoingRequest, RingClient } from './ring-client.ts'
import type { SuspectSet } from './route.ts'
import type { RoutingTable } from './routing-table.ts'
import type { DetourSlot, ForwardOutcome } from './running-forwards.ts'
import type { Address, Clock, Peer, Timer } from './seams.ts'
import type { RingSettings } from './settings.ts'
import type { LookupOptions, LookupResult } from './types.ts'

/** Hops a confirmation may take from the owner it asks (a walk back to a newcomer, or on past a leaver) */
const CONFIRM_HOPS = 4
/** Below this much of its budget left, a lookup skips the confirmation and runs again instead, ms */
const MIN_CONFIRM_MS = 100

export class Forwarder {
  private readonly ctx: RingContext
  private readonly self: Peer
  private readonly settings: RingSettings
  private readonly clock: Clock
  private readonly liveness: Liveness
  private readonly table: RoutingTable
  private readonly client: RingClient
  /** Our own lookups in flight per next hop: never more than the share that hop grants us */
  private readonly window: PeerWindow
  private readonly timing: HopTiming
  private readonly answers: AnswerCheck

  constructor (ctx: RingContext) {
    this.ctx = ctx
    this.self = ctx.self
    this.settings = ctx.settings
    this.clock = ctx.clock
    this.liveness = ctx.liveness
    this.table = ctx.table
    this.client = ctx.client
    this.window = new PeerWindow(ctx.clock)
    this.timing = new HopTiming(ctx.self, ctx.settings, ctx.liveness, ctx.table)
    this.answers = new AnswerCheck(ctx.table, ctx.liveness)
  }

  request (key: bigint, options: LookupOptions): RouteRequest {
    return {
      key: idToBytes(key),
      hopsLeft: this.settings.maxHops,
      budgetMs: Math.floor(options.timeout ?? this.settings.lookupTimeoutMs),
      hops: 0,
      final: false,
      maintenance: options.maintenance === true,
      app: options.app,
      avoid: (options.avoid ?? []).slice(0, MAX_AVOIDED_HOPS)
    }
  }

  /**
   * Delivers here or forwards `req` towards the owner of `key`, retrying other
   * candidates when a next hop fails, within the request's budget
   */
  async forward (key: bigint, req: RouteRequest, signal?: AbortSignal, detour?: DetourSlot): Promise<RouteResponse> {
    if (req.hops === 0) {
      return this.walk(key, req, this.clock.now() + req.budgetMs, signal)
    }
    // the ROUTE handler cut a budget from the network to MAX_ROUTE_BUDGET_MS
    const budget = req.budgetMs
    const deadline = this.clock.now() + budget
    // a hop on the way answers within its budget whatever it is waiting on (a probe, a forward
    // left running): the sender takes silence for the whole budget as a peer swallowing lookups
    const reportBy = deadline - this.timing.reportReserve(budget)
    let timer: Timer | undefined
    const outOfTime = new Promise<never>((_resolve, reject) => {
      timer = this.clock.setTimer(() => {
        reject(new LookupFailedError(`lookup ran out of time at ${this.self.address} after ${req.hops} hops`))
      }, reportBy - this.clock.now())
    })
    try {
      return await Promise.race([this.walk(key, req, deadline, signal, detour), outOfTime])
    } finally {
      timer?.cancel()
      outOfTime.catch(() => {})
    }
  }

  /** `forward` without the report deadline of a hop on the way */
  private async walk (key: bigint, req: RouteRequest, deadline: number, signal?: AbortSignal, detour?: DetourSlot): Promise<RouteResponse> {
    // hops that failed this lookup are skipped for its retries only: a downstream failure says
    // little about the next hop itself, and blaming it globally would cascade up the path
    const excluded = new Set<Address>()
    // hops found swallowing or lying about this request, here and before us: the rest of the walk
    // routes around them too
    const avoided = inheritAvoided(req.avoid)
    // a silent peer is only avoided as a next hop; as our predecessor it hands us its keys once it
    // is dead, or missed a probe of this lookup after an earlier one: one lost message must not
    // make us answer for keys that are not ours
    const missedTwice = new Set<Address>()
    const gone: SuspectSet = { has: (address) => missedTwice.has(address) || this.liveness.isDead(address) }
    const avoid: SuspectSet = {
      has: (address) => excluded.has(address) || avoided.has(address) || this.liveness.isDead(address) ||
        this.liveness.isSilent(address) || this.liveness.isShunned(address)
    }
    const running = new RunningForwards()
    // another path is tried beside a late one while none is left running here, only on a path no
    // node before us tried another beside (a lookup for a key a silent peer owns would otherwise
    // branch at every hop of every path), and never beside the key's owner (all paths end there)
    const mayTryBeside = req.avoid.length === 0
    const doubted = new Set<Address>() // owners an answer named implausibly far past the key (AnswerCheck)
    let lastError: Error | undefined
    let deadCandidates = 0
    try {
      for (let attempt = 0; attempt < MAX_HOP_ATTEMPTS; attempt++) {
        const decision = route(this.table.state, key, { suspects: avoid, gone, final: req.final, answerFor: answerForAmong(req, avoided) })
        if (decision.type !== 'forward') {
          const answer = await this.answerHere(decision, key, req, missedTwice, signal)
          if (answer != null) {
            return answer
          }
          continue
        }
        if (req.hopsLeft <= 0) {
          throw new HopLimitError(`hop limit reached after ${req.hops} hops`)
        }
        const hop = decision.hops[0]
        if (hop == null || running.has(hop.peer.address)) {
          // nothing left but a hop already waited on
          break
        }
        // a walk back to our predecessor means the sender skipped it, most likely because it found
        // it gone: check it with a probe even if we heard from it lately, not with a whole hop wait
        const walkBack = req.final && hop.peer.address === this.table.state.predecessor?.address
        const wasSilent = this.liveness.isSilent(hop.peer.address)
        if (!await this.isLikelyAlive(hop.peer, walkBack, signal)) {
          excluded.add(hop.peer.address)
          if (wasSilent) {
            missedTwice.add(hop.peer.address)
          }
          if (++deadCandidates <= MAX_HOP_ATTEMPTS) {
            // a candidate a short probe found dead cost no forward: it does not use up a try
            attempt--
          }
          continue
        }
        const remaining = deadline - this.clock.now()
        const expected = this.timing.expect(hop.peer.id, key, hop.final)
        const allowance = expected.allowance
        const believed = this.believedOwner(key)
        const keep = this.keepAfter(hop, req, believed)
        const wait = this.timing.wait(remaining, req.hops === 0, keep, allowance)
        if (wait < MIN_HOP_BUDGET_MS) {
          break
        }
        // the wait the forward got in the end (our own lookups may first wait for a slot)
        const sent = { wait, keep }
        const forward = this.sendHop(hop, { ...req, avoid: avoidList(hop, believed, avoided) }, sent, expected, deadline, signal)
          .then(res => this.answers.take(key, hop, res, doubted))
        const lateAfter = mayTryBeside && running.size === 0 ? besideAfterFor(hop, wait, allowance) : undefined
        const named = namedIn(hop, believed, avoided)
        const outcome = await this.awaitForward(hop.peer, forward, running, lateAfter, detour)
        if ('route' in outcome) {
          return outcome.route
        }
        if ('late' in outcome) {
          this.avoidLate(hop.peer, excluded, named)
          continue
        }
        lastError = outcome.err
        this.takeHopFailure(outcome.err, hop, sent.wait < allowance, excluded, named, req.hops)
      }
      const late = await running.settle()
      if (late != null) {
        return late
      }
      throw new LookupFailedError(`lookup gave up at ${this.self.address} after ${req.hops} hops: ${lastError?.message ?? 'out of time'}`)
    } finally {
      running.settled()
    }
  }

  /**
   * We deliver `key`, or answer in the name of our predecessor, which owns
   * it but swallowed or lied about this lookup. A predecessor that crashed no
   * longer owns anything: one silent to our probe as well as to the sender is
   * gone for this walk (`undefined`: route again, and the key is ours)
   */
  private async answerHere (decision: { type: 'deliver' } | { type: 'answer-for', owner: Peer }, key: bigint, req: RouteRequest, missedTwice: Set<Address>, signal?: AbortSignal): Promise<RouteResponse | undefined> {
    if (decision.type === 'deliver') {
      return this.deliver(key, req)
    }
    if (await this.isLikelyAlive(decision.owner, true, signal)) {
      return this.answerFor(decision.owner, key, req)
    }
    missedTwice.add(decision.owner.address)
    return undefined
  }

  /**
   * The time a forward to `hop` keeps back from its wait. An owner answers
   * alone: should the owner we believe in swallow a request with a payload,
   * our wait on it leaves time to ask its successor, which answers in its
   * name (route's answer-for). Only the owner we believe in: the successor
   * of any other would answer for a key that is not its predecessor's
   */
  private keepAfter (hop: { peer: Peer, final: boolean }, req: RouteRequest, believed: Address | undefined): number {
    return hop.final && req.app != null && hop.peer.address === believed ? this.timing.aroundOwner() : 0
  }

  /** Our first successor, when it owns `key` as far as we know */
  private believedOwner (key: bigint): Address | undefined {
    const first = this.table.state.successors[0]
    return first != null && inHalfOpen(key, this.self.id, first.id) ? first.address : undefined
  }

  /** We own `key`: the answer names us, with our application's answer to the request's payload */
  private async deliver (key: bigint, req: RouteRequest): Promise<RouteResponse> {
    const app = req.app != null ? await this.ctx.application().deliver?.(key, req.app, this.self.address) : undefined
    return { owner: peerToWire(this.self), hops: req.hops, app }
  }

  /**
   * Our predecessor owns `key` but swallowed or lied about this lookup: the
   * answer names it, and our application answers the payload from the
   * replica it keeps of its predecessor's state
   */
  private async answerFor (owner: Peer, key: bigint, req: RouteRequest): Promise<RouteResponse> {
    const app = req.app != null ? await this.ctx.application().answerFor?.(key, req.app, owner) : undefined
    return { owner: peerToWire(owner), hops: req.hops, app }
  }

  /**
   * The answer of a recursive lookup travels back along its whole path, and
   * under churn the owner it names may have left, or a node may have joined
   * just before the key, by the time it arrives (at 2-minute sessions that is
   * most of the wrong answers). So ask the owner directly: a ROUTE marked
   * `final` that it delivers if the key is still its own, walks back to a
   * newcomer that took it over, or refuses if it is leaving. If the owner is
   * gone, the lookup runs once more from here, unconfirmed.
   */
  async confirmOwner (key: bigint, found: LookupResult, deadline: number, options: LookupOptions): Promise<LookupResult> {
    const wait = Math.min(deadline - this.clock.now(), 2 * this.settings.directRequestMs)
    if (wait >= MIN_CONFIRM_MS) {
      try {
        const res = await this.client.call(found.owner.address, {
          type: RingRequest.Type.ROUTE,
          route: { ...this.request(key, options), budgetMs: Math.floor(wait), hopsLeft: CONFIRM_HOPS, final: true }
        }, wait, options.signal)
        const route = requireField(res.route, 'route')
        return { owner: peerFromWire(route.owner), hops: found.hops + route.hops }
      } catch (err: any) {
        if (err.name === 'AbortError') {
          throw err
        }
        this.ctx.log('owner %s did not confirm key %s: %s', found.owner.address, key.toString(16).slice(0, 8), err.message)
      }
    }
    // once more within what is left of the lookup's budget; with too little left, the answer stands
    const left = deadline - this.clock.now()
    if (left < MIN_CONFIRM_MS) {
      return found
    }
    const res = await this.forward(key, { ...this.request(key, options), budgetMs: Math.floor(left) }, options.signal)
    return { owner: peerFromWire(res.owner), hops: found.hops + res.hops }
  }

  /**
   * Forwards `req` one hop. Our own lookups (hops 0) first take a slot of our
   * share at the hop, waiting in line behind our others: a page that starts
   * thirty lookups at once queues them here instead of being refused busy by
   * its own fingers (see request-shares.ts). `sent.wait` ends as the wait the
   * forward got
   */
  private async sendHop (hop: { peer: Peer, final: boolean }, req: RouteRequest, sent: { wait: number, keep: number }, expected: PathEstimate, deadline: number, signal?: AbortSignal): Promise<RingResponse> {
    const own = req.hops === 0
    if (own) {
      // a slot may take all the wait the forward could have had: what `keep` holds back is for
      // after a forward that went out
      if (!await this.window.enter(hop.peer.address, this.timing.wait(deadline - this.clock.now(), true), signal)) {
        throw new PeerBusyError(`our share of lookups at ${hop.peer.address} stayed full`)
      }
      // a wait for a slot is not the hop's: its allowance starts once the request leaves
      sent.wait = this.timing.wait(deadline - this.clock.now(), true, sent.keep, expected.allowance)
    }
    try {
      const budgetMs = this.timing.budgetFor(sent.wait)
      if (budgetMs < MIN_HOP_BUDGET_MS) {
        throw new LookupFailedError(`lookup ran out of time at ${this.self.address} waiting to send to ${hop.peer.address}`)
      }
      const sentAt = this.clock.now()
      const res = await this.forwardWatched(hop.peer, {
        type: RingRequest.Type.ROUTE,
        route: { ...req, hopsLeft: req.hopsLeft - 1, budgetMs, hops: req.hops + 1, final: hop.final }
      }, sent.wait, expected.watchAfter, signal)
      if (res.route != null) {
        this.liveness.pathAnswered(this.clock.now() - sentAt, expected.hops)
      }
      return res
    } finally {
      if (own) {
        this.window.leave(hop.peer.address)
      }
    }
  }

  /**
   * A lookup waits long for a forwarded request (the whole rest of the path),
   * so it should not send one into a crashed peer. A peer the transport
   * holds a live connection to is taken as alive (a closed tab closes its
   * connections), and so is one heard from recently unless `doubted` (the
   * lookup's sender skipped it); any other gets a probe with a short deadline
   * first. A silent probe drops the peer from our fingers and makes
   * it silent (it may only have lost the message, so it keeps any other role
   * until a second probe settles it); an unreachable one fails outright.
   */
  private async isLikelyAlive (peer: Peer, doubted: boolean, signal?: AbortSignal): Promise<boolean> {
    if (!doubted && this.liveness.heardRecently(peer.address)) {
      return true
    }
    if (this.client.isConnected(peer.address)) {
      return true
    }
    try {
      await this.client.call(peer.address, { type: RingRequest.Type.PROBE }, this.liveness.probeWait(), signal)
      return true
    } catch (err: any) {
      if (err.name === 'AbortError') {
        throw err
      }
      if (err.name === 'RpcTimeoutError') {
        this.table.dropFinger(peer)
        this.checkSilent(peer)
      } else {
        this.ctx.fail(peer, `probe before a forward: ${err.message}`)
      }
      return false
    }
  }

  /**
   * Takes what a failed forward to `hop` says: rethrows what is the caller's
   * problem (and a busy owner: no other path reaches the key's owner), and otherwise records what it tells about the hop (skipped by
   * this lookup, silent, or failed). `cutShort`: our own budget, not the hop's
   * allowance, bounded the wait
   */
  private takeHopFailure (err: any, hop: { peer: Peer, final: boolean }, cutShort: boolean, excluded: Set<Address>, avoided: Set<Address>, hops: number): void {
    const peer = hop.peer
    switch (err.name) {
      case 'AbortError':
      case 'HopLimitError':
      case 'InvalidMessageError':
        // our own abort, a walk too long, or a request the owner refused (e.g. a bad payload):
        // the caller's problem, not the hop's
        throw err
      case 'RpcTimeoutError':
        if (cutShort) {
          // the wait was cut short by our own budget: that says nothing about the hop, and
          // guessing another path in the time left would only risk a wrong answer
          throw new LookupFailedError(`lookup ran out of time at ${this.self.address} after ${hops} hops`)
        }
        this.table.dropFinger(peer)
        // silent for a whole allowance: a crash since we last heard from it, a slow path beyond
        // it, or a peer that swallows lookups. Too weak to route around it (as a predecessor that
        // would hand us keys it may still own), but the next lookup through it probes it first
        this.liveness.doubt(peer.address)
        this.liveness.lookupUnanswered(peer.address)
        this.avoidLate(peer, excluded, avoided)
        break
      case 'HopLiedError':
        // its answer named an owner that cannot own the key, or one implausibly far past it
        excluded.add(peer.address)
        addAvoided(avoided, peer.address)
        break
      case 'HopSilentError':
        // the answer was late and the hop missed a probe meanwhile: it crashed since we last
        // heard from it. Routed around (silent) while a second probe settles it
        excluded.add(peer.address)
        addAvoided(avoided, peer.address)
        this.table.dropFinger(peer)
        this.checkSilent(peer)
        break
      case 'PeerBusyError':
        if (hop.final) {
          // the key's owner, alive and serving all it serves us at once: any other path ends
          // at a node that is not the owner, so the lookup fails (its caller falls back) rather
          // than answer wrong
          throw new LookupFailedError(`${peer.address}, the owner of the key, is busy: lookup gave up after ${hops} hops`, { cause: err })
        }
        excluded.add(peer.address)
        break
      case 'LookupFailedError':
      case 'RemoteError':
        // the hop answered, so it is alive: its part of the walk failed (or it is serving all it
        // serves us at once), try another path
        excluded.add(peer.address)
        break
      default:
        // unreachable, stopped, leaving, or not in our ring: direct evidence
        this.ctx.fail(peer, `forward: ${err.name}: ${err.message}`)
    }
  }

  /**
   * Waits for `forward` to `peer`. Past `lateAfter` it is left running beside
   * the next path tried, if the request's sender grants a detour from its
   * share (our own lookups are ours to spend; with the share full, the
   * forward is waited out instead). A forward left running is not cancelled
   * once another path answers: a hop that never answers within the whole
   * wait swallows lookups, one that reports a failure only waited on others
   */
  private async awaitForward (peer: Peer, forward: Promise<RouteResponse>, running: RunningForwards, lateAfter: number | undefined, detour?: DetourSlot): Promise<ForwardOutcome> {
    const outcome = await running.race(forward, this.clock, lateAfter)
    if (!('late' in outcome)) {
      return outcome
    }
    const release = detour != null ? detour() : NOTHING_TO_RELEASE
    if (release == null) {
      return running.race(forward, this.clock)
    }
    // held until every forward of the request has settled: the detour's cost is the forwards that
    // wait at the next hops, whichever of them answered the request
    running.holdUntilSettled(release)
    running.add(peer.address, forward)
    forward.catch((err: any) => {
      if (err.name === 'RpcTimeoutError') {
        this.liveness.lookupUnanswered(peer.address)
      }
    })
    return outcome
  }

  /**
   * `peer` let a forward go past its allowance (it may only be slow, or
   * waiting on a hop beyond it that swallows lookups): the rest of this
   * lookup routes around it
   */
  private avoidLate (peer: Peer, excluded: Set<Address>, avoided: Set<Address>): void {
    excluded.add(peer.address)
    addAvoided(avoided, peer.address)
  }

  /**
   * Forwards `req` to `peer`, waiting up to `wait` ms. An answer later than a
   * fraction of the hop's `allowance` gets the hop probed: a hop that crashed
   * just after we last heard from it would otherwise hold the lookup for the
   * whole wait, and the retry would find the budget spent. A missed probe
   * ends the wait with a HopSilentError; an answered one changes nothing
   * (the rest of the path is slow, not the hop).
   */
  private async forwardWatched (peer: Peer, req: OutgoingRequest, wait: number, watchAfter: number, signal?: AbortSignal): Promise<RingResponse> {
    const probeWait = this.liveness.probeWait()
    // a live connection is evidence enough that the hop is up (as for the probe before a forward):
    // a late answer then means a slow path or a busy page, which a probe would only misjudge
    if (watchAfter + probeWait >= wait || this.client.isConnected(peer.address)) {
      return this.client.call(peer.address, req, wait, signal)
    }
    // the forward and its probe end with the watch
    const watch = this.client.scope(signal)
    let timer: Timer | undefined
    const silent = new Promise<never>((_resolve, reject) => {
      timer = this.clock.setTimer(() => {
        this.client.call(peer.address, { type: RingRequest.Type.PROBE }, probeWait, watch.signal).catch((err: any) => {
          if (err.name === 'RpcTimeoutError') {
            reject(new HopSilentError(`${peer.address} missed a probe while the lookup waited on it`))
          }
        })
      }, watchAfter)
    })
    try {
      return await Promise.race([this.client.call(peer.address, req, wait, watch.signal), silent])
    } finally {
      timer?.cancel()
      // with a reason: abort() without one builds a DOMException (and its stack) per forward
      watch.end(WATCH_OVER)
      silent.catch(() => {})
    }
  }

  /**
   * `peer` missed a probe: lookups route around it while a second probe, with
   * the full deadline of a direct request, tells a lost message (it answers)
   * from a crash (it does not, and fails)
   */
  private checkSilent (peer: Peer): void {
    if (this.liveness.isSilent(peer.address)) {
      return
    }
    const wait = this.settings.directRequestMs
    // the mark outlives the probe's deadline: the probe's outcome ends it
    this.liveness.markSilent(peer.address, this.clock.now() + 2 * wait)
    // an answer ends the mark in `call`, as any word from the peer does
    this.client.call(peer.address, { type: RingRequest.Type.PROBE }, wait).catch((err: any) => {
      if (err.name === 'AbortError' || !this.liveness.isBeingChecked(peer.address)) {
        // stopped, or it was heard from meanwhile
        return
      }
      this.ctx.fail(peer, 'second probe unanswered')
    })
  }
}

/**
 * Whose name we may answer in: only a request with a payload is answered in
 * a silent owner's name. What a bare lookup (a finger repair, a join) wants is
 * the owner itself, which only a walk back can confirm
 */
function answerForAmong (req: RouteRequest, avoided: Set<Address>): SuspectSet | undefined {
  return req.app != null ? avoided : undefined
}

/** When to try another path beside a forward to `hop`: never beside the key's owner (all paths end there) */
function besideAfterFor (hop: { final: boolean }, wait: number, allowance: number): number | undefined {
  return hop.final ? undefined : besideAfter(wait, allowance)
}

/**
 * Where a late or failed `hop` is named for the rest of the walk: the avoid
 * list, except a final hop that is not the owner we believe in. The node
 * after a fall-back successor named there would answer in that successor's
 * name for a key that is not the successor's; such a hop is only skipped
 * here, and a walk comes back to it
 */
function namedIn (hop: { peer: Peer, final: boolean }, believed: Address | undefined, avoided: Set<Address>): Set<Address> {
  return !hop.final || hop.peer.address === (believed ?? hop.peer.address) ? avoided : new Set<Address>()
}

/**
 * The avoid list a forward to `hop` carries. A final hop past our first
 * successor, the owner we believe in (we skip it: it is suspect, or failed
 * this walk), learns that it was passed over: as that owner's successor it
 * answers in its name instead of walking back into it
 */
function avoidList (hop: { peer: Peer, final: boolean }, believed: Address | undefined, avoided: Set<Address>): Address[] {
  const passedOver = hop.final && believed != null && hop.peer.address !== believed && !avoided.has(believed)
  return passedOver ? withAvoided(avoided, believed) : [...avoided]
}

/** Why a watched forward's own requests are cancelled once it has its outcome (nobody sees it) */
const WATCH_OVER = new Error('the watched forward has settled')

/** A forwarded request's next hop missed a probe while we waited for its answer (never leaves RingNode) */
class HopSilentError extends Error {
  override name = 'HopSilentError'
}
