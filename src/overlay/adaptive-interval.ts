/**
 * The period of one maintenance task when it adapts to churn: it doubles
 * after every round that found the neighbourhood as it was, up to a cap, and
 * snaps back to the base period when something changes.
 *
 * Theory of operation: a node's stabilize and finger rounds exist to notice
 * change — a neighbour that crashed, one that joined nearby, a finger that
 * moved. In a quiet neighbourhood (30-minute sessions: a successor changes
 * about every 20 minutes) nearly every round finds nothing, so the rounds
 * thin out; when one does find something, or when traffic that flows anyway
 * reports it (a failed request to a neighbour, a NUDGE from a successor that
 * took in a newcomer, a predecessor replaced), the task runs again within the
 * base period. Churn arrives in bursts near a node (a joiner makes its
 * neighbours change in turn), so the node is fast exactly while that lasts.
 *
 * It stays periodic, as Bamboo argues recovery should be (reactive recovery
 * adds traffic exactly when the network is already loaded): a change only
 * brings the next round forward to the base period, it never sends at once,
 * and a burst of changes costs no more than the fixed schedule did. The
 * lookups themselves do not depend on the rounds for correctness: a hop not
 * heard from lately is probed before a forward (see `Forwarder`), so a crash
 * a slow round has not seen yet costs a probe, not a wrong answer.
 *
 * Which events count as change is the caller's choice (see `RingNode`); this
 * class only keeps the arithmetic and the "did anything change since the
 * round began" bookkeeping.
 */

export interface AdaptiveIntervalInit {
  /** The period after a change, and the only one when not adaptive, ms */
  baseMs: number
  /** The longest period, as a multiple of `baseMs` (1: never backs off) */
  maxFactor: number
}

export class AdaptiveInterval {
  readonly baseMs: number
  readonly maxMs: number
  private current: number
  /** Bumped by every change or stir; a round that ends on the value it began with was quiet */
  private changes = 0
  private changesAtRoundStart = 0

  constructor (init: AdaptiveIntervalInit) {
    this.baseMs = init.baseMs
    this.maxMs = init.baseMs * Math.max(1, init.maxFactor)
    this.current = init.baseMs
  }

  /** Mean wait before the next round, ms */
  get ms (): number {
    return this.current
  }

  /** Whether the period is longer than the base: a change would bring the next round forward */
  get backedOff (): boolean {
    return this.current > this.baseMs
  }

  /**
   * The longest the next wait can be if the round now running ends quiet,
   * ms: what a node tells the peer that waits on its rounds (its successor)
   */
  get nextMaxMs (): number {
    return Math.min(this.maxMs, 2 * this.current)
  }

  /** A round begins: changes from now on make it count as not quiet */
  roundStarted (): void {
    this.changesAtRoundStart = this.changes
  }

  /** A round ended: doubles the period if nothing changed since it began */
  roundEnded (): void {
    if (this.changes === this.changesAtRoundStart) {
      this.current = Math.min(this.maxMs, 2 * this.current)
    }
  }

  /**
   * Something changed that does not call for faster rounds but shows the
   * last one was not idle (the far end of the successor list moved): the
   * period holds instead of doubling, so such changes still travel along the
   * list at the rate they did
   */
  stirred (): void {
    this.changes++
  }

  /**
   * The neighbourhood changed: back to the base period. Returns whether the
   * period was longer (so the caller should bring a pending round forward)
   */
  changed (): boolean {
    this.changes++
    const was = this.current
    this.current = this.baseMs
    return was > this.baseMs
  }
}
