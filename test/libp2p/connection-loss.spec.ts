/**
 * A page whose successor's tab closes hears of it from libp2p (the last
 * connection to that peer closes: `peer:disconnect`) and repairs its part of
 * the ring then, not at its next stabilize round. Real libp2p nodes; their
 * own rounds are two minutes apart here, so only the closed connection can
 * explain a repair within the test's bound.
 */
import { expect } from 'aegir/chai'
import { compareIds } from '../../src/overlay/ring-id.ts'
import { createRing, FAST_RING, ringIsCorrect, stopAll, waitForRing } from './cdn-fixtures.ts'
import type { CdnNode } from './cdn-fixtures.ts'

/** Stabilize and finger rounds far beyond the repair bound below, ms */
const SLOW_ROUNDS_MS = 120_000
/** Bound on the ring settling under the test's own rounds, and on the repair after the crash, ms */
const RING_MS = 30_000

describe('a closed connection to a neighbour (real libp2p)', function () {
  this.timeout(120_000)

  let nodes: CdnNode[] = []

  afterEach(async () => {
    await stopAll(nodes)
    nodes = []
  })

  it('repairs the ring as soon as the crashed successor\'s connection closes', async () => {
    nodes = await createRing(4, { init: { ring: { ...FAST_RING, stabilizeIntervalMs: SLOW_ROUNDS_MS, fixFingersIntervalMs: SLOW_ROUNDS_MS } } })
    // the test runs the rounds that settle the ring after the joins itself
    const deadline = Date.now() + RING_MS
    while (!ringIsCorrect(nodes)) {
      if (Date.now() > deadline) {
        throw new Error(`RingDisagreementError: ${nodes.length} nodes did not form the true ring within ${RING_MS} ms of rounds`)
      }
      await Promise.all(nodes.map(async n => n.services.cdn.ring?.stabilize().catch(() => {})))
    }
    const byId = [...nodes].sort((a, b) => compareIds(a.services.cdn.nodeId as bigint, b.services.cdn.nodeId as bigint))
    const [pred, victim] = byId
    expect(pred.services.cdn.ring?.successors[0]?.address).to.equal(victim.peerId.toString())

    // a crash: the service stops without leaving the ring, then the node closes its connections
    await victim.services.cdn.stop()
    await victim.stop()
    nodes = nodes.filter(n => n !== victim)

    await waitForRing(nodes, RING_MS)
    expect(ringIsCorrect(nodes)).to.equal(true)
  })
})
