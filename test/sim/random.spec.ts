import { expect } from 'aegir/chai'
import fc from 'fast-check'
import { SeededRandom, ZipfSampler } from '../../sim/random.ts'

function draw (r: SeededRandom, n: number): number[] {
  return Array.from({ length: n }, () => r.uint32())
}

describe('SeededRandom', () => {
  it('gives the same sequence for the same seed, as number or string', () => {
    expect(draw(new SeededRandom(42), 100)).to.deep.equal(draw(new SeededRandom(42), 100))
    expect(draw(new SeededRandom(42), 100)).to.deep.equal(draw(new SeededRandom('42'), 100))
    expect(draw(new SeededRandom('run-a'), 100)).to.not.deep.equal(draw(new SeededRandom('run-b'), 100))
    expect(draw(new SeededRandom(1), 100)).to.not.deep.equal(draw(new SeededRandom(2), 100))
  })

  it('forks a stream that depends only on the parent seed and the label', () => {
    const fresh = new SeededRandom(7)
    const used = new SeededRandom(7)
    draw(used, 1_000)
    used.fork('other')
    expect(draw(used.fork('node:1'), 50)).to.deep.equal(draw(fresh.fork('node:1'), 50))
  })

  it('does not consume the parent stream when forking', () => {
    const a = new SeededRandom(7)
    const b = new SeededRandom(7)
    a.fork('x')
    a.fork('y')
    expect(draw(a, 20)).to.deep.equal(draw(b, 20))
  })

  it('gives unrelated streams for different labels, parents and nesting', () => {
    const root = new SeededRandom(7)
    const streams = [
      root.fork('node:1'), root.fork('node:2'), root.fork('node:10'), root.fork('node:1').fork('a'),
      root.fork('a').fork('node:1'), new SeededRandom(8).fork('node:1'), root
    ].map(r => draw(r, 200))
    const all = streams.flat()
    // 1400 32-bit draws from independent streams collide with probability ~2^-11
    expect(new Set(all).size).to.be.greaterThan(all.length - 2)
  })

  it('draws next() in [0, 1) with a uniform-looking mean', () => {
    const r = new SeededRandom('mean')
    let sum = 0
    let min = Infinity
    let max = -Infinity
    for (let i = 0; i < 100_000; i++) {
      const x = r.next()
      min = Math.min(min, x)
      max = Math.max(max, x)
      sum += x
    }
    expect(min).to.be.at.least(0)
    expect(max).to.be.below(1)
    expect(sum / 100_000).to.be.closeTo(0.5, 0.01)
  })

  it('draws int(n) in [0, n) for any n, hitting every value of a small range evenly', () => {
    fc.assert(fc.property(fc.integer({ min: 1, max: 2 ** 53 }), fc.integer(), (n, seed) => {
      const r = new SeededRandom(seed)
      for (let i = 0; i < 20; i++) {
        const x = r.int(n)
        expect(Number.isInteger(x) && x >= 0 && x < n).to.equal(true)
      }
    }))
    const r = new SeededRandom('dice')
    const counts = new Array(6).fill(0)
    for (let i = 0; i < 60_000; i++) {
      counts[r.int(6)]++
    }
    for (const c of counts) {
      expect(c).to.be.closeTo(10_000, 500)
    }
    expect(() => r.int(0)).to.throw(RangeError)
    expect(() => r.int(1.5)).to.throw(RangeError)
  })

  it('draws exponentials with the requested mean', () => {
    const r = new SeededRandom('exp')
    let sum = 0
    for (let i = 0; i < 100_000; i++) {
      sum += r.exponential(250)
    }
    expect(sum / 100_000).to.be.closeTo(250, 5)
  })

  it('draws lognormals whose median is exp(mu), deterministically', () => {
    const r = new SeededRandom('sizes')
    const xs = Array.from({ length: 20_001 }, () => r.lognormal(Math.log(20_000), 1.2)).sort((a, b) => a - b)
    expect(xs[10_000]).to.be.closeTo(20_000, 1_000)
    const again = new SeededRandom('sizes')
    expect(again.lognormal(1, 1)).to.equal(new SeededRandom('sizes').lognormal(1, 1))
  })

  it('picks every element and shuffles into a permutation', () => {
    const r = new SeededRandom('pick')
    const seen = new Set<string>()
    for (let i = 0; i < 200; i++) {
      seen.add(r.pick(['a', 'b', 'c']))
    }
    expect([...seen].sort()).to.deep.equal(['a', 'b', 'c'])
    const items = Array.from({ length: 50 }, (_, i) => i)
    const shuffled = r.shuffle([...items])
    expect(shuffled).to.not.deep.equal(items)
    expect([...shuffled].sort((a, b) => a - b)).to.deep.equal(items)
    expect(() => r.pick([])).to.throw(RangeError)
  })
})

describe('ZipfSampler', () => {
  it('draws rank frequencies proportional to rank^-alpha', () => {
    const n = 1_000
    const alpha = 0.8
    const zipf = new ZipfSampler(n, alpha, new SeededRandom('zipf'))
    const samples = 500_000
    const counts = new Float64Array(n)
    for (let i = 0; i < samples; i++) {
      counts[zipf.sample()]++
    }
    // the head ranks individually, within a few standard deviations
    for (const k of [0, 1, 2, 9, 99]) {
      const expected = zipf.probability(k) * samples
      expect(counts[k]).to.be.closeTo(expected, 5 * Math.sqrt(expected))
    }
    // chi-square over 20 rank groups, 19 degrees of freedom: 60 is far beyond the 99.99th percentile (~45)
    const bounds = [0, 1, 2, 3, 4, 5, 7, 10, 15, 20, 30, 45, 70, 100, 150, 220, 330, 500, 700, 850, 1000]
    let chi2 = 0
    for (let g = 0; g + 1 < bounds.length; g++) {
      let observed = 0
      let p = 0
      for (let k = bounds[g]; k < bounds[g + 1]; k++) {
        observed += counts[k]
        p += zipf.probability(k)
      }
      chi2 += (observed - p * samples) ** 2 / (p * samples)
    }
    expect(chi2).to.be.below(60)
    // the ratio of rank 1 to rank 10 frequencies is 10^alpha
    expect(counts[0] / counts[9]).to.be.closeTo(10 ** alpha, 0.5)
  })

  it('is uniform for alpha = 0 and always stays in [0, n)', () => {
    const zipf = new ZipfSampler(10, 0, new SeededRandom('flat'))
    const counts = new Array(10).fill(0)
    for (let i = 0; i < 50_000; i++) {
      counts[zipf.sample()]++
    }
    for (const c of counts) {
      expect(c).to.be.closeTo(5_000, 350)
    }
    const one = new ZipfSampler(1, 1.2, new SeededRandom('one'))
    expect(one.sample()).to.equal(0)
    expect(() => new ZipfSampler(0, 1, new SeededRandom(1))).to.throw(RangeError)
  })
})
