import { expect } from 'aegir/chai'
import fc from 'fast-check'
import { compareIds, distance, RING_SIZE } from '../../src/overlay/ring-id.ts'
import { createRoutingState, distinctFingers, dropFingersUpTo, forgetPeer, knownPeers, refersTo, setFinger, setPredecessor, setSuccessors } from '../../src/overlay/routing-state.ts'
import type { Peer } from '../../src/overlay/seams.ts'

const TOP = RING_SIZE - 1n

function peer (id: bigint, address: string = `p${id}`): Peer {
  return { id, address }
}

const ids = (peers: readonly Peer[]): bigint[] => peers.map(p => p.id)

function checkSetSuccessors (selfId: bigint, size: number, first: Peer[], second: Peer[]): void {
  const self = peer(selfId, 'self')
  const s = createRoutingState(self, size)
  setSuccessors(s, first)
  const before = s.successors.map(p => p.address)
  const change = setSuccessors(s, second)
  const list = s.successors
  expect(list.length).to.be.at.most(size)
  expect(list.map(p => p.address)).to.not.include('self')
  expect(ids(list)).to.not.include(selfId)
  expect(new Set(list.map(p => p.address)).size).to.equal(list.length)
  for (let i = 1; i < list.length; i++) {
    expect(distance(selfId, list[i - 1].id) <= distance(selfId, list[i].id)).to.equal(true)
  }
  // every kept peer came from the candidates
  for (const p of list) {
    expect(second.some(c => c.address === p.address && c.id === p.id)).to.equal(true)
  }
  // the change is exactly the set difference
  const after = list.map(p => p.address)
  expect(change.added.map(p => p.address).sort()).to.deep.equal(after.filter(a => !before.includes(a)).sort())
  expect(change.removed.map(p => p.address).sort()).to.deep.equal(before.filter(a => !after.includes(a)).sort())
}

function checkTruncation (candidates: bigint[], size: number): void {
  const s = createRoutingState(peer(0n), size)
  setSuccessors(s, candidates.map(id => peer(id)))
  const nearest = [...candidates].sort(compareIds).slice(0, size)
  expect(ids(s.successors)).to.deep.equal(nearest)
}

function checkDropFingers (indexes: number[], cut: number): void {
  const s = createRoutingState(peer(0n), 4)
  for (const i of indexes) {
    setFinger(s, i, peer(BigInt(i) + 1n))
  }
  const byNumber = (a: number, b: number): number => a - b
  const removed = dropFingersUpTo(s, cut)
  expect(ids(removed).sort(compareIds)).to.deep.equal(indexes.filter(i => i <= cut).sort(byNumber).map(i => BigInt(i) + 1n))
  expect([...s.fingers.keys()].sort(byNumber)).to.deep.equal(indexes.filter(i => i > cut).sort(byNumber))
}

function checkForget (pred: Peer | null, succ: Peer[], fingers: Array<[number, Peer]>, gone: string): void {
  const s = createRoutingState(peer(0n, 'self'), 8)
  setPredecessor(s, pred ?? undefined)
  setSuccessors(s, succ)
  for (const [i, f] of fingers) {
    setFinger(s, i, f)
  }
  const heldFingers = [...s.fingers.values()].filter(f => f.address === gone).length
  const wasPred = s.predecessor?.address === gone
  const wasSucc = s.successors.some(x => x.address === gone)
  expect(forgetPeer(s, gone)).to.deep.equal({ predecessor: wasPred, successor: wasSucc, fingers: heldFingers })
  expect(knownPeers(s).map(x => x.address)).to.not.include(gone)
}

function checkKnownPeers (pred: number | null, succ: number[], fingers: Array<[number, number]>): void {
  const s = createRoutingState(peer(1000n), 8)
  setPredecessor(s, pred != null ? peer(BigInt(pred)) : undefined)
  setSuccessors(s, succ.map(i => peer(BigInt(i))))
  for (const [i, f] of fingers) {
    setFinger(s, i, peer(BigInt(f)))
  }
  const known = knownPeers(s).map(p => p.address)
  expect(new Set(known).size).to.equal(known.length)
  const expected = new Set([
    ...(s.predecessor != null ? [s.predecessor.address] : []),
    ...s.successors.map(p => p.address),
    ...[...s.fingers.values()].map(p => p.address)
  ])
  expect(new Set(known)).to.deep.equal(expected)
  // every address the state could name, and some it does not: refersTo is membership of knownPeers
  for (let i = 0; i <= 31; i++) {
    expect(refersTo(s, `p${i}`)).to.equal(expected.has(`p${i}`), `p${i}`)
  }
  const distinct = distinctFingers(s).map(p => p.address)
  expect(new Set(distinct).size).to.equal(distinct.length)
  expect(new Set(distinct)).to.deep.equal(new Set([...s.fingers.values()].map(p => p.address)))
}

describe('routing state', () => {
  describe('setPredecessor', () => {
    it('reports a change and no previous peer when the first predecessor is set', () => {
      const s = createRoutingState(peer(50n), 4)
      expect(setPredecessor(s, peer(40n))).to.deep.equal({ changed: true, previous: undefined })
      expect(s.predecessor).to.deep.equal(peer(40n))
    })

    it('reports the previous predecessor when it is replaced', () => {
      const s = createRoutingState(peer(50n), 4)
      setPredecessor(s, peer(30n))
      expect(setPredecessor(s, peer(40n))).to.deep.equal({ changed: true, previous: peer(30n) })
      expect(s.predecessor?.id).to.equal(40n)
    })

    it('reports no change when the same peer is set again', () => {
      const s = createRoutingState(peer(50n), 4)
      setPredecessor(s, peer(40n))
      expect(setPredecessor(s, peer(40n))).to.deep.equal({ changed: false })
    })

    it('clears the predecessor and reports the one that was there', () => {
      const s = createRoutingState(peer(50n), 4)
      setPredecessor(s, peer(40n))
      expect(setPredecessor(s, undefined)).to.deep.equal({ changed: true, previous: peer(40n) })
      expect(s.predecessor).to.equal(undefined)
    })

    it('never makes self its own predecessor', () => {
      const s = createRoutingState(peer(50n), 4)
      expect(setPredecessor(s, peer(50n))).to.deep.equal({ changed: false })
      setPredecessor(s, peer(40n))
      expect(setPredecessor(s, peer(50n))).to.deep.equal({ changed: true, previous: peer(40n) })
      expect(s.predecessor).to.equal(undefined)
    })
  })

  describe('setSuccessors', () => {
    it('reports exactly the peers added and removed', () => {
      const s = createRoutingState(peer(50n), 4)
      expect(setSuccessors(s, [peer(60n), peer(70n)])).to.deep.equal({ added: [peer(60n), peer(70n)], removed: [] })
      expect(setSuccessors(s, [peer(70n), peer(80n)])).to.deep.equal({ added: [peer(80n)], removed: [peer(60n)] })
      expect(setSuccessors(s, [peer(80n), peer(70n)])).to.deep.equal({ added: [], removed: [] })
      expect(setSuccessors(s, [])).to.deep.equal({ added: [], removed: [peer(70n), peer(80n)] })
    })

    it('orders by clockwise distance from self across the top of the ring', () => {
      const s = createRoutingState(peer(TOP - 10n), 8)
      setSuccessors(s, [peer(5n), peer(TOP), peer(TOP - 20n), peer(0n)])
      expect(ids(s.successors)).to.deep.equal([TOP, 0n, 5n, TOP - 20n])
    })

    it('reports a peer truncated off the end of the list as removed', () => {
      const s = createRoutingState(peer(50n), 2)
      setSuccessors(s, [peer(60n), peer(70n)])
      expect(setSuccessors(s, [peer(70n), peer(55n), peer(60n)])).to.deep.equal({ added: [peer(55n)], removed: [peer(70n)] })
      expect(ids(s.successors)).to.deep.equal([55n, 60n])
    })

    it('keeps the list sorted, deduplicated, free of self and within its size for any candidates', () => {
      const address = fc.constantFrom('a', 'b', 'c', 'd', 'e', 'f', 'g', 'h', 'i', 'j', 'self')
      const id = fc.oneof(fc.bigInt({ min: 0n, max: TOP }), fc.bigInt({ min: 0n, max: 100n }))
      const candidate = fc.record({ id, address })
      fc.assert(fc.property(id, fc.integer({ min: 1, max: 8 }), fc.array(candidate, { maxLength: 24 }), fc.array(candidate, { maxLength: 24 }), checkSetSuccessors), { numRuns: 1000 })
    })

    it('keeps the nearest candidates when it must truncate', () => {
      fc.assert(fc.property(fc.uniqueArray(fc.bigInt({ min: 1n, max: TOP }), { minLength: 1, maxLength: 30 }), fc.integer({ min: 1, max: 8 }), checkTruncation))
    })
  })

  describe('setFinger', () => {
    it('reports a new finger, a replaced finger and an unchanged one', () => {
      const s = createRoutingState(peer(50n), 4)
      expect(setFinger(s, 3, peer(60n))).to.deep.equal({ changed: true, previous: undefined })
      expect(setFinger(s, 3, peer(60n))).to.deep.equal({ changed: false })
      expect(setFinger(s, 3, peer(70n))).to.deep.equal({ changed: true, previous: peer(60n) })
      expect(s.fingers.get(3)).to.deep.equal(peer(70n))
    })

    it('removes the finger when given nothing or self', () => {
      const s = createRoutingState(peer(50n), 4)
      setFinger(s, 3, peer(60n))
      setFinger(s, 4, peer(70n))
      expect(setFinger(s, 3, undefined)).to.deep.equal({ changed: true, previous: peer(60n) })
      expect(setFinger(s, 4, peer(50n))).to.deep.equal({ changed: true, previous: peer(70n) })
      expect(setFinger(s, 5, undefined)).to.deep.equal({ changed: false })
      expect(s.fingers.size).to.equal(0)
    })
  })

  describe('dropFingersUpTo', () => {
    it('drops every finger at or below the index and returns them', () => {
      const s = createRoutingState(peer(0n), 4)
      for (const [i, id] of [[1, 10n], [5, 20n], [6, 30n], [9, 40n]] as const) {
        setFinger(s, i, peer(id))
      }
      expect(ids(dropFingersUpTo(s, 5)).sort()).to.deep.equal([10n, 20n])
      expect([...s.fingers.keys()].sort()).to.deep.equal([6, 9])
      expect(dropFingersUpTo(s, 5)).to.deep.equal([])
    })

    it('leaves exactly the fingers above the index, for any table', () => {
      fc.assert(fc.property(fc.uniqueArray(fc.nat({ max: 255 }), { maxLength: 40 }), fc.nat({ max: 255 }), checkDropFingers))
    })
  })

  describe('forgetPeer', () => {
    it('removes a peer from every role it held and reports which', () => {
      const s = createRoutingState(peer(50n), 4)
      setPredecessor(s, peer(40n))
      setSuccessors(s, [peer(60n), peer(40n)])
      setFinger(s, 1, peer(40n))
      setFinger(s, 2, peer(60n))
      setFinger(s, 3, peer(40n))
      expect(forgetPeer(s, 'p40')).to.deep.equal({ predecessor: true, successor: true, fingers: 2 })
      expect(s.predecessor).to.equal(undefined)
      expect(ids(s.successors)).to.deep.equal([60n])
      expect([...s.fingers.values()].map(p => p.id)).to.deep.equal([60n])
    })

    it('reports nothing for a peer it does not know', () => {
      const s = createRoutingState(peer(50n), 4)
      setPredecessor(s, peer(40n))
      setSuccessors(s, [peer(60n)])
      expect(forgetPeer(s, 'p99')).to.deep.equal({ predecessor: false, successor: false, fingers: 0 })
      expect(knownPeers(s)).to.have.length(2)
    })

    it('leaves no trace of the peer in any role, for any state', () => {
      const address = fc.constantFrom('a', 'b', 'c', 'd', 'e')
      const p = fc.record({ id: fc.bigInt({ min: 1n, max: 1000n }), address })
      fc.assert(fc.property(fc.option(p), fc.array(p, { maxLength: 8 }), fc.array(fc.tuple(fc.nat({ max: 20 }), p), { maxLength: 10 }), address, checkForget))
    })
  })

  describe('knownPeers, refersTo and distinctFingers', () => {
    it('lists every peer of every role once, and refersTo names exactly those', () => {
      fc.assert(fc.property(fc.option(fc.nat({ max: 30 })), fc.array(fc.nat({ max: 30 }), { maxLength: 8 }), fc.array(fc.tuple(fc.nat({ max: 255 }), fc.nat({ max: 30 })), { maxLength: 20 }), checkKnownPeers))
    })

    it('lists distinct fingers nearest finger index first', () => {
      const s = createRoutingState(peer(0n), 4)
      setFinger(s, 9, peer(900n))
      setFinger(s, 2, peer(200n))
      setFinger(s, 5, peer(500n))
      setFinger(s, 6, peer(500n))
      expect(ids(distinctFingers(s))).to.deep.equal([200n, 500n, 900n])
    })
  })
})
