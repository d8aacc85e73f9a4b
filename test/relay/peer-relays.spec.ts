/**
 * Several relays of one site share their member lists: the registry keeps
 * what peer relays publish beside its own listings, real relays on loopback
 * publish to each other, a joiner on one relay is handed members of another,
 * an empty namespace is founded once across relays, and a relay that stops
 * takes its listings with it and brings them back when it restarts.
 */
import { noise } from '@chainsafe/libp2p-noise'
import { yamux } from '@chainsafe/libp2p-yamux'
import { generateKeyPair } from '@libp2p/crypto/keys'
import { identify } from '@libp2p/identify'
import { peerIdFromPrivateKey } from '@libp2p/peer-id'
import { webSockets } from '@libp2p/websockets'
import { multiaddr } from '@multiformats/multiaddr'
import { expect } from 'aegir/chai'
import { createLibp2p } from 'libp2p'
import { MemberRegistry } from '../../relay/members.ts'
import { RELAY_SYNC_PROTOCOL, arbiterOf } from '../../relay/peer-relays.ts'
import { nodeIdFromBytes } from '../../src/keys.ts'
import { queryBootstrap } from '../../src/libp2p/bootstrap-client.ts'
import { waitFor } from '../libp2p/fixtures.ts'
import { createRelaySet, waitForLinks } from './fixtures.ts'
import type { RelaySet } from './fixtures.ts'
import type { MemberEntry } from '../../relay/members.ts'
import type { BootstrapAnswer } from '../../src/libp2p/bootstrap-client.ts'
import type { Libp2p } from '@libp2p/interface'

async function entry (ip = '10.0.0.1'): Promise<MemberEntry & { ip: string }> {
  const peer = peerIdFromPrivateKey(await generateKeyPair('Ed25519'))
  return { peer: peer.toString(), id: nodeIdFromBytes(peer.toMultihash().bytes), addrs: [], ip }
}

describe('relay: member registry with peer relays', () => {
  it('hands a joiner the members a peer relay published', async () => {
    const registry = new MemberRegistry()
    const remote = await entry()
    registry.addRemote('relay-b', 'ns', remote)
    const answer = registry.ask('ns', await entry('10.0.0.2'), { member: false })
    expect(answer).to.have.property('type', 'members')
    expect(answer.type === 'members' && answer.members.map(m => m.peer)).to.deep.equal([remote.peer])
    expect(registry.stats()).to.include({ members: 1, localMembers: 0, remoteListings: 1 })
  })

  it('forgets every listing of a peer relay whose link ended', async () => {
    const registry = new MemberRegistry()
    for (let i = 0; i < 5; i++) {
      registry.addRemote('relay-b', `ns-${i % 2}`, await entry(`10.0.0.${i}`))
    }
    const kept = await entry()
    registry.addRemote('relay-c', 'ns-0', kept)
    expect(registry.dropRelay('relay-b')).to.equal(5)
    expect(registry.members('ns-0').map(m => m.peer)).to.deep.equal([kept.peer])
    expect(registry.members('ns-1')).to.be.empty()
    expect(registry.stats()).to.include({ namespaces: 1, members: 1, remoteListings: 1 })
  })

  it('lists a page once, by its local addresses, and keeps it listed when it moved to a peer relay', async () => {
    const changes: string[] = []
    const registry = new MemberRegistry({ onChange: (c) => { changes.push(c.type) } })
    const page = await entry()
    const local = { ...page, addrs: [Uint8Array.from([1])] }
    registry.addRemote('relay-b', 'ns', { ...page, addrs: [Uint8Array.from([2])] })
    registry.ask('ns', local, { member: true })
    expect(registry.members('ns')).to.have.lengthOf(1)
    expect(registry.members('ns')[0].addrs).to.deep.equal([Uint8Array.from([1])])
    // its connection here closed (it moved to relay-b): still listed through relay-b
    registry.remove(page.peer)
    expect(registry.members('ns').map(m => m.addrs)).to.deep.equal([[Uint8Array.from([2])]])
    expect(changes).to.deep.equal(['member', 'gone'])
    registry.removeRemote('relay-b', 'ns', page.peer)
    expect(registry.members('ns')).to.be.empty()
    expect(registry.stats()).to.include({ namespaces: 0, members: 0, localMembers: 0, remoteListings: 0 })
  })

  it('leaves the founding decision to the arbiter when it may not found, and makes others wait for the arbiter\'s founder', async () => {
    const registry = new MemberRegistry()
    const first = await entry()
    expect(registry.ask('ns', first, { member: false, mayFound: false })).to.deep.equal({ type: 'arbitrate' })
    registry.addRemoteFounder('arbiter', 'ns', first, 2_000)
    // the founder asking again is told again; anyone else waits for it to register
    expect(registry.ask('ns', first, { member: false, mayFound: false })).to.deep.equal({ type: 'found' })
    const other = await entry('10.0.0.9')
    expect(registry.ask('ns', other, { member: false, mayFound: false })).to.deep.include({ type: 'wait' })
    // it registers here: an ordinary member, handed to the others
    registry.ask('ns', first, { member: true })
    expect(registry.founderOf('ns')).to.be.undefined()
    const second = registry.ask('ns', other, { member: false, mayFound: false })
    expect(second.type === 'members' && second.members.map(m => m.peer)).to.deep.equal([first.peer])
  })

  it('reports a founder grant and its end, so peer relays hear of both', async () => {
    const changes: string[] = []
    let now = 0
    const registry = new MemberRegistry({ onChange: (c) => { changes.push(c.type) }, now: () => now, founderGraceMs: 1_000 })
    registry.ask('ns', await entry(), { member: false })
    expect(registry.localListings().map(c => c.type)).to.deep.equal(['founder'])
    now = 2_000
    registry.sweep()
    expect(changes).to.deep.equal(['founder', 'founder-gone'])
  })

  it('clears its founder grant once the founder is listed by a peer relay', async () => {
    const registry = new MemberRegistry()
    const founder = await entry()
    expect(registry.ask('ns', founder, { member: false })).to.deep.equal({ type: 'found' })
    registry.addRemote('relay-b', 'ns', founder)
    expect(registry.founderOf('ns')).to.be.undefined()
    expect(registry.stats().founders).to.equal(0)
  })

  it('counts only its own listings against the per-IP caps', async () => {
    const registry = new MemberRegistry({ maxMembersPerIpPerNamespace: 1 })
    registry.addRemote('relay-b', 'ns', await entry('10.0.0.1'))
    const answer = registry.ask('ns', await entry('10.0.0.1'), { member: true })
    expect(answer).to.have.property('registered', true)
  })

  it('picks one arbiter per namespace, the same whatever order the relays are listed in', () => {
    const relays = ['a', 'b', 'c', 'd']
    const chosen = new Set<string>()
    for (let i = 0; i < 200; i++) {
      const arbiter = arbiterOf(`ns-${i}`, relays)
      expect(arbiterOf(`ns-${i}`, [...relays].reverse())).to.equal(arbiter)
      chosen.add(arbiter as string)
    }
    // spread over every relay
    expect(chosen.size).to.equal(4)
  })
})

describe('relay: peer relays on loopback', function () {
  this.timeout(90_000)

  let set: RelaySet
  const clients: Libp2p[] = []

  async function client (): Promise<Libp2p> {
    const node = await createLibp2p({
      transports: [webSockets()],
      connectionEncrypters: [noise()],
      streamMuxers: [yamux()],
      connectionMonitor: { enabled: false },
      services: { identify: identify() }
    })
    clients.push(node)
    return node
  }

  async function ask (node: Libp2p, relay: number, namespace: string, member: boolean): Promise<BootstrapAnswer> {
    const connection = await node.dial(multiaddr(set.addrs[relay]), { signal: AbortSignal.timeout(5_000) })
    return queryBootstrap(connection, { namespace, addrs: [], member })
  }

  before(async () => {
    set = await createRelaySet(3)
    await waitForLinks(set)
  })

  after(async () => {
    await Promise.all(clients.map(async c => c.stop()))
    await set?.stopAll()
  })

  it('hands a joiner on one relay the members registered on the others', async () => {
    const a = await client()
    const b = await client()
    await ask(a, 0, 'https://one.example', true)
    await ask(b, 1, 'https://one.example', true)
    const joiner = await client()
    await waitFor(() => set.relays[2].registry.members('https://one.example').length === 2, 10_000, 'relay 2 to learn both members')
    const answer = await ask(joiner, 2, 'https://one.example', false)
    expect(answer.type === 'members' && answer.members.map(m => m.peer).sort()).to.deep.equal([a.peerId.toString(), b.peerId.toString()].sort())
  })

  it('founds an empty namespace once across relays when pages ask different relays at once', async () => {
    for (let round = 0; round < 3; round++) {
      const namespace = `https://fresh-${round}.example`
      const nodes = await Promise.all([client(), client(), client()])
      const answers = await Promise.all(nodes.map(async (n, i) => ask(n, i, namespace, false)))
      const founders = answers.filter(a => a.type === 'found')
      expect(founders, `round ${round}: ${JSON.stringify(answers.map(a => a.type))}`).to.have.lengthOf(1)
      // the others wait for the founder to register, whichever relay (and, through it, the arbiter) they asked
      expect(answers.filter(a => a.type !== 'found').map(a => a.type)).to.deep.equal(['wait', 'wait'])
    }
  })

  it('refuses a page that speaks the sync protocol', async () => {
    const intruder = await client()
    const connection = await intruder.dial(multiaddr(set.addrs[0]), { signal: AbortSignal.timeout(5_000) })
    const stream = await connection.newStream(RELAY_SYNC_PROTOCOL, { signal: AbortSignal.timeout(5_000) }).catch(err => err)
    if (!(stream instanceof Error)) {
      await waitFor(() => stream.status !== 'open', 5_000, 'the relay to reset the stream')
    }
    expect(set.relays[0].stats().linkedRelays).to.equal(2)
  })

  it('forgets a stopped relay\'s members and relearns them when it restarts', async () => {
    const namespace = 'https://restart.example'
    const member = await client()
    await ask(member, 2, namespace, true)
    await waitFor(() => set.relays[0].registry.members(namespace).length === 1, 10_000, 'relay 0 to learn the member of relay 2')
    const stoppedPeer = set.relays[2].node.peerId
    await set.stop(2)
    await waitFor(() => set.relays[0].registry.members(namespace).length === 0, 10_000, 'relay 0 to forget the members of the stopped relay')
    await waitFor(() => member.getConnections(stoppedPeer).length === 0, 10_000, 'the page to see its relay go')
    expect(set.relays[0].stats().linkedRelays).to.equal(1)

    await set.restart(2)
    await waitForLinks(set)
    // the page reconnects and registers again (what a page's ringcdn service does on a new relay connection)
    await ask(member, 2, namespace, true)
    await waitFor(() => set.relays[0].registry.members(namespace).length === 1, 10_000, 'relay 0 to relearn the member of the restarted relay')
  })
})
