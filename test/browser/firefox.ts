/**
 * Real-browser test harness for Firefox: drives Debian's `firefox-esr` over
 * WebDriver BiDi with Node's own `WebSocket`, no driver package and no
 * download. Install the browser with
 * `apt-get install -y --no-install-recommends firefox-esr`.
 *
 * Why not playwright-core, which drives Chromium here: its BiDi Firefox
 * channel (`channel: 'moz-firefox'`) launches ESR 153 but then sends
 * `emulation.setMediaFeaturesOverride` on every new context, a command ESR
 * 153 does not know ("unknown command"), so no page ever opens. puppeteer-core
 * would work (the notes record it did) but is not a dependency; the handful
 * of BiDi commands these tests need fit in this file.
 *
 * A page here offers what `TestPage` (chromium.ts) offers the end-to-end
 * harness: `evaluate(fn, arg, { timeout })`, `logs`, `reload()`, `close()`.
 * `evaluate` sends `fn`'s source text and JSON arguments, and gets the
 * result back as JSON, the same contract as playwright's (JSON-able values
 * only). Every wait is bounded and fails with a named error.
 */
import { spawn } from 'node:child_process'
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { BrowserTimeoutError, EVALUATE_TIMEOUT_MS, LAUNCH_TIMEOUT_MS, NAVIGATION_TIMEOUT_MS, withTimeout } from './chromium.ts'
import type { ChildProcess } from 'node:child_process'

/** Debian's `firefox-esr` package; `FIREFOX_PATH` overrides */
export const FIREFOX_PATH = process.env.FIREFOX_PATH ?? '/usr/bin/firefox-esr'

/** How many console lines a page keeps for failure reports */
const MAX_LOG_LINES = 200

/**
 * Preferences for a closed network and a test run: no first-run pages,
 * updates, telemetry or safe-browsing downloads (Firefox also applies its
 * own "recommended" remote-agent preferences when BiDi is on). WebRTC needs
 * nothing here: Firefox gathers host candidates on every interface.
 */
const PREFS: Record<string, string | number | boolean> = {
  'app.update.disabledForTesting': true,
  'browser.shell.checkDefaultBrowser': false,
  'browser.startup.homepage_override.mstone': 'ignore',
  'browser.safebrowsing.malware.enabled': false,
  'browser.safebrowsing.phishing.enabled': false,
  'browser.safebrowsing.downloads.enabled': false,
  'datareporting.policy.dataSubmissionEnabled': false,
  'toolkit.telemetry.reportingpolicy.firstRun': false,
  'extensions.update.enabled': false,
  'network.captive-portal-service.enabled': false,
  'network.connectivity-service.enabled': false
}

/** Firefox is not installed where the harness looks */
export class FirefoxNotInstalledError extends Error {
  static name = 'FirefoxNotInstalledError'
  name = 'FirefoxNotInstalledError'
}

/** Firefox answered a BiDi command with an error, or a script in the page threw */
export class BidiError extends Error {
  static name = 'BidiError'
  name = 'BidiError'
}

/** Whether the browser is where `launchFirefox` looks */
export function firefoxInstalled (): boolean {
  return existsSync(FIREFOX_PATH)
}

export interface FirefoxPage {
  /** The page's console output and uncaught errors so far, oldest first (bounded) */
  readonly logs: string[]
  /** Runs `fn` in the page (serialised: pass Node values as `arg`); resolves with its JSON-able result */
  evaluate<R, A>(fn: (arg: A) => R | Promise<R>, arg: A, options?: { timeout?: number }): Promise<R>
  reload(): Promise<void>
  close(): Promise<void>
}

export interface FirefoxBrowser {
  readonly version: string
  /** Opens `url` in a new tab of its own user context (separate storage), and waits for it to load */
  openPage(url: string, options?: { timeout?: number, debug?: string }): Promise<FirefoxPage>
  close(): Promise<void>
}

interface BidiMessage {
  id?: number
  type?: string
  method?: string
  params?: any
  result?: any
  error?: string
  message?: string
}

/** Waits for Firefox to print its BiDi endpoint on stderr */
async function bidiEndpoint (child: ChildProcess, timeout: number): Promise<string> {
  let output = ''
  return withTimeout(new Promise<string>((resolve, reject) => {
    const onData = (data: Buffer): void => {
      output += data.toString()
      const match = output.match(/WebDriver BiDi listening on (ws:\/\/\S+)/)
      if (match != null) {
        resolve(match[1])
      }
    }
    child.stderr?.on('data', onData)
    child.stdout?.on('data', onData)
    child.once('exit', code => { reject(new BidiError(`Firefox exited (${code}) before BiDi was up:\n${output.slice(-2000)}`)) })
    child.once('error', reject)
  }), timeout, 'launching Firefox (waiting for WebDriver BiDi)')
}

/**
 * Launches headless Firefox on a throwaway profile and opens a BiDi session
 *
 * @throws {FirefoxNotInstalledError}
 */
export async function launchFirefox (options: { timeout?: number } = {}): Promise<FirefoxBrowser> {
  if (!firefoxInstalled()) {
    throw new FirefoxNotInstalledError(
      `Firefox not found at ${FIREFOX_PATH}. Install Debian's package with ` +
      '`apt-get install -y --no-install-recommends firefox-esr` (as root), or point FIREFOX_PATH at a Firefox binary.'
    )
  }
  const timeout = options.timeout ?? LAUNCH_TIMEOUT_MS
  const profile = mkdtempSync(join(tmpdir(), 'ringcdn-firefox-'))
  writeFileSync(join(profile, 'user.js'), Object.entries(PREFS).map(([k, v]) => `user_pref(${JSON.stringify(k)}, ${JSON.stringify(v)});`).join('\n') + '\n')
  const child = spawn(FIREFOX_PATH, ['--headless', '--no-remote', '--profile', profile, '--remote-debugging-port=0', 'about:blank'], {
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { ...process.env, MOZ_CRASHREPORTER_DISABLE: '1' }
  })
  const kill = (): void => {
    child.kill('SIGKILL')
    rmSync(profile, { recursive: true, force: true })
  }

  let socket: WebSocket
  try {
    const endpoint = await bidiEndpoint(child, timeout)
    socket = new WebSocket(`${endpoint}/session`)
    await withTimeout(new Promise((resolve, reject) => {
      socket.addEventListener('open', resolve, { once: true })
      socket.addEventListener('error', () => { reject(new BidiError(`could not connect to ${endpoint}/session`)) }, { once: true })
    }), timeout, 'connecting to WebDriver BiDi')
  } catch (err) {
    kill()
    throw err
  }

  let nextId = 0
  const pending = new Map<number, { resolve(result: any): void, reject(err: Error): void }>()
  const logsByContext = new Map<string, (line: string) => void>()
  socket.addEventListener('message', (event) => {
    const message: BidiMessage = JSON.parse(String(event.data))
    if (message.id != null) {
      const waiter = pending.get(message.id)
      pending.delete(message.id)
      if (message.type === 'error') {
        waiter?.reject(new BidiError(`${message.error ?? 'error'}: ${message.message ?? ''}`))
      } else {
        waiter?.resolve(message.result)
      }
      return
    }
    if (message.method === 'log.entryAdded') {
      const entry = message.params
      const args = (entry.args as any[] | undefined)?.map(a => a.value ?? a.type).join(' ')
      logsByContext.get(entry.source?.context)?.(`[${entry.level}] ${args ?? entry.text ?? ''}${entry.type === 'javascript' ? ` ${entry.stackTrace?.callFrames?.[0]?.url ?? ''}` : ''}`)
    }
  })
  socket.addEventListener('close', () => {
    for (const waiter of pending.values()) {
      waiter.reject(new BidiError('the BiDi connection closed'))
    }
    pending.clear()
  })

  /** Sends one command; bounded by `ms` */
  async function send (method: string, params: Record<string, unknown>, ms: number = EVALUATE_TIMEOUT_MS): Promise<any> {
    const id = ++nextId
    const answer = new Promise<any>((resolve, reject) => { pending.set(id, { resolve, reject }) })
    socket.send(JSON.stringify({ id, method, params }))
    try {
      return await withTimeout(answer, ms, `BiDi ${method}`)
    } finally {
      pending.delete(id)
    }
  }

  let version = ''
  try {
    const session = await send('session.new', { capabilities: {} }, timeout)
    version = `${String(session.capabilities?.browserName)} ${String(session.capabilities?.browserVersion)}`
    await send('session.subscribe', { events: ['log.entryAdded'] }, timeout)
  } catch (err) {
    socket.close()
    kill()
    throw err
  }

  return {
    version,
    async openPage (url, pageOptions = {}) {
      const navigationTimeout = pageOptions.timeout ?? NAVIGATION_TIMEOUT_MS
      const { userContext } = await send('browser.createUserContext', {})
      const { context } = await send('browsingContext.create', { type: 'tab', userContext })
      const logs: string[] = []
      const opened = performance.now()
      logsByContext.set(context, (line) => {
        logs.push(`${((performance.now() - opened) / 1000).toFixed(3)}s ${line}`)
        logs.splice(0, Math.max(0, logs.length - MAX_LOG_LINES))
      })
      const describe = (err: any): Error => {
        const recent = logs.slice(-30).join('\n')
        err.message = `${String(err.message)}${recent === '' ? '' : `\n--- page log (last ${Math.min(30, logs.length)} lines) ---\n${recent}`}`
        return err
      }
      if (pageOptions.debug != null && pageOptions.debug !== '') {
        // libp2p's logger reads `debug` from localStorage as the page loads
        await send('script.addPreloadScript', {
          functionDeclaration: `() => { localStorage.setItem('debug', ${JSON.stringify(pageOptions.debug)}) }`,
          contexts: [context]
        })
      }
      try {
        await send('browsingContext.navigate', { context, url, wait: 'complete' }, navigationTimeout)
      } catch (err) {
        throw describe(err)
      }

      return {
        logs,
        async evaluate (fn, arg, evaluateOptions = {}) {
          const ms = evaluateOptions.timeout ?? EVALUATE_TIMEOUT_MS
          // the result travels as JSON text, so `undefined` and nested values come back as playwright gives them
          const functionDeclaration = `async (argJson) => { const value = await (${fn.toString()})(JSON.parse(argJson)); return JSON.stringify({ value }) }`
          let answer: any
          try {
            answer = await send('script.callFunction', {
              functionDeclaration,
              arguments: [{ type: 'string', value: JSON.stringify(arg ?? null) }],
              awaitPromise: true,
              target: { context }
            }, ms)
          } catch (err: any) {
            if (err.name === BrowserTimeoutError.name) {
              err.message = `page.evaluate did not finish within ${ms} ms`
            }
            throw describe(err)
          }
          if (answer.type === 'exception') {
            throw describe(new BidiError(`the page threw: ${String(answer.exceptionDetails?.text)}`))
          }
          return JSON.parse(answer.result.value).value
        },
        async reload () {
          try {
            await send('browsingContext.reload', { context, wait: 'complete' }, navigationTimeout)
          } catch (err) {
            throw describe(err)
          }
        },
        async close () {
          logsByContext.delete(context)
          await send('browsingContext.close', { context }).catch(() => {})
          await send('browser.removeUserContext', { userContext }).catch(() => {})
        }
      }
    },
    async close () {
      await send('session.end', {}, 5_000).catch(() => {})
      socket.close()
      await withTimeout(new Promise(resolve => {
        if (child.exitCode != null) {
          resolve(undefined)
          return
        }
        child.once('exit', resolve)
        child.kill('SIGTERM')
      }), 10_000, 'stopping Firefox').catch(() => {})
      kill()
    }
  }
}
