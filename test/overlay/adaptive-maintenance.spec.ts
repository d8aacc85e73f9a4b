import { expect } from 'aegir/chai'
import { RingRequest } from '../../src/overlay/messages.ts'
import { MAINTENANCE_BACKOFF, MAINTENANCE_JITTER } from '../../src/overlay/ring-node.ts'
import { addresses, observeRequests, randomKeys, SimRing, TEST_STABILIZE_MS } from './sim-ring.ts'
import type { SimNetworkInit } from '../../sim/network/network.ts'
import type { RingNode, RingNodeInit } from '../../src/overlay/ring-node.ts'
import type { Clock } from '../../src/overlay/seams.ts'

/** A maintenance round takes its interval give or take half the jitter */
const ROUND_SLACK = 1 + MAINTENANCE_JITTER / 2
/** The longest adaptive round in the tests, virtual ms */
const LONGEST_ROUND = MAINTENANCE_BACKOFF * TEST_STABILIZE_MS

interface Counted {
  ring: SimRing
  /** Maintenance requests sent (stabilize, probe, nudge, maintenance lookups) */
  sent: { count: number }
}

/**
 * A browser's wake-up throttling of a hidden page, on one node: while
 * `state.throttled`, every timer fires at the next multiple of `wakeUpMs`
 * (Chromium's intensive throttling: one wake-up a minute). The worst case:
 * Chromium throttles only chained timers, and a round that ends on a network
 * answer starts a new chain
 */
function throttledClock (state: { throttled: boolean }, wakeUpMs: number): (clock: Clock) => Clock {
  return (clock) => ({
    now: () => clock.now(),
    setTimer: (fn, ms) => {
      if (!state.throttled) {
        return clock.setTimer(fn, ms)
      }
      const due = clock.now() + Math.max(0, ms)
      return clock.setTimer(fn, Math.ceil(due / wakeUpMs) * wakeUpMs - clock.now())
    }
  })
}

/** A settled ring of `n` members whose maintenance requests are counted from the time they joined */
async function settledRing (n: number, adaptiveMaintenance: boolean, seed: string, network?: SimNetworkInit, node?: Partial<RingNodeInit>): Promise<Counted> {
  const sent = { count: 0 }
  const ring = new SimRing({ seed, node: { adaptiveMaintenance, ...node }, network })
  const count = observeRequests((_to, req) => {
    if (req.type !== RingRequest.Type.ROUTE || req.route?.maintenance === true) {
      sent.count++
    }
  })
  const nodes = addresses(n).map(a => ring.add(a, undefined, {}, count))
  ring.create(nodes[0])
  for (const node of nodes.slice(1)) {
    await ring.join(node, nodes[0])
  }
  await ring.converge(60 * TEST_STABILIZE_MS, TEST_STABILIZE_MS / 10)
  expect(ring.violations()).to.deep.equal([])
  return { ring, sent }
}

describe('adaptive maintenance rounds (simulated network, virtual time)', function () {
  this.timeout(120_000)

  let ring: SimRing | undefined

  afterEach(() => {
    ring?.stopAll()
    ring = undefined
  })

  it('sends under a quarter of the fixed rounds\' maintenance in a quiet ring, and keeps every pointer right all along', async () => {
    const window = 20 * LONGEST_ROUND
    const sent: Record<string, number> = {}
    for (const adaptive of [false, true]) {
      const settled = await settledRing(24, adaptive, 'quiet')
      ring = settled.ring
      // let the adaptive rounds reach their longest before counting
      await ring.run(2 * LONGEST_ROUND)
      settled.sent.count = 0
      for (let t = 0; t < window; t += LONGEST_ROUND / 4) {
        await ring.run(LONGEST_ROUND / 4)
        // a backed-off predecessor is not mistaken for a gone one: nobody drops or changes one
        expect(ring.violations(), `${adaptive ? 'adaptive' : 'fixed'} at ${ring.now} ms`).to.deep.equal([])
      }
      sent[String(adaptive)] = settled.sent.count
      ring.stopAll()
    }
    expect(sent.true, JSON.stringify(sent)).to.be.greaterThan(0)
    expect(sent.true, JSON.stringify(sent)).to.be.at.most(sent.false / 4)
  })

  it('answers lookups after a crash in a ring that has backed off as the fixed rounds do, and the probes that find it gone bring the neighbours\' rounds back', async () => {
    const failed: Record<string, number> = {}
    for (const adaptive of [false, true]) {
      ({ ring } = await settledRing(24, adaptive, 'crash'))
      await ring.run(2 * LONGEST_ROUND)
      const victim = ring.members()[9]
      const pred = ring.predecessorOf(victim)
      ring.crash(victim)
      const crashedAt = ring.now
      // lookups for the victim's keys from everywhere, at once: hops probe a neighbour they have
      // not heard from lately, so stale pointers cost time, not wrong answers
      const keys = [victim.self.id, pred.self.id + 1n, ...randomKeys(6)]
      const tally = await ring.lookups(ring.members(), keys)
      expect(tally.wrong).to.deep.equal([])
      // a burst of 192 lookups at once fills the share a hop grants its predecessor, which forwards
      // most of them: how many such refusals the burst meets depends on its timing, not on the rounds
      failed[String(adaptive)] = tally.failed.filter(failure => !failure.includes('is busy')).length
      // the failed probes were news: the neighbours repair within a few base rounds, well before
      // their next backed-off round would have come
      await ring.converge(LONGEST_ROUND, TEST_STABILIZE_MS / 10)
      expect(ring.violations()).to.deep.equal([])
      expect(ring.now - crashedAt, `repaired ${ring.now - crashedAt} ms after the crash`).to.be.at.most(LONGEST_ROUND / 2)
      ring.stopAll()
    }
    // a lookup that meets the crash first may run out of its hop's time (both schedules alike)
    expect(failed.true, JSON.stringify(failed)).to.be.at.most(failed.false)
  })

  it('repairs a crash nobody looks up within one longest round', async () => {
    ({ ring } = await settledRing(24, true, 'idle-crash'))
    await ring.run(2 * LONGEST_ROUND)
    ring.crash(ring.members()[5])
    const took = await ring.converge(4 * LONGEST_ROUND, TEST_STABILIZE_MS / 10)
    expect(ring.violations()).to.deep.equal([])
    // the predecessor's next round finds its successor gone, at most a longest round away; then the
    // change brings the rounds around it back to their base
    expect(took).to.be.at.most(LONGEST_ROUND * ROUND_SLACK + 4 * TEST_STABILIZE_MS)
  })

  it('repairs a crash nobody looks up once the neighbours\' connections to it close, not at their next backed-off round', async () => {
    // a browser hears that a closed tab's connection failed from its ICE consent checks
    const lossMs = 2 * TEST_STABILIZE_MS
    // rounds that back off far, so that the crash lands long before the neighbours' next ones
    const backoff = 64
    ;({ ring } = await settledRing(24, true, 'idle-crash', { connectMs: 50, connectionLossMs: lossMs }, { maintenanceBackoff: backoff }))
    await ring.run(2 * backoff * TEST_STABILIZE_MS)
    ring.crash(ring.members()[5])
    const took = await ring.converge(4 * backoff * TEST_STABILIZE_MS, TEST_STABILIZE_MS / 10)
    expect(ring.violations()).to.deep.equal([])
    // the predecessor runs a round as soon as it hears (finds its successor gone, moves on to the
    // next); that round's notify makes the next one probe its gone predecessor
    expect(took).to.be.at.most(lossMs + 5 * TEST_STABILIZE_MS)
  })

  it('takes a newcomer in within three base rounds although the ring has backed off', async () => {
    ({ ring } = await settledRing(24, true, 'late-join'))
    await ring.run(2 * LONGEST_ROUND)
    const members: RingNode[] = ring.members()
    const newcomer = ring.add('newcomer', undefined, { adaptiveMaintenance: true })
    await ring.join(newcomer, members[3])
    const took = await ring.converge(4 * LONGEST_ROUND, TEST_STABILIZE_MS / 10)
    expect(ring.violations()).to.deep.equal([])
    expect(took).to.be.at.most(3 * TEST_STABILIZE_MS * ROUND_SLACK)
    const tally = await ring.lookups(ring.members(), [newcomer.self.id, ...randomKeys(8)])
    expect(tally.failed).to.deep.equal([])
    expect(tally.wrong).to.deep.equal([])
  })

  /**
   * A hidden page whose timers wake once a minute against 5 s base rounds: 12 base rounds here. Its
   * successor samples whether it still takes the page as its predecessor, from when the throttling
   * starts, over fifteen wake-ups; every third, the page's predecessor crashes, which brings the
   * page's rounds back to their base (a change around it) while its timers still wake once a minute
   */
  async function droppedSamples (roundFloorMs: number | undefined): Promise<number> {
    const wakeUpMs = 12 * TEST_STABILIZE_MS
    const state = { throttled: false }
    const sim = ring = new SimRing({ seed: 'throttled', node: { adaptiveMaintenance: true } })
    const nodes = addresses(10).map((a, i) => i === 3
      ? sim.add(a, undefined, { roundFloorMs: () => state.throttled ? roundFloorMs : undefined }, undefined, throttledClock(state, wakeUpMs))
      : sim.add(a))
    sim.create(nodes[0])
    for (const node of nodes.slice(1)) {
      await sim.join(node, nodes[0])
    }
    await sim.converge(60 * TEST_STABILIZE_MS, TEST_STABILIZE_MS / 10)
    expect(sim.violations()).to.deep.equal([])
    const hidden = nodes[3]
    const successor = sim.successorOf(hidden)
    state.throttled = true
    let dropped = 0
    for (let t = 0; t < 15 * wakeUpMs; t += TEST_STABILIZE_MS / 4) {
      if (t > 0 && t % (3 * wakeUpMs) === 0) {
        sim.crash(sim.predecessorOf(hidden))
      }
      await sim.run(TEST_STABILIZE_MS / 4)
      if (successor.predecessor?.address !== hidden.self.address) {
        dropped++
      }
    }
    return dropped
  }

  it('keeps a predecessor whose timers wake once a minute when it announces rounds of at least a minute; drops it between wake-ups after a change otherwise', async () => {
    const without = await droppedSamples(undefined)
    ring?.stopAll()
    const floored = await droppedSamples(12 * TEST_STABILIZE_MS)
    expect(without, 'samples without the page as predecessor, no floor').to.be.greaterThan(0)
    expect(floored, 'samples without the page as predecessor, a floor of a wake-up').to.equal(0)
  })
})
