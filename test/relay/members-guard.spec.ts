/**
 * The member registry against hostile askers, as pure state with an injected
 * clock: founder squatting, Sybils of one IP address, namespace exhaustion,
 * and the state an attack leaves behind
 */
import { expect } from 'aegir/chai'
import { MemberRegistry } from '../../relay/members.ts'
import type { AskResult, MemberEntry } from '../../relay/members.ts'

function entry (peer: string, id: bigint, ip: string): MemberEntry {
  return { peer, id, addrs: [], ip }
}

function peersOf (result: AskResult): string[] {
  return result.type === 'members' ? result.members.map(m => m.peer) : []
}

describe('relay member registry: hostile askers', () => {
  it('does not renew a founder grant on re-asking: the next asker founds once it lapses', () => {
    let now = 0
    const registry = new MemberRegistry({ founderGraceMs: 5_000, now: () => now })
    expect(registry.ask('ns', entry('squatter', 1n, '10.0.0.66'), { member: false })).to.deep.equal({ type: 'found' })
    // re-asking every 4 s, as the measured attack did
    now = 4_000
    expect(registry.ask('ns', entry('squatter', 1n, '10.0.0.66'), { member: false })).to.deep.equal({ type: 'found' })
    // never listed, so nobody tries to join through it: the others wait for its grant to end
    expect(registry.ask('ns', entry('honest', 2n, '10.0.0.1'), { member: false })).to.deep.include({ type: 'wait' })
    // the grant dates from the first answer: it lapses at 5 s, whatever the squatter asked since
    now = 5_000
    expect(registry.ask('ns', entry('honest', 2n, '10.0.0.1'), { member: false })).to.deep.equal({ type: 'found' })
    // the squatter is not told to found again: it waits like anyone, and is given the new founder once it registers
    expect(registry.ask('ns', entry('squatter', 1n, '10.0.0.66'), { member: false })).to.deep.include({ type: 'wait' })
    registry.ask('ns', entry('honest', 2n, '10.0.0.1'), { member: true })
    expect(peersOf(registry.ask('ns', entry('squatter', 1n, '10.0.0.66'), { member: false }))).to.deep.equal(['honest'])
  })

  it('refuses founding to a peer that lapsed, and to its IP address after repeats, for the penalty', () => {
    let now = 0
    const registry = new MemberRegistry({ founderGraceMs: 1_000, foundingPenaltyMs: 60_000, maxFailedFoundingsPerIp: 2, now: () => now })
    expect(registry.ask('a', entry('s1', 1n, '10.0.0.66'), { member: false })).to.deep.equal({ type: 'found' })
    now = 1_000
    // s1 lapsed: not told to found any namespace for the penalty
    expect(registry.ask('b', entry('s1', 1n, '10.0.0.66'), { member: false })).to.deep.include({ type: 'unavailable', code: 'founding-refused' })
    // a fresh peer id of the same address may, once more
    expect(registry.ask('b', entry('s2', 2n, '10.0.0.66'), { member: false })).to.deep.equal({ type: 'found' })
    now = 2_000
    // two lapses from one address: no fresh peer id of it founds now
    expect(registry.ask('c', entry('s3', 3n, '10.0.0.66'), { member: false })).to.deep.include({ type: 'unavailable', code: 'founding-refused' })
    // other addresses are not affected
    expect(registry.ask('c', entry('h', 4n, '10.0.0.1'), { member: false })).to.deep.equal({ type: 'found' })
    // the penalty ends, and its records go with it
    now = 62_001
    registry.sweep()
    expect(registry.ask('d', entry('s1', 1n, '10.0.0.66'), { member: false })).to.deep.equal({ type: 'found' })
  })

  it('tells concurrent askers to wait for the founder, and lists it as an ordinary member once it registers', () => {
    let now = 0
    const registry = new MemberRegistry({ founderGraceMs: 5_000, now: () => now })
    expect(registry.ask('ns', entry('f', 1n, '10.0.0.1'), { member: false })).to.deep.equal({ type: 'found' })
    for (const peer of ['x', 'y', 'z']) {
      expect(registry.ask('ns', entry(peer, BigInt(peer.charCodeAt(0)), '10.0.0.2'), { member: false })).to.deep.include({ type: 'wait' })
    }
    now = 100
    expect(registry.ask('ns', entry('f', 1n, '10.0.0.1'), { member: true })).to.deep.include({ registered: true })
    expect(peersOf(registry.ask('ns', entry('y', 121n, '10.0.0.2'), { member: false }))).to.deep.equal(['f'])
    // long past the grace: still listed, as a member
    now = 60_000
    expect(peersOf(registry.ask('ns', entry('x', 120n, '10.0.0.2'), { member: false }))).to.deep.equal(['f'])
    expect(registry.stats()).to.deep.include({ members: 1, founders: 0, penalties: 0 })
  })

  it('caps members per IP address, per namespace and overall, and says why', () => {
    const registry = new MemberRegistry({ maxMembersPerIpPerNamespace: 3, maxMembersPerIp: 5, maxNamespacesPerPeer: 10 })
    const results = Array.from({ length: 10 }, (_, i) => registry.ask('ns', entry(`s${i}`, BigInt(i + 1), '10.0.0.66'), { member: true }))
    expect(results.filter(r => r.type === 'members' && r.registered)).to.have.lengthOf(3)
    expect(results[9]).to.deep.include({ registered: false, notListed: 'ip-namespace-members' })
    for (let i = 0; i < 3; i++) {
      registry.ask('other', entry(`t${i}`, BigInt(100 + i), '10.0.0.66'), { member: true })
    }
    expect(registry.members('other')).to.have.lengthOf(2)
    expect(registry.ask('third', entry('u', 200n, '10.0.0.66'), { member: true })).to.deep.include({ registered: false, notListed: 'ip-members' })
    // other addresses are listed as before
    expect(registry.ask('ns', entry('h', 300n, '10.0.0.1'), { member: true })).to.deep.include({ registered: true })
  })

  it('limits how fast one IP address lists new members', () => {
    let now = 0
    const registry = new MemberRegistry({ registrationBurstPerIp: 4, registrationsPerMinutePerIp: 60, maxMembersPerIpPerNamespace: 100, now: () => now })
    const listed = (): number => registry.members('ns').length
    for (let i = 0; i < 10; i++) {
      registry.ask('ns', entry(`s${i}`, BigInt(i + 1), '10.0.0.66'), { member: true })
    }
    expect(listed()).to.equal(4)
    expect(registry.ask('ns', entry('late', 99n, '10.0.0.66'), { member: true })).to.deep.include({ notListed: 'ip-rate' })
    // one per second refills
    now = 2_000
    registry.ask('ns', entry('s10', 11n, '10.0.0.66'), { member: true })
    registry.ask('ns', entry('s11', 12n, '10.0.0.66'), { member: true })
    registry.ask('ns', entry('s12', 13n, '10.0.0.66'), { member: true })
    expect(listed()).to.equal(6)
  })

  it('bounds the share of one IP address in the samples handed to joiners', () => {
    const registry = new MemberRegistry({ maxMembersPerIpPerNamespace: 400, registrationBurstPerIp: 400 })
    for (let i = 0; i < 400; i++) {
      registry.ask('ns', entry(`sybil${i}`, BigInt(1_000 + i), '10.0.0.66'), { member: true })
    }
    for (let i = 0; i < 6; i++) {
      registry.ask('ns', entry(`honest${i}`, BigInt(i + 1), `10.0.1.${i}`), { member: true })
    }
    let fake = 0
    let total = 0
    for (let round = 0; round < 200; round++) {
      const got = peersOf(registry.ask('ns', entry('joiner', 999_999n, '10.0.2.1'), { member: false }))
      // the answer is full, and holds at most 2 of the Sybils' address
      expect(got).to.have.lengthOf(8)
      const sybils = got.filter(p => p.startsWith('sybil')).length
      expect(sybils).to.be.at.most(2)
      fake += sybils
      total += got.length
    }
    // 400 of 406 members, yet about 2 in 8 of what joiners are handed
    expect(fake / total).to.be.at.most(0.25)
  })

  it('serves only the configured namespaces when given', () => {
    const registry = new MemberRegistry({ namespaces: ['https://a.example'] })
    expect(registry.ask('https://a.example', entry('a', 1n, '10.0.0.1'), { member: false })).to.deep.equal({ type: 'found' })
    expect(registry.ask('https://b.example', entry('b', 2n, '10.0.0.1'), { member: false })).to.deep.include({ type: 'unavailable', code: 'namespace-not-served' })
    expect(registry.ask('https://b.example', entry('b', 2n, '10.0.0.1'), { member: true })).to.deep.include({ type: 'unavailable', code: 'namespace-not-served' })
    expect(registry.stats().namespaces).to.equal(1)
  })

  it('caps the namespaces one IP address holds, so it cannot fill the relay', () => {
    const registry = new MemberRegistry({ maxNamespaces: 50, maxNamespacesPerIp: 4, maxNamespacesPerPeer: 4 })
    let refused = 0
    // 101 peers × 4 namespaces from one address, as the measured attack
    for (let p = 0; p < 101; p++) {
      for (let n = 0; n < 4; n++) {
        const res = registry.ask(`site-${p}-${n}`, entry(`p${p}`, BigInt(p * 10 + n + 1), '10.0.0.66'), { member: true })
        if (res.type === 'members' && !res.registered) {
          refused++
        }
      }
    }
    expect(registry.stats().namespaces).to.equal(4)
    expect(refused).to.equal(400)
    // a new site's first page founds, and its pages join
    expect(registry.ask('https://new.example', entry('h1', 5_000n, '10.0.0.1'), { member: false })).to.deep.equal({ type: 'found' })
    expect(registry.ask('https://new.example', entry('h1', 5_000n, '10.0.0.1'), { member: true })).to.deep.include({ registered: true })
    expect(peersOf(registry.ask('https://new.example', entry('h2', 5_001n, '10.0.0.2'), { member: false }))).to.deep.equal(['h1'])
    // and the same address cannot found a fifth either
    expect(registry.ask('https://other.example', entry('p0', 1n, '10.0.0.66'), { member: false })).to.deep.include({ type: 'unavailable', code: 'ip-namespaces' })
  })

  it('forgets everything an attack left once its peers are gone and the records expire', () => {
    let now = 0
    const registry = new MemberRegistry({ founderGraceMs: 1_000, foundingPenaltyMs: 10_000, registrationBurstPerIp: 8, registrationsPerMinutePerIp: 60, now: () => now })
    const peers: string[] = []
    for (let i = 0; i < 20; i++) {
      peers.push(`s${i}`)
      registry.ask(`ns${i % 3}`, entry(`s${i}`, BigInt(i + 1), `10.0.0.${i % 4}`), { member: i % 2 === 0 })
    }
    expect(registry.stats().ips).to.be.greaterThan(0)
    for (const peer of peers) {
      registry.remove(peer)
    }
    // lapsed founders are penalised for a while; then nothing is left
    now = 2_000
    registry.sweep()
    now = 60_000
    registry.sweep()
    expect(registry.stats()).to.deep.equal({ namespaces: 0, members: 0, localMembers: 0, remoteListings: 0, founders: 0, ips: 0, penalties: 0 })
  })
})
