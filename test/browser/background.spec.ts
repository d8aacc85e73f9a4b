/**
 * Background tabs in real Chromium: a hidden page keeps serving within its
 * background budget (`uploadPolicyOptions.hiddenUploads`, 1 upload at once
 * by default), and with a budget of 0 it refuses, so the asset comes from the
 * origin. Relay, origin and pages on loopback, the pages running the shipped
 * bundle.
 *
 * Headless Chromium keeps every page visible, and the DevTools protocol has
 * no command that sets a page's visibility: the page is made to report itself
 * hidden (`document.visibilityState`, `document.hidden`, a `visibilitychange`
 * event; see `emulateVisibility` in e2e.page.ts), which is exactly what the
 * upload policy reads. The browser's timer throttling of hidden pages is not
 * emulated (README, "Background tabs").
 */
import { expect } from 'aegir/chai'
import { bytesOf, sha256Base64, sri } from '../fixtures/origin-server.ts'
import { launchChromium } from './chromium.ts'
import { ASSETS, E2ePage, startWorld, waitFor } from './e2e-harness.ts'
import type { E2eWorld } from './e2e-harness.ts'
import type { Browser } from 'playwright-core'

/** Bound on a page joining the ring, ms */
const JOIN_MS = 30_000
/** Bound on a fetch in the page, ms */
const FETCH_MS = 20_000

function hexOf (bytes: Uint8Array): string {
  return Buffer.from(sha256Base64(bytes), 'base64').toString('hex')
}

describe('background tabs in Chromium (end to end)', function () {
  this.timeout(120_000)

  let world: E2eWorld
  let browser: Browser
  const pages: E2ePage[] = []
  let holder: E2ePage
  let pausedHolder: E2ePage
  let getter: E2ePage
  const served = bytesOf(200_000, 21)
  const refused = bytesOf(100_000, 22)

  async function startPage (init: Record<string, unknown> = {}): Promise<E2ePage> {
    const page = await E2ePage.open(browser, world)
    pages.push(page)
    // no home copies: the test follows who holds each asset, and a home node's copy would be one more holder
    const started = await page.start({ relay: world.relay.multiaddrs, init: { homeCopies: false, ...init } })
    expect(started.peerToPeer).to.equal(true)
    await page.whenJoined(JOIN_MS)
    return page
  }

  before(async function () {
    world = await startWorld()
    world.origin.set(`${ASSETS}served.bin`, { body: served })
    world.origin.set(`${ASSETS}refused.bin`, { body: refused })
    browser = await launchChromium()
    holder = await startPage()
    pausedHolder = await startPage({ uploadPolicyOptions: { hiddenUploads: 0 } })
    getter = await startPage()
  })

  after(async function () {
    await Promise.all(pages.map(async p => p.close()))
    await browser?.close().catch(() => {})
    await world?.close()
  })

  /** `page` fetches `name` from the origin, then is hidden; the getter waits until the ring lists it as a holder */
  async function holdThenHide (page: E2ePage, name: string, asset: Uint8Array): Promise<string> {
    const url = `${ASSETS}${name}`
    const first = await page.fetch(url, sri(asset), FETCH_MS)
    expect(first).to.include({ status: 200, source: 'origin', sha256: hexOf(asset) })
    expect(await page.emulateVisibility('hidden')).to.equal('hidden')
    await getter.waitForHolder(url, page)
    await getter.connectTo(page)
    return url
  }

  it('a hidden page serves within its background budget: the other page gets the asset from it', async function () {
    const url = await holdThenHide(holder, 'served.bin', served)
    expect(await holder.uploadState()).to.deep.equal({ upload: true, maxUploads: 1 })

    const got = await getter.fetch(url, sri(served), FETCH_MS)
    expect(got).to.include({ status: 200, source: 'peer', bytes: served.byteLength, sha256: hexOf(served), peer: holder.peerId })
    expect(world.origin.count(url)).to.equal(1)
    // the holder counts the upload once both ends have closed the stream
    await waitFor(async () => (await holder.stats()).uploads === 1, 5_000, 'the hidden holder to count its upload')
  })

  it('a hidden page with a budget of 0 refuses: the other page gets the asset from the origin', async function () {
    const url = await holdThenHide(pausedHolder, 'refused.bin', refused)
    expect(await pausedHolder.uploadState()).to.deep.equal({ upload: false, reason: 'hidden' })

    const got = await getter.fetch(url, sri(refused), FETCH_MS)
    expect(got).to.include({ status: 200, source: 'origin', bytes: refused.byteLength, sha256: hexOf(refused) })
    expect(world.origin.count(url)).to.equal(2)
    // it was asked and said no (not: nobody was listed)
    const failures = (await getter.holderFailures()).filter(f => f.url.endsWith('/refused.bin'))
    expect(failures.map(f => [f.peer, f.error])).to.deep.include([pausedHolder.peerId, 'TransferRefusedError'])
    expect((await pausedHolder.stats()).uploads).to.equal(0)
  })

  it('a hidden page that becomes visible again serves without the budget', async function () {
    expect(await holder.emulateVisibility('visible')).to.equal('visible')
    expect(await holder.uploadState()).to.deep.equal({ upload: true })
    expect(await pausedHolder.emulateVisibility('visible')).to.equal('visible')
    expect(await pausedHolder.uploadState()).to.deep.equal({ upload: true })
  })
})
