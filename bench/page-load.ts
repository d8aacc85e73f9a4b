/**
 * `npm run bench:page-load`: a page loads many assets at once that few other
 * pages hold, as a visitor's page loads its images, styles and scripts
 * together. Real libp2p nodes in this process (the test fixtures' memory
 * transport, 5 ms a message) and a loopback origin with an added delay. Each round, the holders fetch a fresh set of assets from the
 * origin, then the loading page fetches them all at once with `cdn.fetch`
 * while plain `fetch()`es of the same URLs start beside them: where each came
 * from, both times and their ratio, and the holders' BUSY answers (a holder
 * serves one peer two transfers at once). Prints a table and saves
 * bench/results/page-load.json.
 *
 * Flags (defaults in brackets): --assets [8] --holders [1] --rounds [5]
 * --size [65536] (bytes per asset) --origin-delay-ms [50] --out
 */
import { mkdir, writeFile } from 'node:fs/promises'
import { dirname } from 'node:path'
import { parseArgs } from 'node:util'
import { SOURCE_HEADER } from '../src/ring-cdn.ts'
import { bytesOf, sri, startOrigin } from '../test/fixtures/origin-server.ts'
import { TestStore, createRing, stopAll, waitForRing } from '../test/libp2p/cdn-fixtures.ts'
import { InvalidFlagError, parseNumber } from './browser/flags.ts'

/** Bound on the holders' announcements reaching the assets' home nodes, ms */
const ANNOUNCED_MS = 20_000

class HoldersNotListedError extends Error {
  static name = 'HoldersNotListedError'
  name = 'HoldersNotListedError'
}

const { values } = parseArgs({
  options: {
    assets: { type: 'string' },
    holders: { type: 'string' },
    rounds: { type: 'string' },
    size: { type: 'string' },
    'origin-delay-ms': { type: 'string' },
    out: { type: 'string' }
  }
})
const assets = parseNumber('assets', values.assets, 8)
const holders = parseNumber('holders', values.holders, 1)
const rounds = parseNumber('rounds', values.rounds, 5)
const size = parseNumber('size', values.size, 65_536)
const delayMs = parseNumber('origin-delay-ms', values['origin-delay-ms'], 50)
const out = values.out ?? 'bench/results/page-load.json'
if (holders < 1 || assets < 1 || rounds < 1) {
  throw new InvalidFlagError('--assets, --holders and --rounds must be at least 1')
}

/** Until the asset's home lists every holder; a named error past `end` */
async function untilListed (url: string, end: number): Promise<void> {
  while ((await loader.locate(url)).holders.length < holders) {
    if (Date.now() > end) {
      throw new HoldersNotListedError(`${url}: not every holder listed within ${ANNOUNCED_MS} ms`)
    }
    await new Promise(resolve => setTimeout(resolve, 50))
  }
}

const origin = await startOrigin({ delayMs })
const manifest = { ringcdn: 1 as const, assets: {} as Record<string, string> }
const paths: string[][] = []
for (let r = 0; r < rounds; r++) {
  paths.push(Array.from({ length: assets }, (_, i) => `/r${r}/asset-${i}.bin`))
  for (const [i, path] of paths[r].entries()) {
    const body = bytesOf(size, 1 + r * assets + i)
    origin.set(path, { body, contentType: 'application/octet-stream' })
    manifest.assets[origin.url(path)] = sri(body)
  }
}
// no home copies: the holders stay the only pages that hold the assets
const nodes = await createRing(holders + 1, { initFor: () => ({ store: new TestStore(), manifest, homeCopies: false }) })
const loader = nodes[holders].services.cdn
interface Round {
  round: number
  fromPeers: number
  fromOrigin: number
  cdnLastMs: number
  originLastMs: number
  shareWaits: number
  busyRefusals: number
  wallMs: number
  /** Each ringcdn fetch in the order started: source and ms */
  fetches: string[]
}
const results: Round[] = []
try {
  await waitForRing(nodes)
  for (const [round, list] of paths.entries()) {
    const urls = list.map(path => origin.url(path))
    for (const holder of nodes.slice(0, holders)) {
      for (const url of urls) {
        await (await holder.services.cdn.fetch(url)).arrayBuffer()
      }
    }
    const end = Date.now() + ANNOUNCED_MS
    for (const url of urls) {
      await untilListed(url, end)
    }
    const before = loader.getStats()
    const busyBefore = nodes.slice(0, holders).reduce((sum, n) => sum + n.services.cdn.getStats().busyRefusals, 0)
    const timed = async (fetcher: () => Promise<Response>): Promise<{ ms: number, source: string }> => {
      const started = performance.now()
      const res = await fetcher()
      await res.arrayBuffer()
      return { ms: performance.now() - started, source: res.headers.get(SOURCE_HEADER) ?? 'plain' }
    }
    const started = performance.now()
    const [cdn, plain] = await Promise.all([
      Promise.all(urls.map(async url => timed(async () => loader.fetch(url)))),
      Promise.all(urls.map(async url => timed(async () => fetch(url))))
    ])
    const wall = performance.now() - started
    const after = loader.getStats()
    const row: Round = {
      round,
      fromPeers: cdn.filter(f => f.source === 'peer').length,
      fromOrigin: cdn.filter(f => f.source === 'origin').length,
      cdnLastMs: Math.round(Math.max(...cdn.map(f => f.ms))),
      originLastMs: Math.round(Math.max(...plain.map(f => f.ms))),
      shareWaits: (after.shareWaits ?? 0) - (before.shareWaits ?? 0),
      busyRefusals: nodes.slice(0, holders).reduce((sum, n) => sum + n.services.cdn.getStats().busyRefusals, 0) - busyBefore,
      wallMs: Math.round(wall),
      fetches: cdn.map(f => `${f.source} ${Math.round(f.ms)}`)
    }
    results.push(row)
    process.stdout.write(JSON.stringify(row) + '\n')
  }
} finally {
  await stopAll(nodes)
  await origin.close()
}

const sum = (key: 'fromPeers' | 'fromOrigin' | 'shareWaits' | 'busyRefusals'): number => results.reduce((s, r) => s + r[key], 0)
const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]
const summary = {
  options: { assets, holders, rounds, size, delayMs },
  peerShare: sum('fromPeers') / (assets * rounds),
  fromPeers: sum('fromPeers'),
  fromOrigin: sum('fromOrigin'),
  shareWaits: sum('shareWaits'),
  busyRefusals: sum('busyRefusals'),
  // the time to the page's last asset, ringcdn over the plain fetches started beside it
  medianLastAssetRatio: Math.round(100 * median(results.map(r => r.cdnLastMs / r.originLastMs))) / 100,
  rounds: results
}
process.stdout.write([
  `${assets} assets of ${size} B held by ${holders} page(s), origin +${delayMs} ms, ${rounds} rounds:`,
  `  from peers ${summary.fromPeers} / ${assets * rounds} (${(100 * summary.peerShare).toFixed(0)} %), from the origin ${summary.fromOrigin}; BUSY answers ${summary.busyRefusals}, share waits ${summary.shareWaits}`,
  `  last asset, ringcdn / plain origin fetch (median of rounds): ${summary.medianLastAssetRatio}`
].join('\n') + '\n')
await mkdir(dirname(out), { recursive: true })
await writeFile(out, JSON.stringify(summary, null, 2) + '\n')
process.stdout.write(`saved ${out}\n`)
