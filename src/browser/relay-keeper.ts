/**
 * Keeps a page connected to one of its site's relays.
 *
 * The relay is a page's only way to be reached: its reservation gives the
 * page its `/p2p-circuit/webrtc` addresses, other pages signal WebRTC through
 * it, and it is the ring's bootstrap. A site may run several relays (they
 * share their member lists, so every page of a namespace is in one ring
 * whichever relay it uses); a page uses **one**, so listing more relays
 * spreads the pages instead of multiplying their connections.
 *
 * Theory of operation:
 *
 * - The page tries the relays in an order of its own: highest rendezvous
 * weight of (its peer id, the relay) first. Pages therefore spread evenly
 * over the relays, and when one relay goes, its pages spread evenly over the
 * others (each moves to its own second choice), while the other pages stay.
 * Without a peer id the order is a random shuffle.
 * - It dials its first choice. When that dial fails, when the connection
 * closes, or when the relay gives no reservation within
 * `reservationTimeoutMs` (it refused the page, e.g. full), the page moves to
 * the next relay in its order. A full ringcdn relay closes the connection of
 * a page it refused, so the page moves at once rather than at the timeout. After a whole round of failures it waits a
 * jittered, exponentially growing delay (bounded, reset by a success) before
 * the next round, so a site whose relays are all down is not hammered. With
 * one relay this is the old behaviour: redial it with backoff.
 * - The reservation is made by libp2p's circuit relay transport on whichever
 * relay the page is connected to (it listens on a bare `/p2p-circuit`); if
 * it lands on another of the site's relays (one the page had dialled to
 * reach a member), the page adopts that relay as its own.
 * - A connection to a relay other than the page's own (opened to reach a
 * member through its circuit address, for WebRTC signalling only) is closed
 * once it is `otherRelayLingerMs` old, so a page holds at most one long-lived
 * relay connection.
 * - The page pings its relay every `pingIntervalMs` and aborts the connection
 * when a ping fails: an idle page sends nothing else to its relay, so a relay
 * that vanished without closing the socket would otherwise go unnoticed (and
 * the page unreachable). Only the relay: the page's WebRTC connections are
 * watched by the browser itself (ICE consent checks close a dead one), so
 * libp2p's connection monitor, which pings every connection over a fresh
 * data channel each, is off in pages.
 *
 * Reconnecting is all this does: the ringcdn service registers with the relay
 * its reservation is on (`ring-membership.ts`).
 */
import { relayOrder, reservationRelays } from '../libp2p/bootstrap-client.ts'
import { AbortError } from '../overlay/errors.ts'
import type { ComponentLogger, Connection, Libp2pEvents, Logger, PeerId, Startable, TypedEventTarget } from '@libp2p/interface'
import type { Multiaddr } from '@multiformats/multiaddr'

/** Delay before the first redial of a relay, ms (doubles per failed attempt, then jittered) */
export const RELAY_RETRY_DELAY_MS = 1_000
/** Longest delay between redials of a relay, ms */
export const RELAY_MAX_RETRY_DELAY_MS = 30_000
/** Deadline of one dial of a relay, ms */
export const RELAY_DIAL_TIMEOUT_MS = 10_000
/** How long a page waits for a reservation on a relay it reached before moving to the next, ms */
export const RELAY_RESERVATION_TIMEOUT_MS = 15_000
/** How long a connection to a relay other than the page's own stays open, ms */
export const OTHER_RELAY_LINGER_MS = 20_000
/** Time between pings of the page's relay, ms (libp2p's connection monitor default) */
export const RELAY_PING_INTERVAL_MS = 10_000
/** Deadline of one ping of the relay, ms */
export const RELAY_PING_TIMEOUT_MS = 10_000

export interface RelayKeeperComponents {
  logger: ComponentLogger
  events: TypedEventTarget<Libp2pEvents>
  /** Dials a relay (libp2p's `dial`) */
  dial(addrs: Multiaddr[], options: { signal: AbortSignal }): Promise<Connection>
  getConnections(peerId?: PeerId): Connection[]
  /**
   * This node's addresses: a relay reservation shows in them as
   * `…/p2p/<relay>/p2p-circuit…`. Without it the keeper does not check
   * reservations.
   */
  getMultiaddrs?(): Multiaddr[]
  /**
   * Pings a connected peer (libp2p's ping service). Without it the keeper
   * does not ping its relay.
   */
  ping?(peer: PeerId, options: { signal: AbortSignal }): Promise<unknown>
}

export interface RelayKeeperInit {
  /** Relay multiaddrs, each ending in `/p2p/<relay id>` (without it, the id is learned on the first connection) */
  relays: Multiaddr[]
  /**
   * This page's peer id: the order it tries relays in derives from it
   *
   * @default a random order
   */
  self?: string
  /** @default RELAY_RETRY_DELAY_MS (1 s) */
  retryDelayMs?: number
  /** @default RELAY_MAX_RETRY_DELAY_MS (30 s) */
  maxRetryDelayMs?: number
  /** @default RELAY_DIAL_TIMEOUT_MS (10 s) */
  dialTimeoutMs?: number
  /** @default RELAY_RESERVATION_TIMEOUT_MS (15 s) */
  reservationTimeoutMs?: number
  /** @default OTHER_RELAY_LINGER_MS (20 s) */
  otherRelayLingerMs?: number
  /** @default RELAY_PING_INTERVAL_MS (10 s) */
  pingIntervalMs?: number
  /** @default RELAY_PING_TIMEOUT_MS (10 s) */
  pingTimeoutMs?: number
  /**
   * Uniform random number in [0, 1), for the jitter
   *
   * @default Math.random
   */
  random?(): number
}

interface RelayState {
  addr: Multiaddr
  /** Known from the address, or from the first connection */
  peerId?: string
}

/**
 * Delay before redial number `failures + 1`: `base · 2^failures`, capped at
 * `max`, then scaled by a random factor in [0.5, 1) ("equal jitter": never
 * less than half the backoff, never all pages at the same instant)
 */
export function backoffDelay (failures: number, base: number, max: number, random: number): number {
  const capped = Math.min(max, base * 2 ** Math.min(failures, 30))
  return Math.round(capped * (0.5 + random / 2))
}

export class RelayKeeper implements Startable {
  private readonly components: RelayKeeperComponents
  private readonly log: Logger
  /** In the order this page tries them */
  private readonly relays: RelayState[]
  private readonly retryDelayMs: number
  private readonly maxRetryDelayMs: number
  private readonly dialTimeoutMs: number
  private readonly reservationTimeoutMs: number
  private readonly lingerMs: number
  private readonly pingIntervalMs: number
  private readonly pingTimeoutMs: number
  private readonly random: () => number
  private lifecycle?: AbortController
  /** Index (in `relays`) of the page's relay, or the one being tried */
  private active = 0
  /** Failed attempts since the last success, over all relays */
  private failures = 0
  private dialing = false
  private timer?: ReturnType<typeof setTimeout>
  private reservationTimer?: ReturnType<typeof setTimeout>
  private sweeper?: ReturnType<typeof setInterval>
  private pinger?: ReturnType<typeof setInterval>
  private pinging = false
  /** Successful dials after the first connection */
  reconnects = 0
  /** Moves to another relay (its relay failed or refused it) */
  moves = 0
  private connectedOnce = false

  constructor (components: RelayKeeperComponents, init: RelayKeeperInit) {
    this.components = components
    this.log = components.logger.forComponent('ringcdn:browser:relay-keeper')
    this.random = init.random ?? Math.random
    const ordered = init.self != null ? relayOrder(init.self, init.relays) : shuffle(init.relays, this.random)
    this.relays = ordered.map(addr => ({
      addr,
      peerId: addr.getComponents().findLast(c => c.name === 'p2p')?.value
    }))
    this.retryDelayMs = init.retryDelayMs ?? RELAY_RETRY_DELAY_MS
    this.maxRetryDelayMs = init.maxRetryDelayMs ?? RELAY_MAX_RETRY_DELAY_MS
    this.dialTimeoutMs = init.dialTimeoutMs ?? RELAY_DIAL_TIMEOUT_MS
    this.reservationTimeoutMs = init.reservationTimeoutMs ?? RELAY_RESERVATION_TIMEOUT_MS
    this.lingerMs = init.otherRelayLingerMs ?? OTHER_RELAY_LINGER_MS
    this.pingIntervalMs = init.pingIntervalMs ?? RELAY_PING_INTERVAL_MS
    this.pingTimeoutMs = init.pingTimeoutMs ?? RELAY_PING_TIMEOUT_MS
    this.onDisconnect = this.onDisconnect.bind(this)
    this.onSelfUpdate = this.onSelfUpdate.bind(this)
  }

  isStarted (): boolean {
    return this.lifecycle != null
  }

  start (): void {
    if (this.lifecycle != null || this.relays.length === 0) {
      return
    }
    this.lifecycle = new AbortController()
    this.components.events.addEventListener('peer:disconnect', this.onDisconnect)
    this.components.events.addEventListener('self:peer:update', this.onSelfUpdate)
    this.sweeper = setInterval(() => { this.closeOtherRelays() }, Math.max(1_000, this.lingerMs / 4))
    if (this.components.ping != null) {
      this.pinger = setInterval(() => { void this.pingRelay() }, this.pingIntervalMs)
    }
    void this.connect()
  }

  stop (): void {
    const lifecycle = this.lifecycle
    if (lifecycle == null) {
      return
    }
    this.lifecycle = undefined
    lifecycle.abort(new AbortError('the relay keeper was stopped'))
    this.components.events.removeEventListener('peer:disconnect', this.onDisconnect)
    this.components.events.removeEventListener('self:peer:update', this.onSelfUpdate)
    clearTimeout(this.timer)
    clearTimeout(this.reservationTimer)
    clearInterval(this.sweeper)
    clearInterval(this.pinger)
    this.timer = undefined
  }

  /** Relays with an open connection now */
  connected (): string[] {
    return this.relays
      .filter(r => r.peerId != null && this.isConnected(r.peerId))
      .map(r => r.peerId as string)
  }

  /** The page's relay (peer id), when it knows it */
  current (): string | undefined {
    return this.relays[this.active]?.peerId
  }

  private isConnected (peer: string): boolean {
    return this.components.getConnections().some(c => c.status === 'open' && c.remotePeer.toString() === peer)
  }

  private onDisconnect (evt: CustomEvent<PeerId>): void {
    const peer = evt.detail.toString()
    if (peer !== this.current() || this.timer != null || this.dialing) {
      return
    }
    // closed before it gave a reservation: it refused the page (a full relay closes the connection), which
    // counts as a failure, so a page that every relay refuses in turn backs off
    const refused = this.reservationTimer != null
    clearTimeout(this.reservationTimer)
    this.reservationTimer = undefined
    this.log('lost the connection to relay %s%s', peer, refused ? ' before a reservation' : '')
    this.moveOn(refused)
  }

  /** A reservation on another of the site's relays (libp2p chose it): that is the page's relay now */
  private onSelfUpdate (): void {
    const reserved = reservationRelays(this.components.getMultiaddrs?.() ?? [])
    if (reserved.length === 0) {
      return
    }
    clearTimeout(this.reservationTimer)
    this.reservationTimer = undefined
    if (reserved.includes(this.current() ?? '')) {
      return
    }
    const index = this.relays.findIndex(r => r.peerId != null && reserved.includes(r.peerId))
    if (index >= 0 && this.timer == null && !this.dialing) {
      this.log('reserved on relay %s: using it', this.relays[index].peerId)
      this.active = index
    }
  }

  /**
   * Moves to the next relay in this page's order: at once (after a short
   * jitter), or after a backoff once every relay failed in a row
   */
  private moveOn (failed: boolean): void {
    if (this.lifecycle == null) {
      return
    }
    if (failed) {
      this.failures++
    }
    if (this.relays.length > 1) {
      this.active = (this.active + 1) % this.relays.length
      this.moves++
    }
    let delay: number
    if (this.relays.length > 1) {
      // the first move is jittered over a second, so the pages of a relay that died do not all arrive at once;
      // after a whole round of failures, each further round waits longer
      const rounds = Math.floor(this.failures / this.relays.length)
      delay = rounds === 0 ? Math.round(this.retryDelayMs * this.random()) : backoffDelay(rounds - 1, this.retryDelayMs, this.maxRetryDelayMs, this.random())
    } else {
      delay = backoffDelay(this.failures, this.retryDelayMs, this.maxRetryDelayMs, this.random())
    }
    clearTimeout(this.timer)
    this.timer = setTimeout(() => {
      this.timer = undefined
      void this.connect()
    }, delay)
  }

  private async connect (): Promise<void> {
    const lifecycle = this.lifecycle
    if (lifecycle == null || this.dialing) {
      return
    }
    const relay = this.relays[this.active]
    this.dialing = true
    try {
      const connection = await this.components.dial([relay.addr], {
        signal: AbortSignal.any([lifecycle.signal, AbortSignal.timeout(this.dialTimeoutMs)])
      })
      relay.peerId = connection.remotePeer.toString()
      if (this.connectedOnce) {
        this.reconnects++
      }
      this.connectedOnce = true
      this.log('connected to relay %a', relay.addr)
    } catch (err: any) {
      if (lifecycle.signal.aborted) {
        return
      }
      this.log('could not reach relay %a (%d failures) - %e', relay.addr, this.failures + 1, err)
      this.dialing = false
      this.moveOn(true)
      return
    } finally {
      this.dialing = false
    }
    // the connection may have closed while the dial resolved; peer:disconnect came before we knew the id
    if (!this.isConnected(relay.peerId)) {
      this.moveOn(true)
      return
    }
    this.watchReservation(relay)
  }

  /** A relay that gives no reservation in time refused the page (full, or not serving it): the next one */
  private watchReservation (relay: RelayState): void {
    const getMultiaddrs = this.components.getMultiaddrs
    if (this.lifecycle == null) {
      // stopped while the dial resolved: no timer may outlive the keeper
      return
    }
    if (getMultiaddrs == null) {
      this.failures = 0
      return
    }
    clearTimeout(this.reservationTimer)
    this.reservationTimer = undefined
    if (reservationRelays(getMultiaddrs()).length > 0) {
      this.failures = 0
      return
    }
    this.reservationTimer = setTimeout(() => {
      this.reservationTimer = undefined
      if (this.lifecycle == null || this.current() !== relay.peerId) {
        return
      }
      const reserved = reservationRelays(getMultiaddrs())
      if (reserved.length > 0) {
        return
      }
      this.log('relay %s gave no reservation within %d ms: moving on', relay.peerId, this.reservationTimeoutMs)
      for (const connection of this.components.getConnections()) {
        if (connection.remotePeer.toString() === relay.peerId) {
          connection.close().catch(() => {})
        }
      }
      this.moveOn(true)
    }, this.reservationTimeoutMs)
  }

  /** Pings the page's relay; a connection that does not answer in time is dead, and aborting it makes the keeper move on */
  private async pingRelay (): Promise<void> {
    const lifecycle = this.lifecycle
    const peer = this.current()
    if (lifecycle == null || peer == null || this.pinging || this.dialing || this.timer != null) {
      return
    }
    const connection = this.components.getConnections().find(c => c.status === 'open' && c.remotePeer.toString() === peer)
    if (connection == null) {
      return
    }
    this.pinging = true
    try {
      await this.components.ping?.(connection.remotePeer, { signal: AbortSignal.any([lifecycle.signal, AbortSignal.timeout(this.pingTimeoutMs)]) })
    } catch (err: any) {
      if (!lifecycle.signal.aborted) {
        this.log('relay %s did not answer a ping: closing the connection - %e', peer, err)
        connection.abort(err)
      }
    } finally {
      this.pinging = false
    }
  }

  /** Closes connections to the site's other relays once they are `lingerMs` old (they carried signalling) */
  private closeOtherRelays (): void {
    const own = new Set([this.current(), ...reservationRelays(this.components.getMultiaddrs?.() ?? [])])
    const others = new Set(this.relays.map(r => r.peerId).filter(p => p != null && !own.has(p)))
    const now = Date.now()
    for (const connection of this.components.getConnections()) {
      if (others.has(connection.remotePeer.toString()) && now - connection.timeline.open > this.lingerMs) {
        this.log('closing the connection to relay %p: not this page\'s relay', connection.remotePeer)
        connection.close().catch(() => {})
      }
    }
    if (reservationRelays(this.components.getMultiaddrs?.() ?? []).length > 0) {
      this.failures = 0
    }
  }
}

function shuffle<T> (list: T[], random: () => number): T[] {
  const out = [...list]
  for (let i = out.length - 1; i > 0; i--) {
    const j = Math.floor(random() * (i + 1))
    ;[out[i], out[j]] = [out[j], out[i]]
  }
  return out
}
