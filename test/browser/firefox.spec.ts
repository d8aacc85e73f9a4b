/**
 * ringcdn across browsers: a page in Firefox (Debian's firefox-esr, driven
 * over WebDriver BiDi by firefox.ts) and a page in Chromium (playwright-core)
 * join one ring through the relay and hand each other assets over a direct
 * WebRTC connection, verified against SRI digests, the origin serving each
 * asset once. Same world as e2e.spec.ts: relay, origin and pages on loopback,
 * the pages running the shipped bundle.
 *
 * Skips, saying why, only when Firefox is not installed (`.ci/run` installs
 * it). Every wait has a deadline; only WebRTC set-up is retried.
 */
import { expect } from 'aegir/chai'
import { bytesOf, sha256Base64, sri } from '../fixtures/origin-server.ts'
import { launchChromium } from './chromium.ts'
import { ASSETS, E2ePage, startWorld, waitForRing } from './e2e-harness.ts'
import { FIREFOX_PATH, firefoxInstalled, launchFirefox } from './firefox.ts'
import type { TestPage } from './chromium.ts'
import type { E2eWorld } from './e2e-harness.ts'
import type { FirefoxBrowser } from './firefox.ts'
import type { Browser } from 'playwright-core'

/** Bound on a page joining the ring, ms */
const JOIN_MS = 30_000
/** Bound on the two pages' ring views agreeing, ms (several 5 s stabilize rounds on busy cores) */
const RING_MS = 60_000
/** Bound on a fetch in the page, ms */
const FETCH_MS = 20_000

function hexOf (bytes: Uint8Array): string {
  return Buffer.from(sha256Base64(bytes), 'base64').toString('hex')
}

describe('ringcdn across Firefox and Chromium (end to end)', function () {
  this.timeout(120_000)

  let world: E2eWorld | undefined
  let chromium: Browser | undefined
  let firefox: FirefoxBrowser | undefined
  let fromFirefox: E2ePage
  let fromChromium: E2ePage
  const assetA = bytesOf(400_000, 21)
  const assetB = bytesOf(250_000, 22)

  async function start (page: E2ePage): Promise<void> {
    // home copies off: each asset should come from the page that fetched it, not from a copy its home node made
    const started = await page.start({ relay: world?.relay.multiaddrs ?? [], init: { homeCopies: false } })
    expect(started.peerToPeer, 'WebRTC in the page').to.equal(true)
    await page.whenJoined(JOIN_MS)
  }

  before(async function () {
    if (!firefoxInstalled()) {
      // eslint-disable-next-line no-console
      console.warn(`    skipped: Firefox is not installed at ${FIREFOX_PATH} (apt-get install -y --no-install-recommends firefox-esr, or set FIREFOX_PATH)`)
      this.skip()
    }
    world = await startWorld()
    world.origin.set(`${ASSETS}a.bin`, { body: assetA })
    world.origin.set(`${ASSETS}b.bin`, { body: assetB })
    ;[chromium, firefox] = await Promise.all([launchChromium(), launchFirefox()])
  })

  after(async function () {
    await Promise.all([fromFirefox?.close(), fromChromium?.close()])
    await Promise.all([chromium?.close().catch(() => {}), firefox?.close()])
    await world?.close()
  })

  it('a Firefox page and a Chromium page form one ring', async function () {
    if (world == null || chromium == null || firefox == null) {
      throw new Error('world not started')
    }
    fromChromium = await E2ePage.open(chromium, world)
    // the harness's page type, minus playwright's `page` handle, which the end-to-end calls do not use
    fromFirefox = new E2ePage(await firefox.openPage(world.server.url, { debug: process.env.RINGCDN_E2E_DEBUG }) as unknown as TestPage)
    const agent = await fromFirefox.test.evaluate(() => [navigator.userAgent, document.visibilityState], undefined)
    expect(agent[0], 'the Firefox page runs in Firefox').to.match(/Firefox\/\d+/)
    // a hidden page serves one upload at a time (uploadPolicy 'auto', hiddenUploads 1), which the
    // hand-overs below would still pass; the test tab is the visible one so they test a page as it serves in front
    expect(agent[1]).to.equal('visible')

    await start(fromChromium)
    await start(fromFirefox)
    const views = await waitForRing([fromChromium, fromFirefox], RING_MS)
    expect(views.map(v => v.self?.peer)).to.have.members([fromChromium.peerId, fromFirefox.peerId])
  })

  /** `holder` fetches `name` from the origin; `getter` then gets it from `holder` over WebRTC */
  async function handOver (holder: E2ePage, getter: E2ePage, asset: Uint8Array, name: string): Promise<void> {
    const url = `${ASSETS}${name}`
    const first = await holder.fetch(url, sri(asset), FETCH_MS)
    expect(first).to.include({ status: 200, source: 'origin', bytes: asset.byteLength, sha256: hexOf(asset) })
    await getter.waitForHolder(url, holder)

    await getter.connectTo(holder)
    const got = await getter.fetch(url, sri(asset), FETCH_MS)
    expect(got).to.include({ status: 200, source: 'peer', bytes: asset.byteLength, sha256: hexOf(asset), peer: holder.peerId })
    // the bytes came over a direct, unlimited WebRTC connection, not through the relay
    const connections = await getter.connections(holder.peerId)
    expect(connections.filter(c => !c.limited && c.remoteAddr.includes('/webrtc') && c.status === 'open')).to.not.be.empty()
    expect(world?.origin.count(url)).to.equal(1)
    expect(await getter.integrityFailures()).to.deep.equal([])
  }

  it('Firefox gets an asset Chromium fetched, over a direct WebRTC connection, verified', async function () {
    await handOver(fromChromium, fromFirefox, assetA, 'a.bin')
  })

  it('Chromium gets an asset Firefox fetched, over a direct WebRTC connection, verified', async function () {
    await handOver(fromFirefox, fromChromium, assetB, 'b.bin')
  })
})
