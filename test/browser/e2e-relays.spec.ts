/**
 * Many relays, one ring, in real Chromium: two peered relays, pages in two
 * browser processes, each page given a different relay (disjoint relay
 * lists, which used to make separate rings silently). They form one ring,
 * and a page gets an asset from a page on the other relay over a direct
 * WebRTC connection, signalled through the other page's relay.
 */
import { expect } from 'aegir/chai'
import { bytesOf, sha256Base64, sri } from '../fixtures/origin-server.ts'
import { launchChromium } from './chromium.ts'
import { ASSETS, E2ePage, startWorld, waitForRing } from './e2e-harness.ts'
import type { E2eWorld } from './e2e-harness.ts'
import type { Browser } from 'playwright-core'

/** Bound on a page joining the ring, ms */
const JOIN_MS = 30_000
/** Bound on the ring views agreeing with the true ring, ms (default maintenance, two busy cores) */
const RING_MS = 60_000
/** Bound on a fetch in the page, ms */
const FETCH_MS = 20_000

describe('ringcdn in Chromium on two relays (end to end)', function () {
  this.timeout(180_000)

  let world: E2eWorld
  let browsers: Browser[] = []
  const pages: E2ePage[] = []
  const asset = bytesOf(200_000, 21)

  async function startPage (browser: Browser, relay: number): Promise<E2ePage> {
    const page = await E2ePage.open(browser, world)
    const started = await page.start({ relay: [world.relays[relay].multiaddrs[0]], init: { homeCopies: false } })
    expect(started.peerToPeer).to.equal(true)
    await page.whenJoined(JOIN_MS)
    return page
  }

  before(async function () {
    world = await startWorld({ relays: 2 })
    world.origin.set(`${ASSETS}r.bin`, { body: asset })
    browsers = await Promise.all([launchChromium(), launchChromium()])
  })

  after(async function () {
    await Promise.all(pages.map(async p => p.close()))
    await Promise.all(browsers.map(async b => b.close().catch(() => {})))
    await world?.close()
  })

  it('forms one ring of pages that were each given a different relay', async function () {
    pages.push(await startPage(browsers[0], 0))
    pages.push(...await Promise.all([startPage(browsers[1], 1), startPage(browsers[0], 1)]))
    const views = await waitForRing(pages, RING_MS)
    expect(views.map(v => v.self?.peer)).to.have.members(pages.map(p => p.peerId))
    // each relay lists all three: its own pages and its peer's
    expect(world.relays.map(r => r.stats().members)).to.deep.equal([3, 3])
    expect(world.relays.map(r => r.stats().localMembers)).to.deep.equal([1, 2])
    expect(world.relays[0].stats().founded + world.relays[1].stats().founded).to.equal(1)
  })

  it('serves a page on one relay the asset a page on the other relay fetched, over WebRTC', async function () {
    const url = `${ASSETS}r.bin`
    const first = await pages[0].fetch(url, sri(asset), FETCH_MS)
    expect(first).to.include({ status: 200, source: 'origin', bytes: asset.byteLength })
    await pages[1].waitForHolder(url, pages[0])
    await pages[1].connectTo(pages[0])
    const got = await pages[1].fetch(url, sri(asset), FETCH_MS)
    expect(got).to.include({ status: 200, source: 'peer', peer: pages[0].peerId, bytes: asset.byteLength, sha256: Buffer.from(sha256Base64(asset), 'base64').toString('hex') })
    const connections = await pages[1].connections(pages[0].peerId)
    expect(connections.filter(c => !c.limited && c.remoteAddr.includes('/webrtc') && c.status === 'open')).to.not.be.empty()
    expect(world.origin.count(url)).to.equal(1)
  })
})
