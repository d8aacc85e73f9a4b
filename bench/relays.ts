/**
 * `npm run bench:relays`: many relays, one ring (issue 17). K relays run as
 * the real CLI in their own processes, each configured with the others
 * (`--peer-relay`); Node pages (websockets + circuit relay + WebRTC, as
 * `createRingCdn` pages, one relay each through `RelayKeeper`) run in this
 * process and spread over the relays.
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
 * Prints a table and saves bench/results/relays.json. Environment: PAGES
 * (100), RELAYS (4), WAVE (10 pages created at once), LOOKUPS (400),
 * TIMEOUT_MS (300000 per phase), RING (`default`: the library's ring
 * maintenance, 5 s rounds, with 2 s hop deadlines for a loaded machine;
 * `fast`: the tests' 250 ms rounds, which costs every page far more CPU).
 * Linux only (/proc for relay memory).
 */
import { spawn } from 'node:child_process'
import { once } from 'node:events'
import { readFileSync, mkdtempSync, rmSync } from 'node:fs'
import { mkdir, writeFile } from 'node:fs/promises'
import { cpus, loadavg, tmpdir } from 'node:os'
import { join } from 'node:path'
import { createInterface } from 'node:readline'
import { fileURLToPath } from 'node:url'
import { compareIds, idFromBytes } from '../src/overlay/ring-id.ts'
import { ringIsCorrect, trueSuccessor } from '../test/libp2p/cdn-fixtures.ts'
import { asCdnNodes, createMultiRelayPage, relayOf } from '../test/relay/fixtures.ts'
import { relayIdentities } from './relay-identities.ts'
import type { RelayProcess } from './relay-identities.ts'
import type { MultiRelayPage } from '../test/relay/fixtures.ts'

const PAGES = Number(process.env.PAGES ?? 100)
const RELAYS = Number(process.env.RELAYS ?? 4)
const WAVE = Number(process.env.WAVE ?? 10)
const LOOKUPS = Number(process.env.LOOKUPS ?? 400)
const TIMEOUT_MS = Number(process.env.TIMEOUT_MS ?? 300_000)
const RING = process.env.RING ?? 'default'
const NAMESPACE = 'https://bench.example'
/** Ring settings of the pages (see the header) */
const RING_INIT = RING === 'fast' ? {} : { ring: { stabilizeIntervalMs: 5_000, fixFingersIntervalMs: 5_000, hopTimeoutMs: 2_000 } }
const TS_FLAGS = ['--experimental-transform-types', '--disable-warning=ExperimentalWarning']
const here = (path: string): string => fileURLToPath(new URL(path, import.meta.url))

interface Health { members: number, localMembers: number, remoteListings: number, linkedRelays: number, founded: number, reservations: number, connections: number, arbitrations: number, arbitrationFailures: number, rssBytes: number, heapUsedBytes: number }

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

async function lookups (pages: MultiRelayPage[], n: number): Promise<{ lookups: number, correct: number, wrong: number, failed: number }> {
  const live = asCdnNodes(pages.map(p => p.node))
  const ids = live.map(p => p.services.cdn.nodeId as bigint).sort(compareIds)
  const home = new Map(live.map(p => [p.services.cdn.nodeId as bigint, p.peerId.toString()]))
  const outcomes: Array<'correct' | 'wrong' | 'failed'> = []
  const one = async (): Promise<void> => {
    const key = idFromBytes(crypto.getRandomValues(new Uint8Array(32)))
    const from = live[Math.floor(Math.random() * live.length)]
    try {
      const res = await from.services.cdn.locate(key, { timeout: 10_000 })
      outcomes.push(res.home === home.get(trueSuccessor(ids, key)) ? 'correct' : 'wrong')
    } catch {
      outcomes.push('failed')
    }
  }
  // a few at a time: lookups are ring traffic on the same event loop as every page
  for (let i = 0; i < n; i += 8) {
    await Promise.all(Array.from({ length: Math.min(8, n - i) }, one))
  }
  const count = (what: string): number => outcomes.filter(o => o === what).length
  const [correct, wrong, failed] = [count('correct'), count('wrong'), count('failed')]
  return { lookups: n, correct, wrong, failed }
}

function spread (pages: MultiRelayPage[], relays: RelayProcess[]): { perRelay: number[], maxDeviation: number } {
  const perRelay = relays.map(r => pages.filter(p => relayOf(p.node) === r.peerId).length)
  const mean = pages.length / relays.length
  const maxDeviation = Math.max(...perRelay.map(n => Math.abs(n - mean) / mean))
  return { perRelay, maxDeviation: Math.round(maxDeviation * 1000) / 1000 }
}

async function main (): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'ringcdn-relays-'))
  const relays = await relayIdentities(RELAYS, dir)
  const pages: MultiRelayPage[] = []
  const cleanup = (): void => {
    for (const r of relays) {
      r.child?.kill('SIGKILL')
    }
    rmSync(dir, { recursive: true, force: true })
  }
  process.once('exit', cleanup)
  for (const signal of ['SIGINT', 'SIGTERM'] as const) {
    process.once(signal, () => { process.exit(130) })
  }

  const load = { before: loadavg(), cpus: cpus().length }
  process.stdout.write(`bench:relays: ${PAGES} pages over ${RELAYS} relays (load ${load.before.map(l => l.toFixed(2)).join(' ')}, ${load.cpus} CPUs)\n`)

  // 0. relays, linked to each other
  let t = Date.now()
  await Promise.all(relays.map(async r => startRelay(r, relays)))
  const linkMs = await until('the relays to link', async () => (await Promise.all(relays.map(health))).every(h => h.linkedRelays === RELAYS - 1))
  process.stdout.write(`relays linked in ${seconds(Date.now() - t)} s\n`)

  // 1. pages: the founder, then waves
  const addrs = relays.map(r => r.addr)
  const rampStart = Date.now()
  const founder = await createMultiRelayPage(addrs, { namespace: NAMESPACE, ...RING_INIT })
  pages.push(founder)
  await founder.node.services.cdn.whenJoined({ signal: AbortSignal.timeout(TIMEOUT_MS) })
  // waves, each joined before the next starts (pages arrive over time on a real site; a failed join
  // attempt is retried by the page itself, so joining is polled, not awaited)
  const joined = (p: MultiRelayPage): boolean => p.node.services.cdn.getRing().joined
  while (pages.length < PAGES) {
    const n = Math.min(WAVE, PAGES - pages.length)
    pages.push(...await Promise.all(Array.from({ length: n }, async () => createMultiRelayPage(addrs, { namespace: NAMESPACE, ...RING_INIT }))))
    await until(`${pages.length} pages to join`, () => pages.every(joined))
    process.stdout.write(`${pages.length} pages joined at ${seconds(Date.now() - rampStart)} s\n`)
  }
  const createdMs = Date.now() - rampStart
  const nodes = asCdnNodes(pages.map(p => p.node))
  const joinedMs = Date.now() - rampStart
  await until('the true ring', () => ringIsCorrect(nodes))
  const ringMs = Date.now() - rampStart
  await until('every page to hold a reservation', () => pages.every(p => relayOf(p.node) != null))
  await until('every relay to list every page', async () => (await Promise.all(relays.map(health))).every(h => h.members === PAGES))
  const listedMs = Date.now() - rampStart
  const healthAfterRamp = await Promise.all(relays.map(health))
  const spreadAfterRamp = spread(pages, relays)
  process.stdout.write(`ring of ${PAGES}: created ${seconds(createdMs)} s, joined ${seconds(joinedMs)} s, true ring ${seconds(ringMs)} s; pages per relay ${spreadAfterRamp.perRelay.join(' ')}\n`)
  const lookupsAfterRamp = await lookups(pages, LOOKUPS)
  process.stdout.write(`lookups: ${lookupsAfterRamp.correct}/${lookupsAfterRamp.lookups} correct, ${lookupsAfterRamp.wrong} wrong, ${lookupsAfterRamp.failed} failed\n`)

  // 2. one relay killed mid-run
  const victim = relays.reduce((a, b) => spreadAfterRamp.perRelay[b.index] > spreadAfterRamp.perRelay[a.index] ? b : a)
  const movers = pages.filter(p => relayOf(p.node) === victim.peerId)
  const others = relays.filter(r => r !== victim)
  const peakRssBefore = relays.map(r => r.child?.pid != null ? peakRss(r.child.pid) : NaN)
  t = Date.now()
  victim.child?.kill('SIGKILL')
  await once(victim.child!, 'exit')
  const movedMs = await until('the killed relay\'s pages to reserve elsewhere', () => movers.every(p => { const r = relayOf(p.node); return r != null && r !== victim.peerId }))
  await until('the other relays to list every page again', async () => (await Promise.all(others.map(health))).every(h => h.members === PAGES))
  const relistedMs = Date.now() - t
  const ringTrueAfterKill = ringIsCorrect(nodes)
  const ringAfterKillMs = await until('the true ring after the kill', () => ringIsCorrect(nodes))
  const lookupsAfterKill = await lookups(pages, LOOKUPS)
  const spreadAfterKill = spread(pages, relays)
  process.stdout.write(`relay ${victim.index} killed (${movers.length} pages): moved in ${seconds(movedMs)} s, relisted in ${seconds(relistedMs)} s, ring true throughout: ${String(ringTrueAfterKill)}; lookups ${lookupsAfterKill.correct}/${lookupsAfterKill.lookups} correct\n`)

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
    command: `PAGES=${PAGES} RELAYS=${RELAYS} WAVE=${WAVE} LOOKUPS=${LOOKUPS} RING=${RING} npm run bench:relays`,
    load: { ...load, after: loadavg() },
    pages: PAGES,
    relays: RELAYS,
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
      pagesOnIt: movers.length,
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
  await mkdir(here('./results'), { recursive: true })
  await writeFile(here('./results/relays.json'), JSON.stringify(result, null, 2) + '\n')
  process.stdout.write(JSON.stringify(result, null, 2) + '\nsaved bench/results/relays.json\n')

  for (const page of pages) {
    await page.stop().catch(() => {})
  }
  cleanup()
  const { cleanup: closeDataChannels } = await import('node-datachannel')
  closeDataChannels()
  process.exit(0)
}

main().catch(err => {
  process.stderr.write(`bench:relays failed: ${err.stack ?? err}\n`)
  process.exit(1)
})
