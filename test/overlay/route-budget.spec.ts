import { expect } from 'aegir/chai'
import { RingRequest } from '../../src/overlay/messages.ts'
import { idToBytes } from '../../src/overlay/ring-id.ts'
import { MAX_ROUTE_BUDGET_MS } from '../../src/overlay/settings.ts'
import { addresses, randomKeys, SimRing, TEST_STABILIZE_MS } from './sim-ring.ts'
import type { RingResponse } from '../../src/overlay/messages.ts'
import type { Rpc } from '../../src/overlay/seams.ts'

/** A member that keeps its ring upkeep and never answers a lookup it is asked to forward */
function swallowsLookups (rpc: Rpc<RingRequest, RingResponse>): Rpc<RingRequest, RingResponse> {
  return {
    request: async (to, req, options) => rpc.request(to, req, options),
    handle: (handler) => {
      rpc.handle(async (from, req, options) => {
        if (req.type === RingRequest.Type.ROUTE && req.route?.maintenance === false) {
          return new Promise<RingResponse>(() => {})
        }
        return handler(from, req, options)
      })
    }
  }
}

describe('the budget of a routed request (simulated network, virtual time)', function () {
  this.timeout(120_000)

  let ring: SimRing | undefined

  afterEach(() => {
    ring?.stopAll()
    ring = undefined
  })

  it('answers a request whose sender asks for a 49-day budget within the longest budget it grants', async () => {
    const r = new SimRing({ seed: 'route-budget' })
    ring = r
    const nodes = addresses(12).map(a => r.add(a, undefined, {}, a === 'n5' ? swallowsLookups : undefined))
    r.create(nodes[0])
    for (const node of nodes.slice(1)) {
      await r.join(node, nodes[0])
    }
    await r.converge(60 * TEST_STABILIZE_MS, TEST_STABILIZE_MS / 10)
    // a key the swallowing member owns: every path ends at it
    const key = randomKeys(64, 'budget-keys').find(k => r.owner(k).self.address === 'n5')
    expect(key, 'a key n5 owns').to.not.equal(undefined)
    // as if forwarded (hops 1), and as if the sender were the requester (hops 0): neither is believed
    for (const hops of [1, 0]) {
      const started = r.now
      const res = await r.settle(r.rawRpc('mallory').request(nodes[0].self.address, {
        type: RingRequest.Type.ROUTE,
        namespace: '',
        route: { key: idToBytes(key as bigint), hopsLeft: 16, budgetMs: 2 ** 32 - 1, hops, final: false, maintenance: false, avoid: [] }
      }, { timeout: 2 * MAX_ROUTE_BUDGET_MS }))
      expect(res.error, `hops ${hops}: the lookup fails, its owner swallows it`).to.not.equal(0)
      // the budget it grants, and the request's way there and back
      expect(r.now - started, `hops ${hops}`).to.be.at.most(MAX_ROUTE_BUDGET_MS + 1_000)
    }
  })
})
