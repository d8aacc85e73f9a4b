import { expect } from 'aegir/chai'
import { RingRequest } from '../../src/overlay/messages.ts'
import { idToBytes } from '../../src/overlay/ring-id.ts'
import { MAX_ROUTE_BUDGET_MS } from '../../src/overlay/settings.ts'
import { peerToWire } from '../../src/overlay/wire.ts'
import { addresses, randomKeys, SimRing, TEST_STABILIZE_MS } from './sim-ring.ts'
import type { RingResponse } from '../../src/overlay/messages.ts'
import type { RingNode } from '../../src/overlay/ring-node.ts'
import type { Rpc } from '../../src/overlay/seams.ts'
import type { LookupResult } from '../../src/overlay/types.ts'

/**
 * Peers that take part in ring upkeep (stabilize, probes, maintenance
 * lookups) like any member, and attack the lookups they are sent: `drop`
 * never answers them, `claim` answers every one as its owner. The rest of
 * the ring runs the production code unchanged.
 */
type Behaviour = 'drop' | 'claim'

const NODES = 48
/** 5 of 48: about 10 % */
const HOSTILE = new Set(['n3', 'n11', 'n19', 'n27', 'n35'])

function hostile (behaviour: Behaviour, counts: { lookups: number }, self: () => RingNode | undefined) {
  return (rpc: Rpc<RingRequest, RingResponse>): Rpc<RingRequest, RingResponse> => ({
    request: async (to, req, options) => rpc.request(to, req, options),
    handle: (handler) => {
      rpc.handle(async (from, req, options) => {
        const route = req.route
        if (req.type !== RingRequest.Type.ROUTE || route == null || route.maintenance) {
          return handler(from, req, options)
        }
        counts.lookups++
        if (behaviour === 'drop') {
          // accepted and never answered: only the sender's deadline ends it
          return new Promise<RingResponse>(() => {})
        }
        const me = self()
        if (me == null) {
          throw new Error('hostile node not made yet')
        }
        return { error: 0, message: '', route: { owner: peerToWire(me.self), hops: route.hops } }
      })
    }
  })
}

describe('lookups past hostile hops (simulated network, virtual time)', function () {
  this.timeout(120_000)

  let ring: SimRing | undefined

  afterEach(() => {
    ring?.stopAll()
    ring = undefined
  })

  async function hostileRing (behaviour: Behaviour): Promise<{ r: SimRing, honest: RingNode[], counts: { lookups: number } }> {
    const r = new SimRing({ seed: `hostile-${behaviour}` })
    ring = r
    const counts = { lookups: 0 }
    const nodes = addresses(NODES).map(a => r.add(a, undefined, {}, HOSTILE.has(a) ? hostile(behaviour, counts, () => r.nodes.get(a)) : undefined))
    r.create(nodes[0])
    for (const node of nodes.slice(1)) {
      await r.join(node, nodes[0])
    }
    await r.converge(60 * TEST_STABILIZE_MS, TEST_STABILIZE_MS / 10)
    await r.run(20 * TEST_STABILIZE_MS)
    expect(r.violations()).to.deep.equal([])
    return { r, honest: nodes.filter(n => !HOSTILE.has(n.self.address)), counts }
  }

  /** Keys owned by honest nodes: a hostile owner can always withhold its own keys */
  function honestKeys (r: SimRing, count: number): bigint[] {
    return randomKeys(4 * count, 'hostile-keys').filter(key => !HOSTILE.has(r.owner(key).self.address)).slice(0, count)
  }

  it('finds the owner of every key an honest node owns when a tenth of the ring swallows lookups', async () => {
    const { r, honest, counts } = await hostileRing('drop')
    const keys = honestKeys(r, 24)
    const tally = await r.lookups(honest.slice(0, 12), keys)
    expect(counts.lookups, 'lookups reached the hostile nodes').to.be.greaterThan(0)
    expect(tally.failed).to.deep.equal([])
    expect(tally.wrong).to.deep.equal([])
    expect(tally.correct).to.equal(tally.total)
  })

  it('answers a request whose sender asks for a 49-day budget within the longest budget it grants', async () => {
    const { r, honest } = await hostileRing('drop')
    // a key a dropper owns: every path ends at a peer that never answers
    const key = randomKeys(64, 'dropper-keys').find(k => HOSTILE.has(r.owner(k).self.address)) as bigint
    const started = r.now
    const res = await r.settle(r.rawRpc('mallory').request(honest[0].self.address, {
      type: RingRequest.Type.ROUTE,
      namespace: '',
      route: { key: idToBytes(key), hopsLeft: 16, budgetMs: 2 ** 32 - 1, hops: 1, final: false, maintenance: false, avoid: [] }
    }, { timeout: 2 * MAX_ROUTE_BUDGET_MS }))
    expect(res.error, 'the lookup fails: the owner swallows it').to.not.equal(0)
    // the budget it grants, and the request's way there and back
    expect(r.now - started).to.be.at.most(MAX_ROUTE_BUDGET_MS + 1_000)
  })

  /**
   * Honest nodes answer a payload as owner with `owner <address>`, and in a
   * silent or lying predecessor's name with `replica at <address> for <owner>`
   */
  function withApplications (r: SimRing, honest: RingNode[]): void {
    const text = (s: string): Uint8Array<ArrayBuffer> => new TextEncoder().encode(s)
    for (const node of honest) {
      node.setApplication({
        deliver: async () => text(`owner ${node.self.address}`),
        answerFor: async (_key, _payload, owner) => text(`replica at ${node.self.address} for ${owner.address}`)
      })
    }
    expect(r.members().length).to.equal(NODES)
  }

  /** Keys a hostile node owns whose owner's successor is honest (two hostile neighbours withhold their keys together) */
  function hostileKeys (r: SimRing, count: number): bigint[] {
    return randomKeys(40 * count, 'hostile-owned').filter(key => {
      const owner = r.owner(key)
      return HOSTILE.has(owner.self.address) && !HOSTILE.has(r.successorOf(owner).self.address)
    }).slice(0, count)
  }

  /** The answer names the key's hostile owner, and its successor answered the payload from its replica */
  function expectAnsweredFor (r: SimRing, key: bigint, res: LookupResult): void {
    const owner = r.owner(key)
    expect(res.owner.address).to.equal(owner.self.address)
    expect(new TextDecoder().decode(res.app)).to.equal(`replica at ${r.successorOf(owner).self.address} for ${owner.self.address}`)
  }

  it('answers a payload for a key a dropper owns from the dropper\'s successor, naming the dropper as owner, once the dropper is shunned', async () => {
    const { r, honest } = await hostileRing('drop')
    withApplications(r, honest)
    const keys = hostileKeys(r, 8)
    expect(keys).to.have.length(8)
    const app = new TextEncoder().encode('locate')
    // two lookups for each dropper's keys: its predecessor shuns it after two whole waits, and from
    // then on passes it over at once and names it in the request
    for (const [i, key] of keys.entries()) {
      for (const requester of [honest[i], honest[i + 8]]) {
        await r.settle(requester.lookup(key, { app })).catch(() => {})
      }
    }
    for (const [i, key] of keys.entries()) {
      expectAnsweredFor(r, key, await r.settle(honest[i + 16].lookup(key, { app })))
    }
  })

  it('answers a payload for a key a dropper owns from the dropper\'s successor on the first lookup for it', async () => {
    const { r, honest } = await hostileRing('drop')
    withApplications(r, honest)
    const keys = hostileKeys(r, 8)
    const app = new TextEncoder().encode('locate')
    // nobody has shunned a dropper yet: the dropper's predecessor waits on it only so long that
    // time is left to ask its successor
    for (const [i, key] of keys.entries()) {
      expectAnsweredFor(r, key, await r.settle(honest[i].lookup(key, { app })))
    }
  })

  it('still fails a bare lookup for a key a dropper owns rather than name anyone else', async () => {
    const { r, honest } = await hostileRing('drop')
    withApplications(r, honest)
    const key = hostileKeys(r, 1)[0]
    const err = await r.settle(honest[0].lookup(key)).then(() => undefined, (err: Error) => err)
    expect(err?.name).to.equal('LookupFailedError')
  })

  it('answers a lookup that names a lying owner in `avoid` from the liar\'s successor', async () => {
    const { r, honest } = await hostileRing('claim')
    withApplications(r, honest)
    const keys = hostileKeys(r, 8)
    const app = new TextEncoder().encode('locate')
    for (const [i, key] of keys.entries()) {
      const owner = r.owner(key)
      // without `avoid` the liar answers for its own key as what it is: the owner
      const plain = await r.settle(honest[i].lookup(key, { app }))
      expect(plain.owner.address).to.equal(owner.self.address)
      expect(plain.app).to.equal(undefined)
      const around = await r.settle(honest[i].lookup(key, { app, avoid: [owner.self.address] }))
      expect(around.owner.address).to.equal(owner.self.address)
      expect(new TextDecoder().decode(around.app)).to.equal(`replica at ${r.successorOf(owner).self.address} for ${owner.self.address}`)
    }
  })

  it('names the true owner when a tenth of the ring claims every key, lookup after lookup', async () => {
    const { r, honest, counts } = await hostileRing('claim')
    const keys = honestKeys(r, 24)
    const first = await r.lookups(honest.slice(0, 12), keys)
    expect(first.wrong).to.deep.equal([])
    expect(first.failed).to.deep.equal([])
    expect(counts.lookups, 'lookups reached the liars').to.be.greaterThan(0)
    const second = await r.lookups(honest.slice(0, 12), keys)
    expect(second.wrong).to.deep.equal([])
    expect(second.failed).to.deep.equal([])
  })
})
