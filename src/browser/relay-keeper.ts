/**
 * Keeps a page connected to its relays.
 *
 * The relay is a page's only way to be reached: its reservation gives the
 * page its `/p2p-circuit/webrtc` addresses, other pages signal WebRTC through
 * it, and it is the ring's bootstrap. A relay restart, a network change or a
 * laptop waking up closes that connection, and libp2p's own reconnect queue
 * gives up after a few tries. So each relay address is dialled at start and
 * redialled whenever the last connection to that relay closes, with jittered
 * exponential backoff (bounded above, reset by a success) so a relay coming
 * back is not hit by every page at once, until `stop()`.
 *
 * Reconnecting is all this does: the circuit relay transport makes a new
 * reservation once identify tells it the peer is a relay again, and the
 * ringcdn service re-registers with the relay's bootstrap protocol.
 */
import { AbortError } from '../overlay/errors.ts'
import type { ComponentLogger, Connection, Libp2pEvents, Logger, PeerId, Startable, TypedEventTarget } from '@libp2p/interface'
import type { Multiaddr } from '@multiformats/multiaddr'

/** Delay before the first redial of a relay, ms (doubles per failed attempt, then jittered) */
export const RELAY_RETRY_DELAY_MS = 1_000
/** Longest delay between redials of a relay, ms */
export const RELAY_MAX_RETRY_DELAY_MS = 30_000
/** Deadline of one dial of a relay, ms */
export const RELAY_DIAL_TIMEOUT_MS = 10_000

export interface RelayKeeperComponents {
  logger: ComponentLogger
  events: TypedEventTarget<Libp2pEvents>
  /** Dials a relay (libp2p's `dial`) */
  dial(addrs: Multiaddr[], options: { signal: AbortSignal }): Promise<Connection>
  getConnections(peerId?: PeerId): Connection[]
}

export interface RelayKeeperInit {
  /** Relay multiaddrs, each ending in `/p2p/<relay id>` (without it, the id is learned on the first connection) */
  relays: Multiaddr[]
  /** @default RELAY_RETRY_DELAY_MS (1 s) */
  retryDelayMs?: number
  /** @default RELAY_MAX_RETRY_DELAY_MS (30 s) */
  maxRetryDelayMs?: number
  /** @default RELAY_DIAL_TIMEOUT_MS (10 s) */
  dialTimeoutMs?: number
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
  /** Failed dials since the last success */
  failures: number
  timer?: ReturnType<typeof setTimeout>
  dialing: boolean
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
  private readonly relays: RelayState[]
  private readonly retryDelayMs: number
  private readonly maxRetryDelayMs: number
  private readonly dialTimeoutMs: number
  private readonly random: () => number
  private lifecycle?: AbortController
  /** Successful dials after the first connection to each relay */
  reconnects = 0

  constructor (components: RelayKeeperComponents, init: RelayKeeperInit) {
    this.components = components
    this.log = components.logger.forComponent('ringcdn:browser:relay-keeper')
    this.relays = init.relays.map(addr => ({
      addr,
      peerId: addr.getComponents().findLast(c => c.name === 'p2p')?.value,
      failures: 0,
      dialing: false
    }))
    this.retryDelayMs = init.retryDelayMs ?? RELAY_RETRY_DELAY_MS
    this.maxRetryDelayMs = init.maxRetryDelayMs ?? RELAY_MAX_RETRY_DELAY_MS
    this.dialTimeoutMs = init.dialTimeoutMs ?? RELAY_DIAL_TIMEOUT_MS
    this.random = init.random ?? Math.random
    this.onDisconnect = this.onDisconnect.bind(this)
  }

  isStarted (): boolean {
    return this.lifecycle != null
  }

  start (): void {
    if (this.lifecycle != null) {
      return
    }
    this.lifecycle = new AbortController()
    this.components.events.addEventListener('peer:disconnect', this.onDisconnect)
    for (const relay of this.relays) {
      void this.connect(relay, false)
    }
  }

  stop (): void {
    const lifecycle = this.lifecycle
    if (lifecycle == null) {
      return
    }
    this.lifecycle = undefined
    lifecycle.abort(new AbortError('the relay keeper was stopped'))
    this.components.events.removeEventListener('peer:disconnect', this.onDisconnect)
    for (const relay of this.relays) {
      clearTimeout(relay.timer)
      relay.timer = undefined
    }
  }

  /** Relays with an open connection now */
  connected (): string[] {
    return this.relays
      .filter(r => r.peerId != null && this.components.getConnections().some(c => c.status === 'open' && c.remotePeer.toString() === r.peerId))
      .map(r => r.peerId as string)
  }

  private onDisconnect (evt: CustomEvent<PeerId>): void {
    const peer = evt.detail.toString()
    for (const relay of this.relays) {
      if (relay.peerId === peer && relay.timer == null && !relay.dialing) {
        this.log('lost the connection to relay %s, redialling', peer)
        this.schedule(relay)
      }
    }
  }

  private schedule (relay: RelayState): void {
    if (this.lifecycle == null) {
      return
    }
    const delay = backoffDelay(relay.failures, this.retryDelayMs, this.maxRetryDelayMs, this.random())
    relay.timer = setTimeout(() => {
      relay.timer = undefined
      void this.connect(relay, true)
    }, delay)
  }

  private async connect (relay: RelayState, again: boolean): Promise<void> {
    const lifecycle = this.lifecycle
    if (lifecycle == null || relay.dialing) {
      return
    }
    relay.dialing = true
    try {
      const connection = await this.components.dial([relay.addr], {
        signal: AbortSignal.any([lifecycle.signal, AbortSignal.timeout(this.dialTimeoutMs)])
      })
      relay.peerId = connection.remotePeer.toString()
      relay.failures = 0
      if (again) {
        this.reconnects++
      }
      this.log('connected to relay %a', relay.addr)
    } catch (err: any) {
      if (lifecycle.signal.aborted) {
        return
      }
      relay.failures++
      this.log('could not reach relay %a (%d failures) - %e', relay.addr, relay.failures, err)
      this.schedule(relay)
      return
    } finally {
      relay.dialing = false
    }
    // the connection may have closed while the dial resolved; peer:disconnect came before we knew the id
    if (!this.components.getConnections().some(c => c.status === 'open' && c.remotePeer.toString() === relay.peerId)) {
      this.schedule(relay)
    }
  }
}
