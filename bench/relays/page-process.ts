/**
 * The benchmark's side of one page process (`pages.ts`): forks it, sends it
 * requests and matches the answers by id. Every request has a deadline
 * (`PageRequestTimeoutError`); a process that exits fails what is pending and
 * everything after (`PageProcessExitedError`) unless it was asked to stop;
 * a page process's own error comes back with its name.
 */
import { fork } from 'node:child_process'
import { readFileSync } from 'node:fs'
import { fileURLToPath } from 'node:url'
import { PageProcessExitedError, PageProcessStartTimeoutError, PageRequestTimeoutError } from './protocol.ts'
import type { PageAnswers, PageProcessMessage, PageProcessOptions, PageRequest, PageRequestMessage } from './protocol.ts'
import type { ChildProcess } from 'node:child_process'

/** Bound on a page process loading and saying it is ready, ms (a loaded machine compiles slowly) */
const START_TIMEOUT_MS = 120_000
/** Bound on a page process stopping its pages and exiting once asked, ms; then it is killed */
const STOP_TIMEOUT_MS = 60_000
/** Bound on a page process exiting after it answered `stop`, ms */
const EXIT_GRACE_MS = 5_000
/** Bound on a killed page process being gone, ms */
const KILL_TIMEOUT_MS = 5_000
/** The package.json bench scripts' node flags: the page process runs TypeScript too */
const TS_FLAGS = ['--experimental-transform-types', '--disable-warning=ExperimentalWarning']

interface Pending {
  type: PageRequest['type']
  resolve(value: unknown): void
  reject(err: Error): void
  timer: ReturnType<typeof setTimeout>
}

/** An error of the page process, under the name it had there (callers match on `.name`) */
function remoteError (name: string, message: string): Error {
  const err = new Error(message)
  err.name = name
  return err
}

export class PageProcess {
  /** Its place among the page processes */
  readonly index: number
  private readonly child: ChildProcess
  private readonly pending = new Map<number, Pending>()
  private nextId = 0
  private stopping = false
  /** Why the process is gone, once it is */
  private gone?: string
  private readonly exited: Promise<void>

  private constructor (index: number, child: ChildProcess) {
    this.index = index
    this.child = child
    child.on('message', (message: PageProcessMessage) => { this.onMessage(message) })
    this.exited = new Promise(resolve => { child.once('exit', () => { resolve() }) })
    child.once('exit', (code, signal) => {
      this.gone = `page process ${index} (pid ${child.pid}) exited (code ${code}, signal ${signal})`
      for (const [id, p] of this.pending) {
        clearTimeout(p.timer)
        this.pending.delete(id)
        p.reject(new PageProcessExitedError(`${this.gone} with '${p.type}' pending`))
      }
    })
  }

  /** Forks page process `index` and waits until it listens for requests */
  static async start (index: number, options: PageProcessOptions): Promise<PageProcess> {
    const child = fork(fileURLToPath(new URL('./pages.ts', import.meta.url)), [JSON.stringify(options)], {
      execArgv: TS_FLAGS,
      // its pages' libp2p debug logs would flood the benchmark's output
      env: { ...process.env, DEBUG: '' },
      stdio: ['ignore', 'inherit', 'inherit', 'ipc']
    })
    const ready = new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => {
        reject(new PageProcessStartTimeoutError(`page process ${index} was not ready within ${START_TIMEOUT_MS} ms`))
      }, START_TIMEOUT_MS)
      const onMessage = (message: PageProcessMessage): void => {
        if ('type' in message && message.type === 'ready') {
          done()
          resolve()
        }
      }
      const onExit = (code: number | null, signal: string | null): void => {
        done()
        reject(new PageProcessExitedError(`page process ${index} exited (code ${code}, signal ${signal}) before it was ready`))
      }
      const done = (): void => {
        clearTimeout(timer)
        child.off('message', onMessage)
        child.off('exit', onExit)
      }
      child.on('message', onMessage)
      child.once('exit', onExit)
    })
    try {
      await ready
    } catch (err) {
      child.kill('SIGKILL')
      throw err
    }
    return new PageProcess(index, child)
  }

  get pid (): number | undefined {
    return this.child.pid
  }

  /** Sends `request` and waits for its answer, at most `timeoutMs` */
  async request <T extends PageRequest>(request: T, timeoutMs: number): Promise<PageAnswers[T['type']]> {
    if (this.gone != null) {
      throw new PageProcessExitedError(`${this.gone} before '${request.type}'`)
    }
    const id = this.nextId++
    return new Promise<PageAnswers[T['type']]>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.pending.delete(id)
        reject(new PageRequestTimeoutError(`page process ${this.index} did not answer '${request.type}' within ${timeoutMs} ms`))
      }, timeoutMs)
      this.pending.set(id, { type: request.type, resolve: resolve as (value: unknown) => void, reject, timer })
      const message: PageRequestMessage = { id, ...request }
      this.child.send(message, (err) => {
        if (err != null) {
          clearTimeout(timer)
          this.pending.delete(id)
          reject(new PageProcessExitedError(`page process ${this.index} could not be sent '${request.type}': ${err.message}`))
        }
      })
    })
  }

  /** Peak RSS of the process (VmHWM), bytes; NaN once it is gone */
  peakRss (): number {
    try {
      const status = readFileSync(`/proc/${this.child.pid}/status`, 'utf8')
      return Number(/^VmHWM:\s+(\d+) kB/m.exec(status)?.[1] ?? NaN) * 1024
    } catch {
      return NaN
    }
  }

  /** Whether the process exited without being asked to */
  get crashed (): string | undefined {
    return this.stopping ? undefined : this.gone
  }

  /**
   * Asks the process to stop its pages and exit; kills it when it has not answered within
   * STOP_TIMEOUT_MS or not exited EXIT_GRACE_MS after answering. False when even SIGKILL left it
   */
  async stop (): Promise<boolean> {
    this.stopping = true
    if (this.gone != null) {
      return true
    }
    await this.request({ type: 'stop' }, STOP_TIMEOUT_MS).catch(() => {})
    if (await this.exitedWithin(EXIT_GRACE_MS)) {
      return true
    }
    this.kill()
    return this.exitedWithin(KILL_TIMEOUT_MS)
  }

  /** Kills the process at once (the benchmark is ending) */
  kill (): void {
    this.stopping = true
    if (this.child.exitCode == null && this.child.signalCode == null) {
      this.child.kill('SIGKILL')
    }
  }

  private async exitedWithin (ms: number): Promise<boolean> {
    let timer: ReturnType<typeof setTimeout> | undefined
    const late = new Promise<false>(resolve => { timer = setTimeout(() => { resolve(false) }, ms) })
    const exited = await Promise.race([this.exited.then(() => true), late])
    clearTimeout(timer)
    return exited
  }

  private onMessage (message: PageProcessMessage): void {
    if (!('id' in message)) {
      return
    }
    const p = this.pending.get(message.id)
    if (p == null) {
      // answered after its deadline: the caller has already failed it
      return
    }
    clearTimeout(p.timer)
    this.pending.delete(message.id)
    if (message.ok) {
      p.resolve(message.value)
    } else {
      p.reject(remoteError(message.name, message.message))
    }
  }
}
