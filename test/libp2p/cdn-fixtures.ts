/**
 * Real libp2p nodes running the ringcdn service, in process: `@libp2p/memory`
 * (or TCP on 127.0.0.1), noise, yamux, identify, connection monitor off.
 * Ring maintenance runs fast so a few dozen nodes converge in seconds.
 */
import { noise } from '@chainsafe/libp2p-noise'
import { yamux } from '@chainsafe/libp2p-yamux'
import { identify } from '@libp2p/identify'
import { memory } from '@libp2p/memory'
import { tcp } from '@libp2p/tcp'
import { lpStream } from '@libp2p/utils'
import { createLibp2p } from 'libp2p'
import { DirectoryResponse } from '../../src/cdn/directory-messages.ts'
import { keyForUrl } from '../../src/keys.ts'
import { ContentMeta } from '../../src/libp2p/content-messages.ts'
import { contentProtocol } from '../../src/libp2p/content-protocol.ts'
import { createStreamRpc, libp2pComponents } from '../../src/libp2p/stream-rpc.ts'
import { decodeRingRequest, decodeRingResponse, encodeRingResponse } from '../../src/overlay/codec.ts'
import { RingRequest } from '../../src/overlay/messages.ts'
import { compareIds } from '../../src/overlay/ring-id.ts'
import { peerToWire } from '../../src/overlay/wire.ts'
import { DEFAULT_NAMESPACE, ringCdn, ringProtocol } from '../../src/ring-cdn.ts'
import { MemoryContentStore } from '../../src/storage/memory-store.ts'
import { waitFor } from './fixtures.ts'
import type { TransportName } from './fixtures.ts'
import type { RpcHandler, StreamRpc, StreamRpcInit } from '../../src/libp2p/stream-rpc.ts'
import type { RingResponse } from '../../src/overlay/messages.ts'
import type { RingCdn, RingCdnInit } from '../../src/ring-cdn.ts'
import type { ChunkSource, ContentStore, ContentStoreStats, GetChunkOptions, GetOptions, ObjectInit, ObjectMeta, PutOptions, ReadOptions } from '../../src/storage/content-store.ts'
import type { AbortOptions, Libp2p } from '@libp2p/interface'

export type CdnNode = Libp2p<{ cdn: RingCdn }>

/** Ring settings for tests: fast maintenance, short timeouts */
export const FAST_RING = {
  stabilizeIntervalMs: 250,
  fixFingersIntervalMs: 100,
  // one event loop carries every node's noise handshakes: a hop may take a while
  hopTimeoutMs: 1_000
}

/**
 * Nodes that join at once. Dozens of joins at the same moment on one event
 * loop (each a few new connections with noise handshakes) make hops time out
 * and joins retry; real pages arrive spread out.
 */
const JOIN_WAVE = 8

let memoryAddresses = 0

/**
 * One-way delay of every buffer on the memory transport, ms. Pages are never
 * microseconds apart, and the ring sizes its hop waits from measured round
 * trips: a loopback-fast network would test a regime no deployment has.
 */
export const MEMORY_LATENCY_MS = 5

export interface CdnNodeOptions {
  transport?: TransportName
  /** Merged over the test defaults */
  init?: RingCdnInit
}

export async function createCdnNode (options: CdnNodeOptions = {}): Promise<CdnNode> {
  const transport = options.transport ?? 'memory'
  return createLibp2p({
    addresses: {
      listen: [transport === 'memory' ? `/memory/ringcdn-${process.pid}-${memoryAddresses++}` : '/ip4/127.0.0.1/tcp/0']
    },
    transports: [transport === 'memory' ? memory({ latency: MEMORY_LATENCY_MS }) : tcp()],
    connectionEncrypters: [noise()],
    // a node that joins opens streams to a fresh connection at once; the default of 10 early streams resets it
    streamMuxers: [yamux({ maxEarlyStreams: 256 })],
    // its pings on a busy event loop only add noise to these tests
    connectionMonitor: { enabled: false },
    connectionManager: {
      maxConnections: 1_000,
      inboundConnectionThreshold: 1_000,
      maxIncomingPendingConnections: 1_000
    },
    services: {
      identify: identify(),
      cdn: ringCdn({
        ring: FAST_RING,
        lookupTimeoutMs: 3_000,
        // these tests check where bytes come from, and one event loop carries every node: a peer
        // transfer there can outlast the library's race margin. The race has its own tests
        // (test/cdn/origin-race.spec.ts, ring-cdn-bad-holders.spec.ts), which set their margin
        originMarginMs: 60_000,
        joinRetries: 8,
        joinRetryDelayMs: 200,
        ...options.init
      })
    }
  })
}

/** Bound on the first node founding the ring, ms */
const FOUND_MS = 10_000
/**
 * Bound on every node of a wave joining, ms. Generous: a wave of joins on two
 * cores shared with browser tests and a simulation took over 20 s
 */
const WAVE_JOIN_MS = 60_000

/** Waits until `node` (the `i`th) is a member, failing with a named error after `ms` */
async function joinedWithin (node: CdnNode, i: number, ms: number): Promise<void> {
  try {
    await node.services.cdn.whenJoined({ signal: AbortSignal.timeout(ms) })
  } catch (err: any) {
    if (err?.name !== 'TimeoutError') {
      throw err
    }
    const timeout = new Error(`node ${i} did not join the ring within ${ms} ms`)
    timeout.name = 'JoinTimeoutError'
    throw timeout
  }
}

/**
 * `n` nodes forming one ring: the first creates it, the rest join through it
 */
export async function createRing (n: number, options: CdnNodeOptions & { initFor?(i: number): RingCdnInit } = {}): Promise<CdnNode[]> {
  const first = await createCdnNode({ ...options, init: { ...options.init, ...options.initFor?.(0), bootstrap: [] } })
  await joinedWithin(first, 0, FOUND_MS)
  const bootstrap = first.getMultiaddrs().map(ma => ma.toString())
  const nodes = [first]
  try {
    while (nodes.length < n) {
      const wave = await Promise.all(Array.from({ length: Math.min(JOIN_WAVE, n - nodes.length) }, async (_, i) => createCdnNode({
        ...options,
        init: { ...options.init, ...options.initFor?.(nodes.length + i), bootstrap }
      })))
      nodes.push(...wave)
      const base = nodes.length - wave.length
      await Promise.all(wave.map(async (node, i) => joinedWithin(node, base + i, WAVE_JOIN_MS)))
    }
  } catch (err) {
    await stopAll(nodes)
    throw err
  }
  return nodes
}

/**
 * The ring protocol as a hostile non-member speaks it on `node`: the plain
 * codec on the sending side, the library's limited decoders for what it
 * receives, no membership. Started; the caller stops it
 */
export async function rawRingRpc (node: Libp2p, init: Partial<StreamRpcInit<RingRequest, RingResponse>> = {}): Promise<StreamRpc<RingRequest, RingResponse>> {
  const rpc = createStreamRpc<RingRequest, RingResponse>(libp2pComponents(node), {
    protocol: ringProtocol(DEFAULT_NAMESPACE),
    encodeRequest: (req) => RingRequest.encode(req),
    decodeRequest: decodeRingRequest,
    encodeResponse: encodeRingResponse,
    decodeResponse: decodeRingResponse,
    ...init
  })
  await rpc.start()
  return rpc
}

/** The true successor of `key` among `ids` (sorted ascending) */
export function trueSuccessor (ids: bigint[], key: bigint): bigint {
  return ids.find(id => id >= key) ?? ids[0]
}

/**
 * Index in `nodes` of the home node of `url`: the true successor of its key. Once the ring is
 * settled that is where lookups end; computing it keeps a search over many candidate URLs off the
 * network
 */
export function homeIndex (nodes: CdnNode[], url: string): number {
  const ids = nodes.map(n => n.services.cdn.nodeId as bigint).sort(compareIds)
  const home = trueSuccessor(ids, keyForUrl(url))
  return nodes.findIndex(n => n.services.cdn.nodeId === home)
}

/** Whether every node's first successor and predecessor are its true neighbours */
export function ringIsCorrect (nodes: CdnNode[]): boolean {
  const byId = new Map(nodes.map(n => [n.services.cdn.nodeId as bigint, n]))
  const ids = [...byId.keys()].sort(compareIds)
  return ids.every((id, i) => {
    const ring = byId.get(id)?.services.cdn.ring
    const succ = ids[(i + 1) % ids.length]
    const pred = ids[(i - 1 + ids.length) % ids.length]
    return ring?.successors[0]?.id === succ && ring?.predecessor?.id === pred
  })
}

export async function waitForRing (nodes: CdnNode[], timeout: number = 30_000): Promise<void> {
  await waitFor(() => ringIsCorrect(nodes), timeout, `${nodes.length} nodes to form the true ring`)
}

/**
 * Stops nodes one at a time: stopping dozens at once makes `@libp2p/yamux` throw an uncaught
 * StreamStateError from a window update on a stream its peer already closed
 */
export async function stopAll (nodes: CdnNode[]): Promise<void> {
  for (const node of nodes) {
    await node.stop()
  }
}

export async function bodyBytes (res: Response): Promise<Uint8Array> {
  return new Uint8Array(await res.arrayBuffer())
}

/**
 * A content store that misbehaves on demand: `poison` flips a byte of every
 * chunk it hands out, `chunkDelayMs` slows reads, `onChunk` sees every chunk
 * read (e.g. to kill the node mid-upload)
 */
export class TestStore implements ContentStore {
  readonly inner: MemoryContentStore
  poison = false
  chunkDelayMs = 0
  chunksRead = 0
  onChunk?: (index: number) => void

  constructor (maxBytes?: number) {
    this.inner = new MemoryContentStore({}, { maxBytes })
  }

  async has (key: string, options?: GetOptions): Promise<boolean> { return this.inner.has(key, options) }
  async getMeta (key: string, options?: GetOptions): Promise<ObjectMeta | undefined> { return this.inner.getMeta(key, options) }
  async put (init: ObjectInit, chunks: ChunkSource, options?: PutOptions): Promise<ObjectMeta> { return this.inner.put(init, chunks, options) }

  async getChunk (key: string, index: number, options?: GetChunkOptions): Promise<Uint8Array | undefined> {
    if (this.chunkDelayMs > 0) {
      await new Promise(resolve => setTimeout(resolve, this.chunkDelayMs))
    }
    const chunk = await this.inner.getChunk(key, index, options)
    this.chunksRead++
    this.onChunk?.(index)
    if (chunk != null && this.poison) {
      // a copy: the chunk may be the store's own (a `readOnly` get)
      const bad = chunk.slice()
      bad[0] ^= 0xff
      return bad
    }
    return chunk
  }

  read (key: string, options?: ReadOptions): AsyncGenerator<Uint8Array, void, undefined> { return this.inner.read(key, options) }
  async delete (key: string, options?: AbortOptions): Promise<void> { await this.inner.delete(key, options) }
  async keys (options?: AbortOptions): Promise<string[]> { return this.inner.keys(options) }
  async stats (options?: AbortOptions): Promise<ContentStoreStats> { return this.inner.stats(options) }
  async close (): Promise<void> { await this.inner.close() }
}

/** How a hostile holder answers content requests */
export type Misbehaviour = 'silent' | 'busy' | 'too-large'

/**
 * Replaces a node's content handler with one that misbehaves: `silent`
 * accepts every stream and never says a word, `busy` answers BUSY, `too-large`
 * answers TOO_LARGE, whatever is asked (a hostile holder that announces
 * itself and wastes requesters' time)
 */
export async function misbehave (node: Libp2p<{ cdn: RingCdn }>, attack: Misbehaviour): Promise<void> {
  const protocol = contentProtocol(node.services.cdn.namespace)
  await node.unhandle(protocol)
  await node.handle(protocol, async (stream) => {
    if (attack === 'silent') {
      // the requester's deadline must end it
      return
    }
    const lp = lpStream(stream)
    try {
      await lp.read({ signal: AbortSignal.timeout(5_000) })
      const status = attack === 'busy' ? ContentMeta.Status.BUSY : ContentMeta.Status.TOO_LARGE
      await lp.write(ContentMeta.encode({ status, size: 0, chunkSize: 0, chunkDigests: [], digest: new Uint8Array(0), contentType: '', message: attack }), { signal: AbortSignal.timeout(5_000) })
      await stream.close({ signal: AbortSignal.timeout(5_000) })
    } catch (err: any) {
      stream.abort(err)
    }
  }, { maxInboundStreams: 1_024, maxOutboundStreams: 1_024 })
}

/** How a hostile ring member treats the lookups it is asked to forward (its ring upkeep stays honest) */
export type Misroute = 'drop' | 'claim'

/**
 * Puts an attack in front of a node's ring handler, as the simulator's
 * hostile pages do (sim/hostile.ts): `drop` accepts every lookup ROUTE and
 * never answers it; `claim` answers every one as the key's owner (with its
 * own, correctly bound peer record), a LOCATE with itself as the only holder.
 * Stabilize, probes, leaves, directory messages and maintenance ROUTEs reach
 * the real handler, so the node stays in the others' routing tables. The
 * library has no hook for this, so it reaches the ring transport's request
 * server, which an attacker's own copy of the code would simply change.
 */
export function misroute (node: Libp2p<{ cdn: RingCdn }>, attack: Misroute): void {
  const server = (node.services.cdn as any).transport.rpc.server as { handler: RpcHandler<RingRequest, RingResponse> }
  const real = server.handler
  const self = node.services.cdn.ring?.self
  if (self == null) {
    throw new Error('misroute: the node is not a ring member')
  }
  server.handler = async (from, req, options) => {
    const route = req.route
    if (req.type !== RingRequest.Type.ROUTE || route == null || route.maintenance) {
      return real(from, req, options)
    }
    if (attack === 'drop') {
      // accepted and never answered: only the sender's deadline ends it
      return new Promise<RingResponse>(() => {})
    }
    const owner = peerToWire(self)
    return { error: 0, message: '', route: { owner, hops: route.hops, app: route.app != null ? DirectoryResponse.encode({ holders: [owner] }) : undefined } }
  }
}
