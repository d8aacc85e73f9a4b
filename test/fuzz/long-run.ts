/**
 * The long fuzz run behind `npm run fuzz` (scripts/fuzz.ts only calls
 * `runFuzz`; the code lives here so that tsc and the linter cover it): N
 * frames (default 100 000) of generated and mutated input against every
 * decoder, against the ring and directory handlers of an 8-node simulated
 * ring (in process, virtual time), and a smaller share as raw streams over
 * `@libp2p/memory` to members serving through StreamRpc.
 *
 * `npm run fuzz -- [--frames N] [--seed S] [--out FILE]`
 *
 * Prints a summary and writes bench/results/fuzz.json:
 * { frames, byTarget, crashes, unexpectedErrors, wallSeconds, seed, … }.
 * Exits 1 when crashes > 0.
 *
 * A crash is a process-level failure: an uncaught exception or unhandled
 * rejection, a simulator event that threw, a hang (a request neither answered
 * nor timed out by its deadline, a stream neither answered nor reset), or a
 * member that no longer answers a valid request. An unexpected error is
 * anything short of that which still breaks the bar: a decoder failing with
 * something other than a decode error, an answer with code UNKNOWN (the
 * handler threw an unnamed error) or an unknown code, a stream closed without
 * an answer or left open, a ring that does not heal.
 */
import { mkdirSync, writeFileSync } from 'node:fs'
import { dirname } from 'node:path'
import { parseArgs } from 'node:util'
import fc from 'fast-check'
import { SeededRandom } from '../../sim/random.ts'
import { MAX_MESSAGE_BYTES } from '../../src/libp2p/stream-rpc.ts'
import { RingRequest } from '../../src/overlay/messages.ts'
import { MAX_PEERS_PER_MESSAGE } from '../../src/overlay/ring-node.ts'
import {
  MUTATION_KINDS, checkDecode, classifyError, concat, decoderTargets, describeError, frame, hex, lengthDelimited,
  messageArbs, mutate, repeat, RING_REQUEST_LIMITS, varint
} from './inputs.ts'
import { createLibp2pRing, exchangeRaw, FUZZ_MAX_MESSAGE_BYTES, LIBP2P_NAMESPACE, openFuzzStreams } from './libp2p-ring.ts'
import { FUZZ_NAMESPACE, FUZZER, FuzzRing, simAddress, simPeer } from './sim-ring.ts'
import type { DecoderTarget, Mutation } from './inputs.ts'
import type { RawStreamOutcome } from './libp2p-ring.ts'
import type { RawOutcome } from './sim-ring.ts'

const USAGE = 'usage: npm run fuzz -- [--frames N] [--seed S] [--out FILE]'

/** Shares of the frames: decoders get the rest */
const SIM_SHARE = 0.25
const LIBP2P_SHARE = 0.03
/** Simulated requests in flight at once */
const SIM_BATCH = 250
/** Simulated frames before the ring is healed, checked and rebuilt */
const SIM_EPOCH = 5_000
/** Virtual time for the ring to repair itself before it is judged */
const HEAL_MS = 120_000
/** Lookups judged per epoch */
const EPOCH_LOOKUPS = 64
/** Raw libp2p streams in flight at once */
const LIBP2P_BATCH = 50
/** Valid messages sampled per pool (mutation seeds) */
const POOL = 400
/** A single decode slower than this counts as unexpected, ms */
const SLOW_DECODE_MS = 250
/** Examples kept for the report (one per kind of problem) */
const MAX_EXAMPLES = 50

interface TargetStats {
  frames: number
  /** Decoded, or answered with code 0 */
  ok: number
  /** Refused the expected way, by error class or code */
  refused: Record<string, number>
  unexpected: number
  crashes: number
}

interface Problem {
  target: string
  kind: 'crash' | 'unexpected'
  what: string
  input?: string
}

class Report {
  readonly byTarget: Record<string, TargetStats> = {}
  readonly problems: Problem[] = []
  private readonly seen = new Set<string>()
  crashes = 0
  unexpectedErrors = 0
  frames = 0

  stats (target: string): TargetStats {
    this.byTarget[target] ??= { frames: 0, ok: 0, refused: {}, unexpected: 0, crashes: 0 }
    return this.byTarget[target]
  }

  frame (target: string): TargetStats {
    this.frames++
    const s = this.stats(target)
    s.frames++
    return s
  }

  refused (target: string, how: string): void {
    const s = this.stats(target)
    s.refused[how] = (s.refused[how] ?? 0) + 1
  }

  problem (target: string, kind: 'crash' | 'unexpected', what: string, input?: Uint8Array): void {
    if (kind === 'crash') {
      this.crashes++
      this.stats(target).crashes++
    } else {
      this.unexpectedErrors++
      this.stats(target).unexpected++
    }
    // one example per kind of problem, so that a frequent one does not crowd out the rest
    const key = `${target}|${kind}|${what.slice(0, 40)}`
    if (!this.seen.has(key) && this.problems.length < MAX_EXAMPLES) {
      this.seen.add(key)
      this.problems.push({ target, kind, what, input: input != null ? hex(input, 160) : undefined })
    }
  }
}

function parse (args: string[]): { frames: number, seed: string, out: string } | number {
  const { values } = parseArgs({
    args,
    options: {
      frames: { type: 'string', default: '100000' },
      seed: { type: 'string', default: String(Date.now() % 1_000_000) },
      out: { type: 'string', default: 'bench/results/fuzz.json' },
      help: { type: 'boolean', default: false }
    }
  })
  if (values.help === true) {
    process.stdout.write(`${USAGE}\n`)
    return 0
  }
  const frames = Number(values.frames)
  if (!Number.isInteger(frames) || frames < 1) {
    process.stderr.write(`--frames must be a positive integer\n${USAGE}\n`)
    return 2
  }
  return { frames, seed: values.seed, out: values.out }
}

function randomBytes (random: SeededRandom, max: number): Uint8Array<ArrayBuffer> {
  const out = new Uint8Array(random.int(max + 1))
  for (let i = 0; i < out.byteLength; i++) {
    out[i] = random.uint32() & 0xff
  }
  return out
}

function randomMutation (random: SeededRandom): Mutation {
  return { kind: random.pick(MUTATION_KINDS), at: random.uint32(), n: random.uint32(), bytes: randomBytes(random, 24) }
}

/** Inputs built to be deep, wide or long rather than random */
function hostile (random: SeededRandom): Uint8Array<ArrayBuffer> {
  switch (random.int(5)) {
    case 0: return new Uint8Array(100 + random.int(20_000)).fill(random.chance(0.5) ? 0x7b : 0x0b)
    case 1: return lengthDelimited(5, repeat(Uint8Array.of(0x1a, 0x00), random.int(MAX_PEERS_PER_MESSAGE * 4)))
    case 2: return concat(varint(random.pick([0x12, 0x1a, 0x22, 0x2a])), varint(0x7fff_fff0 - random.int(1024)), randomBytes(random, 16))
    case 3: return new Uint8Array(1 + random.int(4096)).fill(0x80)
    default: return repeat(Uint8Array.of(0x78, 0x01), 1 + random.int(16_384))
  }
}

/** One input for a decoder: arbitrary bytes, a mutated valid encoding, a truncation, or something hostile */
function decoderInput (random: SeededRandom, pool: Uint8Array[]): Uint8Array {
  const r = random.next()
  if (r < 0.25) {
    return randomBytes(random, 512)
  }
  const seed = random.pick(pool)
  if (r < 0.7) {
    let bytes: Uint8Array = seed
    for (let i = 0, n = 1 + random.int(4); i < n; i++) {
      bytes = mutate(bytes, randomMutation(random))
    }
    return bytes
  }
  if (r < 0.97) {
    return seed.subarray(0, random.int(seed.byteLength + 1))
  }
  return hostile(random)
}

// ---- decoders ----------------------------------------------------------------

function fuzzDecoders (report: Report, frames: number, random: SeededRandom, seed: string): void {
  const targets = decoderTargets({
    addresses: Array.from({ length: 8 }, (_, i) => simAddress(i)),
    ids: Array.from({ length: 8 }, (_, i) => simPeer(simAddress(i)).id),
    namespaces: [FUZZ_NAMESPACE, '']
  })
  const pools = new Map<DecoderTarget, Uint8Array[]>(targets.map((t, i) => [t, fc.sample(t.seeds, { numRuns: POOL, seed: hashSeed(`${seed}:${i}`) })]))
  for (let i = 0; i < frames; i++) {
    const target = targets[i % targets.length]
    const name = `decode:${target.name}`
    const stats = report.frame(name)
    const input = decoderInput(random, pools.get(target) ?? [])
    const started = performance.now()
    const { outcome, problem } = checkDecode(target, input)
    const ms = performance.now() - started
    if (problem != null) {
      report.problem(name, 'unexpected', problem, input)
    } else if (outcome === 'ok') {
      stats.ok++
    } else {
      report.refused(name, outcome)
    }
    if (ms > SLOW_DECODE_MS) {
      report.problem(name, 'unexpected', `decode took ${Math.round(ms)} ms`, input)
    }
  }
}

// ---- simulated handlers ----------------------------------------------------

async function fuzzSimulator (report: Report, frames: number, random: SeededRandom, seed: string): Promise<{ epochs: number, lookups: { correct: number, wrong: number, failed: number }, timeouts: number }> {
  const target = 'sim:ring-handler'
  const addresses = [...Array.from({ length: 8 }, (_, i) => simAddress(i)), FUZZER]
  const ids = addresses.map(a => simPeer(a).id)
  const requests = messageArbs({ addresses, ids, namespaces: [FUZZ_NAMESPACE, '', 'other-site'] }).ringRequest.map(r => RingRequest.encode(r))
  const pool = fc.sample(requests, { numRuns: POOL * 5, seed: hashSeed(`${seed}:sim`) })
  const lookups = { correct: 0, wrong: 0, failed: 0 }
  let timeouts = 0
  let epochs = 0
  let sent = 0

  while (sent < frames) {
    epochs++
    let ring: FuzzRing
    try {
      ring = await FuzzRing.create({ seed: `${seed}:epoch:${epochs}` })
    } catch (err) {
      report.problem(target, 'crash', `building the ring failed: ${describeError(err)}`)
      return { epochs, lookups, timeouts }
    }
    const epochEnd = Math.min(frames, sent + SIM_EPOCH)
    try {
      while (sent < epochEnd) {
        const n = Math.min(SIM_BATCH, epochEnd - sent)
        const items = Array.from({ length: n }, () => ({ to: ring.members[random.int(ring.members.length)].peer.address, bytes: simInput(random, pool) }))
        const outcomes = await ring.sendMany(items)
        outcomes.forEach((outcome, i) => { judgeSim(report, target, report.frame(target), outcome, items[i].bytes) })
        timeouts += outcomes.filter(o => o.kind === 'timeout').length
        sent += n
        // a little quiet time between bursts lets maintenance run
        await ring.advance(random.int(5_000))
      }
      // every member still answers a valid request
      const probes = await ring.sendMany(ring.members.map(m => ({ to: m.peer.address, bytes: RingRequest.encode({ type: RingRequest.Type.PROBE, namespace: FUZZ_NAMESPACE }) })))
      probes.forEach((p, i) => {
        if (p.kind !== 'answer') {
          report.problem(target, 'crash', `member ${ring.members[i].peer.address} no longer answers: ${p.kind}`)
        }
      })
      await ring.advance(HEAL_MS)
      const check = await ring.checkLookups(EPOCH_LOOKUPS)
      lookups.correct += check.correct
      lookups.wrong += check.wrong
      lookups.failed += check.failed
      if (check.correct !== EPOCH_LOOKUPS || !ring.converged()) {
        report.problem(target, 'unexpected', `ring not healed ${HEAL_MS / 1000} s after epoch ${epochs}: ${check.wrong} wrong, ${check.failed} failed; ${[...check.problems, ...ring.describeViolations()].slice(0, 3).join('; ')}`)
      }
    } catch (err) {
      report.problem(target, 'crash', `simulation failed: ${describeError(err)}`)
    } finally {
      ring.stop()
    }
  }
  return { epochs, lookups, timeouts }
}

/** A request for a simulated member: an arbitrary one, a mutated one, random bytes, or something hostile */
function simInput (random: SeededRandom, pool: Uint8Array[]): Uint8Array {
  const r = random.next()
  const base = random.pick(pool)
  if (r < 0.45) {
    return base
  }
  if (r < 0.9) {
    return mutate(base, randomMutation(random))
  }
  return r < 0.97 ? randomBytes(random, 256) : hostile(random)
}

function judgeSim (report: Report, target: string, stats: { ok: number }, outcome: RawOutcome, input: Uint8Array): void {
  switch (outcome.kind) {
    case 'unreachable':
      report.problem(target, 'crash', 'a member stopped serving the ring protocol', input)
      return
    case 'timeout':
      report.refused(target, 'timeout')
      return
    default:
      judgeCode(report, target, stats, outcome.code, input, outcome.kind === 'refused' ? outcome.message : outcome.res.message)
  }
}

const CODE_NAMES: Record<number, string> = { 2: 'HOP_LIMIT', 3: 'LOOKUP_FAILED', 4: 'INVALID_MESSAGE', 5: 'WRONG_NAMESPACE', 6: 'NOT_MEMBER' }

function judgeCode (report: Report, target: string, stats: { ok: number }, code: number, input: Uint8Array, message: string): void {
  if (code === 0) {
    stats.ok++
  } else if (CODE_NAMES[code] != null) {
    report.refused(target, CODE_NAMES[code])
  } else {
    report.problem(target, 'unexpected', `answered code ${code}: ${message.slice(0, 160)}`, input)
  }
}

// ---- libp2p streams -------------------------------------------------------

async function fuzzLibp2p (report: Report, frames: number, random: SeededRandom, seed: string): Promise<{ exchanges: number }> {
  const target = 'libp2p:stream'
  const ring = await createLibp2pRing(2)
  const [a, b] = ring.members
  const addresses = [a.peer.address, b.peer.address, ring.outsider.peerId.toString()]
  const requests = messageArbs({ addresses, ids: [a.peer.id, b.peer.id], namespaces: [LIBP2P_NAMESPACE, ''] }).ringRequest.map(r => RingRequest.encode(r))
  const pool = fc.sample(requests, { numRuns: POOL, seed: hashSeed(`${seed}:libp2p`) })
  let done = 0
  try {
    while (done < frames) {
      const n = Math.min(LIBP2P_BATCH, frames - done)
      const items = Array.from({ length: n }, () => {
        const r = random.next()
        const to = random.pick(ring.members).node.peerId
        if (r < 0.35) {
          return { to, chunks: [frame(randomBytes(random, 300))], input: undefined as Uint8Array | undefined }
        }
        if (r >= 0.95) {
          // unframed garbage, closed at once
          const garbage = randomBytes(random, 64)
          return { to, chunks: [garbage], input: garbage }
        }
        const body = r < 0.7 ? mutate(random.pick(pool), randomMutation(random)) : random.pick(pool)
        const framed = frame(body.subarray(0, FUZZ_MAX_MESSAGE_BYTES))
        return { to, chunks: [framed], input: framed }
      })
      const outcomes = await Promise.all(items.map(async item => exchangeRaw(ring.outsider, item.to, item.chunks).catch((err): RawStreamOutcome | Error => err)))
      outcomes.forEach((outcome, i) => {
        const stats = report.frame(target)
        const input = items[i].input ?? items[i].chunks[0]
        if (outcome instanceof Error) {
          report.problem(target, 'crash', `could not open a stream: ${describeError(outcome)}`, input)
          return
        }
        switch (outcome.kind) {
          case 'reset':
            report.refused(target, 'reset')
            return
          case 'answer':
            judgeCode(report, target, stats, outcome.code, input, outcome.res?.message ?? '')
            return
          case 'hung':
            report.problem(target, 'crash', 'neither answered nor reset within the bound', input)
            return
          default:
            report.problem(target, 'unexpected', `stream ${outcome.kind} without an answer`, input)
        }
      })
      done += n
    }
    // released every stream, and still serving
    const end = Date.now() + 5_000
    while ((openFuzzStreams(a.node) > 0 || openFuzzStreams(b.node) > 0) && Date.now() < end) {
      await new Promise(resolve => setTimeout(resolve, 20))
    }
    if (openFuzzStreams(a.node) + openFuzzStreams(b.node) > 0) {
      report.problem(target, 'unexpected', `${openFuzzStreams(a.node) + openFuzzStreams(b.node)} streams still open 5 s after the last exchange`)
    }
    for (const m of ring.members) {
      const probe = await exchangeRaw(ring.outsider, m.node.peerId, [frame(RingRequest.encode({ type: RingRequest.Type.PROBE, namespace: LIBP2P_NAMESPACE }))])
      if (probe.kind !== 'answer' || probe.code !== 0) {
        report.problem(target, 'crash', `member no longer answers a valid PROBE: ${JSON.stringify(probe)}`)
      }
    }
    for (const key of [a.peer.id, b.peer.id]) {
      try {
        await a.ring.lookup(key, { timeout: 5_000 })
      } catch (err) {
        report.problem(target, 'crash', `a lookup between the members failed afterwards: ${describeError(err)}`)
      }
    }
  } finally {
    await ring.stop()
  }
  return { exchanges: done }
}

// ---- decode cost of a hostile maximum-size frame ---------------------------------

function amplification (): Record<string, unknown> {
  const frameBytes = lengthDelimited(5, repeat(Uint8Array.of(0x1a, 0x00), (MAX_MESSAGE_BYTES - 8) / 2))
  const before = process.memoryUsage().heapUsed
  let started = performance.now()
  const decoded = RingRequest.decode(frameBytes)
  const unlimitedMs = performance.now() - started
  const heapMB = (process.memoryUsage().heapUsed - before) / 1024 / 1024
  const peers = decoded.leave?.successors.length ?? 0
  started = performance.now()
  let limited = 'decoded'
  try {
    RingRequest.decode(frameBytes, { limits: RING_REQUEST_LIMITS })
  } catch (err) {
    limited = classifyError(err)
  }
  return {
    frameBytes: frameBytes.byteLength,
    withoutLimits: { peers, heapMBApprox: Math.round(heapMB), ms: Math.round(unlimitedMs) },
    withLimits: { outcome: limited, ms: Math.round((performance.now() - started) * 10) / 10 }
  }
}

// ---- main --------------------------------------------------------------------

function hashSeed (s: string): number {
  return new SeededRandom(s).uint32() & 0x7fff_ffff
}

/** Runs the fuzz campaign described by `args` (command-line style); resolves to the exit code */
export async function runFuzz (args: string[]): Promise<number> {
  const options = parse(args)
  if (typeof options === 'number') {
    return options
  }
  const { frames, seed, out } = options
  const wallStart = performance.now()
  const report = new Report()
  const root = new SeededRandom(seed)
  const onFatal = (err: unknown): void => { report.problem('process', 'crash', `unhandled: ${describeError(err)}`) }
  process.on('unhandledRejection', onFatal)
  process.on('uncaughtException', onFatal)

  const libp2pFrames = Math.max(frames >= 1_000 ? 50 : 0, Math.round(frames * LIBP2P_SHARE))
  const simFrames = Math.round(frames * SIM_SHARE)
  const decoderFrames = frames - libp2pFrames - simFrames
  const phases: Record<string, number> = {}

  let started = performance.now()
  fuzzDecoders(report, decoderFrames, root.fork('decoders'), seed)
  phases.decoders = (performance.now() - started) / 1000
  progress(`decoders: ${decoderFrames} frames in ${phases.decoders.toFixed(1)} s`)

  started = performance.now()
  const sim = await fuzzSimulator(report, simFrames, root.fork('sim'), seed)
  phases.simulator = (performance.now() - started) / 1000
  progress(`simulator: ${simFrames} frames, ${sim.epochs} rings, in ${phases.simulator.toFixed(1)} s`)

  started = performance.now()
  let libp2p = { exchanges: 0 }
  if (libp2pFrames > 0) {
    try {
      libp2p = await fuzzLibp2p(report, libp2pFrames, root.fork('libp2p'), seed)
    } catch (err) {
      report.problem('libp2p:stream', 'crash', `libp2p run failed: ${describeError(err)}`)
    }
  }
  phases.libp2p = (performance.now() - started) / 1000
  progress(`libp2p: ${libp2p.exchanges} streams in ${phases.libp2p.toFixed(1)} s`)

  const amp = amplification()
  process.off('unhandledRejection', onFatal)
  process.off('uncaughtException', onFatal)

  const result = {
    frames: report.frames,
    byTarget: report.byTarget,
    crashes: report.crashes,
    unexpectedErrors: report.unexpectedErrors,
    wallSeconds: Math.round((performance.now() - wallStart) / 100) / 10,
    seed,
    phasesSeconds: Object.fromEntries(Object.entries(phases).map(([k, v]) => [k, Math.round(v * 10) / 10])),
    simulator: sim,
    libp2p,
    amplification: amp,
    problems: report.problems,
    node: process.version
  }
  mkdirSync(dirname(out), { recursive: true })
  writeFileSync(out, JSON.stringify(result, null, 2) + '\n')

  process.stdout.write([
    `frames ${result.frames}  crashes ${result.crashes}  unexpected errors ${result.unexpectedErrors}  wall ${result.wallSeconds} s  seed ${seed}`,
    ...Object.entries(report.byTarget).map(([name, s]) =>
      `  ${name.padEnd(34)} ${String(s.frames).padStart(7)}  ok ${String(s.ok).padStart(6)}  ${Object.entries(s.refused).map(([k, v]) => `${k} ${v}`).join(', ')}${s.unexpected > 0 ? `  UNEXPECTED ${s.unexpected}` : ''}${s.crashes > 0 ? `  CRASHES ${s.crashes}` : ''}`),
    `  simulator: ${sim.epochs} rings, lookups after healing ${sim.lookups.correct} correct / ${sim.lookups.wrong} wrong / ${sim.lookups.failed} failed, ${sim.timeouts} timeouts`,
    `  hostile ${MAX_MESSAGE_BYTES}-byte LEAVE frame: ${JSON.stringify(amp)}`,
    ...report.problems.slice(0, 10).map(p => `  ${p.kind} ${p.target}: ${p.what}${p.input != null ? ` [${p.input}]` : ''}`),
    `written to ${out}`,
    ''
  ].join('\n'))
  return result.crashes > 0 ? 1 : 0
}

function progress (line: string): void {
  process.stderr.write(`${line}\n`)
}
