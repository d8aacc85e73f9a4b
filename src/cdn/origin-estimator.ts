/**
 * What an origin fetch of an object takes, learned from the origin fetches
 * this node has made, and when a fetch should bring the origin in beside the
 * peer path. Pure: the pipeline measures each origin fetch on its `Clock`
 * and feeds the estimator; nothing here reads time.
 *
 * Model: an origin fetch of `bytes` takes `rtt + bytes / throughput` ms.
 * Both are fitted by least squares over the samples, each older sample
 * weighted down by `decay` per newer one, so the estimate follows a page
 * whose network or load changes. Samples of one size alone cannot tell the
 * round trip from the throughput: then the throughput is the prior's and
 * the round trip takes the rest.
 */

/** Round trip assumed before the first origin fetch has been measured, ms */
export const ORIGIN_PRIOR_RTT_MS = 200
/** Throughput assumed before the origin has been measured, bytes per second (1 MiB/s) */
export const ORIGIN_PRIOR_BYTES_PER_SEC = 1_048_576
/** Weight of what was learned before, per new sample (about the last 10 samples count) */
export const ORIGIN_ESTIMATE_DECAY = 0.9
/** Sizes of the samples must spread at least this much (standard deviation, bytes) for a throughput fit */
const MIN_SIZE_SPREAD_BYTES = 16_384
/** Bounds on a fitted throughput, bytes per second: a few noisy samples must not make it absurd */
const MIN_FIT_BYTES_PER_SEC = 16_384
const MAX_FIT_BYTES_PER_SEC = 1_073_741_824

/**
 * How long after a fetch starts the peer path may run alone, by default:
 * the origin is brought in early enough that a fetch ends at most about this
 * much later than the origin alone would have, ms. The peer phase's old flat
 * budget, so that by default the race only ever makes a fetch end sooner:
 * 800 ms (issue 20's bar B4 is 1 s) met B4 in browsers on loopback but gave
 * the origin nearly every fetch in the simulator, whose lookups take
 * 0.5-1 s as lookups between distant visitors do, and 3 s still lost the
 * first fetches of pages that had just joined on a busy machine
 * (bench/RESULTS.md). A site whose visitors are close may set
 * `originMarginMs` lower.
 */
export const ORIGIN_MARGIN_MS = 8_000
/**
 * The peers always have the fetch to themselves this long, ms (unless the
 * margin is shorter): an origin that starts at once wins every race it is
 * as fast in (a large object from a nearby origin, the simulator's world),
 * and the peers would serve nothing. The simulator's offload held with it;
 * starting a slow origin at once did not (7.5 % instead of 41 %).
 */
export const ORIGIN_HEAD_START_MS = 500
/**
 * The origin is brought in when the time left before the fetch's deadline
 * falls under this many times the origin's estimated time (p2p-media-loader
 * backs a slow peer download with HTTP the same way, at about twice)
 */
export const ORIGIN_SAFETY_FACTOR = 2

export interface OriginEstimatorInit {
  /** @default ORIGIN_PRIOR_RTT_MS (200 ms) */
  priorRttMs?: number
  /** @default ORIGIN_PRIOR_BYTES_PER_SEC (1 MiB/s) */
  priorBytesPerSec?: number
  /** @default ORIGIN_ESTIMATE_DECAY (0.9) */
  decay?: number
}

export class OriginEstimator {
  private readonly priorRttMs: number
  private readonly priorMsPerByte: number
  private readonly decay: number
  /** Weighted sums over the samples: weights, sizes, times, sizes², sizes × times */
  private w = 0
  private sx = 0
  private sy = 0
  private sxx = 0
  private sxy = 0
  private count = 0

  constructor (init: OriginEstimatorInit = {}) {
    this.priorRttMs = init.priorRttMs ?? ORIGIN_PRIOR_RTT_MS
    this.priorMsPerByte = 1_000 / (init.priorBytesPerSec ?? ORIGIN_PRIOR_BYTES_PER_SEC)
    this.decay = init.decay ?? ORIGIN_ESTIMATE_DECAY
  }

  /** Origin fetches measured so far */
  get samples (): number {
    return this.count
  }

  /** An origin fetch of `bytes` took `ms` (from the request to the last byte); nonsense is ignored */
  observe (bytes: number, ms: number): void {
    if (!Number.isFinite(bytes) || !Number.isFinite(ms) || bytes < 0 || ms < 0) {
      return
    }
    this.w = this.w * this.decay + 1
    this.sx = this.sx * this.decay + bytes
    this.sy = this.sy * this.decay + ms
    this.sxx = this.sxx * this.decay + bytes * bytes
    this.sxy = this.sxy * this.decay + bytes * ms
    this.count++
  }

  /**
   * The time an origin fetch of `bytes` should take, ms. With the size
   * unknown (no holder has said it yet), the size of a typical object
   * fetched so far.
   */
  estimate (bytes?: number): number {
    if (this.count === 0) {
      return this.priorRttMs + (bytes ?? 0) * this.priorMsPerByte
    }
    const meanX = this.sx / this.w
    const meanY = this.sy / this.w
    const size = bytes ?? meanX
    const varX = Math.max(0, this.sxx / this.w - meanX * meanX)
    let msPerByte = this.priorMsPerByte
    if (Math.sqrt(varX) >= MIN_SIZE_SPREAD_BYTES) {
      const fitted = (this.sxy / this.w - meanX * meanY) / varX
      msPerByte = Math.min(1_000 / MIN_FIT_BYTES_PER_SEC, Math.max(1_000 / MAX_FIT_BYTES_PER_SEC, fitted))
    }
    const rtt = Math.max(0, meanY - msPerByte * meanX)
    return rtt + size * msPerByte
  }
}

export interface OriginStartInit {
  /** @default ORIGIN_MARGIN_MS (8 s) */
  marginMs?: number
  /** @default ORIGIN_HEAD_START_MS (500 ms) */
  headStartMs?: number
  /** @default ORIGIN_SAFETY_FACTOR (2) */
  safetyFactor?: number
}

/**
 * When a fetch that started at `startedAt` brings the origin in beside the
 * peer path, given the origin's estimated time for the object: the fetch
 * should end by `startedAt + estimate + margin`, and the origin starts once
 * the time left to that falls under `safetyFactor × estimate`. Never later
 * than `startedAt + margin`, so a fetch ends at most `margin` after the
 * origin alone would have (if the origin takes as long then as it would
 * have at the start) whatever the peer path does; never before the peers'
 * head start, so that a slow origin (a large object) does not take every
 * fetch the peers could have served as fast.
 */
export function originStartAt (startedAt: number, estimateMs: number, init: OriginStartInit = {}): number {
  const margin = Math.max(0, init.marginMs ?? ORIGIN_MARGIN_MS)
  const headStart = Math.min(margin, Math.max(0, init.headStartMs ?? ORIGIN_HEAD_START_MS))
  const safety = Math.max(1, init.safetyFactor ?? ORIGIN_SAFETY_FACTOR)
  const deadline = startedAt + estimateMs + margin
  return Math.min(startedAt + margin, Math.max(startedAt + headStart, deadline - safety * estimateMs))
}
