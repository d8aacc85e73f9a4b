/**
 * `npm run bench:idle`: what an idle ringcdn page costs in CPU, side by side
 * with an empty page (issue 19, item 4).
 *
 * The world is test/browser/e2e-harness.ts's: a real relay, the origin
 * fixture, the shipped page bundle and Chromium pages. Two sets of Chromium
 * processes run at once: one with `--pages` ringcdn pages (a page per
 * context, spread over `--processes` browsers as bench:browser does), one
 * with as many empty pages from the same page server (nothing running).
 *
 * 1. Every ringcdn page joins and the ring becomes true (each page's
 * successor and predecessor are right), both bounded.
 * 2. The pages settle for `--settle-s` (maintenance backs off while the
 * neighbourhood is quiet), doing nothing.
 * 3. Over `--window-s`, the CPU time (utime + stime, /proc) of every process
 * and thread of both Chromium trees: ms of CPU per second per page, by
 * process type and by thread, for both, and their difference. The pages'
 * own counters give ring requests, WebRTC connections opened and closed and
 * data channels created in the window. Both sides see the same machine
 * load at the same moment, so the difference holds under load; the
 * absolute figures grow with it (contention costs CPU too).
 * 4. A JS profile (CDP `Profiler`) of `--profile-pages` ringcdn pages over
 * `--profile-s`, after the window so the profiler's cost is not in it; the
 * bundle's frames are mapped back to their sources.
 *
 * Flags (defaults in brackets): --pages [16] --processes [4] --settle-s [180]
 * --window-s [60] --profile-s [30] (0 skips) --profile-pages [4]
 * --arrive-every-ms [500] --join-wait-s [300] --ring-wait-s [120]
 * --successors [the library's default] (`ring.successorListSize` of every
 * page: how many routing peers, hence connections, a page keeps)
 * --out [bench/results/idle.json]
 */
import { execFileSync } from 'node:child_process'
import { mkdtempSync, readFileSync, rmSync } from 'node:fs'
import { mkdir, writeFile } from 'node:fs/promises'
import { loadavg, tmpdir } from 'node:os'
import { dirname, join, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'
import { parseArgs } from 'node:util'
import { buildBrowserBundle } from '../../scripts/build-browser.ts'
import { launchChromium, openPage, withTimeout } from '../../test/browser/chromium.ts'
import { E2ePage, ringErrors, startWorld } from '../../test/browser/e2e-harness.ts'
import { BundleMap, summariseProfiles } from './cpu-profile.ts'
import { InvalidFlagError, parseNumber } from './flags.ts'
import { childrenOf, snapshotTree, treeDelta } from './proc-cpu.ts'
import type { CpuProfile, ProfileSummary, SourceMap } from './cpu-profile.ts'
import type { IdleApi, IdleSnapshot } from './idle.page.ts'
import type { TreeDelta } from './proc-cpu.ts'
import type { RingView } from '../../src/browser.ts'
import type { TestPage } from '../../test/browser/chromium.ts'
import type { E2eWorld } from '../../test/browser/e2e-harness.ts'
import type { Browser } from 'playwright-core'

const HERE = dirname(fileURLToPath(import.meta.url))
const IDLE_PAGE = join(HERE, 'idle.page.ts')
/** The empty page: same server, same origin, nothing to run */
const EMPTY_PATH = '/empty.html'
const EMPTY_HTML = '<!doctype html><meta charset="utf-8"><title>empty</title><p>empty</p>'
/** Profiler sampling interval, µs (DevTools' default is 1000 as well) */
const SAMPLING_INTERVAL_US = 1_000

/** Not every ringcdn page joined within `--join-wait-s` */
export class JoinTimeoutError extends Error {
  static name = 'JoinTimeoutError'
  name = 'JoinTimeoutError'
}

/** The pages' ring did not agree with the true ring within `--ring-wait-s` */
export class RingNotTrueError extends Error {
  static name = 'RingNotTrueError'
  name = 'RingNotTrueError'
}

/** The launched Chromium's process could not be found under this process */
export class BrowserProcessNotFoundError extends Error {
  static name = 'BrowserProcessNotFoundError'
  name = 'BrowserProcessNotFoundError'
}

const { values } = parseArgs({
  options: {
    pages: { type: 'string' },
    processes: { type: 'string' },
    'settle-s': { type: 'string' },
    'window-s': { type: 'string' },
    'profile-s': { type: 'string' },
    'profile-pages': { type: 'string' },
    'arrive-every-ms': { type: 'string' },
    'join-wait-s': { type: 'string' },
    'ring-wait-s': { type: 'string' },
    successors: { type: 'string' },
    out: { type: 'string' }
  }
})

function flag (name: keyof typeof values, fallback: number): number {
  return parseNumber(name, values[name], fallback)
}

const options = {
  pages: flag('pages', 16),
  processes: flag('processes', 4),
  // past the budget's 2-min idle close (MAX_IDLE_MS) of the transient connections the joins opened
  settleSec: flag('settle-s', 180),
  windowSec: flag('window-s', 60),
  profileSec: flag('profile-s', 30),
  profilePages: flag('profile-pages', 4),
  arriveEveryMs: flag('arrive-every-ms', 500),
  joinWaitSec: flag('join-wait-s', 300),
  ringWaitSec: flag('ring-wait-s', 120),
  /** 0: the library's default */
  successors: flag('successors', 0)
}
if (options.pages < 2 || options.processes < 1 || options.windowSec <= 0) {
  throw new InvalidFlagError('--pages wants at least 2, --processes at least 1, --window-s more than 0')
}
const out = resolve(values.out ?? 'bench/results/idle.json')
const command = process.argv.length > 2 ? `npm run bench:idle -- ${process.argv.slice(2).join(' ')}` : 'npm run bench:idle'
const began = performance.now()
const log = (line: string): void => { process.stderr.write(`[bench:idle ${((performance.now() - began) / 1000).toFixed(0)} s] ${line}\n`) }
const sleep = async (ms: number): Promise<void> => new Promise(resolve => setTimeout(resolve, ms))

function uptime (): string {
  try {
    return execFileSync('uptime', { encoding: 'utf8', timeout: 5_000 }).trim()
  } catch {
    return `load average: ${loadavg().map(l => l.toFixed(2)).join(', ')}`
  }
}

/** Launches one Chromium and finds its process: the new child of this process */
async function launchTracked (): Promise<{ browser: Browser, pid: number }> {
  const before = new Set(childrenOf(process.pid))
  const browser = await launchChromium()
  const pid = childrenOf(process.pid).find(pid => {
    if (before.has(pid)) {
      return false
    }
    try {
      return readFileSync(`/proc/${pid}/cmdline`, 'utf8').includes('chrom')
    } catch {
      return false
    }
  })
  if (pid == null) {
    await browser.close().catch(() => {})
    throw new BrowserProcessNotFoundError('no new Chromium child process after the launch')
  }
  return { browser, pid }
}

async function call<M extends keyof IdleApi> (page: TestPage, method: M, args: Parameters<IdleApi[M]>, timeout: number = 30_000): Promise<Awaited<ReturnType<IdleApi[M]>>> {
  return page.evaluate(async ({ method, args }) => (globalThis as any).idle[method](...args), { method, args }, { timeout })
}

interface Side {
  pages: number
  /** ms of CPU per second per page */
  perPage: number
  totalMs: number
  byType: Record<string, number>
  byThread: Record<string, number>
  processes: Record<string, number>
}

/** ms per second per page, one decimal */
function rate (ms: number, windowSec: number, pages: number): number {
  return Math.round(ms / windowSec / pages * 10) / 10
}

function side (delta: TreeDelta, windowSec: number, pages: number): Side {
  const per = (record: Record<string, number>): Record<string, number> =>
    Object.fromEntries(Object.entries(record).sort((a, b) => b[1] - a[1]).map(([k, ms]) => [k, rate(ms, windowSec, pages)]))
  return { pages, perPage: rate(delta.totalMs, windowSec, pages), totalMs: Math.round(delta.totalMs), byType: per(delta.byType), byThread: per(delta.byThread), processes: delta.processes }
}

function sumTrees (deltas: TreeDelta[]): TreeDelta {
  const out: TreeDelta = { totalMs: 0, byType: {}, byThread: {}, processes: {} }
  for (const d of deltas) {
    out.totalMs += d.totalMs
    for (const key of ['byType', 'byThread', 'processes'] as const) {
      for (const [k, v] of Object.entries(d[key])) {
        out[key][k] = (out[key][k] ?? 0) + v
      }
    }
  }
  return out
}

const result: Record<string, any> = {
  command,
  options,
  startedAt: new Date().toISOString(),
  load: { before: uptime() }
}

let world: E2eWorld | undefined
const ringBrowsers: Array<{ browser: Browser, pid: number }> = []
const emptyBrowsers: Array<{ browser: Browser, pid: number }> = []
const ringPages: E2ePage[] = []
const emptyPages: TestPage[] = []
const mapDir = mkdtempSync(join(tmpdir(), 'ringcdn-idle-'))

try {
  world = await startWorld({ entries: { idle: IDLE_PAGE } })
  const w = world
  w.server.setRoute(EMPTY_PATH, { body: EMPTY_HTML, contentType: 'text/html; charset=utf-8' })
  // the same build as the served bundle, kept with its source map to read the profiles
  const mapped = await buildBrowserBundle(undefined, join(mapDir, 'ringcdn.js'))
  const bundleMap = mapped.bytes === w.bundleBytes ? new BundleMap(JSON.parse(readFileSync(join(mapDir, 'ringcdn.js.map'), 'utf8')) as SourceMap) : undefined
  result.bundleBytes = w.bundleBytes

  for (let i = 0; i < options.processes; i++) {
    ringBrowsers.push(await launchTracked())
    emptyBrowsers.push(await launchTracked())
  }
  log(`world up: relay, origin, ${options.processes} + ${options.processes} Chromium processes`)

  for (let i = 0; i < options.pages; i++) {
    emptyPages.push(await openPage(emptyBrowsers[i % emptyBrowsers.length].browser, `${w.server.origin}${EMPTY_PATH}`))
  }

  // the founder first (a ring needs one member), then the others a little apart
  const openRing = async (i: number): Promise<void> => {
    const page = await E2ePage.open(ringBrowsers[i % ringBrowsers.length].browser, w)
    ringPages.push(page)
    const started = await call(page.test, 'start', [{ relay: w.relay.multiaddrs, init: options.successors > 0 ? { ring: { successorListSize: options.successors } } : undefined }])
    page.peerId = started.peerId ?? ''
  }
  await openRing(0)
  const arrivals: Array<Promise<void>> = []
  for (let i = 1; i < options.pages; i++) {
    await sleep(options.arriveEveryMs)
    arrivals.push(openRing(i))
  }
  await Promise.all(arrivals)
  log(`${ringPages.length} ringcdn pages and ${emptyPages.length} empty pages open`)

  const snapshots = async (): Promise<IdleSnapshot[]> => Promise.all(ringPages.map(async p => call(p.test, 'snapshot', [], 30_000)))
  const joinDeadline = performance.now() + options.joinWaitSec * 1000
  while (true) {
    // a page too busy joining to answer in time counts as not joined yet
    const joined = (await Promise.all(ringPages.map(async p => call(p.test, 'snapshot', [], 10_000).catch(() => undefined)))).filter(s => s?.joined === true).length
    if (joined === ringPages.length) {
      break
    }
    if (performance.now() > joinDeadline) {
      throw new JoinTimeoutError(`${joined}/${ringPages.length} pages joined within ${options.joinWaitSec} s`)
    }
    await sleep(1_000)
  }
  result.joinedAfterSec = Math.round((performance.now() - began) / 100) / 10
  log('every page joined')

  const ringTrue = async (): Promise<string[]> => {
    const views = await Promise.all(ringPages.map(async p => p.ring().catch(() => undefined)))
    const missing = views.filter(v => v == null).length
    return [...ringErrors(views.filter((v): v is RingView => v != null)), ...(missing > 0 ? [`${missing} pages did not answer`] : [])]
  }
  const ringDeadline = performance.now() + options.ringWaitSec * 1000
  let errors = await ringTrue()
  while (errors.length > 0) {
    if (performance.now() > ringDeadline) {
      throw new RingNotTrueError(`ring not true within ${options.ringWaitSec} s of the last join:\n${errors.join('\n')}`)
    }
    await sleep(2_000)
    errors = await ringTrue()
  }
  result.ringTrueAfterSec = Math.round((performance.now() - began) / 100) / 10
  log(`ring true; settling ${options.settleSec} s`)
  await sleep(options.settleSec * 1000)

  // the window: page counters outside the /proc snapshots, so reading them is not in the window
  const countersBefore = await snapshots()
  const loadBefore = uptime()
  const ringBefore = ringBrowsers.map(b => snapshotTree(b.pid))
  const emptyBefore = emptyBrowsers.map(b => snapshotTree(b.pid))
  const windowStart = performance.now()
  log(`measuring ${options.windowSec} s (${loadBefore})`)
  await sleep(options.windowSec * 1000)
  const ringAfter = ringBrowsers.map(b => snapshotTree(b.pid))
  const emptyAfter = emptyBrowsers.map(b => snapshotTree(b.pid))
  const windowSec = (performance.now() - windowStart) / 1000
  const loadAfter = uptime()
  const countersAfter = await snapshots()
  const ringErrorsAfter = await ringTrue()

  const ring = side(sumTrees(ringBefore.map((b, i) => treeDelta(b, ringAfter[i]))), windowSec, ringPages.length)
  const empty = side(sumTrees(emptyBefore.map((b, i) => treeDelta(b, emptyAfter[i]))), windowSec, emptyPages.length)

  // the page's own counters over the window, per page per second
  const pageWindowSec = countersAfter.map((a, i) => (a.at - countersBefore[i].at) / 1000)
  const perPageRate = (pick: (s: IdleSnapshot) => number): number =>
    Math.round(countersAfter.reduce((n, a, i) => n + (pick(a) - pick(countersBefore[i])) / pageWindowSec[i], 0) / countersAfter.length * 1000) / 1000
  const byType: Record<string, number> = {}
  countersAfter.forEach((a, i) => {
    for (const [type, n] of Object.entries(a.ringRpcsSentByType)) {
      byType[type] = (byType[type] ?? 0) + (n - (countersBefore[i].ringRpcsSentByType[type] ?? 0)) / pageWindowSec[i] / countersAfter.length
    }
  })
  const perPageCount = (pick: (s: IdleSnapshot) => number): number =>
    Math.round(countersAfter.reduce((n, a, i) => n + pick(a) - pick(countersBefore[i]), 0) / countersAfter.length * 100) / 100
  result.window = {
    sec: Math.round(windowSec * 10) / 10,
    load: { before: loadBefore, after: loadAfter },
    ringcdn: ring,
    empty,
    differencePerPage: Math.round((ring.perPage - empty.perPage) * 10) / 10,
    ring: {
      requestsPerSecPerPage: perPageRate(s => s.ringRpcsSent),
      requestsPerSecPerPageByType: Object.fromEntries(Object.entries(byType).filter(([, v]) => v > 0).sort((a, b) => b[1] - a[1]).map(([k, v]) => [k, Math.round(v * 1000) / 1000])),
      lookupRequestsPerSecPerPage: perPageRate(s => s.lookupRpcsSent),
      webrtcOpenedPerPage: perPageCount(s => s.webrtcOpened),
      webrtcClosedPerPage: perPageCount(s => s.webrtcClosed),
      webrtcOpenPerPage: Math.round(countersAfter.reduce((n, a) => n + a.webrtcOpen, 0) / countersAfter.length * 10) / 10,
      connectionsOpenPerPage: Math.round(countersAfter.reduce((n, a) => n + a.connectionsOpen, 0) / countersAfter.length * 10) / 10,
      connectionsKeptPerPage: Math.round(countersAfter.reduce((n, a) => n + a.connectionsKept, 0) / countersAfter.length * 10) / 10,
      dataChannelsPerSecPerPage: perPageRate(s => s.dataChannels),
      streamsOpenPerPage: Math.round(countersAfter.reduce((n, a) => n + a.streamsOpen, 0) / countersAfter.length * 10) / 10,
      errorsAfterWindow: ringErrorsAfter
    }
  }

  // the JS profile, after the window
  if (options.profileSec > 0 && options.profilePages > 0) {
    const profiled = ringPages.slice(0, options.profilePages)
    log(`profiling ${profiled.length} pages for ${options.profileSec} s`)
    const sessions = await Promise.all(profiled.map(async p => {
      const cdp = await p.test.page.context().newCDPSession(p.test.page)
      await cdp.send('Profiler.enable')
      await cdp.send('Profiler.setSamplingInterval', { interval: SAMPLING_INTERVAL_US })
      await cdp.send('Profiler.start')
      return cdp
    }))
    await sleep(options.profileSec * 1000)
    const profiles = await Promise.all(sessions.map(async cdp => {
      const { profile } = await withTimeout(cdp.send('Profiler.stop'), 30_000, 'Profiler.stop')
      await cdp.detach().catch(() => {})
      return profile as unknown as CpuProfile
    }))
    const summary: ProfileSummary = summariseProfiles(profiles, url => url.endsWith('/ringcdn.js'), bundleMap)
    const perSec = (ms: number): number => Math.round(ms / options.profileSec / profiles.length * 100) / 100
    result.profile = {
      pages: profiles.length,
      sec: options.profileSec,
      mapped: bundleMap != null,
      busyMsPerSecPerPage: perSec(summary.busyMs),
      byFunction: summary.byFunction.slice(0, 40).map(f => ({ ...f, msPerSecPerPage: perSec(f.ms) })),
      byPackage: summary.byPackage.slice(0, 25).map(f => ({ ...f, msPerSecPerPage: perSec(f.ms) }))
    }
  }
} finally {
  await Promise.all(ringPages.map(async p => p.close()))
  await Promise.all(emptyPages.map(async p => withTimeout(p.close(), 10_000, 'closing a page').catch(() => {})))
  await Promise.all([...ringBrowsers, ...emptyBrowsers].map(async b => withTimeout(b.browser.close(), 15_000, 'closing a browser').catch(() => {})))
  await world?.close()
  rmSync(mapDir, { recursive: true, force: true })
  result.load.after = uptime()
  result.durationSec = Math.round((performance.now() - began) / 1000)
}

/** The report: per-page CPU side by side, then what the pages did, then the profile */
function table (): string {
  const wdw = result.window
  const lines: string[] = []
  const pad = (s: string, n: number): string => s.length >= n ? s : s + ' '.repeat(n - s.length)
  const num = (v: number | undefined): string => (v ?? 0).toFixed(1).padStart(9)
  lines.push(`idle pages, ${options.pages} ringcdn pages vs ${options.pages} empty pages, ${options.processes} + ${options.processes} Chromium processes, window ${wdw.sec} s after ${options.settleSec} s settled`)
  lines.push(`load: ${wdw.load.before}  →  ${wdw.load.after}`)
  lines.push('CPU, ms per second per page      ringcdn     empty      diff')
  lines.push(`${pad('all processes, all threads', 30)}${num(wdw.ringcdn.perPage)} ${num(wdw.empty.perPage)} ${num(wdw.differencePerPage)}`)
  const types = [...new Set([...Object.keys(wdw.ringcdn.byType), ...Object.keys(wdw.empty.byType)])]
  for (const t of types) {
    const a = wdw.ringcdn.byType[t] ?? 0
    const b = wdw.empty.byType[t] ?? 0
    lines.push(`${pad(`  ${t} (${wdw.ringcdn.processes[t] ?? 0}/${wdw.empty.processes[t] ?? 0} proc)`, 30)}${num(a)} ${num(b)} ${num(a - b)}`)
  }
  lines.push('top threads (process type/thread name)')
  const threads = Object.keys(wdw.ringcdn.byThread).slice(0, 14)
  for (const t of threads) {
    const a = wdw.ringcdn.byThread[t] ?? 0
    const b = wdw.empty.byThread[t] ?? 0
    lines.push(`${pad(`  ${t}`, 30)}${num(a)} ${num(b)} ${num(a - b)}`)
  }
  const r = wdw.ring
  lines.push(`ring requests/s per page: ${r.requestsPerSecPerPage} (${Object.entries(r.requestsPerSecPerPageByType).map(([k, v]) => `${k} ${String(v)}`).join(', ')}); lookups ${r.lookupRequestsPerSecPerPage}`)
  lines.push(`per page in the window: WebRTC connections opened ${r.webrtcOpenedPerPage}, closed ${r.webrtcClosedPerPage}; open at the end ${r.webrtcOpenPerPage} WebRTC, ${r.connectionsOpenPerPage} in all (${r.connectionsKeptPerPage} to kept routing peers), ${r.streamsOpenPerPage} streams; data channels created ${r.dataChannelsPerSecPerPage}/s`)
  lines.push(`ring after the window: ${r.errorsAfterWindow.length === 0 ? 'true' : `${r.errorsAfterWindow.length} errors`}`)
  if (result.profile != null) {
    const p = result.profile
    lines.push(`JS profile, ${p.pages} pages × ${p.sec} s (after the window): ${p.busyMsPerSecPerPage} ms/s per page busy in the renderer's JS thread${p.mapped === true ? '' : ' (bundle not mapped)'}`)
    lines.push('  self time by package (innermost bundled frame), ms/s per page')
    for (const f of p.byPackage.slice(0, 10)) {
      lines.push(`    ${f.msPerSecPerPage.toFixed(2).padStart(6)}  ${String(f.package)}`)
    }
    lines.push('  self time by function, ms/s per page')
    for (const f of p.byFunction.slice(0, 20)) {
      lines.push(`    ${f.msPerSecPerPage.toFixed(2).padStart(6)}  ${String(f.frame)}`)
    }
  }
  return lines.join('\n')
}

if (result.window != null) {
  process.stdout.write(`${table()}\n`)
}
await mkdir(dirname(out), { recursive: true })
await writeFile(out, JSON.stringify(result, null, 2) + '\n')
process.stdout.write(`saved ${out}\n`)
// playwright keeps handles open on some failures; everything is closed by now
process.exit(0)
