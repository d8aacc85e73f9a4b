/**
 * What a node answers to each ring request type: one handler per type, in a
 * table, and the server in front of it (`ringServer`), which checks what
 * applies to every request (running, right namespace, the sender is alive,
 * the sender's share of waiting work) before it picks the handler, and turns
 * a thrown error into its wire code after.
 */

import { codeOf, ErrorCode, InvalidMessageError, NotMemberError, PeerBusyError, WrongNamespaceError } from './errors.ts'
import { RingRequest } from './messages.ts'
import { requireField } from './ring-client.ts'
import { idFromBytes } from './ring-id.ts'
import { MAX_ROUTE_BUDGET_MS } from './settings.ts'
import { MAX_PEERS_PER_MESSAGE, peerFromWire, peersFromWire, peerToWire } from './wire.ts'
import type { RingContext } from './context.ts'
import type { Forwarder } from './forwarder.ts'
import type { LeaveRequest, RingResponse, RouteResponse } from './messages.ts'
import type { PlacementRepair } from './placement.ts'
import type { RequestShares } from './request-shares.ts'
import type { DetourSlot } from './running-forwards.ts'
import type { Address } from './seams.ts'
import type { Stabilizer } from './stabilizer.ts'

/**
 * A handler's outcome: the answer, or the work it waits for and how to
 * answer with its result. The node awaits that work itself, once, so an
 * answer leaves in the same microtask whether it was ready or waited for
 * (the simulator's traces depend on that order)
 */
export type HandlerOutcome = RingResponse | Deferred<any>

export interface Deferred<T> {
  later: Promise<T> | T
  answer(result: T): RingResponse
}

/** Answers one request; throws a named error to refuse it */
export type RingHandler = (from: Address, req: RingRequest) => HandlerOutcome

export function isDeferred (outcome: HandlerOutcome): outcome is Deferred<any> {
  return 'later' in outcome
}

export interface RingHandlersInit {
  forwarder: Forwarder
  stabilizer: Stabilizer
  placement: PlacementRepair
  /** Each sender's share of our waiting work: detours are charged to it too */
  shares: RequestShares
  /** Whether the node is leaving: it no longer answers as a key's owner */
  leaving(): boolean
  /** Aborted when the node stops */
  lifetime(): AbortSignal
}

export function ringHandlers (ctx: RingContext, init: RingHandlersInit): Partial<Record<RingRequest.Type, RingHandler>> {
  const { forwarder, stabilizer, placement, shares } = init
  return {
    [RingRequest.Type.ROUTE]: (from, req) => {
      if (init.leaving()) {
        // our keys are our successor's now: the sender routes around us
        throw new NotMemberError('node is leaving')
      }
      // whatever its hop count says, a request from the network gets at most the longest budget we
      // grant: the field would let a sender make us hold a forward for 49 days
      const sent = requireField(req.route, 'route')
      const r = { ...sent, budgetMs: Math.min(sent.budgetMs, MAX_ROUTE_BUDGET_MS) }
      const answer = (route: RouteResponse): RingResponse => ok({ route })
      const detour: DetourSlot = () => shares.tryTake(from) ? () => { shares.release(from) } : undefined
      const origin = r.origin != null ? peerFromWire(r.origin) : undefined
      if (origin != null && placement.skips(origin)) {
        // the walk ends at the node that skips the origin: adopt it (once checked) before routing,
        // so the answer names it as the owner of its own id
        const signal = init.lifetime()
        return { later: placement.adoptSkipped(origin, from, signal).then(async () => forwarder.forward(idFromBytes(r.key), r, signal, detour)), answer }
      }
      return { later: forwarder.forward(idFromBytes(r.key), r, init.lifetime(), detour), answer }
    },
    [RingRequest.Type.STABILIZE]: (from, req) => ok({ stabilize: stabilizer.onStabilize(from, requireField(req.stabilize, 'stabilize')) }),
    [RingRequest.Type.LEAVE]: (from, req) => {
      onLeave(ctx, from, requireField(req.leave, 'leave'))
      return ok({})
    },
    [RingRequest.Type.PROBE]: () => {
      const pred = ctx.table.predecessor
      return ok({ stabilize: { predecessor: pred != null ? peerToWire(pred) : undefined, successors: [], fingers: [] } })
    },
    [RingRequest.Type.NUDGE]: () => {
      stabilizer.nudge()
      return ok({})
    },
    [RingRequest.Type.APP]: (from, req) => {
      const app = requireField(req.app, 'app')
      return { later: ctx.application().message?.(from, app.payload), answer: (payload?: Uint8Array<ArrayBuffer>) => ok({ app: payload }) }
    }
  }
}

/** A neighbour leaves gracefully: take its successors or predecessor, and what it hands over */
function onLeave (ctx: RingContext, from: Address, req: LeaveRequest): void {
  const leaving = peerFromWire(req.sender)
  if (leaving.address !== from) {
    throw new InvalidMessageError('leave sender must be the requesting peer')
  }
  const successors = peersFromWire(req.successors, MAX_PEERS_PER_MESSAGE)
  const replacement = req.predecessor != null ? peerFromWire(req.predecessor) : undefined
  ctx.liveness.markLeft(leaving.address)
  ctx.table.takeLeave(leaving, replacement, successors)
  if (req.app != null) {
    ctx.application().receiveHandover?.(leaving, req.app)
  }
  ctx.table.reportChange({ added: [], removed: [leaving] })
}

/** Requests whose answer may wait on further work: each sender gets a bounded share of them */
const WAITING_WORK = new Set([RingRequest.Type.ROUTE, RingRequest.Type.APP])

export interface RingServerInit {
  namespace: string
  handlers: Partial<Record<RingRequest.Type, RingHandler>>
  /** Each sender's share of the requests that wait on work here (forwards, application messages) */
  shares: RequestShares
  /** Whether the node is stopped: it refuses every request */
  stopped(): boolean
}

/** Answers each request the node receives: the checks every request passes, then its type's handler */
export function ringServer (ctx: RingContext, init: RingServerInit): (from: Address, req: RingRequest) => Promise<RingResponse> {
  const { namespace, handlers, shares } = init
  return async (from, req) => {
    try {
      if (init.stopped()) {
        throw new NotMemberError('node stopped')
      }
      if (req.namespace !== namespace) {
        throw new WrongNamespaceError(`this node serves namespace "${namespace}"`)
      }
      // any request proves its sender alive; from our predecessor, when rounds adapt, it is the
      // heartbeat its stabilize rounds would otherwise be (they may be far apart while all is quiet)
      ctx.liveness.requestFrom(from)
      if (ctx.settings.maintenanceBackoff > 1 && from === ctx.table.state.predecessor?.address) {
        ctx.table.heardFromPredecessor()
      }
      const handler = handlers[req.type]
      if (handler == null) {
        throw new InvalidMessageError(`unknown request type ${String(req.type)}`)
      }
      if (!WAITING_WORK.has(req.type) || from === ctx.self.address) {
        const outcome = handler(from, req)
        return isDeferred(outcome) ? outcome.answer(await outcome.later) : outcome
      }
      // work that waits (a forward waits for the rest of the path): refused before it starts
      // once the sender has its share waiting, so one peer cannot hold our handlers or, through
      // our forwards, our share at the next hops (see request-shares.ts)
      const refused = shares.take(from)
      if (refused != null) {
        throw new PeerBusyError(refused)
      }
      try {
        const outcome = handler(from, req)
        return isDeferred(outcome) ? outcome.answer(await outcome.later) : outcome
      } finally {
        shares.release(from)
      }
    } catch (err: any) {
      // a request cut short by our own shutdown is refused like any request to a stopped node
      const code = err.name === 'AbortError' ? ErrorCode.NOT_MEMBER : codeOf(err)
      return { error: code, message: err.message ?? String(err) }
    }
  }
}

function ok (res: Partial<RingResponse>): RingResponse {
  return { error: 0, message: '', ...res }
}
