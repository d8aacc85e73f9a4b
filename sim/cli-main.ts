/**
 * The simulator CLI around the simulation: parse flags, run, show progress, write the JSON and HTML
 * files, print a summary. The simulation itself is passed in, so this is testable with a fake one and
 * in-memory streams, and `sim/cli.ts` stays a two-liner.
 *
 * Exit codes: 0 = ran (whatever the metrics say), 1 = the simulation threw or a file could not be
 * written, 2 = bad command line (after printing the problem and the usage) or an output path that
 * cannot be written (checked before the run).
 */
import { writeFile } from 'node:fs/promises'
import { dirname } from 'node:path'
import { SIM_USAGE } from './cli-flags.ts'
import { parseSimArgs } from './cli-options.ts'
import { checkOutputPath, makeDirectories } from './output-paths.ts'
import { headlineRows } from './report/headline.ts'
import { renderReport } from './report/page.ts'
import type { SimOptions } from './options.ts'
import type { SimResult } from './result.ts'

export const EXIT_OK = 0
export const EXIT_FAILURE = 1
export const EXIT_USAGE = 2

export interface SimHooks {
  /** Called by the simulation as virtual time advances: `fraction` of the run done in [0, 1], `info` a short status */
  onProgress(fraction: number, info: string): void
}

export type Simulate = (opts: SimOptions, hooks: SimHooks) => Promise<SimResult>

export interface CliStream {
  write(chunk: string): unknown
}

export interface CliIo {
  stdout: CliStream
  stderr: CliStream
  /** Whether stderr is a terminal; the progress bar is drawn only then */
  isTTY: boolean
  /**
   * Terminal width for the progress bar.
   *
   * @default 80
   */
  columns?: number
  /**
   * Wall clock in ms for throttling and the ETA.
   *
   * @default performance.now
   */
  now?(): number
}

/** Redraw the progress bar at most this often: simulations report progress far more often than people read it */
const PROGRESS_REDRAW_MS = 100
const DEFAULT_COLUMNS = 80
const BAR_CELLS = 24
const JSON_INDENT = 2

/** Runs the simulator CLI; resolves to the process exit code */
export async function runCli (argv: readonly string[], simulate: Simulate, io: CliIo = processIo()): Promise<number> {
  let opts: SimOptions
  try {
    opts = parseSimArgs(argv)
  } catch (err: any) {
    if (err?.name !== 'SimOptionsError') {
      throw err
    }
    io.stderr.write(`error: ${err.message}\n\n${SIM_USAGE}`)
    return EXIT_USAGE
  }
  if (opts.help) {
    io.stdout.write(SIM_USAGE)
    return EXIT_OK
  }
  // before the run, which may take hours: a typo in a path must not cost its result
  const badPath = await checkOutputPaths(opts)
  if (badPath !== undefined) {
    io.stderr.write(`error: ${badPath}\n`)
    return EXIT_USAGE
  }

  const progress = io.isTTY && !opts.quiet ? new ProgressBar(io) : undefined
  let result: SimResult
  try {
    result = await simulate(opts, { onProgress: (fraction, info) => progress?.update(fraction, info) })
  } catch (err: any) {
    progress?.clear()
    io.stderr.write(`error: the simulation failed: ${err?.stack ?? String(err)}\n`)
    return EXIT_FAILURE
  } finally {
    progress?.clear()
  }

  // a NaN would reach the JSON as null and break the "all numbers" contract, so say where it came from
  const bad = nonFinitePaths(result)
  if (bad.length > 0) {
    io.stderr.write(`warning: non-finite numbers in the result (written as null in JSON): ${bad.join(', ')}\n`)
  }

  // the summary first: if a file cannot be written, the run's numbers are still on screen
  io.stdout.write(formatSummary(result))

  let exitCode = EXIT_OK
  if (opts.jsonPath !== undefined) {
    exitCode = Math.max(exitCode, await writeOutput(io, opts, '--json', opts.jsonPath, () => `${JSON.stringify(result, null, JSON_INDENT)}\n`))
  }
  if (opts.reportPath !== undefined) {
    exitCode = Math.max(exitCode, await writeOutput(io, opts, '--report', opts.reportPath, () => renderReport(result)))
  }
  return exitCode
}

/** One line per headline metric, labels aligned */
export function formatSummary (result: SimResult): string {
  const rows = headlineRows(result)
  const width = Math.max(...rows.map(row => row.label.length)) + 2
  return rows.map(row => `${row.label.padEnd(width)}${row.value}${row.detail === undefined ? '' : `  (${row.detail})`}\n`).join('')
}

/** What is wrong with the `--json` / `--report` paths, or undefined when both can be written */
async function checkOutputPaths (opts: SimOptions): Promise<string | undefined> {
  try {
    for (const [flag, path] of [['--json', opts.jsonPath], ['--report', opts.reportPath]] as const) {
      if (path !== undefined) {
        await checkOutputPath(flag, path)
      }
    }
  } catch (err: any) {
    if (err?.name !== 'SimOptionsError') {
      throw err
    }
    return err.message
  }
  return undefined
}

async function writeOutput (io: CliIo, opts: SimOptions, flag: string, path: string, render: () => string): Promise<number> {
  try {
    // checked before the run, but the directory may have gone since; never Node's recursive mkdir (it can spin)
    await makeDirectories(dirname(path))
    await writeFile(path, render())
  } catch (err: any) {
    io.stderr.write(`error: could not write ${flag} ${path}: ${err?.message ?? String(err)}\n`)
    return EXIT_FAILURE
  }
  if (!opts.quiet) {
    io.stderr.write(`wrote ${path}\n`)
  }
  return EXIT_OK
}

/**
 * A one-line bar redrawn in place with `\r`, e.g.
 * `[██████████░░░░░░░░░░░░░░]  42.0%  ETA 1m05s  t=12m30s 998 live`.
 */
class ProgressBar {
  private readonly io: CliIo
  private readonly now: () => number
  private readonly started: number
  private lastDraw = -Infinity
  private drawn = false

  constructor (io: CliIo) {
    this.io = io
    this.now = io.now ?? (() => performance.now())
    this.started = this.now()
  }

  update (fraction: number, info: string): void {
    const t = this.now()
    const done = Math.min(1, Math.max(0, Number.isFinite(fraction) ? fraction : 0))
    if (t - this.lastDraw < PROGRESS_REDRAW_MS && done < 1) {
      return
    }
    this.lastDraw = t
    const filled = Math.round(done * BAR_CELLS)
    const elapsed = t - this.started
    const eta = done > 0 && done < 1 ? `  ETA ${formatEta(elapsed * (1 - done) / done)}` : ''
    const line = `[${'█'.repeat(filled)}${'░'.repeat(BAR_CELLS - filled)}] ${(done * 100).toFixed(1).padStart(5)}%${eta}  ${info}`
    // one column short of the width: writing into the last column wraps on some terminals
    const width = (this.io.columns ?? DEFAULT_COLUMNS) - 1
    this.io.stderr.write(`\r${Array.from(line).slice(0, width).join('')}\x1b[K`)
    this.drawn = true
  }

  clear (): void {
    if (this.drawn) {
      this.io.stderr.write('\r\x1b[K')
      this.drawn = false
    }
  }
}

function formatEta (ms: number): string {
  const totalSeconds = Math.round(ms / 1000)
  const hours = Math.floor(totalSeconds / 3600)
  const minutes = Math.floor((totalSeconds % 3600) / 60)
  const seconds = totalSeconds % 60
  if (hours > 0) {
    return `${hours}h${String(minutes).padStart(2, '0')}m`
  }
  return minutes > 0 ? `${minutes}m${String(seconds).padStart(2, '0')}s` : `${seconds}s`
}

/** Dotted paths of every number in `value` that JSON cannot carry */
function nonFinitePaths (value: unknown, path = ''): string[] {
  if (typeof value === 'number') {
    return Number.isFinite(value) ? [] : [path === '' ? '(root)' : path]
  }
  if (Array.isArray(value)) {
    const bad = value.flatMap((v, i) => typeof v === 'number' && Number.isFinite(v) ? [] : nonFinitePaths(v, `${path}[${i}]`))
    // a long series full of NaN would flood the terminal: name the first few
    return bad.length > 3 ? [...bad.slice(0, 3), `${path}[…] (${bad.length} in all)`] : bad
  }
  if (value !== null && typeof value === 'object') {
    return Object.entries(value).flatMap(([k, v]) => nonFinitePaths(v, path === '' ? k : `${path}.${k}`))
  }
  return []
}

function processIo (): CliIo {
  return {
    stdout: process.stdout,
    stderr: process.stderr,
    isTTY: process.stderr.isTTY === true,
    columns: process.stderr.columns
  }
}
