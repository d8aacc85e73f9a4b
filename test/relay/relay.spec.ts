/**
 * A real relay on 127.0.0.1 and Node pages that know only its multiaddr:
 * they reserve a relay slot, learn ring members from the bootstrap protocol,
 * dial each other over WebRTC and form one ring per namespace.
 */
import { generateKeyPair } from '@libp2p/crypto/keys'
import { multiaddr } from '@multiformats/multiaddr'
import { expect } from 'aegir/chai'
import { createRelay } from '../../relay/relay.ts'
import { waitForRing } from '../libp2p/cdn-fixtures.ts'
import { waitFor } from '../libp2p/fixtures.ts'
import { asCdnNodes, createPage, createPages, hasWebRtcAddress, stopPages, waitForReservations } from './fixtures.ts'
import type { Page } from './fixtures.ts'
import type { Relay } from '../../relay/relay.ts'

// a root hook: runs once, after every test of the run. node-datachannel (WebRTC in Node, used by these
// pages) keeps native threads that hold the process open after every peer connection closed; its
// cleanup() lets the test run end
after(async () => {
  const { cleanup } = await import('node-datachannel')
  cleanup()
})

describe('relay: bootstrap of rings through a relay', function () {
  // eight pages set up WebRTC connections and join at once: slow on 2 busy cores, so generous bounds
  this.timeout(180_000)

  let relay: Relay
  let relayAddr: string
  const all: Page[] = []

  before(async () => {
    relay = await createRelay({ port: 0, httpPort: 0, limits: { inboundConnectionThreshold: 10_000 } })
    relayAddr = relay.multiaddrs[0]
  })

  after(async () => {
    await stopPages(all)
    await relay?.stop()
  })

  it('lists ws addresses ending in its peer id and answers /health', async () => {
    expect(relay.multiaddrs).to.not.be.empty()
    for (const ma of relay.multiaddrs) {
      expect(ma).to.match(/^\/ip4\/127\.0\.0\.1\/tcp\/\d+\/ws\/p2p\/\w+$/)
      expect(ma.endsWith(`/p2p/${relay.peerId}`)).to.be.true()
    }
    const res = await fetch(`${relay.httpUrl}/health`, { signal: AbortSignal.timeout(5_000) })
    expect(res.status).to.equal(200)
    const health = await res.json()
    expect(health).to.include({ status: 'ok', peerId: relay.peerId })
    expect(health).to.have.property('members')
    expect(health).to.have.property('reservations')
  })

  it('turns pages that know only the relay into one correct ring over WebRTC', async () => {
    const namespace = 'https://a.example'
    // the first page founds the ring; the rest arrive together
    const first = await createPages(relayAddr, 1, { namespace })
    all.push(...first)
    const rest = await createPages(relayAddr, 7, { namespace })
    all.push(...rest)
    const pages = [...first, ...rest]
    // generous: 8 WebRTC set-ups per page on 2 busy cores
    await waitForRing(asCdnNodes(pages), 60_000)
    await waitForReservations(pages)

    // every page is listed with its WebRTC address, and holds a reservation
    await waitFor(() => relay.registry.members(namespace).length === pages.length, 10_000, 'every page to register')
    const listed = relay.registry.members(namespace)
    expect(listed.map(m => m.peer).sort()).to.deep.equal(pages.map(p => p.peerId.toString()).sort())
    for (const member of listed) {
      expect(member.addrs.length).to.be.greaterThan(0)
    }
    expect(relay.stats().reservations).to.be.at.least(pages.length)

    // ring traffic runs on direct WebRTC connections, never on the limited relayed ones
    const page = pages[0]
    const successor = page.services.cdn.getRing().successors[0].peer
    const connections = page.getConnections().filter(c => c.remotePeer.toString() === successor && c.status === 'open')
    expect(connections.some(c => c.limits == null && c.remoteAddr.toString().includes('/webrtc'))).to.be.true()
  })

  it('keeps namespaces apart', async () => {
    const namespace = 'https://b.example'
    const pages = await createPages(relayAddr, 3, { namespace })
    all.push(...pages)
    await waitForRing(asCdnNodes(pages), 60_000)
    const ids = new Set(pages.map(p => p.peerId.toString()))
    for (const page of pages) {
      const view = page.services.cdn.getRing()
      expect(view.namespace).to.equal(namespace)
      for (const peer of [view.predecessor, ...view.successors, ...view.fingers]) {
        if (peer != null) {
          expect(ids.has(peer.peer), `${peer.peer} is not of ${namespace}`).to.be.true()
        }
      }
    }
    await waitFor(() => relay.registry.members(namespace).length === 3, 10_000, 'the b pages to register')
    expect(relay.registry.members(namespace).every(m => ids.has(m.peer))).to.be.true()
    expect(relay.registry.members('https://a.example').some(m => ids.has(m.peer))).to.be.false()
  })

  it('drops a member when its connection to the relay closes', async () => {
    const namespace = 'https://c.example'
    const [page] = await createPages(relayAddr, 1, { namespace })
    await waitFor(() => relay.registry.members(namespace).length === 1, 10_000, 'the page to register')
    const reservations = relay.stats().reservations
    await page.stop()
    await waitFor(() => relay.registry.members(namespace).length === 0, 10_000, 'the relay to drop the page')
    expect(relay.stats().namespaces).to.equal(2)
    // its relay slot is free again at once, not after the reservation's TTL
    await waitFor(() => relay.stats().reservations === reservations - 1, 10_000, 'the reservation to go')
  })

  it('lets pages that arrive at once found exactly one ring', async () => {
    const namespace = 'https://race.example'
    const before = relay.stats()
    const pages = await Promise.all(Array.from({ length: 5 }, async () => createPage(relayAddr, { namespace })))
    all.push(...pages)
    await Promise.all(pages.map(async page => page.services.cdn.whenJoined({ signal: AbortSignal.timeout(30_000) })))
    // one ring: every successor and predecessor is the true one over all five
    await waitForRing(asCdnNodes(pages), 60_000)
    await waitFor(() => relay.registry.members(namespace).length === 5, 10_000, 'every racer to register')
    // the relay told exactly one of them to found the ring
    expect(relay.stats().founded - before.founded).to.equal(1)
    expect(relay.stats().registrations - before.registrations).to.be.at.least(5)
    expect(pages.every(hasWebRtcAddress)).to.be.true()
  })

  it('refuses an identity that is not an Ed25519 key, which pages could not verify, with UnsupportedKeyTypeError', async () => {
    const key = await generateKeyPair('secp256k1')
    await expect(createRelay({ port: 0, httpPort: 0, identity: key })).to.eventually.be.rejected.with.property('name', 'UnsupportedKeyTypeError')
  })

  it('lists the ring again after a restart: its pages reconnect and register anew', async () => {
    const namespace = 'https://restart.example'
    const identity = await generateKeyPair('Ed25519')
    let restarting: Relay | undefined = await createRelay({ port: 0, httpPort: 0, identity, limits: { inboundConnectionThreshold: 10_000 } })
    const addr = restarting.multiaddrs[0]
    const port = Number(multiaddr(addr).getComponents().find(c => c.name === 'tcp')?.value)
    const pages = await createPages(addr, 3, { namespace })
    all.push(...pages)
    try {
      await waitFor(() => restarting?.registry.members(namespace).length === 3, 20_000, 'the pages to register')
      // a settled ring first: new WebRTC connections need the relay for signalling
      await waitForRing(asCdnNodes(pages), 60_000)

      // same identity and port: the address the pages know stays right
      await restarting.stop()
      restarting = await createRelay({ port, httpPort: 0, identity, limits: { inboundConnectionThreshold: 10_000 } })
      expect(restarting.registry.members(namespace)).to.be.empty()
      await waitFor(() => restarting?.registry.members(namespace).length === 3, 60_000, 'the pages to register with the restarted relay')
      // the ring itself is still the true ring
      await waitForRing(asCdnNodes(pages), 60_000)
    } finally {
      await restarting?.stop()
    }
  })
})
