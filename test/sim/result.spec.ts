import { expect } from 'aegir/chai'
import fc from 'fast-check'
import { countHistogramStats, LATENCY_FINE_LIMIT_MS, LatencyHistogram, percentile } from '../../sim/result.ts'

describe('sim result percentiles', () => {
  it('percentile picks the nearest-rank sample', () => {
    const sorted = Array.from({ length: 100 }, (_, i) => i + 1)
    expect(percentile(sorted, 0.5)).to.equal(50)
    expect(percentile(sorted, 0.99)).to.equal(99)
    expect(percentile(sorted, 1)).to.equal(100)
    expect(percentile(sorted, 0)).to.equal(1)
    expect(percentile([7], 0.99)).to.equal(7)
    expect(percentile([1, 2, 3], 0.5)).to.equal(2)
    // 0.07 × 100 is 7.000000000000001 in binary floating point; rank 7 is still the answer
    expect(percentile(sorted, 0.07)).to.equal(7)
  })

  it('percentile of nothing is 0, so the JSON stays all numbers', () => {
    expect(percentile([], 0.5)).to.equal(0)
  })

  it('percentile wants a fraction and rejects a percentage', () => {
    expect(() => percentile([1, 2], 99)).to.throw(RangeError, /fraction/)
    expect(() => percentile([1, 2], NaN)).to.throw(RangeError)
  })

  it('countHistogramStats matches percentile over the expanded samples', () => {
    fc.assert(fc.property(fc.array(fc.nat({ max: 50 }), { minLength: 1, maxLength: 20 }), counts => {
      const samples = counts.flatMap((c, v) => Array<number>(c).fill(v))
      const stats = countHistogramStats(counts)
      if (samples.length === 0) {
        expect(stats).to.deep.equal({ mean: 0, p50: 0, p99: 0 })
        return
      }
      expect(stats.p50).to.equal(percentile(samples, 0.5))
      expect(stats.p99).to.equal(percentile(samples, 0.99))
      expect(stats.mean).to.be.closeTo(samples.reduce((a, b) => a + b, 0) / samples.length, 1e-9)
    }))
  })

  it('the latency histogram is exact for whole milliseconds below 10 s', () => {
    fc.assert(fc.property(fc.array(fc.nat({ max: LATENCY_FINE_LIMIT_MS - 1 }), { minLength: 1, maxLength: 300 }), values => {
      const h = new LatencyHistogram()
      values.forEach(v => { h.add(v) })
      const sorted = [...values].sort((a, b) => a - b)
      for (const p of [0, 0.5, 0.9, 0.99, 1]) {
        expect(h.quantile(p)).to.equal(percentile(sorted, p))
      }
      expect(h.count).to.equal(values.length)
      expect(h.min).to.equal(sorted[0])
      expect(h.max).to.equal(sorted.at(-1))
    }))
  })

  it('the latency histogram stays within 1 ms below 10 s and 0.5 % above it', () => {
    fc.assert(fc.property(fc.array(fc.double({ min: 0, max: 3_000_000, noNaN: true }), { minLength: 1, maxLength: 300 }), values => {
      const h = new LatencyHistogram()
      values.forEach(v => { h.add(v) })
      const sorted = [...values].sort((a, b) => a - b)
      for (const p of [0.5, 0.99]) {
        const exact = percentile(sorted, p)
        const bound = exact < LATENCY_FINE_LIMIT_MS ? 1 : exact * 0.005 + 1e-6
        expect(Math.abs(h.quantile(p) - exact)).to.be.at.most(bound)
      }
    }))
  })

  it('the latency histogram reports overflow samples as the largest seen and merges', () => {
    const a = new LatencyHistogram()
    const b = new LatencyHistogram()
    a.add(10)
    b.add(5_000_000)
    a.merge(b)
    expect(a.count).to.equal(2)
    expect(a.quantile(1)).to.equal(5_000_000)
    expect(a.quantile(0.5)).to.equal(10)
    expect(a.mean).to.equal(2_500_005)
  })

  it('an empty latency histogram reads 0 and bad samples are rejected', () => {
    const h = new LatencyHistogram()
    expect([h.quantile(0.5), h.mean, h.min, h.max, h.count]).to.deep.equal([0, 0, 0, 0, 0])
    expect(() => { h.add(-1) }).to.throw(RangeError)
    expect(() => { h.add(NaN) }).to.throw(RangeError)
    expect(() => { h.add(Infinity) }).to.throw(RangeError)
  })
})
