import { chmod, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { expect } from 'aegir/chai'
import { SIM_USAGE } from '../../sim/cli-flags.ts'
import { EXIT_FAILURE, EXIT_OK, EXIT_USAGE, formatSummary, runCli } from '../../sim/cli-main.ts'
import type { CliIo, SimHooks } from '../../sim/cli-main.ts'
import type { SimOptions } from '../../sim/options.ts'
import type { SimResult } from '../../sim/result.ts'

function fakeResult (opts: SimOptions): SimResult {
  return {
    nodes: opts.nodes,
    virtualSeconds: opts.durationMs / 1000,
    wallSeconds: 1.5,
    peakRssMB: 80,
    events: 4242,
    lookups: { total: 1000, correct: 998, wrong: 1, failed: 1 },
    hops: { mean: 3.2, p50: 3, p99: 6 },
    latencyMs: { p50: 120, p99: 480 },
    fetches: { total: 100, fromPeers: 70, fromOrigin: 20, fromLocal: 10 },
    offload: 0.8,
    idealOffload: 0.9,
    maintenanceBytesPerNodePerSec: 300,
    upload: { maxOverMean: 2.5 },
    ring: { violations: 0 },
    options: { ...opts },
    series: { tSeconds: [0, 60], correctRatio: [0.99, 1], offload: [0.5, 0.8], liveNodes: [opts.nodes, opts.nodes] },
    hopHistogram: [0, 100, 300, 400, 200]
  }
}

/** In-memory stdout/stderr and a wall clock that advances 1 s per reading, so throttling never hides a redraw */
function memoryIo (isTTY: boolean): CliIo & { out(): string, err(): string } {
  const out: string[] = []
  const err: string[] = []
  let clock = 0
  return {
    stdout: { write: (s: string) => out.push(s) },
    stderr: { write: (s: string) => err.push(s) },
    isTTY,
    columns: 100,
    now: () => (clock += 1000),
    out: () => out.join(''),
    err: () => err.join('')
  }
}

/** A simulation that reports progress a few times and returns a fixed result */
function fakeSimulate (calls: SimOptions[] = []): (opts: SimOptions, hooks: SimHooks) => Promise<SimResult> {
  return async (opts, hooks) => {
    calls.push(opts)
    for (const f of [0, 0.25, 0.5, 0.75, 1]) {
      hooks.onProgress(f, `t=${f * 100}s`)
    }
    return fakeResult(opts)
  }
}

const SHORT_RUN = ['--duration', '2m', '--warmup', '10s']

describe('sim cli main', () => {
  let dir: string

  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'ringcdn-cli-'))
  })

  afterEach(async () => {
    await rm(dir, { recursive: true, force: true })
  })

  it('exits 2 with the message and the usage on stderr for a bad flag, without simulating', async () => {
    const io = memoryIo(false)
    const calls: SimOptions[] = []
    expect(await runCli(['--nodes', 'lots'], fakeSimulate(calls), io)).to.equal(EXIT_USAGE)
    expect(io.err()).to.include("--nodes wants a number, got 'lots'")
    expect(io.err()).to.include(SIM_USAGE)
    expect(io.out()).to.equal('')
    expect(calls).to.have.length(0)
  })

  it('exits 2 for an unknown flag', async () => {
    const io = memoryIo(false)
    expect(await runCli(['--frobnicate'], fakeSimulate(), io)).to.equal(EXIT_USAGE)
    expect(io.err()).to.include('unknown flag --frobnicate')
  })

  it('prints the usage to stdout and exits 0 for --help, without simulating', async () => {
    const io = memoryIo(false)
    const calls: SimOptions[] = []
    expect(await runCli(['--help'], fakeSimulate(calls), io)).to.equal(EXIT_OK)
    expect(io.out()).to.equal(SIM_USAGE)
    expect(calls).to.have.length(0)
  })

  it('passes the parsed options to the simulation and prints one summary line per headline metric', async () => {
    const io = memoryIo(false)
    const calls: SimOptions[] = []
    expect(await runCli([...SHORT_RUN, '--nodes', '64', '--seed', '9'], fakeSimulate(calls), io)).to.equal(EXIT_OK)
    expect(calls).to.have.length(1)
    expect(calls[0]).to.include({ nodes: 64, seed: 9, durationMs: 120_000, warmupMs: 10_000 })
    const lines = io.out().trimEnd().split('\n')
    expect(lines).to.have.length(9)
    expect(lines[0]).to.match(/^Correct lookups\s+99\.800%/)
    expect(io.out()).to.include('p50 120 ms · p99 480 ms')
    expect(io.out()).to.include('80.0%')
    expect(io.out()).to.equal(formatSummary(fakeResult(calls[0])))
  })

  it('draws no progress bar when stderr is not a terminal', async () => {
    const io = memoryIo(false)
    expect(await runCli(SHORT_RUN, fakeSimulate(), io)).to.equal(EXIT_OK)
    expect(io.err()).to.equal('')
  })

  it('draws a progress bar on stderr, not stdout, when stderr is a terminal, and clears it at the end', async () => {
    const io = memoryIo(true)
    expect(await runCli(SHORT_RUN, fakeSimulate(), io)).to.equal(EXIT_OK)
    expect(io.err()).to.include('50.0%')
    expect(io.err()).to.include('t=50s')
    expect(io.err()).to.include('\r')
    expect(io.err().endsWith('\r\x1b[K')).to.equal(true)
    expect(io.out()).to.not.include('%]')
    expect(io.out()).to.not.include('\r')
    // each redraw fits the terminal width
    for (const line of io.err().split('\r')) {
      expect(Array.from(line.replace('\x1b[K', '')).length).to.be.lessThan(100)
    }
  })

  it('draws no progress bar with --quiet even on a terminal', async () => {
    const io = memoryIo(true)
    expect(await runCli([...SHORT_RUN, '--quiet'], fakeSimulate(), io)).to.equal(EXIT_OK)
    expect(io.err()).to.equal('')
    expect(io.out()).to.include('Correct lookups')
  })

  it('writes the JSON (2-space indented) and the HTML report, creating missing directories', async () => {
    const io = memoryIo(false)
    const json = join(dir, 'out', 'run.json')
    const html = join(dir, 'out', 'nested', 'run.html')
    const calls: SimOptions[] = []
    expect(await runCli([...SHORT_RUN, '--json', json, '--report', html], fakeSimulate(calls), io)).to.equal(EXIT_OK)
    const text = await readFile(json, 'utf8')
    expect(text).to.equal(`${JSON.stringify(fakeResult(calls[0]), null, 2)}\n`)
    expect(JSON.parse(text).lookups).to.deep.equal({ total: 1000, correct: 998, wrong: 1, failed: 1 })
    const page = await readFile(html, 'utf8')
    expect(page.startsWith('<!DOCTYPE html>')).to.equal(true)
    expect(page).to.include('data-plot="offload"')
    expect(io.err()).to.include(`wrote ${json}`)
    expect(io.err()).to.include(`wrote ${html}`)
  })

  it('exits 1 with a clear message when a file cannot be written after the run, still printing the summary and the other file', async () => {
    const io = memoryIo(false)
    const later = join(dir, 'later')
    const json = join(later, 'run.json')
    const html = join(dir, 'run.html')
    const simulate = fakeSimulate()
    // the path was fine when checked; during the run a regular file takes the directory's place
    const code = await runCli([...SHORT_RUN, '--json', json, '--report', html], async (opts, hooks) => {
      await rm(later, { recursive: true, force: true })
      await writeFile(later, '')
      return simulate(opts, hooks)
    }, io)
    expect(code).to.equal(EXIT_FAILURE)
    expect(io.err()).to.include(`could not write --json ${json}`)
    expect(io.out()).to.include('Correct lookups')
    expect(await readFile(html, 'utf8')).to.include('<!DOCTYPE html>')
  })

  describe('output paths, checked before the run', () => {
    async function refused (args: string[], flag: string): Promise<string> {
      const io = memoryIo(false)
      const calls: SimOptions[] = []
      expect(await runCli([...SHORT_RUN, ...args], fakeSimulate(calls), io)).to.equal(EXIT_USAGE)
      expect(calls, 'the simulation must not run').to.have.lengthOf(0)
      expect(io.out()).to.equal('')
      expect(io.err()).to.include(`error: ${flag} `)
      return io.err()
    }

    it('refuses a path under a regular file', async () => {
      const blocker = join(dir, 'blocker')
      await writeFile(blocker, '')
      const err = await refused(['--json', join(blocker, 'run.json')], '--json')
      expect(err).to.include('ENOTDIR')
    })

    it('refuses a directory as the file', async () => {
      expect(await refused(['--report', dir], '--report')).to.include('is a directory')
    })

    it('refuses a path under /proc at once instead of hanging in mkdir', async function () {
      if (process.platform !== 'linux') {
        this.skip()
      }
      // Node's recursive mkdir never settled on this path; a hang fails this test by mocha's timeout
      const err = await refused(['--report', join(dir, 'ok.html'), '--json', '/proc/nope/out.json'], '--json')
      expect(err).to.include('/proc/nope')
    })

    it('refuses a file that is not writable', async function () {
      if (process.getuid?.() === 0) {
        // root writes through permission bits
        this.skip()
      }
      const locked = join(dir, 'locked.json')
      await writeFile(locked, '')
      await chmod(locked, 0o444)
      expect(await refused(['--json', locked], '--json')).to.include('not writable')
    })

    it('leaves no probe file behind and creates the missing directories', async () => {
      const io = memoryIo(false)
      const json = join(dir, 'fresh', 'deep', 'run.json')
      expect(await runCli([...SHORT_RUN, '--json', json], fakeSimulate(), io)).to.equal(EXIT_OK)
      expect(await readdir(join(dir, 'fresh', 'deep'))).to.deep.equal(['run.json'])
    })
  })

  it('exits 1 and reports the error when the simulation throws', async () => {
    const io = memoryIo(true)
    const code = await runCli(SHORT_RUN, async (_opts, hooks) => {
      hooks.onProgress(0.3, 'busy')
      throw new Error('ring on fire')
    }, io)
    expect(code).to.equal(EXIT_FAILURE)
    expect(io.err()).to.include('the simulation failed')
    expect(io.err()).to.include('ring on fire')
    // the bar is cleared before the message, so the message starts on a clean line
    expect(io.err()).to.include('\r\x1b[Kerror:')
    expect(io.out()).to.equal('')
  })

  it('warns on stderr about non-finite numbers that JSON would turn into null', async () => {
    const io = memoryIo(false)
    const code = await runCli(SHORT_RUN, async (opts) => ({ ...fakeResult(opts), offload: NaN }), io)
    expect(code).to.equal(EXIT_OK)
    expect(io.err()).to.include('non-finite numbers in the result')
    expect(io.err()).to.include('offload')
  })
})
