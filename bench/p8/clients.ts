/**
 * One client process of the P8 relay benchmark: `COUNT` Node libp2p clients
 * (websockets, noise, yamux, identify, circuit relay transport) that each
 * connect to the relay and hold a reservation on it, as pages do. Created in
 * batches of `BATCH`; after each batch one JSON line on stdout:
 * `{"created":n,"reserved":n,"failed":n}`. Runs until SIGTERM.
 *
 * Environment: RELAY (multiaddr, required), COUNT (1000), BATCH (50).
 */
import { noise } from '@chainsafe/libp2p-noise'
import { yamux } from '@chainsafe/libp2p-yamux'
import { circuitRelayTransport } from '@libp2p/circuit-relay-v2'
import { identify } from '@libp2p/identify'
import { webSockets } from '@libp2p/websockets'
import { createLibp2p } from 'libp2p'
import type { Libp2p } from '@libp2p/interface'

const RELAY = process.env.RELAY ?? ''
const COUNT = Number(process.env.COUNT ?? 1_000)
const BATCH = Number(process.env.BATCH ?? 50)
/** Bound on one client getting its reservation, ms */
const RESERVE_TIMEOUT_MS = 60_000

if (RELAY === '') {
  process.stderr.write('RELAY is required\n')
  process.exit(2)
}

async function client (): Promise<Libp2p> {
  const node = await createLibp2p({
    addresses: { listen: [`${RELAY}/p2p-circuit`] },
    // a loaded relay (or machine) may take longer than the default 5 s to confirm; a page would wait too
    transports: [webSockets(), circuitRelayTransport({ reservationCompletionTimeout: 30_000 })],
    connectionEncrypters: [noise()],
    streamMuxers: [yamux()],
    // the relay pings its clients; theirs would only double the load measured on the relay
    connectionMonitor: { enabled: false },
    services: { identify: identify() }
  })
  return node
}

async function reserved (node: Libp2p): Promise<boolean> {
  const end = Date.now() + RESERVE_TIMEOUT_MS
  while (Date.now() < end) {
    if (node.getMultiaddrs().some(ma => ma.toString().includes('/p2p-circuit'))) {
      return true
    }
    await new Promise(resolve => setTimeout(resolve, 100))
  }
  return false
}

const nodes: Libp2p[] = []
let ok = 0
let failed = 0
for (let created = 0; created < COUNT;) {
  const n = Math.min(BATCH, COUNT - created)
  const batch = await Promise.all(Array.from({ length: n }, async () => {
    // a page whose reservation failed tries again; so do these, once
    for (let attempt = 0; attempt < 2; attempt++) {
      try {
        const node = await client()
        nodes.push(node)
        if (await reserved(node)) {
          return true
        }
      } catch (err: any) {
        process.stderr.write(`client failed (attempt ${attempt + 1}): ${err.message.split('\n')[0]}\n`)
      }
    }
    return false
  }))
  created += n
  ok += batch.filter(Boolean).length
  failed += batch.filter(r => !r).length
  process.stdout.write(JSON.stringify({ created, reserved: ok, failed }) + '\n')
}

process.once('SIGTERM', () => {
  // the relay sees every socket close when the process ends: a graceful stop of thousands of nodes only adds time
  process.exit(0)
})
setInterval(() => {}, 60_000)
