/**
 * Finger repair: one finger per round, farthest first, down to the
 * successor. Finger i is the successor of `fingerStart(self, i)` (base
 * 2^fingerBits). A live finger costs one probe of its predecessor; only a
 * missing or dead one costs a lookup.
 */

import { inHalfOpen } from './interval.ts'
import { RingRequest } from './messages.ts'
import { requireField } from './ring-client.ts'
import { distance, fingerStart } from './ring-id.ts'
import { PROBE_STEPS } from './settings.ts'
import { peerFromWire } from './wire.ts'
import type { RingContext } from './context.ts'
import type { Liveness } from './liveness.ts'
import type { StabilizeResponse } from './messages.ts'
import type { RingClient } from './ring-client.ts'
import type { RoutingTable } from './routing-table.ts'
import type { Peer } from './seams.ts'
import type { RingSettings } from './settings.ts'
import type { LookupResult } from './types.ts'

export interface FingerRepairInit {
  /** A maintenance lookup of `key` */
  lookup(key: bigint): Promise<LookupResult>
}

export class FingerRepair {
  private readonly ctx: RingContext
  private readonly self: Peer
  private readonly settings: RingSettings
  private readonly liveness: Liveness
  private readonly table: RoutingTable
  private readonly client: RingClient
  private readonly lookup: (key: bigint) => Promise<LookupResult>
  private nextFinger: number

  constructor (ctx: RingContext, init: FingerRepairInit) {
    this.ctx = ctx
    this.self = ctx.self
    this.settings = ctx.settings
    this.liveness = ctx.liveness
    this.table = ctx.table
    this.client = ctx.client
    this.lookup = init.lookup
    this.nextFinger = ctx.settings.topFinger
  }

  /**
   * Repairs one finger, walking i downwards from the far side of the ring.
   * Finger i is the successor of `self + 2^i`. A live finger is checked with
   * one probe of its predecessor: if that lies past the finger's start, a node
   * joined in between and takes the finger over. Only a missing or dead finger
   * costs a full lookup.
   */
  async fixNextFinger (): Promise<void> {
    const succ = this.table.state.successors[0]
    if (succ == null) {
      return
    }
    const i = this.nextFinger
    const start = fingerStart(this.self.id, i, this.settings.fingerBits)
    if (distance(this.self.id, start) <= distance(this.self.id, succ.id)) {
      // this and every lower finger start falls before our successor: they are the successor
      this.table.dropFingersUpTo(i)
      this.nextFinger = this.settings.topFinger
      return
    }
    this.nextFinger = i - 1
    let finger = this.table.finger(i)
    try {
      if (finger != null && !this.liveness.isDead(finger.address)) {
        finger = await this.probeFinger(finger, start)
      } else {
        finger = (await this.lookup(start)).owner
      }
    } catch (err: any) {
      this.ctx.log.trace('finger %d repair failed: %s', i, err.message)
      return
    }
    this.table.setFinger(i, finger)
  }

  /** Walks back from `finger` while its predecessor still lies past `start` */
  private async probeFinger (finger: Peer, start: bigint): Promise<Peer> {
    for (let step = 0; step < PROBE_STEPS; step++) {
      let res: StabilizeResponse
      try {
        const answer = await this.client.direct(finger.address, { type: RingRequest.Type.PROBE })
        res = requireField(answer.stabilize, 'stabilize')
      } catch (err: any) {
        if (err.name === 'AbortError') {
          throw err
        }
        this.ctx.fail(finger, `finger probe: ${err.message}`)
        return (await this.lookup(start)).owner
      }
      const pred = res.predecessor != null ? peerFromWire(res.predecessor) : undefined
      if (pred == null || pred.address === this.self.address || this.liveness.isDead(pred.address) || inHalfOpen(start, pred.id, finger.id)) {
        return finger
      }
      finger = pred
    }
    return finger
  }
}
