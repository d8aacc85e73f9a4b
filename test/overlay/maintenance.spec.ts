import { expect } from 'aegir/chai'
import { Scheduler } from '../../sim/scheduler.ts'
import { AdaptiveInterval } from '../../src/overlay/adaptive-interval.ts'
import { Maintenance } from '../../src/overlay/maintenance.ts'
import { silentLog } from '../../src/overlay/seams.ts'
import type { Random } from '../../src/overlay/seams.ts'

/** First phase at half the period; with no jitter every later wait is the period itself */
const HALF: Random = { next: () => 0.5 }

describe('AdaptiveInterval', () => {
  it('doubles after each quiet round up to the cap, and snaps back to the base on a change', () => {
    const interval = new AdaptiveInterval({ baseMs: 1_000, maxFactor: 8 })
    const periods: number[] = []
    for (let round = 0; round < 6; round++) {
      interval.roundStarted()
      interval.roundEnded()
      periods.push(interval.ms)
    }
    expect(periods).to.deep.equal([2_000, 4_000, 8_000, 8_000, 8_000, 8_000])
    expect(interval.backedOff).to.equal(true)
    expect(interval.changed()).to.equal(true, 'a change while backed off asks for the pending round to come forward')
    expect(interval.ms).to.equal(1_000)
    expect(interval.changed()).to.equal(false, 'at the base already: nothing to bring forward')
  })

  it('does not back off after a round during which something changed, and holds after a stir', () => {
    const interval = new AdaptiveInterval({ baseMs: 1_000, maxFactor: 8 })
    interval.roundStarted()
    interval.changed()
    interval.roundEnded()
    expect(interval.ms).to.equal(1_000)
    interval.roundStarted()
    interval.roundEnded()
    expect(interval.ms).to.equal(2_000)
    interval.roundStarted()
    interval.stirred()
    interval.roundEnded()
    expect(interval.ms).to.equal(2_000, 'a stir holds the period')
  })

  it('tells the successor the longest next wait: twice the period, within the cap', () => {
    const interval = new AdaptiveInterval({ baseMs: 1_000, maxFactor: 4 })
    expect(interval.nextMaxMs).to.equal(2_000)
    for (let round = 0; round < 3; round++) {
      interval.roundStarted()
      interval.roundEnded()
    }
    expect(interval.ms).to.equal(4_000)
    expect(interval.nextMaxMs).to.equal(4_000)
  })

  it('never backs off with a factor of 1 (fixed rounds)', () => {
    const interval = new AdaptiveInterval({ baseMs: 1_000, maxFactor: 1 })
    for (let round = 0; round < 5; round++) {
      interval.roundStarted()
      interval.roundEnded()
    }
    expect(interval.ms).to.equal(1_000)
    expect(interval.changed()).to.equal(false)
  })
})

describe('Maintenance with adaptive rounds (virtual clock)', () => {
  function setup (maxFactor: number): { scheduler: Scheduler, interval: AdaptiveInterval, maintenance: Maintenance, runs: number[] } {
    const scheduler = new Scheduler({ clockResolutionMs: 0 })
    const interval = new AdaptiveInterval({ baseMs: 1_000, maxFactor })
    const runs: number[] = []
    const maintenance = new Maintenance({ clock: scheduler.clock(), random: HALF, log: silentLog, jitter: 0, active: () => true }, [
      { interval, run: async () => { runs.push(scheduler.now) } }
    ])
    return { scheduler, interval, maintenance, runs }
  }

  function gaps (runs: number[]): number[] {
    return runs.slice(1).map((t, i) => t - runs[i])
  }

  it('spaces quiet rounds 2, 4, 8, 16 s apart, and no further', async () => {
    const { scheduler, maintenance, runs } = setup(16)
    maintenance.start()
    await scheduler.run({ until: 100_000 })
    maintenance.stop()
    expect(runs[0]).to.equal(500)
    expect(gaps(runs)).to.deep.equal([2_000, 4_000, 8_000, 16_000, 16_000, 16_000, 16_000, 16_000])
  })

  it('brings a round put off to 16 s forward to within the base period when something changes', async () => {
    const { scheduler, interval, maintenance, runs } = setup(16)
    maintenance.start()
    await scheduler.run({ until: 40_000 })
    // rounds at 0.5, 2.5, 6.5, 14.5, 30.5 s; the next is due at 46.5 s
    expect(runs.at(-1)).to.equal(30_500)
    scheduler.at(41_000, () => { maintenance.changed(interval) })
    await scheduler.run({ until: 80_000 })
    maintenance.stop()
    const after = runs.filter(t => t > 41_000)
    expect(after[0]).to.equal(42_000, 'within the base period of the change, not at 46.5 s')
    expect(gaps(after)).to.deep.equal([2_000, 4_000, 8_000, 16_000], 'then backs off again')
  })

  it('keeps the base period for the next round when the change comes while a round runs', async () => {
    const scheduler = new Scheduler({ clockResolutionMs: 0 })
    const interval = new AdaptiveInterval({ baseMs: 1_000, maxFactor: 16 })
    const runs: number[] = []
    const maintenance = new Maintenance({ clock: scheduler.clock(), random: HALF, log: silentLog, jitter: 0, active: () => true }, [
      {
        interval,
        run: async () => {
          runs.push(scheduler.now)
          if (runs.length === 4) {
            // the round itself finds a change, half-way through
            await new Promise<void>(resolve => scheduler.after(100, resolve))
            maintenance.changed(interval)
          }
        }
      }
    ])
    maintenance.start()
    await scheduler.run({ until: 30_000 })
    maintenance.stop()
    // 0.5, 2.5, 6.5, 14.5 (a change by 14.6), then the base period again
    expect(runs.slice(0, 6)).to.deep.equal([500, 2_500, 6_500, 14_500, 15_600, 17_600])
  })

  it('runs every round at the base period, whatever changes, when rounds do not adapt', async () => {
    const { scheduler, interval, maintenance, runs } = setup(1)
    maintenance.start()
    scheduler.at(3_200, () => { maintenance.changed(interval) })
    await scheduler.run({ until: 6_000 })
    maintenance.stop()
    expect(runs).to.deep.equal([500, 1_500, 2_500, 3_500, 4_500, 5_500])
  })

  it('runs nothing after stop, even when a change comes', async () => {
    const { scheduler, interval, maintenance, runs } = setup(16)
    maintenance.start()
    await scheduler.run({ until: 3_000 })
    maintenance.stop()
    maintenance.changed(interval)
    await scheduler.run({ until: 60_000 })
    expect(runs).to.deep.equal([500, 2_500])
  })
})
