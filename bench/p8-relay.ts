/**
 * `npm run bench:p8`: relays with thousands of concurrent clients holding
 * reservations. Each relay runs alone in its own process (the real CLI,
 * `relay/cli.ts`), so its memory and CPU are measured by themselves; the
 * clients are Node libp2p nodes (websockets + circuit relay transport, as
 * pages) spread over several child processes (`bench/p8/clients.ts`) and
 * ramped in batches.
 *
 * With `RELAYS` > 1 the relays run as a site runs several (issue 17): each
 * is given the others with `--peer-relay`, and each client picks its relay
 * with the library's own choice (`relayOrder`, the rendezvous order a page's
 * `RelayKeeper` uses). With `NAMESPACE` set every reserved client also
 * registers as a member of that namespace (as a page that joined the ring),
 * so the relays' shared member lists (each relay holds every member, its own
 * and its peers') are in the figures too.
 *
 * Measured per relay: its peak RSS (VmHWM from /proc, bar ≤ 1 GiB), its
 * reservations and connections (from /health: the clients really hold
 * reservations), its members (own and listed by peers), and its CPU seconds
 * (utime + stime from /proc) over the ramp and a hold period, in which the
 * relay's connection monitor pings every client. Over the relays: the
 * connect rate (reservations per second of the ramp), the total reserved,
 * and the spread (each relay's reservations against the mean).
 *
 * Prints a table and saves bench/results/p8-relay.json (one relay),
 * bench/results/p8-relays-<K>.json (K relays) or
 * bench/results/p8-relays-<K>-members.json (K relays, with NAMESPACE).
 * Environment: CLIENTS (5000), RELAYS (1), NAMESPACE (none), WORKERS (4),
 * BATCH (25 per worker), HOLD_MS (20000), TIMEOUT_MS (900000),
 * MIN_AVAILABLE_MIB (3072), RELAY_NODE_FLAGS (none). Linux only (/proc).
 *
 * When the ramp passes TIMEOUT_MS, or the machine has less than
 * MIN_AVAILABLE_MIB of memory available (the clients are the memory hog, and
 * the machine is shared), the client processes stop creating clients and
 * what was reached is held and measured; the saved file names the bound
 * (`rampStoppedBy`).
 */
import { spawn } from 'node:child_process'
import { once } from 'node:events'
import { mkdtempSync, readFileSync, rmSync } from 'node:fs'
import { mkdir, writeFile } from 'node:fs/promises'
import { cpus, loadavg, tmpdir } from 'node:os'
import { join } from 'node:path'
import { createInterface } from 'node:readline'
import { fileURLToPath } from 'node:url'
import { relayIdentities } from './relay-identities.ts'
import type { RelayProcess } from './relay-identities.ts'
import type { ChildProcess } from 'node:child_process'

const CLIENTS = Number(process.env.CLIENTS ?? 5_000)
const RELAYS = Number(process.env.RELAYS ?? 1)
const NAMESPACE = process.env.NAMESPACE ?? ''
const WORKERS = Number(process.env.WORKERS ?? 4)
const BATCH = Number(process.env.BATCH ?? 25)
const HOLD_MS = Number(process.env.HOLD_MS ?? 20_000)
const TIMEOUT_MS = Number(process.env.TIMEOUT_MS ?? 900_000)
/** Extra Node flags of the relay processes, e.g. `--max-old-space-size=512` */
const RELAY_NODE_FLAGS = (process.env.RELAY_NODE_FLAGS ?? '').split(' ').filter(f => f !== '')
/** The ramp stops (and what it reached is measured) when the machine has less memory available, MiB */
const MIN_AVAILABLE_MIB = Number(process.env.MIN_AVAILABLE_MIB ?? 3_072)
/** Bound on the client processes finishing their batch once asked to stop, ms */
const STOP_GRACE_MS = 180_000
const RSS_BAR_BYTES = 1024 ** 3
/** Largest deviation of a relay's clients from the mean (issue 17: ±15 %) */
const SPREAD_BAR = 0.15
const CLOCK_TICKS = 100
const TS_FLAGS = ['--experimental-transform-types', '--disable-warning=ExperimentalWarning']
const here = (path: string): string => fileURLToPath(new URL(path, import.meta.url))

interface ProcSample { rss: number, peakRss: number, cpuSeconds: number }

/** RSS, peak RSS (bytes) and CPU seconds of a process, from /proc */
function sample (pid: number): ProcSample {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8')
  const kib = (field: string): number => Number(new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(status)?.[1] ?? NaN) * 1024
  // fields after the command name (which may hold spaces) in /proc/<pid>/stat; utime and stime are the 12th and 13th
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8')
  const rest = stat.slice(stat.lastIndexOf(')') + 2).split(' ')
  return { rss: kib('VmRSS'), peakRss: kib('VmHWM'), cpuSeconds: (Number(rest[11]) + Number(rest[12])) / CLOCK_TICKS }
}

/** MemAvailable of the machine, bytes */
function memAvailable (): number {
  return Number(/^MemAvailable:\s+(\d+) kB/m.exec(readFileSync('/proc/meminfo', 'utf8'))?.[1] ?? NaN) * 1024
}

interface Health { reservations: number, connections: number, members: number, localMembers: number, remoteListings: number, linkedRelays: number, registrations: number, notListed: number, refusedConnections: number, heapUsedBytes: number }

/** Deadline of one /health request, ms: a relay on a loaded machine answers late, but answers */
const HEALTH_TIMEOUT_MS = 30_000
/** /health requests before the run fails */
const HEALTH_ATTEMPTS = 3

async function health (url: string): Promise<Health> {
  for (let attempt = 1; ; attempt++) {
    try {
      const res = await fetch(`${url}/health`, { signal: AbortSignal.timeout(HEALTH_TIMEOUT_MS) })
      return await res.json() as Health
    } catch (err: any) {
      if (attempt >= HEALTH_ATTEMPTS) {
        throw new Error(`${url}/health did not answer in ${HEALTH_ATTEMPTS} attempts of ${HEALTH_TIMEOUT_MS} ms`, { cause: err })
      }
      process.stderr.write(`${url}/health: ${err.name} (attempt ${attempt}), asking again\n`)
    }
  }
}

async function firstLine (child: ChildProcess, timeout: number): Promise<string> {
  const lines = createInterface({ input: child.stdout! })
  try {
    const [line] = await once(lines, 'line', { signal: AbortSignal.timeout(timeout) }) as [string]
    return line
  } finally {
    lines.close()
  }
}

const sleep = async (ms: number): Promise<void> => new Promise(resolve => setTimeout(resolve, ms))
const mib = (bytes: number): number => Math.round(bytes / 1024 / 1024 * 10) / 10
const round1 = (n: number): number => Math.round(n * 10) / 10

/** Waits for `condition` (polled every 500 ms), or throws naming `what` */
async function until (what: string, condition: () => Promise<boolean>, timeout: number): Promise<void> {
  const start = Date.now()
  while (!(await condition())) {
    if (Date.now() - start > timeout) {
      throw new Error(`timed out after ${timeout} ms waiting for ${what}`)
    }
    await sleep(500)
  }
}

async function startRelay (relay: RelayProcess, all: RelayProcess[]): Promise<void> {
  const peers = all.filter(r => r !== relay).map(r => r.addr)
  const args = ['--port', String(relay.port), '--http-port', '0', '--identity', relay.keyFile,
    ...(peers.length > 0 ? ['--peer-relay', peers.join(',')] : []),
    // every client comes from 127.0.0.1: the per-IP limits would measure nothing but themselves
    '--connection-rate', '1000000', '--max-pending', String(Math.max(1_000, CLIENTS)),
    '--max-connections-per-ip', String(CLIENTS * 2), '--max-pending-per-ip', String(Math.max(1_000, CLIENTS)),
    '--max-members-per-ip', String(CLIENTS * 2), '--max-members-per-ip-per-namespace', String(CLIENTS * 2),
    '--registration-burst', String(CLIENTS * 2), '--registrations-per-minute', '1000000',
    '--max-reservations', String(CLIENTS * 2), '--max-connections', String(CLIENTS * 2)]
  const child = spawn(process.execPath, [...TS_FLAGS, ...RELAY_NODE_FLAGS, here('../relay/cli.ts'), ...args], { stdio: ['ignore', 'pipe', 'inherit'] })
  relay.child = child
  relay.pid = child.pid
  relay.http = (JSON.parse(await firstLine(child, 300_000)) as { http: string }).http
}

/** Deviation of each count from the mean of `counts`, as a fraction of the mean */
function deviations (counts: number[]): number[] {
  const mean = counts.reduce((a, b) => a + b, 0) / counts.length
  return counts.map(n => mean === 0 ? 0 : (n - mean) / mean)
}

/** A client process's counts (its last progress line) */
interface Progress { created: number, reserved: number, failed: number, moved: number, registered: number, chosen: number[], done?: boolean }

interface RelayFigures {
  relay: number
  peerId: string
  reservationsAfterRamp: number
  reservationsAfterHold: number
  peakReservations: number
  peakConnections: number
  /** Clients whose first choice it was */
  chosenByClients: number
  deviationFromMeanPercent: number
  /** With NAMESPACE: members registered here, members listed (own and peers'), listings from peers */
  localMembers?: number
  membersListed?: number
  remoteListings?: number
  registrations?: number
  notListed?: number
  linkedRelays: number
  refusedConnections: number
  baselineRssMiB: number
  rssAfterRampMiB: number
  rssAfterHoldMiB: number
  peakRssMiB: number
  heapUsedAfterHoldMiB: number
  rssPerClientKiB: number
  cpuSecondsRamp: number
  cpuSecondsHold: number
  cpuMsPerClientConnect: number
  withinRssBar: boolean
  exitCode: number | null
}

interface Result {
  benchmark: string
  command: string
  relayNodeFlags: string[]
  date: string
  machine: { cpus: number, cpuModel?: string, node: string }
  load: { before: number[], after: number[] }
  clients: number
  relays: number
  namespace?: string
  workers: number
  batchPerWorker: number
  clientsReserved: number
  clientsFailed: number
  clientsMovedToNextRelay: number
  clientsRegistered?: number
  reservationsAfterRamp: number
  reservationsAfterHold: number
  /** Why the ramp stopped before every client was created (a bound of the run), if it did */
  rampStoppedBy?: string
  clientsCreated: number
  rampSeconds: number
  connectRatePerSecond: number
  /** All client processes together, MiB */
  clientProcessesPeakRssMiB: number
  spread: {
    meanPerRelay: number
    maxDeviationPercent: number
    minDeviationPercent: number
    barPercent: number
    withinBar: boolean
    firstChoiceMaxDeviationPercent: number
    firstChoiceMinDeviationPercent: number
  }
  relayPeakRssMiB: number
  relayCpuSecondsRamp: number
  relayCpuSecondsHold: number
  holdSeconds: number
  rssBarMiB: number
  withinRssBar: boolean
  allClientsReserved: boolean
  perRelay: RelayFigures[]
}

/** Prints the per-relay table and the totals */
function report (result: Result): void {
  const { perRelay, clients: count, load } = result
  const withMembers = result.namespace != null
  const table: string[][] = [['relay', 'chosen', 'reserved (ramp / hold)', 'deviation', ...(withMembers ? ['members own + peers\''] : []), 'RSS base → hold', 'peak RSS', 'per client', 'CPU ramp', 'CPU hold']]
  for (const r of perRelay) {
    table.push([String(r.relay), String(r.chosenByClients), `${r.reservationsAfterRamp} / ${r.reservationsAfterHold}`, `${r.deviationFromMeanPercent > 0 ? '+' : ''}${r.deviationFromMeanPercent} %`,
      ...(withMembers ? [`${r.localMembers} + ${(r.membersListed ?? 0) - (r.localMembers ?? 0)}`] : []),
      `${r.baselineRssMiB} → ${r.rssAfterHoldMiB} MiB`, `${r.peakRssMiB} MiB${r.withinRssBar ? '' : ' (OVER)'}`, `${r.rssPerClientKiB} KiB`,
      `${r.cpuSecondsRamp} s (${r.cpuMsPerClientConnect} ms/client)`, `${r.cpuSecondsHold} s`])
  }
  const widths = table[0].map((_, c) => Math.max(...table.map(row => row[c].length)))
  process.stdout.write(`\nP8: ${count} clients over ${result.relays} relay(s), ${result.workers} client processes, ${result.machine.cpus} CPUs (load ${load.before[0].toFixed(1)} → ${load.after[0].toFixed(1)})\n`)
  for (const row of table) {
    process.stdout.write(row.map((cell, c) => cell.padEnd(widths[c])).join('  ') + '\n')
  }
  process.stdout.write(`reserved ${result.reservationsAfterHold} / ${count} after the ${result.holdSeconds} s hold (${result.clientsFailed} clients failed, ${result.clientsMovedToNextRelay} moved to their next relay${withMembers ? `, ${result.clientsRegistered ?? 0} registered in ${result.namespace}` : ''}); ramp ${result.rampSeconds} s, ${result.connectRatePerSecond} clients/s${result.rampStoppedBy != null ? ` (stopped at ${result.clientsCreated} clients by ${result.rampStoppedBy})` : ''}; client processes peak RSS ${result.clientProcessesPeakRssMiB} MiB\n`)
  process.stdout.write(`peak relay RSS ${result.relayPeakRssMiB} MiB (bar 1024 MiB: ${result.withinRssBar ? 'within' : 'OVER'})`)
  if (result.relays > 1) {
    process.stdout.write(`; spread ${result.spread.minDeviationPercent} % … +${result.spread.maxDeviationPercent} % of the mean ${result.spread.meanPerRelay} (bar ±15 %: ${result.spread.withinBar ? 'within' : 'OUTSIDE'}; first choices ${result.spread.firstChoiceMinDeviationPercent} % … +${result.spread.firstChoiceMaxDeviationPercent} %)`)
  }
  process.stdout.write('\n')
}

/** The bound of the run the ramp has reached, if any: the wall time, or the machine's memory */
function rampBound (deadline: number): string | undefined {
  if (Date.now() > deadline) {
    return `wall time: the ramp passed TIMEOUT_MS (${TIMEOUT_MS} ms)`
  }
  const available = memAvailable()
  if (available < MIN_AVAILABLE_MIB * 1024 * 1024) {
    return `machine memory: ${mib(available)} MiB available, below MIN_AVAILABLE_MIB (${MIN_AVAILABLE_MIB})`
  }
  return undefined
}

/** The name of the run and of its file in bench/results (one relay: the original P8 name) */
function resultName (): string {
  return RELAYS === 1 ? 'p8-relay' : `p8-relays-${RELAYS}${NAMESPACE !== '' ? '-members' : ''}`
}

/** The command that reproduces this run */
function commandLine (): string {
  const flags = RELAY_NODE_FLAGS.length > 0 ? ` RELAY_NODE_FLAGS='${RELAY_NODE_FLAGS.join(' ')}'` : ''
  return `CLIENTS=${CLIENTS}${RELAYS !== 1 ? ` RELAYS=${RELAYS}` : ''}${NAMESPACE !== '' ? ` NAMESPACE=${NAMESPACE}` : ''} WORKERS=${WORKERS} BATCH=${BATCH} HOLD_MS=${HOLD_MS}${flags} npm run bench:p8`
}

/** One line of progress on stderr */
function logProgress (elapsedMs: number, h: Health[], done: Progress, s: ProcSample[], clientRss: number): void {
  process.stderr.write(`${Math.round(elapsedMs / 1000)}s: relay reservations ${h.map(x => x.reservations).join(' / ')}${NAMESPACE !== '' ? `, members ${h.map(x => `${x.localMembers}+${x.members - x.localMembers}`).join(' / ')}` : ''}; clients created ${done.created}, reserved ${done.reserved}, failed ${done.failed}, moved ${done.moved}${NAMESPACE !== '' ? `, registered ${done.registered}` : ''}; relay RSS ${s.map(x => mib(x.rss)).join(' / ')} MiB, CPU ${s.map(x => x.cpuSeconds.toFixed(0)).join(' / ')} s; client processes RSS ${mib(clientRss)} MiB; load ${loadavg()[0].toFixed(1)}\n`)
}

/** Starts the relays and the clients, ramps, holds, stops everything; the figures */
async function measure (): Promise<Result> {
  const dir = mkdtempSync(join(tmpdir(), 'ringcdn-p8-'))
  const relays = await relayIdentities(RELAYS, dir)
  const workers: ChildProcess[] = []
  const cleanup = (): void => {
    for (const child of [...relays.map(r => r.child), ...workers]) {
      if (child != null && child.exitCode == null && child.signalCode == null) {
        child.kill('SIGKILL')
      }
    }
    rmSync(dir, { recursive: true, force: true })
  }
  process.once('exit', cleanup)
  for (const sig of ['SIGINT', 'SIGTERM'] as const) {
    process.once(sig, () => { process.exit(130) })
  }

  const loadBefore = loadavg()
  await Promise.all(relays.map(async r => startRelay(r, relays)))
  const healths = async (): Promise<Health[]> => Promise.all(relays.map(async r => health(r.http!)))
  if (RELAYS > 1) {
    await until('the relays to link', async () => (await healths()).every(h => h.linkedRelays === RELAYS - 1), 120_000)
  }
  await sleep(1_000)
  const baseline = relays.map(r => sample(r.pid!))
  process.stderr.write(`${RELAYS} relay(s) at ${relays.map(r => r.addr).join(' ')}: baseline RSS ${baseline.map(b => mib(b.rss)).join(' / ')} MiB (load ${loadBefore.map(l => l.toFixed(2)).join(' ')})\n`)

  const perWorker = Math.ceil(CLIENTS / WORKERS)
  const progress = new Map<number, Progress>()
  /** Set when the run is over (exits are expected then), or when a client process died during it */
  const run: { finished: boolean, crashed?: string } = { finished: false }
  const started = Date.now()
  for (let w = 0; w < WORKERS; w++) {
    const count = Math.min(perWorker, CLIENTS - w * perWorker)
    if (count <= 0) {
      break
    }
    const worker = spawn(process.execPath, [...TS_FLAGS, '--max-old-space-size=8192', here('./p8/clients.ts')], {
      env: { ...process.env, RELAYS: relays.map(r => r.addr).join(','), COUNT: String(count), BATCH: String(BATCH), NAMESPACE, DEBUG: '' },
      stdio: ['ignore', 'pipe', 'inherit']
    })
    workers.push(worker)
    worker.once('exit', (code, signal) => {
      if (!run.finished) {
        run.crashed ??= `client process ${w} exited (code ${code}, signal ${signal}) during the run`
      }
    })
    createInterface({ input: worker.stdout! }).on('line', line => {
      try {
        progress.set(w, JSON.parse(line))
      } catch {
        // not a progress line
      }
    })
  }
  const clientTotals = (): Progress => [...progress.values()].reduce((a, p) => ({
    created: a.created + p.created,
    reserved: a.reserved + p.reserved,
    failed: a.failed + p.failed,
    moved: a.moved + p.moved,
    registered: a.registered + p.registered,
    chosen: a.chosen.map((n, i) => n + (p.chosen[i] ?? 0))
  }), { created: 0, reserved: 0, failed: 0, moved: 0, registered: 0, chosen: relays.map(() => 0) })

  const peakReservations = relays.map(() => 0)
  const peakConnections = relays.map(() => 0)
  let stoppedBy: string | undefined
  let stoppedAt = 0
  const signalled = new Set<number>()
  let clientProcessesPeakRss = 0
  const deadline = started + TIMEOUT_MS
  let atTarget: ProcSample[]
  while (true) {
    await sleep(2_000)
    const h = await healths()
    h.forEach((x, i) => {
      peakReservations[i] = Math.max(peakReservations[i], x.reservations)
      peakConnections[i] = Math.max(peakConnections[i], x.connections)
    })
    const reservations = h.reduce((n, x) => n + x.reservations, 0)
    const done = clientTotals()
    const s = relays.map(r => sample(r.pid!))
    if (run.crashed != null) {
      throw new Error(run.crashed)
    }
    const clientRss = workers.reduce((n, w) => n + sample(w.pid!).rss, 0)
    clientProcessesPeakRss = Math.max(clientProcessesPeakRss, clientRss)
    logProgress(Date.now() - started, h, done, s, clientRss)
    if (reservations >= CLIENTS || (progress.size === workers.length && [...progress.values()].every(p => p.done === true))) {
      atTarget = s
      break
    }
    const reason = rampBound(deadline)
    if (stoppedBy == null && reason != null) {
      // measure what was reached rather than nothing: the clients stop creating, the relays are held as they are
      stoppedBy = reason
      stoppedAt = Date.now()
      process.stderr.write(`stopping the ramp (${reason})\n`)
    }
    if (stoppedBy != null) {
      // only a process that has reported has its SIGUSR2 handler (before, the signal would kill it)
      workers.forEach((w, i) => {
        if (progress.has(i) && !signalled.has(i)) {
          signalled.add(i)
          w.kill('SIGUSR2')
        }
      })
    }
    if (stoppedBy != null && Date.now() - stoppedAt > STOP_GRACE_MS) {
      throw new Error(`the client processes did not stop creating within ${STOP_GRACE_MS} ms of ${stoppedBy}`)
    }
  }
  const reachedAt = Date.now()
  const afterRamp = await healths()

  // hold: every client stays connected while each relay pings its own
  await sleep(HOLD_MS)
  const held = await healths()
  const end = relays.map(r => sample(r.pid!))
  const clients = clientTotals()
  const loadAfter = loadavg()
  held.forEach((x, i) => { peakReservations[i] = Math.max(peakReservations[i], x.reservations) })

  run.finished = true
  for (const child of workers) {
    child.kill('SIGTERM')
  }
  await sleep(2_000)
  const relayExit = await Promise.all(relays.map(async r => {
    r.child!.kill('SIGTERM')
    return new Promise<number | null>(resolve => {
      const timer = setTimeout(() => { resolve(null) }, 30_000)
      r.child!.once('exit', (code) => { clearTimeout(timer); resolve(code) })
    })
  }))

  const rampSeconds = (reachedAt - started) / 1000
  const rampReservations = afterRamp.reduce((n, x) => n + x.reservations, 0)
  const heldReservations = held.reduce((n, x) => n + x.reservations, 0)
  const spread = deviations(held.map(x => x.reservations))
  const choiceSpread = deviations(clients.chosen)
  const pct = (x: number): number => Math.round(x * 1000) / 10
  const perRelay = relays.map((r, i): RelayFigures => ({
    relay: i,
    peerId: r.peerId,
    reservationsAfterRamp: afterRamp[i].reservations,
    reservationsAfterHold: held[i].reservations,
    peakReservations: peakReservations[i],
    peakConnections: peakConnections[i],
    chosenByClients: clients.chosen[i],
    deviationFromMeanPercent: pct(spread[i]),
    ...(NAMESPACE !== '' ? { localMembers: held[i].localMembers, membersListed: held[i].members, remoteListings: held[i].remoteListings, registrations: held[i].registrations, notListed: held[i].notListed } : {}),
    linkedRelays: held[i].linkedRelays,
    refusedConnections: held[i].refusedConnections,
    baselineRssMiB: mib(baseline[i].rss),
    rssAfterRampMiB: mib(atTarget![i].rss),
    rssAfterHoldMiB: mib(end[i].rss),
    peakRssMiB: mib(end[i].peakRss),
    heapUsedAfterHoldMiB: mib(held[i].heapUsedBytes),
    rssPerClientKiB: round1((end[i].rss - baseline[i].rss) / Math.max(1, held[i].reservations) / 1024),
    cpuSecondsRamp: round1(atTarget![i].cpuSeconds - baseline[i].cpuSeconds),
    cpuSecondsHold: round1(end[i].cpuSeconds - atTarget![i].cpuSeconds),
    cpuMsPerClientConnect: Math.round((atTarget![i].cpuSeconds - baseline[i].cpuSeconds) / Math.max(1, afterRamp[i].reservations) * 1000 * 100) / 100,
    withinRssBar: end[i].peakRss <= RSS_BAR_BYTES,
    exitCode: relayExit[i]
  }))
  const peakRss = Math.max(...end.map(e => e.peakRss))
  const result: Result = {
    benchmark: resultName(),
    command: commandLine(),
    relayNodeFlags: RELAY_NODE_FLAGS,
    date: new Date().toISOString(),
    machine: { cpus: cpus().length, cpuModel: cpus()[0]?.model, node: process.version },
    load: { before: loadBefore, after: loadAfter },
    clients: CLIENTS,
    relays: RELAYS,
    namespace: NAMESPACE !== '' ? NAMESPACE : undefined,
    workers: WORKERS,
    batchPerWorker: BATCH,
    rampStoppedBy: stoppedBy,
    clientsCreated: clients.created,
    clientsReserved: clients.reserved,
    clientsFailed: clients.failed,
    clientsMovedToNextRelay: clients.moved,
    clientsRegistered: NAMESPACE !== '' ? clients.registered : undefined,
    reservationsAfterRamp: rampReservations,
    reservationsAfterHold: heldReservations,
    rampSeconds: round1(rampSeconds),
    connectRatePerSecond: round1(rampReservations / rampSeconds),
    clientProcessesPeakRssMiB: mib(clientProcessesPeakRss),
    spread: {
      meanPerRelay: round1(heldReservations / RELAYS),
      maxDeviationPercent: pct(Math.max(...spread)),
      minDeviationPercent: pct(Math.min(...spread)),
      barPercent: SPREAD_BAR * 100,
      withinBar: spread.every(d => Math.abs(d) <= SPREAD_BAR),
      // what the choice function alone gave (every client's first choice), before any failure moved one
      firstChoiceMaxDeviationPercent: pct(Math.max(...choiceSpread)),
      firstChoiceMinDeviationPercent: pct(Math.min(...choiceSpread))
    },
    relayPeakRssMiB: mib(peakRss),
    relayCpuSecondsRamp: round1(perRelay.reduce((n, r) => n + r.cpuSecondsRamp, 0)),
    relayCpuSecondsHold: round1(perRelay.reduce((n, r) => n + r.cpuSecondsHold, 0)),
    holdSeconds: HOLD_MS / 1000,
    rssBarMiB: RSS_BAR_BYTES / 1024 / 1024,
    withinRssBar: peakRss <= RSS_BAR_BYTES,
    allClientsReserved: heldReservations >= CLIENTS,
    perRelay
  }

  cleanup()
  return result
}

async function main (): Promise<void> {
  const result = await measure()
  report(result)
  await mkdir(here('./results'), { recursive: true })
  await writeFile(here(`./results/${result.benchmark}.json`), JSON.stringify(result, null, 2) + '\n')
  process.stdout.write(`saved bench/results/${result.benchmark}.json\n`)
}

main().then(() => { process.exit(0) }, (err) => {
  process.stderr.write(`${err?.stack ?? err}\n`)
  process.exit(1)
})
