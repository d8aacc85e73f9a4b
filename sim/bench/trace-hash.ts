/**
 * Fingerprints of fixed simulator runs, to show that a refactoring moved code
 * and not behaviour: for each run, the SHA-256 of every message delivery (the
 * `trace` hook, as the determinism test hashes it), the number of deliveries,
 * and the SHA-256 of the result without the fields that measure the host
 * (wall time, memory). Identical output before and after a change means the
 * simulated runs did not change.
 *
 * Usage: npm run sim:trace-hash [-- --json FILE...]
 *
 * `--json FILE` adds the fingerprint of a CLI result saved with
 * `npm run sim -- … --json FILE`, without its host fields and output paths.
 */
import { createHash } from 'node:crypto'
import { readFileSync } from 'node:fs'
import { parseArgs } from 'node:util'
import { DEFAULT_SIM_OPTIONS } from '../options.ts'
import { simulate } from '../simulation.ts'
import type { SimOptions } from '../options.ts'

const MINUTE_MS = 60_000

/** The fields of a result that measure the machine rather than the run */
function withoutHostFields (result: Record<string, unknown>): string {
  const { wallSeconds, peakRssMB, ...rest } = result
  return JSON.stringify(rest)
}

function sha256 (text: string): string {
  return createHash('sha256').update(text).digest('hex')
}

/** Small enough to run in a minute or two each on a loaded machine, with churn, loss, lookups and fetches */
const RUNS: Array<{ name: string, opts: Partial<SimOptions> }> = [
  // the determinism test's run (test/sim/simulation.spec.ts)
  { name: 'churn 100 nodes seed 7', opts: { nodes: 100, durationMs: 3 * MINUTE_MS, warmupMs: MINUTE_MS, sessionMedianMs: MINUTE_MS, crashFraction: 0.5, loss: 0.01, lookupRate: 0.02, seed: 7 } },
  { name: 'churn 200 nodes seed 3', opts: { nodes: 200, durationMs: 3 * MINUTE_MS, warmupMs: MINUTE_MS, sessionMedianMs: 2 * MINUTE_MS, crashFraction: 0.5, seed: 3 } },
  { name: 'converged 150 nodes seed 5', opts: { nodes: 150, start: 'converged', durationMs: 2 * MINUTE_MS, warmupMs: 30_000, sessionMedianMs: 5 * MINUTE_MS, lookupRate: 0.05, seed: 5 } },
  { name: 'stable 80 nodes seed 11', opts: { nodes: 80, durationMs: 2 * MINUTE_MS, warmupMs: MINUTE_MS, sessionMedianMs: 0, seed: 11 } }
]

const { values } = parseArgs({ options: { json: { type: 'string', multiple: true } } })

for (const { name, opts } of RUNS) {
  const hash = createHash('sha256')
  let messages = 0
  // work still in flight when a run resolves may deliver more; the run's trace ends where its result does
  let done = false
  const live = await simulate({ ...DEFAULT_SIM_OPTIONS, quiet: true, ...opts }, {
    trace: (kind, from, to, protocol, bytes) => {
      if (done) {
        return
      }
      messages++
      hash.update(`${kind} ${from} ${to} ${protocol} ${bytes}\n`)
    }
  })
  done = true
  const result = sha256(withoutHostFields(structuredClone(live) as unknown as Record<string, unknown>))
  process.stdout.write(`${name}: trace ${hash.digest('hex')} messages ${messages} result ${result}\n`)
}

for (const file of values.json ?? []) {
  const doc = JSON.parse(readFileSync(file, 'utf8'))
  // where the output went and whether progress was shown say nothing about the run
  for (const key of ['jsonPath', 'reportPath', 'quiet']) {
    delete doc.options?.[key]
  }
  process.stdout.write(`${file}: result ${sha256(withoutHostFields(doc))}\n`)
}
