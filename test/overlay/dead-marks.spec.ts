import { expect } from 'aegir/chai'
import { addresses, SimRing, TEST_STABILIZE_MS } from './sim-ring.ts'
import type { RingRequest, RingResponse } from '../../src/overlay/messages.ts'
import type { RingNode } from '../../src/overlay/ring-node.ts'
import type { Address, Rpc } from '../../src/overlay/seams.ts'

/** Eight nodes spread evenly round the ring, so the newcomer's place is known */
const SPACING = 1n << 253n
const IDS = Array.from({ length: 8 }, (_, i) => BigInt(i + 1) * SPACING - 1n)

/**
 * A node that leaves one peer's requests unanswered while `state.slow` (a
 * loaded page missing that peer's deadlines), and answers everyone else
 */
function slowFor (peer: () => Address, state: { slow: boolean }) {
  return (rpc: Rpc<RingRequest, RingResponse>): Rpc<RingRequest, RingResponse> => ({
    request: async (to, req, options) => rpc.request(to, req, options),
    handle: (handler) => {
      rpc.handle(async (from, req, options) => {
        if (state.slow && from === peer()) {
          return new Promise<RingResponse>(() => {})
        }
        return handler(from, req, options)
      })
    }
  })
}

describe('dead marks on live nodes (simulated network, virtual time)', function () {
  this.timeout(60_000)

  let ring: SimRing | undefined

  afterEach(() => {
    ring?.stopAll()
    ring = undefined
  })

  it('takes in a newcomer its predecessor marked dead while it was slow to answer, within a few rounds of its answering again', async () => {
    const r = ring = new SimRing({ seed: 'dead-marks' })
    const nodes: RingNode[] = await r.build(addresses(8, 'd'), IDS)
    await r.converge(30 * TEST_STABILIZE_MS)
    const [pred, succ] = [nodes[2], nodes[3]]
    const state = { slow: true }
    const newcomer = r.add('slow', IDS[2] + SPACING / 2n, {}, slowFor(() => pred.self.address, state))
    await r.join(newcomer, succ)
    // the successor takes the newcomer in; its predecessor tries it, misses its deadlines and marks it dead
    await r.run(5 * TEST_STABILIZE_MS)
    expect(succ.predecessor?.address).to.equal('slow')
    expect(pred.successors[0]?.address, 'the predecessor skips the newcomer while it is slow').to.equal(succ.self.address)

    state.slow = false
    const since = r.now
    await r.converge(60 * TEST_STABILIZE_MS, TEST_STABILIZE_MS / 10)
    expect(pred.successors[0]?.address).to.equal('slow')
    expect(r.violations()).to.deep.equal([])
    // the dead mark lasts 30 s (`SUSPECT_TIMEOUT_MS`, 30 rounds here), and without the probe the
    // predecessor took 29.8 s; a successor naming the node gets it probed at the next round (5.1 s:
    // the probes sent while it was slow run out first)
    expect(r.now - since).to.be.at.most(10 * TEST_STABILIZE_MS)
  })
})
