import { expect } from 'aegir/chai'
import { addresses, SimRing, TEST_STABILIZE_MS } from './sim-ring.ts'
import type { RingNode } from '../../src/overlay/ring-node.ts'

describe('lookups that confirm their owner (simulated network, virtual time)', function () {
  this.timeout(60_000)

  let ring: SimRing | undefined

  afterEach(() => {
    ring?.stopAll()
    ring = undefined
  })

  /**
   * A settled ring whose requester sees the owner its lookup found crash
   * while the answer travels back to it: the answer names a node that is
   * gone by the time it arrives
   */
  async function staleAnswer (confirm: boolean): Promise<{ found: string, truth: string, owner: RingNode }> {
    const r = new SimRing({ seed: 'confirm' })
    ring = r
    const victim: { node?: RingNode } = {}
    const nodes = addresses(24).map(a => r.add(a, undefined, {}, a !== 'n0'
      ? undefined
      : rpc => ({
        request: async (to, req, options) => {
          const res = await rpc.request(to, req, options)
          // the first forward's answer, as it reaches the requester: its owner crashes just now
          const owner = victim.node
          if (owner != null && req.route != null && !req.route.final && res.route?.owner?.address === owner.self.address) {
            r.crash(owner)
          }
          return res
        },
        handle: (handler) => { rpc.handle(handler) }
      })))
    r.create(nodes[0])
    for (const node of nodes.slice(1)) {
      await r.join(node, nodes[0])
    }
    await r.converge(60 * TEST_STABILIZE_MS, TEST_STABILIZE_MS / 10)
    await r.run(10 * TEST_STABILIZE_MS)
    const requester = r.nodes.get('n0') as RingNode
    // a key far from the requester, so the walk takes hops and ends at a node it does not know as a neighbour
    const members = r.members()
    const at = members.indexOf(requester)
    const target = members[(at + 12) % members.length]
    victim.node = target
    const key = target.self.id - 1n
    const res = await r.settle(requester.lookup(key, { confirm }))
    return { found: res.owner.address, truth: r.owner(key).self.address, owner: target }
  }

  it('names the live owner when the one the walk found crashed while its answer came back', async () => {
    const { found, truth, owner } = await staleAnswer(true)
    expect(truth).to.not.equal(owner.self.address)
    expect(found).to.equal(truth)
  })

  it('names the crashed owner without the confirmation (the stale answer the confirmation catches)', async () => {
    const { found, owner } = await staleAnswer(false)
    expect(found).to.equal(owner.self.address)
  })
})
