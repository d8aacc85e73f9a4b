/**
 * Hostile visitors against real libp2p rings (`npm run bench:attacks:ring`).
 *
 * Each phase builds a fresh ring of `--nodes` ringcdn nodes on the in-process
 * memory transport (5 ms one-way latency), an HTTP origin on 127.0.0.1 and a
 * manifest of `--assets` assets. A share of the nodes is hostile: they fetch
 * every asset first (so the asset's home lists them as holders, as a real
 * attacker would make sure of) and then misbehave as the phase says. Then
 * every honest requester fetches assets in random order, and each ringcdn
 * fetch is timed beside a plain origin fetch of the same URL started at the
 * same moment. The baseline phase has no hostile node.
 *
 * Attacks: `corrupt` (holders serve flipped bytes), `silent` (holders accept
 * content streams and never answer), `busy` (every content request answered
 * BUSY), `too-large` (every content request answered TOO_LARGE), `flood` (one
 * peer keeps 128 lookups of random keys in flight), `announce` (one peer
 * announces itself to one honest node as the holder of 1 024 random keys in
 * that node's range and 128 outside it, 8 at a time, while the honest nodes
 * fetch; the phase also records what
 * that put in the directories and how many directory messages it made the
 * honest nodes send).
 *
 * Prints a table and saves bench/results/attacks-ring.json. Numbers, never
 * assertions: the bars are printed next to them.
 */
import { writeFileSync, mkdirSync } from 'node:fs'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { parseArgs } from 'node:util'
import { DirectoryRequest } from '../../src/cdn/directory-messages.ts'
import { keyForUrl } from '../../src/keys.ts'
import { RingRequest } from '../../src/overlay/messages.ts'
import { compareIds, idToBytes } from '../../src/overlay/ring-id.ts'
import { peerToWire } from '../../src/overlay/wire.ts'
import { bytesOf, sha256Base64, startOrigin } from '../../test/fixtures/origin-server.ts'
import { TestStore, misbehave } from '../../test/libp2p/cdn-fixtures.ts'
import { createCdnNode, drain } from '../nodes.ts'
import type { ManifestDocument } from '../../src/cdn/manifest.ts'
import type { CdnNode } from '../nodes.ts'

const HERE = dirname(fileURLToPath(import.meta.url))
const RING = { stabilizeIntervalMs: 500, fixFingersIntervalMs: 250, hopTimeoutMs: 1_000 }
/** Bound on a node joining, ms */
const JOIN_TIMEOUT_MS = 60_000
/** Nodes of one ring replaced because they did not join in time, at most */
const MAX_JOIN_REPLACEMENTS = 4
/** Bound on one measured fetch (ringcdn or plain), ms: a fetch past it counts as failed */
const FETCH_TIMEOUT_MS = 60_000
/** Lookups the flooding peer keeps in flight */
const FLOOD_IN_FLIGHT = 128
/** Random keys in one home's range the announcing peer claims to hold, keys outside it, and announces it keeps in flight */
const ANNOUNCE_KEYS = 1_024
const ANNOUNCE_STRAY_KEYS = 128
const ANNOUNCES_IN_FLIGHT = 8

type Attack = 'none' | 'corrupt' | 'silent' | 'busy' | 'too-large' | 'flood' | 'announce'

/** What an ANNOUNCE flood achieved */
interface AnnounceFlood {
  sent: number
  /** Answered without an error (recorded, or dropped unrecorded past the announcer's share) */
  answered: number
  /** Refused with an error (not the key's home, busy, ...) */
  refused: number
  /** Keys in the honest nodes' directories, summed, before and after */
  directoryKeysBefore: number
  directoryKeysAfter: number
  /** Directory messages (ring APP requests) the honest nodes sent while it ran */
  honestAppMessages: number
  /** Announces the honest homes dropped past the announcer's share */
  dropped: number
}

interface Phase { attack: Attack, hostileShare: number }

interface FetchRecord { source: string, ms: number, originMs: number, failed?: string }

interface PhaseResult extends Phase {
  hostileNodes: number
  fetches: number
  failed: number
  fromPeers: number
  fromOrigin: number
  fromLocal: number
  /** Of the fetches that went to the network, the share peers served */
  peerShare: number
  p50Ms: number
  p95Ms: number
  originP95Ms: number
  /** Largest amount by which a ringcdn fetch took longer than its plain origin fetch, ms */
  worstOverOriginMs: number
  overOriginPlus1s: number
  failures: Record<string, number>
  /** Holders the honest nodes put on their avoid lists, by reason */
  avoided: Record<string, number>
  /** Fetches that brought the origin in beside a slow peer path, and of those the ones a peer still won */
  originRaces: number
  originRacesWonByPeer: number
  /** Ring requests the honest nodes refused busy (a sender over its share) */
  ringBusyRefusals: number
  /** Holders the honest nodes asked beside others that had not started sending within the hedge delay */
  holderHedges: number
  announceFlood?: AnnounceFlood
}

const { values: args } = parseArgs({
  options: {
    nodes: { type: 'string', default: '24' },
    assets: { type: 'string', default: '24' },
    'asset-kb': { type: 'string', default: '64' },
    fetches: { type: 'string', default: '132' },
    only: { type: 'string' },
    out: { type: 'string', default: join(HERE, '../results/attacks-ring.json') }
  }
})

const NODES = Number(args.nodes)
const ASSETS = Number(args.assets)
const ASSET_BYTES = Number(args['asset-kb']) * 1024
const FETCHES = Number(args.fetches)

const HOLDER_ATTACKS: Attack[] = ['corrupt', 'silent', 'busy', 'too-large']
const PHASES: Phase[] = [
  { attack: 'none', hostileShare: 0 } satisfies Phase,
  ...HOLDER_ATTACKS.flatMap(attack => [0.1, 0.25].map((hostileShare): Phase => ({ attack, hostileShare }))),
  { attack: 'flood', hostileShare: 1 / NODES } satisfies Phase,
  { attack: 'announce', hostileShare: 1 / NODES } satisfies Phase
].filter(p => args.only == null || args.only.split(',').includes(p.attack))

function quantile (xs: number[], q: number): number {
  if (xs.length === 0) {
    return 0
  }
  const sorted = [...xs].sort((a, b) => a - b)
  return sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))]
}

/** Deterministic shuffle, so phases ask for the same sequence */
function shuffled <T> (items: T[], seed: number): T[] {
  const out = [...items]
  let x = seed
  for (let i = out.length - 1; i > 0; i--) {
    x = (x * 1103515245 + 12345) % 2 ** 31
    const j = x % (i + 1)
    ;[out[i], out[j]] = [out[j], out[i]]
  }
  return out
}

async function buildRing (phase: Phase, manifest: ManifestDocument): Promise<{ nodes: CdnNode[], hostile: Set<CdnNode>, stores: Map<CdnNode, TestStore> }> {
  const hostileCount = Math.round(phase.hostileShare * NODES)
  const nodes: CdnNode[] = []
  const stores = new Map<CdnNode, TestStore>()
  const make = async (bootstrap: string[]): Promise<CdnNode> => {
    const store = new TestStore()
    const node = await createCdnNode('memory', { ring: RING, bootstrap, manifest, store, joinRetries: 8, joinRetryDelayMs: 200 }, { latencyMs: 5 })
    stores.set(node, store)
    return node
  }
  const first = await make([])
  await first.services.cdn.whenJoined({ signal: AbortSignal.timeout(JOIN_TIMEOUT_MS) })
  nodes.push(first)
  const bootstrap = first.getMultiaddrs().map(ma => ma.toString())
  // a node that does not join in time (a busy machine) is stopped and replaced, a bounded number of times
  let replaced = 0
  while (nodes.length < NODES) {
    const wave = await Promise.all(Array.from({ length: Math.min(6, NODES - nodes.length) }, async () => make(bootstrap)))
    const joins = await Promise.allSettled(wave.map(async n => n.services.cdn.whenJoined({ signal: AbortSignal.timeout(JOIN_TIMEOUT_MS) })))
    for (const [i, join] of joins.entries()) {
      if (join.status === 'fulfilled') {
        nodes.push(wave[i])
        continue
      }
      stores.delete(wave[i])
      await wave[i].stop()
      if (++replaced > MAX_JOIN_REPLACEMENTS) {
        throw new Error(`${replaced} nodes did not join within ${JOIN_TIMEOUT_MS} ms: ${join.reason?.name ?? join.reason}`)
      }
      print(`a node did not join within ${JOIN_TIMEOUT_MS} ms (${join.reason?.name}): replaced`)
    }
  }
  // hostile nodes spread around the ring: every few positions
  const hostile = new Set<CdnNode>()
  for (let i = 0; i < hostileCount; i++) {
    hostile.add(nodes[1 + Math.floor(i * (NODES - 1) / Math.max(1, hostileCount))])
  }
  return { nodes, hostile, stores }
}

async function timedFetch (node: CdnNode, url: string): Promise<FetchRecord> {
  const plain = (async () => {
    const started = performance.now()
    // a query the origin ignores keeps the plain fetch apart in the origin's counters
    const res = await fetch(`${url}?plain`, { signal: AbortSignal.timeout(FETCH_TIMEOUT_MS) })
    await drain(res)
    return performance.now() - started
  })()
  // a plain fetch that fails (a kept-alive socket the origin closed: ECONNRESET) has no time, not a crash
  plain.catch(() => {})
  const started = performance.now()
  try {
    const res = await node.services.cdn.fetch(url, { signal: AbortSignal.timeout(FETCH_TIMEOUT_MS) })
    await drain(res)
    const ms = performance.now() - started
    return { source: res.headers.get('ringcdn-source') ?? '?', ms, originMs: await plain.catch(() => NaN) }
  } catch (err: any) {
    const ms = performance.now() - started
    return { source: 'failed', ms, originMs: await plain.catch(() => NaN), failed: err.name }
  }
}

/**
 * A holder's first fetch of an asset, tried again when it fails: the
 * loopback origin now and then resets a kept-alive socket (ECONNRESET), and
 * a phase should not die of that
 */
async function seed (node: CdnNode, url: string): Promise<void> {
  for (let attempt = 1; ; attempt++) {
    try {
      await drain(await node.services.cdn.fetch(url, { signal: AbortSignal.timeout(FETCH_TIMEOUT_MS) }))
      return
    } catch (err) {
      if (attempt >= 3) {
        throw err
      }
    }
  }
}

/** Turns the hostile nodes against the ring, as the phase says */
async function arm (attack: Attack, hostile: Set<CdnNode>, stores: Map<CdnNode, TestStore>, flood: { on: boolean }, floods: Array<Promise<void>>, nodes: CdnNode[], announced: { sent: number, answered: number, refused: number }): Promise<void> {
  for (const node of hostile) {
    switch (attack) {
      case 'corrupt':
        (stores.get(node) as TestStore).poison = true
        break
      case 'silent':
      case 'busy':
      case 'too-large':
        await misbehave(node, attack)
        break
      case 'flood': {
        flood.on = true
        const loop = async (i: number): Promise<void> => {
          let n = i
          while (flood.on) {
            await node.services.cdn.locate(`https://flood.example/${n}`, { timeout: 3_000 }).catch(() => {})
            n += FLOOD_IN_FLIGHT
          }
        }
        for (let i = 0; i < FLOOD_IN_FLIGHT; i++) {
          floods.push(loop(i))
        }
        break
      }
      case 'announce':
        floods.push(announceFlood(node, nodes, announced))
        break
      default:
        break
    }
  }
}

/** The honest nodes' counters, summed */
function honestTotals (honest: CdnNode[]): Pick<PhaseResult, 'failures' | 'avoided' | 'originRaces' | 'originRacesWonByPeer' | 'ringBusyRefusals' | 'holderHedges'> {
  const failures: Record<string, number> = {}
  const avoided: Record<string, number> = {}
  let originRaces = 0
  let originRacesWonByPeer = 0
  let ringBusyRefusals = 0
  let holderHedges = 0
  for (const node of honest) {
    const stats = node.services.cdn.getStats()
    for (const [name, n] of Object.entries(stats.holderFailuresByError)) {
      failures[name] = (failures[name] ?? 0) + n
    }
    // absent from a library without the avoid reasons or the race (a run before they were added)
    for (const [reason, n] of Object.entries(stats.holdersAvoided ?? {})) {
      avoided[reason] = (avoided[reason] ?? 0) + n
    }
    originRaces += stats.originRaces ?? 0
    originRacesWonByPeer += stats.originRacesWonByPeer ?? 0
    ringBusyRefusals += stats.ringBusyRefusals ?? 0
    holderHedges += stats.holderHedges ?? 0
  }
  return { failures, avoided, originRaces, originRacesWonByPeer, ringBusyRefusals, holderHedges }
}

function announceResult (announced: { sent: number, answered: number, refused: number }, before: { keys: number, app: number, dropped: number }, after: { keys: number, app: number, dropped: number }): AnnounceFlood {
  return {
    ...announced,
    directoryKeysBefore: before.keys,
    directoryKeysAfter: after.keys,
    honestAppMessages: after.app - before.app,
    dropped: after.dropped - before.dropped
  }
}

/**
 * The hostile node announces itself as the holder of random keys to one home:
 * `ANNOUNCE_KEYS` keys in that home's range (what the home must take or
 * bound), then `ANNOUNCE_STRAY_KEYS` keys outside it (what a node that is not
 * the home should refuse, not pass on)
 */
async function announceFlood (node: CdnNode, nodes: CdnNode[], result: { sent: number, answered: number, refused: number }): Promise<void> {
  const ring = node.services.cdn.ring
  if (ring == null) {
    return
  }
  const ids = nodes.map(n => n.services.cdn.nodeId as bigint).sort(compareIds)
  const target = nodes.find(n => n !== node) as CdnNode
  const targetId = target.services.cdn.nodeId as bigint
  const mine: bigint[] = []
  const stray: bigint[] = []
  for (let i = 0; mine.length < ANNOUNCE_KEYS || stray.length < ANNOUNCE_STRAY_KEYS; i++) {
    const key = keyForUrl(`https://announce.example/${i}`)
    const inRange = (ids.find(id => id >= key) ?? ids[0]) === targetId
    if (inRange && mine.length < ANNOUNCE_KEYS) {
      mine.push(key)
    } else if (!inRange && stray.length < ANNOUNCE_STRAY_KEYS) {
      stray.push(key)
    }
  }
  const keys = [...mine, ...stray]
  const self = peerToWire(ring.self)
  const home = target.peerId.toString()
  let next = 0
  const worker = async (): Promise<void> => {
    while (next < keys.length) {
      const payload = DirectoryRequest.encode({ type: DirectoryRequest.Type.ANNOUNCE, key: idToBytes(keys[next++]), gone: [], entries: [], holder: self })
      result.sent++
      try {
        await ring.message(home, payload, { timeout: 3_000 })
        result.answered++
      } catch {
        result.refused++
      }
    }
  }
  await Promise.all(Array.from({ length: ANNOUNCES_IN_FLIGHT }, worker))
}

async function runPhase (phase: Phase, manifest: ManifestDocument, urls: string[]): Promise<PhaseResult> {
  const { nodes, hostile, stores } = await buildRing(phase, manifest)
  const honest = nodes.filter(n => !hostile.has(n))
  const flood = { on: false }
  const floods: Array<Promise<void>> = []
  try {
    // hostile holders first: each fetches every asset, so the homes list them
    for (const node of hostile) {
      if (phase.attack === 'flood' || phase.attack === 'announce') {
        continue
      }
      for (const url of urls) {
        await seed(node, url)
      }
    }
    // and one honest holder per asset, so that peers can serve every asset in every phase
    for (const [i, url] of urls.entries()) {
      const seeder = honest[i % honest.length]
      await seed(seeder, url)
    }
    const honestStats = (): { keys: number, app: number, dropped: number } => honest.reduce((sum, n) => {
      const stats = n.services.cdn.getStats()
      return {
        // a library before the directory's per-holder bound has no such stat: its directory's size
        // is read where it lives, so that a "before" run shows it too
        keys: sum.keys + (stats.directoryKeys ?? (n.services.cdn as any).directory?.directory?.size ?? 0),
        app: sum.app + (stats.ringRpcsSentByType[RingRequest.Type.APP] ?? 0),
        dropped: sum.dropped + (stats.announcesDropped ?? 0)
      }
    }, { keys: 0, app: 0, dropped: 0 })
    const before = honestStats()
    const announced = { sent: 0, answered: 0, refused: 0 }
    await arm(phase.attack, hostile, stores, flood, floods, nodes, announced)
    // honest requesters (not the seeders' own assets): bounded number of fetches, a few at once
    const plan: Array<{ node: CdnNode, url: string }> = []
    for (let i = 0; plan.length < FETCHES && i < FETCHES * 4; i++) {
      const node = honest[i % honest.length]
      const url = shuffled(urls, i + 7)[i % urls.length]
      if (!plan.some(p => p.node === node && p.url === url)) {
        plan.push({ node, url })
      }
    }
    const records: FetchRecord[] = []
    const CONCURRENCY = 4
    for (let i = 0; i < plan.length; i += CONCURRENCY) {
      records.push(...await Promise.all(plan.slice(i, i + CONCURRENCY).map(async ({ node, url }) => timedFetch(node, url))))
    }
    // the announce flood runs through its keys once: its counts are taken when it is done
    if (phase.attack === 'announce') {
      await Promise.allSettled(floods)
    }
    const after = honestStats()
    const network = records.filter(r => r.source === 'peer' || r.source === 'origin')
    const over = records.map(r => r.ms - r.originMs).filter(x => Number.isFinite(x))
    const { failures, avoided, originRaces, originRacesWonByPeer, ringBusyRefusals, holderHedges } = honestTotals(honest)
    return {
      ...phase,
      hostileNodes: hostile.size,
      fetches: records.length,
      failed: records.filter(r => r.failed != null).length,
      fromPeers: records.filter(r => r.source === 'peer').length,
      fromOrigin: records.filter(r => r.source === 'origin').length,
      fromLocal: records.filter(r => r.source === 'local').length,
      peerShare: network.length === 0 ? 0 : network.filter(r => r.source === 'peer').length / network.length,
      p50Ms: quantile(records.map(r => r.ms), 0.5),
      p95Ms: quantile(records.map(r => r.ms), 0.95),
      originP95Ms: quantile(records.map(r => r.originMs).filter(Number.isFinite), 0.95),
      worstOverOriginMs: over.length === 0 ? 0 : Math.max(...over),
      overOriginPlus1s: over.filter(x => x > 1_000).length,
      failures,
      avoided,
      originRaces,
      originRacesWonByPeer,
      ringBusyRefusals,
      holderHedges,
      announceFlood: phase.attack === 'announce' ? announceResult(announced, before, after) : undefined
    }
  } finally {
    flood.on = false
    await Promise.allSettled(floods)
    for (const node of nodes) {
      await Promise.resolve(node.stop()).catch((err: Error) => { print(`stopping a node failed: ${err.message}`) })
    }
  }
}

function print (line: string): void {
  process.stdout.write(line + '\n')
}

/** The bar for the phase's share of hostile nodes */
function verdict (r: PhaseResult, shareOfBaseline: number, p95OfBaseline: number): string {
  if (r.attack === 'none') {
    return '-'
  }
  if (r.hostileShare <= 0.1) {
    return shareOfBaseline >= 0.95 && p95OfBaseline <= 1.5 && r.failed === 0 ? 'PASS' : 'FAIL'
  }
  return shareOfBaseline >= 0.8 && r.overOriginPlus1s === 0 ? 'PASS' : 'FAIL'
}

async function main (): Promise<void> {
  const origin = await startOrigin()
  const urls: string[] = []
  const assets: Record<string, string> = {}
  for (let i = 0; i < ASSETS; i++) {
    const path = `/assets/a${i}.bin`
    const body = bytesOf(ASSET_BYTES, i + 1)
    origin.set(path, { body, contentType: 'application/octet-stream' })
    urls.push(origin.url(path))
    assets[origin.url(path)] = `sha256-${sha256Base64(body)}`
  }
  const manifest: ManifestDocument = { ringcdn: 1, assets }
  const results: PhaseResult[] = []
  try {
    for (const phase of PHASES) {
      const started = performance.now()
      const result = await runPhase(phase, manifest, urls)
      results.push(result)
      process.stdout.write(`${phase.attack} ${Math.round(phase.hostileShare * 100)} %: peer share ${(100 * result.peerShare).toFixed(1)} %, p95 ${result.p95Ms.toFixed(0)} ms, failed ${result.failed} (${((performance.now() - started) / 1000).toFixed(0)} s)\n`)
    }
  } finally {
    await origin.close()
  }
  const baseline = results.find(r => r.attack === 'none')
  const rows = results.map(r => {
    const share = baseline == null || baseline.peerShare === 0 ? NaN : r.peerShare / baseline.peerShare
    const p95 = baseline == null || baseline.p95Ms === 0 ? NaN : r.p95Ms / baseline.p95Ms
    return { ...r, peerShareOfBaseline: share, p95OfBaseline: p95, bar: verdict(r, share, p95) }
  })
  print('\n| attack | hostile | peer share | of baseline | p50 ms | p95 ms | p95 / baseline | failed | > origin + 1 s | bar |')
  print('|---|---|---|---|---|---|---|---|---|---|')
  for (const r of rows) {
    print(`| ${r.attack} | ${r.hostileNodes} of ${NODES} | ${(100 * r.peerShare).toFixed(1)} % | ${r.peerShareOfBaseline.toFixed(2)} | ${r.p50Ms.toFixed(0)} | ${r.p95Ms.toFixed(0)} | ${r.p95OfBaseline.toFixed(2)} | ${r.failed} | ${r.overOriginPlus1s} | ${r.bar} |`)
  }
  mkdirSync(dirname(args.out), { recursive: true })
  writeFileSync(args.out, JSON.stringify({
    command: `npm run bench:attacks:ring -- ${process.argv.slice(2).join(' ')}`.trim(),
    date: new Date().toISOString(),
    nodes: NODES,
    assets: ASSETS,
    assetBytes: ASSET_BYTES,
    bars: 'at 10 % hostile: >= 0.95 of the baseline peer share, p95 <= 1.5x baseline, 0 failed; at 25 %: >= 0.8 of the baseline peer share, no fetch over its origin time + 1 s',
    phases: rows
  }, null, 2) + '\n')
  for (const r of rows) {
    if (r.announceFlood != null) {
      const a = r.announceFlood
      print(`\nannounce flood: ${a.sent} sent, ${a.answered} answered (${a.dropped} of them dropped unrecorded), ${a.refused} refused; honest directories ${a.directoryKeysBefore} → ${a.directoryKeysAfter} keys; ${a.honestAppMessages} directory messages sent by honest nodes meanwhile`)
    }
    if (HOLDER_ATTACKS.includes(r.attack) || r.attack === 'none') {
      print(`${r.attack} ${r.hostileNodes}: ${r.holderHedges} hedged asks, origin brought in ${r.originRaces} times (${r.originRacesWonByPeer} won by a peer), avoided ${JSON.stringify(r.avoided)}`)
    }
    if (r.attack === 'flood') {
      print(`lookup flood: ${r.ringBusyRefusals} ring requests refused busy by honest nodes`)
    }
  }
  print(`\nsaved ${args.out}`)
}

await main()
