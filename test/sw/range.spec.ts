/**
 * `parseRange`, the page side's reading of a `Range` header (RFC 9110 §14):
 * one byte range is served 206, a range outside the object 416, anything the
 * bridge does not serve partially (several ranges, another unit) 200 whole.
 */
import { expect } from 'aegir/chai'
import { parseRange } from '../../src/service-worker-bridge.ts'

describe('parseRange', () => {
  const cases: Array<[string | undefined, number, ReturnType<typeof parseRange>]> = [
    [undefined, 100, 'full'],
    ['bytes=0-9', 100, { start: 0, end: 9 }],
    ['bytes=10-', 100, { start: 10, end: 99 }],
    ['bytes=90-200', 100, { start: 90, end: 99 }],
    ['bytes=-10', 100, { start: 90, end: 99 }],
    ['bytes=-1000', 100, { start: 0, end: 99 }],
    ['bytes=99-99', 100, { start: 99, end: 99 }],
    ['Bytes = 5 - 6', 100, { start: 5, end: 6 }],
    ['bytes=100-', 100, 'unsatisfiable'],
    ['bytes=100-200', 100, 'unsatisfiable'],
    ['bytes=-0', 100, 'unsatisfiable'],
    ['bytes=9-3', 100, 'unsatisfiable'],
    ['bytes=-', 100, 'unsatisfiable'],
    ['bytes=abc', 100, 'unsatisfiable'],
    ['bytes=0-0', 0, 'unsatisfiable'],
    ['bytes=0-1,5-6', 100, 'full'],
    ['items=0-1', 100, 'full'],
    ['', 100, 'full']
  ]
  for (const [header, size, expected] of cases) {
    it(`${JSON.stringify(header)} of ${size} bytes → ${JSON.stringify(expected)}`, () => {
      expect(parseRange(header, size)).to.deep.equal(expected)
    })
  }
})
