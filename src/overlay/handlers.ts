/**
 * What a node answers to each ring request type: one handler per type, in a
 * table. RingNode checks what applies to every request (running, right
 * namespace, the sender is alive) before it picks the handler, and turns a
 * thrown error into its wire code after.
 */

import { InvalidMessageError, NotMemberError } from './errors.ts'
import { RingRequest } from './messages.ts'
import { requireField } from './ring-client.ts'
import { idFromBytes } from './ring-id.ts'
import { MAX_PEERS_PER_MESSAGE, peerFromWire, peersFromWire, peerToWire } from './wire.ts'
import type { RingContext } from './context.ts'
import type { Forwarder } from './forwarder.ts'
import type { LeaveRequest, RingResponse, RouteResponse } from './messages.ts'
import type { PlacementRepair } from './placement.ts'
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
  /** Whether the node is leaving: it no longer answers as a key's owner */
  leaving(): boolean
  /** Aborted when the node stops */
  lifetime(): AbortSignal
}

export function ringHandlers (ctx: RingContext, init: RingHandlersInit): Partial<Record<RingRequest.Type, RingHandler>> {
  const { forwarder, stabilizer, placement } = init
  return {
    [RingRequest.Type.ROUTE]: (from, req) => {
      if (init.leaving()) {
        // our keys are our successor's now: the sender routes around us
        throw new NotMemberError('node is leaving')
      }
      const r = requireField(req.route, 'route')
      const answer = (route: RouteResponse): RingResponse => ok({ route })
      const origin = r.origin != null ? peerFromWire(r.origin) : undefined
      if (origin != null && placement.skips(origin)) {
        // the walk ends at the node that skips the origin: adopt it (once checked) before routing,
        // so the answer names it as the owner of its own id
        const signal = init.lifetime()
        return { later: placement.adoptSkipped(origin, from, signal).then(async () => forwarder.forward(idFromBytes(r.key), r, signal)), answer }
      }
      return { later: forwarder.forward(idFromBytes(r.key), r, init.lifetime()), answer }
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

function ok (res: Partial<RingResponse>): RingResponse {
  return { error: 0, message: '', ...res }
}
