/**
 * The simulator benchmarks of the ring (P1, P3, P4, P5, P7): each scenario
 * is a plain CLI invocation, so any result can be reproduced by hand with
 * `npm run sim -- <args>`. Results go to bench/results/sim-<name>.json.
 *
 * Usage: npm run bench:sim -- [scenario ...] [--flag value ...]   (default: every scenario but p1-100k and p7)
 *
 * Flags after the scenario names go to the CLI after the scenario's own, so
 * they override them (`npm run bench:sim -- p7 --wall-limit 150s` is a short
 * P7 probe); such a run is saved as bench/results/sim-<name>-variant.json,
 * leaving the scenario's own result as it was.
 */
import { spawnSync } from 'node:child_process'
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs'

export const SCENARIOS: Record<string, { bar: string, args: string[] }> = {
  'p1-1k': { bar: 'mean hops ≤ ½·log2 N = 5.0', args: ['--nodes', '1000', '--duration', '8m', '--warmup', '5m', '--session-median', '0', '--request-rate', '0', '--lookup-rate', '0.05'] },
  'p1-10k': { bar: 'mean hops ≤ ½·log2 N = 6.6', args: ['--nodes', '10000', '--duration', '9m', '--warmup', '6m', '--session-median', '0', '--request-rate', '0', '--lookup-rate', '0.02'] },
  // 10⁵ joins through the protocol would take hours of wall time: the ring starts settled (the oracle
  // computes every node's routing state) and runs its maintenance for a minute before measuring.
  // Convergence from joins is what p1-10k shows
  'p1-100k': { bar: 'mean hops ≤ ½·log2 N = 8.3', args: ['--nodes', '100000', '--start', 'converged', '--duration', '3m', '--warmup', '1m', '--session-median', '0', '--request-rate', '0', '--lookup-rate', '0.005', '--stabilize-interval', '15s', '--fix-fingers-interval', '10s'] },
  // the bar is about lookups and ring upkeep, so no CDN workload (P4 and P5 measure that): it would
  // triple the events of a run that is already the longest here
  p3: { bar: '≥ 99.9 % correct lookups; maintenance ≤ 500 B/s/node', args: ['--nodes', '10000', '--duration', '30m', '--warmup', '5m', '--session-median', '2m', '--crash-fraction', '0.5', '--request-rate', '0', '--lookup-rate', '0.02'] },
  p4: { bar: 'offload ≥ idealOffload − 5 points', args: ['--nodes', '1000', '--duration', '30m', '--warmup', '5m', '--session-median', '10m', '--zipf', '0.8', '--objects', '10000'] },
  p5: { bar: 'upload.maxOverMean ≤ 5', args: ['--nodes', '1000', '--duration', '30m', '--warmup', '5m', '--session-median', '10m', '--zipf', '1.0', '--objects', '10000'] },
  // starts settled too (the bar is about the hour of churn, not about 10⁵ joins); stops at the bar's
  // 10 min of wall time and reports how much of the hour it simulated
  p7: { bar: '≤ 10 min wall, ≤ 4 GiB peak RSS for 1 virtual hour', args: ['--nodes', '100000', '--start', 'converged', '--duration', '60m', '--warmup', '1m', '--session-median', '30m', '--request-rate', '0.002', '--stabilize-interval', '15s', '--fix-fingers-interval', '15s', '--wall-limit', '10m'] }
}

const DEFAULT = ['p1-1k', 'p1-10k', 'p3', 'p4', 'p5']

if (import.meta.url === `file://${process.argv[1]}`) {
  const argv = process.argv.slice(2)
  const firstFlag = argv.findIndex(arg => arg.startsWith('--'))
  const given = firstFlag < 0 ? argv : argv.slice(0, firstFlag)
  const overrides = firstFlag < 0 ? [] : argv.slice(firstFlag)
  const names = given.length > 0 ? given : DEFAULT
  mkdirSync('bench/results', { recursive: true })
  for (const name of names) {
    const scenario = SCENARIOS[name]
    if (scenario == null) {
      process.stderr.write(`unknown scenario ${name}; known: ${Object.keys(SCENARIOS).join(', ')}\n`)
      process.exit(2)
    }
    const saved = overrides.length > 0 ? `sim-${name}-variant` : `sim-${name}`
    const json = `bench/results/${saved}.json`
    const args = [...scenario.args, '--seed', '7', ...overrides, '--json', json, '--report', `bench/results/${saved}.html`, '--quiet']
    process.stdout.write(`\n== ${name} (bar: ${scenario.bar})\n$ npm run sim -- ${args.join(' ')}\n`)
    const run = spawnSync(process.execPath, ['--experimental-transform-types', '--disable-warning=ExperimentalWarning', 'sim/cli.ts', ...args], { stdio: 'inherit' })
    if (run.status !== 0) {
      process.stderr.write(`${name} failed with exit code ${run.status}\n`)
      continue
    }
    const result = JSON.parse(readFileSync(json, 'utf8'))
    result.bench = { scenario: name, bar: scenario.bar, command: `npm run sim -- ${args.join(' ')}` }
    writeFileSync(json, JSON.stringify(result, null, 2) + '\n')
  }
}
