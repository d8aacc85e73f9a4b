/**
 * What a simulated run measures, after the warm-up: lookups judged against
 * the oracle, fetches by where the bytes came from and why a repeated request
 * went to the origin (judged with global knowledge of which live pages hold
 * each object), home copies, uploads, the time series, and the result
 * document built from all of it.
 */
import { MAX_HOLDER_ATTEMPTS } from '../src/cdn/fetch-pipeline.ts'
import { countHistogramStats, LatencyHistogram, percentile } from './result.ts'
import type { SimNetwork } from './network/network.ts'
import type { SimOptions } from './options.ts'
import type { Oracle } from './oracle.ts'
import type { FetchAttempts, HolderFailure, Page } from './page.ts'
import type { SimResult } from './result.ts'
import type { Scheduler } from './scheduler.ts'
import type { Peer } from '../src/overlay/seams.ts'

export type OriginReason = 'noLiveCopy' | 'inFlightOnly' | 'lookupFailed' | 'notListed' | 'holdersGone' | 'holdersEvicted' | 'holdersBusy' | 'raceLost'

export class RunMetrics {
  readonly lookups = { total: 0, correct: 0, wrong: 0, failed: 0, pure: 0, correctAtOwner: 0 }
  // pure lookups in flight → whether the node that delivered one was the key's true owner when it
  // answered (set by the page's ring transport): the same answer judged when it is given rather than when it arrives
  readonly ownerVerdicts = new Map<bigint, boolean | undefined>()
  // why lookups went wrong or failed: the first place to look when tuning the ring
  readonly diagnostics = { wrong: {} as Record<string, number>, failed: {} as Record<string, number>, origin: {} as Record<string, number> }
  readonly joinedAt = new Map<string, number>()
  readonly fetches = { total: 0, fromPeers: 0, fromOrigin: 0, fromLocal: 0 }
  /** Virtual ms from a page's arrival to its membership, for every page that joined through contacts */
  readonly joins: number[] = []
  /** Pages whose join failed (they leave) */
  joinsFailed = 0
  // why a request that was not the object's first went to the origin (judged with global knowledge)
  readonly originReasons: Record<OriginReason, number> = { noLiveCopy: 0, inFlightOnly: 0, lookupFailed: 0, notListed: 0, holdersGone: 0, holdersEvicted: 0, holdersBusy: 0, raceLost: 0 }
  // global knowledge for that judgement: which live pages hold each object, and which are fetching it
  readonly copies = new Map<number, Set<string>>()
  readonly inFlight = new Map<number, number>()
  readonly bytes = { peers: 0, origin: 0, idealOrigin: 0, raceLost: 0 }
  readonly replication = { copies: 0, bytes: 0 }
  readonly hopHistogram: number[] = []
  readonly latency = new LatencyHistogram()
  readonly uploaded = new Map<string, number>()
  readonly requestedEver = new Set<number>()
  readonly series = { tSeconds: [] as number[], correctRatio: [] as number[], offload: [] as number[], liveNodes: [] as number[], neighboursRight: [] as number[] }
  window = { lookups: 0, correct: 0, peerBytes: 0, originBytes: 0 }
  private maintenanceAtWarmup = 0
  private directoryAtWarmup = 0
  private liveNodeSeconds = 0
  private lastLiveSample = { t: 0, n: 0 }

  private readonly opts: SimOptions
  private readonly scheduler: Scheduler
  private readonly oracle: Oracle
  private readonly pages: Map<string, Page>
  private readonly measureFrom: number

  constructor (opts: SimOptions, scheduler: Scheduler, oracle: Oracle, pages: Map<string, Page>) {
    this.opts = opts
    this.scheduler = scheduler
    this.oracle = oracle
    this.pages = pages
    this.measureFrom = opts.warmupMs
  }

  measuring (): boolean {
    return this.scheduler.now >= this.measureFrom
  }

  /** Integrates the live population over the measured window; call before every change of it */
  trackLive (): void {
    const now = this.scheduler.now
    if (now > this.measureFrom) {
      const from = Math.max(this.lastLiveSample.t, this.measureFrom)
      this.liveNodeSeconds += this.lastLiveSample.n * (now - from) / 1000
    }
    this.lastLiveSample = { t: now, n: this.oracle.size }
  }

  count (table: Record<string, number>, reason: string): void {
    table[reason] = (table[reason] ?? 0) + 1
  }

  /** The end of the warm-up: traffic before it is left out */
  warmupEnded (network: SimNetwork): void {
    this.maintenanceAtWarmup = network.totals().maintenance?.bytes ?? 0
    this.directoryAtWarmup = network.totals().directory?.bytes ?? 0
    this.trackLive()
  }

  /** One point of the time series, over the window since the last */
  sample (): void {
    const window = this.window
    this.series.tSeconds.push(round(this.scheduler.now / 1000, 1))
    this.series.correctRatio.push(window.lookups > 0 ? window.correct / window.lookups : 1)
    this.series.offload.push(window.peerBytes + window.originBytes > 0 ? window.peerBytes / (window.peerBytes + window.originBytes) : 0)
    this.series.liveNodes.push(this.oracle.size)
    // what the browser benchmark samples: members whose successor and predecessor are both the true ones
    const { both } = this.ringViolations()
    this.series.neighboursRight.push(this.oracle.size > 0 ? round(both / this.oracle.size, 4) : 1)
    this.window = { lookups: 0, correct: 0, peerBytes: 0, originBytes: 0 }
  }

  /** Counts a measured fetch by where its bytes came from (`firstEver`: no page had asked for the object before) */
  fetched (source: string, size: number, attempts: FetchAttempts, firstEver: boolean, liveCopy: boolean, othersFetching: boolean): void {
    const { fetches, bytes, window } = this
    fetches.total++
    switch (source) {
      case 'local':
        fetches.fromLocal++
        return
      case 'peer':
        fetches.fromPeers++
        bytes.peers += size
        window.peerBytes += size
        break
      default:
        fetches.fromOrigin++
        bytes.origin += size
        window.originBytes += size
        this.count(this.diagnostics.origin, originReason(attempts, firstEver))
        if (!firstEver) {
          // the origin beat a peer path that was still going: the library chose it for speed (bar B4)
          this.originReasons[attempts.raceLost === true ? 'raceLost' : classifyOrigin(liveCopy, othersFetching, attempts.located, attempts.failures)]++
        }
        if (attempts.raceLost === true && !firstEver) {
          bytes.raceLost += size
        }
    }
    if (firstEver) {
      bytes.idealOrigin += size
    }
  }

  /** Counts a failed lookup; false when it does not count (not measured, or its own page left) */
  lookupFailed (page: Page, measured: boolean, key: bigint, name: string, message: string): boolean {
    // a lookup cut short because its own page left is not the ring's failure
    if (measured && page.alive && page.ring.joined) {
      this.lookups.total++
      this.lookups.failed++
      this.window.lookups++
      // peer ids, keys and numbers folded, so that failures group by kind; a hostile owner's keys
      // apart, since a bare lookup for one cannot succeed while it swallows
      const owner = this.oracle.successor(key)
      const whose = owner != null && this.pages.get(owner.address)?.hostile === true ? 'hostile owner' : 'honest owner'
      this.count(this.diagnostics.failed, `${whose}: ${name}: ${message.replace(/12D3KooW\w+/g, 'X').replace(/\b[0-9a-f]{16,}\b/g, 'K').replace(/[0-9]+/g, 'N').slice(0, 160)}`)
      return true
    }
    return false
  }

  /** Judges an answered lookup on arrival; true when it is right */
  judge (key: bigint, owner: Peer, hops: number, ms: number): boolean {
    this.lookups.total++
    this.window.lookups++
    const truth = this.oracle.successor(key)
    const right = truth?.address === owner.address
    if (right) {
      this.lookups.correct++
      this.window.correct++
    } else {
      this.lookups.wrong++
      this.count(this.diagnostics.wrong, this.wrongReason(truth, owner))
    }
    this.hopHistogram[hops] = (this.hopHistogram[hops] ?? 0) + 1
    this.latency.add(ms)
    return right
  }

  /**
   * The result document. `createdPages`: pages made over the whole run;
   * `wallStart` and `peakRss` measure the host.
   */
  result (network: SimNetwork, createdPages: number, wallStart: number, peakRss: number): SimResult {
    const { opts, scheduler, pages, bytes, replication, hopHistogram, latency, lookups, fetches } = this
    const { violations, predecessorViolations } = this.ringViolations()
    // a wall-limited run ends early: rates are over the part actually simulated
    const measuredSeconds = Math.max(1e-9, (scheduler.now - this.measureFrom) / 1000)
    const meanLive = this.liveNodeSeconds / measuredSeconds
    const maintenanceBytes = (network.totals().maintenance?.bytes ?? 0) - this.maintenanceAtWarmup
    const directoryBytes = (network.totals().directory?.bytes ?? 0) - this.directoryAtWarmup
    const uploads = [...this.uploaded.values()]
    const totalUploaded = uploads.reduce((a, b) => a + b, 0)
    // mean over every page that was a member during the measured window, uploaders or not
    const pagesInWindow = Math.max(1, countPagesInWindow(createdPages, opts))
    const hops = countHistogramStats(Array.from(hopHistogram, h => h ?? 0))
    const delivered = bytes.peers + bytes.origin

    for (const page of pages.values()) {
      page.ring.stop()
    }

    return {
      nodes: opts.nodes,
      virtualSeconds: round(scheduler.now / 1000, 1),
      wallSeconds: round((performance.now() - wallStart) / 1000, 2),
      peakRssMB: round(peakRss / 1024 / 1024, 1),
      events: scheduler.events,
      // copies: fetches still in flight keep counting into the live objects after we return
      lookups: { ...lookups },
      hops: { mean: round(hops.mean, 3), p50: hops.p50, p99: hops.p99 },
      latencyMs: { p50: round(latency.quantile(0.5), 1), p99: round(latency.quantile(0.99), 1) },
      fetches: { ...fetches, originReasons: { ...this.originReasons } },
      offload: round(delivered > 0 ? bytes.peers / delivered : 0, 4),
      idealOffload: round(delivered > 0 ? 1 - bytes.idealOrigin / delivered : 0, 4),
      raceLostShare: round(delivered > 0 ? bytes.raceLost / delivered : 0, 4),
      maintenanceBytesPerNodePerSec: round(meanLive > 0 ? maintenanceBytes / meanLive / measuredSeconds : 0, 1),
      directoryBytesPerNodePerSec: round(meanLive > 0 ? directoryBytes / meanLive / measuredSeconds : 0, 1),
      homeCopies: { copies: replication.copies, bytesPerNodePerSec: round(meanLive > 0 ? replication.bytes / meanLive / measuredSeconds : 0, 1), overDelivered: round(delivered > 0 ? replication.bytes / delivered : 0, 4) },
      upload: { maxOverMean: round(uploads.length > 0 ? Math.max(...uploads) / (totalUploaded / pagesInWindow) : 0, 2) },
      ring: { violations, predecessorViolations },
      joins: joinStats(this.joins, this.joinsFailed),
      options: { ...opts },
      diagnostics: structuredClone(this.diagnostics),
      series: structuredClone(this.series),
      hopHistogram: Array.from(hopHistogram, h => h ?? 0)
    }
  }

  /** Members whose successor or predecessor pointer is not the true one, and those whose both are */
  private ringViolations (): { violations: number, predecessorViolations: number, both: number } {
    const { oracle, pages } = this
    let violations = 0
    let predecessorViolations = 0
    let both = 0
    for (const member of oracle.all()) {
      const page = pages.get(member.address)
      const truth = oracle.next(member)
      const believed = page?.ring.successors[0]
      const successorWrong = truth != null && believed?.address !== truth.address
      const predecessorWrong = page?.ring.predecessor?.address !== oracle.previous(member)?.address
      if (successorWrong) {
        violations++
      }
      if (predecessorWrong) {
        predecessorViolations++
      }
      if (!successorWrong && !predecessorWrong) {
        both++
      }
    }
    return { violations, predecessorViolations, both }
  }

  private wrongReason (truth: Peer | undefined, owner: Peer): string {
    if (truth == null) {
      return 'no members'
    }
    if (!this.oracle.has(owner.address)) {
      return 'answered by a node that left meanwhile'
    }
    const ownerPage = this.pages.get(owner.address)
    const ownerPred = ownerPage?.ring.predecessor
    const age = this.scheduler.now - (this.joinedAt.get(truth.address) ?? 0)
    if (age < 10_000) {
      return 'true owner joined < 10 s ago'
    }
    if (ownerPred == null) {
      return 'owner had no predecessor'
    }
    if (!this.oracle.has(ownerPred.address)) {
      return 'owner\'s predecessor was dead'
    }
    if (ownerPage?.ring.isSuspect(ownerPred.address) === true) {
      return 'owner suspected its live predecessor'
    }
    return 'other'
  }
}

function originReason (attempts: FetchAttempts, firstEver: boolean): string {
  if (firstEver) {
    return 'first request of the object (ideal too)'
  }
  if (!attempts.located) {
    return 'lookup failed'
  }
  return attempts.listed === 0 ? 'no holder listed' : `all ${Math.min(MAX_HOLDER_ATTEMPTS, attempts.listed)} holders tried failed`
}

/**
 * Why a repeated request ended at the origin, most fundamental cause first: nobody alive held the
 * object (`inFlightOnly`: only pages still downloading it), the lookup failed, the home node listed
 * nobody, or every holder tried failed (some were busy/timed out, else some had evicted it, else all
 * had left)
 */
function classifyOrigin (liveCopy: boolean, othersFetching: boolean, located: boolean, failures: HolderFailure[]): OriginReason {
  if (!liveCopy) {
    return othersFetching ? 'inFlightOnly' : 'noLiveCopy'
  }
  if (!located) {
    return 'lookupFailed'
  }
  if (failures.length === 0) {
    return 'notListed'
  }
  if (failures.includes('busy')) {
    return 'holdersBusy'
  }
  return failures.includes('evicted') ? 'holdersEvicted' : 'holdersGone'
}

function countPagesInWindow (created: number, o: SimOptions): number {
  // pages alive at warm-up plus those that arrived after it
  return o.sessionMedianMs > 0 ? Math.max(o.nodes, created - o.nodes) : o.nodes
}

export function round (x: number, digits: number): number {
  const f = 10 ** digits
  return Math.round(x * f) / f
}

/** Join times of a run: how many, how many failed, nearest-rank p50 / p95 / max */
function joinStats (durations: number[], failed: number): NonNullable<SimResult['joins']> {
  const sorted = [...durations].sort((a, b) => a - b)
  return {
    count: sorted.length,
    failed,
    p50Ms: round(percentile(sorted, 0.5), 1),
    p95Ms: round(percentile(sorted, 0.95), 1),
    maxMs: round(sorted[sorted.length - 1] ?? 0, 1)
  }
}
