/**
 * `npm run bench:relays`: many relays, one ring (issue 17). K relays run as
 * the real CLI in their own processes, each configured with the others
 * (`--peer-relay`); Node pages (websockets + circuit relay + WebRTC, as
 * `createRingCdn` pages, one relay each through `RelayKeeper`) run in W page
 * processes (`bench/relays/pages.ts`; page i in process i mod W) and spread
 * over the relays. One event loop does not carry dozens of WebRTC pages on a
 * 2-core machine (its pages starve and the relays close their websockets), so
 * this process keeps only the relays and the measuring: it reads each page's
 * node id, successor, predecessor and relay, and has pages run lookups,
 * over IPC (`bench/relays/protocol.ts`), every request with a deadline.
 *
 * Measured:
 * 1. the pages form one ring: time from the first page to every page joined
 * and to the true ring (every successor and predecessor right), pages per
 * relay, every relay listing every page, rings founded (must be 1);
 * 2. lookups from random pages for random keys: the answered home node
 * against the true successor;
 * 3. one relay killed (SIGKILL) mid-run: time until its pages hold a
 * reservation on another relay, until the other relays list every page
 * again, whether the ring stays true, and lookups again;
 * 4. the killed relay restarted (same identity and port): time until it is
 * linked again and lists every page.
 *
 * Prints its progress and the figures, and saves them as JSON (OUT,
 * default bench/results/relays.json). Environment: PAGES (100), RELAYS (4),
 * WORKERS (2 page processes), WAVE (10 pages created at once, round-robin
 * over the page processes), LOOKUPS (400), TIMEOUT_MS (300000 per phase),
 * RING (`default`: the library's ring maintenance, 5 s rounds, with 2 s hop
 * deadlines for a loaded machine; `fast`: the tests' 250 ms rounds, which
 * costs every page far more CPU), OUT. Linux only (/proc for memory).
 */
import { spawn } from 'node:child_process'
import { once } from 'node:events'
import { readFileSync, mkdtempSync, rmSync } from 'node:fs'
import { mkdir, writeFile } from 'node:fs/promises'
import { cpus, loadavg, tmpdir } from 'node:os'
import { dirname, join, resolve } from 'node:path'
import { createInterface } from 'node:readline'
import { fileURLToPath } from 'node:url'
import { compareIds, idFromBytes } from '../src/overlay/ring-id.ts'
import { trueSuccessor } from '../test/libp2p/cdn-fixtures.ts'
import { relayIdentities } from './relay-identities.ts'
import { PageProcess } from './relays/page-process.ts'
import type { RelayProcess } from './relay-identities.ts'
import type { PageState } from './relays/protocol.ts'

const PAGES = Number(process.env.PAGES ?? 100)
const RELAYS = Number(process.env.RELAYS ?? 4)
const WORKERS = Number(process.env.WORKERS ?? 2)
const WAVE = Number(process.env.WAVE ?? 10)
const LOOKUPS = Number(process.env.LOOKUPS ?? 400)
const TIMEOUT_MS = Number(process.env.TIMEOUT_MS ?? 300_000)
const RING = process.env.RING === 'fast' ? 'fast' : 'default'
/** Where the figures are saved; a relative path is relative to the working directory */
const OUT = process.env.OUT
const NAMESPACE = 'https://bench.example'
/** Bound on a page process creating one page (libp2p start, no reservation yet), ms */
const CREATE_TIMEOUT_MS = 120_000
/** Bound on a page process reporting its pages' states, ms: a loaded machine answers late, but answers */
const STATES_TIMEOUT_MS = 60_000
/** A page's own deadline on one lookup, ms */
const LOOKUP_TIMEOUT_MS = 10_000
/** Time for a lookup's answer to cross the IPC channel of a loaded page process, beyond the lookup's own deadline, ms */
const LOOKUP_REPLY_MARGIN_MS = 20_000
/** Lookups in flight at once */
const LOOKUP_CONCURRENCY = 8
const TS_FLAGS = ['--experimental-transform-types', '--disable-warning=ExperimentalWarning']
const here = (path: string): string => fileURLToPath(new URL(path, import.meta.url))

/** An environment variable that is not a positive integer */
class InvalidSettingError extends Error {
  static name = 'InvalidSettingError'
  name = 'InvalidSettingError'
}

interface Health { members: number, localMembers: number, remoteListings: number, linkedRelays: number, founded: number, reservations: number, connections: number, arbitrations: number, arbitrationFailures: number, rssBytes: number, heapUsedBytes: number }

interface Lookups { lookups: number, correct: number, wrong: number, failed: number, failures: Record<string, number> }

const sleep = async (ms: number): Promise<void> => new Promise(resolve => setTimeout(resolve, ms))
const mib = (bytes: number): number => Math.round(bytes / 1024 / 1024 * 10) / 10
const seconds = (ms: number): number => Math.round(ms / 100) / 10

async function health (relay: RelayProcess): Promise<Health> {
  const res = await fetch(`${relay.http}/health`, { signal: AbortSignal.timeout(10_000) })
  return await res.json() as Health
}

function peakRss (pid: number): number {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8')
  return Number(/^VmHWM:\s+(\d+) kB/m.exec(status)?.[1] ?? NaN) * 1024
}

/** Waits for `condition` (polled every 250 ms); returns the ms it took, or throws naming `what` */
async function until (what: string, condition: () => boolean | Promise<boolean>, timeout = TIMEOUT_MS): Promise<number> {
  const start = Date.now()
  while (!(await condition())) {
    if (Date.now() - start > timeout) {
      throw new Error(`timed out after ${timeout} ms waiting for ${what}`)
    }
    await sleep(250)
  }
  return Date.now() - start
}

async function startRelay (relay: RelayProcess, all: RelayProcess[]): Promise<void> {
  const args = ['--port', String(relay.port), '--http-port', '0', '--identity', relay.keyFile,
    '--peer-relay', all.filter(r => r !== relay).map(r => r.addr).join(','),
    // every page comes from 127.0.0.1: the per-IP limits would measure nothing but themselves
    '--connection-rate', '1000000', '--max-pending', '10000',
    '--max-connections-per-ip', '100000', '--max-pending-per-ip', '10000',
    '--max-members-per-ip', '100000', '--max-members-per-ip-per-namespace', '100000',
    '--registration-burst', '100000', '--registrations-per-minute', '1000000', '--sample-per-ip', '8']
  const child = spawn(process.execPath, [...TS_FLAGS, here('../relay/cli.ts'), ...args], { stdio: ['ignore', 'pipe', 'inherit'] })
  relay.child = child
  const lines = createInterface({ input: child.stdout! })
  try {
    const [line] = await once(lines, 'line', { signal: AbortSignal.timeout(120_000) }) as [string]
    relay.http = JSON.parse(line).http
  } finally {
    lines.close()
  }
}

/** The pages, spread over the page processes: page `index` lives in process `index` mod their number */
class Pages {
  readonly processes: PageProcess[]
  /** Pages created so far (indices 0 … created - 1) */
  created = 0

  constructor (processes: PageProcess[]) {
    this.processes = processes
  }

  processOf (index: number): PageProcess {
    return this.processes[index % this.processes.length]
  }

  /** Creates the next `n` pages (round-robin over the processes) and waits until each exists */
  async create (n: number): Promise<void> {
    const indices = Array.from({ length: n }, (_, i) => this.created + i)
    await Promise.all(indices.map(async index => this.processOf(index).request({ type: 'create', index }, CREATE_TIMEOUT_MS)))
    this.created += n
  }

  /** Every page's state, by index; throws when a page process is gone or does not answer */
  async states (): Promise<PageState[]> {
    const crashed = this.processes.find(p => p.crashed != null)
    if (crashed != null) {
      throw new Error(`${crashed.crashed} during the run`)
    }
    const all = await Promise.all(this.processes.map(async p => p.request({ type: 'states' }, STATES_TIMEOUT_MS)))
    return all.flat().sort((a, b) => a.index - b.index)
  }

  /** Whether all `created` pages have joined */
  async allJoined (): Promise<boolean> {
    const states = await this.states()
    return states.length === this.created && states.every(s => s.joined)
  }

  /** Page `index` looks up `key`: the home's peer id it answered */
  async lookup (index: number, key: bigint): Promise<string> {
    const answer = await this.processOf(index).request({ type: 'lookup', index, key: key.toString(), timeoutMs: LOOKUP_TIMEOUT_MS }, LOOKUP_TIMEOUT_MS + LOOKUP_REPLY_MARGIN_MS)
    return answer.home
  }

  /** Stops every page process, one after another: results are saved by then, time matters less than a clean exit */
  async stop (): Promise<void> {
    for (const p of this.processes) {
      await p.stop()
    }
  }
}

/** Whether every page's first successor and predecessor are its true neighbours */
function ringIsTrue (states: PageState[]): boolean {
  if (states.length === 0 || states.some(s => s.nodeId == null)) {
    return false
  }
  const byId = new Map(states.map(s => [BigInt(s.nodeId!), s]))
  const ids = [...byId.keys()].sort(compareIds)
  return ids.length === states.length && ids.every((id, i) => {
    const s = byId.get(id)
    return s?.successor === ids[(i + 1) % ids.length].toString() && s?.predecessor === ids[(i - 1 + ids.length) % ids.length].toString()
  })
}

/** `n` lookups from random pages for random keys, each answer judged against the true successor */
async function lookups (pages: Pages, n: number): Promise<Lookups> {
  const live = await pages.states()
  const ids = live.map(s => BigInt(s.nodeId!)).sort(compareIds)
  const home = new Map(live.map(s => [BigInt(s.nodeId!), s.peerId]))
  const outcomes: Array<'correct' | 'wrong' | 'failed'> = []
  const failures: Record<string, number> = {}
  const one = async (): Promise<void> => {
    const key = idFromBytes(crypto.getRandomValues(new Uint8Array(32)))
    const from = live[Math.floor(Math.random() * live.length)]
    try {
      const answered = await pages.lookup(from.index, key)
      outcomes.push(answered === home.get(trueSuccessor(ids, key)) ? 'correct' : 'wrong')
    } catch (err: any) {
      const name = err?.name ?? 'Error'
      failures[name] = (failures[name] ?? 0) + 1
      outcomes.push('failed')
    }
  }
  // a few at a time: lookups are ring traffic on the same event loops as the pages' maintenance
  for (let i = 0; i < n; i += LOOKUP_CONCURRENCY) {
    await Promise.all(Array.from({ length: Math.min(LOOKUP_CONCURRENCY, n - i) }, one))
  }
  const count = (what: string): number => outcomes.filter(o => o === what).length
  const [correct, wrong, failed] = [count('correct'), count('wrong'), count('failed')]
  return { lookups: n, correct, wrong, failed, failures }
}

function spread (states: PageState[], relays: RelayProcess[]): { perRelay: number[], maxDeviation: number } {
  const perRelay = relays.map(r => states.filter(s => s.relay === r.peerId).length)
  const mean = states.length / relays.length
  const maxDeviation = Math.max(...perRelay.map(n => Math.abs(n - mean) / mean))
  return { perRelay, maxDeviation: Math.round(maxDeviation * 1000) / 1000 }
}

function checkSettings (): void {
  for (const [name, value] of Object.entries({ PAGES, RELAYS, WORKERS, WAVE, LOOKUPS, TIMEOUT_MS })) {
    if (!Number.isInteger(value) || value < 1) {
      throw new InvalidSettingError(`${name} must be a positive integer, got ${process.env[name]}`)
    }
  }
}

async function main (): Promise<void> {
  checkSettings()
  const dir = mkdtempSync(join(tmpdir(), 'ringcdn-relays-'))
  const relays = await relayIdentities(RELAYS, dir)
  const processes: PageProcess[] = []
  const cleanup = (): void => {
    for (const p of processes) {
      p.kill()
    }
    for (const r of relays) {
      r.child?.kill('SIGKILL')
    }
    rmSync(dir, { recursive: true, force: true })
  }
  process.once('exit', cleanup)
  for (const signal of ['SIGINT', 'SIGTERM'] as const) {
    process.once(signal, () => { process.exit(130) })
  }

  const workers = Math.min(WORKERS, PAGES)
  const load = { before: loadavg(), cpus: cpus().length }
  process.stdout.write(`bench:relays: ${PAGES} pages over ${RELAYS} relays, in ${workers} page processes (load ${load.before.map(l => l.toFixed(2)).join(' ')}, ${load.cpus} CPUs)\n`)

  // 0. relays, linked to each other; the page processes
  let t = Date.now()
  await Promise.all(relays.map(async r => startRelay(r, relays)))
  const linkMs = await until('the relays to link', async () => (await Promise.all(relays.map(health))).every(h => h.linkedRelays === RELAYS - 1))
  process.stdout.write(`relays linked in ${seconds(Date.now() - t)} s\n`)
  const options = { relays: relays.map(r => r.addr), namespace: NAMESPACE, ring: RING } as const
  // added as each starts, so that a failure of one still kills the others
  await Promise.all(Array.from({ length: workers }, async (_, i) => { processes.push(await PageProcess.start(i, options)) }))
  processes.sort((a, b) => a.index - b.index)
  const pages = new Pages(processes)

  // 1. pages: the founder, then waves
  const rampStart = Date.now()
  await pages.create(1)
  await until('the first page to found the ring', async () => pages.allJoined())
  // waves, each joined before the next starts (pages arrive over time on a real site; a failed join
  // attempt is retried by the page itself, so joining is polled, not awaited)
  while (pages.created < PAGES) {
    await pages.create(Math.min(WAVE, PAGES - pages.created))
    await until(`${pages.created} pages to join`, async () => pages.allJoined())
    process.stdout.write(`${pages.created} pages joined at ${seconds(Date.now() - rampStart)} s\n`)
  }
  const createdMs = Date.now() - rampStart
  const joinedMs = Date.now() - rampStart
  await until('the true ring', async () => ringIsTrue(await pages.states()))
  const ringMs = Date.now() - rampStart
  await until('every page to hold a reservation', async () => (await pages.states()).every(s => s.relay != null))
  await until('every relay to list every page', async () => (await Promise.all(relays.map(health))).every(h => h.members === PAGES))
  const listedMs = Date.now() - rampStart
  const healthAfterRamp = await Promise.all(relays.map(health))
  const spreadAfterRamp = spread(await pages.states(), relays)
  process.stdout.write(`ring of ${PAGES}: created ${seconds(createdMs)} s, joined ${seconds(joinedMs)} s, true ring ${seconds(ringMs)} s; pages per relay ${spreadAfterRamp.perRelay.join(' ')}\n`)
  const lookupsAfterRamp = await lookups(pages, LOOKUPS)
  process.stdout.write(`lookups: ${lookupsAfterRamp.correct}/${lookupsAfterRamp.lookups} correct, ${lookupsAfterRamp.wrong} wrong, ${lookupsAfterRamp.failed} failed\n`)

  // 2. one relay killed mid-run
  const victim = relays.reduce((a, b) => spreadAfterRamp.perRelay[b.index] > spreadAfterRamp.perRelay[a.index] ? b : a)
  const movers = new Set((await pages.states()).filter(s => s.relay === victim.peerId).map(s => s.index))
  const others = relays.filter(r => r !== victim)
  const peakRssBefore = relays.map(r => r.child?.pid != null ? peakRss(r.child.pid) : NaN)
  t = Date.now()
  victim.child?.kill('SIGKILL')
  await once(victim.child!, 'exit')
  const movedMs = await until('the killed relay\'s pages to reserve elsewhere', async () => (await pages.states()).filter(s => movers.has(s.index)).every(s => s.relay != null && s.relay !== victim.peerId))
  await until('the other relays to list every page again', async () => (await Promise.all(others.map(health))).every(h => h.members === PAGES))
  const relistedMs = Date.now() - t
  const ringTrueAfterKill = ringIsTrue(await pages.states())
  const ringAfterKillMs = await until('the true ring after the kill', async () => ringIsTrue(await pages.states()))
  const lookupsAfterKill = await lookups(pages, LOOKUPS)
  const spreadAfterKill = spread(await pages.states(), relays)
  process.stdout.write(`relay ${victim.index} killed (${movers.size} pages): moved in ${seconds(movedMs)} s, relisted in ${seconds(relistedMs)} s, ring true throughout: ${String(ringTrueAfterKill)}; lookups ${lookupsAfterKill.correct}/${lookupsAfterKill.lookups} correct\n`)

  // 3. the killed relay restarted
  t = Date.now()
  await startRelay(victim, relays)
  const backMs = await until('the restarted relay to link and list every page', async () => {
    const h = await Promise.all(relays.map(health))
    return h.every(x => x.linkedRelays === RELAYS - 1) && h[victim.index].members === PAGES
  })
  process.stdout.write(`relay ${victim.index} restarted: linked and listing all ${PAGES} pages in ${seconds(backMs)} s\n`)
  const healthEnd = await Promise.all(relays.map(health))
  const peakRssEnd = relays.map(r => r.child?.pid != null ? peakRss(r.child.pid) : NaN)

  const result = {
    date: new Date().toISOString(),
    command: `PAGES=${PAGES} RELAYS=${RELAYS} WORKERS=${WORKERS} WAVE=${WAVE} LOOKUPS=${LOOKUPS} RING=${RING} npm run bench:relays`,
    load: { ...load, after: loadavg() },
    pages: PAGES,
    relays: RELAYS,
    pageProcesses: {
      count: workers,
      peakRssMiB: processes.map(p => mib(p.peakRss()))
    },
    ring: {
      relaysLinkedMs: linkMs,
      pagesCreatedMs: createdMs,
      allJoinedMs: joinedMs,
      trueRingMs: ringMs,
      everyRelayListsEveryPageMs: listedMs,
      ringsFounded: healthAfterRamp.reduce((n, h) => n + h.founded, 0),
      arbitrations: healthAfterRamp.reduce((n, h) => n + h.arbitrations, 0),
      arbitrationFailures: healthAfterRamp.reduce((n, h) => n + h.arbitrationFailures, 0),
      pagesPerRelay: spreadAfterRamp.perRelay,
      maxDeviationFromMean: spreadAfterRamp.maxDeviation,
      relayHealth: healthAfterRamp.map(h => ({ members: h.members, localMembers: h.localMembers, remoteListings: h.remoteListings, reservations: h.reservations, connections: h.connections, rssMiB: mib(h.rssBytes), heapMiB: mib(h.heapUsedBytes) })),
      lookups: lookupsAfterRamp
    },
    relayKilled: {
      relay: victim.index,
      pagesOnIt: movers.size,
      pagesReservedElsewhereMs: movedMs,
      otherRelaysListEveryPageMs: relistedMs,
      ringTrueRightAfterMoves: ringTrueAfterKill,
      trueRingMs: ringAfterKillMs,
      pagesPerRelay: spreadAfterKill.perRelay,
      lookups: lookupsAfterKill,
      peakRssMiBBefore: peakRssBefore.map(mib)
    },
    relayRestarted: {
      linkedAndListingEveryPageMs: backMs,
      relayHealth: healthEnd.map(h => ({ members: h.members, localMembers: h.localMembers, rssMiB: mib(h.rssBytes) })),
      peakRssMiB: peakRssEnd.map(mib)
    }
  }
  const out = OUT != null ? resolve(OUT) : here('./results/relays.json')
  await mkdir(dirname(out), { recursive: true })
  await writeFile(out, JSON.stringify(result, null, 2) + '\n')
  process.stdout.write(JSON.stringify(result, null, 2) + `\nsaved ${OUT ?? 'bench/results/relays.json'}\n`)

  await pages.stop()
  cleanup()
  process.exit(0)
}

main().catch(err => {
  process.stderr.write(`bench:relays failed: ${err.stack ?? err}\n`)
  process.exit(1)
})
