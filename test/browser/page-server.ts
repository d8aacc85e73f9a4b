/**
 * A tiny loopback HTTP server for browser tests: bundles entry files with
 * esbuild and serves them with an HTML page that loads them, plus any fixed
 * routes a test adds (an origin's assets, a manifest). Listens on 127.0.0.1
 * on a random port; every response is `no-store` so a reload fetches afresh.
 *
 * `requests` records every request path, so a test can assert what the page
 * fetched from this "origin" (e.g. that an asset was served once).
 */
import { createServer } from 'node:http'
import { build } from 'esbuild'
import type { BuildOptions } from 'esbuild'
import type { IncomingMessage, ServerResponse } from 'node:http'
import type { AddressInfo } from 'node:net'

export interface StaticRoute {
  body: string | Uint8Array
  /** @default 'application/octet-stream' */
  contentType?: string
  /** @default 200 */
  status?: number
  /** Extra response headers */
  headers?: Record<string, string>
}

export interface PageServerInit {
  /**
   * Files to bundle for the browser, by name: `{ main: 'test/x/x.page.ts' }`
   * is served at `/main.js` and loaded by the page as a module
   */
  entries: Record<string, string>
  /**
   * Fixed responses by path, e.g. `{ '/logo.png': { body, contentType: 'image/png' } }`
   *
   * @default {}
   */
  routes?: Record<string, StaticRoute>
  /**
   * Handles a request no route matched; return `true` once it responded
   *
   * @default none (404)
   */
  handle?(req: IncomingMessage, res: ServerResponse): boolean
  /**
   * The page at `/`
   *
   * @default an empty page loading every entry as a module script
   */
  html?: string
  /**
   * Merged into the esbuild options
   *
   * @default {}
   */
  esbuild?: BuildOptions
}

export interface PageServer {
  /** `http://127.0.0.1:<port>/`, the page */
  readonly url: string
  /** `http://127.0.0.1:<port>` */
  readonly origin: string
  /** Paths requested so far, in order (query strings included) */
  readonly requests: string[]
  /** Adds or replaces a fixed route while running */
  setRoute(path: string, route: StaticRoute): void
  close(): Promise<void>
}

/** Bundles one entry for the browser as an ES module, source map inlined for readable stacks */
export async function bundleForBrowser (entry: string, options: BuildOptions = {}): Promise<string> {
  const result = await build({
    entryPoints: [entry],
    bundle: true,
    format: 'esm',
    platform: 'browser',
    target: 'chrome120',
    sourcemap: 'inline',
    write: false,
    logLevel: 'silent',
    ...options
  })

  return result.outputFiles?.[0]?.text ?? ''
}

function defaultHtml (names: string[]): string {
  const scripts = names.map(name => `<script type="module" src="/${name}.js"></script>`).join('\n')
  return `<!doctype html>\n<html><head><meta charset="utf-8"><title>ringcdn test</title>\n${scripts}\n</head><body></body></html>\n`
}

export async function startPageServer (init: PageServerInit): Promise<PageServer> {
  const routes = new Map<string, StaticRoute>()
  const names = Object.keys(init.entries)

  const bundles = await Promise.all(names.map(async name => bundleForBrowser(init.entries[name], init.esbuild)))
  names.forEach((name, i) => {
    routes.set(`/${name}.js`, { body: bundles[i], contentType: 'text/javascript; charset=utf-8' })
  })
  routes.set('/', { body: init.html ?? defaultHtml(names), contentType: 'text/html; charset=utf-8' })
  // browsers ask for it unprompted; a 404 would show up as a console error
  routes.set('/favicon.ico', { body: '', status: 204 })

  for (const [path, route] of Object.entries(init.routes ?? {})) {
    routes.set(path, route)
  }

  const requests: string[] = []
  const server = createServer((req, res) => {
    const url = req.url ?? '/'
    requests.push(url)
    const route = routes.get(url.split('?')[0])

    if (route != null) {
      res.writeHead(route.status ?? 200, {
        'content-type': route.contentType ?? 'application/octet-stream',
        'cache-control': 'no-store',
        ...route.headers
      })
      res.end(route.body)
      return
    }

    if (init.handle?.(req, res) === true) {
      return
    }

    res.writeHead(404, { 'content-type': 'text/plain', 'cache-control': 'no-store' })
    res.end('not found')
  })

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject)
    server.listen(0, '127.0.0.1', () => {
      server.off('error', reject)
      resolve()
    })
  })

  const { port } = server.address() as AddressInfo
  const origin = `http://127.0.0.1:${port}`

  return {
    url: `${origin}/`,
    origin,
    requests,
    setRoute (path, route) {
      routes.set(path, route)
    },
    async close () {
      server.closeAllConnections()
      await new Promise<void>(resolve => { server.close(() => { resolve() }) })
    }
  }
}
