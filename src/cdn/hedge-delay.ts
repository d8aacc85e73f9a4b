/**
 * How long a fetch waits for a holder to start sending before it asks the
 * next holder beside it (a hedged request). Learned from the holders' own
 * answer times on this page, the way TCP learns its retransmission timeout
 * (RFC 6298): a smoothed answer time plus four times its mean deviation, so
 * an honest holder on a warm connection is almost never hedged, while one
 * that accepts a request and says nothing costs a fetch a few answer times
 * instead of the whole answer deadline. p2p-media-loader and WebTorrent
 * likewise keep more than one peer busy rather than wait out a slow one.
 * Pure: the peer phase measures on its `Clock` and feeds the samples in.
 */

/** Hedge delay before any holder has answered on this page, ms (a WebRTC set-up through the relay and the answer) */
export const HEDGE_PRIOR_MS = 500
/** Never hedge sooner than this, ms: below it a second request costs more than the wait it saves */
export const HEDGE_MIN_MS = 150
/** Never wait longer than this before hedging, ms */
export const HEDGE_MAX_MS = 1_000

export interface HedgeDelayInit {
  /** @default HEDGE_PRIOR_MS (500 ms) */
  priorMs?: number
  /** @default HEDGE_MIN_MS (150 ms) */
  minMs?: number
  /** @default HEDGE_MAX_MS (1 s) */
  maxMs?: number
}

export class HedgeDelay {
  private readonly priorMs: number
  private readonly minMs: number
  private readonly maxMs: number
  /** Smoothed answer time and its mean deviation, ms; undefined before the first sample */
  private srtt?: number
  private rttvar = 0

  constructor (init: HedgeDelayInit = {}) {
    this.minMs = Math.max(0, init.minMs ?? HEDGE_MIN_MS)
    this.maxMs = Math.max(this.minMs, init.maxMs ?? HEDGE_MAX_MS)
    this.priorMs = init.priorMs ?? HEDGE_PRIOR_MS
  }

  /** A holder started sending `ms` after it was asked */
  sample (ms: number): void {
    if (!Number.isFinite(ms) || ms < 0) {
      return
    }
    if (this.srtt == null) {
      this.srtt = ms
      this.rttvar = ms / 2
      return
    }
    this.rttvar = 0.75 * this.rttvar + 0.25 * Math.abs(this.srtt - ms)
    this.srtt = 0.875 * this.srtt + 0.125 * ms
  }

  /** How long to wait for the holders asked so far before asking another, ms */
  get ms (): number {
    const estimate = this.srtt == null ? this.priorMs : this.srtt + 4 * this.rttvar
    return Math.min(this.maxMs, Math.max(this.minMs, estimate))
  }
}
