/**
 * Seeded randomness for the simulator: one independent stream per node and per
 * purpose, forked by label, so that adding node 1001 or one more workload
 * draw does not perturb anything else in the run.
 *
 * The generator is sfc32 (Chris Doty-Humphrey's Small Fast Chaotic PRNG, 128
 * bits of state, passes PractRand), pure 32-bit integer arithmetic that V8
 * keeps in registers. Seeds and fork labels are hashed to 128 bits with a
 * cyrb128-style string hash followed by murmur3's finaliser.
 */
import type { Random } from '../src/overlay/seams.ts'

const TWO_POW_32 = 4294967296
const TWO_POW_53 = 9007199254740992
/** sfc32's authors discard the first outputs so that similar seeds diverge */
const WARM_UP_ROUNDS = 15
/** Initial hash state for root seeds (the fractional digits of π) */
const ROOT_KEY: readonly number[] = [0x243f6a88, 0x85a308d3, 0x13198a2e, 0x03707344]
/** Mixed into a parent key before it hashes a fork label, so a fork never equals a root stream of the same text */
const FORK_DOMAIN = 0x9e3779b9

/** murmur3's 32-bit finaliser: full avalanche of one word */
function fmix32 (h: number): number {
  h ^= h >>> 16
  h = Math.imul(h, 0x85ebca6b)
  h ^= h >>> 13
  h = Math.imul(h, 0xc2b2ae35)
  h ^= h >>> 16
  return h >>> 0
}

/** Hashes `text` into 128 bits starting from the 4-word state `key` */
function hash128 (text: string, key: readonly number[]): number[] {
  let h1 = key[0] | 0
  let h2 = key[1] | 0
  let h3 = key[2] | 0
  let h4 = key[3] | 0
  for (let i = 0; i < text.length; i++) {
    const k = text.charCodeAt(i)
    h1 = h2 ^ Math.imul(h1 ^ k, 597399067)
    h2 = h3 ^ Math.imul(h2 ^ k, 2869860233)
    h3 = h4 ^ Math.imul(h3 ^ k, 951274213)
    h4 = h1 ^ Math.imul(h4 ^ k, 2716044179)
  }
  h1 ^= text.length
  h1 = Math.imul(h3 ^ (h1 >>> 18), 597399067)
  h2 = Math.imul(h4 ^ (h2 >>> 22), 2869860233)
  h3 = Math.imul(h1 ^ (h3 >>> 17), 951274213)
  h4 = Math.imul(h2 ^ (h4 >>> 19), 2716044179)
  h1 ^= h2 ^ h3 ^ h4
  h2 ^= h1
  h3 ^= h1
  h4 ^= h1
  return [fmix32(h1), fmix32(h2), fmix32(h3), fmix32(h4)]
}

/**
 * A deterministic stream of random numbers. Not cryptographic: for the
 * simulator and tests only.
 */
export class SeededRandom implements Random {
  /** The 128-bit hash this stream started from; forks derive from it, never from the current state */
  private key: readonly number[] = ROOT_KEY
  private a = 0
  private b = 0
  private c = 0
  private d = 0
  /** Box-Muller makes normals in pairs; the second waits here */
  private spareNormal = NaN

  /** The same seed, as a number or its string form (`42` and `'42'` alike), gives the same stream */
  constructor (seed: number | string) {
    this.init(hash128(String(seed), ROOT_KEY))
  }

  /**
   * An independent stream derived from this stream's seed and `label`. It does
   * not consume from this stream, so it is the same however much this stream
   * has been used, and forks with different labels are unrelated.
   */
  fork (label: string): SeededRandom {
    const k = this.key
    const child = new SeededRandom(0)
    child.init(hash128(label, [k[0] ^ FORK_DOMAIN, k[1], k[2], k[3]]))
    return child
  }

  /** Uniform 32-bit unsigned integer */
  uint32 (): number {
    const a = this.a
    const b = this.b
    const c = this.c
    const t = (((a + b) | 0) + this.d) | 0
    this.d = (this.d + 1) | 0
    this.a = b ^ (b >>> 9)
    this.b = (c + (c << 3)) | 0
    this.c = (((c << 21) | (c >>> 11)) + t) | 0
    return t >>> 0
  }

  /** Uniform in [0, 1) with 32 bits of resolution */
  next (): number {
    return this.uint32() / TWO_POW_32
  }

  /** Uniform integer in [0, n) for a positive integer n up to 2^53, without modulo bias */
  int (n: number): number {
    if (!Number.isInteger(n) || n <= 0 || n > TWO_POW_53) {
      throw new RangeError(`int(n) needs a positive integer n ≤ 2^53, got ${n}`)
    }
    if (n <= TWO_POW_32) {
      // reject the top partial block of 2^32 so every residue is equally likely
      const limit = TWO_POW_32 - (TWO_POW_32 % n)
      let x = this.uint32()
      while (x >= limit) {
        x = this.uint32()
      }
      return x % n
    }
    // 53 random bits; the bias (n / 2^53) is below anything a simulation can see
    return Math.floor((this.uint32() * 2097152 + (this.uint32() >>> 11)) / TWO_POW_53 * n)
  }

  /** True with probability p */
  chance (p: number): boolean {
    return this.next() < p
  }

  /** A uniformly chosen element of a non-empty array */
  pick<T> (items: readonly T[]): T {
    if (items.length === 0) {
      throw new RangeError('cannot pick from an empty array')
    }
    return items[this.int(items.length)]
  }

  /** Shuffles `items` in place (Fisher-Yates) and returns it */
  shuffle<T> (items: T[]): T[] {
    for (let i = items.length - 1; i > 0; i--) {
      const j = this.int(i + 1)
      const t = items[i]
      items[i] = items[j]
      items[j] = t
    }
    return items
  }

  /** Exponentially distributed with the given mean, e.g. Poisson inter-arrival times */
  exponential (mean: number): number {
    // 1 - next() is in (0, 1], so the logarithm is finite
    return -mean * Math.log(1 - this.next())
  }

  /** Pareto distributed with minimum `scale` and tail index `shape` (heavy-tailed session times) */
  pareto (scale: number, shape: number): number {
    return scale / Math.pow(1 - this.next(), 1 / shape)
  }

  /** Standard normal (mean 0, standard deviation 1), by the Box-Muller transform */
  normal (): number {
    const spare = this.spareNormal
    if (!Number.isNaN(spare)) {
      this.spareNormal = NaN
      return spare
    }
    const r = Math.sqrt(-2 * Math.log(1 - this.next()))
    const theta = 2 * Math.PI * this.next()
    this.spareNormal = r * Math.sin(theta)
    return r * Math.cos(theta)
  }

  /** Lognormal: `exp(mu + sigma × normal())`, e.g. object sizes (the median is `exp(mu)`) */
  lognormal (mu: number, sigma: number): number {
    return Math.exp(mu + sigma * this.normal())
  }

  private init (key: readonly number[]): void {
    this.key = key
    this.a = key[0] | 0
    this.b = key[1] | 0
    this.c = key[2] | 0
    this.d = key[3] | 0
    this.spareNormal = NaN
    for (let i = 0; i < WARM_UP_ROUNDS; i++) {
      this.uint32()
    }
  }
}

/**
 * Draws ranks in [0, n) with P(rank k) ∝ (k + 1)^-alpha: rank 0 is the most
 * popular object. alpha = 0 is uniform. The cumulative weights are computed
 * once (8 bytes per rank); each sample is one uniform draw and a binary search.
 */
export class ZipfSampler {
  readonly n: number
  readonly alpha: number
  private readonly random: Random
  /** cdf[k] = sum of the weights of ranks 0..k (not normalised) */
  private readonly cdf: Float64Array
  private readonly total: number

  constructor (n: number, alpha: number, random: Random) {
    if (!Number.isInteger(n) || n <= 0) {
      throw new RangeError(`ZipfSampler needs a positive integer n, got ${n}`)
    }
    if (!(alpha >= 0) || alpha === Infinity) {
      throw new RangeError(`ZipfSampler needs a finite alpha ≥ 0, got ${alpha}`)
    }
    this.n = n
    this.alpha = alpha
    this.random = random
    this.cdf = new Float64Array(n)
    let sum = 0
    for (let k = 0; k < n; k++) {
      sum += Math.pow(k + 1, -alpha)
      this.cdf[k] = sum
    }
    this.total = sum
  }

  /** A rank in [0, n) */
  sample (): number {
    const cdf = this.cdf
    const u = this.random.next() * this.total
    // the first rank whose cumulative weight exceeds u
    let lo = 0
    let hi = this.n - 1
    while (lo < hi) {
      const mid = (lo + hi) >>> 1
      if (cdf[mid] > u) {
        hi = mid
      } else {
        lo = mid + 1
      }
    }
    return lo
  }

  /** The probability of drawing `rank` */
  probability (rank: number): number {
    if (!Number.isInteger(rank) || rank < 0 || rank >= this.n) {
      return 0
    }
    return Math.pow(rank + 1, -this.alpha) / this.total
  }
}
