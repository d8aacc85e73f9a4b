/**
 * One client process of the P8 relay benchmark: `COUNT` Node libp2p clients
 * (websockets, noise, yamux, identify, circuit relay transport) that each
 * connect to a relay and hold a reservation on it, as pages do. Created in
 * batches of `BATCH`; after each batch one JSON line on stdout:
 * `{"created":n,"reserved":n,"failed":n,"moved":n,"registered":n,"chosen":[n per relay]}`.
 * The last line, once every client is created (or SIGUSR2 asked it to stop
 * creating), has `"done":true`. Runs until SIGTERM.
 *
 * With several relays each client picks its relay as a page does: the first
 * in the library's rendezvous order of (its peer id, the relays)
 * (`relayOrder`, what `RelayKeeper` uses), and moves to the next in that
 * order when the reservation fails (`moved` counts those).
 *
 * With `NAMESPACE` set, a reserved client also registers as a member of that
 * namespace through the bootstrap protocol, as a page that joined the ring
 * does, with the `/p2p-circuit/webrtc` address a page registers (these
 * clients have no WebRTC, but nobody dials them here: the address is there
 * so that each listing has a page's size on its relay and on its peer relays).
 *
 * Environment: RELAYS (comma-separated multiaddrs with `/p2p/<id>`, required;
 * RELAY is read when RELAYS is not set), COUNT (1000), BATCH (50), NAMESPACE
 * (none).
 */
import { noise } from '@chainsafe/libp2p-noise'
import { yamux } from '@chainsafe/libp2p-yamux'
import { circuitRelayTransport } from '@libp2p/circuit-relay-v2'
import { generateKeyPair } from '@libp2p/crypto/keys'
import { identify } from '@libp2p/identify'
import { FaultTolerance } from '@libp2p/interface'
import { peerIdFromPrivateKey } from '@libp2p/peer-id'
import { webSockets } from '@libp2p/websockets'
import { multiaddr } from '@multiformats/multiaddr'
import { createLibp2p } from 'libp2p'
import { queryBootstrap, relayOrder } from '../../src/libp2p/bootstrap-client.ts'
import type { Libp2p } from '@libp2p/interface'
import type { Multiaddr } from '@multiformats/multiaddr'

const RELAYS = (process.env.RELAYS ?? process.env.RELAY ?? '').split(',').filter(a => a !== '').map(a => multiaddr(a))
const COUNT = Number(process.env.COUNT ?? 1_000)
const BATCH = Number(process.env.BATCH ?? 50)
const NAMESPACE = process.env.NAMESPACE ?? ''
/** Bound on one client getting its reservation, ms */
const RESERVE_TIMEOUT_MS = 60_000
/** Bound on one registration (a loaded relay answers late; a page would wait too) */
const REGISTER_TIMEOUT_MS = 30_000

if (RELAYS.length === 0) {
  process.stderr.write('RELAYS is required\n')
  process.exit(2)
}
const relayIds = RELAYS.map(ma => ma.getComponents().findLast(c => c.name === 'p2p')?.value ?? ma.toString())

async function client (relay: Multiaddr, privateKey: Awaited<ReturnType<typeof generateKeyPair>>): Promise<Libp2p> {
  const node = await createLibp2p({
    privateKey,
    addresses: { listen: [`${relay.toString()}/p2p-circuit`] },
    // a loaded relay (or machine) may take longer than the default 5 s to confirm; a page would wait too
    transports: [webSockets(), circuitRelayTransport({ reservationCompletionTimeout: 30_000 })],
    connectionEncrypters: [noise()],
    streamMuxers: [yamux()],
    // the relay pings its clients; theirs would only double the load measured on the relay
    connectionMonitor: { enabled: false },
    services: { identify: identify() },
    // a reservation slower than its timeout (a loaded machine) would make start() throw and leave the node
    // connected with nobody to stop it; the client polls for its reservation and stops a node that got none
    transportManager: { faultTolerance: FaultTolerance.NO_FATAL }
  })
  return node
}

/** The client's circuit address once it holds a reservation, or undefined after RESERVE_TIMEOUT_MS */
async function reserved (node: Libp2p): Promise<Multiaddr | undefined> {
  const end = Date.now() + RESERVE_TIMEOUT_MS
  while (Date.now() < end) {
    const circuit = node.getMultiaddrs().find(ma => ma.toString().includes('/p2p-circuit'))
    if (circuit != null) {
      return circuit
    }
    await new Promise(resolve => setTimeout(resolve, 100))
  }
  return undefined
}

/** Lists the client in NAMESPACE on its relay; true when the relay says it is listed */
async function register (node: Libp2p, relay: string, circuit: Multiaddr): Promise<boolean> {
  const self = node.peerId.toString()
  const connection = node.getConnections().find(c => c.remotePeer.toString() === relay)
  if (connection == null) {
    return false
  }
  // the address a page registers: its WebRTC address through its relay
  const base = circuit.toString().replace(new RegExp(`/p2p/${self}$`), '')
  const answer = await queryBootstrap(connection, {
    namespace: NAMESPACE,
    addrs: [multiaddr(`${base}/webrtc/p2p/${self}`)],
    member: true
  }, { timeout: REGISTER_TIMEOUT_MS })
  return answer.type === 'members' && answer.registered
}

interface Outcome { reserved: boolean, moved: boolean, registered: boolean }

const nodes: Libp2p[] = []
const chosen = RELAYS.map(() => 0)

/** One client: its relay by rendezvous order, its reservation, and its registration (with NAMESPACE) */
async function one (): Promise<Outcome> {
  const privateKey = await generateKeyPair('Ed25519')
  const self = peerIdFromPrivateKey(privateKey).toString()
  const order = relayOrder(self, RELAYS)
  chosen[RELAYS.indexOf(order[0])]++
  // a page whose reservation failed tries its next relay (with one relay: the same one again); so do these, once
  for (let attempt = 0; attempt < 2; attempt++) {
    const relay = order[attempt % order.length]
    try {
      const node = await client(relay, privateKey)
      nodes.push(node)
      const circuit = await reserved(node)
      if (circuit == null) {
        // not reserved: this node holds a connection (and a slot) nobody will use
        await Promise.resolve(node.stop()).catch(() => {})
        continue
      }
      let listed = false
      if (NAMESPACE !== '') {
        listed = await register(node, relayIds[RELAYS.indexOf(relay)], circuit).catch((err: any) => {
          process.stderr.write(`registration failed: ${err.message.split('\n')[0]}\n`)
          return false
        })
      }
      return { reserved: true, moved: attempt > 0 && order.length > 1, registered: listed }
    } catch (err: any) {
      process.stderr.write(`client failed (attempt ${attempt + 1}): ${err.message.split('\n')[0]}\n`)
    }
  }
  return { reserved: false, moved: false, registered: false }
}

// the harness asks for no more clients (its wall-time or memory bound): finish the batch, report, hold
const stop = { requested: false }
process.on('SIGUSR2', () => { stop.requested = true })

let ok = 0
let failed = 0
let moved = 0
let registered = 0
let created = 0
while (created < COUNT && !stop.requested) {
  const n = Math.min(BATCH, COUNT - created)
  const batch = await Promise.all(Array.from({ length: n }, one))
  created += n
  ok += batch.filter(o => o.reserved).length
  failed += batch.filter(o => !o.reserved).length
  moved += batch.filter(o => o.moved).length
  registered += batch.filter(o => o.registered).length
  process.stdout.write(JSON.stringify({ created, reserved: ok, failed, moved, registered, chosen }) + '\n')
}
process.stdout.write(JSON.stringify({ created, reserved: ok, failed, moved, registered, chosen, done: true }) + '\n')

process.once('SIGTERM', () => {
  // the relay sees every socket close when the process ends: a graceful stop of thousands of nodes only adds time
  process.exit(0)
})
setInterval(() => {}, 60_000)
