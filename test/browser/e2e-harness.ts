/**
 * The world of the end-to-end tests and browser benchmarks, all real and on
 * loopback: a relay (`relay/relay.ts`), an HTTP origin with request counters
 * (`test/fixtures/origin-server.ts`), the shipped page bundle
 * (`scripts/build-browser.ts`) served by the page server together with the
 * test page (`e2e.page.ts`), and Chromium pages driving `createRingCdn`.
 *
 * The page server forwards `/assets/*` to the origin, so assets are
 * same-origin for the page (the origin fixture sends no CORS headers) while
 * the origin still counts every request that reached it.
 */
import { execFile } from 'node:child_process'
import { mkdtempSync, readFileSync, rmSync } from 'node:fs'
import { request } from 'node:http'
import { tmpdir } from 'node:os'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { promisify } from 'node:util'
import { createRelay } from '../../relay/relay.ts'
import { startOrigin } from '../fixtures/origin-server.ts'
import { createRelaySet } from '../relay/fixtures.ts'
import { openPage, withTimeout } from './chromium.ts'
import { startPageServer } from './page-server.ts'
import { describeRingShape, ringShape } from './ring-shape.ts'
import type { TestPage } from './chromium.ts'
import type { E2eApi, FetchResult, StartOptions, ConnectionInfo } from './e2e.page.ts'
import type { PageServer } from './page-server.ts'
import type { Relay } from '../../relay/relay.ts'
import type { RingView } from '../../src/browser.ts'
import type { Origin, OriginInit } from '../fixtures/origin-server.ts'
import type { Browser, BrowserContext } from 'playwright-core'

const HERE = dirname(fileURLToPath(import.meta.url))
/** The test page, bundled by the page server */
const PAGE_ENTRY = join(HERE, 'e2e.page.ts')
/** `npm run build:browser`, run as a script so the pages get exactly what it builds */
const BUILD_SCRIPT = join(HERE, '../../scripts/build-browser.ts')
/** Bound on building the bundle, ms */
const BUILD_TIMEOUT_MS = 60_000

/** Builds the page bundle with scripts/build-browser.ts into `outfile` */
async function buildBundle (outfile: string): Promise<{ file: string, bytes: number, gzipBytes: number }> {
  const { stdout } = await promisify(execFile)(process.execPath, [
    '--experimental-transform-types', '--disable-warning=ExperimentalWarning', BUILD_SCRIPT, '--outfile', outfile, '--json'
  ], { timeout: BUILD_TIMEOUT_MS })
  return JSON.parse(stdout)
}

/** Where the origin's assets live, as the page sees them */
export const ASSETS = '/assets/'

export interface E2eWorld {
  /** The first relay (the only one unless `relays` was given) */
  relay: Relay
  /** Every relay, peered with each other when there are several */
  relays: Relay[]
  origin: Origin
  server: PageServer
  /** Bundle size as built for this run */
  bundleBytes: number
  close(): Promise<void>
}

export interface WorldOptions {
  /**
   * More page scripts to bundle and load next to the test page (benchmarks add their own)
   *
   * @default {}
   */
  entries?: Record<string, string>
  /**
   * The origin's added delay and bandwidth cap (benchmarks)
   *
   * @default {} (answers at once, no cap)
   */
  origin?: OriginInit
  /**
   * Relays, peered with each other (`peerRelays`) when more than one
   *
   * @default 1
   */
  relays?: number
}

/** Starts relay, origin, bundle and page server */
export async function startWorld (options: WorldOptions = {}): Promise<E2eWorld> {
  const dir = mkdtempSync(join(tmpdir(), 'ringcdn-e2e-'))
  const built = await buildBundle(join(dir, 'ringcdn.js'))
  const relaySet = (options.relays ?? 1) > 1 ? await createRelaySet(options.relays ?? 1) : undefined
  const relays = relaySet?.relays ?? [await createRelay({ port: 0, httpPort: 0 })]
  const relay = relays[0]
  const origin = await startOrigin(options.origin)
  const originPort = Number(new URL(origin.base).port)
  const server = await startPageServer({
    entries: { main: PAGE_ENTRY, ...options.entries },
    routes: { '/ringcdn.js': { body: readFileSync(built.file), contentType: 'text/javascript; charset=utf-8' } },
    handle: (req, res) => {
      if (req.url?.startsWith(ASSETS) !== true) {
        return false
      }
      const upstream = request({ host: '127.0.0.1', port: originPort, method: req.method, path: req.url, headers: { accept: req.headers.accept ?? '*/*' } }, (answer) => {
        res.writeHead(answer.statusCode ?? 502, { ...answer.headers, 'cache-control': 'no-store' })
        answer.pipe(res)
      })
      upstream.on('error', () => { res.destroy() })
      req.pipe(upstream)
      return true
    }
  })

  return {
    relay,
    relays,
    origin,
    server,
    bundleBytes: built.bytes,
    async close () {
      await server.close().catch(() => {})
      await origin.close().catch(() => {})
      await Promise.all(relays.map(async r => r.stop().catch(() => {})))
      rmSync(dir, { recursive: true, force: true })
    }
  }
}

/** Resolves when `check` returns a value other than undefined/false, or rejects after `ms` with the last value */
export async function waitFor<T> (check: () => Promise<T | undefined | false>, ms: number, what: string, intervalMs: number = 250): Promise<T> {
  const deadline = Date.now() + ms
  let last: unknown
  while (true) {
    const value = await check()
    if (value !== undefined && value !== false) {
      return value
    }
    last = value
    if (Date.now() > deadline) {
      throw new Error(`${what}: not true within ${ms} ms (last: ${JSON.stringify(last)})`)
    }
    await new Promise(resolve => setTimeout(resolve, intervalMs))
  }
}

/** One Chromium page running the test page, with typed calls into `globalThis.e2e` */
export class E2ePage {
  readonly test: TestPage
  peerId = ''

  constructor (test: TestPage) {
    this.test = test
  }

  /** `RINGCDN_E2E_DEBUG=ringcdn:*` logs the pages' debug output to their consoles, for failure reports */
  static async open (target: Browser | BrowserContext, world: E2eWorld): Promise<E2ePage> {
    return new E2ePage(await openPage(target, world.server.url, { debug: process.env.RINGCDN_E2E_DEBUG }))
  }

  private async call<R> (method: keyof E2eApi, args: unknown[], timeout?: number): Promise<R> {
    return this.test.evaluate(async ({ method, args }) => {
      return (globalThis as any).e2e[method](...args)
    }, { method, args }, { timeout })
  }

  async start (options: StartOptions): Promise<{ peerId?: string, peerToPeer: boolean }> {
    const started = await this.call<{ peerId?: string, peerToPeer: boolean }>('start', [options])
    this.peerId = started.peerId ?? ''
    return started
  }

  async whenJoined (ms: number): Promise<void> {
    await this.call('whenJoined', [ms], ms + 5_000)
  }

  async webrtcAddrs (): Promise<string[]> {
    return this.call('webrtcAddrs', [])
  }

  async ring (): Promise<RingView | undefined> {
    return this.call('ring', [])
  }

  async stats (): Promise<any> {
    return this.call('stats', [])
  }

  async fetch (url: string, integrity?: string, timeoutMs: number = 20_000): Promise<FetchResult> {
    return this.call('fetch', [url, integrity, timeoutMs], timeoutMs + 5_000)
  }

  async holders (url: string): Promise<string[]> {
    return this.call('holders', [url], 10_000)
  }

  /** Waits until the ring lists `holder` as a holder of `url` (announces travel in the background) */
  async waitForHolder (url: string, holder: E2ePage, ms: number = 20_000): Promise<void> {
    await waitFor(async () => (await this.holders(url)).includes(holder.peerId) || undefined, ms, `${holder.peerId} listed as holder of ${url}`)
  }

  /**
   * Opens a direct WebRTC connection to `other`: the one step retried in these
   * tests, since ICE on a loaded machine occasionally fails or stalls
   */
  async connectTo (other: E2ePage, attempts: number = 3, timeoutMs: number = 10_000): Promise<string> {
    const addr = (await other.webrtcAddrs())[0]
    if (addr == null) {
      throw new Error(`${other.peerId} has no WebRTC address`)
    }
    let last: unknown
    for (let i = 0; i < attempts; i++) {
      try {
        return await this.call<string>('connect', [addr, timeoutMs], timeoutMs + 5_000)
      } catch (err) {
        last = err
      }
    }
    throw last
  }

  /** `rounds` fresh dials of `other`'s WebRTC address, each bounded by `timeoutMs` (`redials` in e2e.page.ts) */
  async redials (other: E2ePage, rounds: number, timeoutMs: number = 10_000): Promise<{ times: number[], failures: string[] }> {
    const addr = (await other.webrtcAddrs())[0]
    if (addr == null) {
      throw new Error(`${other.peerId} has no WebRTC address`)
    }
    // each attempt: a close and a dial, both bounded by timeoutMs
    return this.call('redials', [addr, rounds, timeoutMs], rounds * 3 * 2 * timeoutMs + 5_000)
  }

  /** The node's upload decision (`RingCdn.uploadState`) */
  async uploadState (): Promise<unknown> {
    return this.call('uploadState', [])
  }

  /** Makes the page report itself hidden or visible (see `emulateVisibility` in e2e.page.ts); returns `document.visibilityState` */
  async emulateVisibility (state: 'hidden' | 'visible'): Promise<string> {
    return this.call('emulateVisibility', [state])
  }

  async integrityFailures (): Promise<Array<{ peer?: string, source: string, url: string }>> {
    return this.call('integrityFailures', [])
  }

  async holderFailures (): Promise<Array<{ peer: string, url: string, error: string, message: string }>> {
    return this.call('holderFailures', [])
  }

  async lookups (): Promise<Array<{ url: string, home?: string, hops?: number, holders: number, durationMs: number, error?: string }>> {
    return this.call('lookups', [])
  }

  async lie (on: boolean): Promise<void> {
    await this.call('lie', [on])
  }

  async connections (peer?: string): Promise<ConnectionInfo[]> {
    return this.call('connections', [peer])
  }

  async hangUp (peer: string): Promise<void> {
    await this.call('hangUp', [peer])
  }

  async stop (): Promise<void> {
    await this.call('stop', [], 15_000)
  }

  async close (): Promise<void> {
    await withTimeout(this.test.close(), 10_000, 'closing a page').catch(() => {})
  }
}

/**
 * Whether every page's view agrees with the true ring (pages sorted by ring
 * id): each page's first successor is the next page and its predecessor the
 * previous one. Returns the disagreements (empty when the ring is right).
 */
export function ringErrors (views: RingView[]): string[] {
  const members = views
    .filter(v => v.self != null)
    .map(v => v.self as NonNullable<RingView['self']>)
    .sort((a, b) => a.id.localeCompare(b.id))
  const errors: string[] = []
  // a failing run should say whether a wrong neighbour is a page that left or a live one skipped
  const live = new Set(members.map(m => m.peer))
  const name = (peer: string | undefined): string => peer == null || live.has(peer) ? String(peer) : `${peer} (not a live page)`
  for (const view of views) {
    const self = view.self
    if (self == null || !view.joined) {
      errors.push(`${self?.peer ?? '?'} has not joined`)
      continue
    }
    const at = members.findIndex(m => m.peer === self.peer)
    const successor = members[(at + 1) % members.length]
    const predecessor = members[(at - 1 + members.length) % members.length]
    if (members.length > 1 && view.successors[0]?.peer !== successor.peer) {
      errors.push(`${self.peer}: successor ${name(view.successors[0]?.peer)} should be ${successor.peer}`)
    }
    if (members.length > 1 && view.predecessor?.peer !== predecessor.peer) {
      errors.push(`${self.peer}: predecessor ${name(view.predecessor?.peer)} should be ${predecessor.peer}`)
    }
  }
  return errors
}

/** Console lines per page a failed ring agreement reports */
const RING_FAILURE_LOG_LINES = 40

/** Waits until the pages' ring views agree with the true ring */
export async function waitForRing (pages: E2ePage[], ms: number): Promise<RingView[]> {
  let errors: string[] = []
  return waitFor(async () => {
    const views = await Promise.all(pages.map(async p => p.ring())) as RingView[]
    errors = ringErrors(views)
    return errors.length === 0 ? views : undefined
  }, ms, 'ring agreement').catch(async err => {
    // whether each page's maintenance still runs: the ring requests it has sent, by type
    const sent = await Promise.all(pages.map(async p => (await p.stats().catch(() => undefined))?.ringRpcsSentByType))
    const logs = pages.map(p => `--- ${p.peerId} (last ${RING_FAILURE_LOG_LINES} console lines) ---\n${p.test.logs.slice(-RING_FAILURE_LOG_LINES).join('\n')}`)
    const shape = describeRingShape(ringShape(await Promise.all(pages.map(async p => p.ring().catch(() => undefined))).then(v => v.filter((x): x is RingView => x != null))))
    err.message = `${err.message}\n${errors.join('\n')}\nfirst successors draw: ${shape}\nring requests sent, per page: ${JSON.stringify(sent)}\n${logs.join('\n')}`
    throw err
  })
}
