/**
 * `npm run bench:p6`: page-to-page transfer over ringcdn against a raw
 * RTCDataChannel between the same two pages, and WebRTC connection set-up
 * time. Real Chromium (two browser processes), the real relay and an HTTP
 * origin, all on loopback (test/browser/e2e-harness.ts).
 *
 * 1. Pages A and B start with `createRingCdn` and form a ring. A fetches
 * `ROUNDS` distinct `SIZE`-byte assets from the origin; the ring lists it as
 * their holder.
 * 2. The pages open a raw RTCDataChannel to each other (SDP passed through
 * this process, no STUN). Then, alternating per round so both see the same
 * machine load: B pulls `SIZE` bytes over the raw channel (request to last
 * byte), and B fetches one asset through ringcdn (`fetch()` to the last body
 * byte: lookup, content protocol over libp2p's WebRTC streams, per-chunk
 * SHA-256, store, read back). Each must come from the peer.
 * 3. B dials A's `/p2p-circuit/webrtc` address `DIALS` times, a fresh
 * connection each time (signalling over the relay, ICE, DTLS, noise, yamux-free
 * WebRTC muxing), timed in the page.
 *
 * Reports median throughputs, their ratio (bar ≥ 0.8) and set-up p50/p95;
 * saves bench/results/p6-webrtc.json. Environment: SIZE (10 MiB), ROUNDS (4),
 * DIALS (25), MESSAGE_BYTES (the ringcdn pages' WebRTC message size; ringcdn's
 * default, 64 KiB), RAW_MESSAGE_BYTES (the raw channel's message size, 16 KiB:
 * `@libp2p/webrtc`'s default, what the bar was set against), WINDOW (chunks in
 * flight per transfer; the library's default),
 * PROFILE=1 (CPU-profile both pages during the ringcdn fetches and print the
 * functions with the most self time, mapped to their sources, and the CPU time
 * every Chromium thread spent per raw transfer and per ringcdn fetch);
 * PROFILE=threads (only the thread CPU times, without the profiler's overhead).
 */
import { mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs'
import { mkdir, writeFile } from 'node:fs/promises'
import { SourceMap } from 'node:module'
import { tmpdir } from 'node:os'
import { dirname, join, relative, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'
import { buildBrowserBundle } from '../scripts/build-browser.ts'
import { launchChromium } from '../test/browser/chromium.ts'
import { ASSETS, E2ePage, startWorld, waitForRing } from '../test/browser/e2e-harness.ts'
import { bytesOf, sri } from '../test/fixtures/origin-server.ts'
import { median, percentile } from './nodes.ts'
import type { Browser, CDPSession } from 'playwright-core'

const HERE = dirname(fileURLToPath(import.meta.url))
const SIZE = Number(process.env.SIZE ?? 10 * 1024 * 1024)
const ROUNDS = Number(process.env.ROUNDS ?? 6)
const DIALS = Number(process.env.DIALS ?? 25)
/** WebRTC message size of the ringcdn pages (unset: ringcdn's default, `DATA_CHANNEL_MESSAGE_BYTES` in src/browser.ts) */
const MESSAGE_BYTES = process.env.MESSAGE_BYTES == null ? undefined : Number(process.env.MESSAGE_BYTES)
/** Message size of the raw channel */
const RAW_MESSAGE_BYTES = Number(process.env.RAW_MESSAGE_BYTES ?? 16_384)
/** Chunks in flight per ringcdn transfer (unset: the library's default, TRANSFER_WINDOW) */
const WINDOW = process.env.WINDOW == null ? undefined : Number(process.env.WINDOW)
/** Bytes a libp2p data channel may queue before its writer waits for the queue to empty (ringcdn's default unless set) */
const MAX_BUFFERED = process.env.MAX_BUFFERED == null ? undefined : Number(process.env.MAX_BUFFERED)
/** Throughput of ringcdn relative to the raw channel that passes */
const BAR_RATIO = 0.8
const MIB = 1024 * 1024
/** CPU-profile the pages during the ringcdn fetches */
const PROFILE = process.env.PROFILE === '1'
/** Account the Chromium threads' CPU time per transfer */
const THREADS = PROFILE || process.env.PROFILE === 'threads'
/** Functions listed per page in the profile summary */
const PROFILE_TOP = Number(process.env.PROFILE_TOP ?? 25)
/** Sampling interval of the CPU profiles, µs */
const PROFILE_INTERVAL_US = 1_000

async function p6<R> (page: E2ePage, method: string, args: unknown[], timeout: number = 120_000): Promise<R> {
  return page.test.evaluate(async ({ method, args }) => (globalThis as any).p6[method](...args), { method, args }, { timeout })
}

interface ProfileNode {
  id: number
  callFrame: { functionName: string, url: string, lineNumber: number, columnNumber: number }
  children?: number[]
}

interface CpuProfile {
  nodes: ProfileNode[]
  startTime: number
  endTime: number
  samples?: number[]
  timeDeltas?: number[]
}

/**
 * A page's CPU profiles over the ringcdn fetches (Chrome DevTools Protocol),
 * self time added up per function across rounds
 */
class Profiler {
  private readonly session: CDPSession
  private readonly label: string
  /** Self time per function key, µs */
  private readonly self = new Map<string, { frame: ProfileNode['callFrame'], us: number, callers: Map<string, number> }>()
  private totalUs = 0

  private constructor (session: CDPSession, label: string) {
    this.session = session
    this.label = label
  }

  static async open (page: E2ePage, label: string): Promise<Profiler> {
    const session = await page.test.page.context().newCDPSession(page.test.page)
    await session.send('Profiler.enable')
    await session.send('Profiler.setSamplingInterval', { interval: PROFILE_INTERVAL_US })
    return new Profiler(session, label)
  }

  async start (): Promise<void> {
    await this.session.send('Profiler.start')
  }

  async stop (): Promise<void> {
    const { profile } = await this.session.send('Profiler.stop') as { profile: CpuProfile }
    const byId = new Map(profile.nodes.map(n => [n.id, n]))
    const parentOf = new Map<number, ProfileNode>()
    for (const node of profile.nodes) {
      for (const child of node.children ?? []) {
        parentOf.set(child, node)
      }
    }
    const samples = profile.samples ?? []
    const deltas = profile.timeDeltas ?? []
    // a sample's time is the delta to the next sample
    for (let i = 0; i < samples.length; i++) {
      const node = byId.get(samples[i])
      const us = deltas[i + 1] ?? 0
      if (node == null) {
        continue
      }
      const f = node.callFrame
      const key = `${f.functionName}|${f.url}|${f.lineNumber}|${f.columnNumber}`
      const entry = this.self.get(key) ?? { frame: f, us: 0, callers: new Map() }
      entry.us += us
      const caller = parentOf.get(node.id)?.callFrame.functionName ?? ''
      entry.callers.set(caller, (entry.callers.get(caller) ?? 0) + us)
      this.self.set(key, entry)
      this.totalUs += us
    }
  }

  /** The functions with the most self time, bundle positions mapped to sources */
  summary (map: SourceMap | undefined, top: number): string {
    const merged = new Map<string, number>()
    const callers = new Map<string, Map<string, number>>()
    for (const { frame, us, callers: by } of this.self.values()) {
      let where = frame.url === '' ? '' : frame.url.replace(/^https?:\/\/[^/]+/, '')
      if (map != null && frame.url.endsWith('/ringcdn.js')) {
        const found = map.findEntry(frame.lineNumber, frame.columnNumber) as { originalSource?: string, originalLine?: number }
        if (found.originalSource != null) {
          const file = found.originalSource.startsWith('file:') ? fileURLToPath(found.originalSource) : found.originalSource
          where = `${relative(process.cwd(), file)}:${(found.originalLine ?? 0) + 1}`.replace(/^.*node_modules\//, '')
        }
      }
      const key = `${frame.functionName === '' ? '(anonymous)' : frame.functionName}  ${where}`
      merged.set(key, (merged.get(key) ?? 0) + us)
      const into = callers.get(key) ?? new Map<string, number>()
      for (const [caller, t] of by) {
        into.set(caller, (into.get(caller) ?? 0) + t)
      }
      callers.set(key, into)
    }
    // the caller that accounts for most of a function's self time (minified names in the page bundle)
    const mainCaller = (key: string): string => [...(callers.get(key) ?? new Map<string, number>()).entries()].sort((x, y) => y[1] - x[1])[0]?.[0] ?? ''
    const lines = [...merged.entries()].sort((x, y) => y[1] - x[1]).slice(0, top)
      .map(([key, us]) => `  ${(us / 1000).toFixed(0).padStart(6)} ms ${(100 * us / this.totalUs).toFixed(1).padStart(5)} %  ${key}${mainCaller(key) === '' ? '' : `  ← ${mainCaller(key)}`}`)
    return `CPU profile, page ${this.label}: ${(this.totalUs / 1000).toFixed(0)} ms sampled over the ringcdn fetches, top self time:\n${lines.join('\n')}\n`
  }
}

/** CPU time (ms) per Chromium thread of this benchmark, keyed `<browser> <process type>/<thread name>` */
function chromiumThreads (): Map<string, number> {
  const parent = new Map<number, number>()
  const pids: number[] = []
  for (const name of readdirSync('/proc')) {
    const pid = Number(name)
    if (!Number.isInteger(pid)) {
      continue
    }
    try {
      const stat = readFileSync(`/proc/${pid}/stat`, 'utf8')
      parent.set(pid, Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]))
      pids.push(pid)
    } catch {
      // the process ended while we looked
    }
  }
  // the browsers are this process's children: the first launched is page A's
  const browserPids = pids.filter(pid => parent.get(pid) === process.pid && readCmdline(pid).includes('chrom')).sort((x, y) => x - y)
  const browserOf = (pid: number): number => {
    for (let p: number | undefined = pid; p != null && p > 1; p = parent.get(p)) {
      const i = browserPids.indexOf(p)
      if (i >= 0) {
        return i
      }
    }
    return -1
  }
  const ticksMs = 10 // USER_HZ is 100 on Linux
  const out = new Map<string, number>()
  for (const pid of pids) {
    const browser = browserOf(pid)
    if (browser < 0) {
      continue
    }
    const type = /--type=([a-z-]+)/.exec(readCmdline(pid))?.[1] ?? 'browser'
    let tasks: string[] = []
    try {
      tasks = readdirSync(`/proc/${pid}/task`)
    } catch {
      continue
    }
    for (const tid of tasks) {
      try {
        const stat = readFileSync(`/proc/${pid}/task/${tid}/stat`, 'utf8')
        const comm = stat.slice(stat.indexOf('(') + 1, stat.lastIndexOf(')'))
        const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ')
        // utime and stime are fields 14 and 15 of stat, 12 and 13 after the comm
        const ms = (Number(fields[11]) + Number(fields[12])) * ticksMs
        const key = `${browser === 0 ? 'A' : 'B'} ${type}/${comm}`
        out.set(key, (out.get(key) ?? 0) + ms)
      } catch {
        // the thread ended while we looked
      }
    }
  }
  return out
}

function readCmdline (pid: number): string {
  try {
    return readFileSync(`/proc/${pid}/cmdline`, 'utf8').replaceAll('\0', ' ')
  } catch {
    return ''
  }
}

/** Chromium threads' CPU time added up over transfers */
class ThreadCpu {
  readonly ms = new Map<string, number>()

  add (before: Map<string, number>, after: Map<string, number>): void {
    for (const [key, ms] of after) {
      const delta = ms - (before.get(key) ?? 0)
      if (delta > 0) {
        this.ms.set(key, (this.ms.get(key) ?? 0) + delta)
      }
    }
  }

  static table (raw: ThreadCpu, ring: ThreadCpu, rounds: number): string {
    const keys = [...new Set([...raw.ms.keys(), ...ring.ms.keys()])]
      .sort((x, y) => (ring.ms.get(y) ?? 0) + (raw.ms.get(y) ?? 0) - (ring.ms.get(x) ?? 0) - (raw.ms.get(x) ?? 0))
    const total = (t: ThreadCpu): number => [...t.ms.values()].reduce((x, y) => x + y, 0) / rounds
    const rows = keys.filter(k => ((raw.ms.get(k) ?? 0) + (ring.ms.get(k) ?? 0)) / rounds >= 10)
      .map(k => `  ${((raw.ms.get(k) ?? 0) / rounds).toFixed(0).padStart(7)} ${((ring.ms.get(k) ?? 0) / rounds).toFixed(0).padStart(9)}  ${k}`)
    return `Chromium CPU per transfer, ms (A holds, B requests):\n      raw   ringcdn  thread\n${rows.join('\n')}\n  ${total(raw).toFixed(0).padStart(7)} ${total(ring).toFixed(0).padStart(9)}  all threads\n`
  }
}

/** The page bundle's source map, built again exactly as the world built it (esbuild is deterministic) */
async function bundleSourceMap (): Promise<{ map: SourceMap | undefined, close(): void }> {
  const dir = mkdtempSync(join(tmpdir(), 'ringcdn-p6-map-'))
  try {
    const built = await buildBrowserBundle(undefined, join(dir, 'ringcdn.js'))
    const payload = JSON.parse(readFileSync(`${built.file}.map`, 'utf8'))
    payload.sources = payload.sources.map((s: string) => resolve(dir, s))
    return { map: new SourceMap(payload), close: () => { rmSync(dir, { recursive: true, force: true }) } }
  } catch (err: any) {
    process.stderr.write(`no source map for the profile: ${err.message}\n`)
    rmSync(dir, { recursive: true, force: true })
    return { map: undefined, close: () => {} }
  }
}

const world = await startWorld({ entries: { p6: join(HERE, 'pages/p6.page.ts') } })
const browsers: Browser[] = []
try {
  browsers.push(await launchChromium(), await launchChromium())
  const pages: E2ePage[] = []
  for (const browser of browsers) {
    const page = await E2ePage.open(browser, world)
    await page.start({ relay: world.relay.multiaddrs, init: { storeMaxBytes: 512 * MIB, dataChannel: { ...(MESSAGE_BYTES == null ? {} : { maxMessageSize: MESSAGE_BYTES }), ...(MAX_BUFFERED == null ? {} : { maxBufferedAmount: MAX_BUFFERED }) }, ...(WINDOW == null ? {} : { transferWindow: WINDOW }) } })
    await page.whenJoined(30_000)
    pages.push(page)
  }
  const [a, b] = pages
  await waitForRing(pages, 30_000)

  const assets = Array.from({ length: ROUNDS }, (_, i) => ({ url: `${ASSETS}p6-${i}.bin`, body: bytesOf(SIZE, 100 + i) }))
  // one more, fetched by B untimed before the rounds: the same warm-up the raw channel gets
  const warmUp = { url: `${ASSETS}p6-warm-up.bin`, body: bytesOf(SIZE, 99) }
  for (const asset of [warmUp, ...assets]) {
    world.origin.set(asset.url, { body: asset.body })
    const got = await a.fetch(asset.url, sri(asset.body), 60_000)
    if (got.source !== 'origin' || got.bytes !== SIZE) {
      throw new Error(`page A could not load ${asset.url}: ${JSON.stringify(got)}`)
    }
    await b.waitForHolder(asset.url, a, 15_000)
  }

  // the raw channel: B offers and receives, A answers and serves
  const offer = await p6<string>(b, 'rawOffer', [])
  const answer = await p6<string>(a, 'rawAnswer', [offer])
  await p6(b, 'rawAccept', [answer])
  // warm-up, both ways of sending: congestion windows, buffers, the pages' first large allocations
  await p6<number>(b, 'rawReceive', [SIZE, RAW_MESSAGE_BYTES])
  const warm = await p6<{ ms: number, source: string | null, bytes: number, phases: Record<string, number> }>(b, 'timedFetch', [warmUp.url, sri(warmUp.body)])
  process.stdout.write(`warm-up: ringcdn ${warm.ms.toFixed(0)} ms from ${warm.source}\n`)

  const profilers = PROFILE ? await Promise.all([b, a].map(async (page, i) => Profiler.open(page, i === 0 ? 'B (requester)' : 'A (holder)'))) : []
  const threads = { raw: new ThreadCpu(), ringcdn: new ThreadCpu() }
  const rawMs: number[] = []
  const ringMs: number[] = []
  for (const asset of assets) {
    let before = THREADS ? chromiumThreads() : undefined
    rawMs.push(await p6<number>(b, 'rawReceive', [SIZE, RAW_MESSAGE_BYTES]))
    if (before != null) {
      threads.raw.add(before, chromiumThreads())
    }
    await Promise.all(profilers.map(async p => p.start()))
    before = THREADS ? chromiumThreads() : undefined
    const fetched = await p6<{ ms: number, source: string | null, bytes: number, phases: Record<string, number> }>(b, 'timedFetch', [asset.url, sri(asset.body)])
    if (before != null) {
      threads.ringcdn.add(before, chromiumThreads())
    }
    await Promise.all(profilers.map(async p => p.stop()))
    if (fetched.source !== 'peer' || fetched.bytes !== SIZE) {
      throw new Error(`ringcdn fetch of ${asset.url} did not come from the peer: ${JSON.stringify(fetched)}`)
    }
    ringMs.push(fetched.ms)
    const phases = Object.entries(fetched.phases).map(([k, v]) => `${k} ${v.toFixed(0)}`).join(', ')
    process.stdout.write(`round: raw ${rawMs.at(-1)?.toFixed(0)} ms, ringcdn ${fetched.ms.toFixed(0)} ms (${phases})\n`)
  }
  if (THREADS) {
    process.stdout.write(ThreadCpu.table(threads.raw, threads.ringcdn, assets.length))
  }
  if (profilers.length > 0) {
    const sources = await bundleSourceMap()
    for (const p of profilers) {
      process.stdout.write(p.summary(sources.map, PROFILE_TOP))
    }
    sources.close()
  }
  await p6(b, 'rawClose', [])
  await p6(a, 'rawClose', [])

  const addrA = (await a.webrtcAddrs())[0]
  const { times: dialMs, failures: dialFailures } = await p6<{ times: number[], failures: string[] }>(b, 'dialTimes', [addrA, DIALS], 11_000 * DIALS * 3)
  if (dialMs.length === 0) {
    throw new Error(`no dial made a fresh connection: ${dialFailures.join('; ')}`)
  }

  const throughput = (ms: number): number => SIZE / MIB / (ms / 1000)
  const raw = throughput(median(rawMs))
  const ring = throughput(median(ringMs))
  const result = {
    benchmark: 'p6-webrtc',
    command: `${['SIZE', 'ROUNDS', 'DIALS', 'MESSAGE_BYTES', 'RAW_MESSAGE_BYTES', 'WINDOW', 'MAX_BUFFERED'].filter(k => process.env[k] != null).map(k => `${k}=${process.env[k]} `).join('')}npm run bench:p6`,
    date: new Date().toISOString(),
    node: process.version,
    setting: 'two headless Chromium processes on one machine (2 shared cores), relay and origin on 127.0.0.1, no STUN',
    sizeBytes: SIZE,
    rounds: ROUNDS,
    // ringcdn's default is DATA_CHANNEL_MESSAGE_BYTES (src/browser.ts), not imported: that would load libp2p's WebRTC stack here
    ringcdnMessageBytes: MESSAGE_BYTES ?? 131_072,
    rawDataChannel: { messageBytes: RAW_MESSAGE_BYTES, msPerTransfer: rawMs.map(Math.round), medianMiBps: round(raw) },
    ringcdn: { msPerFetch: ringMs.map(Math.round), medianMiBps: round(ring), warmUpMs: Math.round(warm.ms) },
    ratio: round(ring / raw),
    bar: { minRatio: BAR_RATIO, pass: ring / raw >= BAR_RATIO },
    webrtcSetup: {
      dials: dialMs.length,
      failedDials: dialFailures.length,
      failures: dialFailures,
      p50Ms: Math.round(median(dialMs)),
      p95Ms: Math.round(percentile(dialMs, 0.95)),
      minMs: Math.round(Math.min(...dialMs)),
      maxMs: Math.round(Math.max(...dialMs))
    }
  }
  await mkdir(resolve(HERE, 'results'), { recursive: true })
  await writeFile(resolve(HERE, 'results/p6-webrtc.json'), `${JSON.stringify(result, null, 2)}\n`)
  process.stdout.write(`${JSON.stringify(result, null, 2)}\n`)
} finally {
  await Promise.all(browsers.map(async b => b.close().catch(() => {})))
  await world.close()
}

function round (x: number): number {
  return Math.round(x * 100) / 100
}
