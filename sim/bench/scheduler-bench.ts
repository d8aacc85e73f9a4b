/**
 * Micro benchmark of the simulator's hot paths: raw scheduler events and RPC
 * round trips over SimNetwork with 100 000 endpoints.
 *
 * node_modules/.bin/node --experimental-transform-types --disable-warning=ExperimentalWarning sim/bench/scheduler-bench.ts [--quick]
 *
 * Prints one line per case, never asserted anywhere. Rates are per second of
 * CPU time (all threads, GC helpers included) so that a busy shared machine
 * does not skew them much; wall-clock seconds are printed alongside.
 */
import { AppRequest } from '../../src/overlay/messages.ts'
import { SimNetwork } from '../network/network.ts'
import { SeededRandom } from '../random.ts'
import { Scheduler } from '../scheduler.ts'
import type { Rpc } from '../../src/overlay/seams.ts'
import type { SimProtocol } from '../network/protocol.ts'

const quick = process.argv.includes('--quick')
const SCALE = quick ? 0.1 : 1

/** Timers alive at any moment in the raw-timer cases (a sim of 10^5 nodes has a few per node) */
const PENDING_TIMERS = 200_000
const TIMER_EVENTS = Math.round(5_000_000 * SCALE)
const ENDPOINTS = 100_000
/** Requests in flight at once in the RPC case */
const CONCURRENT_REQUESTS = 10_000
const ROUND_TRIPS = Math.round(1_000_000 * SCALE)

function print (line: string): void {
  process.stdout.write(`${line}\n`)
}

function mib (bytes: number): string {
  return `${(bytes / 1024 / 1024).toFixed(0)} MiB`
}

/** Runs `fn` and returns the CPU and wall seconds it took */
async function timed (fn: () => Promise<void>): Promise<{ cpu: number, wall: number }> {
  const cpu0 = process.cpuUsage()
  const wall0 = performance.now()
  await fn()
  const cpu = process.cpuUsage(cpu0)
  return { cpu: (cpu.user + cpu.system) / 1e6, wall: (performance.now() - wall0) / 1000 }
}

/**
 * The hold model: every event schedules one more, so the heap stays at
 * `PENDING_TIMERS` entries. `delay` decides how many events share an instant.
 */
async function timers (name: string, delay: (random: SeededRandom) => number, cancelEvery: number): Promise<void> {
  const scheduler = new Scheduler()
  const random = new SeededRandom(`bench:${name}`)
  let remaining = TIMER_EVENTS
  let count = 0
  const tick = (): void => {
    if (remaining-- > 0) {
      scheduler.after(delay(random), tick)
      // like an RPC deadline: scheduled, then cancelled by the answer
      if (cancelEvery > 0 && ++count % cancelEvery === 0) {
        scheduler.after(5_000, tick).cancel()
      }
    }
  }
  for (let i = 0; i < PENDING_TIMERS; i++) {
    scheduler.after(delay(random), tick)
  }
  const { cpu, wall } = await timed(async () => { await scheduler.run() })
  print(`${name}: ${(scheduler.events / cpu / 1e6).toFixed(2)} M events/s (${scheduler.events} events, ${scheduler.now.toFixed(0)} virtual ms, ${cpu.toFixed(2)} s cpu, ${wall.toFixed(2)} s wall)`)
}

interface Echo { payload: Uint8Array }

/** The real thing: protons on every delivery */
const protonsEcho: SimProtocol<Echo, Echo> = {
  name: 'echo',
  encodeRequest: msg => AppRequest.encode(msg as AppRequest),
  decodeRequest: bytes => AppRequest.decode(bytes),
  encodeResponse: msg => AppRequest.encode(msg as AppRequest),
  decodeResponse: bytes => AppRequest.decode(bytes)
}

/** The network's own cost: the payload is the encoding */
const passThroughEcho: SimProtocol<Echo, Echo> = {
  name: 'echo',
  encodeRequest: msg => msg.payload,
  decodeRequest: bytes => ({ payload: bytes }),
  encodeResponse: msg => msg.payload,
  decodeResponse: bytes => ({ payload: bytes })
}

/** CONCURRENT_REQUESTS loops, each sending a request to a random endpoint and awaiting the echo before the next */
async function roundTrips (codec: string, echo: SimProtocol<Echo, Echo>, loss: number): Promise<void> {
  const setupStart = performance.now()
  const scheduler = new Scheduler()
  const random = new SeededRandom('bench:rpc')
  const network = new SimNetwork(scheduler, random, { loss })
  const addresses: string[] = []
  const endpoints: Array<Rpc<Echo, Echo>> = []
  for (let i = 0; i < ENDPOINTS; i++) {
    const address = `node-${i}`
    const rpc = network.rpc(address, echo)
    rpc.handle(async (_from, req) => req)
    addresses.push(address)
    endpoints.push(rpc)
  }
  const setupSeconds = (performance.now() - setupStart) / 1000
  const workload = random.fork('workload')
  const payload = new Uint8Array(32)
  let started = 0
  let answered = 0
  let failed = 0
  const loop = async (): Promise<void> => {
    while (started < ROUND_TRIPS) {
      started++
      const from = endpoints[workload.int(ENDPOINTS)]
      try {
        await from.request(addresses[workload.int(ENDPOINTS)], { payload }, { timeout: 2_000 })
        answered++
      } catch {
        failed++
      }
    }
  }
  const { cpu, wall } = await timed(async () => {
    await scheduler.settle(Promise.all(Array.from({ length: CONCURRENT_REQUESTS }, loop)))
  })
  const after = process.memoryUsage()
  print(`rpc round trips, ${codec} codec, ${ENDPOINTS} endpoints, ${CONCURRENT_REQUESTS} in flight, loss ${loss}: ` +
    `${((answered + failed) / cpu / 1e3).toFixed(0)} k round trips/s, ${(scheduler.events / cpu / 1e6).toFixed(2)} M events/s ` +
    `(${answered} answered, ${failed} failed, ${scheduler.now} virtual ms, ${cpu.toFixed(2)} s cpu, ${wall.toFixed(2)} s wall, ` +
    `setup ${setupSeconds.toFixed(2)} s, rss ${mib(after.rss)})`)
}

print(`node ${process.version}${quick ? ' (quick)' : ''}`)
await timers('timers, integer ms delays (many events per instant)', r => 1 + r.int(1_000), 0)
await timers('timers, fractional delays (one event per instant)', r => r.next() * 1_000, 0)
await timers('timers, integer ms delays + one cancelled deadline per event', r => 1 + r.int(1_000), 1)
await roundTrips('pass-through', passThroughEcho, 0)
await roundTrips('protons AppRequest', protonsEcho, 0)
await roundTrips('protons AppRequest', protonsEcho, 0.01)
