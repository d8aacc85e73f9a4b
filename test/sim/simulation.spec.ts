import { createHash } from 'node:crypto'
import { expect } from 'aegir/chai'
import { DEFAULT_SIM_OPTIONS } from '../../sim/options.ts'
import { simulate } from '../../sim/simulation.ts'
import type { SimOptions } from '../../sim/options.ts'
import type { SimResult } from '../../sim/result.ts'

const MINUTE_MS = 60_000

/** The numeric fields of the CLI's JSON contract (as /work/shared/tools/check-sim-json.mjs checks them) */
const CONTRACT_FIELDS = ['nodes', 'virtualSeconds', 'wallSeconds', 'peakRssMB', 'events',
  'lookups.total', 'lookups.correct', 'lookups.wrong', 'lookups.failed',
  'hops.mean', 'hops.p50', 'hops.p99', 'latencyMs.p50', 'latencyMs.p99',
  'fetches.total', 'fetches.fromPeers', 'fetches.fromOrigin', 'offload', 'idealOffload',
  'maintenanceBytesPerNodePerSec', 'upload.maxOverMean', 'ring.violations']

function field (doc: unknown, path: string): unknown {
  return path.split('.').reduce<any>((x, k) => x?.[k], doc)
}

function options (over: Partial<SimOptions>): SimOptions {
  return { ...DEFAULT_SIM_OPTIONS, quiet: true, ...over }
}

/** Runs a simulation, hashing every message delivery; the result is copied the moment it arrives */
async function run (opts: SimOptions): Promise<{ result: SimResult, trace: string, messages: number }> {
  const hash = createHash('sha256')
  let messages = 0
  const live = await simulate(opts, {
    trace: (kind, from, to, protocol, bytes) => {
      messages++
      hash.update(`${kind} ${from} ${to} ${protocol} ${bytes}\n`)
    }
  })
  const result = structuredClone(live)
  return { result, trace: hash.digest('hex'), messages }
}

/** The JSON document without the fields that measure the host rather than the run */
function comparable (result: SimResult): string {
  const { wallSeconds, peakRssMB, ...rest } = result
  return JSON.stringify(rest)
}

function expectContract (result: SimResult): void {
  const doc = JSON.parse(JSON.stringify(result))
  for (const path of CONTRACT_FIELDS) {
    const value = field(doc, path)
    expect(value, path).to.be.a('number')
    expect(Number.isFinite(value), path).to.equal(true)
  }
}

describe('simulate', function () {
  // a backstop against a hang, not a speed bound: these runs take minutes on a busy machine, and
  // nothing here may fail because the machine is slow
  this.timeout(60 * MINUTE_MS)

  describe('a churn-free ring of 300 nodes', () => {
    let result: SimResult
    let late: SimResult

    before(async () => {
      const live = await simulate(options({ nodes: 300, durationMs: 3 * MINUTE_MS, warmupMs: MINUTE_MS, sessionMedianMs: 0 }))
      result = structuredClone(live)
      // whatever the run left in flight must not change the figures afterwards
      await new Promise(resolve => setImmediate(resolve))
      late = structuredClone(live)
    })

    it('ends with every successor pointer right', () => {
      expect(result.ring.violations).to.equal(0)
    })

    it('answers every lookup with the true owner', () => {
      expect(result.lookups.total).to.be.greaterThan(1000)
      expect(result.lookups.failed).to.equal(0)
      expect(result.lookups.wrong).to.equal(0)
      expect(result.lookups.correct).to.equal(result.lookups.total)
    })

    it('routes in O(log N) hops', () => {
      expect(result.hops.p99).to.be.at.most(Math.ceil(Math.log2(300)) + 2)
      expect(result.hops.mean).to.be.greaterThan(1)
    })

    it('offloads nearly all that peers could have served, but for what the origin served faster', () => {
      expect(result.idealOffload).to.be.greaterThan(0.2)
      // the library brings the origin in beside a peer path slower than the origin allows (its race);
      // what the origin won that way is the library's choice, not a miss
      const raceLost = result.raceLostShare ?? 0
      expect(result.offload + raceLost).to.be.within(result.idealOffload - 0.05, result.idealOffload + 0.01)
      expect(result.fetches.fromPeers).to.be.greaterThan(0)
    })

    it('fills every numeric field of the JSON contract', () => {
      expectContract(result)
      expect(result.nodes).to.equal(300)
      expect(result.virtualSeconds).to.equal(180)
    })

    it('does not change its result after it has resolved', () => {
      expect(comparable(late)).to.equal(comparable(result))
    })
  })

  describe('determinism', () => {
    const opts = options({ nodes: 100, durationMs: 3 * MINUTE_MS, warmupMs: MINUTE_MS, sessionMedianMs: MINUTE_MS, crashFraction: 0.5, loss: 0.01, lookupRate: 0.02, seed: 7 })

    it('gives the same trace and the same result for the same seed, and another trace for another seed', async () => {
      const first = await run(opts)
      const second = await run(opts)
      const other = await run({ ...opts, seed: 8 })
      expect(first.messages).to.be.greaterThan(10_000)
      expect(second.messages).to.equal(first.messages)
      expect(second.trace).to.equal(first.trace)
      expect(comparable(second.result)).to.equal(comparable(first.result))
      expect(other.trace).to.not.equal(first.trace)
      // churn really happened in these runs
      expect(Math.min(...first.result.series.liveNodes)).to.be.lessThan(100)
    })
  })

  // maintenance rounds that back off while a neighbourhood is quiet (the default) must keep the ring
  // as right under churn as fixed ones did: this is the run that says so
  describe('churn at 1 000 nodes (adaptive maintenance rounds)', () => {
    let result: SimResult

    before(async () => {
      result = structuredClone(await simulate(options({ nodes: 1000, durationMs: 10 * MINUTE_MS, warmupMs: 4 * MINUTE_MS, sessionMedianMs: 3 * MINUTE_MS, crashFraction: 0.5, requestRate: 0.02, adaptiveMaintenance: true })))
    })

    it('answers at least 99% of the lookups it answers with the true owner', () => {
      expect(result.lookups.total).to.be.greaterThan(1000)
      expect(result.lookups.correct / (result.lookups.correct + result.lookups.wrong)).to.be.at.least(0.99)
    })

    // these are the fetches' own lookups, run by the library's fetch path under its lookup deadline
    // (LOOKUP_TIMEOUT_MS, 3 s: past it the fetch goes to the origin). At this churn (3-min median
    // sessions, half of them crashes) about 1.3 % of lookups need longer than that
    it('fails few lookups outright within the fetch path\'s lookup deadline', () => {
      expect(result.lookups.failed / result.lookups.total).to.be.at.most(0.02)
    })

    // a snapshot: a successor that crashed since its predecessor's last round counts as wrong until that
    // node's next round, and adaptive rounds come later in a quiet neighbourhood (~3 crashes a second
    // here). Lookups route around such pointers: the correctness above is what a page sees. With the
    // race (at a 3 s margin) and adaptive rounds together this run ended with 16 (fixed rounds: 8-10)
    it('ends with at most 2% of the successor pointers wrong', () => {
      expect(result.ring.violations).to.be.at.most(20)
    })

    it('keeps the population steady', () => {
      const live = result.series.liveNodes
      expect(Math.min(...live)).to.be.at.least(800)
      expect(Math.max(...live)).to.be.at.most(1200)
    })

    it('fills every numeric field of the JSON contract', () => {
      expectContract(result)
    })

    it('classifies every origin fetch of a repeated request, and finds a live copy for nearly all it could', () => {
      const reasons = result.fetches.originReasons ?? {}
      const repeated = Object.values(reasons).reduce((a, b) => a + b, 0)
      const first = result.diagnostics?.origin?.['first request of the object (ideal too)'] ?? 0
      // (a page that leaves during its origin fetch is classified but its fetch is not counted)
      expect(repeated + first).to.be.within(result.fetches.fromOrigin, 1.05 * result.fetches.fromOrigin)
      // a live page held the object but the home node listed nobody: entries lost in ring changes.
      // Over seeds 1-7 this run's share lies between 3 and 9 % (about 25 of some 450 repeated
      // requests), so the bound catches a doubling, not the spread between seeds
      expect(reasons.notListed ?? 0, JSON.stringify(reasons)).to.be.at.most(0.1 * repeated)
    })

    it('has home nodes copy objects with a single holder, counted apart from the offload', () => {
      expect(result.homeCopies?.copies).to.be.greaterThan(0)
      expect(result.homeCopies?.overDelivered).to.be.within(0, 1)
    })
  })

  describe('a ring that starts settled (--start converged)', () => {
    let result: SimResult

    before(async () => {
      result = structuredClone(await simulate(options({ nodes: 400, start: 'converged', durationMs: MINUTE_MS, warmupMs: 0, sessionMedianMs: 0, requestRate: 0, lookupRate: 0.1 })))
    })

    it('has every node a member from the first moment, with no successor or predecessor wrong', () => {
      expect(result.series.liveNodes[0]).to.equal(400)
      expect(result.ring.violations).to.equal(0)
      expect(result.ring.predecessorViolations).to.equal(0)
    })

    it('answers every lookup with the true owner, from t = 0, in about ½·log2 N hops', () => {
      expect(result.lookups.total).to.be.greaterThan(2000)
      expect(result.lookups.correct).to.equal(result.lookups.total)
      expect(result.series.correctRatio.every(r => r === 1)).to.equal(true)
      expect(result.hops.mean).to.be.within(2, 0.5 * Math.log2(400))
    })

    it('judges pure lookups at the owner too: without churn nothing goes stale on the way back', () => {
      expect(result.lookups.pure).to.equal(result.lookups.total)
      expect(result.lookups.correctAtOwner).to.equal(result.lookups.total)
    })
  })

  describe('a mass failure of 30%', () => {
    let result: SimResult

    before(async () => {
      // the crash at 2 min, measured from 3 min: one minute to recover
      result = structuredClone(await simulate(options({ nodes: 300, durationMs: 5 * MINUTE_MS, warmupMs: 3 * MINUTE_MS, sessionMedianMs: 0, massFailureAtMs: 2 * MINUTE_MS, massFailureFraction: 0.3, lookupRate: 0.02 })))
    })

    it('takes out about 30% of the nodes', () => {
      const after = result.series.liveNodes[result.series.liveNodes.length - 1]
      expect(after).to.be.within(0.6 * 300, 0.8 * 300)
    })

    it('keeps lookups working after recovery', () => {
      expect(result.lookups.total).to.be.greaterThan(1000)
      expect(result.lookups.correct / result.lookups.total).to.be.at.least(0.99)
      expect(result.ring.violations).to.equal(0)
    })
  })
})
