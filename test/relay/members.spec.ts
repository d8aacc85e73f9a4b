/**
 * The relay's member list, as pure state with an injected clock
 */
import { expect } from 'aegir/chai'
import fc from 'fast-check'
import { MemberRegistry, nearest, sample } from '../../relay/members.ts'
import { RING_SIZE, distance } from '../../src/overlay/ring-id.ts'
import type { MemberEntry } from '../../relay/members.ts'

function entry (peer: string, id: bigint): MemberEntry {
  return { peer, id, addrs: [] }
}

/** Ring distance either way */
function byId (a: bigint, b: bigint): number {
  if (a === b) {
    return 0
  }
  return a < b ? -1 : 1
}

function ringGap (a: bigint, b: bigint): bigint {
  const cw = distance(a, b)
  const ccw = distance(b, a)
  return cw < ccw ? cw : ccw
}

describe('relay member registry', () => {
  it('answers the members nearest a position, either way round, as a brute force would', () => {
    fc.assert(fc.property(
      fc.uniqueArray(fc.bigInt({ min: 0n, max: RING_SIZE - 1n }), { minLength: 0, maxLength: 40 }),
      fc.bigInt({ min: 0n, max: RING_SIZE - 1n }),
      fc.integer({ min: 1, max: 50 }),
      (ids, target, limit) => {
        const members = [...ids].sort(byId).map((id, i) => entry(`p${i}`, id))
        const got = nearest(members, target, limit)
        const gaps = members.map(m => ringGap(target, m.id)).sort(byId)
        expect(got.length).to.equal(Math.min(limit, members.length))
        // no member twice, and the answer's gaps are the smallest gaps, in order
        expect(new Set(got.map(m => m.peer)).size).to.equal(got.length)
        expect(got.map(m => ringGap(target, m.id))).to.deep.equal(gaps.slice(0, got.length))
      }
    ), { numRuns: 300 })
  })

  it('leaves out the asker itself, and prefers the clockwise member on a tie', () => {
    const members = [entry('a', 10n), entry('b', 20n), entry('c', 30n)]
    expect(nearest(members, 20n, 5, 'b').map(m => m.peer)).to.deep.equal(['c', 'a'])
  })

  it('tells the first asker of an empty namespace to found, and others to wait during its grace', () => {
    let now = 0
    const registry = new MemberRegistry({ founderGraceMs: 1_000, now: () => now })
    expect(registry.ask('ns', entry('a', 5n), { member: false })).to.deep.equal({ type: 'found' })
    // a retry of the founder is told the same
    expect(registry.ask('ns', entry('a', 5n), { member: false })).to.deep.equal({ type: 'found' })
    // the founder is not listed before it registers: others ask again shortly, never past its grace
    expect(registry.ask('ns', entry('b', 9n), { member: false })).to.deep.equal({ type: 'wait' })
    now = 999
    expect(registry.ask('ns', entry('b', 9n), { member: false })).to.deep.equal({ type: 'wait' })
    expect(registry.stats()).to.deep.include({ namespaces: 1, members: 0, founders: 1 })

    // past the grace, unregistered: the next asker founds instead
    now = 1_001
    expect(registry.ask('ns', entry('b', 9n), { member: false })).to.deep.equal({ type: 'found' })
    // b registers: it is an ordinary member, and a is answered with it
    const registered = registry.ask('ns', entry('b', 9n), { member: true })
    expect(registered).to.deep.include({ type: 'members', registered: true })
    expect(registry.stats()).to.deep.include({ namespaces: 1, members: 1, founders: 0 })
    const third = registry.ask('ns', entry('a', 5n), { member: false })
    expect(third.type === 'members' && third.members.map(m => m.peer)).to.deep.equal(['b'])
  })

  it('answers a lone member with no members rather than telling it to found', () => {
    const registry = new MemberRegistry()
    expect(registry.ask('ns', entry('a', 5n), { member: true })).to.deep.equal({ type: 'members', members: [], registered: true })
  })

  it('keeps namespaces apart and drops a peer from all of them on disconnect', () => {
    const registry = new MemberRegistry()
    registry.ask('x', entry('a', 1n), { member: true })
    registry.ask('y', entry('a', 1n), { member: true })
    registry.ask('y', entry('b', 2n), { member: true })
    const inX = registry.ask('x', entry('c', 3n), { member: false })
    expect(inX.type === 'members' && inX.members.map(m => m.peer)).to.deep.equal(['a'])
    expect(registry.stats()).to.include({ namespaces: 2, members: 3 })
    expect(registry.remove('a')).to.equal(2)
    expect(registry.members('x')).to.be.empty()
    expect(registry.members('y').map(m => m.peer)).to.deep.equal(['b'])
    // the empty namespace is forgotten
    expect(registry.stats()).to.include({ namespaces: 1, members: 1 })
    expect(registry.remove('nobody')).to.equal(0)
  })

  it('updates the addresses of a member that registers again', () => {
    const registry = new MemberRegistry()
    registry.ask('ns', { peer: 'a', id: 1n, addrs: [new Uint8Array([1])] }, { member: true })
    registry.ask('ns', { peer: 'a', id: 1n, addrs: [new Uint8Array([2])] }, { member: true })
    expect(registry.members('ns')).to.have.lengthOf(1)
    expect(registry.members('ns')[0].addrs).to.deep.equal([new Uint8Array([2])])
    expect(registry.stats().members).to.equal(1)
  })

  it('stays within its bounds: members per namespace, in total, namespaces, namespaces per peer', () => {
    const registry = new MemberRegistry({ maxMembersPerNamespace: 2, maxMembers: 3, maxNamespaces: 2, maxNamespacesPerPeer: 1, pick: 'nearest' })
    expect(registry.ask('x', entry('a', 1n), { member: true })).to.deep.include({ registered: true })
    expect(registry.ask('x', entry('b', 2n), { member: true })).to.deep.include({ registered: true })
    // full namespace: answered, not listed
    const third = registry.ask('x', entry('c', 3n), { member: true })
    expect(third).to.deep.include({ type: 'members', registered: false })
    expect(third.type === 'members' && third.members.map(m => m.peer)).to.deep.equal(['b', 'a'])
    // a peer in one namespace already
    expect(registry.ask('y', entry('a', 1n), { member: true })).to.deep.include({ registered: false })
    expect(registry.ask('y', entry('d', 4n), { member: true })).to.deep.include({ registered: true })
    // total reached
    expect(registry.ask('y', entry('e', 5n), { member: true })).to.deep.include({ registered: false })
    // namespaces reached
    expect(registry.ask('z', entry('f', 6n), { member: false })).to.deep.include({ type: 'unavailable' })
    expect(registry.stats()).to.deep.include({ namespaces: 2, members: 3, founders: 0 })
  })

  it('samples distinct members uniformly, never the asker', () => {
    const members = Array.from({ length: 10 }, (_, i) => entry(`p${i}`, BigInt(i)))
    let seed = 1
    // a small LCG: deterministic, so the counts below are the same every run
    const random = (): number => { seed = (seed * 1_103_515_245 + 12_345) % 2 ** 31; return seed / 2 ** 31 }
    const counts = new Map<string, number>()
    for (let round = 0; round < 2_000; round++) {
      const got = sample(members, 3, random, 'p0').map(m => m.peer)
      expect(new Set(got).size).to.equal(got.length)
      expect(got).to.not.include('p0')
      for (const peer of got) {
        counts.set(peer, (counts.get(peer) ?? 0) + 1)
      }
    }
    // 9 candidates share about 2 000 × 3 × 9/10 picks: each near 600
    for (let i = 1; i < 10; i++) {
      expect(counts.get(`p${i}`)).to.be.within(450, 750)
    }
    expect(sample(members, 20, random).map(m => m.peer).sort()).to.deep.equal(members.map(m => m.peer).sort())
    expect(sample([], 3, random)).to.deep.equal([])
  })

  it('answers with a random sample by default, or the nearest members when asked to', () => {
    const random = new MemberRegistry({ random: () => 0 })
    const nearestFirst = new MemberRegistry({ pick: 'nearest' })
    for (let i = 0; i < 10; i++) {
      // one address each: the random sample draws addresses first
      random.ask('ns', { ...entry(`p${i}`, BigInt(i * 100)), ip: `10.0.0.${i}` }, { member: true })
      nearestFirst.ask('ns', entry(`p${i}`, BigInt(i * 100)), { member: true })
    }
    const fromRandom = random.ask('ns', entry('q', 450n), { member: false, limit: 3 })
    // random() = 0 always takes the first remaining slot: the first addresses, in the order they came
    expect(fromRandom.type === 'members' && fromRandom.members.map(m => m.peer)).to.deep.equal(['p0', 'p1', 'p2'])
    const fromNearest = nearestFirst.ask('ns', entry('q', 450n), { member: false, limit: 3 })
    expect(fromNearest.type === 'members' && fromNearest.members.map(m => m.peer)).to.deep.equal(['p5', 'p4', 'p6'])
  })

  it('caps the answer size', () => {
    const registry = new MemberRegistry({ maxAnswerSize: 3, pick: 'nearest' })
    for (let i = 0; i < 10; i++) {
      registry.ask('ns', entry(`p${i}`, BigInt(i * 100)), { member: true })
    }
    const res = registry.ask('ns', entry('q', 450n), { member: false, limit: 1_000 })
    expect(res.type === 'members' && res.members.map(m => m.peer)).to.deep.equal(['p5', 'p4', 'p6'])
  })
})
