/**
 * Ring ids bound to peer ids: a node cannot choose its ring position, so it
 * cannot sit at an asset's key and capture its lookups.
 */
import { generateKeyPair } from '@libp2p/crypto/keys'
import { peerIdFromPrivateKey, peerIdFromString } from '@libp2p/peer-id'
import { multiaddr } from '@multiformats/multiaddr'
import { expect } from 'aegir/chai'
import { keyForUrl, nodeIdFromBytes } from '../../src/keys.ts'
import { libp2pRingIdOf } from '../../src/libp2p/ring-id-binding.ts'
import { mathRandom, wallClock } from '../../src/libp2p/wall-clock.ts'
import { checkRequestIds, checkResponseIds } from '../../src/overlay/id-binding.ts'
import { RingRequest } from '../../src/overlay/messages.ts'
import { compareIds, idToBytes } from '../../src/overlay/ring-id.ts'
import { RingNode } from '../../src/overlay/ring-node.ts'
import { DEFAULT_NAMESPACE } from '../../src/ring-cdn.ts'
import { createRing, FAST_RING, rawRingRpc, stopAll, trueSuccessor, waitForRing } from './cdn-fixtures.ts'
import { createNode, DIAL_TIMEOUT } from './fixtures.ts'
import type { CdnNode } from './cdn-fixtures.ts'
import type { Peer } from '../../src/overlay/seams.ts'
import type { Libp2p } from '@libp2p/interface'

async function randomPeerId (): Promise<string> {
  return peerIdFromPrivateKey(await generateKeyPair('Ed25519')).toString()
}

describe('ring ids bound to peer ids', () => {
  describe('checking peer records', () => {
    it('accepts a peer whose ring id is the hash of its peer id', async () => {
      const address = await randomPeerId()
      const idOf = libp2pRingIdOf()
      const id = idToBytes(nodeIdFromBytes(peerIdFromString(address).toMultihash().bytes))
      expect(() => { checkRequestIds({ type: RingRequest.Type.STABILIZE, namespace: 'n', stabilize: { sender: { id, address, hints: [] }, wantFingers: false } }, idOf) }).to.not.throw()
      expect(() => { checkResponseIds({ error: 0, message: '', stabilize: { successors: [{ id, address, hints: [] }], fingers: [] } }, idOf) }).to.not.throw()
    })

    it('refuses a peer that claims a ring id of its choosing, wherever the record stands', async () => {
      const address = await randomPeerId()
      const chosen = { id: idToBytes(keyForUrl('https://site.example/app.js')), address, hints: [] }
      const idOf = libp2pRingIdOf()
      expect(() => { checkRequestIds({ type: RingRequest.Type.ROUTE, namespace: 'n', route: { key: chosen.id, hopsLeft: 1, budgetMs: 1, hops: 0, final: false, maintenance: true, origin: chosen, avoid: [] } }, idOf) })
        .to.throw().with.property('name', 'UnboundRingIdError')
      expect(() => { checkRequestIds({ type: RingRequest.Type.LEAVE, namespace: 'n', leave: { sender: chosen, successors: [] } }, idOf) })
        .to.throw().with.property('name', 'UnboundRingIdError')
      expect(() => { checkResponseIds({ error: 0, message: '', route: { owner: chosen, hops: 1 } }, idOf) })
        .to.throw().with.property('name', 'UnboundRingIdError')
      expect(() => { checkResponseIds({ error: 0, message: '', stabilize: { successors: [], fingers: [chosen] } }, idOf) })
        .to.throw().with.property('name', 'UnboundRingIdError')
    })

    it('refuses a peer whose address is no peer id', () => {
      const idOf = libp2pRingIdOf()
      const peer = { id: new Uint8Array(32), address: 'not-a-peer-id', hints: [] }
      expect(() => { checkResponseIds({ error: 0, message: '', stabilize: { predecessor: peer, successors: [], fingers: [] } }, idOf) })
        .to.throw().with.property('name', 'UnboundRingIdError')
    })
  })

  describe('a node that places itself at an asset key', function () {
    this.timeout(120_000)
    let honest: CdnNode[] = []
    let attacker: Libp2p | undefined
    let attackerRing: RingNode | undefined

    afterEach(async () => {
      attackerRing?.stop()
      await attacker?.stop()
      await stopAll(honest)
      honest = []
    })

    it('never becomes the key\'s home: honest lookups of the key reach its true successor', async () => {
      honest = await createRing(6)
      await waitForRing(honest)
      const url = 'https://site.example/js/app.js'
      const key = keyForUrl(url)

      // the attacker speaks the ring protocol with the plain codec and a RingNode at id = key
      attacker = await createNode('memory')
      const rpc = await rawRingRpc(attacker, { handlerTimeout: 3_000 })
      const self: Peer = { id: key, address: attacker.peerId.toString() }
      attackerRing = new RingNode({ clock: wallClock, random: mathRandom, rpc }, { ...FAST_RING, self, namespace: DEFAULT_NAMESPACE })
      const contacts = honest.slice(0, 3)
      // connected to every member, so that none is out of its reach
      for (const node of honest) {
        await attacker.dial(multiaddr(node.getMultiaddrs()[0].toString()), { signal: AbortSignal.timeout(DIAL_TIMEOUT) })
      }
      // it does everything a joiner does, and tries again when a join fails for reasons of its own (a
      // concurrent stabilize moving its successor); each attempt is bounded by the ring's lookup deadline
      for (let attempt = 0; attempt < 5 && !attackerRing.joined; attempt++) {
        await attackerRing.join(contacts.map(n => n.peerId.toString()), { signal: AbortSignal.timeout(30_000) }).catch(() => {})
      }
      for (let round = 0; round < 3; round++) {
        await attackerRing.stabilize({ signal: AbortSignal.timeout(10_000) }).catch(() => {})
      }

      const attackerAddress = attacker.peerId.toString()
      for (const node of honest) {
        const ring = node.services.cdn.ring
        const known = [ring?.predecessor, ...(ring?.successors ?? []), ...(ring?.fingers.map(f => f.peer) ?? [])]
        expect(known.map(p => p?.address), `routing state of ${node.peerId.toString()}`).to.not.include(attackerAddress)
      }
      const home = trueHome(honest, key)
      for (const node of honest) {
        const located = await node.services.cdn.locate(url, { signal: AbortSignal.timeout(10_000) })
        expect(located.home).to.equal(home.peerId.toString())
      }

      // the decisive message, sent directly: "I am your predecessor, at the key". Unchecked, the home
      // takes it at once (the key lies between its predecessor and itself) and hands the key over
      const predecessorBefore = home.services.cdn.ring?.predecessor?.address
      const claim = rpc.request(home.peerId.toString(), {
        type: RingRequest.Type.STABILIZE,
        namespace: DEFAULT_NAMESPACE,
        stabilize: { sender: { id: idToBytes(key), address: attackerAddress, hints: [] }, wantFingers: false }
      }, { timeout: 10_000 })
      // a request that breaks the protocol is not answered: its stream is reset
      await expect(claim).to.eventually.be.rejected()
      expect(home.services.cdn.ring?.predecessor?.address).to.equal(predecessorBefore).and.to.not.equal(attackerAddress)
    })
  })
})

/** The honest node that owns `key` */
function trueHome (nodes: CdnNode[], key: bigint): CdnNode {
  const truth = trueSuccessor(nodes.map(n => n.services.cdn.nodeId as bigint).sort(compareIds), key)
  const home = nodes.find(n => n.services.cdn.nodeId === truth)
  if (home == null) {
    throw new Error('no node owns the key')
  }
  return home
}
