/**
 * Hostile visitors against real libp2p rings (`npm run bench:attacks:ring`).
 *
 * Each phase builds a fresh ring of `--nodes` ringcdn nodes on the in-process
 * memory transport (5 ms one-way latency) or, with `--transport tcp`, on TCP
 * over 127.0.0.1 (no added latency), an HTTP origin on 127.0.0.1 and a
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
 * honest nodes send), `streams` (one member keeps 256 ring streams open to
 * one honest node over its connection, each with a frame of the ring's
 * largest size sent all but its last byte; the phase records this
 * process's resident memory before, at its peak and after the flood, after
 * a garbage collection when node runs with --expose-gc as the npm script
 * does), `route-drop` (members that swallow every lookup they are asked to
 * forward) and `route-claim` (members that answer every lookup as the key's
 * owner and every LOCATE with themselves as the only holder); both keep
 * their ring upkeep honest, as the simulator's hostile pages do.
 *
 * With `--hostile-process` (TCP only) the flooding node of `flood` and
 * `announce` runs in a child process (`hostile-node.ts`), as a real
 * attacker's CPU is not the honest nodes': the ring then has `--nodes - 1`
 * nodes in this process and the attacker. The other phases are unchanged.
 *
 * Prints a table and saves bench/results/attacks-ring.json. Numbers, never
 * assertions: the issue's bars are printed next to them.
 */
import { fork } from 'node:child_process'
import { writeFileSync, mkdirSync } from 'node:fs'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { parseArgs } from 'node:util'
import { RingRequest } from '../../src/overlay/messages.ts'
import { MAX_RING_MESSAGE_BYTES } from '../../src/overlay/wire.ts'
import { ringProtocol } from '../../src/ring-cdn.ts'
import { bytesOf, sha256Base64, startOrigin } from '../../test/fixtures/origin-server.ts'
import { TestStore, misbehave, misroute } from '../../test/libp2p/cdn-fixtures.ts'
import { createCdnNode, drain } from '../nodes.ts'
import { ANNOUNCE_FLOOD_MAX_MS, FLOOD_REQUEST_TIMEOUT_MS, STREAM_FLOOD_STREAMS, announceFlood, startLookupFlood, startStreamFlood } from './floods.ts'
import type { AnnounceCounts, LookupFlood, LookupFloodCounts, StreamFlood, StreamFloodCounts } from './floods.ts'
import type { HostileCommand, HostileNodeOptions } from './hostile-node.ts'
import type { ManifestDocument } from '../../src/cdn/manifest.ts'
import type { CdnNode } from '../nodes.ts'
import type { ChildProcess } from 'node:child_process'

const HERE = dirname(fileURLToPath(import.meta.url))
const RING = { stabilizeIntervalMs: 500, fixFingersIntervalMs: 250, hopTimeoutMs: 1_000 }
/** Bound on a node joining, ms */
const JOIN_TIMEOUT_MS = 60_000
/** Nodes of one ring replaced because they did not join in time, at most */
const MAX_JOIN_REPLACEMENTS = 4
/** Bound on one measured fetch (ringcdn or plain), ms: a fetch past it counts as failed */
const FETCH_TIMEOUT_MS = 60_000
/** Bound on the hostile process answering a command (other than the announce flood's end), ms */
const HOSTILE_REPLY_TIMEOUT_MS = 10_000 + FLOOD_REQUEST_TIMEOUT_MS
/** Bound on the hostile process exiting once told to, before it is killed, ms */
const HOSTILE_EXIT_TIMEOUT_MS = 10_000
/** The hostile process exits by itself after this long, whatever happens, ms */
const HOSTILE_LIFETIME_MS = 30 * 60_000

type Attack = 'none' | 'corrupt' | 'silent' | 'busy' | 'too-large' | 'flood' | 'announce' | 'streams' | 'route-drop' | 'route-claim'

/** How long after the stream flood stops its memory is read again, ms (the victim's streams end, garbage is collected) */
const STREAM_FLOOD_SETTLE_MS = 10_000
/** Interval of the resident-memory samples during the stream flood, ms */
const RSS_SAMPLE_MS = 250
/**
 * Shortest stream flood, ms: past the ring's handler deadline (30 s), so the
 * victim's own ending of streams that never complete a frame is measured
 */
const STREAM_FLOOD_MIN_MS = 45_000

/** What the stream flood did, and this process's resident memory around it (MiB) */
interface StreamFloodResult extends StreamFloodCounts {
  streams: number
  frameBytes: number
  /** How long the flood ran, ms */
  ranMs: number
  rssBeforeMiB: number
  rssPeakMiB: number
  rssAfterMiB: number
  /** The JS heap in use, the same three times (MiB) */
  heapBeforeMiB: number
  heapPeakMiB: number
  heapAfterMiB: number
  /** Whether a garbage collection ran before the "after" reading (node --expose-gc) */
  collected: boolean
}

/** What an ANNOUNCE flood achieved */
interface AnnounceFlood extends AnnounceCounts {
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
  /** Whether the hostile node ran in a process of its own */
  hostileOutOfProcess: boolean
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
  /** The lookup flood's own lookups, as the flooder counted them */
  lookupFlood?: LookupFloodCounts
  streamFlood?: StreamFloodResult
}

const { values: args } = parseArgs({
  options: {
    nodes: { type: 'string', default: '24' },
    assets: { type: 'string', default: '24' },
    'asset-kb': { type: 'string', default: '64' },
    fetches: { type: 'string', default: '132' },
    only: { type: 'string' },
    transport: { type: 'string', default: 'memory' },
    'hostile-process': { type: 'boolean', default: false },
    out: { type: 'string', default: join(HERE, '../results/attacks-ring.json') }
  }
})

const NODES = Number(args.nodes)
const ASSETS = Number(args.assets)
const ASSET_BYTES = Number(args['asset-kb']) * 1024
const FETCHES = Number(args.fetches)
if (args.transport !== 'memory' && args.transport !== 'tcp') {
  process.stderr.write(`--transport must be memory or tcp, not ${args.transport}\n`)
  process.exit(2)
}
const TRANSPORT: 'memory' | 'tcp' = args.transport
// over the memory transport the hostile node cannot leave this process
if (args['hostile-process'] && TRANSPORT !== 'tcp') {
  process.stderr.write('--hostile-process needs --transport tcp: a node in another process cannot reach the memory transport\n')
  process.exit(2)
}
const HOSTILE_PROCESS = args['hostile-process']
/** The attacks whose hostile node runs in its own process with --hostile-process */
const PROCESS_ATTACKS: Attack[] = ['flood', 'announce']

const HOLDER_ATTACKS: Attack[] = ['corrupt', 'silent', 'busy', 'too-large']
/** Attacks on the lookups hostile members are asked to forward: swallowed, or answered as their owner */
const ROUTE_ATTACKS: Attack[] = ['route-drop', 'route-claim']
/** Attacks whose hostile node holds no asset: it attacks the ring, not the fetches */
const NON_HOLDER_ATTACKS: Attack[] = ['flood', 'announce', 'streams', ...ROUTE_ATTACKS]
const PHASES: Phase[] = [
  { attack: 'none', hostileShare: 0 } satisfies Phase,
  ...HOLDER_ATTACKS.flatMap(attack => [0.1, 0.25].map((hostileShare): Phase => ({ attack, hostileShare }))),
  { attack: 'flood', hostileShare: 1 / NODES } satisfies Phase,
  { attack: 'announce', hostileShare: 1 / NODES } satisfies Phase,
  { attack: 'streams', hostileShare: 1 / NODES } satisfies Phase,
  ...ROUTE_ATTACKS.flatMap(attack => [0.1, 0.25].map((hostileShare): Phase => ({ attack, hostileShare })))
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

/**
 * The phase's ring in this process. A hostile node run in its own process
 * (`outOfProcess`) takes one of the `--nodes` places: this process then has
 * no hostile node.
 */
async function buildRing (phase: Phase, manifest: ManifestDocument, outOfProcess: boolean): Promise<{ nodes: CdnNode[], hostile: Set<CdnNode>, stores: Map<CdnNode, TestStore> }> {
  const hostileCount = outOfProcess ? 0 : Math.round(phase.hostileShare * NODES)
  const size = outOfProcess ? NODES - 1 : NODES
  const nodes: CdnNode[] = []
  const stores = new Map<CdnNode, TestStore>()
  const make = async (bootstrap: string[]): Promise<CdnNode> => {
    const store = new TestStore()
    const node = await createCdnNode(TRANSPORT, { ring: RING, bootstrap, manifest, store, joinRetries: 8, joinRetryDelayMs: 200 }, { latencyMs: 5 })
    stores.set(node, store)
    return node
  }
  const first = await make([])
  await first.services.cdn.whenJoined({ signal: AbortSignal.timeout(JOIN_TIMEOUT_MS) })
  nodes.push(first)
  const bootstrap = first.getMultiaddrs().map(ma => ma.toString())
  // a node that does not join in time (a busy machine) is stopped and replaced, a bounded number of times
  let replaced = 0
  while (nodes.length < size) {
    const wave = await Promise.all(Array.from({ length: Math.min(6, size - nodes.length) }, async () => make(bootstrap)))
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

/** Turns the hostile nodes of this process against the ring, as the phase says */
async function arm (attack: Attack, hostile: Set<CdnNode>, stores: Map<CdnNode, TestStore>, lookupFloods: LookupFlood[], floods: Array<Promise<void>>, nodes: CdnNode[], announced: AnnounceCounts, streamFloods: StreamFlood[]): Promise<void> {
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
      case 'flood':
        lookupFloods.push(startLookupFlood(node.services.cdn))
        break
      case 'route-drop':
      case 'route-claim':
        misroute(node, attack === 'route-drop' ? 'drop' : 'claim')
        break
      case 'announce': {
        // the home: the first other node
        const target = nodes.find(n => n !== node) as CdnNode
        const ids = nodes.map(n => n.services.cdn.nodeId as bigint)
        floods.push(announceFlood(node.services.cdn, ids, { id: target.services.cdn.nodeId as bigint, peer: target.peerId.toString() }, announced))
        break
      }
      case 'streams': {
        // the victim: the first honest node (the ring's first, which every other node bootstrapped through)
        const victim = nodes.find(n => !hostile.has(n)) as CdnNode
        streamFloods.push(startStreamFlood(node, victim.peerId, ringProtocol(victim.services.cdn.namespace), MAX_RING_MESSAGE_BYTES))
        break
      }
      default:
        break
    }
  }
}

interface Memory { rssMiB: number, heapMiB: number }

interface MemoryWatch {
  started: number
  before: Memory
  /** Stops sampling; the largest samples */
  stop(): Memory
}

function memoryNow (): Memory {
  const { rss, heapUsed } = process.memoryUsage()
  return { rssMiB: Math.round(rss / 2 ** 20), heapMiB: Math.round(heapUsed / 2 ** 20) }
}

/** Samples this process's resident memory and JS heap until stopped */
function watchMemory (): MemoryWatch {
  const before = memoryNow()
  const peak = { ...before }
  const sample = (): Memory => {
    const now = memoryNow()
    peak.rssMiB = Math.max(peak.rssMiB, now.rssMiB)
    peak.heapMiB = Math.max(peak.heapMiB, now.heapMiB)
    return peak
  }
  const timer = setInterval(sample, RSS_SAMPLE_MS)
  return {
    started: performance.now(),
    before,
    stop () {
      clearInterval(timer)
      return sample()
    }
  }
}

interface StreamPhase {
  floods: StreamFlood[]
  /** Starts watching this process's memory (stream flood phases only) */
  watch(): void
  /** Stops the floods and reads what they did and the memory after them; undefined in other phases */
  finish(): Promise<StreamFloodResult | undefined>
  /** Stops whatever is left (the phase failed) */
  stop(): Promise<void>
}

function streamPhase (attack: Attack): StreamPhase {
  const floods: StreamFlood[] = []
  let memory: MemoryWatch | undefined
  return {
    floods,
    watch () {
      if (attack === 'streams') {
        memory = watchMemory()
      }
    },
    async finish () {
      if (memory == null) {
        return undefined
      }
      return streamFloodResult(floods, memory)
    },
    async stop () {
      memory?.stop()
      await Promise.allSettled(floods.map(async f => f.stop()))
    }
  }
}

/** The stream flood's counts and the memory around it: "after" once its streams are gone and garbage collected */
async function streamFloodResult (floods: StreamFlood[], memory: MemoryWatch): Promise<StreamFloodResult> {
  const left = STREAM_FLOOD_MIN_MS - (performance.now() - memory.started)
  if (left > 0) {
    await new Promise(resolve => setTimeout(resolve, left))
  }
  const ranMs = Math.round(performance.now() - memory.started)
  const counts = await Promise.all(floods.map(async f => f.stop()))
  const peak = memory.stop()
  await new Promise(resolve => setTimeout(resolve, STREAM_FLOOD_SETTLE_MS))
  const gc = (globalThis as { gc?(): void }).gc
  gc?.()
  const after = memoryNow()
  const sum = counts.reduce((a, c) => ({ opened: a.opened + c.opened, refused: a.refused + c.refused, endedByVictim: a.endedByVictim + c.endedByVictim, bytesSent: a.bytesSent + c.bytesSent }), { opened: 0, refused: 0, endedByVictim: 0, bytesSent: 0 })
  return {
    ...sum,
    streams: STREAM_FLOOD_STREAMS * counts.length,
    frameBytes: MAX_RING_MESSAGE_BYTES,
    ranMs,
    rssBeforeMiB: memory.before.rssMiB,
    rssPeakMiB: peak.rssMiB,
    rssAfterMiB: after.rssMiB,
    heapBeforeMiB: memory.before.heapMiB,
    heapPeakMiB: peak.heapMiB,
    heapAfterMiB: after.heapMiB,
    collected: gc != null
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

function announceResult (announced: AnnounceCounts, before: { keys: number, app: number, dropped: number }, after: { keys: number, app: number, dropped: number }): AnnounceFlood {
  return {
    ...announced,
    directoryKeysBefore: before.keys,
    directoryKeysAfter: after.keys,
    honestAppMessages: after.app - before.app,
    dropped: after.dropped - before.dropped
  }
}

// --- the hostile node in its own process ---------------------------------------------------------

/** Every hostile process started and not yet exited, so that none outlives the bench */
const children = new Set<ChildProcess>()

function namedError (name: string, message: string): Error {
  const err = new Error(message)
  err.name = name
  return err
}

/**
 * The child's next message of type `type`; rejects when the child reports an
 * error, exits, or does not answer within `timeoutMs` (`timeoutName`)
 */
async function hostileMessage (child: ChildProcess, type: string, timeoutMs: number, timeoutName: string): Promise<any> {
  if (child.exitCode != null || child.signalCode != null) {
    throw namedError('HostileProcessExitedError', `the hostile process had exited (${child.exitCode ?? child.signalCode}) before answering ${type}`)
  }
  return new Promise((resolve, reject) => {
    const done = (): void => {
      clearTimeout(timer)
      child.off('message', onMessage)
      child.off('exit', onExit)
    }
    const onMessage = (message: any): void => {
      if (message?.type === type) {
        done()
        resolve(message)
      } else if (message?.type === 'error') {
        done()
        reject(namedError(message.name ?? 'HostileProcessError', message.message ?? 'the hostile process failed'))
      }
    }
    const onExit = (code: number | null, signal: string | null): void => {
      done()
      reject(namedError('HostileProcessExitedError', `the hostile process exited (${code ?? signal}) before answering ${type}`))
    }
    const timer = setTimeout(() => {
      done()
      reject(namedError(timeoutName, `the hostile process did not answer ${type} within ${timeoutMs} ms`))
    }, timeoutMs)
    child.on('message', onMessage)
    child.on('exit', onExit)
  })
}

/** Resolves true once the child has exited, false if it has not within `timeoutMs` */
async function exited (child: ChildProcess, timeoutMs: number): Promise<boolean> {
  if (child.exitCode != null || child.signalCode != null) {
    return true
  }
  return new Promise(resolve => {
    const timer = setTimeout(() => {
      child.off('exit', onExit)
      resolve(false)
    }, timeoutMs)
    const onExit = (): void => {
      clearTimeout(timer)
      resolve(true)
    }
    child.once('exit', onExit)
  })
}

/** Tells the child to exit; kills it when it has not within the deadline */
async function stopChild (child: ChildProcess): Promise<void> {
  if (child.connected) {
    child.send({ type: 'exit' } satisfies HostileCommand, () => {})
  }
  if (await exited(child, HOSTILE_EXIT_TIMEOUT_MS)) {
    return
  }
  print(`the hostile process did not exit within ${HOSTILE_EXIT_TIMEOUT_MS} ms: killed`)
  child.kill('SIGKILL')
  if (!await exited(child, 5_000)) {
    throw namedError('HostileProcessKillError', `the hostile process (pid ${child.pid}) survived SIGKILL for 5 s`)
  }
}

interface HostileProcess {
  nodeId: bigint
  peerId: string
  /** Sends a command and waits for its answer of type `reply`, at most `timeoutMs` */
  request(command: HostileCommand, reply: string, timeoutMs: number): Promise<any>
  stop(): Promise<void>
}

/** Forks the hostile node and waits for it to join the ring through `bootstrap` */
async function startHostileProcess (bootstrap: string[], manifest: ManifestDocument): Promise<HostileProcess> {
  const options: HostileNodeOptions = { bootstrap, manifest, ring: RING, joinTimeoutMs: JOIN_TIMEOUT_MS, lifetimeMs: HOSTILE_LIFETIME_MS }
  // the package.json bench scripts' node flags: the child runs TypeScript too
  const child = fork(join(HERE, 'hostile-node.ts'), [JSON.stringify(options)], {
    execArgv: ['--experimental-transform-types', '--disable-warning=ExperimentalWarning'],
    stdio: ['ignore', 'inherit', 'inherit', 'ipc']
  })
  children.add(child)
  child.once('exit', () => children.delete(child))
  let joined: { nodeId: string, peerId: string }
  try {
    // the child's own join deadline, and time for it to start
    joined = await hostileMessage(child, 'joined', JOIN_TIMEOUT_MS + 30_000, 'HostileJoinTimeoutError')
  } catch (err) {
    await stopChild(child)
    throw err
  }
  return {
    nodeId: BigInt(joined.nodeId),
    peerId: joined.peerId,
    async request (command, reply, timeoutMs) {
      const answer = hostileMessage(child, reply, timeoutMs, 'HostileReplyTimeoutError')
      child.send(command)
      return answer
    },
    async stop () {
      await stopChild(child)
    }
  }
}

/** Kills what is left of the hostile processes: on any exit, and on a signal */
function killChildren (): void {
  for (const child of children) {
    child.kill('SIGKILL')
  }
}
process.on('exit', killChildren)
for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.once(signal, () => {
    killChildren()
    process.exit(130)
  })
}

/** Turns the hostile node of its own process against the ring, as the phase says */
async function armProcess (attack: Attack, attacker: HostileProcess, nodes: CdnNode[], floods: Array<Promise<void>>, announced: AnnounceCounts): Promise<void> {
  if (attack === 'flood') {
    await attacker.request({ type: 'flood' }, 'flooding', HOSTILE_REPLY_TIMEOUT_MS)
  } else if (attack === 'announce') {
    // the home: the first node, as in this process
    const target = nodes[0]
    const ids = [...nodes.map(n => n.services.cdn.nodeId as bigint), attacker.nodeId].map(String)
    const done = attacker.request({ type: 'announce', ids, target: { id: String(target.services.cdn.nodeId), peer: target.peerId.toString() } }, 'announced', ANNOUNCE_FLOOD_MAX_MS + HOSTILE_REPLY_TIMEOUT_MS)
      .then((answer: { counts: AnnounceCounts }) => { Object.assign(announced, answer.counts) })
    // read once the honest fetches are done; a failure meanwhile must not end the process first
    done.catch(() => {})
    floods.push(done)
  }
}

/** Waits for the announce floods to run through their keys; one that failed fails the phase */
async function announceFloodsDone (floods: Array<Promise<void>>): Promise<void> {
  const rejected = (await Promise.allSettled(floods)).find(s => s.status === 'rejected')
  if (rejected != null) {
    throw rejected.reason
  }
}

/** Ends the lookup flood, wherever it runs, and sums what it did */
async function stopLookupFloods (attacker: HostileProcess | undefined, lookupFloods: LookupFlood[]): Promise<LookupFloodCounts> {
  const counts: LookupFloodCounts[] = attacker != null
    ? [(await attacker.request({ type: 'stop' }, 'stopped', HOSTILE_REPLY_TIMEOUT_MS)).counts]
    : await Promise.all(lookupFloods.map(async f => f.stop()))
  return counts.reduce((sum, c) => ({ lookups: sum.lookups + c.lookups, answered: sum.answered + c.answered, failed: sum.failed + c.failed }), { lookups: 0, answered: 0, failed: 0 })
}

async function runPhase (phase: Phase, manifest: ManifestDocument, urls: string[]): Promise<PhaseResult> {
  const outOfProcess = HOSTILE_PROCESS && PROCESS_ATTACKS.includes(phase.attack)
  const { nodes, hostile, stores } = await buildRing(phase, manifest, outOfProcess)
  const honest = nodes.filter(n => !hostile.has(n))
  const lookupFloods: LookupFlood[] = []
  const floods: Array<Promise<void>> = []
  const streams = streamPhase(phase.attack)
  let attacker: HostileProcess | undefined
  try {
    if (outOfProcess) {
      attacker = await startHostileProcess(nodes[0].getMultiaddrs().map(ma => ma.toString()), manifest)
    }
    // hostile holders first: each fetches every asset, so the homes list them
    for (const node of hostile) {
      if (NON_HOLDER_ATTACKS.includes(phase.attack)) {
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
    const announced: AnnounceCounts = { sent: 0, answered: 0, refused: 0 }
    streams.watch()
    await (attacker != null
      ? armProcess(phase.attack, attacker, nodes, floods, announced)
      : arm(phase.attack, hostile, stores, lookupFloods, floods, nodes, announced, streams.floods))
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
      await announceFloodsDone(floods)
    }
    const lookupFlood = phase.attack === 'flood' ? await stopLookupFloods(attacker, lookupFloods) : undefined
    const streamFlood = await streams.finish()
    const after = honestStats()
    const network = records.filter(r => r.source === 'peer' || r.source === 'origin')
    const over = records.map(r => r.ms - r.originMs).filter(x => Number.isFinite(x))
    const { failures, avoided, originRaces, originRacesWonByPeer, ringBusyRefusals, holderHedges } = honestTotals(honest)
    return {
      ...phase,
      // in this process or not, as `buildRing` counts them
      hostileNodes: Math.round(phase.hostileShare * NODES),
      hostileOutOfProcess: outOfProcess,
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
      announceFlood: phase.attack === 'announce' ? announceResult(announced, before, after) : undefined,
      lookupFlood,
      streamFlood
    }
  } finally {
    await attacker?.stop()
    await streams.stop()
    await Promise.allSettled(lookupFloods.map(async f => f.stop()))
    await Promise.allSettled(floods)
    for (const node of nodes) {
      await Promise.resolve(node.stop()).catch((err: Error) => { print(`stopping a node failed: ${err.message}`) })
    }
  }
}

function print (line: string): void {
  process.stdout.write(line + '\n')
}

/** Where the ring ran and where the attacker did, for the table's header */
function setting (): string {
  const ring = TRANSPORT === 'tcp' ? 'TCP on 127.0.0.1' : 'the memory transport (5 ms one-way)'
  const attacker = HOSTILE_PROCESS ? 'the flood and announce attacker in a process of its own' : 'every node in this process'
  return `${NODES} nodes over ${ring}, ${attacker}`
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
  print(`\n${setting()}:`)
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
    transport: TRANSPORT,
    /** Whether the flood and announce phases ran their hostile node in a process of its own (each phase says too) */
    hostileProcess: HOSTILE_PROCESS,
    setting: setting(),
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
    if (r.streamFlood != null) {
      const f = r.streamFlood
      print(`stream flood: ${f.streams} streams of ${f.frameBytes}-byte frames held for ${(f.ranMs / 1000).toFixed(0)} s; ${f.opened} opened, ${f.refused} refused, ${f.endedByVictim} ended by the victim, ${(f.bytesSent / 2 ** 20).toFixed(1)} MiB sent; this process's RSS / JS heap ${f.rssBeforeMiB} / ${f.heapBeforeMiB} MiB before, ${f.rssPeakMiB} / ${f.heapPeakMiB} MiB at the peak, ${f.rssAfterMiB} / ${f.heapAfterMiB} MiB ${STREAM_FLOOD_SETTLE_MS / 1000} s after${f.collected ? ' (after a collection)' : ''}`)
    }
    if (r.attack === 'flood') {
      const f = r.lookupFlood
      print(`lookup flood: ${r.ringBusyRefusals} ring requests refused busy by honest nodes; the flooder made ${f?.lookups} lookups (${f?.answered} answered, ${f?.failed} failed)`)
    }
  }
  print(`\nsaved ${args.out}`)
}

await main()
