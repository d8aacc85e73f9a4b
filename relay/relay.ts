/**
 * The ringcdn relay: every page's first contact. A Node.js libp2p node with
 * websockets (ws, or wss with a certificate), noise, yamux, identify, ping, a
 * circuit-relay-v2 server (pages reserve a slot and advertise
 * `/p2p-circuit/webrtc` addresses; relayed connections stay limited, so they
 * carry WebRTC signalling and never asset bytes) and the bootstrap protocol
 * (a live member list per namespace; the relay is not a ring member and holds
 * no content). `/health` and `/metrics` are served over plain HTTP on a
 * second port.
 */
import { readFileSync, writeFileSync, existsSync } from 'node:fs'
import { noise } from '@chainsafe/libp2p-noise'
import { yamux } from '@chainsafe/libp2p-yamux'
import { circuitRelayServer } from '@libp2p/circuit-relay-v2'
import { generateKeyPair, privateKeyFromProtobuf, privateKeyToProtobuf } from '@libp2p/crypto/keys'
import { identify } from '@libp2p/identify'
import { UnsupportedKeyTypeError } from '@libp2p/interface'
import { ping } from '@libp2p/ping'
import { webSockets } from '@libp2p/websockets'
import { multiaddr } from '@multiformats/multiaddr'
import { createLibp2p } from 'libp2p'
import { BootstrapServer } from './bootstrap-server.ts'
import { ConnectionGuard } from './connection-guard.ts'
import { FOUNDER_GRACE_MS, MemberRegistry } from './members.ts'
import { createMetrics, listenHttp } from './monitoring.ts'
import { PeerRelays } from './peer-relays.ts'
import { ReservationGate } from './reservation-gate.ts'
import type { ConnectionGuardInit } from './connection-guard.ts'
import type { MemberRegistryInit } from './members.ts'
import type { CircuitRelayService } from '@libp2p/circuit-relay-v2'
import type { Identify } from '@libp2p/identify'
import type { Libp2p, PeerId, PrivateKey } from '@libp2p/interface'
import type { Ping } from '@libp2p/ping'
import type { Multiaddr } from '@multiformats/multiaddr'
import type { Libp2pOptions } from 'libp2p'
import type { Server } from 'node:http'
import type { AddressInfo } from 'node:net'

/** Interface the listeners bind to */
export const DEFAULT_HOST = '127.0.0.1'
/** Websocket (libp2p) port */
export const DEFAULT_PORT = 9090
/** HTTP port of /health and /metrics */
export const DEFAULT_HTTP_PORT = 9091
/**
 * Open connections before libp2p prunes: one per page, plus the relayed
 * connections it carries for signalling
 */
export const MAX_CONNECTIONS = 20_000
/** Concurrent relay reservations (libp2p's default is 15) */
export const MAX_RESERVATIONS = 20_000
/**
 * Connections per second accepted from one IP address. libp2p's default of 5
 * refuses a burst of pages behind one NAT (or every test client on loopback).
 */
export const INBOUND_CONNECTION_THRESHOLD = 100
/** Connections still in their handshake at once (libp2p's default is 10) */
export const MAX_INCOMING_PENDING_CONNECTIONS = 1_000
/** Reservation lifetime before the page must renew it, ms (libp2p's default, 2 h) */
export const RESERVATION_TTL_MS = 7_200_000
/** Concurrent relay hop streams per connection (reserve + connect requests) */
export const MAX_HOP_STREAMS = 64
/** Concurrent relay stop streams the relay opens (one per relayed connection being set up) */
export const MAX_OUTBOUND_STOP_STREAMS = 1_024

export interface RelayLimits extends ConnectionGuardInit {
  /** @default MAX_CONNECTIONS (20 000) */
  maxConnections?: number
  /** @default MAX_RESERVATIONS (20 000) */
  maxReservations?: number
  /** @default INBOUND_CONNECTION_THRESHOLD (100 per second per IP) */
  inboundConnectionThreshold?: number
  /** @default MAX_INCOMING_PENDING_CONNECTIONS (1 000) */
  maxIncomingPendingConnections?: number
  /** @default RESERVATION_TTL_MS (2 h) */
  reservationTtlMs?: number
}

export interface RelayOptions {
  /** @default DEFAULT_HOST ('127.0.0.1'); '0.0.0.0' for every interface */
  host?: string
  /**
   * Websocket port; 0 = any free port
   *
   * @default DEFAULT_PORT (9090)
   */
  port?: number
  /**
   * HTTP port for /health and /metrics; 0 = any free port
   *
   * @default DEFAULT_HTTP_PORT (9091)
   */
  httpPort?: number
  /**
   * Addresses to advertise instead of the listening ones (e.g.
   * `/dns4/relay.example.com/tcp/443/wss`, behind a proxy or NAT)
   *
   * @default the listening addresses
   */
  announce?: string[]
  /**
   * TLS certificate (PEM text or a file path). With `key`, the listener
   * speaks wss instead of ws.
   *
   * @default none (ws)
   */
  cert?: string
  /**
   * TLS private key (PEM text or a file path)
   *
   * @default none
   */
  key?: string
  /**
   * The relay's libp2p identity: a key, or a file holding a protobuf private
   * key (created on first start). Pages are configured with the relay's
   * `/p2p/<id>`, so production relays keep it.
   *
   * @default a new Ed25519 key per start
   */
  identity?: PrivateKey | string
  /** Connection and reservation limits */
  limits?: RelayLimits
  /** Member list bounds, per-IP caps, served namespaces and founder grace */
  members?: MemberRegistryInit
  /**
   * The site's other relays (`…/p2p/<id>`; without it, whoever answers at
   * the address). Relays share their member lists, so pages on any of them
   * form one ring, and an empty namespace's founder is decided once among
   * them (see `peer-relays.ts`)
   *
   * @default none
   */
  peerRelays?: Array<string | Multiaddr>
  /**
   * Whether the connection monitor pings every connection (every 10 s) to
   * find dead ones: a page that vanished without closing its socket is
   * otherwise listed until the TCP connection times out
   *
   * @default true
   */
  connectionMonitor?: boolean
  /**
   * Add process metrics (CPU, memory, event loop) to /metrics
   *
   * @default true
   */
  processMetrics?: boolean
}

export interface RelayStats {
  /** Open libp2p connections */
  connections: number
  /** Relay reservations held */
  reservations: number
  /** Namespaces with members (or a founder) */
  namespaces: number
  /** Ring members listed, all namespaces */
  members: number
  /** Pages told to found a ring that have not registered yet */
  founders: number
  bootstrapRequests: number
  invalidBootstrapRequests: number
  registrations: number
  /** Pages told to found a ring */
  founded: number
  /** Bootstrap requests refused (UNAVAILABLE: a namespace not served, a cap) */
  refusedRequests: number
  /** Member registrations answered but not listed (a cap) */
  notListed: number
  /** Askers told to wait for a page founding their namespace to register */
  founderWaits: number
  /** Registered addresses dropped as not the page's own */
  droppedAddrs: number
  /** IP addresses the member list keeps a record of */
  memberIps: number
  /** IP addresses with a connection (open or in its handshake) */
  connectionIps: number
  /** Connections in their handshake */
  pendingConnections: number
  /** Connections refused by the per-IP connection limits */
  refusedConnections: number
  /** Reservation requests refused because every slot was taken (the page was disconnected to move on) */
  refusedReservations: number
  /** Members listed by pages connected to this relay (`members` counts those of peer relays too) */
  localMembers: number
  /** Listings published by peer relays */
  remoteListings: number
  /** Peer relays configured, and the ones publishing to this relay now */
  peerRelays: number
  linkedRelays: number
  /** Founding questions sent to a namespace's arbiter, and those it did not answer in time */
  arbitrations: number
  arbitrationFailures: number
}

export interface Relay {
  /** Peer id string */
  peerId: string
  /** Dialable ws/wss addresses, each ending in /p2p/<peerId> */
  multiaddrs: string[]
  /** Base URL of /health and /metrics, e.g. `http://127.0.0.1:9091` */
  httpUrl: string
  /** The libp2p node (diagnostics, tests) */
  node: Libp2p<RelayServices>
  /** The member list */
  registry: MemberRegistry
  /** Per-IP connection counts (diagnostics, tests) */
  connectionGuard: ConnectionGuard
  /** The site's other relays (undefined without `peerRelays`) */
  peerRelays?: PeerRelays
  stats(): RelayStats
  /** Stops listening and closes every connection */
  stop(): Promise<void>
}

export type RelayServices = {
  identify: Identify
  ping: Ping
  relay: CircuitRelayService
}

function maxReservationsOf (limits: RelayLimits): number {
  return limits.maxReservations ?? MAX_RESERVATIONS
}

/** The relay's libp2p node: websockets in, circuit relay v2 server, per-IP connection limits */
async function relayNodeOptions (options: RelayOptions, listen: string, tls: boolean, guard: ConnectionGuard, gate: ReservationGate): Promise<Libp2pOptions<RelayServices>> {
  const limits = options.limits ?? {}
  return {
    privateKey: await loadIdentity(options.identity),
    addresses: {
      listen: [listen],
      announce: options.announce
    },
    transports: [webSockets(tls ? { https: { cert: pem(options.cert), key: pem(options.key) } } : {})],
    connectionEncrypters: [noise()],
    streamMuxers: [yamux()],
    connectionMonitor: { enabled: options.connectionMonitor ?? true },
    // per-IP connection limits, and a full relay's refusal that the page hears at once; everything else is
    // allowed (a relay dials nobody)
    connectionGater: {
      denyInboundConnection: guard.denyInboundConnection,
      denyInboundUpgradedConnection: guard.denyInboundUpgradedConnection,
      denyInboundRelayReservation: gate.denyInboundRelayReservation
    },
    connectionManager: {
      maxConnections: limits.maxConnections ?? MAX_CONNECTIONS,
      inboundConnectionThreshold: limits.inboundConnectionThreshold ?? INBOUND_CONNECTION_THRESHOLD,
      maxIncomingPendingConnections: limits.maxIncomingPendingConnections ?? MAX_INCOMING_PENDING_CONNECTIONS
    },
    services: {
      identify: identify(),
      ping: ping(),
      relay: circuitRelayServer({
        maxInboundHopStreams: MAX_HOP_STREAMS,
        maxOutboundStopStreams: MAX_OUTBOUND_STOP_STREAMS,
        reservations: {
          maxReservations: maxReservationsOf(limits),
          reservationTtl: limits.reservationTtlMs ?? RESERVATION_TTL_MS
          // default per-connection limits stay on (128 KiB, 2 min): relayed connections carry signalling only
        }
      })
    }
  }
}

/**
 * Starts a relay
 */
export async function createRelay (options: RelayOptions = {}): Promise<Relay> {
  const host = options.host ?? DEFAULT_HOST
  const port = options.port ?? DEFAULT_PORT
  const limits = options.limits ?? {}
  const tls = options.cert != null || options.key != null
  if (tls && (options.cert == null || options.key == null)) {
    throw new TypeError('TLS needs both cert and key')
  }
  const family = host.includes(':') ? 'ip6' : 'ip4'
  const listen = `/${family}/${host}/tcp/${port}/${tls ? 'tls/ws' : 'ws'}`

  const guard = new ConnectionGuard(limits)
  const gate = new ReservationGate({ maxReservations: maxReservationsOf(limits) })
  const node = await createLibp2p<RelayServices>(await relayNodeOptions(options, listen, tls, guard, gate))
  gate.attach({
    reservations: node.services.relay.reservations,
    close: (peer) => {
      for (const connection of node.getConnections(peer)) {
        connection.close().catch(() => {})
      }
    }
  })

  const log = node.logger.forComponent('ringcdn:relay')
  let peers: PeerRelays | undefined
  const registry = new MemberRegistry({
    ...options.members,
    onChange: (change) => { peers?.publish(change) }
  })
  const peerAddrs = (options.peerRelays ?? []).map(a => typeof a === 'string' ? multiaddr(a) : a)
  if (peerAddrs.length > 0) {
    peers = new PeerRelays(node, { peers: peerAddrs, registry, founderGraceMs: options.members?.founderGraceMs ?? FOUNDER_GRACE_MS })
    await peers.start()
  }
  const bootstrap = new BootstrapServer(node, { registry, peerRelays: peers })
  await bootstrap.start()

  // a reservation outlives its page's connection until its TTL (2 h) in
  // libp2p: a page that left frees its slot now, or churn would fill the
  // store. Its peer store entry (addresses, protocols, keys from identify)
  // would stay forever too: pages rarely come back under the same peer id
  const dropReservation = (evt: CustomEvent<PeerId>): void => {
    const reservation = node.services.relay.reservations.get(evt.detail)
    if (reservation != null) {
      reservation.signal.clear()
      node.services.relay.reservations.delete(evt.detail)
    }
    node.peerStore.delete(evt.detail).catch(err => { log('could not forget %p - %e', evt.detail, err) })
  }
  node.addEventListener('peer:disconnect', dropReservation)

  // lapsed founder grants and idle per-IP records go even when no request comes to sweep them
  const sweeper = setInterval(() => { registry.sweep() }, registry.sweepIntervalMs)
  sweeper.unref()

  const stats = (): RelayStats => {
    const members = registry.stats()
    const served = bootstrap.stats()
    const connections = guard.stats()
    const linked = peers?.stats()
    return {
      connections: node.getConnections().length,
      reservations: node.services.relay.reservations.size,
      namespaces: members.namespaces,
      members: members.members,
      founders: members.founders,
      bootstrapRequests: served.requests,
      invalidBootstrapRequests: served.invalidRequests,
      registrations: served.registrations,
      founded: served.founded,
      refusedRequests: served.refused,
      notListed: served.notListed,
      founderWaits: served.founderWaits,
      droppedAddrs: served.droppedAddrs,
      memberIps: members.ips,
      connectionIps: connections.ips,
      pendingConnections: connections.pending,
      refusedConnections: connections.refused,
      refusedReservations: gate.refused,
      localMembers: members.localMembers,
      remoteListings: members.remoteListings,
      peerRelays: linked?.configured ?? 0,
      linkedRelays: linked?.linked ?? 0,
      arbitrations: linked?.arbitrations ?? 0,
      arbitrationFailures: linked?.arbitrationFailures ?? 0
    }
  }

  const metrics = createMetrics(stats, options.processMetrics ?? true)
  let http: Server
  try {
    http = await listenHttp(host, options.httpPort ?? DEFAULT_HTTP_PORT, node.peerId.toString(), stats, metrics)
  } catch (err) {
    clearInterval(sweeper)
    gate.stop()
    await bootstrap.stop()
    await peers?.stop()
    await node.stop()
    throw err
  }
  const address = http.address() as AddressInfo
  const httpHost = address.family === 'IPv6' ? `[${address.address}]` : address.address

  const multiaddrs = node.getMultiaddrs()
    .filter(ma => !ma.toString().includes('/p2p-circuit'))
    .map(ma => ma.toString())
  log('relay %p listening on %s, http on %s', node.peerId, multiaddrs.join(' '), `${httpHost}:${address.port}`)

  let stopping: Promise<void> | undefined
  return {
    peerId: node.peerId.toString(),
    multiaddrs,
    httpUrl: `http://${httpHost}:${address.port}`,
    node,
    registry,
    connectionGuard: guard,
    peerRelays: peers,
    stats,
    stop: async () => {
      stopping ??= (async () => {
        node.removeEventListener('peer:disconnect', dropReservation)
        clearInterval(sweeper)
        gate.stop()
        http.closeAllConnections()
        await new Promise<void>(resolve => { http.close(() => { resolve() }) })
        await peers?.stop()
        await bootstrap.stop()
        await node.stop()
        log('relay stopped')
      })()
      await stopping
    }
  }
}

/** PEM text as given, or the file it names */
function pem (value: string | undefined): string | undefined {
  if (value == null || value.includes('-----BEGIN')) {
    return value
  }
  return readFileSync(value, 'utf8')
}

/**
 * The relay's key: as given, read from its file, or created (and saved when a
 * file was named). Ed25519 only: the page bundle verifies no other key type
 * (`src/browser/ed25519-only-keys.ts`), so pages could not connect to a relay
 * with one.
 */
async function loadIdentity (identity: PrivateKey | string | undefined): Promise<PrivateKey> {
  const ed25519 = (key: PrivateKey, from: string): PrivateKey => {
    if (key.type !== 'Ed25519') {
      throw new UnsupportedKeyTypeError(`the relay's identity (${from}) is a ${key.type} key: pages accept Ed25519 only; give it an Ed25519 key, or a file name that does not exist yet to have one made`)
    }
    return key
  }
  if (identity != null && typeof identity !== 'string') {
    return ed25519(identity, 'as given')
  }
  if (identity != null && existsSync(identity)) {
    return ed25519(privateKeyFromProtobuf(readFileSync(identity)), identity)
  }
  const key = await generateKeyPair('Ed25519')
  if (identity != null) {
    // only the owner may read the relay's identity
    writeFileSync(identity, privateKeyToProtobuf(key), { mode: 0o600 })
  }
  return key
}
