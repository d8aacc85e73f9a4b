/**
 * Prints the simulator benchmark results in bench/results/sim-*.json as a
 * Markdown table (for bench/RESULTS.md): `npm run bench:table`
 */
import { readdirSync, readFileSync } from 'node:fs'

const rows = readdirSync('bench/results')
  .filter(f => f.startsWith('sim-') && f.endsWith('.json'))
  .sort()
  .map(f => JSON.parse(readFileSync(`bench/results/${f}`, 'utf8')))

const pct = (a: number, b: number): string => b > 0 ? `${(100 * a / b).toFixed(3)} %` : '–'
process.stdout.write('| scenario | N | virtual s | wall s | peak RSS MB | correct | wrong / failed | hops mean (p99) | ½·log2 N | latency p50 / p99 ms | offload (ideal) | maint. B/s/node | upload max/mean | violations |\n')
process.stdout.write('|---|---|---|---|---|---|---|---|---|---|---|---|---|---|\n')
for (const r of rows) {
  process.stdout.write(`| ${r.bench?.scenario ?? '?'} | ${r.nodes} | ${r.virtualSeconds} | ${r.wallSeconds} | ${r.peakRssMB} | ${pct(r.lookups.correct, r.lookups.total)} of ${r.lookups.total} | ${r.lookups.wrong} / ${r.lookups.failed} | ${r.hops.mean} (${r.hops.p99}) | ${(0.5 * Math.log2(r.nodes)).toFixed(2)} | ${r.latencyMs.p50} / ${r.latencyMs.p99} | ${r.offload} (${r.idealOffload}) | ${r.maintenanceBytesPerNodePerSec} | ${r.upload.maxOverMean} | ${r.ring.violations} |\n`)
}
for (const r of rows) {
  process.stdout.write(`\n- ${r.bench?.scenario}: \`${r.bench?.command}\``)
}
process.stdout.write('\n')
