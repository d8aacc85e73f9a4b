/**
 * The demo site (`npm start`) in Firefox, in service-worker mode: a Chromium
 * tab loads every asset from the origin, then a Firefox tab loads the same
 * page, whose plain `fetch()`es its service worker hands to the tab's
 * ringcdn node, and gets assets from the Chromium tab over WebRTC, verified
 * against the manifest. Firefox is driven over WebDriver BiDi (firefox.ts).
 *
 * Skips, saying why, only when Firefox is not installed (`.ci/run` installs
 * it). Every wait has a deadline.
 */
import { expect } from 'aegir/chai'
import { startDemo } from '../../demo/server.ts'
import { launchChromium, openPage } from './chromium.ts'
import { FIREFOX_PATH, firefoxInstalled, launchFirefox } from './firefox.ts'
import type { TestPage } from './chromium.ts'
import type { FirefoxBrowser, FirefoxPage } from './firefox.ts'
import type { AssetState } from '../../demo/app.ts'
import type { Demo } from '../../demo/server.ts'
import type { Browser } from 'playwright-core'

/** Bound on one tab loading every asset (joining the ring included), ms */
const LOAD_MS = 60_000

interface TabState {
  peerId?: string
  joinError?: string
  assets: AssetState[]
  bytesFromPeers: number
  bytesFromOrigin: number
  viaServiceWorker: boolean
  userAgent: string
}

/** Polls the demo page until it has loaded every asset, then reads what it shows */
async function loaded (tab: Pick<TestPage | FirefoxPage, 'evaluate' | 'logs'>, what: string): Promise<TabState> {
  const deadline = Date.now() + LOAD_MS
  while (await tab.evaluate(() => (globalThis as any).ringcdnDemo?.done === true, undefined) !== true) {
    if (Date.now() > deadline) {
      throw new Error(`${what}: the demo page did not load its assets within ${LOAD_MS} ms\n--- page log ---\n${tab.logs.slice(-30).join('\n')}`)
    }
    await new Promise(resolve => setTimeout(resolve, 250))
  }
  return tab.evaluate(() => {
    const demo = (globalThis as any).ringcdnDemo
    const stats = demo.cdn?.getStats()
    return {
      peerId: demo.peerId,
      joinError: demo.joinError,
      assets: Object.values(demo.assets) as AssetState[],
      bytesFromPeers: stats?.bytesFromPeers ?? 0,
      bytesFromOrigin: stats?.bytesFromOrigin ?? 0,
      viaServiceWorker: demo.viaServiceWorker === true,
      userAgent: navigator.userAgent
    }
  }, undefined)
}

function assetReport (state: TabState): string {
  return state.assets.map(a => `${a.path}: ${a.status} ${a.source ?? ''} in ${a.ms ?? '?'} ms${a.ringMiss != null ? ` (ring: ${a.ringMiss})` : ''}${a.holderFailures != null ? ` (holders: ${a.holderFailures.join('; ')})` : ''}`).join('\n')
}

describe('demo site in Firefox, service-worker mode, beside Chromium', function () {
  this.timeout(150_000)

  let demo: Demo | undefined
  let chromium: Browser | undefined
  let firefox: FirefoxBrowser | undefined
  const tabs: Array<{ close(): Promise<void> }> = []

  before(async function () {
    if (!firefoxInstalled()) {
      // eslint-disable-next-line no-console
      console.warn(`    skipped: Firefox is not installed at ${FIREFOX_PATH} (apt-get install -y --no-install-recommends firefox-esr, or set FIREFOX_PATH)`)
      this.skip()
    }
    demo = await startDemo({ port: 0, relayPort: 0 })
    ;[chromium, firefox] = await Promise.all([launchChromium(), launchFirefox()])
  })

  after(async function () {
    await Promise.all(tabs.map(async t => t.close().catch(() => {})))
    await Promise.all([chromium?.close().catch(() => {}), firefox?.close()])
    await demo?.stop()
  })

  it('a Firefox tab loads the site through its service worker, with assets from a Chromium tab over WebRTC', async function () {
    if (demo == null || chromium == null || firefox == null) {
      throw new Error('world not started')
    }
    const siteBytes = demo.assets.reduce((sum, a) => sum + a.body.byteLength, 0)
    const first = await openPage(chromium, demo.url)
    tabs.push(first)
    const seeded = await loaded(first, 'Chromium tab')
    expect(seeded.assets.every(a => a.status === 'done' && a.source === 'origin'), assetReport(seeded)).to.equal(true)

    const tab = await firefox.openPage(demo.url)
    tabs.push(tab)
    const state = await loaded(tab, 'Firefox tab')
    const report = assetReport(state)
    expect(state.userAgent).to.match(/Firefox\/\d+/)
    expect(state.joinError, report).to.be.undefined()
    expect(state.assets.every(a => a.status === 'done'), report).to.equal(true)
    // the page asked with plain fetch(); Firefox's service worker handed each request to the tab's node
    expect(state.viaServiceWorker, 'assets loaded through the service worker').to.equal(true)
    // every byte came from the Chromium tab or the origin. Which of the two sent an asset is a race
    // (the origin is brought in beside a peer that takes longer than it would, and an origin on
    // loopback is fast), so the split depends on the machine's load: `npm run bench:browser`
    // measures it. Here: the Chromium tab sent some of the assets, each counted once
    expect(state.bytesFromPeers + state.bytesFromOrigin).to.equal(siteBytes)
    const fromPeers = state.assets.filter(a => a.source === 'peer')
    expect(fromPeers.length, report).to.be.greaterThan(0)
    expect(fromPeers.map(a => a.peer), report).to.deep.equal(fromPeers.map(() => seeded.peerId))
    expect(fromPeers.reduce((n, a) => n + a.size, 0), report).to.equal(state.bytesFromPeers)
  })
})
