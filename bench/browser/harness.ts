/**
 * The browser benchmark's driver, shared by `npm run bench:browser`
 * (bench/browser/run.ts) and its small version in `npm test`
 * (test/browser/browser-bench.spec.ts).
 *
 * The world is test/browser/e2e-harness.ts's: a real relay, an HTTP origin
 * with counters (here with an added delay and an optional bandwidth cap, to
 * stand for a distant server: this kernel has no netem), the shipped page
 * bundle, and Chromium pages spread over several browser processes.
 *
 * 1. Joins: a founder page starts, then the others arrive a little apart
 * (visitors do not arrive in the same millisecond); each page times its own
 * join. Then the ring is sampled against the true ring (all started pages
 * sorted by ring id) until it agrees, bounded.
 * 2. Sizes: per origin delay and asset size, a fresh asset is fetched first by
 * one page, then by every other page (a few at a time). Every fetch is paired
 * with a plain origin `fetch()` of the same URL started with it in the same
 * page, so the machine's load (other engineers' tests, the other pages)
 * slows both alike.
 * 3. Churn: for `durationSec`, pages fetch assets of a Zipf mix while a page
 * leaves (its tab closes) and a new one arrives every `churnEverySec`; the
 * ring is sampled every `ringSampleMs`; offload comes from the origin's own
 * counters against the bytes fetches got from peers.
 *
 * Nothing here is a pass/fail judgement: bench/browser/report.ts computes the
 * bars from the numbers this returns. Every wait is bounded; a run that
 * cannot proceed (no page joins at all) throws a named error.
 */
import { execFileSync } from 'node:child_process'
import { loadavg } from 'node:os'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { launchChromium, withTimeout } from '../../test/browser/chromium.ts'
import { ASSETS, E2ePage, ringErrors, startWorld } from '../../test/browser/e2e-harness.ts'
import { ringShape } from '../../test/browser/ring-shape.ts'
import { BASELINE_QUERY, bytesOf, sri } from '../../test/fixtures/origin-server.ts'
import type { BenchApi, PageInfo, PairResult } from './bench.page.ts'
import type { RingView } from '../../src/browser.ts'
import type { E2eWorld } from '../../test/browser/e2e-harness.ts'
import type { OriginTraffic } from '../../test/fixtures/origin-server.ts'
import type { Browser } from 'playwright-core'

const HERE = dirname(fileURLToPath(import.meta.url))
const BENCH_PAGE = join(HERE, 'bench.page.ts')

export interface BrowserBenchOptions {
  /**
   * Pages open at a time
   *
   * @default 24
   */
  pages: number
  /**
   * Chromium processes the pages are spread over
   *
   * @default 3
   */
  processes: number
  /**
   * Origin added delays for the size phase, ms; the churn phase uses 50 if listed, else the first
   *
   * @default [50]
   */
  delaysMs: number[]
  /**
   * Origin per-response cap, kbit/s, 0 for none
   *
   * @default 0
   */
  kbps: number
  /**
   * Asset sizes of the size phase, bytes
   *
   * @default 1 KB, 30 KB, 300 KB, 3 MB
   */
  sizes: number[]
  /**
   * Fresh assets per (delay, size) cell; each is fetched by every page
   *
   * @default 2
   */
  rounds: number
  /**
   * Pages fetching at once in the size phase
   *
   * @default 4
   */
  concurrency: number
  /**
   * Assets in the churn phase's Zipf mix, 0 to skip the phase
   *
   * @default 50
   */
  zipfAssets: number
  /**
   * Sizes of the Zipf assets, assigned in turn
   *
   * @default 1 KB, 30 KB, 300 KB
   */
  zipfSizes: number[]
  /**
   * Zipf exponent
   *
   * @default 1
   */
  zipfAlpha: number
  /**
   * A page leaves and a new one arrives this often, s (0: no churn)
   *
   * @default 10
   */
  churnEverySec: number
  /**
   * Length of the churn phase, s
   *
   * @default 120
   */
  durationSec: number
  /**
   * One Zipf fetch starts this often (at most `maxInFlight` at once), ms
   *
   * @default 250
   */
  requestEveryMs: number
  /** @default 6 */
  maxInFlight: number
  /**
   * Initial pages arrive this far apart, ms
   *
   * @default 500
   */
  arriveEveryMs: number
  /**
   * A page's own bound on `whenJoined`, ms
   *
   * @default 120 000
   */
  joinTimeoutMs: number
  /**
   * Bound on waiting for every initial page to join, ms
   *
   * @default 120 000
   */
  joinWaitMs: number
  /**
   * Bound on waiting for the ring to agree with the true ring after the last join, ms
   *
   * @default 60 000
   */
  ringWaitMs: number
  /**
   * Ring samples this often, ms
   *
   * @default 5 000
   */
  ringSampleMs: number
  /**
   * Bound on one fetch pair in the page, ms
   *
   * @default 30 000
   */
  fetchTimeoutMs: number
  /**
   * Seed of the asset bytes and the random choices
   *
   * @default 1
   */
  seed: number
  /**
   * Progress lines
   *
   * @default none
   */
  log?(line: string): void
}

export const DEFAULT_OPTIONS: BrowserBenchOptions = {
  pages: 24,
  processes: 3,
  delaysMs: [50],
  kbps: 0,
  sizes: [1_000, 30_000, 300_000, 3_000_000],
  rounds: 2,
  concurrency: 4,
  zipfAssets: 50,
  zipfSizes: [1_000, 30_000, 300_000],
  zipfAlpha: 1,
  churnEverySec: 10,
  durationSec: 120,
  requestEveryMs: 250,
  maxInFlight: 6,
  arriveEveryMs: 500,
  joinTimeoutMs: 120_000,
  joinWaitMs: 120_000,
  ringWaitMs: 60_000,
  ringSampleMs: 5_000,
  fetchTimeoutMs: 30_000,
  seed: 1
}

/** Not one page joined the ring: nothing else can be measured */
export class NoRingError extends Error {
  static name = 'NoRingError'
  name = 'NoRingError'
}

export interface FetchRecord extends PairResult {
  phase: 'sizes' | 'churn'
  /** `first`: the asset's first fetch in the ring; `later`: a page fetching what another page fetched; `zipf`: churn mix */
  role: 'first' | 'later' | 'zipf'
  size: number
  delayMs: number
  page: number
  /** Whether the page had joined when the fetch began */
  joined: boolean
  /** Seconds since the run began */
  at: number
}

export interface PageRecord {
  page: number
  process: number
  peerId?: string
  /** Seconds since the run began */
  openedAt: number
  /** Arrived during churn */
  churn: boolean
  joinMs?: number
  joined: boolean
  joinError?: string
  /** When `whenJoined` rejected, ms after the page started creating its node */
  joinErrorMs?: number
  /** Seconds since the run began; absent while open */
  leftAt?: number
  /** Last sample */
  webrtc?: number
  connections?: number
  /** Advertised `/p2p-circuit/webrtc` addresses at the last sample (0: no relay reservation, unreachable) */
  webrtcAddrs?: number
  heapMiB?: number
  /** Counters at the last sample (for leavers: just before leaving) */
  stats?: Record<string, any>
  error?: string
}

export interface RingSample {
  /** Seconds since the run began */
  at: number
  phase: string
  /** Started pages (the true ring's members) */
  pages: number
  joined: number
  /** Pages whose successor and predecessor both match the true ring */
  correct: number
  errors: number
  /** Joined pages whose two neighbours match the ring of the joined pages alone (does the members' ring hold together?) */
  membersCorrect: number
  /** When some page is wrong: the cycles the joined pages' first successors draw (a split, a loopy ring, or a few wrong pointers) */
  shape?: { cycles: Array<{ length: number, windings: number }>, tails: number, dangling: number }
  /** When some page is wrong: the disagreements, as `ringErrors` words them */
  wrong?: string[]
}

export interface BrowserBenchResult {
  options: Omit<BrowserBenchOptions, 'log'>
  startedAt: string
  durationSec: number
  load: { before: string, after: string, loadavgBefore: number[], loadavgAfter: number[] }
  bundleBytes: number
  pages: PageRecord[]
  fetches: FetchRecord[]
  /**
   * Fetch pairs cut short by their page leaving (churn): a visitor may close a
   * tab mid-fetch, so the origin may have counted a plain fetch (and a ringcdn
   * one) that no record above stands for
   */
  abandoned: Array<{ page: number, url: string, size: number, phase: FetchRecord['phase'] }>
  ring: RingSample[]
  /** Seconds from the last initial join to the first sample agreeing with the true ring (absent: never within `ringWaitMs`) */
  ringTrueAfterJoinSec?: number
  /** Same, after the churn phase's last arrival (absent: never within `ringWaitMs`, or no churn) */
  ringTrueAfterChurnSec?: number
  /**
   * When pages gave up joining (the true ring cannot form without them):
   * seconds from the last join until the joined pages' own ring agreed
   */
  membersRingTrueAfterJoinSec?: number
  membersRingTrueAfterChurnSec?: number
  /** When the ring did not agree with the true ring in time: every page's view at the last sample, by phase */
  stuckViews?: Record<string, RingView[]>
  /** Then: the recent console lines of every page that was wrong, by phase and peer id */
  stuckLogs?: Record<string, Record<string, string[]>>
  /** What the origin served during the churn phase, from its own counters */
  churnOrigin?: { cdn: OriginTraffic, baseline: OriginTraffic }
  /** Whole run, from the origin's counters */
  origin: { cdn: OriginTraffic, baseline: OriginTraffic }
  /** Times churn happened: seconds since the run began */
  churnEvents: Array<{ at: number, left?: number, arrived: number }>
}

/** Console lines kept per wrong page when the ring does not agree in time */
const STUCK_LOG_LINES = 120

/** Seeded PRNG (mulberry32): the same seed makes the same choices */
function prng (seed: number): () => number {
  let a = seed >>> 0
  return () => {
    a = (a + 0x6D2B79F5) >>> 0
    let t = a
    t = Math.imul(t ^ (t >>> 15), t | 1)
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296
  }
}

/** Index in [0, n) drawn with weight 1/(i+1)^alpha */
function zipfSampler (n: number, alpha: number, random: () => number): () => number {
  const cumulative: number[] = []
  let sum = 0
  for (let i = 0; i < n; i++) {
    sum += 1 / Math.pow(i + 1, alpha)
    cumulative.push(sum)
  }
  return () => {
    const x = random() * sum
    const i = cumulative.findIndex(c => c >= x)
    return i < 0 ? n - 1 : i
  }
}

function uptime (): string {
  try {
    return execFileSync('uptime', { encoding: 'utf8', timeout: 5_000 }).trim()
  } catch {
    return `loadavg ${loadavg().map(l => l.toFixed(2)).join(' ')}`
  }
}

const sleep = async (ms: number): Promise<void> => new Promise(resolve => setTimeout(resolve, ms))

class BenchPage {
  readonly record: PageRecord
  readonly e2e: E2ePage
  /** Performance clock (ms) when `start` was called, for lining page join times up with the run's clock */
  startCalledAt = 0

  constructor (record: PageRecord, e2e: E2ePage) {
    this.record = record
    this.e2e = e2e
  }

  /** Calls `globalThis.bench[method](...args)` in the page, bounded by `timeout` ms */
  async call<M extends keyof BenchApi>(method: M, args: Parameters<BenchApi[M]>, timeout: number): Promise<Awaited<ReturnType<BenchApi[M]>>> {
    return this.e2e.test.evaluate(async ({ method, args }) => {
      return (globalThis as any).bench[method](...args)
    }, { method, args }, { timeout })
  }

  get open (): boolean {
    return this.record.leftAt == null
  }
}

/** Runs the benchmark; resolves with every measurement (bench/browser/report.ts judges them) */
export async function runBrowserBench (init: Partial<BrowserBenchOptions> = {}): Promise<BrowserBenchResult> {
  const options: BrowserBenchOptions = { ...DEFAULT_OPTIONS, ...init }
  const log = options.log ?? (() => {})
  const random = prng(options.seed)
  const began = performance.now()
  const now = (): number => Math.round(performance.now() - began) / 1000
  const result: BrowserBenchResult = {
    options: { ...options, log: undefined } as any,
    startedAt: new Date().toISOString(),
    durationSec: 0,
    load: { before: uptime(), after: '', loadavgBefore: loadavg(), loadavgAfter: [] },
    bundleBytes: 0,
    pages: [],
    fetches: [],
    abandoned: [],
    ring: [],
    origin: { cdn: { requests: 0, bytes: 0 }, baseline: { requests: 0, bytes: 0 } },
    churnEvents: []
  }

  let world: E2eWorld | undefined
  const browsers: Browser[] = []
  const pages: BenchPage[] = []

  try {
    world = await startWorld({ entries: { bench: BENCH_PAGE }, origin: { delayMs: options.delaysMs[0] ?? 0, kbps: options.kbps } })
    const w = world
    result.bundleBytes = w.bundleBytes
    for (let i = 0; i < options.processes; i++) {
      browsers.push(await launchChromium())
    }
    log(`world up: relay, origin, ${options.processes} Chromium processes (${now()} s)`)

    /** Opens a page and starts its CDN; the join runs on in the page */
    const openOne = async (churn: boolean): Promise<BenchPage> => {
      const index = result.pages.length
      const record: PageRecord = { page: index, process: index % browsers.length, openedAt: now(), churn, joined: false }
      result.pages.push(record)
      let e2e: E2ePage | undefined
      try {
        e2e = await E2ePage.open(browsers[record.process], w)
        const page = new BenchPage(record, e2e)
        page.startCalledAt = performance.now()
        const started = await page.call('start', [{ relay: w.relay.multiaddrs }, options.joinTimeoutMs], 30_000)
        record.peerId = started.peerId
        e2e.peerId = started.peerId ?? ''
        pages.push(page)
        return page
      } catch (err: any) {
        record.error = `${err.name}: ${String(err.message).split('\n')[0]}`
        record.leftAt = now()
        // a page whose start timed out may still be starting: left open, its node would join a ring
        // the benchmark cannot see, and every sample would judge the others against a wrong true ring
        await e2e?.close()
        throw err
      }
    }

    const info = async (page: BenchPage, withStats: boolean): Promise<PageInfo | undefined> => {
      try {
        const got = await page.call('info', [withStats], 10_000)
        Object.assign(page.record, {
          joinMs: got.joinMs == null ? undefined : Math.round(got.joinMs),
          joined: got.joined || page.record.joined,
          joinError: got.joinError,
          joinErrorMs: got.joinErrorMs,
          webrtc: got.webrtc,
          connections: got.connections,
          webrtcAddrs: got.webrtcAddrs,
          heapMiB: got.heapBytes == null ? undefined : Math.round(got.heapBytes / 1024 / 1024 * 10) / 10
        })
        if (got.stats != null) {
          page.record.stats = got.stats
        }
        return got
      } catch {
        return undefined
      }
    }

    let lastViews: RingView[] = []
    const sampleRing = async (phase: string): Promise<RingSample> => {
      const live = pages.filter(p => p.open)
      const views = (await Promise.all(live.map(async p => p.e2e.ring().catch(() => undefined)))).filter((v): v is RingView => v?.self != null)
      const errors = ringErrors(views)
      // a page is wrong when it has not joined or one of its two neighbours is wrong
      const wrong = new Set(errors.map(e => e.split(/[ :]/)[0]))
      const sample: RingSample = {
        at: now(),
        phase,
        pages: views.length,
        joined: views.filter(v => v.joined).length,
        correct: views.filter(v => !wrong.has(v.self?.peer ?? '')).length,
        errors: errors.length,
        membersCorrect: (() => {
          const members = views.filter(v => v.joined)
          const wrongMembers = new Set(ringErrors(members).map(e => e.split(/[ :]/)[0]))
          return members.filter(v => !wrongMembers.has(v.self?.peer ?? '')).length
        })()
      }
      if (sample.correct < sample.pages) {
        const shape = ringShape(views)
        sample.shape = { cycles: shape.cycles.map(({ length, windings }) => ({ length, windings })), tails: shape.tails, dangling: shape.dangling.length }
        sample.wrong = errors
      }
      lastViews = views
      result.ring.push(sample)
      return sample
    }

    /** Whether the library gave this page's join up for good (it does not try again after `JoinFailedError`) */
    const gaveUp = (p: BenchPage): boolean => !p.record.joined && (p.record.joinError ?? '').startsWith('JoinFailedError')

    /**
     * Polls join state until every open page joined or gave up (bounded),
     * sampling the ring as it goes; resolves with the run time of the last join, s
     */
    const waitForJoins = async (group: BenchPage[], ms: number, phase: string): Promise<number | undefined> => {
      const deadline = performance.now() + ms
      let sampled = 0
      while (performance.now() < deadline) {
        await Promise.all(group.filter(p => p.open).map(async p => info(p, false)))
        if (performance.now() - sampled > options.ringSampleMs) {
          sampled = performance.now()
          await sampleRing(phase)
        }
        if (group.filter(p => p.open).every(p => p.record.joined || gaveUp(p))) {
          break
        }
        await sleep(1_000)
      }
      const joinedAt = group.filter(p => p.record.joined && p.record.joinMs != null)
        .map(p => (p.startCalledAt + (p.record.joinMs ?? 0) - began) / 1000)
      return joinedAt.length === 0 ? undefined : Math.max(...joinedAt)
    }

    /**
     * Samples the ring until it agrees with the true ring (`strict`: seconds
     * from `since`). When pages gave up joining, the true ring cannot form:
     * then it waits (bounded) for the joined pages' own ring instead (`members`)
     */
    const waitForTrueRing = async (phase: string, since: number, ms: number): Promise<{ strict?: number, members?: number }> => {
      const deadline = performance.now() + ms
      const after = (sample: RingSample): number => Math.max(0, Math.round((sample.at - since) * 10) / 10)
      while (performance.now() < deadline) {
        const sample = await sampleRing(phase)
        if (sample.pages > 0 && sample.correct === sample.pages) {
          return { strict: after(sample), members: after(sample) }
        }
        if (pages.some(p => p.open && gaveUp(p)) && sample.joined > 0 && sample.membersCorrect === sample.joined) {
          return { members: after(sample) }
        }
        await sleep(Math.min(2_000, options.ringSampleMs))
      }
      result.stuckViews = { ...result.stuckViews, [phase]: lastViews }
      // the wrong pages' recent console lines (with `RINGCDN_E2E_DEBUG=ringcdn:ring` they say which
      // peers the ring marked dead and why)
      const wrongPeers = new Set((result.ring[result.ring.length - 1]?.wrong ?? []).map(e => e.split(/[ :]/)[0]))
      const logs: Record<string, string[]> = {}
      for (const page of pages.filter(p => p.open && wrongPeers.has(p.e2e.peerId))) {
        logs[page.e2e.peerId] = page.e2e.test.logs.slice(-STUCK_LOG_LINES)
      }
      result.stuckLogs = { ...result.stuckLogs, [phase]: logs }
      const last = result.ring[result.ring.length - 1]
      if (last?.shape != null) {
        log(`ring not true (${phase}): ${last.correct} of ${last.pages} right; first successors draw ${last.shape.cycles.length} cycle(s) ${JSON.stringify(last.shape.cycles)}, ${last.shape.tails} on tails, ${last.shape.dangling} dangling`)
      }
      return {}
    }

    // 1. joins: the founder first (a ring needs one member), then the others a little apart
    log(`opening ${options.pages} pages`)
    await openOne(false)
    const arrivals: Array<Promise<unknown>> = []
    for (let i = 1; i < options.pages; i++) {
      await sleep(options.arriveEveryMs)
      arrivals.push(openOne(false).catch(err => { log(`page failed to open: ${err.message.split('\n')[0]}`) }))
    }
    await Promise.all(arrivals)
    const lastJoin = await waitForJoins(pages, options.joinWaitMs, 'joins')
    const joinedCount = pages.filter(p => p.record.joined).length
    log(`${joinedCount}/${pages.length} pages joined; last join at ${lastJoin} s`)
    if (joinedCount === 0) {
      throw new NoRingError(`none of ${pages.length} pages joined the ring within ${options.joinWaitMs} ms`)
    }
    const afterJoins = await waitForTrueRing('joins', lastJoin ?? now(), options.ringWaitMs)
    result.ringTrueAfterJoinSec = afterJoins.strict
    result.membersRingTrueAfterJoinSec = afterJoins.members
    log(`ring ${afterJoins.strict == null ? `not true within ${options.ringWaitMs} ms` : `true ${afterJoins.strict} s after the last join`}; joined pages' ring ${afterJoins.members == null ? 'not true' : `true after ${afterJoins.members} s`}`)

    let assetSeed = options.seed * 1000
    const fetchPair = async (page: BenchPage, url: string, body: Uint8Array, phase: FetchRecord['phase'], role: FetchRecord['role']): Promise<FetchRecord | undefined> => {
      const at = now()
      const joined = page.record.joined
      try {
        const pair = await page.call('fetchPair', [url, sri(body), BASELINE_QUERY, options.fetchTimeoutMs], options.fetchTimeoutMs + 10_000)
        const record: FetchRecord = {
          ...pair,
          cdnMs: Math.round(pair.cdnMs),
          originMs: Math.round(pair.originMs),
          lookupMs: pair.lookupMs == null ? undefined : Math.round(pair.lookupMs),
          phase,
          role,
          size: body.byteLength,
          delayMs: w.origin.delayMs,
          page: page.record.page,
          joined,
          at
        }
        result.fetches.push(record)
        return record
      } catch (err: any) {
        // the page went away (churn) or hung past the bound: not a fetch the CDN answered or failed
        if (page.open) {
          log(`fetch pair on page ${page.record.page} failed: ${String(err.message).split('\n')[0]}`)
        } else {
          result.abandoned.push({ page: page.record.page, url, size: body.byteLength, phase })
        }
        return undefined
      }
    }

    // 2. sizes: per delay and size, a fresh asset per round, first fetched by one page, then by all the others
    let firstPage = 0
    const sizesRound = async (delayMs: number, size: number, round: number): Promise<void> => {
      const live = pages.filter(p => p.open)
      const body = bytesOf(size, ++assetSeed)
      const url = `${ASSETS}sizes-${delayMs}ms-${size}-${round}.bin`
      w.origin.set(url, { body })
      const first = live[firstPage++ % live.length]
      await fetchPair(first, url, body, 'sizes', 'first')
      // later visitors come after the first one's announce reached the home (bounded: a lost announce is measured, not waited out)
      const asker = live.find(p => p !== first)
      const deadline = performance.now() + 5_000
      const listed = async (): Promise<boolean> => asker == null || await asker.call('listsHolder', [url, first.record.peerId ?? ''], 10_000).catch(() => false)
      while (performance.now() < deadline && !(await listed())) {
        await sleep(250)
      }
      const others = live.filter(p => p !== first)
      for (let i = 0; i < others.length; i += options.concurrency) {
        await Promise.all(others.slice(i, i + options.concurrency).map(async p => fetchPair(p, url, body, 'sizes', 'later')))
      }
    }
    for (const delayMs of options.delaysMs) {
      w.origin.delayMs = delayMs
      for (const size of options.sizes) {
        for (let round = 0; round < options.rounds; round++) {
          await sizesRound(delayMs, size, round)
        }
        log(`sizes: ${delayMs} ms, ${size} B done (${now()} s)`)
      }
    }
    await Promise.all(pages.filter(p => p.open).map(async p => info(p, true)))
    await sampleRing('sizes')

    // 3. churn with a Zipf mix
    if (options.zipfAssets > 0 && options.durationSec > 0) {
      w.origin.delayMs = options.delaysMs.includes(50) ? 50 : options.delaysMs[0] ?? 0
      const zipf = Array.from({ length: options.zipfAssets }, (_, i) => {
        const body = bytesOf(options.zipfSizes[i % options.zipfSizes.length], ++assetSeed)
        const url = `${ASSETS}zipf-${i}.bin`
        w.origin.set(url, { body })
        return { url, body }
      })
      const pick = zipfSampler(zipf.length, options.zipfAlpha, random)
      const before = w.origin.traffic()
      const end = performance.now() + options.durationSec * 1000
      const inFlight = new Set<Promise<unknown>>()
      const churnArrivals: BenchPage[] = []
      let lastArrivalAt: number | undefined
      log(`churn: ${options.durationSec} s, a page leaves and one arrives every ${options.churnEverySec} s, ${zipf.length} assets`)

      const requests = (async () => {
        while (performance.now() < end) {
          await sleep(options.requestEveryMs)
          const live = pages.filter(p => p.open)
          if (inFlight.size >= options.maxInFlight || live.length === 0) {
            continue
          }
          const page = live[Math.floor(random() * live.length)]
          const asset = zipf[pick()]
          const running = fetchPair(page, asset.url, asset.body, 'churn', 'zipf')
          inFlight.add(running)
          void running.finally(() => inFlight.delete(running))
        }
      })()

      const churn = (async () => {
        if (options.churnEverySec <= 0) {
          return
        }
        while (performance.now() + options.churnEverySec * 1000 < end) {
          await sleep(options.churnEverySec * 1000)
          const live = pages.filter(p => p.open)
          const leaver = live[Math.floor(random() * live.length)]
          const event: BrowserBenchResult['churnEvents'][number] = { at: now(), arrived: -1 }
          if (leaver != null && live.length > 1) {
            // its counters die with it: read them first
            await info(leaver, true)
            leaver.record.leftAt = now()
            event.left = leaver.record.page
            // a visitor closing the tab: no goodbye
            await leaver.e2e.close()
          }
          try {
            const arrived = await openOne(true)
            churnArrivals.push(arrived)
            event.arrived = arrived.record.page
            lastArrivalAt = now()
          } catch (err: any) {
            log(`churn arrival failed: ${String(err.message).split('\n')[0]}`)
          }
          result.churnEvents.push(event)
        }
      })()

      const sampler = (async () => {
        while (performance.now() < end) {
          await sleep(options.ringSampleMs)
          await sampleRing('churn')
          await Promise.all(pages.filter(p => p.open && !p.record.joined).map(async p => info(p, false)))
        }
      })()

      await Promise.all([requests, churn, sampler])
      // fetches in flight finish within their own bound
      await withTimeout(Promise.allSettled([...inFlight]), options.fetchTimeoutMs + 15_000, 'fetches in flight at the end of churn').catch(() => {})
      result.churnOrigin = (() => {
        const after = w.origin.traffic()
        return {
          cdn: { requests: after.cdn.requests - before.cdn.requests, bytes: after.cdn.bytes - before.cdn.bytes },
          baseline: { requests: after.baseline.requests - before.baseline.requests, bytes: after.baseline.bytes - before.baseline.bytes }
        }
      })()
      log(`churn done (${now()} s): ${result.fetches.filter(f => f.phase === 'churn').length} fetches`)
      if (churnArrivals.length > 0) {
        const lastChurnJoin = await waitForJoins(churnArrivals, options.ringWaitMs, 'after churn')
        const afterChurn = await waitForTrueRing('after churn', lastChurnJoin ?? lastArrivalAt ?? now(), options.ringWaitMs)
        result.ringTrueAfterChurnSec = afterChurn.strict
        result.membersRingTrueAfterChurnSec = afterChurn.members
        log(`ring after churn: ${afterChurn.strict == null ? `not true within ${options.ringWaitMs} ms` : `true ${afterChurn.strict} s after the last join`}; joined pages' ring ${afterChurn.members == null ? 'not true' : `true after ${afterChurn.members} s`}`)
      }
    }

    await Promise.all(pages.filter(p => p.open).map(async p => info(p, true)))
    result.origin = w.origin.traffic()
    return result
  } finally {
    await Promise.all(pages.filter(p => p.open).map(async p => p.e2e.close()))
    await Promise.all(browsers.map(async b => withTimeout(b.close(), 15_000, 'closing a browser').catch(() => {})))
    await world?.close()
    result.durationSec = now()
    result.load.after = uptime()
    result.load.loadavgAfter = loadavg()
  }
}
