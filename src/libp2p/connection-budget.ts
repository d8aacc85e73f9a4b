/**
 * Which connections the CDN keeps open, and how many.
 *
 * Theory of operation: connections are the scarce resource (a browser pays
 * ~300 ms and a relay round trip per WebRTC connection and Chrome caps a tab
 * at ~500 over its lifetime), so the ring's routing peers — predecessor,
 * successors, fingers — are *kept*: tagged in the peer store, which makes
 * libp2p's connection pruner close them last, and reused by every request.
 * Other connections the CDN uses (a holder for one transfer, a home node for
 * one announce, a node that routes through us) are *transient*.
 *
 * The budget: when more connections are open than `maxConnections`, idle
 * transient connections are closed, least recently used first. A transient
 * connection idle for `maxIdleMs` is closed even under budget. A peer that
 * leaves the routing state is untagged, and its connection closed at once if
 * nobody used it lately — if it still sends us requests (we are its
 * neighbour or finger) the connection stays until it idles out.
 *
 * Only connections the CDN has used are ever closed here: a connection to a
 * relay or opened by another service is none of its business.
 */
import { peerIdFromString } from '@libp2p/peer-id'
import type { Address, Peer } from '../overlay/seams.ts'
import type { ComponentLogger, Connection, Logger, PeerId, PeerStore, Startable } from '@libp2p/interface'

/** Connections the CDN may hold open before it closes idle transient ones */
export const MAX_CONNECTIONS = 48
/** A transient connection unused this long may be closed when over budget, ms */
export const IDLE_TIMEOUT_MS = 10_000
/** A transient connection unused this long is closed even under budget, ms */
export const MAX_IDLE_MS = 120_000
/** Time between budget checks, ms */
export const SWEEP_INTERVAL_MS = 5_000
/** Peer store tag value of a routing peer (1–100; higher is pruned later) */
export const NEIGHBOUR_TAG_VALUE = 50
/** Bound on closing one connection, ms */
const CLOSE_TIMEOUT_MS = 2_000

export interface ConnectionBudgetComponents {
  logger: ComponentLogger
  peerStore: Pick<PeerStore, 'merge'>
  connectionManager: {
    getConnections(peerId?: PeerId): Connection[]
  }
}

export interface ConnectionBudgetInit {
  /** Peer store tag marking routing peers; one per namespace so two rings on one node do not untag each other's */
  tag: string
  /** @default NEIGHBOUR_TAG_VALUE (50) */
  tagValue?: number
  /** @default MAX_CONNECTIONS (48) */
  maxConnections?: number
  /** @default IDLE_TIMEOUT_MS (10 s) */
  idleTimeoutMs?: number
  /** @default MAX_IDLE_MS (2 min) */
  maxIdleMs?: number
  /** @default SWEEP_INTERVAL_MS (5 s) */
  sweepIntervalMs?: number
}

export class ConnectionBudget implements Startable {
  private readonly log: Logger
  private readonly components: ConnectionBudgetComponents
  private readonly tag: string
  private readonly tagValue: number
  private readonly maxConnections: number
  private readonly idleTimeoutMs: number
  private readonly maxIdleMs: number
  private readonly sweepIntervalMs: number
  /** Routing peers, kept open */
  private readonly kept = new Set<Address>()
  /** Last time the CDN used a connection to each peer (either direction), ms since epoch */
  private readonly lastUsed = new Map<Address, number>()
  private timer?: ReturnType<typeof setInterval>
  /** Connections closed by the budget so far */
  closed = 0

  constructor (components: ConnectionBudgetComponents, init: ConnectionBudgetInit) {
    this.components = components
    this.log = components.logger.forComponent('ringcdn:connections')
    this.tag = init.tag
    this.tagValue = init.tagValue ?? NEIGHBOUR_TAG_VALUE
    this.maxConnections = init.maxConnections ?? MAX_CONNECTIONS
    this.idleTimeoutMs = init.idleTimeoutMs ?? IDLE_TIMEOUT_MS
    this.maxIdleMs = init.maxIdleMs ?? MAX_IDLE_MS
    this.sweepIntervalMs = init.sweepIntervalMs ?? SWEEP_INTERVAL_MS
  }

  start (): void {
    if (this.timer != null) {
      return
    }
    this.timer = setInterval(() => { this.sweep() }, this.sweepIntervalMs)
    // a pending sweep must not keep a Node process alive
    if (typeof this.timer === 'object' && 'unref' in this.timer) {
      this.timer.unref()
    }
  }

  stop (): void {
    clearInterval(this.timer)
    this.timer = undefined
    this.kept.clear()
    this.lastUsed.clear()
  }

  /** Routing peers: tagged so they stay connected */
  get keptPeers (): ReadonlySet<Address> {
    return this.kept
  }

  /** The CDN used the connection to `address` (sent or served a request) */
  touch (address: Address): void {
    this.lastUsed.set(address, Date.now())
  }

  /** Peers entered or left the routing state */
  update (change: { added: Peer[], removed: Peer[] }): void {
    for (const peer of change.added) {
      this.keep(peer.address)
    }
    for (const peer of change.removed) {
      this.release(peer.address)
    }
  }

  keep (address: Address): void {
    if (this.kept.has(address)) {
      return
    }
    this.kept.add(address)
    this.touch(address)
    this.setTag(address, { value: this.tagValue })
  }

  release (address: Address): void {
    if (!this.kept.delete(address)) {
      return
    }
    this.setTag(address, undefined)
    if (this.idleFor(address, Date.now()) >= this.idleTimeoutMs) {
      this.close(address, 'left the routing state')
    }
  }

  /** Open connections, and how many of them are to kept peers */
  usage (): { open: number, kept: number } {
    const connections = this.components.connectionManager.getConnections().filter(c => c.status === 'open')
    return {
      open: connections.length,
      kept: connections.filter(c => this.kept.has(c.remotePeer.toString())).length
    }
  }

  /** Closes idle transient connections: all beyond `maxIdleMs`, and the least recently used while over budget */
  sweep (): void {
    const now = Date.now()
    const connections = this.components.connectionManager.getConnections().filter(c => c.status === 'open')
    const peers = new Set(connections.map(c => c.remotePeer.toString()))
    let open = peers.size
    const idle: Array<[Address, number]> = []
    for (const address of peers) {
      if (this.kept.has(address) || !this.lastUsed.has(address)) {
        continue
      }
      idle.push([address, this.idleFor(address, now)])
    }
    idle.sort((a, b) => b[1] - a[1])
    for (const [address, idleMs] of idle) {
      if (idleMs >= this.maxIdleMs || (open > this.maxConnections && idleMs >= this.idleTimeoutMs)) {
        if (this.close(address, idleMs >= this.maxIdleMs ? 'idle' : 'over budget')) {
          open--
        }
      }
    }
    // forget peers we no longer hold connections to
    for (const address of this.lastUsed.keys()) {
      if (!peers.has(address) && !this.kept.has(address)) {
        this.lastUsed.delete(address)
      }
    }
    if (open > this.maxConnections) {
      this.log('%d peers connected, over the budget of %d (%d kept)', open, this.maxConnections, this.kept.size)
    }
  }

  private idleFor (address: Address, now: number): number {
    return now - (this.lastUsed.get(address) ?? 0)
  }

  /** Closes the connections to `address` that carry no stream; true if any was closed */
  private close (address: Address, why: string): boolean {
    let peerId: PeerId
    try {
      peerId = peerIdFromString(address)
    } catch {
      return false
    }
    let closed = false
    for (const connection of this.components.connectionManager.getConnections(peerId)) {
      if (connection.status !== 'open' || connection.streams.length > 0) {
        continue
      }
      closed = true
      this.closed++
      this.log('closing connection to %s: %s', address, why)
      connection.close({ signal: AbortSignal.timeout(CLOSE_TIMEOUT_MS) }).catch(err => {
        connection.abort(err)
      })
    }
    if (closed) {
      this.lastUsed.delete(address)
    }
    return closed
  }

  private setTag (address: Address, value: { value: number } | undefined): void {
    let peerId: PeerId
    try {
      peerId = peerIdFromString(address)
    } catch {
      return
    }
    this.components.peerStore.merge(peerId, { tags: { [this.tag]: value } }).catch(err => {
      this.log.error('could not %s %s - %e', value == null ? 'untag' : 'tag', address, err)
    })
  }
}
