/**
 * Peers a node does not ask again for a while, because they sent bytes that
 * failed verification. Time from the injected `Clock`.
 */
import type { Address, Clock } from '../overlay/seams.ts'

/** A peer that sent bad bytes is not asked again for this long, ms */
export const AVOID_PEER_MS = 600_000

export interface AvoidListInit {
  /** @default AVOID_PEER_MS (10 min) */
  avoidMs?: number
}

export class AvoidList {
  private readonly clock: Clock
  private readonly avoidMs: number
  /** Until when each peer is avoided, ms of the clock */
  private readonly until = new Map<Address, number>()

  constructor (clock: Clock, init: AvoidListInit = {}) {
    this.clock = clock
    this.avoidMs = init.avoidMs ?? AVOID_PEER_MS
  }

  avoid (peer: Address): void {
    this.until.set(peer, this.clock.now() + this.avoidMs)
  }

  /** Whether `peer` is avoided now (an expired entry is dropped, so the map does not grow with every peer ever avoided) */
  has (peer: Address): boolean {
    const until = this.until.get(peer)
    if (until == null) {
      return false
    }
    if (until > this.clock.now()) {
      return true
    }
    this.until.delete(peer)
    return false
  }
}
