/**
 * Per-IP connection limits, as a libp2p connection gater. libp2p limits the
 * rate of new connections per IP address and the number of handshakes in
 * flight over all addresses, but not how many one address holds: 3 000
 * websockets from one address that never start noise slowed every honest
 * join behind them and kept ~100 MB. Here one address may hold at most
 * `maxConnectionsPerIp` connections (open or in their handshake) and at most
 * `maxPendingConnectionsPerIp` of them in their handshake; more are refused
 * before any crypto runs. Counts go down as connections close, and an
 * address with nothing open is forgotten, so nothing outlives an attack.
 */
import { ipOf } from './member-addrs.ts'
import type { ConnectionGater, MultiaddrConnection, PeerId } from '@libp2p/interface'

/**
 * Connections one IP address may hold, open or in their handshake. A page
 * holds one; a NAT of an office holds one per open page.
 */
export const MAX_CONNECTIONS_PER_IP = 256
/** Connections of one IP address in their handshake (websocket open, noise not done) at once */
export const MAX_PENDING_CONNECTIONS_PER_IP = 16

export interface ConnectionGuardInit {
  /** @default MAX_CONNECTIONS_PER_IP (256) */
  maxConnectionsPerIp?: number
  /** @default MAX_PENDING_CONNECTIONS_PER_IP (16) */
  maxPendingConnectionsPerIp?: number
}

export interface ConnectionGuardStats {
  /** IP addresses with a connection */
  ips: number
  /** Connections in their handshake */
  pending: number
  /** Upgraded connections */
  open: number
  /** Connections refused by the per-IP limits */
  refused: number
}

interface Counts {
  pending: number
  open: number
}

export class ConnectionGuard implements Pick<ConnectionGater, 'denyInboundConnection' | 'denyInboundUpgradedConnection'> {
  private readonly byIp = new Map<string, Counts>()
  /** Connections counted, and whether each is upgraded yet */
  private readonly upgraded = new WeakMap<MultiaddrConnection, boolean>()
  private readonly maxPerIp: number
  private readonly maxPendingPerIp: number
  private refused = 0

  constructor (init: ConnectionGuardInit = {}) {
    this.maxPerIp = init.maxConnectionsPerIp ?? MAX_CONNECTIONS_PER_IP
    this.maxPendingPerIp = init.maxPendingConnectionsPerIp ?? MAX_PENDING_CONNECTIONS_PER_IP
    this.denyInboundConnection = this.denyInboundConnection.bind(this)
    this.denyInboundUpgradedConnection = this.denyInboundUpgradedConnection.bind(this)
  }

  /** A new inbound connection, before encryption: refused (true) past the per-IP limits */
  denyInboundConnection (maConn: MultiaddrConnection): boolean {
    const ip = ipOf(maConn.remoteAddr)
    if (ip == null) {
      return false
    }
    const counts = this.byIp.get(ip) ?? { pending: 0, open: 0 }
    if (counts.pending + counts.open >= this.maxPerIp || counts.pending >= this.maxPendingPerIp) {
      this.refused++
      return true
    }
    counts.pending++
    this.byIp.set(ip, counts)
    this.upgraded.set(maConn, false)
    maConn.addEventListener('close', () => { this.closed(ip, maConn) }, { once: true })
    return false
  }

  /** The connection finished its handshake: it no longer counts as pending */
  denyInboundUpgradedConnection (peer: PeerId, maConn: MultiaddrConnection): boolean {
    const ip = ipOf(maConn.remoteAddr)
    const counts = ip == null ? undefined : this.byIp.get(ip)
    if (counts != null && this.upgraded.get(maConn) === false) {
      this.upgraded.set(maConn, true)
      counts.pending--
      counts.open++
    }
    return false
  }

  /** Connections of one IP address, open and in their handshake */
  connections (ip: string): { pending: number, open: number } {
    const counts = this.byIp.get(ip)
    return { pending: counts?.pending ?? 0, open: counts?.open ?? 0 }
  }

  stats (): ConnectionGuardStats {
    let pending = 0
    let open = 0
    for (const counts of this.byIp.values()) {
      pending += counts.pending
      open += counts.open
    }
    return { ips: this.byIp.size, pending, open, refused: this.refused }
  }

  private closed (ip: string, maConn: MultiaddrConnection): void {
    const counts = this.byIp.get(ip)
    const upgraded = this.upgraded.get(maConn)
    if (counts == null || upgraded == null) {
      return
    }
    this.upgraded.delete(maConn)
    if (upgraded) {
      counts.open--
    } else {
      counts.pending--
    }
    if (counts.pending <= 0 && counts.open <= 0) {
      this.byIp.delete(ip)
    }
  }
}
