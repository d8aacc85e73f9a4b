/**
 * Node pages that know nothing but a relay's multiaddr, as browser pages do:
 * websockets to the relay, a relay reservation, WebRTC to each other
 * (node-datachannel, no STUN on loopback), and the ringcdn service with the
 * relay as its only bootstrap address.
 */
import { createServer } from 'node:net'
import { noise } from '@chainsafe/libp2p-noise'
import { yamux } from '@chainsafe/libp2p-yamux'
import { circuitRelayTransport } from '@libp2p/circuit-relay-v2'
import { generateKeyPair } from '@libp2p/crypto/keys'
import { identify } from '@libp2p/identify'
import { peerIdFromPrivateKey } from '@libp2p/peer-id'
import { webRTC } from '@libp2p/webrtc'
import { webSockets } from '@libp2p/websockets'
import { multiaddr } from '@multiformats/multiaddr'
import { createLibp2p } from 'libp2p'
import { createRelay } from '../../relay/relay.ts'
import { RelayKeeper } from '../../src/browser/relay-keeper.ts'
import { reservationRelays } from '../../src/libp2p/bootstrap-client.ts'
import { ringCdn } from '../../src/ring-cdn.ts'
import { FAST_RING } from '../libp2p/cdn-fixtures.ts'
import { waitFor } from '../libp2p/fixtures.ts'
import type { Relay, RelayOptions } from '../../relay/relay.ts'
import type { RelayKeeperInit } from '../../src/browser/relay-keeper.ts'
import type { RingCdn, RingCdnInit } from '../../src/ring-cdn.ts'
import type { CdnNode } from '../libp2p/cdn-fixtures.ts'
import type { Libp2p } from '@libp2p/interface'
import type { AddressInfo } from 'node:net'

export type Page = Libp2p<{ cdn: RingCdn }>

/** Bound on a page getting its relay reservation and WebRTC address */
export const RESERVATION_TIMEOUT = 10_000

export async function createPage (relay: string, init: RingCdnInit = {}): Promise<Page> {
  const page = await createLibp2p({
    addresses: {
      // reserve on this relay at start, and accept WebRTC dials through it
      listen: [`${relay}/p2p-circuit`, '/webrtc']
    },
    transports: [
      webSockets(),
      circuitRelayTransport(),
      webRTC({ rtcConfiguration: { iceServers: [] } })
    ],
    connectionEncrypters: [noise()],
    streamMuxers: [yamux({ maxEarlyStreams: 256 })],
    connectionMonitor: { enabled: false },
    connectionManager: {
      maxConnections: 1_000,
      inboundConnectionThreshold: 1_000,
      maxIncomingPendingConnections: 1_000
    },
    services: {
      identify: identify(),
      cdn: ringCdn({
        bootstrap: [relay],
        ring: FAST_RING,
        lookupTimeoutMs: 3_000,
        joinRetries: 8,
        joinRetryDelayMs: 200,
        ...init
      })
    }
  })
  return page
}

/** Whether a page advertises a WebRTC address through the relay */
export function hasWebRtcAddress (page: Libp2p): boolean {
  return page.getMultiaddrs().some(ma => ma.toString().includes('/p2p-circuit/webrtc'))
}

/** Starts `n` pages at once and waits until each is a ring member */
export async function createPages (relay: string, n: number, init: RingCdnInit = {}): Promise<Page[]> {
  const pages = await Promise.all(Array.from({ length: n }, async () => createPage(relay, init)))
  try {
    await Promise.all(pages.map(async page => page.services.cdn.whenJoined({ signal: AbortSignal.timeout(60_000) })))
  } catch (err) {
    await stopPages(pages)
    throw err
  }
  return pages
}

export async function waitForReservations (pages: Page[]): Promise<void> {
  await waitFor(() => pages.every(hasWebRtcAddress), RESERVATION_TIMEOUT, 'every page to hold a relay reservation')
}

export async function stopPages (pages: Page[]): Promise<void> {
  for (const page of pages) {
    await page.stop()
  }
}

/** The pages as the ring fixtures see them */
export function asCdnNodes (pages: Page[]): CdnNode[] {
  return pages as unknown as CdnNode[]
}

/** K relays of one site on loopback, each configured with the others (`peerRelays`) */
export interface RelaySet {
  relays: Relay[]
  /** Each relay's ws multiaddr (stable across `restart`) */
  addrs: string[]
  /** Stops relay `i` (its pages lose it) */
  stop(i: number): Promise<void>
  /** Starts relay `i` again on the same port with the same identity */
  restart(i: number): Promise<void>
  stopAll(): Promise<void>
}

/** A port free now on 127.0.0.1 (the relays must know each other's addresses before they start) */
export async function freePort (): Promise<number> {
  const server = createServer()
  await new Promise<void>(resolve => { server.listen(0, '127.0.0.1', resolve) })
  const port = (server.address() as AddressInfo).port
  await new Promise<void>(resolve => { server.close(() => { resolve() }) })
  return port
}

export async function createRelaySet (k: number, options: RelayOptions = {}): Promise<RelaySet> {
  const keys = await Promise.all(Array.from({ length: k }, async () => generateKeyPair('Ed25519')))
  const ports: number[] = []
  for (let i = 0; i < k; i++) {
    ports.push(await freePort())
  }
  const addrs = keys.map((key, i) => `/ip4/127.0.0.1/tcp/${ports[i]}/ws/p2p/${peerIdFromPrivateKey(key).toString()}`)
  const start = async (i: number): Promise<Relay> => createRelay({
    port: ports[i],
    httpPort: 0,
    identity: keys[i],
    processMetrics: false,
    peerRelays: addrs.filter((_, j) => j !== i),
    ...options,
    limits: { inboundConnectionThreshold: 10_000, maxConnectionsPerIp: 10_000, maxPendingConnectionsPerIp: 1_000, ...options.limits }
  })
  const relays = await Promise.all(keys.map(async (_, i) => start(i)))
  const stopped = new Set<number>()
  return {
    relays,
    addrs,
    stop: async (i) => {
      stopped.add(i)
      await relays[i].stop()
    },
    restart: async (i) => {
      relays[i] = await start(i)
      stopped.delete(i)
    },
    stopAll: async () => {
      await Promise.all(relays.map(async (r, i) => stopped.has(i) ? undefined : r.stop()))
    }
  }
}

/** Waits until every running relay of the set has a publishing link from every other running one */
export async function waitForLinks (set: RelaySet, running: number[] = set.relays.map((_, i) => i), timeout = 20_000): Promise<void> {
  await waitFor(() => running.every(i => set.relays[i].stats().linkedRelays === running.length - 1), timeout, `${running.length} relays linked to each other`)
}

/** A page on several relays, as `createRingCdn` builds one: it uses one relay at a time (`RelayKeeper`) */
export interface MultiRelayPage {
  node: Page
  keeper: RelayKeeper
  stop(): Promise<void>
}

export async function createMultiRelayPage (relays: string[], init: RingCdnInit = {}, keeperInit: Partial<RelayKeeperInit> = {}): Promise<MultiRelayPage> {
  const node: Page = await createLibp2p({
    addresses: {
      // one reservation, on whichever relay the keeper connects to
      listen: ['/p2p-circuit', '/webrtc']
    },
    transports: [
      webSockets(),
      circuitRelayTransport(),
      webRTC({ rtcConfiguration: { iceServers: [] } })
    ],
    connectionEncrypters: [noise()],
    streamMuxers: [yamux({ maxEarlyStreams: 256 })],
    connectionMonitor: { enabled: false },
    connectionManager: {
      maxConnections: 1_000,
      inboundConnectionThreshold: 1_000,
      maxIncomingPendingConnections: 1_000
    },
    services: {
      identify: identify(),
      cdn: ringCdn({
        bootstrap: relays,
        ring: FAST_RING,
        lookupTimeoutMs: 3_000,
        joinRetries: 8,
        joinRetryDelayMs: 200,
        ...init
      })
    }
  })
  const keeper = new RelayKeeper({
    logger: node.logger,
    events: node,
    dial: async (addrs, options) => node.dial(addrs, options),
    getConnections: (peerId) => node.getConnections(peerId),
    getMultiaddrs: () => node.getMultiaddrs()
  }, { relays: relays.map(r => multiaddr(r)), self: node.peerId.toString(), retryDelayMs: 200, maxRetryDelayMs: 2_000, reservationTimeoutMs: 10_000, ...keeperInit })
  keeper.start()
  return {
    node,
    keeper,
    stop: async () => {
      keeper.stop()
      await node.stop()
    }
  }
}

/** The relay (peer id) a page holds its reservation on */
export function relayOf (page: Page): string | undefined {
  return reservationRelays(page.getMultiaddrs())[0]
}
