/**
 * What a node does with the answer a next hop gave to a routed request:
 * the owner it names is checked (owner-check.ts) before the answer goes
 * back along the path, and a hop that sends a malformed owner is distrusted.
 */

import { judgeOwner } from './owner-check.ts'
import { requireField } from './ring-client.ts'
import { peerFromWire } from './wire.ts'
import type { Liveness } from './liveness.ts'
import type { RingResponse, RouteResponse } from './messages.ts'
import type { RoutingTable } from './routing-table.ts'
import type { Address, Peer } from './seams.ts'

/** A next hop's answer named an owner we do not believe (never leaves RingNode) */
export class HopLiedError extends Error {
  override name = 'HopLiedError'
}

export class AnswerCheck {
  private readonly table: RoutingTable
  private readonly liveness: Liveness

  constructor (table: RoutingTable, liveness: Liveness) {
    this.table = table
    this.liveness = liveness
  }

  /**
   * The answer `hop` gave, once its owner passes our check. A rejected answer
   * sends the lookup another way, and proves nothing against the hop: it may
   * have passed on another's lie, and an honest node that lost every
   * successor answers for every key until stabilize repairs it (distrusting
   * such nodes broke lookups in a three-page browser ring). An owner
   * `doubted` once is believed when a second path names it too (our estimate
   * of the ring's density may be the one that is off; a liar would need both
   * paths). A malformed owner is proof: no honest node sends one
   */
  take (key: bigint, hop: { peer: Peer, final: boolean }, res: RingResponse, doubted: Set<Address>): RouteResponse {
    const answer = requireField(res.route, 'route')
    this.liveness.lookupAnswered(hop.peer.address)
    let owner: Peer
    try {
      owner = peerFromWire(answer.owner)
    } catch (err: any) {
      this.liveness.distrust(hop.peer.address)
      throw new HopLiedError(`${hop.peer.address} answered with a malformed owner: ${err.message}`)
    }
    const verdict = judgeOwner(this.table.state, key, owner)
    if (verdict === 'plausible' || (verdict === 'implausible' && doubted.has(owner.address))) {
      return answer
    }
    if (verdict === 'implausible') {
      doubted.add(owner.address)
    }
    throw new HopLiedError(`${hop.peer.address} named ${owner.address} as the owner of key ${key.toString(16).slice(0, 8)}: ${verdict}`)
  }
}
