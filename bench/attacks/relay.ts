/**
 * `npm run bench:attacks:relay`: the relay attacks of issue 16 against a
 * real relay (its own process, production defaults but --max-namespaces 400
 * so that filling it is cheap to try) on loopback, with a baseline beside
 * them.
 *
 * Each phase joins honest pages (Node pages with WebRTC, each from its own
 * 127/8 source address, as pages of distinct visitors) one after another and
 * records each join's time (page start → ring member): first into a namespace
 * of their own with no attack (the baseline, right beside the attack), then
 * into the attacked site's namespace while the attack is on. Attackers come from
 * 127.0.0.66. Per phase: honest join p50/p95, the share of Sybils in the
 * members handed to a probing joiner, and the relay's RSS and heap before the
 * attack, at its peak, after it ended (its connections gone), and after a
 * forced GC (the relay runs with --expose-gc).
 *
 * Bars (issue 16): honest joins keep working with p95 ≤ 2× the baseline's,
 * and relay memory returns within 10 % of before once the attack ends.
 * Prints a table and writes bench/results/attacks-relay.json.
 *
 * Options: --joins N (honest joins per phase and per baseline, default 6), --json FILE.
 */
import { fork } from 'node:child_process'
import { mkdirSync, writeFileSync } from 'node:fs'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { parseArgs } from 'node:util'
import { noise } from '@chainsafe/libp2p-noise'
import { yamux } from '@chainsafe/libp2p-yamux'
import { identify } from '@libp2p/identify'
import { webSockets } from '@libp2p/websockets'
import { multiaddr } from '@multiformats/multiaddr'
import { createLibp2p } from 'libp2p'
import { queryBootstrap } from '../../src/libp2p/bootstrap-client.ts'
import { createPage, stopPages } from '../../test/relay/fixtures.ts'
import { fromIp, installSourceIps } from '../../test/relay/source-ip.ts'
import type { RelayStats } from '../../relay/relay.ts'
import type { Page } from '../../test/relay/fixtures.ts'
import type { Libp2p } from '@libp2p/interface'
import type { ChildProcess } from 'node:child_process'

const here = dirname(fileURLToPath(import.meta.url))
const ATTACKER_IP = '127.0.0.66'
/** Deadline of one honest join, ms: a join that takes longer counts as failed */
const JOIN_DEADLINE_MS = 60_000
/** Settling time after an attack ends before memory is read "after", ms */
const SETTLE_MS = 3_000

const { values: args } = parseArgs({
  options: {
    joins: { type: 'string', default: '6' },
    json: { type: 'string', default: join(here, '..', 'results', 'attacks-relay.json') }
  }
})
const JOINS = Number(args.joins)

interface Memory {
  rss: number
  heapUsed: number
  /** V8 heap committed, external memory and ArrayBuffers (part of external): where RSS beyond the heap goes */
  heapTotal: number
  external: number
  arrayBuffers: number
  stats: RelayStats
}

interface PhaseResult {
  phase: string
  attack: string
  /** Honest joins right before the attack (the baseline beside it), ms; NaN = failed */
  baselineJoinsMs: number[]
  /** Honest joins while the attack is on, ms; NaN = failed */
  joinsMs: number[]
  failedJoins: number
  baselineP50Ms: number
  baselineP95Ms: number
  joinP50Ms: number
  joinP95Ms: number
  /** Share of Sybils among members handed to a probing joiner (null: not measured) */
  fakeShare: number | null
  before: Memory
  during: Memory
  after: Memory
  afterGc: Memory
  detail: Record<string, number | string>
}

// --- the relay in its own process -------------------------------------------------------------

let relayProcess: ChildProcess
let relayAddr: string

async function startRelay (): Promise<void> {
  relayProcess = fork(join(here, 'relay-process.ts'), [JSON.stringify({ members: { maxNamespaces: 400 } })], {
    execArgv: ['--experimental-transform-types', '--disable-warning=ExperimentalWarning', '--expose-gc'],
    stdio: ['ignore', 'inherit', 'inherit', 'ipc']
  })
  const ready = await new Promise<{ multiaddrs: string[] }>((resolve, reject) => {
    relayProcess.once('message', resolve as (m: unknown) => void)
    relayProcess.once('exit', code => { reject(new Error(`relay exited with ${code}`)) })
  })
  relayAddr = ready.multiaddrs[0]
}

async function memory (gc = false): Promise<Memory> {
  return new Promise(resolve => {
    const onMessage = (message: any): void => {
      if (message.type === 'memory') {
        relayProcess.off('message', onMessage)
        resolve({ rss: message.rss, heapUsed: message.heapUsed, heapTotal: message.heapTotal, external: message.external, arrayBuffers: message.arrayBuffers, stats: message.stats })
      }
    }
    relayProcess.on('message', onMessage)
    relayProcess.send({ type: 'memory', gc })
  })
}

// --- honest pages and attackers -----------------------------------------------------------------

let nextHonestIp = 1
/** A fresh source address per honest page: 127.0.1.1, 127.0.1.2, … */
function honestIp (): string {
  const n = nextHonestIp++
  return `127.0.${1 + Math.floor(n / 250)}.${1 + (n % 250)}`
}

/** Joins `n` pages of `namespace` one after another; returns each join's time (NaN: failed) and the pages */
async function honestJoins (namespace: string, n: number): Promise<{ times: number[], pages: Page[] }> {
  const times: number[] = []
  const pages: Page[] = []
  for (let i = 0; i < n; i++) {
    const started = performance.now()
    try {
      const page = await createPage(fromIp(relayAddr, honestIp()), { namespace })
      pages.push(page)
      await page.services.cdn.whenJoined({ signal: AbortSignal.timeout(JOIN_DEADLINE_MS) })
      times.push(performance.now() - started)
    } catch {
      times.push(Number.NaN)
    }
  }
  return { times, pages }
}

async function bareClient (ip: string): Promise<{ node: Libp2p, connection: Awaited<ReturnType<Libp2p['dial']>> } | undefined> {
  const node = await createLibp2p({
    transports: [webSockets()],
    connectionEncrypters: [noise()],
    streamMuxers: [yamux()],
    connectionMonitor: { enabled: false },
    services: { identify: identify() }
  })
  try {
    const connection = await node.dial(multiaddr(fromIp(relayAddr, ip)), { signal: AbortSignal.timeout(10_000) })
    return { node, connection }
  } catch {
    await node.stop()
    return undefined
  }
}

function percentile (values: number[], p: number): number {
  const ok = values.filter(v => Number.isFinite(v)).sort((a, b) => a - b)
  if (ok.length === 0) {
    return Number.NaN
  }
  return ok[Math.min(ok.length - 1, Math.ceil(p * ok.length) - 1)]
}

async function sleep (ms: number): Promise<void> {
  await new Promise(resolve => setTimeout(resolve, ms))
}

/** Waits until the relay holds no connection (every page and attacker gone; at most 30 s), then `ms` more */
async function settle (ms: number): Promise<void> {
  for (let i = 0; i < 300; i++) {
    const { stats } = await memory()
    if (stats.connections === 0 && stats.pendingConnections === 0) {
      break
    }
    await sleep(100)
  }
  await sleep(ms)
}

// --- phases --------------------------------------------------------------------------------------

interface Attack {
  name: string
  description: string
  /** Starts the attack; resolves once it is in place */
  start(namespace: string): Promise<void>
  /** Share of Sybils in samples, measured while the attack is on */
  fakeShare?(namespace: string): Promise<number>
  stop(): Promise<void>
  detail(): Record<string, number | string>
}

async function phase (attack: Attack | undefined, index: number): Promise<PhaseResult> {
  const namespace = `https://site-${index}.example`
  // the baseline beside the attack: the same joins just before it, so a machine whose load drifts
  // (2 cores shared with other work) compares like with like
  const baseline = await honestJoins(`https://base-${index}.example`, JOINS)
  await stopPages(baseline.pages)
  await settle(0)
  const before = await memory(true)
  let during = before
  let fakeShare: number | null = null
  if (attack != null) {
    await attack.start(namespace)
    during = await memory()
    fakeShare = attack.fakeShare == null ? null : await attack.fakeShare(namespace)
  }
  const { times, pages } = await honestJoins(namespace, JOINS)
  const peak = await memory()
  if (peak.rss > during.rss) {
    during = peak
  }
  await attack?.stop()
  await stopPages(pages)
  await settle(SETTLE_MS)
  const after = await memory()
  const afterGc = await memory(true)
  return {
    phase: attack?.name ?? 'baseline',
    attack: attack?.description ?? 'none',
    baselineJoinsMs: baseline.times.map(Math.round),
    joinsMs: times.map(Math.round),
    failedJoins: times.filter(t => !Number.isFinite(t)).length,
    baselineP50Ms: Math.round(percentile(baseline.times, 0.5)),
    baselineP95Ms: Math.round(percentile(baseline.times, 0.95)),
    joinP50Ms: Math.round(percentile(times, 0.5)),
    joinP95Ms: Math.round(percentile(times, 0.95)),
    fakeShare,
    before,
    during,
    after,
    afterGc,
    detail: attack?.detail() ?? {}
  }
}

function squatting (): Attack {
  let client: Awaited<ReturnType<typeof bareClient>>
  const stop = new AbortController()
  const answers: Record<string, number> = {}
  let loop: Promise<void> | undefined
  return {
    name: 'founder-squat',
    description: 'one client asks for the site\'s namespace every second (first to ask)',
    async start (namespace) {
      client = await bareClient(ATTACKER_IP)
      if (client == null) {
        throw new Error('the squatter could not connect')
      }
      const c = client
      const ask = async (): Promise<string> => queryBootstrap(c.connection, { namespace, member: false, addrs: [] })
        .then(a => a.type, (err: Error) => /refused: ([a-z-]+)/.exec(err.message)?.[1] ?? err.name)
      const first = await ask()
      answers[first] = 1
      loop = (async () => {
        for (let i = 0; i < 600 && !stop.signal.aborted; i++) {
          await sleep(1_000)
          const answer = await ask()
          answers[answer] = (answers[answer] ?? 0) + 1
        }
      })()
    },
    async stop () {
      stop.abort()
      await loop
      await client?.node.stop()
    },
    detail: () => ({ squatterAnswers: JSON.stringify(answers) })
  }
}

function sybils (count: number): Attack {
  const nodes: Array<NonNullable<Awaited<ReturnType<typeof bareClient>>>> = []
  let listed = 0
  let failedConnections = 0
  let seedsJoined = 0
  const seeds: Page[] = []
  return {
    name: 'sybils',
    description: `${count} peer ids from one IP register into the site's namespace`,
    async start (namespace) {
      // the site has honest members first: 4 pages of distinct visitors
      const seeded = await honestJoins(namespace, 4)
      seeds.push(...seeded.pages)
      // a seed that failed to join leaves the namespace to the Sybils: say so in the results
      seedsJoined = seeded.times.filter(t => Number.isFinite(t)).length
      for (let i = 0; i < count; i += 50) {
        const batch = await Promise.all(Array.from({ length: Math.min(50, count - i) }, async () => bareClient(ATTACKER_IP)))
        for (const c of batch) {
          if (c == null) {
            failedConnections++
            continue
          }
          nodes.push(c)
          const id = c.node.peerId.toString()
          // a black hole on its own address, and a third party's host (dropped by the relay)
          const answer = await queryBootstrap(c.connection, {
            namespace,
            member: true,
            addrs: [multiaddr(`/ip4/${ATTACKER_IP}/tcp/9/ws/p2p/${id}`), multiaddr(`/ip4/203.0.113.9/tcp/80/ws/p2p/${id}`)]
          }).catch(() => undefined)
          if (answer?.type === 'members' && answer.registered) {
            listed++
          }
        }
      }
    },
    async fakeShare (namespace) {
      const probe = await bareClient('127.0.0.9')
      if (probe == null) {
        return Number.NaN
      }
      const fake = new Set(nodes.map(n => n.node.peerId.toString()))
      let handed = 0
      let sybil = 0
      for (let i = 0; i < 50; i++) {
        const answer = await queryBootstrap(probe.connection, { namespace, member: false, addrs: [] }).catch(() => undefined)
        if (answer?.type === 'members') {
          handed += answer.members.length
          sybil += answer.members.filter(m => fake.has(m.peer)).length
        }
      }
      await probe.node.stop()
      return handed === 0 ? Number.NaN : sybil / handed
    },
    async stop () {
      await Promise.all(nodes.map(async n => n.node.stop()))
      await stopPages(seeds)
    },
    detail: () => ({ seedsJoined, sybilsConnected: nodes.length, sybilsRefusedConnection: failedConnections, sybilsListed: listed })
  }
}

function namespaceFill (peers: number): Attack {
  const nodes: Array<NonNullable<Awaited<ReturnType<typeof bareClient>>>> = []
  let held = 0
  return {
    name: 'namespace-fill',
    description: `${peers} peers × 4 namespaces from one IP (relay --max-namespaces 400)`,
    async start () {
      for (let i = 0; i < peers; i += 50) {
        const batch = await Promise.all(Array.from({ length: Math.min(50, peers - i) }, async () => bareClient(ATTACKER_IP)))
        for (const [j, c] of batch.entries()) {
          if (c == null) {
            continue
          }
          nodes.push(c)
          for (let n = 0; n < 4; n++) {
            const answer = await queryBootstrap(c.connection, { namespace: `https://fill-${i + j}-${n}.example`, member: true, addrs: [] }).catch(() => undefined)
            if (answer?.type === 'members' && answer.registered) {
              held++
            }
          }
        }
      }
    },
    async stop () {
      await Promise.all(nodes.map(async n => n.node.stop()))
    },
    detail: () => ({ attackerListings: held })
  }
}

function connectionFlood (count: number): Attack {
  const sockets: WebSocket[] = []
  const counts = { opened: 0, closedByRelay: 0 }
  return {
    name: 'ws-flood',
    description: `${count} websockets from one IP that never start noise`,
    async start () {
      const port = multiaddr(relayAddr).getComponents().find(c => c.name === 'tcp')?.value
      for (let i = 0; i < count; i++) {
        const socket = new WebSocket(`ws://src-${ATTACKER_IP.replaceAll('.', '-')}.localhost:${port}`)
        socket.addEventListener('open', () => { counts.opened++ })
        socket.addEventListener('close', () => { counts.closedByRelay++ })
        socket.addEventListener('error', () => {})
        sockets.push(socket)
        if (i % 100 === 99) {
          await sleep(10)
        }
      }
      await sleep(1_000)
    },
    async stop () {
      for (const socket of sockets) {
        socket.close()
      }
    },
    detail: () => ({ ...counts })
  }
}

// --- run ------------------------------------------------------------------------------------------

function mb (bytes: number): string {
  return (bytes / 2 ** 20).toFixed(0)
}

async function main (): Promise<void> {
  const started = Date.now()
  installSourceIps()
  await startRelay()
  // warm-up: the first WebRTC set-ups and JIT are not the baseline's
  const warm = await honestJoins('https://warm-up.example', 3)
  await stopPages(warm.pages)

  const results: PhaseResult[] = []
  const attacks: Attack[] = [squatting(), sybils(400), namespaceFill(101), connectionFlood(3_000)]
  for (const [i, attack] of attacks.entries()) {
    process.stderr.write(`phase ${attack.name}…\n`)
    results.push(await phase(attack, i))
  }
  const rows = results.map(r => {
    const ratio = r.joinP95Ms / r.baselineP95Ms
    const memBack = r.afterGc.rss / r.before.rss
    return {
      ...r,
      p95VsBaseline: Number(ratio.toFixed(2)),
      rssAfterGcVsBefore: Number(memBack.toFixed(3)),
      holds: r.failedJoins === 0 && ratio <= 2 && memBack <= 1.1
    }
  })
  const header = '| attack | baseline join p50 / p95 ms | attacked join p50 / p95 ms (failed of n) | p95 vs baseline | fake share | relay RSS MB before / during / after / after GC | heap MB before / after GC | holds |'
  const lines = [header, '|---|---|---|---|---|---|---|---|']
  for (const r of rows) {
    lines.push(`| ${r.phase} | ${r.baselineP50Ms} / ${r.baselineP95Ms} | ${r.joinP50Ms} / ${r.joinP95Ms} (${r.failedJoins} of ${r.joinsMs.length}) | ${r.p95VsBaseline}× | ${r.fakeShare == null ? '–' : `${(r.fakeShare * 100).toFixed(1)} %`} | ${mb(r.before.rss)} / ${mb(r.during.rss)} / ${mb(r.after.rss)} / ${mb(r.afterGc.rss)} | ${mb(r.before.heapUsed)} / ${mb(r.afterGc.heapUsed)} | ${r.holds ? 'yes' : 'NO'} |`)
  }
  process.stdout.write(lines.join('\n') + '\n')
  for (const r of rows) {
    if (Object.keys(r.detail).length > 0) {
      process.stdout.write(`${r.phase}: ${JSON.stringify(r.detail)}\n`)
    }
  }
  const json = {
    bench: 'attacks-relay',
    date: new Date().toISOString(),
    node: process.version,
    joinsPerPhase: JOINS,
    durationS: Math.round((Date.now() - started) / 1000),
    relay: 'own process, production defaults, --max-namespaces 400, --expose-gc',
    bars: 'honest joins: 0 failed, p95 <= 2x baseline; relay RSS after the attack (after GC) within 10 % of before',
    phases: rows
  }
  mkdirSync(dirname(args.json), { recursive: true })
  writeFileSync(args.json, JSON.stringify(json, null, 2) + '\n')
  process.stdout.write(`saved ${args.json} (${json.durationS} s)\n`)
  relayProcess.disconnect()
  const { cleanup } = await import('node-datachannel')
  cleanup()
}

main().catch(err => {
  process.stderr.write(`${err?.stack ?? String(err)}\n`)
  relayProcess?.kill()
  process.exitCode = 1
})
