/**
 * The connection budget: routing peers are tagged and kept, idle transient
 * connections are closed beyond the budget, and connections the CDN never
 * used (a relay's) are left alone.
 */
import { generateKeyPair } from '@libp2p/crypto/keys'
import { defaultLogger } from '@libp2p/logger'
import { peerIdFromPrivateKey } from '@libp2p/peer-id'
import { expect } from 'aegir/chai'
import { ConnectionBudget } from '../../src/libp2p/connection-budget.ts'
import type { Connection, PeerId } from '@libp2p/interface'

interface FakeConnection { remotePeer: PeerId, status: string, streams: unknown[], closed: boolean, close(): Promise<void>, abort(): void }

async function peer (): Promise<PeerId> {
  return peerIdFromPrivateKey(await generateKeyPair('Ed25519'))
}

describe('connection budget', () => {
  let connections: FakeConnection[]
  let tags: Array<{ peer: string, tags: Record<string, unknown> }>
  let budget: ConnectionBudget

  const connect = async (): Promise<FakeConnection> => {
    const conn: FakeConnection = {
      remotePeer: await peer(),
      status: 'open',
      streams: [],
      closed: false,
      close: async () => { conn.closed = true; conn.status = 'closed' },
      abort: () => { conn.closed = true }
    }
    connections.push(conn)
    return conn
  }

  beforeEach(() => {
    connections = []
    tags = []
    budget = new ConnectionBudget({
      logger: defaultLogger(),
      peerStore: {
        merge: async (id: PeerId, data: any) => {
          tags.push({ peer: id.toString(), tags: data.tags })
          return {} as any
        }
      },
      connectionManager: {
        getConnections: (id?: PeerId) => (connections.filter(c => id == null || c.remotePeer.equals(id)) as unknown as Connection[])
      }
    }, { tag: 'ringcdn-test', maxConnections: 2, idleTimeoutMs: 0, maxIdleMs: 60_000 })
  })

  afterEach(() => { budget.stop() })

  it('tags routing peers and untags (and closes, when idle) those that leave the routing state', async () => {
    const a = await connect()
    const address = a.remotePeer.toString()
    budget.update({ added: [{ id: 1n, address }], removed: [] })
    expect(tags).to.deep.include({ peer: address, tags: { 'ringcdn-test': { value: 50 } } })
    expect(budget.usage()).to.deep.equal({ open: 1, kept: 1 })

    budget.update({ added: [], removed: [{ id: 1n, address }] })
    expect(tags).to.deep.include({ peer: address, tags: { 'ringcdn-test': undefined } })
    expect(a.closed).to.be.true()
  })

  it('closes idle transient connections beyond the budget, least recently used first, and keeps routing peers and strangers', async () => {
    const kept = await connect()
    const stranger = await connect() // e.g. the relay: the CDN never used it
    const old = await connect()
    const recent = await connect()
    budget.keep(kept.remotePeer.toString())
    budget.touch(old.remotePeer.toString())
    await new Promise(resolve => setTimeout(resolve, 5))
    budget.touch(recent.remotePeer.toString())

    budget.sweep()
    expect(old.closed).to.be.true()
    expect(recent.closed).to.be.true()
    expect(kept.closed).to.be.false()
    expect(stranger.closed).to.be.false()
  })

  it('never closes a connection that carries a stream', async () => {
    const busy = await connect()
    busy.streams.push({})
    await connect()
    await connect()
    budget.touch(busy.remotePeer.toString())
    budget.sweep()
    expect(busy.closed).to.be.false()
  })
})
