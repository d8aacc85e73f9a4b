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
import { HolderBusyError, ObjectSizeError } from '../../src/cdn/errors.ts'
import { FetchPipeline, HOLDER_ANSWER_TIMEOUT_MS } from '../../src/cdn/fetch-pipeline.ts'
import { Holdings } from '../../src/cdn/holdings.ts'
import { Lookups } from '../../src/cdn/lookups.ts'
import { ORIGIN_HEAD_START_MS, ORIGIN_MARGIN_MS, ORIGIN_PRIOR_BYTES_PER_SEC, ORIGIN_PRIOR_RTT_MS, OriginEstimator, originStartAt } from '../../src/cdn/origin-estimator.ts'
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

type Behaviour = { kind: 'silent' } | { kind: 'busy' } | { kind: 'too-large' } | { kind: 'serve', answerMs: number, bytesPerSec: number, perPeer?: number }

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
    const r = rig([10_000])
    const silent = holder('silent', 10n)
    r.locator.holders = [silent]
    const outcome = await r.fetch(0)
    expect(outcome.source).to.equal('origin')
    // started at the margin less the prior's estimate (no size known: the holder never said it)
    expect(r.scheduler.now).to.equal(PIPELINE_MARGIN_MS - ORIGIN_PRIOR_RTT_MS + originMs(10_000))
    expect(r.counters.originRaces).to.equal(1)
    expect(r.counters.fromOrigin).to.equal(1)
    // the silent holder was still being waited for: stopped, not judged
    expect(r.downloader.aborted).to.deep.equal(['silent'])
    expect(r.avoidList.has('silent')).to.be.false()
    // and the estimator learned the origin's time for that size
    expect(r.estimator.samples).to.equal(1)
    expect(r.estimator.estimate(10_000)).to.be.closeTo(originMs(10_000), 1e-6)
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

  it('moves on from a silent holder after the answer deadline and avoids it as silent', async () => {
    const r = rig([10_000], noRace)
    r.downloader.behaviour.set('ok', { kind: 'serve', answerMs: 20, bytesPerSec: 1_000_000 })
    r.locator.holders = [holder('silent', 10n), holder('ok', 11n)]
    const outcome = await r.fetch(0)
    expect(outcome.source).to.equal('peer')
    expect(r.downloader.asked.map(a => [a.holder, a.at])).to.deep.equal([['silent', 0], ['ok', HOLDER_ANSWER_TIMEOUT_MS]])
    expect(r.avoidList.reason('silent')).to.equal('silent')
    expect(r.avoidList.added.silent).to.equal(1)
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

  it('does not avoid a holder that is busy only with our own other downloads', async () => {
    const r = rig([10_000, 10_001, 10_002], noRace)
    // serves one transfer per peer at once, like a page's per-peer upload share
    r.downloader.behaviour.set('shared', { kind: 'serve', answerMs: 20, bytesPerSec: 100_000, perPeer: 1 })
    r.locator.holders = [holder('shared', 10n)]
    const life = new AbortController()
    const both = Promise.all([0, 1].map(async i => r.pipeline.fetch(r.catalogue.target(i), { signal: life.signal, lifetime: life.signal })))
    const outcomes = await r.scheduler.settle(both) as Array<{ source: string }>
    expect(outcomes.map(o => o.source).sort()).to.deep.equal(['origin', 'peer'])
    expect(r.counters.holderFailuresByError).to.deep.equal({ HolderBusyError: 1 })
    expect(r.avoidList.has('shared')).to.be.false()
    // and the next fetch asks it again
    expect((await r.fetch(2)).source).to.equal('peer')
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
