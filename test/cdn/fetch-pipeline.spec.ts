/**
 * The fetch pipeline, holdings and announcer in virtual time (the simulator's
 * scheduler drives the injected `Clock`): their deadlines, retries and bounds
 * come from the clock, so they can be checked to the millisecond without a
 * network or a wall clock. The seams are the simulator's own adapters where
 * one fits (store, downloader over `SimNetwork`, origin); the locator is a
 * scripted ring, since what is tested is how the pipeline treats its answers.
 */
import { expect } from 'aegir/chai'
import { ORIGIN_RTT_MS, SimCatalogue, SimDownloader, SimOrigin, SimPageStore, contentProtocol } from '../../sim/cdn-adapters.ts'
import { SimNetwork } from '../../sim/network/network.ts'
import { SeededRandom } from '../../sim/random.ts'
import { Scheduler } from '../../sim/scheduler.ts'
import { AvoidList } from '../../src/cdn/avoid-list.ts'
import { createCounters } from '../../src/cdn/counters.ts'
import { clockDeadline } from '../../src/cdn/deadline.ts'
import { FetchPipeline, LOOKUP_TIMEOUT_MS } from '../../src/cdn/fetch-pipeline.ts'
import { Holdings } from '../../src/cdn/holdings.ts'
import { Lookups } from '../../src/cdn/lookups.ts'
import { silentLog } from '../../src/overlay/seams.ts'
import type { FetchPipelineInit } from '../../src/cdn/fetch-pipeline.ts'
import type { LocateResult, Locator, SeamOptions } from '../../src/cdn/seams.ts'
import type { Address, Peer } from '../../src/overlay/seams.ts'

const SELF: Peer = { id: 1n, address: 'self' }
const HOLDER: Peer = { id: 2n, address: 'holder' }
const HOME: Peer = { id: 3n, address: 'home' }

/** A ring that answers as scripted: `hang` never answers, `fail` rejects */
class ScriptedLocator implements Locator {
  readonly self = SELF
  ready = true
  holders: Peer[] = []
  hang = false
  announceFailures = 0
  readonly announces: Array<{ at: number, home: Address, key: bigint, gone: Address[] }> = []
  readonly locates: number[] = []
  constructor (private readonly scheduler: Scheduler) {}

  async locate (_key: bigint, _options: SeamOptions): Promise<LocateResult> {
    this.locates.push(this.scheduler.now)
    if (this.hang) {
      return new Promise(() => {})
    }
    return { home: HOME, hops: 2, holders: this.holders }
  }

  async announce (home: Peer, key: bigint, gone: Address[], _options: SeamOptions): Promise<void> {
    this.announces.push({ at: this.scheduler.now, home: home.address, key, gone })
    if (this.announceFailures > 0) {
      this.announceFailures--
      throw new Error('home unreachable')
    }
  }

  forget (): void {}
}

function setup (options: { sizes?: number[], init?: Partial<FetchPipelineInit<number>> } = {}): { scheduler: Scheduler, locator: ScriptedLocator, pipeline: FetchPipeline<number>, catalogue: SimCatalogue, store: SimPageStore, holderStore: SimPageStore, lifetime: AbortController } {
  const scheduler = new Scheduler()
  const clock = scheduler.clock()
  const network = new SimNetwork(scheduler, new SeededRandom(1), {})
  const catalogue = new SimCatalogue(options.sizes ?? [10_000, 20_000])
  const store = new SimPageStore(catalogue, { maxBytes: 1_000_000 })
  const holderStore = new SimPageStore(catalogue, { maxBytes: 1_000_000 })
  network.rpc(HOLDER.address, contentProtocol).handle(async (_from, req) => {
    const object = holderStore.get(req.index)
    return object == null ? { size: 0, digest: '', body: req.body } : { size: object.size, digest: object.digest, body: req.body }
  })
  const locator = new ScriptedLocator(scheduler)
  const counters = createCounters()
  const lookups = new Lookups({ clock, locator, counters })
  const avoidList = new AvoidList(clock)
  const downloader = new SimDownloader(network.rpc(SELF.address, contentProtocol), store, catalogue)
  const holdings = new Holdings({ clock, locator, lookups, downloader, avoidList, counters, log: silentLog }, {
    lookupTimeoutMs: LOOKUP_TIMEOUT_MS,
    trustedDigest: () => undefined,
    uploading: () => true,
    announcing: () => true
  })
  const origin = new SimOrigin(clock, store, catalogue)
  const pipeline = new FetchPipeline<number>({ clock, locator, lookups, downloader, origin, local: store, holdings, avoidList, counters, log: silentLog }, {
    ...options.init,
    deliver: (object) => object.size
  })
  return { scheduler, locator, pipeline, catalogue, store, holderStore, lifetime: new AbortController() }
}

describe('fetch pipeline in virtual time', () => {
  it('goes to the origin exactly when the lookup deadline passes on a ring that never answers (the origin not raced in)', async () => {
    // the origin would race a hanging ring in well before this (test/cdn/origin-race.spec.ts): not here
    const { scheduler, locator, pipeline, catalogue, lifetime } = setup({ init: { originMarginMs: 60_000, originSafetyFactor: 1 } })
    locator.hang = true
    const outcome = await scheduler.settle(pipeline.fetch(catalogue.target(0), { signal: lifetime.signal, lifetime: lifetime.signal }))
    expect(outcome.source).to.equal('origin')
    // the lookup deadline, then the origin's round trip and the body at link speed
    expect(scheduler.now).to.equal(LOOKUP_TIMEOUT_MS + ORIGIN_RTT_MS + Math.round(1000 * 10_000 / 1_250_000))
    lifetime.abort()
  })

  it('takes a listed holder\'s copy, checked against the trusted digest, and serves it locally next', async () => {
    const { scheduler, locator, pipeline, catalogue, store, holderStore, lifetime } = setup()
    holderStore.put(0, { size: 10_000, digest: catalogue.digests[0], provenance: 'origin' })
    locator.holders = [HOLDER]
    const first = await scheduler.settle(pipeline.fetch(catalogue.target(0), { signal: lifetime.signal, lifetime: lifetime.signal }))
    expect(first.source).to.equal('peer')
    expect(store.get(0)?.provenance).to.equal('manifest')
    const again = await scheduler.settle(pipeline.fetch(catalogue.target(0), { signal: lifetime.signal, lifetime: lifetime.signal }))
    expect(again.source).to.equal('local')
    lifetime.abort()
  })

  it('skips a holder whose copy does not match the trusted digest, avoids it, and reports it gone', async () => {
    const { scheduler, locator, pipeline, catalogue, holderStore, lifetime } = setup()
    holderStore.put(0, { size: 10_000, digest: catalogue.digests[1], provenance: 'peer' })
    locator.holders = [HOLDER]
    const first = await scheduler.settle(pipeline.fetch(catalogue.target(0), { signal: lifetime.signal, lifetime: lifetime.signal }))
    expect(first.source).to.equal('origin')
    await scheduler.settle(new Promise(resolve => { scheduler.after(10, () => { resolve(undefined) }) }))
    expect(locator.announces[0].gone).to.deep.equal([HOLDER.address])
    // avoided now: the next fetch of another object does not ask it
    holderStore.put(1, { size: 20_000, digest: catalogue.digests[1], provenance: 'origin' })
    const other = await scheduler.settle(pipeline.fetch(catalogue.target(1), { signal: lifetime.signal, lifetime: lifetime.signal }))
    expect(other.source).to.equal('origin')
    lifetime.abort()
  })

  it('announces again 1, 2 and 4 s after failures, each time to the home a new lookup finds', async () => {
    const { scheduler, locator, pipeline, catalogue, lifetime } = setup()
    locator.announceFailures = 3
    await scheduler.settle(pipeline.fetch(catalogue.target(0), { signal: lifetime.signal, lifetime: lifetime.signal }))
    const stored = scheduler.now
    await scheduler.settle(new Promise(resolve => { scheduler.after(10_000, () => { resolve(undefined) }) }))
    expect(locator.announces.map(a => a.at - stored)).to.deep.equal([0, 1_000, 3_000, 7_000])
    // the fetch's own lookup, then one per retry
    expect(locator.locates).to.have.lengthOf(4)
    lifetime.abort()
  })

  it('makes one trip for concurrent fetches of one key: the second is answered locally', async () => {
    const { scheduler, pipeline, catalogue, lifetime } = setup()
    const options = { signal: lifetime.signal, lifetime: lifetime.signal }
    const both = Promise.all([pipeline.fetch(catalogue.target(0), options), pipeline.fetch(catalogue.target(0), options)])
    const [a, b] = await scheduler.settle(both)
    expect([a.source, b.source]).to.deep.equal(['origin', 'local'])
    lifetime.abort()
  })

  it('aborts a clock deadline at its time on the clock, not before', async () => {
    const scheduler = new Scheduler()
    const deadline = clockDeadline(scheduler.clock(), 500)
    await scheduler.settle(new Promise(resolve => { scheduler.after(499, () => { resolve(undefined) }) }))
    expect(deadline.signal.aborted).to.be.false()
    await scheduler.settle(new Promise(resolve => { scheduler.after(1, () => { resolve(undefined) }) }))
    expect(deadline.signal.aborted).to.be.true()
    expect(deadline.signal.reason).to.have.property('name', 'DeadlineExceededError')
  })
})
