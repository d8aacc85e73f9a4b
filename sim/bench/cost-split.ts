/**
 * Where a simulation's CPU time goes, by layer: the ring's own logic
 * (`src/overlay/`), the wire codec it runs on every hop (protons and the
 * overlay's wire conversions), the simulator (scheduler, network, oracle,
 * workload), the CDN code above the ring, and garbage collection.
 *
 * Why: the simulator can only get as fast as the production code it runs.
 * The ring logic and the codec are that code; their CPU time per virtual
 * second, scaled to the run's virtual span and divided over the cores, is a
 * floor no simulator change can go below. P7 (an hour of 10⁵ nodes in 10
 * min on 2 cores) is judged against it.
 *
 * How: the scenario runs in this process under V8's sampling CPU profiler
 * (`node:inspector`) for a short virtual span; each sample is charged to the
 * innermost frame outside Node's internals, so a `Uint8Array` allocation
 * inside protons counts as codec. Samples under the converged start
 * (`startConverged`, which builds 10⁵ routing states from the oracle) are
 * reported apart and left out of the per-virtual-second figures. `runtime`
 * is the event loop's own time (V8's `(idle)` and `(program)`, Node internals
 * with none of our frames on the stack): the scheduler yields to it once per
 * virtual instant to let promise chains settle. `other` is third-party code.
 *
 * Usage: npm run bench:sim-cost -- [scenario] [--virtual 30s] [--cores 2] [--json FILE] [sim flags]
 * (default scenario p7; `npm run sim` flags override the scenario's own, e.g.
 * `--stabilize-interval 60s`). Prints a table and writes FILE (default
 * bench/results/sim-cost-<scenario>.json).
 */
import { mkdirSync, writeFileSync } from 'node:fs'
import { Session } from 'node:inspector/promises'
import { dirname } from 'node:path'
import { parseSimArgs } from '../cli-options.ts'
import { parseDuration } from '../duration.ts'
import { simulate } from '../simulation.ts'
import { SCENARIOS } from './scenarios.ts'

/** The layers a sample is charged to, in the order they are printed */
export const LAYERS = ['ring', 'codec', 'simulator', 'cdn', 'gc', 'runtime', 'other', 'setup'] as const
export type Layer = typeof LAYERS[number]

/** What the ring itself costs whatever runs it: the floor */
export const PRODUCTION_LAYERS: readonly Layer[] = ['ring', 'codec']

/** The subset of a V8 `Profiler.Profile` this reads */
export interface CpuProfile {
  nodes: Array<{ id: number, callFrame: { functionName: string, url: string }, children?: number[] }>
  samples: number[]
  timeDeltas: number[]
}

/** Frames from these modules are the wire codec */
const CODEC_URL = /\/(protons-runtime|uint8arrays|uint8arraylist)\/|\/src\/overlay\/(messages|codec|wire|ring-id)\.ts$/
/** Functions whose samples are set-up, not simulation */
const SETUP_FUNCTIONS = new Set(['startConverged'])

function layerOfUrl (url: string): Layer {
  if (CODEC_URL.test(url)) {
    return 'codec'
  }
  if (url.includes('/src/overlay/')) {
    return 'ring'
  }
  if (url.includes('/sim/')) {
    return 'simulator'
  }
  if (url.includes('/src/')) {
    return 'cdn'
  }
  return 'other'
}

/** V8's pseudo-frames for time outside any JavaScript function */
const OUTSIDE_JS = new Set(['(idle)', '(program)', '(root)'])

/** Microseconds of samples per layer */
export function splitProfile (profile: CpuProfile): Record<Layer, number> {
  const byId = new Map(profile.nodes.map(node => [node.id, node]))
  const parent = new Map<number, number>()
  for (const node of profile.nodes) {
    for (const child of node.children ?? []) {
      parent.set(child, node.id)
    }
  }
  const layerOf = new Map<number, Layer>()
  const layer = (id: number): Layer => {
    let known = layerOf.get(id)
    if (known !== undefined) {
      return known
    }
    const node = byId.get(id)
    const fn = node?.callFrame.functionName ?? ''
    if (fn === '(garbage collector)') {
      known = 'gc'
    } else {
      // the innermost frame that is ours or a dependency's, unless set-up is on the stack
      let charged: Layer | undefined
      for (let cur = id; cur !== undefined; cur = parent.get(cur) as number) {
        const frame = (byId.get(cur) as CpuProfile['nodes'][number]).callFrame
        if (SETUP_FUNCTIONS.has(frame.functionName)) {
          charged = 'setup'
          break
        }
        if (charged === undefined && frame.url !== '' && !frame.url.startsWith('node:')) {
          charged = layerOfUrl(frame.url)
        }
      }
      known = charged ?? 'runtime'
    }
    layerOf.set(id, known)
    return known
  }
  const out = Object.fromEntries(LAYERS.map(l => [l, 0])) as Record<Layer, number>
  for (let i = 0; i < profile.samples.length; i++) {
    const fn = byId.get(profile.samples[i])?.callFrame.functionName ?? '(root)'
    out[OUTSIDE_JS.has(fn) ? 'runtime' : layer(profile.samples[i])] += profile.timeDeltas[i] ?? 0
  }
  return out
}

async function main (argv: string[]): Promise<void> {
  let scenario = 'p7'
  let virtualMs = 30_000
  let cores = 2
  let file: string | undefined
  const overrides: string[] = []
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]
    if (arg === '--json') {
      file = argv[++i]
      if (file == null || file === '') {
        throw new RangeError('--json needs a file name')
      }
    } else if (arg === '--virtual' || arg === '--cores') {
      const value = argv[++i]
      if (arg === '--virtual') {
        const ms = value == null ? undefined : parseDuration(value)
        if (ms === undefined || ms <= 0) {
          throw new RangeError(`--virtual needs a duration such as 30s, got ${value}`)
        }
        virtualMs = ms
      } else {
        cores = Number(value)
        if (!Number.isInteger(cores) || cores < 1) {
          throw new RangeError(`--cores needs a whole number ≥ 1, got ${value}`)
        }
      }
    } else if (arg.startsWith('--')) {
      overrides.push(arg, ...(argv[i + 1] != null && !argv[i + 1].startsWith('--') ? [argv[++i]] : []))
    } else {
      scenario = arg
    }
  }
  const spec = SCENARIOS[scenario]
  if (spec == null) {
    throw new RangeError(`unknown scenario ${scenario}; known: ${Object.keys(SCENARIOS).join(', ')}`)
  }
  // the scenario as benchmarked, shortened to a warm-up of a third of the span and no wall limit
  const base = parseSimArgs([...spec.args, '--seed', '7'])
  const args = [...spec.args, '--seed', '7', '--duration', `${virtualMs}ms`, '--warmup', `${Math.floor(virtualMs / 3)}ms`, '--wall-limit', '0', ...overrides]
  const opts = parseSimArgs(args)

  const session = new Session()
  session.connect()
  await session.post('Profiler.enable')
  await session.post('Profiler.start')
  const result = await simulate(opts)
  const { profile } = await session.post('Profiler.stop') as { profile: CpuProfile }
  session.disconnect()

  const us = splitProfile(profile)
  const simulatedUs = LAYERS.filter(l => l !== 'setup').reduce((sum, l) => sum + us[l], 0)
  const virtualSeconds = result.virtualSeconds
  const target = base.durationMs / 1000
  const perVirtualSecond = (l: Layer): number => us[l] / 1e6 / virtualSeconds
  const rows = LAYERS.map(l => ({
    layer: l,
    share: l === 'setup' ? undefined : us[l] / simulatedUs,
    cpuSeconds: us[l] / 1e6,
    perVirtualSecond: l === 'setup' ? undefined : perVirtualSecond(l),
    forTarget: l === 'setup' ? undefined : perVirtualSecond(l) * target
  }))
  const floorSeconds = PRODUCTION_LAYERS.reduce((sum, l) => sum + perVirtualSecond(l), 0) * target / cores
  const allSeconds = (simulatedUs / 1e6 / virtualSeconds) * target / cores

  const fmt = (n: number | undefined, digits = 0): string => n === undefined ? '' : n.toLocaleString('en-US', { maximumFractionDigits: digits, minimumFractionDigits: digits })
  const lines = [
    `${scenario}: ${opts.nodes.toLocaleString('en-US')} nodes, ${fmt(virtualSeconds, 1)} virtual s in ${fmt(result.wallSeconds, 1)} s wall, ${result.events.toLocaleString('en-US')} events`,
    `command: npm run bench:sim-cost -- ${argv.join(' ')}`.trimEnd(),
    '',
    'layer       share   CPU s   CPU s per virtual s   CPU s for ' + `${fmt(target)} virtual s`,
    ...rows.map(r => `${r.layer.padEnd(10)} ${(r.share === undefined ? '' : fmt(r.share * 100, 1) + ' %').padStart(7)} ${fmt(r.cpuSeconds, 1).padStart(7)} ${fmt(r.perVirtualSecond, 3).padStart(21)} ${fmt(r.forTarget).padStart(11)}`),
    '',
    `the run's ${fmt(target)} virtual s on ${cores} core(s), perfectly shared: ${fmt(allSeconds)} s wall at this cost;`,
    `the ring logic and codec alone (no simulator, no garbage collection): ${fmt(floorSeconds)} s wall`
  ]
  process.stdout.write(lines.join('\n') + '\n')
  file ??= `bench/results/sim-cost-${scenario}.json`
  mkdirSync(dirname(file), { recursive: true })
  writeFileSync(file, JSON.stringify({
    scenario,
    command: `npm run bench:sim-cost -- ${argv.join(' ')}`.trimEnd(),
    simArgs: args,
    nodes: opts.nodes,
    virtualSeconds,
    wallSeconds: result.wallSeconds,
    events: result.events,
    cores,
    targetVirtualSeconds: target,
    layers: rows,
    wallSecondsForTarget: allSeconds,
    floorSecondsForTarget: floorSeconds
  }, null, 2) + '\n')
  process.stdout.write(`wrote ${file}\n`)
}

if (import.meta.url === `file://${process.argv[1]}`) {
  main(process.argv.slice(2)).catch(err => {
    process.stderr.write(`${err.message}\n`)
    process.exit(2)
  })
}
