/**
 * The demo: a ringcdn relay plus a small origin site whose pages use ringcdn
 * for their assets and show the ring at work. `npm start` runs it through
 * `demo/start.ts`; tests start it in process with `startDemo({ port: 0, relayPort: 0 })`.
 *
 * The origin serves:
 *
 * - `/`: the page, with the relay addresses and the asset list inlined
 * - `/app.js`: the page script, bundled from `demo/app.ts` with esbuild at start
 * - `/sw.js`: the service worker (`demo/sw.ts`), bundled the same way: it hands
 * the page's plain fetches of `/assets/…` to the tab's ringcdn node
 * - `/assets/…`: images, a multi-MB PNG and a segmented video (`demo/assets.ts`),
 * each with a `Repr-Digest` header (RFC 9530)
 * - `/ringcdn-manifest.json`: every asset's SRI digest, so pages accept peer
 * bytes only when they match
 * - `/__ringcdn/origin-stats`: what this origin served, `{ requests, bytes, … }`
 * (the `/__ringcdn/` endpoints are not counted themselves)
 * - `POST /__ringcdn/origin-assets?serving=0|1`: stops or resumes serving
 * `/assets/…` (503), to watch pages keep working from each other
 *
 * Every response is `no-store`: the browser's HTTP cache would otherwise
 * answer a second tab and the origin counters would undercount what the
 * origin really had to serve.
 */
import { readFile } from 'node:fs/promises'
import { createServer } from 'node:http'
import { join } from 'node:path'
import { build } from 'esbuild'
import { createRelay } from '../relay/relay.ts'
import { pageBundlePlugins } from '../scripts/build-browser.ts'
import { makeAssets } from './assets.ts'
import type { DemoAsset } from './assets.ts'
import type { Relay } from '../relay/relay.ts'
import type { Plugin } from 'esbuild'
import type { IncomingMessage, Server, ServerResponse } from 'node:http'
import type { AddressInfo } from 'node:net'

/** Interface the demo listens on */
export const DEFAULT_HOST = '127.0.0.1'
/** Port of the demo site */
export const DEFAULT_PORT = 8080
/** Port of the relay's websocket listener */
export const DEFAULT_RELAY_PORT = 9090
/** Where the manifest is served */
export const MANIFEST_PATH = '/ringcdn-manifest.json'
/** Where the origin's counters are served (not counted) */
export const ORIGIN_STATS_PATH = '/__ringcdn/origin-stats'
/** Switch for serving `/assets/…` (not counted) */
export const ORIGIN_ASSETS_PATH = '/__ringcdn/origin-assets'
/** Prefix of the demo's own control endpoints, never counted as origin load */
const CONTROL_PREFIX = '/__ringcdn/'
/** Prefix of the assets the pages load through ringcdn */
const ASSET_PREFIX = '/assets/'

const DEMO_DIR = import.meta.dirname

/** A port option or environment value was not a port number */
export class InvalidPortError extends Error {
  static name = 'InvalidPortError'
  name = 'InvalidPortError'
}

export interface StartDemoOptions {
  /**
   * Interface both the site and the relay listen on
   *
   * @default DEFAULT_HOST ('127.0.0.1')
   */
  host?: string
  /**
   * Port of the site; 0 picks a free one
   *
   * @default DEFAULT_PORT (8080)
   */
  port?: number
  /**
   * Websocket port of the relay; 0 picks a free one
   *
   * @default DEFAULT_RELAY_PORT (9090)
   */
  relayPort?: number
  /**
   * Port of the relay's /health and /metrics; 0 picks a free one
   *
   * @default relayPort + 1, or 0 when relayPort is 0
   */
  relayHttpPort?: number
  /**
   * Addresses the relay announces instead of its listen addresses (e.g. its
   * public `/dns4/…/tcp/443/wss` address behind a proxy)
   *
   * @default the listen addresses
   */
  relayAnnounce?: string[]
  /**
   * STUN/TURN servers the pages use for WebRTC. Pages on one machine or LAN
   * need none; browsers on different networks do.
   *
   * @default []
   */
  iceServers?: RTCIceServer[]
  /**
   * Minify the page script
   *
   * @default true
   */
  minify?: boolean
}

/** What the origin served so far; the `/__ringcdn/` endpoints are not counted */
export interface OriginStats {
  /** Requests answered */
  requests: number
  /** Response body bytes sent */
  bytes: number
  /** Of those, requests for `/assets/…` (what ringcdn can offload) */
  assetRequests: number
  /** Body bytes sent for `/assets/…` */
  assetBytes: number
  /** Whether `/assets/…` is being served (false: 503) */
  servingAssets: boolean
}

export interface Demo {
  /** The site, `http://<host>:<port>/` */
  readonly url: string
  readonly relay: Relay
  readonly assets: readonly DemoAsset[]
  /** Whether `/assets/…` is served; false answers 503, as if the origin's asset store were down */
  servingAssets: boolean
  originStats(): OriginStats
  stop(): Promise<void>
}

/** What the page reads from the `ringcdn-demo-config` script element */
export interface DemoPageConfig {
  relay: string[]
  /** The relay's peer id: a connection, not a ring member, so the ring view leaves it out */
  relayPeerId: string
  manifest: string
  iceServers: RTCIceServer[]
  assets: Array<{ path: string, kind: DemoAsset['kind'], size: number }>
}

/**
 * Checks a port number, from code or the environment
 *
 * @throws {InvalidPortError}
 */
export function parsePort (value: string | number, name: string): number {
  let port = NaN
  if (typeof value === 'number') {
    port = value
  } else if (/^\s*\d{1,5}\s*$/.test(value)) {
    // digits only: Number() would also take '0x50', '1e3' or ''
    port = Number(value)
  }
  if (!Number.isInteger(port) || port < 0 || port > 65535) {
    throw new InvalidPortError(`${name} must be a port number from 0 to 65535 (0: any free port), got ${JSON.stringify(value)}`)
  }
  return port
}

/** Bundles the page script (and its source map) in memory, with what the library's page bundle changes in its dependencies */
async function bundlePage (minify: boolean): Promise<{ js: string, map: string }> {
  return bundle('app.ts', 'esm', minify, pageBundlePlugins())
}

/** Bundles the service worker: a classic script (IIFE), which every browser with service workers runs */
async function bundleWorker (minify: boolean): Promise<{ js: string, map: string }> {
  return bundle('sw.ts', 'iife', minify)
}

async function bundle (entry: string, format: 'esm' | 'iife', minify: boolean, plugins: Plugin[] = []): Promise<{ js: string, map: string }> {
  const result = await build({
    plugins,
    entryPoints: [join(DEMO_DIR, entry)],
    bundle: true,
    format,
    platform: 'browser',
    target: 'es2022',
    minify,
    sourcemap: 'linked',
    outdir: 'out',
    write: false,
    logLevel: 'silent',
    // libp2p's dependencies test `process.env` here and there
    define: { 'process.env.NODE_DEBUG': 'false' }
  })
  const js = result.outputFiles.find(f => f.path.endsWith('.js'))?.text
  const map = result.outputFiles.find(f => f.path.endsWith('.js.map'))?.text
  if (js == null || map == null) {
    throw new Error(`esbuild produced no script for ${entry}`)
  }
  return { js, map }
}

/** JSON that is safe inside a `<script>` element */
function inlineJson (value: unknown): string {
  return JSON.stringify(value).replace(/</g, '\\u003c')
}

async function listen (server: Server, port: number, host: string): Promise<number> {
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject)
    server.listen(port, host, () => {
      server.off('error', reject)
      resolve()
    })
  })
  return (server.address() as AddressInfo).port
}

/** Starts the relay and the origin site; `stop()` ends both */
export async function startDemo (options: StartDemoOptions = {}): Promise<Demo> {
  const host = options.host ?? DEFAULT_HOST
  const port = parsePort(options.port ?? DEFAULT_PORT, 'port')
  const relayPort = parsePort(options.relayPort ?? DEFAULT_RELAY_PORT, 'relayPort')
  const relayHttpPort = parsePort(options.relayHttpPort ?? (relayPort === 0 ? 0 : relayPort + 1), 'relayHttpPort')

  // everything that can fail without side effects first
  const [assets, page, worker, html, css] = await Promise.all([
    makeAssets(),
    bundlePage(options.minify ?? true),
    bundleWorker(options.minify ?? true),
    readFile(join(DEMO_DIR, 'index.html'), 'utf8'),
    readFile(join(DEMO_DIR, 'style.css'), 'utf8')
  ])
  const byPath = new Map(assets.map(a => [a.path, a]))
  const manifest = JSON.stringify({
    ringcdn: 1,
    assets: Object.fromEntries(assets.map(a => [a.path, { integrity: `sha256-${a.sha256}`, size: a.body.byteLength }]))
  }, null, 2)

  const relay = await createRelay({ host, port: relayPort, httpPort: relayHttpPort, announce: options.relayAnnounce })

  const config: DemoPageConfig = {
    relay: relay.multiaddrs,
    relayPeerId: relay.peerId,
    manifest: MANIFEST_PATH,
    iceServers: options.iceServers ?? [],
    assets: assets.map(a => ({ path: a.path, kind: a.kind, size: a.body.byteLength }))
  }
  const pageHtml = html.replace('<!--CONFIG-->', `<script id="ringcdn-demo-config" type="application/json">${inlineJson(config)}</script>`)

  const stats: OriginStats = { requests: 0, bytes: 0, assetRequests: 0, assetBytes: 0, servingAssets: true }

  const fixed = new Map<string, { body: string | Uint8Array, type: string }>([
    ['/', { body: pageHtml, type: 'text/html; charset=utf-8' }],
    ['/index.html', { body: pageHtml, type: 'text/html; charset=utf-8' }],
    ['/app.js', { body: page.js, type: 'text/javascript; charset=utf-8' }],
    ['/app.js.map', { body: page.map, type: 'application/json' }],
    ['/sw.js', { body: worker.js, type: 'text/javascript; charset=utf-8' }],
    ['/sw.js.map', { body: worker.map, type: 'application/json' }],
    ['/style.css', { body: css, type: 'text/css; charset=utf-8' }],
    [MANIFEST_PATH, { body: manifest, type: 'application/json' }]
  ])

  const send = (req: IncomingMessage, res: ServerResponse, status: number, type: string, body: string | Uint8Array, headers: Record<string, string> = {}): number => {
    const bytes = typeof body === 'string' ? Buffer.from(body) : body
    res.writeHead(status, {
      'content-type': type,
      'content-length': String(bytes.byteLength),
      'cache-control': 'no-store',
      ...headers
    })
    if (req.method === 'HEAD') {
      res.end()
      return 0
    }
    res.end(bytes)
    return bytes.byteLength
  }

  const control = (req: IncomingMessage, res: ServerResponse, url: URL): void => {
    if (url.pathname === ORIGIN_STATS_PATH) {
      send(req, res, 200, 'application/json', JSON.stringify({ ...stats, relay: relay.stats() }))
      return
    }
    if (url.pathname === ORIGIN_ASSETS_PATH && req.method === 'POST') {
      const serving = url.searchParams.get('serving')
      if (serving !== '0' && serving !== '1') {
        send(req, res, 400, 'text/plain', 'serving must be 0 or 1\n')
        return
      }
      stats.servingAssets = serving === '1'
      send(req, res, 200, 'application/json', JSON.stringify({ servingAssets: stats.servingAssets }))
      return
    }
    send(req, res, 404, 'text/plain', 'not found\n')
  }

  const server = createServer((req, res) => {
    let url: URL
    try {
      url = new URL(req.url ?? '/', 'http://origin')
    } catch {
      send(req, res, 400, 'text/plain', 'bad request\n')
      return
    }
    if (url.pathname.startsWith(CONTROL_PREFIX)) {
      control(req, res, url)
      return
    }

    stats.requests++
    const isAsset = url.pathname.startsWith(ASSET_PREFIX)
    let sent: number
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      sent = send(req, res, 405, 'text/plain', 'method not allowed\n', { allow: 'GET, HEAD' })
    } else if (isAsset) {
      const asset = byPath.get(url.pathname)
      if (asset == null) {
        sent = send(req, res, 404, 'text/plain', 'not found\n')
      } else if (!stats.servingAssets) {
        sent = send(req, res, 503, 'text/plain', 'the origin is not serving assets right now\n', { 'retry-after': '10' })
      } else {
        sent = send(req, res, 200, asset.contentType, asset.body, { 'repr-digest': `sha-256=:${asset.sha256}:` })
      }
    } else {
      const route = fixed.get(url.pathname)
      sent = route == null
        ? send(req, res, 404, 'text/plain', 'not found\n')
        : send(req, res, 200, route.type, route.body)
    }
    stats.bytes += sent
    if (isAsset) {
      stats.assetRequests++
      stats.assetBytes += sent
    }
  })

  let actualPort: number
  try {
    actualPort = await listen(server, port, host)
  } catch (err) {
    await relay.stop()
    throw err
  }
  const urlHost = host.includes(':') ? `[${host}]` : host

  return {
    url: `http://${urlHost}:${actualPort}/`,
    relay,
    assets,
    get servingAssets () { return stats.servingAssets },
    set servingAssets (value: boolean) { stats.servingAssets = value },
    originStats: () => ({ ...stats }),
    async stop () {
      server.closeAllConnections()
      await Promise.all([
        new Promise<void>(resolve => { server.close(() => { resolve() }) }),
        relay.stop()
      ])
    }
  }
}
