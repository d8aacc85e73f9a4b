/**
 * `npm run bench:p8`: the relay with thousands of concurrent clients holding
 * reservations. The relay runs alone in its own process (the real CLI,
 * `relay/cli.ts`), so its memory and CPU are measured by themselves; the
 * clients are Node libp2p nodes (websockets + circuit relay transport, as
 * pages) spread over several child processes (`bench/p8/clients.ts`) and
 * ramped in batches.
 *
 * Measured: the relay's peak RSS (VmHWM from /proc, bar ≤ 1 GiB), its
 * reservations and connections (from /health: the clients really hold
 * reservations), the connect rate (reservations per second of the ramp),
 * and the relay's CPU seconds (utime + stime from /proc) over the ramp and
 * a hold period, in which the relay's connection monitor pings every client.
 *
 * Prints a table and saves bench/results/p8-relay.json. Environment:
 * CLIENTS (5000), WORKERS (4), BATCH (25 per worker), HOLD_MS (20000),
 * TIMEOUT_MS (900000). Linux only (/proc).
 */
import { spawn } from 'node:child_process'
import { once } from 'node:events'
import { readFileSync } from 'node:fs'
import { mkdir, writeFile } from 'node:fs/promises'
import { cpus } from 'node:os'
import { createInterface } from 'node:readline'
import { fileURLToPath } from 'node:url'
import type { ChildProcess } from 'node:child_process'

const CLIENTS = Number(process.env.CLIENTS ?? 5_000)
const WORKERS = Number(process.env.WORKERS ?? 4)
const BATCH = Number(process.env.BATCH ?? 25)
const HOLD_MS = Number(process.env.HOLD_MS ?? 20_000)
const TIMEOUT_MS = Number(process.env.TIMEOUT_MS ?? 900_000)
/** Extra Node flags of the relay process, e.g. `--max-old-space-size=512` */
const RELAY_NODE_FLAGS = (process.env.RELAY_NODE_FLAGS ?? '').split(' ').filter(f => f !== '')
const RSS_BAR_BYTES = 1024 ** 3
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

interface Health { reservations: number, connections: number, members: number, heapUsedBytes: number }

async function health (url: string): Promise<Health> {
  const res = await fetch(`${url}/health`, { signal: AbortSignal.timeout(10_000) })
  return await res.json() as Health
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

async function main (): Promise<void> {
  const relayArgs = ['--port', '0', '--http-port', '0',
    // every client comes from 127.0.0.1: the per-IP rate limit would measure nothing but itself
    '--connection-rate', '1000000', '--max-pending', String(Math.max(1_000, CLIENTS)),
    '--max-reservations', String(CLIENTS * 2), '--max-connections', String(CLIENTS * 2)]
  const relay = spawn(process.execPath, [...TS_FLAGS, ...RELAY_NODE_FLAGS, here('../relay/cli.ts'), ...relayArgs], { stdio: ['ignore', 'pipe', 'inherit'] })
  const children: ChildProcess[] = [relay]
  const cleanup = (): void => {
    for (const child of children) {
      if (child.exitCode == null && child.signalCode == null) {
        child.kill('SIGKILL')
      }
    }
  }
  process.once('exit', cleanup)
  for (const sig of ['SIGINT', 'SIGTERM'] as const) {
    process.once(sig, () => { process.exit(130) })
  }

  const info = JSON.parse(await firstLine(relay, 60_000)) as { peerId: string, multiaddrs: string[], http: string }
  const pid = relay.pid as number
  const relayAddr = info.multiaddrs[0]
  await sleep(1_000)
  const baseline = sample(pid)
  process.stderr.write(`relay ${info.peerId} at ${relayAddr}: baseline RSS ${mib(baseline.rss)} MiB\n`)

  const perWorker = Math.ceil(CLIENTS / WORKERS)
  const progress = new Map<number, { created: number, reserved: number, failed: number }>()
  const started = Date.now()
  for (let w = 0; w < WORKERS; w++) {
    const count = Math.min(perWorker, CLIENTS - w * perWorker)
    const worker = spawn(process.execPath, [...TS_FLAGS, '--max-old-space-size=8192', here('./p8/clients.ts')], {
      env: { ...process.env, RELAY: relayAddr, COUNT: String(count), BATCH: String(BATCH), DEBUG: '' },
      stdio: ['ignore', 'pipe', 'inherit']
    })
    children.push(worker)
    createInterface({ input: worker.stdout! }).on('line', line => {
      try {
        progress.set(w, JSON.parse(line))
      } catch {
        // not a progress line
      }
    })
  }

  let peakReservations = 0
  let peakConnections = 0
  let reachedAt: number | undefined
  let atTarget: ProcSample | undefined
  const deadline = started + TIMEOUT_MS
  while (Date.now() < deadline) {
    await sleep(2_000)
    const h = await health(info.http)
    peakReservations = Math.max(peakReservations, h.reservations)
    peakConnections = Math.max(peakConnections, h.connections)
    const done = [...progress.values()].reduce((a, p) => ({ created: a.created + p.created, reserved: a.reserved + p.reserved, failed: a.failed + p.failed }), { created: 0, reserved: 0, failed: 0 })
    const s = sample(pid)
    process.stderr.write(`${Math.round((Date.now() - started) / 1000)}s: relay reservations ${h.reservations}, connections ${h.connections}; clients created ${done.created}, reserved ${done.reserved}, failed ${done.failed}; relay RSS ${mib(s.rss)} MiB (heap used ${mib(h.heapUsedBytes)}), CPU ${s.cpuSeconds.toFixed(1)} s\n`)
    if (h.reservations >= CLIENTS || done.created >= CLIENTS) {
      reachedAt = Date.now()
      atTarget = s
      break
    }
  }
  if (reachedAt == null || atTarget == null) {
    throw new Error(`the ramp did not finish within ${TIMEOUT_MS} ms`)
  }
  const rampReservations = (await health(info.http)).reservations

  // hold: every client stays connected while the relay pings them all
  await sleep(HOLD_MS)
  const held = await health(info.http)
  const end = sample(pid)
  peakReservations = Math.max(peakReservations, held.reservations)

  for (const child of children.slice(1)) {
    child.kill('SIGTERM')
  }
  await sleep(2_000)
  relay.kill('SIGTERM')
  const relayExit = await new Promise<number | null>(resolve => {
    const timer = setTimeout(() => { resolve(null) }, 30_000)
    relay.once('exit', (code) => { clearTimeout(timer); resolve(code) })
  })

  const rampSeconds = (reachedAt - started) / 1000
  const result = {
    benchmark: 'p8-relay',
    command: `CLIENTS=${CLIENTS} WORKERS=${WORKERS} BATCH=${BATCH} HOLD_MS=${HOLD_MS}${RELAY_NODE_FLAGS.length > 0 ? ` RELAY_NODE_FLAGS='${RELAY_NODE_FLAGS.join(' ')}'` : ''} npm run bench:p8`,
    relayNodeFlags: RELAY_NODE_FLAGS,
    relayHeapUsedAfterHoldMiB: mib(held.heapUsedBytes),
    date: new Date().toISOString(),
    machine: { cpus: cpus().length, cpuModel: cpus()[0]?.model, node: process.version },
    clients: CLIENTS,
    workers: WORKERS,
    batchPerWorker: BATCH,
    reservationsAfterRamp: rampReservations,
    reservationsAfterHold: held.reservations,
    peakReservations,
    peakConnections,
    rampSeconds: Math.round(rampSeconds * 10) / 10,
    connectRatePerSecond: Math.round(rampReservations / rampSeconds * 10) / 10,
    relayBaselineRssMiB: mib(baseline.rss),
    relayRssAfterRampMiB: mib(atTarget.rss),
    relayRssAfterHoldMiB: mib(end.rss),
    relayPeakRssMiB: mib(end.peakRss),
    relayRssPerClientKiB: Math.round((end.rss - baseline.rss) / Math.max(1, held.reservations) / 1024 * 10) / 10,
    relayCpuSecondsRamp: Math.round((atTarget.cpuSeconds - baseline.cpuSeconds) * 10) / 10,
    relayCpuSecondsHold: Math.round((end.cpuSeconds - atTarget.cpuSeconds) * 10) / 10,
    holdSeconds: HOLD_MS / 1000,
    relayCpuMsPerClientConnect: Math.round((atTarget.cpuSeconds - baseline.cpuSeconds) / Math.max(1, rampReservations) * 1000 * 100) / 100,
    rssBarMiB: RSS_BAR_BYTES / 1024 / 1024,
    withinRssBar: end.peakRss <= RSS_BAR_BYTES,
    allClientsReserved: held.reservations >= CLIENTS,
    relayExitCode: relayExit
  }

  const rows: Array<[string, string]> = [
    ['clients (target)', String(CLIENTS)],
    ['reservations held after ramp / after hold', `${rampReservations} / ${held.reservations}`],
    ['peak connections', String(peakConnections)],
    ['ramp time', `${result.rampSeconds} s`],
    ['connect rate', `${result.connectRatePerSecond} clients/s`],
    ['relay RSS baseline → after ramp → after hold', `${result.relayBaselineRssMiB} → ${result.relayRssAfterRampMiB} → ${result.relayRssAfterHoldMiB} MiB`],
    ['relay peak RSS (bar 1024 MiB)', `${result.relayPeakRssMiB} MiB ${result.withinRssBar ? '(within bar)' : '(OVER BAR)'}`],
    ['relay RSS per client', `${result.relayRssPerClientKiB} KiB`],
    ['relay CPU, ramp', `${result.relayCpuSecondsRamp} s (${result.relayCpuMsPerClientConnect} ms per client)`],
    [`relay CPU, ${result.holdSeconds} s hold`, `${result.relayCpuSecondsHold} s`]
  ]
  const width = Math.max(...rows.map(r => r[0].length))
  process.stdout.write(`\nP8 relay: ${CLIENTS} clients over ${WORKERS} processes, ${result.machine.cpus} CPUs\n`)
  for (const [k, v] of rows) {
    process.stdout.write(`${k.padEnd(width)}  ${v}\n`)
  }
  await mkdir(here('./results'), { recursive: true })
  await writeFile(here('./results/p8-relay.json'), JSON.stringify(result, null, 2) + '\n')
  process.stdout.write('saved bench/results/p8-relay.json\n')
  cleanup()
}

main().then(() => { process.exit(0) }, (err) => {
  process.stderr.write(`${err?.stack ?? err}\n`)
  process.exit(1)
})
