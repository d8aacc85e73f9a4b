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
 * DIALS (25), MESSAGE_BYTES (the pages' WebRTC message size; `@libp2p/webrtc`'s
 * default, 16 KiB), WINDOW (chunks in flight per transfer; the library's default).
 */
import { mkdir, writeFile } from 'node:fs/promises'
import { dirname, join, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'
import { launchChromium } from '../test/browser/chromium.ts'
import { ASSETS, E2ePage, startWorld, waitForRing } from '../test/browser/e2e-harness.ts'
import { bytesOf, sri } from '../test/fixtures/origin-server.ts'
import { median, percentile } from './nodes.ts'
import type { Browser } from 'playwright-core'

const HERE = dirname(fileURLToPath(import.meta.url))
const SIZE = Number(process.env.SIZE ?? 10 * 1024 * 1024)
const ROUNDS = Number(process.env.ROUNDS ?? 4)
const DIALS = Number(process.env.DIALS ?? 25)
/** WebRTC message size of the ringcdn pages (unset: `@libp2p/webrtc`'s default, 16 KiB) */
const MESSAGE_BYTES = process.env.MESSAGE_BYTES == null ? undefined : Number(process.env.MESSAGE_BYTES)
/** Chunks in flight per ringcdn transfer (unset: the library's default, TRANSFER_WINDOW) */
const WINDOW = process.env.WINDOW == null ? undefined : Number(process.env.WINDOW)
/** Throughput of ringcdn relative to the raw channel that passes */
const BAR_RATIO = 0.8
const MIB = 1024 * 1024

async function p6<R> (page: E2ePage, method: string, args: unknown[], timeout: number = 120_000): Promise<R> {
  return page.test.evaluate(async ({ method, args }) => (globalThis as any).p6[method](...args), { method, args }, { timeout })
}

const world = await startWorld({ entries: { p6: join(HERE, 'pages/p6.page.ts') } })
const browsers: Browser[] = []
try {
  browsers.push(await launchChromium(), await launchChromium())
  const pages: E2ePage[] = []
  for (const browser of browsers) {
    const page = await E2ePage.open(browser, world)
    await page.start({ relay: world.relay.multiaddrs, init: { storeMaxBytes: 512 * MIB, ...(MESSAGE_BYTES == null ? {} : { dataChannel: { maxMessageSize: MESSAGE_BYTES } }), ...(WINDOW == null ? {} : { transferWindow: WINDOW }) } })
    await page.whenJoined(30_000)
    pages.push(page)
  }
  const [a, b] = pages
  await waitForRing(pages, 30_000)

  const assets = Array.from({ length: ROUNDS }, (_, i) => ({ url: `${ASSETS}p6-${i}.bin`, body: bytesOf(SIZE, 100 + i) }))
  for (const asset of assets) {
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
  await p6<number>(b, 'rawReceive', [SIZE]) // warm-up: congestion window, buffers

  const rawMs: number[] = []
  const ringMs: number[] = []
  for (const asset of assets) {
    rawMs.push(await p6<number>(b, 'rawReceive', [SIZE]))
    const fetched = await p6<{ ms: number, source: string | null, bytes: number }>(b, 'timedFetch', [asset.url, sri(asset.body)])
    if (fetched.source !== 'peer' || fetched.bytes !== SIZE) {
      throw new Error(`ringcdn fetch of ${asset.url} did not come from the peer: ${JSON.stringify(fetched)}`)
    }
    ringMs.push(fetched.ms)
    process.stdout.write(`round: raw ${rawMs.at(-1)?.toFixed(0)} ms, ringcdn ${fetched.ms.toFixed(0)} ms\n`)
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
    command: `${['SIZE', 'ROUNDS', 'DIALS', 'MESSAGE_BYTES'].filter(k => process.env[k] != null).map(k => `${k}=${process.env[k]} `).join('')}npm run bench:p6`,
    date: new Date().toISOString(),
    node: process.version,
    setting: 'two headless Chromium processes on one machine (2 shared cores), relay and origin on 127.0.0.1, no STUN',
    sizeBytes: SIZE,
    rounds: ROUNDS,
    ringcdnMessageBytes: MESSAGE_BYTES ?? 16_384,
    rawDataChannel: { messageBytes: 16_384, msPerTransfer: rawMs.map(Math.round), medianMiBps: round(raw) },
    ringcdn: { msPerFetch: ringMs.map(Math.round), medianMiBps: round(ring) },
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
