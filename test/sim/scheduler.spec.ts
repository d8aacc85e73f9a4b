import { expect } from 'aegir/chai'
import fc from 'fast-check'
import { Scheduler } from '../../sim/scheduler.ts'

describe('Scheduler', () => {
  it('runs events in time order and same-time events in the order they were scheduled', async () => {
    const s = new Scheduler()
    const seen: string[] = []
    s.at(20, () => seen.push('c'))
    s.at(10, () => seen.push('a'))
    s.at(20, () => seen.push('d'))
    s.at(10, () => seen.push('b'))
    s.at(0, () => seen.push('start'))
    await s.run()
    expect(seen).to.deep.equal(['start', 'a', 'b', 'c', 'd'])
    expect(s.now).to.equal(20)
    expect(s.events).to.equal(5)
    expect(s.pending).to.equal(0)
  })

  it('orders any set of events by (time, insertion) like a stable sort', async () => {
    const runAll = async (times: number[]): Promise<number[]> => {
      const s = new Scheduler()
      const seen: number[] = []
      for (const [i, t] of times.entries()) {
        s.at(t, () => seen.push(i))
      }
      await s.run()
      return seen
    }
    await fc.assert(fc.asyncProperty(fc.array(fc.integer({ min: 0, max: 50 }), { maxLength: 300 }), async times => {
      const expected = times.map((t, i) => ({ t, i })).sort((x, y) => x.t - y.t || x.i - y.i).map(e => e.i)
      expect(await runAll(times)).to.deep.equal(expected)
    }), { numRuns: 100 })
  })

  it('runs an event scheduled for the current instant before time advances', async () => {
    const s = new Scheduler()
    const seen: Array<[string, number]> = []
    s.at(5, () => {
      seen.push(['first', s.now])
      s.after(0, () => seen.push(['same instant', s.now]))
      s.after(1, () => seen.push(['later', s.now]))
    })
    s.at(5, () => seen.push(['second', s.now]))
    await s.run()
    expect(seen).to.deep.equal([['first', 5], ['second', 5], ['same instant', 5], ['later', 6]])
  })

  it('never runs a cancelled event, and cancelling twice or after it ran is harmless', async () => {
    const s = new Scheduler()
    const seen: string[] = []
    const a = s.at(1, () => seen.push('a'))
    const b = s.at(2, () => seen.push('b'))
    s.at(3, () => seen.push('c'))
    a.cancel()
    a.cancel()
    expect(s.pending).to.equal(2)
    await s.run()
    b.cancel()
    expect(seen).to.deep.equal(['b', 'c'])
    expect(s.pending).to.equal(0)
  })

  it('keeps order and counts right when most of a large number of events is cancelled', async () => {
    const s = new Scheduler()
    const seen: number[] = []
    const timers = Array.from({ length: 20_000 }, (_, i) => s.at(20_000 - i, () => seen.push(20_000 - i)))
    timers.forEach((t, i) => {
      if (i % 10 !== 0) {
        t.cancel()
      }
    })
    expect(s.pending).to.equal(2_000)
    await s.run()
    expect(seen).to.have.lengthOf(2_000)
    expect(seen).to.deep.equal([...seen].sort((x, y) => x - y))
    expect(s.events).to.equal(2_000)
  })

  it('runs events scheduled again at an instant whose events were all cancelled', async () => {
    const s = new Scheduler()
    const seen: string[] = []
    s.at(10, () => seen.push('x')).cancel()
    s.at(10, () => seen.push('y')).cancel()
    expect(s.pending).to.equal(0)
    s.at(10, () => seen.push('z'))
    s.at(5, () => seen.push('w'))
    await s.run()
    expect(seen).to.deep.equal(['w', 'z'])
  })

  it('stops at `until` with now = until and later events still pending', async () => {
    const s = new Scheduler()
    const seen: number[] = []
    for (const t of [10, 20, 30, 40]) {
      s.at(t, () => seen.push(t))
    }
    await s.run({ until: 30 })
    expect(seen).to.deep.equal([10, 20, 30])
    expect(s.now).to.equal(30)
    await s.run({ until: 35 })
    expect(s.now).to.equal(35)
    expect(s.pending).to.equal(1)
    await s.run()
    expect(seen).to.deep.equal([10, 20, 30, 40])
  })

  it('advances to `until` when events run out before it', async () => {
    const s = new Scheduler()
    s.at(10, () => {})
    await s.run({ until: 1_000 })
    expect(s.now).to.equal(1_000)
  })

  it('stops as soon as stopWhen() holds, leaving the rest pending', async () => {
    const s = new Scheduler()
    let count = 0
    const tick = (): void => { count++ }
    for (let t = 1; t <= 10; t++) {
      s.at(t, tick)
    }
    await s.run({ stopWhen: () => count === 4 })
    expect(count).to.equal(4)
    expect(s.now).to.equal(4)
    expect(s.pending).to.equal(6)
  })

  it('reports progress in virtual time', async () => {
    const s = new Scheduler()
    for (let t = 0; t <= 10_000; t += 100) {
      s.at(t, () => {})
    }
    const reported: number[] = []
    await s.run({ progressEveryMs: 2_500, onProgress: now => reported.push(now) })
    expect(reported).to.deep.equal([2_500, 5_000, 7_500, 10_000])
  })

  it('lets a promise chain started by an event finish before virtual time advances', async () => {
    const s = new Scheduler()
    const ends: number[] = []
    const chain = async (): Promise<void> => {
      let v = 0
      for (let i = 0; i < 5; i++) {
        v = await Promise.resolve(v + 1)
      }
      expect(v).to.equal(5)
      ends.push(s.now)
      // scheduled from inside the settled chain: still runs at the same instant
      s.after(0, () => ends.push(s.now))
    }
    s.at(7, () => { void chain() })
    s.at(8, () => ends.push(s.now))
    await s.run()
    expect(ends).to.deep.equal([7, 7, 8])
  })

  it('rounds Clock timers up to whole milliseconds unless told otherwise', async () => {
    const rounded = new Scheduler()
    const fired: number[] = []
    rounded.at(0.25, () => {
      rounded.clock().setTimer(() => fired.push(rounded.now), 2.5)
      rounded.clock().setTimer(() => fired.push(rounded.now), 0)
      rounded.after(0.5, () => fired.push(rounded.now))
    })
    await rounded.run()
    expect(fired).to.deep.equal([0.75, 1, 3])
    const exact = new Scheduler({ clockResolutionMs: 0 })
    exact.clock().setTimer(() => fired.push(exact.now), 2.5)
    await exact.run()
    expect(fired[3]).to.equal(2.5)
  })

  it('serves as a Clock whose timers fire on virtual time', async () => {
    const s = new Scheduler()
    const clock = s.clock()
    const fired: number[] = []
    clock.setTimer(() => fired.push(clock.now()), 250)
    const cancelled = clock.setTimer(() => fired.push(-1), 100)
    cancelled.cancel()
    await s.run()
    expect(fired).to.deep.equal([250])
  })

  it('settle() returns the outcome of a promise driven by virtual time', async () => {
    const s = new Scheduler()
    const clock = s.clock()
    const sleep = async (ms: number): Promise<number> => new Promise(resolve => clock.setTimer(() => { resolve(clock.now()) }, ms))
    expect(await s.settle(sleep(1_500))).to.equal(1_500)
    const failing = (async (): Promise<never> => { await sleep(10); throw new Error('boom') })()
    await expect(s.settle(failing)).to.eventually.be.rejectedWith('boom')
  })

  it('settle() rejects instead of hanging when no events are left', async () => {
    const s = new Scheduler()
    s.at(5, () => {})
    const err = await s.settle(new Promise<never>(() => {})).catch((e: Error) => e)
    expect(err).to.have.property('name', 'SimStalledError')
    expect(err.message).to.include('no events left')
  })

  it('settle() rejects when maxTime passes first', async () => {
    const s = new Scheduler()
    const tick = (): void => { s.after(100, tick) }
    tick()
    const err = await s.settle(new Promise(() => {}), { maxTime: 1_000 }).catch(e => e)
    expect(err).to.have.property('name', 'SimStalledError')
    expect(s.now).to.equal(1_000)
  })

  it('reports a throwing callback with its virtual time and the original error, keeping later events', async () => {
    const s = new Scheduler()
    const boom = new Error('boom')
    const seen: number[] = []
    s.at(3, () => { throw boom })
    s.at(3, () => seen.push(3))
    s.at(4, () => seen.push(4))
    const err = await s.run().catch(e => e)
    expect(err).to.have.property('name', 'SimEventError')
    expect(err).to.have.property('time', 3)
    expect(err.cause).to.equal(boom)
    expect(err.message).to.include('boom')
    expect(s.pending).to.equal(2)
    await s.run()
    expect(seen).to.deep.equal([3, 4])
  })

  it('hands throwing callbacks to onError and carries on when asked to', async () => {
    const s = new Scheduler()
    const errors: number[] = []
    s.at(1, () => { throw new Error('one') })
    s.at(2, () => { throw new Error('two') })
    await s.run({ onError: err => errors.push(err.time) })
    expect(errors).to.deep.equal([1, 2])
  })

  it('refuses events in the past and non-finite times', () => {
    const s = new Scheduler()
    expect(() => s.at(-1, () => {})).to.throw(RangeError)
    expect(() => s.at(Number.NaN, () => {})).to.throw(RangeError)
    expect(() => s.after(Infinity, () => {})).to.throw(RangeError)
  })

  it('refuses to run twice at once', async () => {
    const s = new Scheduler()
    s.at(1, () => {})
    const first = s.run()
    await expect(s.run()).to.eventually.be.rejectedWith('already running')
    await first
  })
})
