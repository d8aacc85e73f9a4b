/**
 * Node pages that know nothing but a relay's multiaddr, as browser pages do:
 * websockets to the relay, a relay reservation, WebRTC to each other
 * (node-datachannel, no STUN on loopback), and the ringcdn service with the
 * relay as its only bootstrap address.
 */
import { noise } from '@chainsafe/libp2p-noise'
import { yamux } from '@chainsafe/libp2p-yamux'
import { circuitRelayTransport } from '@libp2p/circuit-relay-v2'
import { identify } from '@libp2p/identify'
import { webRTC } from '@libp2p/webrtc'
import { webSockets } from '@libp2p/websockets'
import { createLibp2p } from 'libp2p'
import { ringCdn } from '../../src/ring-cdn.ts'
import { FAST_RING } from '../libp2p/cdn-fixtures.ts'
import { waitFor } from '../libp2p/fixtures.ts'
import type { RingCdn, RingCdnInit } from '../../src/ring-cdn.ts'
import type { CdnNode } from '../libp2p/cdn-fixtures.ts'
import type { Libp2p } from '@libp2p/interface'

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
