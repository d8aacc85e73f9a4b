/**
 * Adaptive maintenance, old and new side by side: the same simulated ring
 * (same seed, same churn, same lookups) with rounds at a fixed period
 * (`--adaptive-maintenance off`, the code before issue 19) and with rounds that
 * back off while a node's neighbourhood is quiet (`on`), at several median
 * session lengths. Prints maintenance bytes per node per second and lookup
 * correctness for each pair with the new/old ratio, and saves every run's
 * figures and command to bench/results/maintenance.json.
 *
 * Usage: npm run bench:maintenance -- [--nodes N] [--sessions 2m,10m,30m]
 * [--duration 13m] [--warmup 3m] [--seed 7] [--out FILE] [-- extra sim flags]
 *
 * The ring starts settled (`--start converged`): joining N pages through the
 * protocol is what the P1 runs measure, and here it would only add wall time
 * before churn reaches its steady state.
 */
import { spawnSync } from 'node:child_process'
import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { parseArgs } from 'node:util'

interface Figures {
  mode: 'fixed' | 'adaptive'
  sessionMedian: string
  command: string
  maintenanceBytesPerNodePerSec: number
  lookups: { total: number, correct: number, wrong: number, failed: number, correctAtOwner: number }
  correctPercent: number
  correctAtOwnerPercent: number
  hopsMean: number
  latencyP50Ms: number
  latencyP99Ms: number
  violations: number
  events: number
  wallSeconds: number
}

const { values, positionals } = parseArgs({
  options: {
    nodes: { type: 'string', default: '1000' },
    sessions: { type: 'string', default: '2m,10m,30m' },
    duration: { type: 'string', default: '13m' },
    warmup: { type: 'string', default: '3m' },
    seed: { type: 'string', default: '7' },
    out: { type: 'string', default: 'bench/results/maintenance.json' }
  },
  allowPositionals: true
})

const runs: Figures[] = []
mkdirSync('bench/results', { recursive: true })
const tmp = join(tmpdir(), `ringcdn-maintenance-run-${process.pid}.json`)

for (const session of values.sessions.split(',')) {
  for (const mode of ['fixed', 'adaptive'] as const) {
    const args = ['--nodes', values.nodes, '--start', 'converged', '--duration', values.duration, '--warmup', values.warmup,
      '--session-median', session, '--crash-fraction', '0.5', '--request-rate', '0', '--lookup-rate', '0.05',
      '--adaptive-maintenance', mode === 'adaptive' ? 'on' : 'off', '--seed', values.seed, ...positionals]
    const command = `npm run sim -- ${args.join(' ')}`
    process.stdout.write(`$ ${command}\n`)
    const run = spawnSync(process.execPath, ['--experimental-transform-types', '--disable-warning=ExperimentalWarning', 'sim/cli.ts', ...args, '--json', tmp, '--quiet'], { stdio: ['ignore', 'ignore', 'inherit'] })
    if (run.status !== 0) {
      process.stderr.write(`run failed with exit code ${run.status}\n`)
      process.exit(1)
    }
    const r = JSON.parse(readFileSync(tmp, 'utf8'))
    const pct = (n: number): number => r.lookups.total > 0 ? Math.round(1e5 * n / r.lookups.total) / 1e3 : 0
    runs.push({
      mode,
      sessionMedian: session,
      command,
      maintenanceBytesPerNodePerSec: r.maintenanceBytesPerNodePerSec,
      lookups: { total: r.lookups.total, correct: r.lookups.correct, wrong: r.lookups.wrong, failed: r.lookups.failed, correctAtOwner: r.lookups.correctAtOwner },
      correctPercent: pct(r.lookups.correct),
      correctAtOwnerPercent: pct(r.lookups.correctAtOwner),
      hopsMean: r.hops.mean,
      latencyP50Ms: r.latencyMs.p50,
      latencyP99Ms: r.latencyMs.p99,
      violations: r.ring.violations,
      events: r.events,
      wallSeconds: r.wallSeconds
    })
  }
}
rmSync(tmp, { force: true })

const rows = ['| sessions | rounds | maint. B/s/node | new/old | correct on arrival | at owner | wrong / failed | hops | latency p50 / p99 ms | violations | events | wall s |', '|---|---|---|---|---|---|---|---|---|---|---|---|']
const pairs: Array<{ sessionMedian: string, bytesRatio: number, correctDelta: number }> = []
for (let i = 0; i < runs.length; i += 2) {
  const [fixed, adaptive] = [runs[i], runs[i + 1]]
  const ratio = fixed.maintenanceBytesPerNodePerSec > 0 ? adaptive.maintenanceBytesPerNodePerSec / fixed.maintenanceBytesPerNodePerSec : 0
  pairs.push({ sessionMedian: fixed.sessionMedian, bytesRatio: Math.round(ratio * 1000) / 1000, correctDelta: Math.round(1000 * (adaptive.correctPercent - fixed.correctPercent)) / 1000 })
  for (const f of [fixed, adaptive]) {
    rows.push(`| ${f.sessionMedian} | ${f.mode} | ${f.maintenanceBytesPerNodePerSec} | ${f === adaptive ? ratio.toFixed(3) : ''} | ${f.correctPercent} % of ${f.lookups.total} | ${f.correctAtOwnerPercent} % | ${f.lookups.wrong} / ${f.lookups.failed} | ${f.hopsMean} | ${f.latencyP50Ms} / ${f.latencyP99Ms} | ${f.violations} | ${f.events} | ${f.wallSeconds} |`)
  }
}
process.stdout.write('\n' + rows.join('\n') + '\n')
writeFileSync(values.out, JSON.stringify({ date: new Date().toISOString(), nodes: Number(values.nodes), seed: Number(values.seed), pairs, runs }, null, 2) + '\n')
process.stdout.write(`\nsaved ${values.out}\n`)
