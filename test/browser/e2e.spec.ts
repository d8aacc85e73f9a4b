/**
 * ringcdn end to end in real Chromium: a relay, an HTTP origin and pages in
 * two browser processes, all on loopback, the pages running the shipped
 * bundle (`dist/browser/ringcdn.js` as built by `npm run build:browser`).
 *
 * One world for the whole file (starting browsers and forming a ring is the
 * expensive part); the tests run in order and build on each other: the ring
 * forms, assets spread from page to page, a page closes, a page lies, a page
 * reloads. Every wait has a deadline; only WebRTC set-up is retried.
 */
import { expect } from 'aegir/chai'
import { bytesOf, sha256Base64, sri } from '../fixtures/origin-server.ts'
import { launchChromium } from './chromium.ts'
import { ASSETS, E2ePage, startWorld, waitFor, waitForRing } from './e2e-harness.ts'
import type { E2eWorld } from './e2e-harness.ts'
import type { Browser } from 'playwright-core'

/** Bound on a page joining the ring, ms */
const JOIN_MS = 30_000
/**
 * Bound on the ring views agreeing with the true ring, ms: twelve stabilize rounds (5 s each). Three
 * pages joining at once sometimes need more than six when every WebRTC connection is set up on two
 * busy cores
 */
const RING_MS = 60_000
/** Bound on a fetch in the page, ms */
const FETCH_MS = 20_000

function hexOf (bytes: Uint8Array): string {
  return Buffer.from(sha256Base64(bytes), 'base64').toString('hex')
}

describe('ringcdn in Chromium (end to end)', function () {
  this.timeout(120_000)

  let world: E2eWorld
  let browsers: Browser[] = []
  const pages: E2ePage[] = []
  const assetA = bytesOf(300_000, 11)
  const assetB = bytesOf(200_000, 12)
  const assetC = bytesOf(100_000, 13)
  const assetD = bytesOf(150_000, 14)

  async function startPage (browser: Browser, options: { store?: 'memory' | 'indexeddb', liar?: boolean } = {}): Promise<E2ePage> {
    const page = await E2ePage.open(browser, world)
    // these tests follow each asset page by page (who fetched it, who serves it); a home node copying an
    // asset it never asked for would move that, so home copies are off here (test/libp2p/ring-cdn.spec.ts
    // tests them, and the demo tests run with them on)
    const started = await page.start({ relay: world.relay.multiaddrs, ...options, init: { homeCopies: false } })
    expect(started.peerToPeer).to.equal(true)
    await page.whenJoined(JOIN_MS)
    return page
  }

  before(async function () {
    world = await startWorld()
    world.origin.set(`${ASSETS}a.bin`, { body: assetA })
    world.origin.set(`${ASSETS}b.bin`, { body: assetB })
    world.origin.set(`${ASSETS}c.bin`, { body: assetC })
    world.origin.set(`${ASSETS}d.bin`, { body: assetD })
    browsers = await Promise.all([launchChromium(), launchChromium()])
  })

  after(async function () {
    await Promise.all(pages.map(async p => p.close()))
    await Promise.all(browsers.map(async b => b.close().catch(() => {})))
    await world?.close()
  })

  it('forms a ring of four pages in two browsers that every page sees correctly', async function () {
    // the first founds the ring; the others join it through the relay's member list, at once
    pages.push(await startPage(browsers[0]))
    pages.push(...await Promise.all([browsers[1], browsers[0], browsers[1]].map(async b => startPage(b))))
    const views = await waitForRing(pages, RING_MS)
    expect(views.map(v => v.self?.peer)).to.have.members(pages.map(p => p.peerId))
    expect(world.relay.stats().members).to.equal(4)
  })

  it('serves an asset fetched once from the origin to later pages over direct WebRTC connections', async function () {
    const url = `${ASSETS}a.bin`
    const first = await pages[0].fetch(url, sri(assetA), FETCH_MS)
    expect(first).to.include({ status: 200, source: 'origin', bytes: assetA.byteLength, sha256: hexOf(assetA) })
    await pages[2].waitForHolder(url, pages[0])

    for (const page of [pages[2], pages[1]]) {
      await page.connectTo(pages[0])
      const got = await page.fetch(url, sri(assetA), FETCH_MS)
      expect(got).to.include({ status: 200, source: 'peer', bytes: assetA.byteLength, sha256: hexOf(assetA) })
      expect(got.peer).to.be.a('string')
      // the bytes came over a direct, unlimited WebRTC connection, not through the relay
      const connections = await page.connections(got.peer)
      expect(connections.filter(c => !c.limited && c.remoteAddr.includes('/webrtc') && c.status === 'open')).to.not.be.empty()
      expect(connections.filter(c => !c.limited).every(c => c.remoteAddr.includes('/webrtc'))).to.equal(true)
    }

    // three pages have it, the origin sent it once
    expect(world.origin.count(url)).to.equal(1)
    const stats = await pages[1].stats()
    expect(stats.fromPeers).to.equal(1)
    expect(stats.bytesFromPeers).to.equal(assetA.byteLength)
  })

  it('reconnects to the relay after losing the connection, and gets its WebRTC address back', async function () {
    const page = pages[3]
    const before = (await page.connections(world.relay.peerId)).map(c => c.id)
    expect(before).to.have.lengthOf(1)
    await page.hangUp(world.relay.peerId)
    // a new connection (not the one closed), and a new reservation: the page is reachable again
    await waitFor(async () => (await page.connections(world.relay.peerId)).some(c => c.status === 'open' && !c.limited && !before.includes(c.id)) || undefined, 15_000, 'relay reconnected')
    await waitFor(async () => (await page.webrtcAddrs()).length > 0 || undefined, 15_000, 'WebRTC address back')
    // and other pages reach it through the relay again
    const url = `${ASSETS}a.bin`
    const got = await page.fetch(url, sri(assetA), FETCH_MS)
    expect(got).to.include({ status: 200, sha256: hexOf(assetA) })
    await pages[2].waitForHolder(url, page)
  })

  it('keeps serving the other pages when a page closes', async function () {
    const closing = pages.shift() as E2ePage
    await closing.close()

    const url = `${ASSETS}a.bin`
    const got = await pages[2].fetch(url, sri(assetA), FETCH_MS)
    expect(got).to.include({ status: 200, bytes: assetA.byteLength, sha256: hexOf(assetA) })
    // the closed page was one holder of three: the others still serve it
    expect(got.source).to.be.oneOf(['peer', 'local'])

    // a new asset still travels page to page once the ring has repaired itself
    await waitForRing(pages, RING_MS)
    const b = `${ASSETS}b.bin`
    expect(await pages[0].fetch(b, sri(assetB), FETCH_MS)).to.include({ status: 200, source: 'origin', sha256: hexOf(assetB) })
    await pages[1].waitForHolder(b, pages[0])
    expect(await pages[1].fetch(b, sri(assetB), FETCH_MS)).to.include({ status: 200, source: 'peer', sha256: hexOf(assetB) })
    expect(world.origin.count(b)).to.equal(1)
  })

  it('rejects bytes from a page whose store serves wrong bytes, and gets the asset from the origin', async function () {
    const liar = await startPage(browsers[1], { liar: true })
    pages.push(liar)
    await waitForRing(pages, RING_MS)

    const url = `${ASSETS}c.bin`
    expect(await liar.fetch(url, sri(assetC), FETCH_MS)).to.include({ status: 200, source: 'origin', sha256: hexOf(assetC) })
    await liar.lie(true)

    const victim = pages[0]
    await victim.waitForHolder(url, liar)
    expect(await victim.connectTo(liar)).to.include('/webrtc')
    const before = await victim.stats()
    const got = await victim.fetch(url, sri(assetC), FETCH_MS)
    const stats = await victim.stats()
    // what this fetch's lookup found and why each holder it tried did not deliver: a failing run says
    // what went wrong instead of a digest mismatch
    const href = new URL(url, world.server.url).href
    const why = JSON.stringify({
      lookups: (await victim.lookups()).filter(l => l.url === href),
      holderFailures: (await victim.holderFailures()).filter(f => f.url === href),
      stats
    })
    // the liar was tried by this fetch, not just some holder by an earlier one
    expect(stats.holderFailures - before.holderFailures, why).to.be.greaterThan(0)
    expect(got).to.include({ status: 200, source: 'origin', bytes: assetC.byteLength, sha256: hexOf(assetC) })
    const failures = await victim.integrityFailures()
    expect(failures.map(f => ({ peer: f.peer, source: f.source })), why).to.deep.include({ peer: liar.peerId, source: 'peer' })
    expect(world.origin.count(url)).to.equal(2)
  })

  it('keeps assets in IndexedDB across a reload', async function () {
    const page = await startPage(browsers[0], { store: 'indexeddb' })
    const url = `${ASSETS}d.bin`
    expect(await page.fetch(url, sri(assetD), FETCH_MS)).to.include({ status: 200, source: 'origin', sha256: hexOf(assetD) })
    await page.stop()

    await page.test.reload()
    await page.start({ relay: world.relay.multiaddrs, store: 'indexeddb' })
    const again = await page.fetch(url, sri(assetD), FETCH_MS)
    expect(again).to.include({ status: 200, source: 'local', bytes: assetD.byteLength, sha256: hexOf(assetD) })
    expect(world.origin.count(url)).to.equal(1)
    await page.stop()
    await page.close()
  })

  it('fetches from the origin in a browser without WebRTC', async function () {
    const page = await E2ePage.open(browsers[0], world)
    try {
      await page.test.page.addInitScript(() => {
        delete (globalThis as any).RTCPeerConnection
      })
      await page.test.reload()
      const started = await page.start({ relay: world.relay.multiaddrs })
      expect(started.peerToPeer).to.equal(false)
      expect(started.peerId).to.equal(undefined)

      const url = `${ASSETS}a.bin`
      const before = world.origin.count(url)
      expect(await page.fetch(url, sri(assetA), FETCH_MS)).to.include({ status: 200, source: 'origin', sha256: hexOf(assetA) })
      expect(world.origin.count(url)).to.equal(before + 1)
      // the browser itself enforces the digest on this path
      const bad = await page.fetch(url, sri(assetB), FETCH_MS)
      expect(bad.error).to.be.a('string')
    } finally {
      await page.close()
    }
  })
})
