import { expect } from 'aegir/chai'
import { describeRingShape, ringShape } from './ring-shape.ts'
import type { RingView } from '../../src/browser.ts'

/** A joined page `name` at ring id `id` (one hex digit, padded) whose first successor is `next` */
function view (name: string, id: number, next: string | undefined): RingView {
  return {
    namespace: 'test',
    joined: true,
    self: { peer: name, id: id.toString(16).padStart(64, '0') },
    successors: next == null ? [] : [{ peer: next, id: '' }],
    fingers: []
  }
}

describe('ringShape', () => {
  it('sees one cycle winding once in a proper ring', () => {
    const shape = ringShape([view('a', 1, 'b'), view('b', 2, 'c'), view('c', 3, 'a')])
    expect(shape.cycles.map(c => [c.length, c.windings])).to.deep.equal([[3, 1]])
    expect(shape.tails).to.equal(0)
    expect(shape.dangling).to.deep.equal([])
  })

  it('sees a split as two cycles', () => {
    const shape = ringShape([view('a', 1, 'c'), view('b', 2, 'd'), view('c', 3, 'a'), view('d', 4, 'b')])
    expect(shape.cycles.map(c => [c.length, c.windings]).sort()).to.deep.equal([[2, 1], [2, 1]])
  })

  it('sees a loopy ring as one cycle winding twice', () => {
    // 1 → 3 → 5 → 2 → 4 → 6 → 1 passes the top twice
    const shape = ringShape([view('a', 1, 'c'), view('c', 3, 'e'), view('e', 5, 'b'), view('b', 2, 'd'), view('d', 4, 'f'), view('f', 6, 'a')])
    expect(shape.cycles).to.have.length(1)
    expect(shape.cycles[0].windings).to.equal(2)
    expect(describeRingShape(shape)).to.include('6 winding 2×')
  })

  it('counts pages pointing into a cycle as tails, and pointers to pages not in the ring as dangling', () => {
    const shape = ringShape([view('a', 1, 'b'), view('b', 2, 'a'), view('c', 3, 'a'), view('d', 4, 'gone'), { ...view('e', 5, 'a'), joined: false }])
    expect(shape.members).to.equal(4)
    expect(shape.cycles.map(c => c.length)).to.deep.equal([2])
    expect(shape.tails).to.equal(1)
    expect(shape.dangling).to.deep.equal(['d'])
  })
})
