import { expect } from 'aegir/chai'
import { RingRequest } from '../../src/overlay/messages.ts'
import { idToBytes } from '../../src/overlay/ring-id.ts'
import { MAX_ROUTE_BUDGET_MS } from '../../src/overlay/settings.ts'
import { peerToWire } from '../../src/overlay/wire.ts'
import { addresses, randomKeys, SimRing, TEST_STABILIZE_MS } from './sim-ring.ts'
import type { RingResponse } from '../../src/overlay/messages.ts'
import type { RingNode } from '../../src/overlay/ring-node.ts'
import type { Rpc } from '../../src/overlay/seams.ts'

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
