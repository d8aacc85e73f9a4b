/**
 * The simulator's result document: what one run measured, written by the CLI as JSON (`--json`) and
 * rendered as HTML (`--report`). The field names are the CLI's JSON contract, so add fields rather than
 * rename them. Every value is a number (never NaN or Infinity, which JSON cannot carry): a metric with
 * no samples reads as 0.
 *
 * Also here: the percentile helpers the run loop uses to fill it in, including a fixed-bucket latency
 * histogram so that 10^7 lookups do not have to be kept in memory to get their p50 and p99.
 */

export interface SimResult {
  /** The `--nodes` the run was configured with (the steady-state population) */
  nodes: number
  /** Simulated time covered by the run, warm-up included */
  virtualSeconds: number
  /** Wall-clock time the run took */
  wallSeconds: number
  /** Peak resident set size of the process during the run */
  peakRssMB: number
  /** Scheduler events executed */
  events: number
  /**
   * Lookups judged by the oracle after warm-up: correct + wrong + failed = total. `correct` judges the
   * owner a lookup returned against the true successor when the answer *arrives* at the requester.
   * `correctAtOwner` judges the `pure` lookups (`--lookup-rate`; of `total`, failed ones included)
   * when the owner *gives* the answer: the difference is answers that were right and went stale on the way back (the owner left, or a new
   * owner joined, while the answer travelled the path back)
   */
  lookups: { total: number, correct: number, wrong: number, failed: number, pure?: number, correctAtOwner?: number }
  /** Overlay hops per answered lookup */
  hops: { mean: number, p50: number, p99: number }
  /** Virtual time from issuing a lookup to its answer */
  latencyMs: { p50: number, p99: number }
  /**
   * Object fetches after warm-up, by where the bytes came from. `originReasons` classifies the origin
   * fetches of requests that were not the object's first (those the ideal offload counts as avoidable),
   * judged with global knowledge: `noLiveCopy` (no live page held it), `inFlightOnly` (only pages still
   * downloading it did), `lookupFailed`, `notListed` (a live copy existed but the home node listed
   * nobody), `holdersGone` / `holdersEvicted` / `holdersBusy` (every holder tried had left / no longer
   * had it / did not answer in time), `raceLost` (the origin, raced in beside a slow peer path, answered first)
   */
  fetches: { total: number, fromPeers: number, fromOrigin: number, fromLocal: number, originReasons?: Record<string, number> }
  /** Fraction in [0, 1] of fetched bytes that did not come from the origin */
  offload: number
  /** The offload a perfect cache of the same total size would reach on this workload, in [0, 1] */
  idealOffload: number
  /**
   * Fraction of fetched bytes the origin delivered after it was brought in
   * beside a peer path still under way and answered first (the library's
   * race: a fetch takes at most about `originMarginMs` longer than the
   * origin alone); `originReasons.raceLost` counts those fetches
   */
  raceLostShare?: number
  /** Ring maintenance traffic (stabilize, fix-fingers, successor lists, pings) */
  maintenanceBytesPerNodePerSec: number
  /** Holder-directory traffic (locate, announce, replicas, hand-overs), bytes per live node per second */
  directoryBytesPerNodePerSec?: number
  /**
   * Copies home nodes fetched of objects with a single holder (`--home-copies`): how many, their bytes
   * per live node per second, and their bytes over the bytes delivered to requests. They count as the
   * holders' upload, never as offload
   */
  homeCopies?: { copies: number, bytesPerNodePerSec: number, overDelivered: number }
  /** Upload balance: the busiest node's upload bytes over the mean node's */
  upload: { maxOverMean: number }
  /**
   * Ring invariant violations seen by the oracle's checks at the end of the run: members whose first
   * successor (`violations`) or predecessor (`predecessorViolations`) is not the true one
   */
  ring: { violations: number, predecessorViolations?: number }
  /**
   * Joins through contacts over the whole run (warm-up included; not the founder, nor pages placed by
   * `--start converged`): virtual time from a page's arrival to its membership, and the joins that failed
   */
  joins?: { count: number, failed: number, p50Ms: number, p95Ms: number, maxMs: number }
  /** The options used, for reproducibility */
  options: Record<string, unknown>
  /** One point per sample interval; all arrays have the same length */
  series: {
    tSeconds: number[]
    correctRatio: number[]
    offload: number[]
    liveNodes: number[]
    /** Share of members whose successor and predecessor are both the true ones at the sample (results of older versions lack it) */
    neighboursRight?: number[]
  }
  /** hopHistogram[h] = lookups answered in h hops */
  hopHistogram: number[]
  /** Why lookups went wrong or failed, and why fetches went to the origin */
  diagnostics?: { wrong: Record<string, number>, failed: Record<string, number>, origin?: Record<string, number> }
  /**
   * Present when the run was given `--hostile-fraction` (even 0, for a baseline). Hostile pages make no
   * lookups or fetches, so `lookups`, `fetches`, `offload` and the latencies above are the honest pages'
   */
  hostile?: HostileSection
}

/** What the hostile pages were and did (`sim/hostile.ts`), and what the honest pages' fetches came to */
export interface HostileSection {
  /** `--hostile-fraction`: the share of the initial pages that is hostile (later arrivals each with this chance) */
  fraction: number
  /** `--hostile-behaviour` */
  behaviour: string
  /** Hostile pages among the initial `nodes` */
  count: number
  /** Hostile pages made over the whole run, later arrivals included */
  created: number
  /** After the warm-up: lookup ROUTEs swallowed unanswered (`drop`) */
  swallowed: number
  /** After the warm-up: lookup ROUTEs answered with a false claim of ownership (`claim`) */
  claimed: number
  /** After the warm-up: content requests answered with a digest that is not the object's (`claim`) */
  forgedContent: number
  honest: {
    /** Measured fetches that threw while their page was still there (the library should always end at the origin) */
    fetchesFailed: number
    /** Measured fetches still running a minute or more before the end of the run */
    fetchesUnfinished: number
    /** Fetches whose bytes came from a hostile page, over the whole run (0 unless the digest check let forged bytes through) */
    fetchesFromHostile: number
    /** Objects in live honest pages' stores at the end whose digest is not the object's */
    unverifiedStored: number
    /** Issue to bytes of the measured fetches that went to the network (peer or origin), virtual time */
    fetchLatencyMs: { p50: number, p95: number, p99: number }
    /** Why fetches failed, by error name */
    failures: Record<string, number>
  }
}

/**
 * Nearest-rank percentile of an ascending array: the smallest sample such that at least a fraction `p`
 * of the samples are ≤ it. `p` is a fraction (0.99, not 99) so that passing a percentage fails loudly
 * instead of silently returning the maximum. Always returns a sample (no interpolation), so the p50 of
 * integer hop counts is an integer. An empty array yields 0 (see the file header).
 */
export function percentile (sorted: readonly number[], p: number): number {
  checkFraction(p)
  if (sorted.length === 0) {
    return 0
  }
  return sorted[nearestRankIndex(sorted.length, p)]
}

/**
 * Mean, p50 and p99 of a count histogram where `counts[v]` is how many samples had the integer value
 * `v`, such as `SimResult.hopHistogram`. Same nearest-rank rule as {@link percentile}.
 */
export function countHistogramStats (counts: readonly number[]): { mean: number, p50: number, p99: number } {
  let total = 0
  let sum = 0
  for (let v = 0; v < counts.length; v++) {
    total += counts[v]
    sum += v * counts[v]
  }
  if (total === 0) {
    return { mean: 0, p50: 0, p99: 0 }
  }
  return { mean: sum / total, p50: countQuantile(counts, total, 0.5), p99: countQuantile(counts, total, 0.99) }
}

/**
 * Latencies at 1 ms resolution up to this bound, which covers every plausible lookup (timeouts are
 * seconds), so the headline p50/p99 are exact to the millisecond.
 */
export const LATENCY_FINE_LIMIT_MS = 10_000
/** Above the fine range, each bucket is this much wider than the one before (1 % relative error) */
export const LATENCY_COARSE_RATIO = 1.01
/** Above this, samples share one overflow bucket and are reported as the largest sample seen */
export const LATENCY_MAX_MS = 3_600_000

const RANK_EPSILON = 1e-12
const COARSE_BUCKETS = Math.ceil(Math.log(LATENCY_MAX_MS / LATENCY_FINE_LIMIT_MS) / Math.log(LATENCY_COARSE_RATIO))
const LN_COARSE_RATIO = Math.log(LATENCY_COARSE_RATIO)

/**
 * Streaming latency histogram in constant memory (about 85 KB whatever the sample count).
 *
 * Buckets: [k, k+1) ms for k < 10 000; then geometric buckets [10 000·r^i, 10 000·r^(i+1)) with r = 1.01
 * up to 1 hour; then one overflow bucket. A quantile is the nearest-rank sample's bucket, reported as
 * follows. Below 10 s: the bucket's lower edge, so it is ≤ the true sample and less than 1 ms below it
 * (exact when samples are whole milliseconds). From 10 s to 1 h: the bucket's geometric midpoint, within
 * 0.5 % of the true sample. Above 1 h: the largest sample seen. Every reported quantile is also clamped to [min, max] of the samples, which are tracked exactly, as
 * are the count and the mean.
 */
export class LatencyHistogram {
  private readonly fine = new Float64Array(LATENCY_FINE_LIMIT_MS)
  private readonly coarse = new Float64Array(COARSE_BUCKETS)
  private overflow = 0
  private n = 0
  private sum = 0
  private lo = Infinity
  private hi = -Infinity

  add (ms: number): void {
    if (!(ms >= 0) || ms === Infinity) {
      throw new RangeError(`latency must be a finite number ≥ 0 ms, got ${ms}`)
    }
    if (ms < LATENCY_FINE_LIMIT_MS) {
      this.fine[Math.floor(ms)]++
    } else if (ms < LATENCY_MAX_MS) {
      // min() guards the last bucket against floating-point rounding at the top edge
      this.coarse[Math.min(COARSE_BUCKETS - 1, Math.floor(Math.log(ms / LATENCY_FINE_LIMIT_MS) / LN_COARSE_RATIO))]++
    } else {
      this.overflow++
    }
    this.n++
    this.sum += ms
    this.lo = Math.min(this.lo, ms)
    this.hi = Math.max(this.hi, ms)
  }

  /** Number of samples added */
  get count (): number {
    return this.n
  }

  /** Exact mean, 0 when empty */
  get mean (): number {
    return this.n === 0 ? 0 : this.sum / this.n
  }

  /** Exact minimum, 0 when empty */
  get min (): number {
    return this.n === 0 ? 0 : this.lo
  }

  /** Exact maximum, 0 when empty */
  get max (): number {
    return this.n === 0 ? 0 : this.hi
  }

  /** Nearest-rank quantile for a fraction `p` in [0, 1] (0.99 for p99), within the bounds in the class doc; 0 when empty */
  quantile (p: number): number {
    checkFraction(p)
    if (this.n === 0) {
      return 0
    }
    const rank = nearestRankIndex(this.n, p) + 1
    let seen = 0
    for (let k = 0; k < this.fine.length; k++) {
      seen += this.fine[k]
      if (seen >= rank) {
        return this.clamp(k)
      }
    }
    for (let i = 0; i < this.coarse.length; i++) {
      seen += this.coarse[i]
      if (seen >= rank) {
        return this.clamp(LATENCY_FINE_LIMIT_MS * Math.pow(LATENCY_COARSE_RATIO, i + 0.5))
      }
    }
    return this.hi
  }

  /** Adds another histogram's samples to this one (e.g. per-node histograms into a global one) */
  merge (other: LatencyHistogram): void {
    for (let k = 0; k < this.fine.length; k++) {
      this.fine[k] += other.fine[k]
    }
    for (let i = 0; i < this.coarse.length; i++) {
      this.coarse[i] += other.coarse[i]
    }
    this.overflow += other.overflow
    this.n += other.n
    this.sum += other.sum
    this.lo = Math.min(this.lo, other.lo)
    this.hi = Math.max(this.hi, other.hi)
  }

  private clamp (ms: number): number {
    return Math.min(this.hi, Math.max(this.lo, ms))
  }
}

/**
 * 0-based index of the nearest-rank sample: rank ⌈p·n⌉, but at least the first sample. The product is
 * nudged down by a relative 1e-12 because binary fractions overshoot (0.07 × 100 = 7.000000000000001),
 * which would otherwise skip a rank.
 */
function nearestRankIndex (n: number, p: number): number {
  return Math.max(0, Math.ceil(p * n * (1 - RANK_EPSILON)) - 1)
}

function countQuantile (counts: readonly number[], total: number, p: number): number {
  const rank = nearestRankIndex(total, p) + 1
  let seen = 0
  for (let v = 0; v < counts.length; v++) {
    seen += counts[v]
    if (seen >= rank) {
      return v
    }
  }
  return counts.length - 1
}

function checkFraction (p: number): void {
  if (!(p >= 0 && p <= 1)) {
    throw new RangeError(`percentile wants a fraction in [0, 1] (0.99 for p99), got ${p}`)
  }
}
