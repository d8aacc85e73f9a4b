import { expect } from 'aegir/chai'
import { Scheduler } from '../../sim/scheduler.ts'
import { Liveness } from '../../src/overlay/liveness.ts'
import { addAvoided, besideAfter, inheritAvoided, RunningForwards } from '../../src/overlay/running-forwards.ts'
import { DISTRUST_MS, HOP_WAIT_DEVIATIONS, HOP_WAIT_RTTS, INITIAL_RTT_MS, LATE_LOOKUP_STREAK, MAX_AVOIDED_HOPS, MIN_HOP_BUDGET_MS, MIN_HOP_WAIT_MS, resolveSettings, SHUN_MS } from '../../src/overlay/settings.ts'
import type { RouteResponse } from '../../src/overlay/messages.ts'

function answer (hops: number): RouteResponse {
  return { owner: { id: new Uint8Array(32), address: 'owner', hints: [] }, hops }
}

describe('lookup conduct', () => {
  describe('Liveness: peers that swallow or lie about lookups', () => {
    function liveness (): { scheduler: Scheduler, live: Liveness } {
      const scheduler = new Scheduler()
      return { scheduler, live: new Liveness(scheduler.clock(), resolveSettings({ self: { id: 1n, address: 'self' } })) }
    }

    it('shuns a next hop only after a streak of lookups it left without any answer', async () => {
      const { scheduler, live } = liveness()
      for (let i = 1; i < LATE_LOOKUP_STREAK; i++) {
        live.lookupUnanswered('p')
        expect(live.isShunned('p')).to.equal(false)
      }
      live.lookupUnanswered('p')
      expect(live.isShunned('p')).to.equal(true)
      // a shun is not lifted by the peer answering probes or sending requests
      live.requestFrom('p')
      expect(live.isShunned('p')).to.equal(true)
      await scheduler.run({ until: SHUN_MS + 1 })
      expect(live.isShunned('p')).to.equal(false)
    })

    it('ends the streak when the hop answers a lookup', () => {
      const { live } = liveness()
      for (let i = 0; i < 3 * LATE_LOOKUP_STREAK; i++) {
        live.lookupUnanswered('p')
        live.lookupAnswered('p')
      }
      expect(live.isShunned('p')).to.equal(false)
    })

    it('distrusts a proven liar for longer than it shuns a silent hop', async () => {
      const { scheduler, live } = liveness()
      live.distrust('liar')
      expect(live.isShunned('liar')).to.equal(true)
      await scheduler.run({ until: DISTRUST_MS - 1 })
      expect(live.isShunned('liar')).to.equal(true)
      await scheduler.run({ until: DISTRUST_MS + 1 })
      expect(live.isShunned('liar')).to.equal(false)
    })
  })

  describe('Liveness: how long a hop of a forwarded request may take', () => {
    const settings = resolveSettings({ self: { id: 1n, address: 'self' } })

    it('allows round trips per hop before any forward was answered, and learns from answered ones', () => {
      const live = new Liveness(new Scheduler().clock(), settings)
      const prior = live.hopWait()
      expect(prior.allowed).to.equal(Math.min(settings.hopTimeoutMs, HOP_WAIT_RTTS * INITIAL_RTT_MS))
      expect(prior.watchAfter).to.be.below(prior.allowed)
      // paths of 4 estimated hops answered in 800-960 ms: 200-240 ms per hop
      for (let i = 0; i < 50; i++) {
        live.pathAnswered(i % 2 === 0 ? 800 : 960, 4)
      }
      const learned = live.hopWait()
      expect(learned.allowed).to.be.within(220, 220 + HOP_WAIT_DEVIATIONS * 25).and.below(prior.allowed)
      expect(learned.watchAfter).to.be.within(200, learned.allowed)
    })

    it('stays within its floor and the hop timeout, and ignores nonsense', () => {
      const live = new Liveness(new Scheduler().clock(), settings)
      live.pathAnswered(Number.NaN, 3)
      live.pathAnswered(100, 0)
      live.pathAnswered(-5, 2)
      expect(live.hopWait().allowed).to.equal(Math.min(settings.hopTimeoutMs, HOP_WAIT_RTTS * INITIAL_RTT_MS))
      for (let i = 0; i < 50; i++) {
        live.pathAnswered(1, 4)
      }
      expect(live.hopWait().allowed).to.equal(MIN_HOP_WAIT_MS)
      for (let i = 0; i < 50; i++) {
        live.pathAnswered(60_000, 2)
      }
      expect(live.hopWait().allowed).to.equal(settings.hopTimeoutMs)
    })
  })

  describe('RunningForwards', () => {
    it('answers with a forward left running when it answers before the current one', async () => {
      const scheduler = new Scheduler()
      const clock = scheduler.clock()
      const running = new RunningForwards()
      let answerFirst!: (route: RouteResponse) => void
      const first = new Promise<RouteResponse>(resolve => { answerFirst = resolve })
      expect(await scheduler.settle(running.race(first, clock, 10))).to.deep.equal({ late: true })
      running.add('a', first)
      const second = new Promise<RouteResponse>(() => {})
      const outcome = running.race(second, clock)
      answerFirst(answer(3))
      expect(await outcome).to.deep.equal({ route: answer(3) })
      expect(running.has('a')).to.equal(true)
    })

    it('settles with nothing once every forward left running failed', async () => {
      const running = new RunningForwards()
      running.add('a', Promise.reject(new Error('no')))
      running.add('b', Promise.reject(new Error('no')))
      expect(await running.settle()).to.equal(undefined)
    })

    it('releases a held detour slot only once every forward it sent has settled', async () => {
      const scheduler = new Scheduler()
      const clock = scheduler.clock()
      const running = new RunningForwards()
      let released = 0
      let endSecond!: () => void
      const second = new Promise<RouteResponse>((_resolve, reject) => { endSecond = () => { reject(new Error('timed out')) } })
      void running.race(Promise.resolve(answer(1)), clock)
      void running.race(second, clock).catch(() => {})
      running.holdUntilSettled(() => { released++ })
      running.settled()
      await new Promise(resolve => setTimeout(resolve, 0))
      expect(released).to.equal(0)
      endSecond()
      await new Promise(resolve => setTimeout(resolve, 0))
      expect(released).to.equal(1)
    })
  })

  describe('avoid lists', () => {
    it('keeps the newest entries within the bound, once each', () => {
      const avoided = new Set<string>()
      for (let i = 0; i < MAX_AVOIDED_HOPS + 3; i++) {
        addAvoided(avoided, `p${i}`)
      }
      addAvoided(avoided, `p${MAX_AVOIDED_HOPS + 1}`)
      expect(avoided.size).to.equal(MAX_AVOIDED_HOPS)
      expect([...avoided].at(-1)).to.equal(`p${MAX_AVOIDED_HOPS + 1}`)
      expect(avoided.has('p0')).to.equal(false)
    })

    it('takes from a request only addresses of sane length, and no more than the bound', () => {
      const list = ['x'.repeat(5000), ...Array.from({ length: 20 }, (_, i) => `p${i}`)]
      const taken = inheritAvoided(list)
      expect(taken.size).to.equal(MAX_AVOIDED_HOPS)
      expect(taken.has('p19')).to.equal(true)
      expect([...taken].some(a => a.length > 1024)).to.equal(false)
    })

    it('tries another path beside a forward only when time is left past its allowance', () => {
      expect(besideAfter(1000, 400)).to.equal(400)
      expect(besideAfter(400 + MIN_HOP_BUDGET_MS - 1, 400)).to.equal(undefined)
    })
  })
})
