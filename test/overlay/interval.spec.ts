import { expect } from 'aegir/chai'
import fc from 'fast-check'
import { inHalfOpen, inOpen } from '../../src/overlay/interval.ts'

// A 6-bit ring: small enough to walk every point and use as the definition.
const BITS = 6
const SIZE = 1 << BITS
const point = fc.integer({ min: 0, max: SIZE - 1 })

/** Brute force: walk clockwise from a (exclusive) and collect the points until b */
function walk (a: number, b: number, includeEnd: boolean): Set<number> {
  const seen = new Set<number>()
  let x = (a + 1) % SIZE
  while (x !== b) {
    seen.add(x)
    x = (x + 1) % SIZE
  }
  if (includeEnd) {
    seen.add(b)
  }
  return seen
}

describe('interval math', () => {
  it('(a, b) matches a brute-force clockwise walk on a 6-bit ring', () => {
    fc.assert(fc.property(point, point, point, (x, a, b) => {
      expect(inOpen(BigInt(x), BigInt(a), BigInt(b))).to.equal(walk(a, b, false).has(x))
    }), { numRuns: 5000 })
  })

  it('(a, b] matches a brute-force clockwise walk on a 6-bit ring', () => {
    fc.assert(fc.property(point, point, point, (x, a, b) => {
      expect(inHalfOpen(BigInt(x), BigInt(a), BigInt(b))).to.equal(walk(a, b, true).has(x))
    }), { numRuns: 5000 })
  })

  it('treats (a, a) as everything but a and (a, a] as the whole ring', () => {
    for (let a = 0; a < SIZE; a++) {
      for (let x = 0; x < SIZE; x++) {
        expect(inOpen(BigInt(x), BigInt(a), BigInt(a))).to.equal(x !== a)
        expect(inHalfOpen(BigInt(x), BigInt(a), BigInt(a))).to.equal(true)
      }
    }
  })

  it('agrees on full-width 256-bit ids near the wrap-around point', () => {
    const top = (1n << 256n) - 1n
    expect(inOpen(0n, top - 1n, 1n)).to.equal(true)
    expect(inOpen(top, top - 1n, 1n)).to.equal(true)
    expect(inOpen(1n, top - 1n, 1n)).to.equal(false)
    expect(inHalfOpen(1n, top - 1n, 1n)).to.equal(true)
    expect(inOpen(5n, top - 1n, 1n)).to.equal(false)
  })
})
