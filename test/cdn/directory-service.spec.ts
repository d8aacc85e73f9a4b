import { expect } from 'aegir/chai'
import { DirectoryRequest, DirectoryResponse } from '../../src/cdn/directory-messages.ts'
import { DirectoryService, MISS_QUERY_TIMEOUT_MS } from '../../src/cdn/directory-service.ts'
import { MAX_DIRECTORY_ITEMS } from '../../src/cdn/directory-wire.ts'
import { idToBytes } from '../../src/overlay/ring-id.ts'
import { peerToWire } from '../../src/overlay/wire.ts'
import { addresses, SimRing, TEST_STABILIZE_MS } from '../overlay/sim-ring.ts'
import type { DirectoryServiceInit } from '../../src/cdn/directory-service.ts'
import type { RingNode } from '../../src/overlay/ring-node.ts'
import type { Peer } from '../../src/overlay/seams.ts'

/** Eight nodes spread evenly round the ring, so tests can place keys and newcomers by hand */
const SPACING = 1n << 253n
const IDS = Array.from({ length: 8 }, (_, i) => BigInt(i + 1) * SPACING - 1n)

interface Setup {
  ring: SimRing
  nodes: RingNode[]
  services: Map<string, DirectoryService>
  service(node: RingNode): DirectoryService
  attach(node: RingNode, init?: DirectoryServiceInit): DirectoryService
}

async function setup (init: (node: RingNode) => DirectoryServiceInit = () => ({})): Promise<Setup> {
  const ring = new SimRing({ seed: 'directory' })
  const services = new Map<string, DirectoryService>()
  const attach = (node: RingNode, i?: DirectoryServiceInit): DirectoryService => {
    const service = new DirectoryService({ ring: node, random: ring.random.fork(`dir:${node.self.address}`) }, i ?? init(node))
    services.set(node.self.address, service)
    return service
  }
  const nodes = await ring.build(addresses(8, 'd'), IDS)
  for (const node of nodes) {
    attach(node)
  }
  await ring.converge(30 * TEST_STABILIZE_MS)
  expect(ring.violations()).to.deep.equal([])
  await ring.run(10 * TEST_STABILIZE_MS)
  return {
    ring,
    nodes,
    services,
    attach,
    service: (node) => services.get(node.self.address) as DirectoryService
  }
}

function announceRequest (key: bigint, holder: Peer, gone: string[] = []): Uint8Array<ArrayBuffer> {
  return DirectoryRequest.encode({ type: DirectoryRequest.Type.ANNOUNCE, key: idToBytes(key), gone, entries: [], holder: peerToWire(holder) })
}

async function rejection (ring: SimRing, p: Promise<unknown>): Promise<Error> {
  try {
    await ring.settle(p)
  } catch (err: any) {
    return err
  }
  throw new Error('expected a rejection')
}

describe('DirectoryService (simulated ring)', function () {
  this.timeout(30_000)

  let s: Setup | undefined

  afterEach(() => {
    s?.ring.stopAll()
    s = undefined
  })

  it('answers the first locate of a key with its home node and no holders', async () => {
    s = await setup()
    const key = IDS[3] - 100n
    const found = await s.ring.settle(s.service(s.nodes[0]).locate(key))
    expect(found.home.address).to.equal(s.ring.owner(key).self.address)
    expect(found.home.address).to.equal('d3')
    expect(found.holders).to.deep.equal([])
  })

  it('names the announcer to the next node that locates the key', async () => {
    s = await setup()
    const key = IDS[5] - 12345n
    const [a, b] = [s.nodes[1], s.nodes[6]]
    const first = await s.ring.settle(s.service(a).locate(key))
    await s.ring.settle(s.service(a).announce(first.home, key))
    expect(s.service(s.nodes[5]).directory.holders(key).map(p => p.address)).to.deep.equal([a.self.address])
    const second = await s.ring.settle(s.service(b).locate(key))
    expect(second.home.address).to.equal('d5')
    expect(second.holders.map(p => p.address)).to.deep.equal([a.self.address])
  })

  it('never names the asker itself as a holder', async () => {
    s = await setup()
    const key = IDS[2] - 1n
    const a = s.nodes[7]
    const first = await s.ring.settle(s.service(a).locate(key))
    await s.ring.settle(s.service(a).announce(first.home, key))
    const again = await s.ring.settle(s.service(a).locate(key))
    expect(again.holders).to.deep.equal([])
  })

  it('forgets a holder an announcer reports gone once the home finds it does not answer', async () => {
    s = await setup()
    const key = IDS[4] - 7n
    const [a, b, c] = [s.nodes[0], s.nodes[1], s.nodes[2]]
    const home = (await s.ring.settle(s.service(a).locate(key))).home
    await s.ring.settle(s.service(a).announce(home, key))
    await s.ring.settle(s.service(b).announce(home, key))
    s.ring.crash(a)
    await s.ring.settle(s.service(c).announce(home, key, [a.self.address]))
    await s.ring.run(2 * MISS_QUERY_TIMEOUT_MS)
    expect(s.service(s.nodes[4]).directory.holders(key).map(p => p.address)).to.deep.equal([c.self.address, b.self.address])
  })

  it('keeps a holder that answers when one requester reports it gone, and drops it on a second requester\'s report', async () => {
    s = await setup()
    const key = IDS[4] - 9n
    const [a, b, c] = [s.nodes[0], s.nodes[1], s.nodes[2]]
    const home = (await s.ring.settle(s.service(a).locate(key))).home
    await s.ring.settle(s.service(a).announce(home, key))
    // a hostile requester names the honest holder gone, again and again
    await s.ring.settle(s.service(b).announce(home, key, [a.self.address]))
    await s.ring.settle(s.service(b).announce(home, key, [a.self.address]))
    await s.ring.run(2 * MISS_QUERY_TIMEOUT_MS)
    const holders = (): string[] => s?.service(s.nodes[4]).directory.holders(key).map(p => p.address) ?? []
    expect(holders()).to.deep.equal([b.self.address, a.self.address])
    await s.ring.settle(s.service(c).announce(home, key, [a.self.address]))
    expect(holders()).to.deep.equal([c.self.address, b.self.address])
  })

  it('announces to itself when it is the key\'s home', async () => {
    s = await setup()
    const key = IDS[6] - 3n
    const home = s.nodes[6]
    const found = await s.ring.settle(s.service(home).locate(key))
    expect(found.home.address).to.equal(home.self.address)
    await s.ring.settle(s.service(home).announce(found.home, key))
    expect(s.service(home).directory.holders(key).map(p => p.address)).to.deep.equal([home.self.address])
  })

  it('offers the home node as holder only when nobody else is listed', async () => {
    const key = IDS[4] - 99n
    s = await setup(node => ({ holdsLocally: k => node.self.address === 'd4' && k === key }))
    const alone = await s.ring.settle(s.service(s.nodes[0]).locate(key))
    expect(alone.holders.map(p => p.address)).to.deep.equal(['d4'])
    await s.ring.settle(s.service(s.nodes[1]).announce({ id: IDS[4], address: 'd4' }, key))
    const found = await s.ring.settle(s.service(s.nodes[0]).locate(key))
    // adding itself to every answer would make the home node the hot spot for its keys
    expect(found.holders.map(p => p.address)).to.deep.equal(['d1'])
  })

  it('refuses an announce that names another node as the holder', async () => {
    s = await setup()
    const key = IDS[3] - 5n
    const [liar, victim, home] = [s.nodes[0], s.nodes[1], s.nodes[3]]
    const err = await rejection(s.ring, liar.message(home.self.address, announceRequest(key, victim.self)))
    expect(err.name).to.equal('InvalidMessageError')
    expect(err.message).to.include('announce itself')
    expect(s.service(home).directory.holders(key)).to.deep.equal([])
  })

  it('moves the entries to a node that joins between the old predecessor and the home node', async () => {
    s = await setup()
    const home = s.nodes[4]
    const moving = IDS[4] - (SPACING / 2n)
    const staying = IDS[4] - 10n
    const announcer = s.nodes[0]
    for (const key of [moving, staying]) {
      await s.ring.settle(s.service(announcer).announce(home.self, key))
    }
    expect(s.service(home).directory.size).to.equal(2)

    const newcomer = s.ring.add('newcomer', moving + 1000n)
    const service = s.attach(newcomer)
    await s.ring.join(newcomer, s.nodes[1])
    // the hand-over is one message from the old home
    await s.ring.run(TEST_STABILIZE_MS)

    expect(service.directory.holders(moving).map(p => p.address)).to.deep.equal([announcer.self.address])
    expect(service.directory.holders(staying)).to.deep.equal([])
    // the old home, now the newcomer's successor, keeps its copy as the replica
    expect(s.service(home).directory.holders(moving).map(p => p.address)).to.deep.equal([announcer.self.address])
    expect(s.service(home).directory.holders(staying).map(p => p.address)).to.deep.equal([announcer.self.address])

    await s.ring.converge(10 * TEST_STABILIZE_MS)
    const found = await s.ring.settle(s.service(s.nodes[7]).locate(moving))
    expect(found.home.address).to.equal('newcomer')
    expect(found.holders.map(p => p.address)).to.deep.equal([announcer.self.address])
  })

  it('hands the entries of a lone node to the first node that joins it', async () => {
    const ring = new SimRing({ seed: 'directory-alone' })
    const first = ring.add('first', 1_000_000n)
    ring.create(first)
    const home = new DirectoryService({ ring: first, random: ring.random.fork('dir:first') })
    const holder: Peer = { id: 5n, address: 'holder' }
    const theirs = 600_000n
    const ours = 1_000_000n - 10n
    for (const key of [theirs, ours]) {
      await ring.settle(home.message(holder.address, announceRequest(key, holder)))
    }

    const second = ring.add('second', 700_000n)
    const joined = new DirectoryService({ ring: second, random: ring.random.fork('dir:second') })
    await ring.join(second, first)
    await ring.converge(10 * TEST_STABILIZE_MS)

    try {
      expect(joined.directory.holders(theirs).map(p => p.address)).to.deep.equal(['holder'])
      expect(joined.directory.holders(ours)).to.deep.equal([])
      // the old home keeps its copy as a replica
      expect(home.directory.holders(ours).map(p => p.address)).to.deep.equal(['holder'])
    } finally {
      ring.stopAll()
    }
  })

  it('hands every entry to the successor when the home node leaves', async () => {
    s = await setup()
    const home = s.nodes[2]
    const keys = [IDS[2], IDS[2] - 1n, IDS[1] + 1n]
    for (const key of keys) {
      await s.ring.settle(s.service(s.nodes[6]).announce(home.self, key))
      await s.ring.settle(s.service(s.nodes[7]).announce(home.self, key))
    }
    await s.ring.leave(home)
    const succ = s.nodes[3]
    for (const key of keys) {
      expect(s.service(succ).directory.holders(key).map(p => p.address)).to.deep.equal(['d7', 'd6'])
      const found = await s.ring.settle(s.service(s.nodes[0]).locate(key))
      expect(found.home.address).to.equal('d3')
      expect(found.holders.map(p => p.address).sort()).to.deep.equal(['d6', 'd7'])
    }
  })

  // An application's refusal travels back along the path as INVALID_MESSAGE. An earlier tree took it as
  // evidence against each hop and fail()ed it: this one lookup left d0 with successors d5,d6,d7, d2 and d3
  // without a predecessor and 4 ring violations, d0's still wrong 2 s later.
  it('surfaces the home node\'s refusal of a routed payload without breaking the ring', async () => {
    s = await setup()
    const [origin, succ] = [s.nodes[0], s.nodes[1]]
    const key = IDS[1] - 1n
    const err = await rejection(s.ring, origin.lookup(key, { app: announceRequest(key, origin.self) }))
    expect(err.name).to.equal('InvalidMessageError')
    expect(origin.successors[0]?.address).to.equal(succ.self.address)
    expect(s.nodes[2].predecessor?.address).to.equal(succ.self.address)
    // the same from the far side of the ring, several hops away
    const far = await rejection(s.ring, s.nodes[5].lookup(key, { app: announceRequest(key, s.nodes[5].self) }))
    expect(far.name).to.equal('InvalidMessageError')
    expect(s.ring.violations()).to.deep.equal([])
    await s.ring.run(2 * TEST_STABILIZE_MS)
    expect(s.ring.violations()).to.deep.equal([])
  })

  it('keeps the entries of a newcomer that crashes, through the copy its successor kept', async () => {
    s = await setup()
    const home = s.nodes[4]
    const key = IDS[4] - (SPACING / 2n)
    await s.ring.settle(s.service(s.nodes[0]).announce(home.self, key))
    const newcomer = s.ring.add('newcomer', key + 1000n)
    s.attach(newcomer)
    await s.ring.join(newcomer, s.nodes[1])
    await s.ring.converge(10 * TEST_STABILIZE_MS)
    expect((await s.ring.settle(s.service(s.nodes[7]).locate(key))).home.address).to.equal('newcomer')

    s.ring.crash(newcomer)
    await s.ring.converge(20 * TEST_STABILIZE_MS)
    const found = await s.ring.settle(s.service(s.nodes[7]).locate(key))
    expect(found.home.address).to.equal('d4')
    expect(found.holders.map(p => p.address)).to.deep.equal(['d0'])
  })

  it('copies its entries to a new successor, so they survive the home node crashing', async () => {
    s = await setup()
    const home = s.nodes[4]
    const key = IDS[4] - 5n
    await s.ring.settle(s.service(s.nodes[0]).announce(home.self, key))
    // a node joins right after the home: the per-announce replica went to d5, not to it
    const newcomer = s.ring.add('newcomer', IDS[4] + 1000n)
    const service = s.attach(newcomer)
    await s.ring.join(newcomer, s.nodes[1])
    await s.ring.converge(10 * TEST_STABILIZE_MS)
    expect(home.successors[0]?.address).to.equal('newcomer')
    // the home node's next answer notices the new successor and sends it a copy of its entries
    await s.ring.settle(s.service(s.nodes[6]).locate(key))
    await s.ring.run(TEST_STABILIZE_MS)
    expect(service.directory.holders(key).map(p => p.address)).to.deep.equal(['d0'])

    s.ring.crash(home)
    await s.ring.converge(20 * TEST_STABILIZE_MS)
    const found = await s.ring.settle(s.service(s.nodes[7]).locate(key))
    expect(found.home.address).to.equal('newcomer')
    expect(found.holders.map(p => p.address)).to.deep.equal(['d0'])
  })

  it('answers a locate that avoids a lying home from the replica its successor keeps, still naming the home', async () => {
    s = await setup()
    const home = s.nodes[4]
    const key = IDS[4] - 5n
    await s.ring.settle(s.service(s.nodes[0]).announce(home.self, key))
    await s.ring.run(TEST_STABILIZE_MS)
    // from now on the home lists only itself, whoever holds the key (and would serve bytes that are not it)
    home.setApplication({ deliver: async () => DirectoryResponse.encode({ holders: [peerToWire(home.self)] }) })
    const asker = s.service(s.nodes[6])
    const plain = await s.ring.settle(asker.locate(key))
    expect(plain.holders.map(p => p.address)).to.deep.equal(['d4'])
    const around = await s.ring.settle(asker.locate(key, { avoid: ['d4'] }))
    expect(around.home.address).to.equal('d4')
    expect(around.holders.map(p => p.address)).to.deep.equal(['d0'])
    expect(s.service(s.nodes[5]).answeredFor).to.equal(1)
  })

  it('copies more entries than one message may carry to a new successor, in batches', async () => {
    s = await setup()
    const home = s.nodes[4]
    const holder = s.nodes[0].self
    // more than a receiver accepts in one message
    const keys = Array.from({ length: MAX_DIRECTORY_ITEMS + 17 }, (_, i) => IDS[4] - 5n - BigInt(i))
    s.service(home).directory.merge(keys.map(key => [key, [holder]]))
    const newcomer = s.ring.add('newcomer', IDS[4] + 1000n)
    const service = s.attach(newcomer)
    await s.ring.join(newcomer, s.nodes[1])
    await s.ring.converge(10 * TEST_STABILIZE_MS)
    await s.ring.settle(s.service(s.nodes[6]).locate(keys[0]))
    // one batch after another
    await s.ring.run(10 * TEST_STABILIZE_MS)
    expect(keys.filter(key => service.directory.holders(key).length === 0)).to.have.lengthOf(0)
  })

  it('asks its successor for the holders of a key it knows none of', async () => {
    s = await setup()
    const [home, succ] = [s.nodes[3], s.nodes[4]]
    const key = IDS[3] - 5n
    await s.ring.settle(s.service(s.nodes[0]).announce(home.self, key))
    await s.ring.run(TEST_STABILIZE_MS)
    expect(s.service(succ).directory.holders(key).map(p => p.address)).to.deep.equal(['d0'])
    s.service(home).directory.remove(key, 'd0')

    const found = await s.ring.settle(s.service(s.nodes[6]).locate(key))
    expect(found.home.address).to.equal('d3')
    expect(found.holders.map(p => p.address)).to.deep.equal(['d0'])
    expect(s.service(home).directory.holders(key).map(p => p.address)).to.deep.equal(['d0'])
  })

  it('drops a forgotten holder from its successor\'s replica too, so a miss does not bring it back', async () => {
    s = await setup()
    const [home, succ] = [s.nodes[3], s.nodes[4]]
    const key = IDS[3] - 5n
    await s.ring.settle(s.service(s.nodes[0]).announce(home.self, key))
    await s.ring.run(TEST_STABILIZE_MS)
    expect(s.service(succ).directory.holders(key).map(p => p.address)).to.deep.equal(['d0'])

    s.service(home).forget(key, 'd0')
    await s.ring.run(TEST_STABILIZE_MS)
    expect(s.service(succ).directory.holders(key)).to.deep.equal([])
    const found = await s.ring.settle(s.service(s.nodes[6]).locate(key))
    expect(found.home.address).to.equal('d3')
    expect(found.holders).to.deep.equal([])
  })

  it('answers a miss from its own entries only when asking the successor is off', async () => {
    s = await setup(() => ({ queryOnMiss: false }))
    const home = s.nodes[3]
    const key = IDS[3] - 5n
    await s.ring.settle(s.service(s.nodes[0]).announce(home.self, key))
    await s.ring.run(TEST_STABILIZE_MS)
    s.service(home).directory.remove(key, 'd0')
    const found = await s.ring.settle(s.service(s.nodes[6]).locate(key))
    expect(found.holders).to.deep.equal([])
  })

  it('refuses an announce for a key it is not home for, and passes nothing on', async () => {
    s = await setup()
    const [oldHome, home] = [s.nodes[5], s.nodes[4]]
    const key = IDS[4] - 5n
    const err = await rejection(s.ring, s.service(s.nodes[0]).announce(oldHome.self, key))
    expect(err.message).to.include('not the key\'s home')
    await s.ring.run(TEST_STABILIZE_MS)
    expect(s.service(oldHome).directory.holders(key)).to.deep.equal([])
    expect(s.service(home).directory.holders(key)).to.deep.equal([])
  })

  it('lists one holder for at most its share of keys, and replicates only new listings', async () => {
    s = await setup(() => ({ maxKeysPerHolder: 3 }))
    const [home, succ] = [s.nodes[4], s.nodes[5]]
    const keys = [5n, 6n, 7n, 8n, 9n].map(d => IDS[4] - d)
    for (const key of keys) {
      await s.ring.settle(s.service(s.nodes[0]).announce(home.self, key))
    }
    await s.ring.run(TEST_STABILIZE_MS)
    expect(s.service(home).directory.keysOf('d0')).to.equal(3)
    expect(s.service(home).announcesDropped).to.equal(2)
    expect(s.service(succ).directory.keysOf('d0')).to.equal(3)
    // another holder still gets in
    await s.ring.settle(s.service(s.nodes[1]).announce(home.self, keys[4]))
    expect(s.service(home).directory.holders(keys[4]).map(p => p.address)).to.deep.equal(['d1'])
  })

  it('reports a sole holder of a key it was asked for once, and not a second holder', async () => {
    const calls: Array<[string, string]> = []
    s = await setup(node => ({ onSoleHolder: (_key, holder) => { calls.push([node.self.address, holder.address]) } }))
    const key = IDS[2] - 5n
    const home = (await s.ring.settle(s.service(s.nodes[0]).locate(key))).home
    await s.ring.settle(s.service(s.nodes[0]).announce(home, key))
    expect(calls).to.deep.equal([['d2', 'd0']])
    await s.ring.settle(s.service(s.nodes[1]).locate(key))
    await s.ring.settle(s.service(s.nodes[1]).announce(home, key))
    expect(calls).to.have.length(1)
  })

  it('does not report a sole holder of a key nobody asked it for', async () => {
    const calls: string[] = []
    s = await setup(() => ({ onSoleHolder: (_key, holder) => { calls.push(holder.address) } }))
    await s.ring.settle(s.service(s.nodes[0]).announce(s.nodes[2].self, IDS[2] - 5n))
    expect(calls).to.deep.equal([])
  })

  it('refuses a hand-over from a node that was never home for those keys', async () => {
    s = await setup()
    const key = IDS[3] - 5n
    const [liar, victim, home] = [s.nodes[6], s.nodes[1], s.nodes[3]]
    const forged = DirectoryRequest.encode({
      type: DirectoryRequest.Type.HANDOVER,
      key: new Uint8Array(0),
      gone: [],
      entries: [{ key: idToBytes(key), holders: [peerToWire(victim.self)] }]
    })
    await rejection(s.ring, liar.message(home.self.address, forged))
    expect(s.service(home).directory.holders(key)).to.deep.equal([])
  })
})
