/**
 * The relays of one site, sharing their member lists so that all pages of a
 * namespace form one ring whichever relay they use.
 *
 * Theory of operation:
 *
 * - Each relay is configured with its peer relays' addresses
 * (`--peer-relay`). It keeps a libp2p connection to each (redialled with
 * jittered backoff while it is down) and *publishes* its own listings on one
 * long-lived stream per peer (`/ringcdn/relay-sync/1.0.0`): a snapshot, then
 * every change (`MemberRegistry`'s `onChange`). The receiver keeps them as
 * remote listings of that relay, and forgets them all when the stream ends:
 * a relay that dies, restarts or is cut off takes its listings with it, and a
 * new stream starts with a fresh snapshot. There is no shared store and no
 * leader: each relay's own listings are the truth about its pages, and every
 * other relay holds a copy that lasts as long as the link.
 * - The founding decision is made once per namespace by its *arbiter*: the
 * relay of highest rendezvous hash of (namespace, relay id) among this relay
 * and the peers publishing to it now. A relay that finds a namespace empty and
 * is not its arbiter asks the arbiter (`/ringcdn/relay-found/1.0.0`), which
 * runs its own registry's decision (grant, members it knows, or a refusal)
 * and publishes its grant to every peer. An unreachable arbiter (it died, or
 * a partition) leaves the decision to the asking relay: the site keeps
 * working, at the risk of a second ring during a partition.
 * - Only configured peers are trusted: the sync and found protocols refuse
 * any other peer id (a page cannot publish listings). A peer configured
 * without `/p2p/<id>` is trusted as whoever answers at its address.
 * - Bounded: at most MAX_QUEUED changes wait for a slow peer (past that its
 * stream is reset and it resyncs from a snapshot); frames and listings per
 * frame are bounded; the registry bounds what it keeps.
 */
import { peerIdFromMultihash, peerIdFromString } from '@libp2p/peer-id'
import { lpStream } from '@libp2p/utils'
import * as Digest from 'multiformats/hashes/digest'
import { nodeIdFromBytes } from '../src/keys.ts'
import { relayWeight } from '../src/libp2p/bootstrap-client.ts'
import { BootstrapResponse } from '../src/libp2p/bootstrap-messages.ts'
import { FoundRequest, RelayListing, RelaySyncFrame } from './relay-sync-messages.ts'
import type { AskResult, ListingChange, MemberEntry, MemberRegistry, Refusal } from './members.ts'
import type { ComponentLogger, Connection, Libp2p, Logger, PeerId, Stream } from '@libp2p/interface'
import type { Multiaddr } from '@multiformats/multiaddr'

/** Publishing stream between peer relays */
export const RELAY_SYNC_PROTOCOL = '/ringcdn/relay-sync/1.0.0'
/** Founding question to a namespace's arbiter */
export const RELAY_FOUND_PROTOCOL = '/ringcdn/relay-found/1.0.0'
/** Largest sync frame, bytes */
export const MAX_SYNC_FRAME_BYTES = 1_048_576
/** Listings per sync frame */
export const MAX_LISTINGS_PER_FRAME = 512
/** Changes waiting for one peer before its stream is reset (it then resyncs from a snapshot) */
export const MAX_QUEUED = 100_000
/** Largest found request, bytes */
export const MAX_FOUND_REQUEST_BYTES = 8_192
/** Deadline of a question to the arbiter, ms */
export const ARBITRATE_TIMEOUT_MS = 2_000
/** Deadline of one dial of a peer relay, ms */
export const PEER_DIAL_TIMEOUT_MS = 5_000
/** Deadline of writing one frame to a peer relay, ms */
export const PEER_WRITE_TIMEOUT_MS = 10_000
/** First redial delay of a peer relay, ms (doubles, jittered) */
export const PEER_RETRY_DELAY_MS = 500
/** Longest redial delay of a peer relay, ms */
export const PEER_MAX_RETRY_DELAY_MS = 5_000
/** Addresses per listing */
const MAX_ADDRS = 8

export interface PeerRelaysInit {
  /** Peer relays' multiaddrs (with `/p2p/<id>`, or learned from the first connection) */
  peers: Multiaddr[]
  registry: MemberRegistry
  /** @default ARBITRATE_TIMEOUT_MS (2 s) */
  arbitrateTimeoutMs?: number
  /** @default PEER_RETRY_DELAY_MS (0.5 s) */
  retryDelayMs?: number
  /** @default PEER_MAX_RETRY_DELAY_MS (5 s) */
  maxRetryDelayMs?: number
  /** Grace of a founder granted by the arbiter, ms (the registry's founder grace) */
  founderGraceMs: number
}

export interface PeerRelaysStats {
  /** Peer relays configured */
  configured: number
  /** Peer relays publishing to this one now */
  linked: number
  /** Founding questions this relay sent to an arbiter, and the ones it answered itself since none answered */
  arbitrations: number
  arbitrationFailures: number
  /** Founding questions answered for peers */
  arbitrated: number
}

type Node = Pick<Libp2p, 'handle' | 'unhandle' | 'dial' | 'getConnections' | 'peerId' | 'peerStore'> & { logger: ComponentLogger }

interface Link {
  addr: Multiaddr
  peer?: string
  failures: number
  /** Changes not yet written (undefined while not publishing) */
  queue?: ListingChange[]
  wake?(): void
  stream?: Stream
}

/** The relay of `relays` that decides who founds `namespace` (highest rendezvous weight) */
export function arbiterOf (namespace: string, relays: Iterable<string>): string | undefined {
  let best: string | undefined
  let bestWeight = -1n
  for (const relay of relays) {
    const weight = relayWeight(namespace, relay)
    if (weight > bestWeight || (weight === bestWeight && best != null && relay < best)) {
      best = relay
      bestWeight = weight
    }
  }
  return best
}

export class PeerRelays {
  private readonly node: Node
  private readonly registry: MemberRegistry
  private readonly log: Logger
  private readonly links: Link[]
  /** Peer ids trusted as peer relays (configured, or learned by dialling a configured address) */
  private readonly trusted = new Set<string>()
  /** Peer relay → its current inbound publishing stream */
  private readonly inbound = new Map<string, Stream>()
  private readonly arbitrateTimeoutMs: number
  private readonly retryDelayMs: number
  private readonly maxRetryDelayMs: number
  private readonly founderGraceMs: number
  private readonly self: string
  private shutdown?: AbortController
  private readonly counters = { arbitrations: 0, arbitrationFailures: 0, arbitrated: 0 }

  constructor (node: Node, init: PeerRelaysInit) {
    this.node = node
    this.registry = init.registry
    this.log = node.logger.forComponent('ringcdn:relay:peers')
    this.self = node.peerId.toString()
    this.links = init.peers
      .map(addr => ({ addr, peer: addr.getComponents().findLast(c => c.name === 'p2p')?.value, failures: 0 }))
      .filter(link => link.peer !== this.self)
    for (const link of this.links) {
      if (link.peer != null) {
        this.trusted.add(link.peer)
      }
    }
    this.arbitrateTimeoutMs = init.arbitrateTimeoutMs ?? ARBITRATE_TIMEOUT_MS
    this.retryDelayMs = init.retryDelayMs ?? PEER_RETRY_DELAY_MS
    this.maxRetryDelayMs = init.maxRetryDelayMs ?? PEER_MAX_RETRY_DELAY_MS
    this.founderGraceMs = init.founderGraceMs
  }

  async start (): Promise<void> {
    this.shutdown = new AbortController()
    await this.node.handle(RELAY_SYNC_PROTOCOL, async (stream, connection) => { await this.onSync(stream, connection) }, { maxInboundStreams: 2, maxOutboundStreams: 2 })
    await this.node.handle(RELAY_FOUND_PROTOCOL, async (stream, connection) => { await this.onFound(stream, connection) }, { maxInboundStreams: 64, maxOutboundStreams: 64 })
    for (const link of this.links) {
      void this.run(link, this.shutdown.signal)
    }
  }

  async stop (): Promise<void> {
    this.shutdown?.abort()
    this.shutdown = undefined
    for (const link of this.links) {
      link.wake?.()
      link.stream?.abort(new Error('the relay is stopping'))
    }
    for (const stream of this.inbound.values()) {
      stream.abort(new Error('the relay is stopping'))
    }
    this.inbound.clear()
    await this.node.unhandle(RELAY_SYNC_PROTOCOL).catch(() => {})
    await this.node.unhandle(RELAY_FOUND_PROTOCOL).catch(() => {})
  }

  /** The registry's `onChange`: queued for every peer being published to */
  publish (change: ListingChange): void {
    for (const link of this.links) {
      if (link.queue == null) {
        continue
      }
      link.queue.push(change)
      if (link.queue.length > MAX_QUEUED) {
        this.log('peer relay %s is %d changes behind: resetting its stream', link.peer, link.queue.length)
        link.stream?.abort(new Error('too far behind'))
      }
      link.wake?.()
    }
  }

  /** This relay and the peers publishing to it now */
  liveRelays (): string[] {
    return [this.self, ...this.inbound.keys()]
  }

  /** Whether this relay decides who founds `namespace` now */
  isArbiter (namespace: string): boolean {
    return arbiterOf(namespace, this.liveRelays()) === this.self
  }

  /**
   * Asks the namespace's arbiter whether `asker` may found it. Undefined when
   * this relay is the arbiter or the arbiter did not answer in time (the
   * caller then decides itself).
   */
  async arbitrate (namespace: string, asker: MemberEntry, signal: AbortSignal): Promise<AskResult | undefined> {
    const arbiter = arbiterOf(namespace, this.liveRelays())
    if (arbiter == null || arbiter === this.self) {
      return undefined
    }
    this.counters.arbitrations++
    const deadline = AbortSignal.any([signal, AbortSignal.timeout(this.arbitrateTimeoutMs)])
    let stream: Stream | undefined
    try {
      const peer = peerIdFromString(arbiter)
      const connection = this.node.getConnections(peer).find(c => c.status === 'open') ?? await this.node.dial(peer, { signal: deadline })
      stream = await connection.newStream(RELAY_FOUND_PROTOCOL, { signal: deadline })
      const lp = lpStream(stream, { maxDataLength: MAX_SYNC_FRAME_BYTES })
      await lp.write(FoundRequest.encode({
        namespace,
        peer: peerIdFromString(asker.peer).toMultihash().bytes,
        addrs: asker.addrs.slice(0, MAX_ADDRS) as Array<Uint8Array<ArrayBuffer>>,
        ip: asker.ip ?? ''
      }), { signal: deadline })
      await stream.close({ signal: deadline })
      const res = BootstrapResponse.decode((await lp.read({ signal: deadline })).subarray(), { limits: { members: 32, members$: { addrs: MAX_ADDRS } } })
      const result = toAskResult(res)
      if (result.type === 'found') {
        // listed to this relay's other askers at once, before the arbiter's publication arrives
        this.registry.addRemoteFounder(arbiter, namespace, { ...asker, ip: asker.ip ?? '' }, this.founderGraceMs)
      }
      return result
    } catch (err: any) {
      stream?.abort(err)
      this.counters.arbitrationFailures++
      this.log('arbiter %s did not answer for %s - %e', arbiter, namespace, err)
      return undefined
    }
  }

  stats (): PeerRelaysStats {
    return { configured: this.links.length, linked: this.inbound.size, ...this.counters }
  }

  /** Keeps publishing to one peer relay: dial, snapshot, changes; again after a failure */
  private async run (link: Link, signal: AbortSignal): Promise<void> {
    while (!signal.aborted) {
      try {
        await this.publishTo(link, signal)
      } catch (err: any) {
        if (signal.aborted) {
          return
        }
        link.failures++
        this.log('publishing to peer relay %a failed (%d in a row) - %e', link.addr, link.failures, err)
      } finally {
        link.queue = undefined
        link.stream = undefined
        link.wake = undefined
      }
      const backoff = Math.min(this.maxRetryDelayMs, this.retryDelayMs * 2 ** Math.min(link.failures, 20))
      await sleep(backoff * (0.5 + Math.random() / 2), signal)
    }
  }

  private async publishTo (link: Link, signal: AbortSignal): Promise<void> {
    const connection = await this.node.dial(link.addr, { signal: AbortSignal.any([signal, AbortSignal.timeout(PEER_DIAL_TIMEOUT_MS)]) })
    const peer = connection.remotePeer.toString()
    if (link.peer != null && link.peer !== peer) {
      throw new Error(`peer relay at ${link.addr.toString()} is ${peer}, expected ${link.peer}`)
    }
    link.peer = peer
    this.trusted.add(peer)
    // the connection manager must not prune a peer relay's connection
    await this.node.peerStore.merge(connection.remotePeer, { tags: { 'ringcdn-peer-relay': { value: 100 } } }).catch(() => {})
    const stream = await connection.newStream(RELAY_SYNC_PROTOCOL, { signal: AbortSignal.any([signal, AbortSignal.timeout(PEER_DIAL_TIMEOUT_MS)]) })
    link.stream = stream
    const lp = lpStream(stream, { maxDataLength: MAX_SYNC_FRAME_BYTES })
    link.queue = this.registry.localListings()
    const closed = new Promise<void>(resolve => { stream.addEventListener('close', () => { resolve() }, { once: true }) })
    let reset = true
    link.failures = 0
    this.log('publishing to peer relay %s (%d listings)', peer, link.queue.length)
    while (!signal.aborted && stream.status === 'open') {
      const queue = link.queue
      if (queue.length === 0 && !reset) {
        await Promise.race([closed, new Promise<void>(resolve => { link.wake = resolve })])
        link.wake = undefined
        continue
      }
      const batch = queue.splice(0, MAX_LISTINGS_PER_FRAME)
      const frame = RelaySyncFrame.encode({ listings: batch.map(toListing), reset })
      reset = false
      await lp.write(frame, { signal: AbortSignal.any([signal, AbortSignal.timeout(PEER_WRITE_TIMEOUT_MS)]) })
    }
    throw new Error('the publishing stream closed')
  }

  private async onSync (stream: Stream, connection: Connection): Promise<void> {
    const relay = connection.remotePeer.toString()
    const shutdown = this.shutdown
    if (shutdown == null || !this.trusted.has(relay)) {
      stream.abort(new Error('not a peer relay'))
      return
    }
    // a new stream replaces an old one (the peer restarted or reconnected)
    this.inbound.get(relay)?.abort(new Error('replaced'))
    this.registry.dropRelay(relay)
    this.inbound.set(relay, stream)
    this.log('peer relay %s publishes to us', relay)
    const lp = lpStream(stream, { maxDataLength: MAX_SYNC_FRAME_BYTES })
    try {
      while (!shutdown.signal.aborted) {
        const bytes = (await lp.read({ signal: shutdown.signal })).subarray()
        const frame = RelaySyncFrame.decode(bytes, { limits: { listings: MAX_LISTINGS_PER_FRAME, listings$: { addrs: MAX_ADDRS } } })
        if (frame.reset) {
          this.registry.dropRelay(relay)
        }
        for (const listing of frame.listings) {
          this.apply(relay, listing)
        }
      }
    } catch (err: any) {
      this.log('peer relay %s stopped publishing - %e', relay, err)
      stream.abort(err)
    } finally {
      if (this.inbound.get(relay) === stream) {
        this.inbound.delete(relay)
        const dropped = this.registry.dropRelay(relay)
        this.log('forgot %d listings of peer relay %s', dropped, relay)
      }
    }
  }

  private apply (relay: string, listing: RelayListing): void {
    let peer: PeerId
    try {
      peer = peerIdFromMultihash(Digest.decode(listing.peer))
    } catch {
      this.log('peer relay %s sent a listing with an invalid peer id', relay)
      return
    }
    const entry = { peer: peer.toString(), id: nodeIdFromBytes(listing.peer), addrs: listing.addrs, ip: listing.ip }
    switch (listing.kind) {
      case RelayListing.Kind.MEMBER:
        this.registry.addRemote(relay, listing.namespace, entry)
        break
      case RelayListing.Kind.GONE:
        this.registry.removeRemote(relay, listing.namespace, entry.peer)
        break
      case RelayListing.Kind.FOUNDER:
        this.registry.addRemoteFounder(relay, listing.namespace, entry, listing.graceMs)
        break
      case RelayListing.Kind.FOUNDER_GONE:
        this.registry.removeRemoteFounder(relay, listing.namespace, entry.peer)
        break
      default:
        this.log('peer relay %s sent a listing of unknown kind %s', relay, listing.kind)
    }
  }

  /** The arbiter's side: a peer relay asks whether its page may found a namespace */
  private async onFound (stream: Stream, connection: Connection): Promise<void> {
    const relay = connection.remotePeer.toString()
    const shutdown = this.shutdown
    if (shutdown == null || !this.trusted.has(relay)) {
      stream.abort(new Error('not a peer relay'))
      return
    }
    const signal = AbortSignal.any([shutdown.signal, AbortSignal.timeout(this.arbitrateTimeoutMs)])
    const lp = lpStream(stream, { maxDataLength: MAX_FOUND_REQUEST_BYTES })
    try {
      const req = FoundRequest.decode((await lp.read({ signal })).subarray(), { limits: { addrs: MAX_ADDRS } })
      const peer = peerIdFromMultihash(Digest.decode(req.peer)).toString()
      const asker: MemberEntry = { peer, id: nodeIdFromBytes(req.peer), addrs: req.addrs, ip: req.ip === '' ? undefined : req.ip }
      const result = this.registry.ask(req.namespace, asker, { member: false, mayFound: true })
      this.counters.arbitrated++
      await lp.write(BootstrapResponse.encode(toResponse(result)), { signal })
      await stream.close({ signal })
    } catch (err: any) {
      this.log('founding question from %s failed - %e', relay, err)
      stream.abort(err)
    }
  }
}

function toListing (change: ListingChange): RelayListing {
  const peer = peerIdFromString(change.type === 'member' || change.type === 'founder' ? change.entry.peer : change.peer).toMultihash().bytes
  switch (change.type) {
    case 'member':
      return { kind: RelayListing.Kind.MEMBER, namespace: change.namespace, peer, addrs: change.entry.addrs as Array<Uint8Array<ArrayBuffer>>, ip: change.entry.ip, graceMs: 0 }
    case 'founder':
      return { kind: RelayListing.Kind.FOUNDER, namespace: change.namespace, peer, addrs: change.entry.addrs as Array<Uint8Array<ArrayBuffer>>, ip: change.entry.ip, graceMs: Math.max(0, Math.round(change.graceMs)) }
    case 'gone':
      return { kind: RelayListing.Kind.GONE, namespace: change.namespace, peer, addrs: [], ip: '', graceMs: 0 }
    case 'founder-gone':
      return { kind: RelayListing.Kind.FOUNDER_GONE, namespace: change.namespace, peer, addrs: [], ip: '', graceMs: 0 }
    default:
      return assertNever(change)
  }
}

/** The registry's decision as the bootstrap protocol's response (the arbiter's answer) */
export function toResponse (result: AskResult): BootstrapResponse {
  switch (result.type) {
    case 'found':
      return { status: BootstrapResponse.Status.FOUND, members: [], registered: false, message: '' }
    case 'unavailable':
      return { status: BootstrapResponse.Status.UNAVAILABLE, members: [], registered: false, message: `${result.code}: ${result.reason}` }
    case 'members':
      return {
        status: BootstrapResponse.Status.OK,
        members: result.members.map(m => ({ peer: peerIdFromString(m.peer).toMultihash().bytes, addrs: m.addrs as Array<Uint8Array<ArrayBuffer>> })),
        registered: result.registered,
        message: ''
      }
    case 'wait':
      return { status: BootstrapResponse.Status.WAIT, members: [], registered: false, message: '' }
    case 'arbitrate':
      // never asked with mayFound: false; answered as an empty list rather than a crash
      return { status: BootstrapResponse.Status.OK, members: [], registered: false, message: '' }
    default:
      return assertNever(result)
  }
}

function assertNever (x: never): never {
  throw new Error(`unexpected ${JSON.stringify(x)}`)
}

function toAskResult (res: BootstrapResponse): AskResult {
  switch (res.status) {
    case BootstrapResponse.Status.FOUND:
      return { type: 'found' }
    case BootstrapResponse.Status.WAIT:
      return { type: 'wait' }
    case BootstrapResponse.Status.OK:
      return {
        type: 'members',
        registered: false,
        members: res.members.map(m => ({ peer: peerIdFromMultihash(Digest.decode(m.peer)).toString(), id: nodeIdFromBytes(m.peer), addrs: m.addrs }))
      }
    case BootstrapResponse.Status.UNAVAILABLE: {
      const [code, ...reason] = res.message.split(': ')
      return { type: 'unavailable', code: code as Refusal, reason: reason.join(': ') }
    }
    default:
      throw new Error(`the arbiter answered with status ${String(res.status)}`)
  }
}

async function sleep (ms: number, signal: AbortSignal): Promise<void> {
  await new Promise<void>(resolve => {
    const timer = setTimeout(done, ms)
    function done (): void {
      clearTimeout(timer)
      signal.removeEventListener('abort', done)
      resolve()
    }
    signal.addEventListener('abort', done, { once: true })
  })
}
