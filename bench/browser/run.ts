/**
 * `npm run bench:browser`: real Chromium pages form a ring through the relay
 * and fetch assets from each other; every fetch is timed against a plain
 * origin fetch started with it. See bench/browser/harness.ts for the phases
 * and bench/browser/report.ts for the figures and bars.
 *
 * Flags (defaults in brackets): --pages [24] --processes [3]
 * --origin-delay-ms [50] (a list: 0,50,200) --origin-kbps [0: no cap]
 * --sizes [1k,30k,300k,3m] --rounds [2] --concurrency [4]
 * --zipf [50] (assets; 0 skips the churn phase) --zipf-sizes [1k,30k,300k]
 * --zipf-alpha [1] --churn-every-s [10] (0: no churn) --duration-s [120]
 * --request-every-ms [250] --arrive-every-ms [500] (initial pages) --seed [1]
 * --out [bench/results/browser.json] (the HTML goes next to it, .html)
 */
import { mkdir, writeFile } from 'node:fs/promises'
import { dirname, resolve } from 'node:path'
import { parseArgs } from 'node:util'
import { InvalidFlagError, parseNumber } from './flags.ts'
import { DEFAULT_OPTIONS, runBrowserBench } from './harness.ts'
import { formatTable, renderHtml, summarise } from './report.ts'
import type { BrowserBenchOptions } from './harness.ts'

/** `1k`, `30k`, `3m`, `1000` → bytes (decimal units, as the table) */
function parseSize (text: string): number {
  const match = /^(\d+(?:\.\d+)?)([km]?)b?$/i.exec(text.trim())
  if (match == null) {
    throw new InvalidFlagError(`not a size: ${text} (e.g. 1k, 30k, 3m)`)
  }
  const unit = match[2].toLowerCase() === 'k' ? 1_000 : match[2].toLowerCase() === 'm' ? 1_000_000 : 1
  return Math.round(Number(match[1]) * unit)
}

const { values } = parseArgs({
  options: {
    pages: { type: 'string' },
    processes: { type: 'string' },
    'origin-delay-ms': { type: 'string' },
    'origin-kbps': { type: 'string' },
    sizes: { type: 'string' },
    rounds: { type: 'string' },
    concurrency: { type: 'string' },
    zipf: { type: 'string' },
    'zipf-sizes': { type: 'string' },
    'zipf-alpha': { type: 'string' },
    'churn-every-s': { type: 'string' },
    'duration-s': { type: 'string' },
    'request-every-ms': { type: 'string' },
    'arrive-every-ms': { type: 'string' },
    seed: { type: 'string' },
    out: { type: 'string' }
  }
})

const d = DEFAULT_OPTIONS
const options: Partial<BrowserBenchOptions> = {
  pages: parseNumber('pages', values.pages, d.pages),
  processes: parseNumber('processes', values.processes, d.processes),
  delaysMs: values['origin-delay-ms']?.split(',').map(v => parseNumber('origin-delay-ms', v, 0)) ?? d.delaysMs,
  kbps: parseNumber('origin-kbps', values['origin-kbps'], d.kbps),
  sizes: values.sizes?.split(',').map(parseSize) ?? d.sizes,
  rounds: parseNumber('rounds', values.rounds, d.rounds),
  concurrency: parseNumber('concurrency', values.concurrency, d.concurrency),
  zipfAssets: parseNumber('zipf', values.zipf, d.zipfAssets),
  zipfSizes: values['zipf-sizes']?.split(',').map(parseSize) ?? d.zipfSizes,
  zipfAlpha: parseNumber('zipf-alpha', values['zipf-alpha'], d.zipfAlpha),
  churnEverySec: parseNumber('churn-every-s', values['churn-every-s'], d.churnEverySec),
  durationSec: parseNumber('duration-s', values['duration-s'], d.durationSec),
  requestEveryMs: parseNumber('request-every-ms', values['request-every-ms'], d.requestEveryMs),
  arriveEveryMs: parseNumber('arrive-every-ms', values['arrive-every-ms'], d.arriveEveryMs),
  seed: parseNumber('seed', values.seed, d.seed),
  log: (line) => { process.stderr.write(`[bench:browser] ${line}\n`) }
}
if ((options.pages ?? 0) < 2 || (options.processes ?? 0) < 1) {
  throw new InvalidFlagError('--pages wants at least 2 and --processes at least 1')
}

const out = resolve(values.out ?? 'bench/results/browser.json')
const html = out.replace(/\.json$/, '') + '.html'
const command = process.argv.length > 2 ? `npm run bench:browser -- ${process.argv.slice(2).join(' ')}` : 'npm run bench:browser'

const result = await runBrowserBench(options)
const summary = summarise(result)
const table = formatTable(result, summary)
process.stdout.write(`${table}\n`)
await mkdir(dirname(out), { recursive: true })
await writeFile(out, JSON.stringify({ command, summary, ...result }, null, 2) + '\n')
await writeFile(html, renderHtml(result, summary, command))
process.stdout.write(`saved ${out} and ${html}\n`)
// playwright keeps handles open on some failures; everything is closed by now
process.exit(0)
