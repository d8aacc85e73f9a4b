/**
 * P9 baseline: the smallest browser libp2p node that can do what a ringcdn
 * page does on the wire — websockets to the relay, circuit relay v2
 * reservations, WebRTC between pages, noise, yamux, identify — and nothing
 * else. Bundled exactly like `src/browser.ts`, the difference in size is
 * what ringcdn itself costs.
 */
import { noise } from '@chainsafe/libp2p-noise'
import { yamux } from '@chainsafe/libp2p-yamux'
import { circuitRelayTransport } from '@libp2p/circuit-relay-v2'
import { identify } from '@libp2p/identify'
import { webRTC } from '@libp2p/webrtc'
import { webSockets } from '@libp2p/websockets'
import { createLibp2p } from 'libp2p'
import type { Libp2p } from '@libp2p/interface'

export async function createBareNode (): Promise<Libp2p> {
  return createLibp2p({
    addresses: { listen: ['/p2p-circuit', '/webrtc'] },
    transports: [webSockets(), webRTC(), circuitRelayTransport()],
    connectionEncrypters: [noise()],
    streamMuxers: [yamux()],
    services: { identify: identify() }
  })
}
