import { expect } from 'aegir/chai'
import { PeerWindow, RequestShares } from '../../src/overlay/request-shares.ts'
import type { Clock, Timer } from '../../src/overlay/seams.ts'

/** A clock that moves only when told to */
class StepClock implements Clock {
  private time = 0
  private timers: Array<{ at: number, fn(): void, cancelled: boolean }> = []

  now (): number {
    return this.time
  }

  setTimer (fn: () => void, ms: number): Timer {
    const timer = { at: this.time + ms, fn, cancelled: false }
    this.timers.push(timer)
    return { cancel: () => { timer.cancelled = true } }
  }

  advance (ms: number): void {
    this.time += ms
    const due = this.timers.filter(t => !t.cancelled && t.at <= this.time)
    this.timers = this.timers.filter(t => !due.includes(t))
    for (const t of due) {
      t.fn()
    }
  }
}

describe('request shares', () => {
  it('admits a sender up to its share and refuses the rest until one is released', () => {
    const shares = new RequestShares({ perPeer: 3, capacity: 100 })
    expect([1, 2, 3, 4].map(() => shares.take('flooder'))).to.deep.equal([undefined, undefined, undefined, '3 of your requests are waiting here'])
    expect(shares.take('honest')).to.equal(undefined)
    shares.release('flooder')
    expect(shares.take('flooder')).to.equal(undefined)
    expect(shares.refused).to.equal(1)
    expect(shares.size).to.equal(4)
  })

  it('once full, admits only senders under their fair share, so many senders fill it no more than one', () => {
    const shares = new RequestShares({ perPeer: 8, capacity: 8 })
    for (let i = 0; i < 8; i++) {
      expect(shares.take('sybil-1')).to.equal(undefined)
    }
    // full: a newcomer's fair share is 8 / 2 = 4, and it has none waiting
    expect(shares.take('honest')).to.equal(undefined)
    // the one that filled it is over its share now
    shares.release('sybil-1')
    expect(shares.take('sybil-1')).to.be.a('string')
    expect(shares.take('sybil-2')).to.equal(undefined)
    expect(shares.of('sybil-1')).to.equal(7)
  })

  it('ignores a release of a sender with nothing waiting', () => {
    const shares = new RequestShares()
    shares.release('nobody')
    expect(shares.size).to.equal(0)
  })
})

describe('peer window', () => {
  it('queues requests past the share in order and hands each freed slot to the next', async () => {
    const clock = new StepClock()
    const window = new PeerWindow(clock, 2)
    expect(await window.enter('hop', 100)).to.equal(true)
    expect(await window.enter('hop', 100)).to.equal(true)
    const order: string[] = []
    const third = window.enter('hop', 100).then(got => { order.push(`third:${got}`) })
    const fourth = window.enter('hop', 100).then(got => { order.push(`fourth:${got}`) })
    // another hop has its own share
    expect(await window.enter('other', 0)).to.equal(true)
    window.leave('hop')
    await third
    expect(order).to.deep.equal(['third:true'])
    window.leave('hop')
    await fourth
    expect(order).to.deep.equal(['third:true', 'fourth:true'])
  })

  it('gives up when no slot frees within the wait, or the signal aborts', async () => {
    const clock = new StepClock()
    const window = new PeerWindow(clock, 1)
    expect(await window.enter('hop', 100)).to.equal(true)
    expect(await window.enter('hop', 0)).to.equal(false)
    const late = window.enter('hop', 100)
    clock.advance(100)
    expect(await late).to.equal(false)
    const controller = new AbortController()
    const aborted = window.enter('hop', 100, controller.signal)
    controller.abort()
    expect(await aborted).to.equal(false)
    // the slot still held is handed to nobody and freed
    window.leave('hop')
    expect(await window.enter('hop', 0)).to.equal(true)
  })
})
