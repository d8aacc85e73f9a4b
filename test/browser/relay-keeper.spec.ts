/**
 * The relay keeper's ping of the page's relay, against fake libp2p parts: a
 * relay that stops answering pings loses its connection (and the keeper
 * dials again), one that answers keeps it. Intervals are a few ms of real
 * time; every wait is bounded.
 */
import { generateKeyPair } from '@libp2p/crypto/keys'
import { defaultLogger } from '@libp2p/logger'
import { peerIdFromPrivateKey } from '@libp2p/peer-id'
import { multiaddr } from '@multiformats/multiaddr'
import { expect } from 'aegir/chai'
import { RelayKeeper } from '../../src/browser/relay-keeper.ts'
import type { Connection, Libp2pEvents, PeerId, TypedEventTarget } from '@libp2p/interface'

/** Bound on each wait, ms */
const WAIT_MS = 5_000

async function waitFor (check: () => boolean, what: string): Promise<void> {
  const deadline = Date.now() + WAIT_MS
  while (!check()) {
    if (Date.now() > deadline) {
      throw new Error(`${what}: not true within ${WAIT_MS} ms`)
    }
    await new Promise(resolve => setTimeout(resolve, 5))
  }
}

interface FakeWorld {
  keeper: RelayKeeper
  dials: number
  pings: number
  aborted: number
  /** Whether the relay answers pings */
  answering: boolean
}

async function fakeWorld (options: { ping: boolean }): Promise<FakeWorld> {
  const relay: PeerId = peerIdFromPrivateKey(await generateKeyPair('Ed25519'))
  const events = new EventTarget() as TypedEventTarget<Libp2pEvents>
  let connections: Connection[] = []
  const world: FakeWorld = { keeper: undefined as any, dials: 0, pings: 0, aborted: 0, answering: true }
  const connect = (): Connection => {
    const connection = {
      remotePeer: relay,
      status: 'open',
      timeline: { open: Date.now() },
      abort: () => {
        world.aborted++
        connection.status = 'closed'
        connections = connections.filter(c => c !== (connection as unknown as Connection))
        events.dispatchEvent(new CustomEvent('peer:disconnect', { detail: relay }))
      },
      close: async () => { connection.abort() }
    }
    return connection as unknown as Connection
  }
  world.keeper = new RelayKeeper({
    logger: defaultLogger(),
    events,
    dial: async () => {
      world.dials++
      const connection = connect()
      connections.push(connection)
      return connection
    },
    getConnections: () => connections,
    ping: options.ping
      ? async (peer, { signal }) => {
        world.pings++
        expect(peer.equals(relay)).to.be.true()
        if (!world.answering) {
          // a vanished relay: the ping hangs until its deadline
          await new Promise((resolve, reject) => { signal.addEventListener('abort', () => { reject(signal.reason) }, { once: true }) })
        }
        return 1
      }
      : undefined
  }, {
    relays: [multiaddr(`/ip4/127.0.0.1/tcp/1/ws/p2p/${relay.toString()}`)],
    retryDelayMs: 1,
    maxRetryDelayMs: 2,
    pingIntervalMs: 10,
    pingTimeoutMs: 30
  })
  return world
}

describe('relay keeper: pinging the relay', () => {
  const keepers: RelayKeeper[] = []
  afterEach(() => {
    keepers.splice(0).forEach(k => { k.stop() })
  })

  it('keeps the connection to a relay that answers its pings', async () => {
    const world = await fakeWorld({ ping: true })
    keepers.push(world.keeper)
    world.keeper.start()
    await waitFor(() => world.pings >= 5, 'five pings')
    expect(world.aborted).to.equal(0)
    expect(world.dials).to.equal(1)
  })

  it('closes the connection to a relay that stops answering and dials again', async () => {
    const world = await fakeWorld({ ping: true })
    keepers.push(world.keeper)
    world.keeper.start()
    await waitFor(() => world.pings >= 1, 'a first ping')
    world.answering = false
    await waitFor(() => world.aborted >= 1, 'the silent relay\'s connection aborted')
    await waitFor(() => world.dials >= 2, 'a new dial')
    expect(world.keeper.reconnects).to.be.at.least(1)
  })

  it('does not ping without a ping function', async () => {
    const world = await fakeWorld({ ping: false })
    keepers.push(world.keeper)
    world.keeper.start()
    await new Promise(resolve => setTimeout(resolve, 100))
    expect(world.dials).to.equal(1)
    expect(world.aborted).to.equal(0)
  })

  it('stops pinging when stopped', async () => {
    const world = await fakeWorld({ ping: true })
    world.keeper.start()
    await waitFor(() => world.pings >= 1, 'a first ping')
    world.keeper.stop()
    const pings = world.pings
    await new Promise(resolve => setTimeout(resolve, 60))
    expect(world.pings).to.equal(pings)
  })
})
