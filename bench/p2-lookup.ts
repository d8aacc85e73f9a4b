/**
 * `npm run bench:p2`: lookups on one 100-node `@libp2p/memory` network, side
 * by side in one run — ringcdn's recursive Chord lookup (`cdn.locate`, the
 * lookup a fetch makes) and `@libp2p/kad-dht`'s iterative `getClosestPeers`
 * (identify + ping, clientMode false, passthroughMapper, a private protocol).
 * Every node runs both services; the same random keys are looked up one at a
 * time from random nodes, first all by ringcdn, then all by kad-dht (so
 * neither's traffic slows the other's).
 *
 * Counted per lookup:
 * - RPCs: requests sent on behalf of the lookup. kad-dht: its SEND_QUERY
 * events. ringcdn: the ROUTE requests the lookup's hops sent
 * (`lookupRpcs`), and, as an upper bound, every ring request any node sent
 * during the measured window, maintenance included (`allRingRpcs`).
 * - hops: ringcdn, the forwards the answer reports; kad-dht, the rounds of
 * its iterative walk (a queried peer learned from a peer of round r is in
 * round r + 1; the routing table's peers are round 1).
 * - latency: wall time, median and p99. The memory transport delays every
 * buffer by `LATENCY_MS` (serially per connection) so that both protocols pay
 * for round trips; compare counts before times.
 *
 * Prints and saves bench/results/p2-lookup.json. Environment: NODES (100),
 * LOOKUPS (500), LATENCY_MS (5), MAINTENANCE_MS (5000), SETTLE_MS (30000).
 */
import { randomBytes } from 'node:crypto'
import { mkdir, writeFile } from 'node:fs/promises'
import { noise } from '@chainsafe/libp2p-noise'
import { yamux } from '@chainsafe/libp2p-yamux'
import { identify } from '@libp2p/identify'
import { kadDHT, passthroughMapper } from '@libp2p/kad-dht'
import { memory } from '@libp2p/memory'
import { ping } from '@libp2p/ping'
import { createLibp2p } from 'libp2p'
import { compareIds, idFromBytes } from '../src/overlay/ring-id.ts'
import { ringCdn } from '../src/ring-cdn.ts'
import { median, percentile } from './nodes.ts'
import type { RingCdn } from '../src/ring-cdn.ts'
import type { Libp2p } from '@libp2p/interface'
import type { KadDHT } from '@libp2p/kad-dht'

const NODES = Number(process.env.NODES ?? 100)
const LOOKUPS = Number(process.env.LOOKUPS ?? 500)
const LATENCY_MS = Number(process.env.LATENCY_MS ?? 5)
/** Ring stabilize and finger-repair period, ms: the production default, so maintenance runs at its real rate */
const MAINTENANCE_MS = Number(process.env.MAINTENANCE_MS ?? 5_000)
/** After the ring converges, time for finger repair to catch up before measuring, ms */
const SETTLE_MS = Number(process.env.SETTLE_MS ?? 30_000)
const WARMUP = Math.min(100, LOOKUPS)
const JOIN_WAVE = 5
const KAD_PROTOCOL = '/ringcdn-bench/kad/1.0.0'

type Node = Libp2p<{ cdn: RingCdn, dht: KadDHT }>

let addresses = 0
async function createNode (bootstrap: string[]): Promise<Node> {
  return createLibp2p({
    addresses: { listen: [`/memory/p2-${process.pid}-${addresses++}`] },
    transports: [memory({ latency: LATENCY_MS })],
    connectionEncrypters: [noise()],
    streamMuxers: [yamux({ maxEarlyStreams: 256 })],
    connectionMonitor: { enabled: false },
    connectionManager: { maxConnections: 1_000, inboundConnectionThreshold: 10_000, maxIncomingPendingConnections: 1_000 },
    services: {
      identify: identify(),
      ping: ping(),
      dht: kadDHT({ protocol: KAD_PROTOCOL, clientMode: false, peerInfoMapper: passthroughMapper }),
      // hop waits adapt to measured round trips; the 2 s bound only matters while a hundred nodes join at once
      cdn: ringCdn({ bootstrap, ring: { stabilizeIntervalMs: MAINTENANCE_MS, fixFingersIntervalMs: MAINTENANCE_MS, hopTimeoutMs: 2_000 }, lookupTimeoutMs: 10_000, joinRetries: 8, joinRetryDelayMs: 200 })
    }
  })
}

const log = (message: string): void => { process.stderr.write(`${new Date().toISOString().slice(11, 19)} ${message}\n`) }

// ---- network ----------------------------------------------------------------
const started = Date.now()
const first = await createNode([])
await first.services.cdn.whenJoined()
const nodes: Node[] = [first]
// each newcomer joins through a few random members, so no one node routes every join
const contacts = (): string[] => Array.from({ length: 3 }, () => nodes[Math.floor(Math.random() * nodes.length)].getMultiaddrs()[0].toString())
while (nodes.length < NODES) {
  const wave = await Promise.all(Array.from({ length: Math.min(JOIN_WAVE, NODES - nodes.length) }, async () => createNode(contacts())))
  nodes.push(...wave)
  await Promise.all(wave.map(async n => n.services.cdn.whenJoined({ signal: AbortSignal.timeout(120_000) })))
  log(`${nodes.length}/${NODES} nodes joined`)
}
log(`${NODES} nodes joined the ring in ${Date.now() - started} ms`)

// kad-dht learns peers from connections: every node connects to three others
await Promise.all(nodes.map(async (node, i) => {
  for (const j of [0, (i * 7 + 1) % NODES, (i * 13 + 5) % NODES]) {
    if (j !== i) {
      await node.dial(nodes[j].getMultiaddrs(), { signal: AbortSignal.timeout(30_000) }).catch(() => {})
    }
  }
}))

const ids = nodes.map(n => n.services.cdn.nodeId as bigint).sort(compareIds)
const ringCorrect = (): boolean => nodes.every(n => {
  const id = n.services.cdn.nodeId as bigint
  const succ = ids[(ids.indexOf(id) + 1) % ids.length]
  return n.services.cdn.ring?.successors[0]?.id === succ
})
const convergeBy = Date.now() + 120_000
while (!ringCorrect() && Date.now() < convergeBy) {
  await new Promise(resolve => setTimeout(resolve, 250))
}
log(`ring ${ringCorrect() ? 'converged' : 'NOT converged'} after ${Date.now() - started} ms`)
await new Promise(resolve => setTimeout(resolve, SETTLE_MS))

const pick = (): Node => nodes[Math.floor(Math.random() * nodes.length)]

interface Sample { rpcs: number, hops: number, ms: number, ok: boolean, error?: string }

async function ringLookup (key: Uint8Array): Promise<Sample> {
  const node = pick()
  const before = sumRing('lookupRpcsSent')
  const t = performance.now()
  try {
    const res = await node.services.cdn.locate(idFromBytes(key))
    return { rpcs: sumRing('lookupRpcsSent') - before, hops: res.hops, ms: performance.now() - t, ok: true }
  } catch (err: any) {
    return { rpcs: sumRing('lookupRpcsSent') - before, hops: 0, ms: performance.now() - t, ok: false, error: `${err.name}: ${err.message}` }
  }
}

async function kadLookup (key: Uint8Array): Promise<Sample> {
  const node = pick()
  const round = new Map<string, number>()
  let rpcs = 0
  let hops = 0
  const t = performance.now()
  try {
    for await (const event of node.services.dht.getClosestPeers(key, { signal: AbortSignal.timeout(60_000) })) {
      if (event.name === 'SEND_QUERY') {
        rpcs++
        const r = round.get(event.to.toString()) ?? 1
        round.set(event.to.toString(), r)
        hops = Math.max(hops, r)
      } else if (event.name === 'PEER_RESPONSE') {
        const r = round.get(event.from.toString()) ?? 1
        event.closer
          .filter(peer => !round.has(peer.id.toString()))
          .forEach(peer => { round.set(peer.id.toString(), r + 1) })
      }
    }
    return { rpcs, hops, ms: performance.now() - t, ok: true }
  } catch (err: any) {
    return { rpcs, hops, ms: performance.now() - t, ok: false, error: `${err.name}: ${err.message}` }
  }
}

function ringRpcsByType (): Record<string, number> {
  const out: Record<string, number> = {}
  for (const node of nodes) {
    for (const [type, n] of Object.entries(node.services.cdn.getStats().ringRpcsSentByType)) {
      out[type] = (out[type] ?? 0) + n
    }
  }
  return out
}

function subtractTypes (after: Record<string, number>, before: Record<string, number>): Record<string, number> {
  return Object.fromEntries(Object.entries(after).map(([type, n]) => [type, n - (before[type] ?? 0)]))
}

function sumRing (counter: 'lookupRpcsSent' | 'ringRpcsSent'): number {
  return nodes.reduce((sum, n) => sum + n.services.cdn.getStats()[counter], 0)
}

interface Summary {
  lookups: number
  failed: number
  /** What the failed lookups threw */
  errors: string[]
  rpcsPerLookup: number
  meanHops: number
  maxHops: number
  medianMs: number
  p99Ms: number
}

function summarise (samples: Sample[]): Summary {
  const ok = samples.filter(s => s.ok)
  const mean = (xs: number[]): number => Math.round(xs.reduce((a, b) => a + b, 0) / Math.max(1, xs.length) * 100) / 100
  return {
    lookups: samples.length,
    failed: samples.length - ok.length,
    errors: samples.flatMap(s => s.error == null ? [] : [s.error]),
    rpcsPerLookup: mean(samples.map(s => s.rpcs)),
    meanHops: mean(ok.map(s => s.hops)),
    maxHops: Math.max(0, ...ok.map(s => s.hops)),
    medianMs: Math.round(median(ok.map(s => s.ms)) * 10) / 10,
    p99Ms: Math.round(percentile(ok.map(s => s.ms), 0.99) * 10) / 10
  }
}

// ---- warm-up: routing tables and fingers fill, connections open ----------------
for (let i = 0; i < WARMUP; i++) {
  const key = randomBytes(32)
  await ringLookup(key)
  await kadLookup(key)
}
log('warmed up')

// ---- background: ring maintenance in an idle window, to net it out of the window below ----
const IDLE_MS = 10_000
const idleBefore = sumRing('ringRpcsSent')
await new Promise(resolve => setTimeout(resolve, IDLE_MS))
const maintenancePerMs = (sumRing('ringRpcsSent') - idleBefore) / IDLE_MS
log(`ring maintenance: ${Math.round(maintenancePerMs * 1000)} requests/s over ${NODES} nodes`)

// ---- measured ----------------------------------------------------------------
const ring: Sample[] = []
const kad: Sample[] = []
const allBefore = sumRing('ringRpcsSent')
const typesBefore = ringRpcsByType()
const keys = Array.from({ length: LOOKUPS }, () => randomBytes(32))
const loopStarted = performance.now()
for (const key of keys) {
  ring.push(await ringLookup(key))
}
const allRingRpcs = sumRing('ringRpcsSent') - allBefore
const loopMs = performance.now() - loopStarted
const byType = subtractTypes(ringRpcsByType(), typesBefore)
log(`${LOOKUPS} ring lookups in ${Math.round(loopMs)} ms`)
for (const key of keys) {
  kad.push(await kadLookup(key))
}
log(`${LOOKUPS} kad-dht lookups`)
const round2 = (x: number): number => Math.round(x * 100) / 100

const ringSummary = {
  ...summarise(ring),
  /** every ring request any node sent during the measured loop (maintenance included), per lookup */
  allRingRpcsPerLookup: round2(allRingRpcs / LOOKUPS),
  /** the same, less the maintenance rate of the idle window over the loop's duration */
  netRingRpcsPerLookup: round2((allRingRpcs - maintenancePerMs * loopMs) / LOOKUPS),
  maintenanceRpcsPerNodePerSecond: round2(maintenancePerMs * 1000 / NODES),
  /** every ring request of the measured loop by type (maintenance included: PROBE and ROUTE also repair fingers) */
  ringRpcsInLoopByType: byType
}
const kadSummary = summarise(kad)
const connections = {
  meanPerNode: Math.round(nodes.reduce((s, n) => s + n.getConnections().length, 0) / NODES * 10) / 10,
  ringKeptPerNode: Math.round(nodes.reduce((s, n) => s + n.services.cdn.getStats().connections.kept, 0) / NODES * 10) / 10
}
const result = {
  benchmark: 'p2-lookup',
  date: new Date().toISOString(),
  node: process.version,
  nodes: NODES,
  latencyMs: LATENCY_MS,
  maintenanceIntervalMs: MAINTENANCE_MS,
  ringcdn: ringSummary,
  kadDht: kadSummary,
  /** ringcdn RPCs per lookup ÷ kad-dht's (bar: ≤ 1/3) */
  rpcRatio: Math.round(ringSummary.rpcsPerLookup / kadSummary.rpcsPerLookup * 1000) / 1000,
  /** the same counting every ring request sent meanwhile by any node, less the measured maintenance rate */
  rpcRatioNet: Math.round(ringSummary.netRingRpcsPerLookup / kadSummary.rpcsPerLookup * 1000) / 1000,
  connections,
  ringLoopMs: Math.round(loopMs)
}
process.stdout.write(JSON.stringify(result, null, 2) + '\n')
await mkdir(new URL('./results/', import.meta.url), { recursive: true })
await writeFile(new URL('./results/p2-lookup.json', import.meta.url), JSON.stringify(result, null, 2) + '\n')
process.stdout.write('saved bench/results/p2-lookup.json\n')
// no graceful stop: a hundred nodes leaving at once only adds noise (and yamux can throw while connections close)
process.exit(0)
