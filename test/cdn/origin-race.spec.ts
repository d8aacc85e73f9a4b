/**
 * The origin estimator, the decision when the origin joins a fetch, and the
 * pipeline's race of the peer path and the origin, in virtual time (the
 * simulator's scheduler drives the `Clock`). Holders are scripted at the
 * `Downloader` seam (silent, busy, too large, or answering after a delay)
 * because what is tested is how the pipeline treats their answers; the
 * origin is the simulator's, on virtual time.
 */
import { expect } from 'aegir/chai'
import { ORIGIN_RTT_MS, LINK_BYTES_PER_SEC, SimCatalogue, SimOrigin, SimPageStore } from '../../sim/cdn-adapters.ts'
import { Scheduler } from '../../sim/scheduler.ts'
import { AVOID_BUSY_MS, AvoidList } from '../../src/cdn/avoid-list.ts'
import { createCounters } from '../../src/cdn/counters.ts'
import { clockDelay } from '../../src/cdn/deadline.ts'
import { HolderBusyError, ObjectSizeError, TransferError } from '../../src/cdn/errors.ts'
import { FetchPipeline, HOLDER_ANSWER_TIMEOUT_MS } from '../../src/cdn/fetch-pipeline.ts'
import { HEDGE_MIN_MS, HEDGE_PRIOR_MS } from '../../src/cdn/hedge-delay.ts'
import { Holdings } from '../../src/cdn/holdings.ts'
import { Lookups } from '../../src/cdn/lookups.ts'
import { ORIGIN_HEAD_START_MS, ORIGIN_MARGIN_MS, ORIGIN_PRIOR_BYTES_PER_SEC, ORIGIN_PRIOR_RTT_MS, OriginEstimator, originStartAt } from '../../src/cdn/origin-estimator.ts'
import { MAX_SHARE_WAITS, MAX_UPLOADS_PER_PEER } from '../../src/cdn/share-waiters.ts'
import { silentLog } from '../../src/overlay/seams.ts'
import type { CdnCounters } from '../../src/cdn/counters.ts'
import type { FetchPipelineInit } from '../../src/cdn/fetch-pipeline.ts'
import type { DownloadOptions, Downloader, LocateResult, Locator, StoredObject } from '../../src/cdn/seams.ts'
import type { Clock, Peer } from '../../src/overlay/seams.ts'

describe('origin estimator', () => {
  it('answers with its prior before any origin fetch', () => {
    const estimator = new OriginEstimator()
    expect(estimator.estimate()).to.equal(ORIGIN_PRIOR_RTT_MS)
    expect(estimator.estimate(ORIGIN_PRIOR_BYTES_PER_SEC)).to.equal(ORIGIN_PRIOR_RTT_MS + 1_000)
  })

  it('learns the round trip and the throughput from fetches of different sizes', () => {
    const estimator = new OriginEstimator()
    // 50 ms round trip, 2 MB/s
    for (const bytes of [1_000, 30_000, 300_000, 3_000_000, 1_000, 300_000]) {
      estimator.observe(bytes, 50 + bytes / 2_000)
    }
    expect(estimator.estimate(0)).to.be.closeTo(50, 0.5)
    expect(estimator.estimate(1_000_000)).to.be.closeTo(550, 0.5)
    // a size not yet said: the typical object seen so far
    expect(estimator.estimate()).to.be.within(estimator.estimate(1_000), estimator.estimate(3_000_000))
  })

  it('takes the throughput from its prior when every fetch had the same size', () => {
    const estimator = new OriginEstimator()
    estimator.observe(10_000, 110)
    estimator.observe(10_000, 130)
    const perByte = 1_000 / ORIGIN_PRIOR_BYTES_PER_SEC
    expect(estimator.estimate(10_000)).to.be.closeTo(120, 1)
    expect(estimator.estimate(1_010_000)).to.be.closeTo(120 + 1_000_000 * perByte, 1)
  })

  it('follows an origin that became slower, and ignores nonsense', () => {
    const estimator = new OriginEstimator()
    for (let i = 0; i < 10; i++) {
      estimator.observe(1_000, 100)
    }
    for (let i = 0; i < 20; i++) {
      estimator.observe(1_000, 600)
    }
    expect(estimator.estimate(1_000)).to.be.within(550, 600)
    estimator.observe(Number.NaN, 10)
    estimator.observe(1_000, -5)
    estimator.observe(1_000, Number.POSITIVE_INFINITY)
    expect(estimator.samples).to.equal(30)
  })
})

describe('when the origin joins a fetch', () => {
  const cases: Array<{ name: string, estimate: number, margin?: number, safety?: number, headStart?: number, at: number }> = [
    { name: 'a fast origin joins late: the margin less one estimate (safety 2)', estimate: 100, at: ORIGIN_MARGIN_MS - 100 },
    { name: 'a slower origin joins earlier', estimate: 250, at: ORIGIN_MARGIN_MS - 250 },
    { name: 'an origin slower than the margin joins after the peers\' head start', estimate: ORIGIN_MARGIN_MS, at: ORIGIN_HEAD_START_MS },
    { name: 'no head start: a slow origin races the peers from the start', estimate: ORIGIN_MARGIN_MS, headStart: 0, at: 0 },
    { name: 'safety 1: at the margin whatever the estimate', estimate: 5_000, safety: 1, at: ORIGIN_MARGIN_MS },
    { name: 'safety 3: twice the estimate before the margin', estimate: 100, safety: 3, at: ORIGIN_MARGIN_MS - 200 },
    { name: 'no margin: at once, whatever the head start', estimate: 100, margin: 0, at: 0 }
  ]
  for (const c of cases) {
    it(c.name, () => {
      expect(originStartAt(1_000, c.estimate, { marginMs: c.margin, safetyFactor: c.safety, headStartMs: c.headStart })).to.equal(1_000 + c.at)
    })
  }

  it('is never later than the margin, nor before the head start', () => {
    for (let estimate = 0; estimate < 10_000; estimate += 37) {
      const at = originStartAt(500, estimate, { marginMs: 800, safetyFactor: 2, headStartMs: 300 })
      expect(at).to.be.within(800, 1_300)
    }
  })
})

const SELF: Peer = { id: 1n, address: 'self' }
const HOME: Peer = { id: 3n, address: 'home' }
const holder = (name: string, id: bigint): Peer => ({ id, address: name })

type Behaviour = { kind: 'silent' } | { kind: 'busy' } | { kind: 'too-large' } | { kind: 'break', answerMs: number } | { kind: 'serve', answerMs: number, bytesPerSec: number, perPeer?: number }

/** Holders as scripted; a served object goes into the requester's store */
class ScriptedDownloader implements Downloader {
  readonly asked: Array<{ at: number, holder: string }> = []
  readonly aborted: string[] = []
  /** Transfers being served, by holder: a holder with `perPeer` set answers BUSY beyond it */
  private readonly serving = new Map<string, number>()
  constructor (private readonly clock: Clock, private readonly scheduler: Scheduler, private readonly catalogue: SimCatalogue, private readonly store: SimPageStore, readonly behaviour: Map<string, Behaviour>) {}

  async download (peer: Peer, key: string, options: DownloadOptions): Promise<StoredObject> {
    this.asked.push({ at: this.scheduler.now, holder: peer.address })
    const b = this.behaviour.get(peer.address) ?? { kind: 'silent' }
    const index = this.catalogue.indexOfHex(key) as number
    try {
      switch (b.kind) {
        case 'silent':
          await clockDelay(this.clock, 1_000_000, options.signal)
          throw new Error('unreachable')
        case 'busy':
          await clockDelay(this.clock, 10, options.signal)
          throw new HolderBusyError(`${peer.address} is busy`)
        case 'too-large':
          await clockDelay(this.clock, 10, options.signal)
          throw new ObjectSizeError(`${peer.address} says it is too large`)
        case 'break':
          // answers, then the transfer breaks off
          await clockDelay(this.clock, b.answerMs, options.signal)
          options.onStart?.(this.catalogue.sizes[index])
          await clockDelay(this.clock, 100, options.signal)
          throw new TransferError(`${peer.address} stopped sending`)
        case 'serve': {
          const serving = this.serving.get(peer.address) ?? 0
          if (b.perPeer != null && serving >= b.perPeer) {
            await clockDelay(this.clock, 10, options.signal)
            throw new HolderBusyError(`${peer.address} serves you ${serving} already`)
          }
          this.serving.set(peer.address, serving + 1)
          try {
            await clockDelay(this.clock, b.answerMs, options.signal)
          } catch (err) {
            this.serving.set(peer.address, (this.serving.get(peer.address) ?? 1) - 1)
            throw err
          }
          const size = this.catalogue.sizes[index]
          options.onStart?.(size)
          await clockDelay(this.clock, Math.round(1_000 * size / b.bytesPerSec), options.signal)
          this.serving.set(peer.address, (this.serving.get(peer.address) ?? 1) - 1)
          const object = { size, digest: this.catalogue.digests[index], provenance: options.provenance }
          this.store.put(index, object)
          return { key, ...object }
        }
        default:
          throw new Error('no such behaviour')
      }
    } catch (err: any) {
      if (options.signal.aborted) {
        this.aborted.push(peer.address)
      }
      throw err
    }
  }
}

class ListLocator implements Locator {
  readonly self = SELF
  readonly ready = true
  holders: Peer[] = []
  async locate (): Promise<LocateResult> {
    return { home: HOME, hops: 1, holders: this.holders }
  }

  async announce (): Promise<void> {}
  forget (): void {}
}

interface Rig {
  scheduler: Scheduler
  locator: ListLocator
  downloader: ScriptedDownloader
  origin: SimOrigin
  pipeline: FetchPipeline<number>
  catalogue: SimCatalogue
  store: SimPageStore
  avoidList: AvoidList
  counters: CdnCounters
  estimator: OriginEstimator
  fetch(index: number): Promise<{ source: string }>
}

/**
 * The margin the pipeline cases run with: shorter than the holders' 2 s answer deadline, so that a
 * silent holder is still being waited on when the origin joins
 */
const PIPELINE_MARGIN_MS = 800

function rig (sizes: number[], init: Partial<FetchPipelineInit<number>> = {}): Rig {
  const scheduler = new Scheduler()
  const clock = scheduler.clock()
  const catalogue = new SimCatalogue(sizes)
  const store = new SimPageStore(catalogue, { maxBytes: 100_000_000 })
  const locator = new ListLocator()
  const counters = createCounters()
  const lookups = new Lookups({ clock, locator, counters })
  const avoidList = new AvoidList(clock)
  const downloader = new ScriptedDownloader(clock, scheduler, catalogue, store, new Map())
  const holdings = new Holdings({ clock, locator, lookups, downloader, avoidList, counters, log: silentLog }, {
    lookupTimeoutMs: 3_000,
    trustedDigest: () => undefined,
    uploading: () => true,
    announcing: () => true
  })
  const origin = new SimOrigin(clock, store, catalogue)
  const estimator = new OriginEstimator()
  const pipeline = new FetchPipeline<number>({ clock, locator, lookups, downloader, origin, local: store, holdings, avoidList, counters, log: silentLog, estimator }, {
    originMarginMs: PIPELINE_MARGIN_MS,
    ...init,
    deliver: (object) => object.size
  })
  const lifetime = new AbortController()
  const fetch = async (index: number): Promise<{ source: string }> => scheduler.settle(pipeline.fetch(catalogue.target(index), { signal: lifetime.signal, lifetime: lifetime.signal }))
  return { scheduler, locator, downloader, origin, pipeline, catalogue, store, avoidList, counters, estimator, fetch }
}

/** The simulated origin's time for `size` bytes, ms */
const originMs = (size: number): number => ORIGIN_RTT_MS + 1_000 * size / LINK_BYTES_PER_SEC

describe('fetch pipeline: the origin races slow peers', () => {
  it('brings the origin in at its estimate while a silent holder keeps the peer path waiting, and stops the peer path when the origin answers', async () => {
    // no hedge delay: the holder is never judged stalled, only the estimate brings the origin in
    const r = rig([10_000], { holderHedgeMs: Number.POSITIVE_INFINITY })
    const silent = holder('silent', 10n)
    r.locator.holders = [silent]
    const outcome = await r.fetch(0)
    expect(outcome.source).to.equal('origin')
    // started at the margin less the prior's estimate (no size known: the holder never said it)
    expect(r.scheduler.now).to.equal(PIPELINE_MARGIN_MS - ORIGIN_PRIOR_RTT_MS + originMs(10_000))
    expect(r.counters.originRaces).to.equal(1)
    expect(r.counters.fromOrigin).to.equal(1)
    // the silent holder is left its whole answer deadline, then avoided as silent
    expect(r.downloader.aborted).to.deep.equal([])
    expect(r.avoidList.has('silent')).to.be.false()
    await r.scheduler.settle(clockDelay(r.scheduler.clock(), HOLDER_ANSWER_TIMEOUT_MS))
    expect(r.avoidList.reason('silent')).to.equal('silent')
    // and the estimator learned the origin's time for that size
    expect(r.estimator.samples).to.equal(1)
    expect(r.estimator.estimate(10_000)).to.be.closeTo(originMs(10_000), 1e-6)
  })

  it('brings the origin in a hedge delay after the last holder it may ask, when every one is silent', async () => {
    const r = rig([10_000], { originMarginMs: 60_000, maxHolderAttempts: 2 })
    r.locator.holders = [holder('silent-1', 10n), holder('silent-2', 11n), holder('never-asked', 12n)]
    const outcome = await r.fetch(0)
    expect(outcome.source).to.equal('origin')
    // the second asked at the hedge delay, the origin one more hedge delay later, long before the margin
    expect(r.downloader.asked.map(a => [a.holder, a.at])).to.deep.equal([['silent-1', 0], ['silent-2', HEDGE_PRIOR_MS]])
    expect(r.scheduler.now).to.equal(2 * HEDGE_PRIOR_MS + originMs(10_000))
    expect(r.counters.originRaces).to.equal(1)
    // both are left their whole answer deadline, then avoided: this page's next fetches skip them
    expect(r.downloader.aborted).to.deep.equal([])
    expect(r.avoidList.size).to.equal(0)
    await r.scheduler.settle(clockDelay(r.scheduler.clock(), HOLDER_ANSWER_TIMEOUT_MS))
    expect(r.avoidList.added.silent).to.equal(2)
  })

  it('does not take one holder slow to answer for a silent one: the origin is not brought in early', async () => {
    const r = rig([10_000], { originMarginMs: 60_000 })
    r.downloader.behaviour.set('slow', { kind: 'serve', answerMs: 1_200, bytesPerSec: 1_000_000 })
    r.locator.holders = [holder('slow', 10n)]
    expect((await r.fetch(0)).source).to.equal('peer')
    expect(r.counters.originRaces).to.equal(0)
    expect(r.scheduler.now).to.equal(1_200 + 10)
  })

  it('lets a holder that was slow to answer still win after the origin joined', async () => {
    // 3 MB: the origin's 80 ms + 2.4 s is slower than the holders' late answer and 1 s transfer
    const r = rig([3_000_000], { originMarginMs: 60_000 })
    r.downloader.behaviour.set('slow', { kind: 'serve', answerMs: 1_200, bytesPerSec: 3_000_000 })
    r.locator.holders = [holder('silent', 9n), holder('slow', 10n)]
    expect((await r.fetch(0)).source).to.equal('peer')
    // silent asked at 0, slow at the hedge delay; the origin joined a hedge delay later
    expect(r.counters.originRaces).to.equal(1)
    expect(r.counters.originRacesWonByPeer).to.equal(1)
    expect(r.scheduler.now).to.equal(HEDGE_PRIOR_MS + 1_200 + 1_000)
  })

  it('lets the peer win when it finishes first and stops the origin it brought in', async () => {
    // 2 MB: once the holder says the size, the origin is expected to be slower than the margin and joins after the head start
    const r = rig([2_000_000])
    const fast = holder('fast', 10n)
    r.downloader.behaviour.set('fast', { kind: 'serve', answerMs: 50, bytesPerSec: 2_000_000 })
    r.locator.holders = [fast]
    const outcome = await r.fetch(0)
    expect(outcome.source).to.equal('peer')
    // the peer's 1 s transfer beats the origin's 80 ms + 1.6 s started at 500 ms
    expect(r.scheduler.now).to.equal(50 + 1_000)
    expect(r.counters.originRaces).to.equal(1)
    expect(r.counters.originRacesWonByPeer).to.equal(1)
    expect(r.counters.fromOrigin).to.equal(0)
    // an origin stopped mid-way teaches the estimator nothing
    expect(r.estimator.samples).to.equal(0)
  })

  it('does not bring the origin in while a fast peer path finishes within the margin', async () => {
    const r = rig([10_000])
    r.downloader.behaviour.set('ok', { kind: 'serve', answerMs: 100, bytesPerSec: 1_000_000 })
    r.locator.holders = [holder('ok', 10n)]
    const outcome = await r.fetch(0)
    expect(outcome.source).to.equal('peer')
    expect(r.counters.originRaces).to.equal(0)
    expect(r.origin.heads).to.equal(0)
  })

  it('starts the origin earlier once its fetches showed it is slow', async () => {
    const r = rig([300_000, 300_001])
    // the first fetch: nobody holds it, the origin takes 80 ms + 240 ms
    r.locator.holders = []
    expect((await r.fetch(0)).source).to.equal('origin')
    const learned = r.estimator.estimate()
    expect(learned).to.be.closeTo(originMs(300_000), 1e-6)
    // the second: a silent holder; the origin joins at the margin less the learned estimate
    r.locator.holders = [holder('silent', 10n)]
    const started = r.scheduler.now
    expect((await r.fetch(1)).source).to.equal('origin')
    expect(r.scheduler.now - started).to.be.closeTo(Math.max(ORIGIN_HEAD_START_MS, PIPELINE_MARGIN_MS - learned) + originMs(300_001), 1)
    expect(Math.max(ORIGIN_HEAD_START_MS, PIPELINE_MARGIN_MS - learned)).to.be.lessThan(PIPELINE_MARGIN_MS - ORIGIN_PRIOR_RTT_MS)
  })
})

describe('fetch pipeline: bad holders are avoided and the next one asked', () => {
  /** Big margin: these tests are about the holders, not the race */
  const noRace = { originMarginMs: 60_000, originSafetyFactor: 1 }

  it('asks the next holder beside a silent one after the hedge delay, and avoids the silent one once its answer deadline passes', async () => {
    const r = rig([10_000], noRace)
    r.downloader.behaviour.set('ok', { kind: 'serve', answerMs: 20, bytesPerSec: 1_000_000 })
    r.locator.holders = [holder('silent', 10n), holder('ok', 11n)]
    const outcome = await r.fetch(0)
    expect(outcome.source).to.equal('peer')
    // no holder has answered on this page yet: the prior's delay
    expect(r.downloader.asked.map(a => [a.holder, a.at])).to.deep.equal([['silent', 0], ['ok', HEDGE_PRIOR_MS]])
    expect(r.scheduler.now).to.equal(HEDGE_PRIOR_MS + 20 + 10)
    expect(r.counters.holderHedges).to.equal(1)
    // the silent holder is still given its whole answer deadline before it is judged
    expect(r.avoidList.has('silent')).to.be.false()
    await r.scheduler.settle(clockDelay(r.scheduler.clock(), HOLDER_ANSWER_TIMEOUT_MS))
    expect(r.avoidList.reason('silent')).to.equal('silent')
    expect(r.avoidList.added.silent).to.equal(1)
    expect(r.counters.holderFailures).to.equal(1)
  })

  it('with holderHedgeMs Infinity asks one holder at a time: the next only after the answer deadline', async () => {
    const r = rig([10_000], { ...noRace, holderHedgeMs: Number.POSITIVE_INFINITY })
    r.downloader.behaviour.set('ok', { kind: 'serve', answerMs: 20, bytesPerSec: 1_000_000 })
    r.locator.holders = [holder('silent', 10n), holder('ok', 11n)]
    expect((await r.fetch(0)).source).to.equal('peer')
    expect(r.downloader.asked.map(a => [a.holder, a.at])).to.deep.equal([['silent', 0], ['ok', HOLDER_ANSWER_TIMEOUT_MS]])
    expect(r.avoidList.reason('silent')).to.equal('silent')
    expect(r.counters.holderHedges).to.equal(0)
  })

  it('hedges sooner once this page\'s holders have answered quickly', async () => {
    const r = rig([10_000, 10_001, 10_002, 10_003], noRace)
    r.downloader.behaviour.set('ok', { kind: 'serve', answerMs: 20, bytesPerSec: 1_000_000 })
    r.locator.holders = [holder('ok', 11n)]
    for (const i of [0, 1, 2]) {
      expect((await r.fetch(i)).source).to.equal('peer')
    }
    r.locator.holders = [holder('silent', 10n), holder('ok', 11n)]
    r.downloader.asked.length = 0
    const started = r.scheduler.now
    expect((await r.fetch(3)).source).to.equal('peer')
    // answers of 20 ms: the delay is the floor, not the prior
    expect(r.downloader.asked.map(a => [a.holder, a.at - started])).to.deep.equal([['silent', 0], ['ok', HEDGE_MIN_MS]])
  })

  it('runs one transfer at a time: a hedged holder that answers while another is sending is stopped and not blamed', async () => {
    const r = rig([10_000], noRace)
    r.downloader.behaviour.set('slow', { kind: 'serve', answerMs: 700, bytesPerSec: 100_000 })
    r.downloader.behaviour.set('later', { kind: 'serve', answerMs: 300, bytesPerSec: 1_000_000 })
    r.locator.holders = [holder('slow', 10n), holder('later', 11n)]
    expect((await r.fetch(0)).source).to.equal('peer')
    // slow answers at 700 and sends for 100 ms; later, asked at 500, answers at 800 while slow is sending
    expect(r.downloader.asked.map(a => [a.holder, a.at])).to.deep.equal([['slow', 0], ['later', HEDGE_PRIOR_MS]])
    expect(r.downloader.aborted).to.deep.equal(['later'])
    expect(r.scheduler.now).to.equal(800)
    expect(r.counters.holderFailures).to.equal(0)
    expect(r.avoidList.size).to.equal(0)
  })

  it('asks a holder stopped as it answered again when the transfer it gave way to fails', async () => {
    const r = rig([10_000], noRace)
    r.downloader.behaviour.set('breaks', { kind: 'break', answerMs: 600 })
    r.downloader.behaviour.set('ok', { kind: 'serve', answerMs: 150, bytesPerSec: 1_000_000 })
    r.locator.holders = [holder('breaks', 10n), holder('ok', 11n)]
    expect((await r.fetch(0)).source).to.equal('peer')
    // ok, asked at 500, answers at 650 while breaks (answered at 600) sends; breaks fails at 700; ok is asked again
    expect(r.downloader.asked.map(a => [a.holder, a.at])).to.deep.equal([['breaks', 0], ['ok', HEDGE_PRIOR_MS], ['ok', 700]])
    expect(r.counters.holderFailuresByError).to.deep.equal({ TransferError: 1 })
    expect(r.scheduler.now).to.equal(700 + 150 + 10)
  })

  it('asks a holder that has not answered another of this page\'s requests last', async () => {
    const r = rig([10_000, 10_001], noRace)
    r.downloader.behaviour.set('ok', { kind: 'serve', answerMs: 20, bytesPerSec: 1_000_000 })
    r.locator.holders = [holder('silent', 10n), holder('ok', 11n)]
    const life = new AbortController()
    const first = r.pipeline.fetch(r.catalogue.target(0), { signal: life.signal, lifetime: life.signal })
    // the second fetch starts while the first still waits on the silent holder
    await r.scheduler.settle(clockDelay(r.scheduler.clock(), 100))
    const second = r.pipeline.fetch(r.catalogue.target(1), { signal: life.signal, lifetime: life.signal })
    const outcomes = await r.scheduler.settle(Promise.all([first, second])) as Array<{ source: string }>
    expect(outcomes.map(o => o.source)).to.deep.equal(['peer', 'peer'])
    expect(r.downloader.asked.map(a => [a.holder, a.at])).to.deep.equal([['silent', 0], ['ok', 100], ['ok', HEDGE_PRIOR_MS]])
    expect(r.counters.holderHedges).to.equal(1)
  })

  it('refuses a hedge delay that is not a number of ms', () => {
    for (const holderHedgeMs of [-1, Number.NaN]) {
      expect(() => rig([1], { holderHedgeMs })).to.throw().with.property('name', 'InvalidParametersError')
    }
  })

  it('moves on from a BUSY holder and avoids it for the busy time only', async () => {
    const r = rig([10_000, 10_001], noRace)
    r.downloader.behaviour.set('busy', { kind: 'busy' })
    r.downloader.behaviour.set('ok', { kind: 'serve', answerMs: 20, bytesPerSec: 1_000_000 })
    r.locator.holders = [holder('busy', 10n), holder('ok', 11n)]
    expect((await r.fetch(0)).source).to.equal('peer')
    expect(r.avoidList.reason('busy')).to.equal('busy')
    expect(r.counters.holderFailuresByError).to.deep.equal({ HolderBusyError: 1 })
    // the next fetch does not ask it
    r.downloader.asked.length = 0
    expect((await r.fetch(1)).source).to.equal('peer')
    expect(r.downloader.asked.map(a => a.holder)).to.deep.equal(['ok'])
    expect(r.counters.holdersSkipped).to.equal(1)
    // and after the busy time, it is asked again
    await r.scheduler.settle(clockDelay(r.scheduler.clock(), AVOID_BUSY_MS))
    expect(r.avoidList.has('busy')).to.be.false()
  })

  it('waits for its own share of a holder busy with our other downloads, and gets every asset from it when it is quicker than the origin', async () => {
    const r = rig([10_000, 10_001, 10_002, 10_003, 10_004, 10_005], noRace)
    // serves two transfers per peer at once, as a page's content server does; ~15 ms a transfer
    r.downloader.behaviour.set('shared', { kind: 'serve', answerMs: 5, bytesPerSec: 1_000_000, perPeer: MAX_UPLOADS_PER_PEER })
    r.locator.holders = [holder('shared', 10n)]
    const life = new AbortController()
    const five = Promise.all([0, 1, 2, 3, 4].map(async i => r.pipeline.fetch(r.catalogue.target(i), { signal: life.signal, lifetime: life.signal })))
    const outcomes = await r.scheduler.settle(five) as Array<{ source: string }>
    // two are served at once; the others wait for one of them to end without asking (it would answer
    // BUSY), with the origin fetched beside them (slower here: 80 ms and more)
    expect(outcomes.map(o => o.source)).to.deep.equal(['peer', 'peer', 'peer', 'peer', 'peer'])
    expect(r.counters.shareWaits).to.equal(3)
    expect(r.counters.holderFailures).to.equal(0)
    expect(r.avoidList.has('shared')).to.be.false()
    expect(r.downloader.asked.filter(a => a.holder === 'shared')).to.have.lengthOf(5)
    // and the next fetch asks it again at once
    expect((await r.fetch(5)).source).to.equal('peer')
  })

  it('is no slower for waiting for its share: a fetch whose turn comes after the origin\'s answer takes the origin\'s', async () => {
    const r = rig([10_000, 10_001, 10_002, 10_003, 10_004], noRace)
    // ~120 ms a transfer, one at a time (a holder that serves us less than the usual share): the
    // fifth would wait ~480 ms for its turn
    r.downloader.behaviour.set('shared', { kind: 'serve', answerMs: 20, bytesPerSec: 100_000, perPeer: 1 })
    r.locator.holders = [holder('shared', 10n)]
    const life = new AbortController()
    const started = r.scheduler.now
    const ended: number[] = []
    const five = Promise.all([0, 1, 2, 3, 4].map(async i => {
      const outcome = await r.pipeline.fetch(r.catalogue.target(i), { signal: life.signal, lifetime: life.signal })
      ended.push(r.scheduler.now - started)
      return outcome
    }))
    const outcomes = await r.scheduler.settle(five) as Array<{ source: string }>
    expect(outcomes[0].source).to.equal('peer')
    expect(outcomes.slice(1).map(o => o.source)).to.include('origin')
    expect(r.counters.shareWaits).to.be.at.least(1)
    // the digest HEAD, a refusal, then the origin's own time: not a turn behind four transfers
    expect(Math.max(...ended)).to.be.at.most(ORIGIN_RTT_MS + 10 + originMs(10_004) + 1)
  })

  it('stops waiting for a share of a holder that answers busy to everything, and goes to the origin', async () => {
    const r = rig([10_000, 10_001, 10_002, 10_003], noRace)
    r.downloader.behaviour.set('busy', { kind: 'busy' })
    r.locator.holders = [holder('busy', 10n)]
    const life = new AbortController()
    const started = r.scheduler.now
    const four = Promise.all([0, 1, 2, 3].map(async i => r.pipeline.fetch(r.catalogue.target(i), { signal: life.signal, lifetime: life.signal })))
    const outcomes = await r.scheduler.settle(four) as Array<{ source: string }>
    expect(outcomes.map(o => o.source)).to.deep.equal(['origin', 'origin', 'origin', 'origin'])
    // each fetch asked it at most 1 + MAX_SHARE_WAITS times, and none waited past a few refusals
    expect(r.downloader.asked.length).to.be.at.most(4 * (1 + MAX_SHARE_WAITS))
    expect(r.scheduler.now - started).to.be.below(1_000)
  })

  it('moves on from a TOO_LARGE answer instead of ending the peer phase', async () => {
    const r = rig([10_000], noRace)
    r.downloader.behaviour.set('liar', { kind: 'too-large' })
    r.downloader.behaviour.set('ok', { kind: 'serve', answerMs: 20, bytesPerSec: 1_000_000 })
    r.locator.holders = [holder('liar', 10n), holder('ok', 11n)]
    expect((await r.fetch(0)).source).to.equal('peer')
    expect(r.downloader.asked.map(a => a.holder)).to.deep.equal(['liar', 'ok'])
    expect(r.avoidList.reason('liar')).to.equal('too-large')
    expect(r.counters.fromOrigin).to.equal(0)
  })
})

describe('avoid list', () => {
  it('is bounded: the oldest entry goes first', () => {
    const scheduler = new Scheduler()
    const list = new AvoidList(scheduler.clock(), { maxPeers: 3 })
    for (const peer of ['a', 'b', 'c', 'd']) {
      list.avoid(peer, 'busy')
    }
    expect(['a', 'b', 'c', 'd'].map(p => list.has(p))).to.deep.equal([false, true, true, true])
    expect(list.size).to.equal(3)
    expect(list.added.busy).to.equal(4)
  })

  it('keeps the longer avoidance when a peer earns a shorter one', () => {
    const scheduler = new Scheduler()
    const list = new AvoidList(scheduler.clock(), { avoidMs: 1_000, busyMs: 10 })
    list.avoid('a', 'integrity')
    list.avoid('a', 'busy')
    expect(list.reason('a')).to.equal('integrity')
  })
})
