/**
 * Real-browser test harness: drives the machine's Debian Chromium with
 * playwright-core. Never downloads a browser (`npx playwright install` fails
 * offline); install it with `apt-get update && apt-get install -y chromium`.
 *
 * Every wait is bounded: launch, navigation, reload and `evaluate` all take a
 * timeout, and a timed-out or failed `evaluate` reports the page's console and
 * errors so a hang in the page is diagnosable from the test output.
 *
 * ```ts
 * const server = await startPageServer({ entries: { main: 'test/x/x.page.ts' } })
 * const browser = await launchChromium()
 * const page = await openPage(browser, server.url)
 * const answer = await page.evaluate(async () => globalThis.myApi.run(), undefined)
 * await page.close(); await browser.close(); await server.close()
 * ```
 */
import { existsSync } from 'node:fs'
import { chromium } from 'playwright-core'
import type { Browser, BrowserContext, Page } from 'playwright-core'

/** Where Debian's `chromium` package puts the browser; `CHROMIUM_PATH` overrides */
export const CHROMIUM_PATH = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium'

/**
 * Flags for a closed network: no sandbox (tests run as root in containers),
 * no GPU, and none of Chromium's background traffic (updates, sync, field
 * trials), which would otherwise flood the closed network
 */
export const CHROMIUM_ARGS = [
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync'
]

/** Bound on launching the browser, in milliseconds */
export const LAUNCH_TIMEOUT_MS = 30_000

/** Bound on one navigation or reload, in milliseconds */
export const NAVIGATION_TIMEOUT_MS = 15_000

/** Bound on one `evaluate` unless the caller gives another, in milliseconds */
export const EVALUATE_TIMEOUT_MS = 30_000

/** How many console lines a page keeps for failure reports */
const MAX_LOG_LINES = 200

/** The browser is not installed where the harness looks */
export class ChromiumNotInstalledError extends Error {
  static name = 'ChromiumNotInstalledError'
  name = 'ChromiumNotInstalledError'
}

/** A bounded wait in the browser ran out of time */
export class BrowserTimeoutError extends Error {
  static name = 'BrowserTimeoutError'
  name = 'BrowserTimeoutError'
}

export interface LaunchOptions {
  /**
   * Bound on the launch, in milliseconds
   *
   * @default LAUNCH_TIMEOUT_MS (30 s)
   */
  timeout?: number
  /**
   * Extra command-line flags, after `CHROMIUM_ARGS`
   *
   * @default []
   */
  args?: string[]
}

function assertInstalled (): void {
  if (!existsSync(CHROMIUM_PATH)) {
    throw new ChromiumNotInstalledError(
      `Chromium not found at ${CHROMIUM_PATH}. Install Debian's package with ` +
      '`apt-get update && apt-get install -y chromium` (as root), or point CHROMIUM_PATH at a Chromium binary. ' +
      'Do not use `npx playwright install`: it downloads a browser and fails offline.'
    )
  }
}

/** Launches headless Chromium with a fresh, throwaway profile */
export async function launchChromium (options: LaunchOptions = {}): Promise<Browser> {
  assertInstalled()

  return chromium.launch({
    executablePath: CHROMIUM_PATH,
    headless: true,
    args: [...CHROMIUM_ARGS, ...(options.args ?? [])],
    timeout: options.timeout ?? LAUNCH_TIMEOUT_MS
  })
}

/**
 * Launches headless Chromium on a profile directory that outlives the
 * browser: close it and launch again on the same directory to test what
 * survives a browser restart (IndexedDB, caches)
 */
export async function launchPersistentChromium (userDataDir: string, options: LaunchOptions = {}): Promise<BrowserContext> {
  assertInstalled()

  return chromium.launchPersistentContext(userDataDir, {
    executablePath: CHROMIUM_PATH,
    headless: true,
    args: [...CHROMIUM_ARGS, ...(options.args ?? [])],
    timeout: options.timeout ?? LAUNCH_TIMEOUT_MS
  })
}

/** Settles like `promise` or rejects with `BrowserTimeoutError` after `ms` */
export async function withTimeout<T> (promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined

  try {
    return await Promise.race([
      promise,
      new Promise<never>((resolve, reject) => {
        timer = setTimeout(() => { reject(new BrowserTimeoutError(`${what} did not finish within ${ms} ms`)) }, ms)
      })
    ])
  } finally {
    clearTimeout(timer)
  }
}

export interface TestPage {
  readonly page: Page
  /** The page's console output and uncaught errors so far, oldest first (bounded) */
  readonly logs: string[]
  /**
   * Runs `fn` in the page (it is serialised: it cannot close over Node
   * variables, pass them as `arg`) and resolves with its JSON-able result.
   * Rejects with `BrowserTimeoutError` after `timeout`; failures carry the
   * page's recent logs.
   */
  evaluate<R, A>(fn: (arg: A) => R | Promise<R>, arg: A, options?: { timeout?: number }): Promise<R>
  /** Reloads (same origin, same storage), bounded by `NAVIGATION_TIMEOUT_MS` */
  reload(): Promise<void>
  close(): Promise<void>
}

export interface OpenPageOptions {
  /**
   * Bound on the navigation, in milliseconds
   *
   * @default NAVIGATION_TIMEOUT_MS (15 s)
   */
  timeout?: number
  /**
   * `debug` namespaces the page logs to its console (libp2p's logger reads
   * them from `localStorage` as it loads), e.g. `ringcdn:*`
   */
  debug?: string
}

function describeFailure (err: any, logs: string[]): Error {
  const recent = logs.slice(-30).join('\n')
  err.message = `${err.message}${recent === '' ? '' : `\n--- page log (last ${Math.min(30, logs.length)} lines) ---\n${recent}`}`
  return err
}

/**
 * Opens `url` in a new page of `target` (a browser, for a fresh context per
 * call, or a context, to share storage with its other pages) and waits for it
 * to load
 */
export async function openPage (target: Browser | BrowserContext, url: string, options: OpenPageOptions = {}): Promise<TestPage> {
  const timeout = options.timeout ?? NAVIGATION_TIMEOUT_MS
  const ownContext = 'newContext' in target
  const context = 'newContext' in target ? await target.newContext() : target
  const page = await context.newPage()
  const logs: string[] = []
  const opened = performance.now()
  const log = (line: string): void => {
    // seconds since the page opened: failure reports line pages' logs up against each other
    logs.push(`${((performance.now() - opened) / 1000).toFixed(3)}s ${line}`)
    logs.splice(0, Math.max(0, logs.length - MAX_LOG_LINES))
  }

  page.on('console', message => { log(`[${message.type()}] ${message.text()}`) })
  page.on('pageerror', err => { log(`[pageerror] ${err.stack ?? err.message}`) })
  page.on('crash', () => { log('[crash] the page crashed') })
  page.setDefaultTimeout(timeout)
  page.setDefaultNavigationTimeout(timeout)
  if (options.debug != null && options.debug !== '') {
    await page.addInitScript(namespaces => { localStorage.setItem('debug', namespaces) }, options.debug)
  }

  try {
    await page.goto(url, { timeout, waitUntil: 'load' })
  } catch (err) {
    await (ownContext ? context.close() : page.close()).catch(() => {})
    throw describeFailure(err, logs)
  }

  return {
    page,
    logs,
    async evaluate (fn, arg, evaluateOptions = {}) {
      const ms = evaluateOptions.timeout ?? EVALUATE_TIMEOUT_MS

      try {
        // playwright's own typing unboxes handles in `arg`; ours is plain JSON
        return await withTimeout(page.evaluate(fn as any, arg), ms, 'page.evaluate')
      } catch (err) {
        throw describeFailure(err, logs)
      }
    },
    async reload () {
      try {
        await page.reload({ timeout, waitUntil: 'load' })
      } catch (err) {
        throw describeFailure(err, logs)
      }
    },
    async close () {
      await (ownContext ? context.close() : page.close())
    }
  }
}
