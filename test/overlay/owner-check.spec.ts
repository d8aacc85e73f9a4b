import { expect } from 'aegir/chai'
import { judgeOwner, OWNER_GAP_FACTOR } from '../../src/overlay/owner-check.ts'
import { RING_SIZE } from '../../src/overlay/ring-id.ts'
import { createRoutingState } from '../../src/overlay/routing-state.ts'
import type { RoutingState } from '../../src/overlay/routing-state.ts'
import type { Peer } from '../../src/overlay/seams.ts'

/** A node at 0 whose successors sit every `gap` ids: the mean gap it measures is `gap` */
function stateWithGap (gap: bigint, successors = 8): RoutingState {
  const state = createRoutingState({ id: 0n, address: 'self' }, successors)
  state.successors = Array.from({ length: successors }, (_, i) => peer(gap * BigInt(i + 1)))
  return state
}

function peer (id: bigint): Peer {
  return { id: ((id % RING_SIZE) + RING_SIZE) % RING_SIZE, address: `p${id}` }
}

describe('owner check', () => {
  const gap = RING_SIZE / 1000n

  it('finds an owner that lies between us and the key impossible, however close', () => {
    const state = stateWithGap(gap)
    const key = 500n * gap
    expect(judgeOwner(state, key, peer(key - 1n))).to.equal('impossible')
    expect(judgeOwner(state, key, peer(gap))).to.equal('impossible')
  })

  it('believes an owner at the key or one gap past it', () => {
    const state = stateWithGap(gap)
    const key = 500n * gap
    expect(judgeOwner(state, key, peer(key))).to.equal('plausible')
    expect(judgeOwner(state, key, peer(key + gap))).to.equal('plausible')
  })

  it('finds an owner more than the gap factor of mean gaps past the key implausible, and one within it plausible', () => {
    const state = stateWithGap(gap)
    const key = 500n * gap
    expect(judgeOwner(state, key, peer(key + OWNER_GAP_FACTOR * gap - 1n))).to.equal('plausible')
    expect(judgeOwner(state, key, peer(key + OWNER_GAP_FACTOR * gap + 1n))).to.equal('implausible')
    // a node far around the ring, behind us: the typical "I own every key" liar
    expect(judgeOwner(state, key, peer(RING_SIZE - gap))).to.equal('implausible')
  })

  it('judges across the top of the ring', () => {
    const state = createRoutingState({ id: RING_SIZE - 10n * gap, address: 'self' }, 8)
    state.successors = Array.from({ length: 8 }, (_, i) => peer(RING_SIZE - 10n * gap + gap * BigInt(i + 1)))
    const key = 5n * gap
    expect(judgeOwner(state, key, peer(6n * gap))).to.equal('plausible')
    expect(judgeOwner(state, key, peer(RING_SIZE - gap))).to.equal('impossible')
  })

  it('does not guess a density from fewer than three successors', () => {
    const state = stateWithGap(gap, 2)
    expect(judgeOwner(state, 10n * gap, peer(RING_SIZE / 2n))).to.equal('plausible')
  })

  it('believes any owner of our own id (a placement check names the node that holds our place)', () => {
    const state = stateWithGap(gap)
    expect(judgeOwner(state, 0n, peer(RING_SIZE / 2n))).to.equal('plausible')
  })
})
