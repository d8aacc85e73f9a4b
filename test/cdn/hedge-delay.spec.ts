/**
 * The hedge delay: how long a fetch waits for the holders asked so far
 * before it asks another beside them, learned from this page's holders'
 * answer times.
 */
import { expect } from 'aegir/chai'
import { HEDGE_MAX_MS, HEDGE_MIN_MS, HEDGE_PRIOR_MS, HedgeDelay } from '../../src/cdn/hedge-delay.ts'

describe('hedge delay', () => {
  it('is the prior before any holder has answered', () => {
    expect(new HedgeDelay().ms).to.equal(HEDGE_PRIOR_MS)
  })

  it('is the answer time plus four deviations, within its bounds', () => {
    const delay = new HedgeDelay()
    // first sample: deviation half of it, 200 + 4 × 100
    delay.sample(200)
    expect(delay.ms).to.equal(600)
    const fast = new HedgeDelay()
    fast.sample(10)
    expect(fast.ms).to.equal(HEDGE_MIN_MS)
    const slow = new HedgeDelay()
    slow.sample(5_000)
    expect(slow.ms).to.equal(HEDGE_MAX_MS)
  })

  it('narrows as steady answers come in and widens when they vary', () => {
    const delay = new HedgeDelay({ minMs: 0 })
    for (let i = 0; i < 30; i++) {
      delay.sample(100)
    }
    const steady = delay.ms
    expect(steady).to.be.within(100, 110)
    for (let i = 0; i < 6; i++) {
      delay.sample(i % 2 === 0 ? 20 : 300)
    }
    expect(delay.ms).to.be.greaterThan(steady + 100)
  })

  it('ignores nonsense samples', () => {
    const delay = new HedgeDelay()
    delay.sample(Number.NaN)
    delay.sample(-5)
    delay.sample(Number.POSITIVE_INFINITY)
    expect(delay.ms).to.equal(HEDGE_PRIOR_MS)
  })
})
