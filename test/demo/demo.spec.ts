/**
 * The `npm start` demo, for real: the relay and the demo origin started in
 * process (`startDemo`), the page opened in tabs of two Chromium processes,
 * plus the `npm start` entry as a child process.
 *
 * One demo and one pair of browsers for the page tests (forming a ring is the
 * expensive part); they run in order and build on each other: the first tab
 * loads everything from the origin, later tabs from peers, the ring views
 * converge, then the origin stops serving assets and a new tab still loads
 * everything. Every wait has a deadline.
 */
import { spawn } from 'node:child_process'
import { createHash } from 'node:crypto'
import { mkdir } from 'node:fs/promises'
import { join } from 'node:path'
import { expect } from 'aegir/chai'
import { startDemo } from '../../demo/server.ts'
import { launchChromium, openPage, withTimeout } from '../browser/chromium.ts'
import type { AssetState } from '../../demo/app.ts'
import type { Demo, OriginStats } from '../../demo/server.ts'
import type { TestPage } from '../browser/chromium.ts'
import type { Browser } from 'playwright-core'

/** Bound on one tab loading every asset (joining the ring included), ms */
const LOAD_MS = 45_000
/** Bound on every ring view showing every live node, ms */
const RING_MS = 30_000
/** Bound on the `npm start` entry printing its URL, and on it stopping, ms */
const START_MS = 30_000
const STOP_MS = 15_000

const SCREENSHOTS = join(import.meta.dirname, 'screenshots')
const ROOT = join(import.meta.dirname, '..', '..')

interface TabState {
  peerId?: string
  /** One line per lookup: asset, home, hops, holders, error */
  lookups: string[]
  joinMs?: number
  joinError?: string
  assets: AssetState[]
  /** The page's last console lines */
  logs: string[]
  bytesFromPeers: number
  bytesFromOrigin: number
  /** Fetches whose origin request, started beside slow peers, lost to a peer (the origin may have sent part of it) */
  originRacesWonByPeer: number
  /** The page's asset requests were plain fetches the service worker answered through its node */
  viaServiceWorker: boolean
}

async function waitUntilLoaded (tab: TestPage): Promise<TabState> {
  try {
    await tab.page.waitForFunction(() => (globalThis as any).ringcdnDemo?.done === true, undefined, { timeout: LOAD_MS, polling: 200 })
  } catch (err: any) {
    err.message = `${err.message}\n--- page log ---\n${tab.logs.slice(-30).join('\n')}`
    throw err
  }
  return tab.evaluate(() => {
    const demo = (globalThis as any).ringcdnDemo
    const stats = demo.cdn?.getStats()
    return {
      peerId: demo.peerId,
      joinMs: demo.joinMs,
      joinError: demo.joinError,
      lookups: demo.lookups.map((l: any) => `${String(l.url).split('/').pop()} home …${String(l.home).slice(-6)} hops ${l.hops} holders ${l.holders} ${l.error ?? ''}`),
      assets: Object.values(demo.assets) as AssetState[],
      logs: [] as string[],
      bytesFromPeers: stats?.bytesFromPeers ?? 0,
      bytesFromOrigin: stats?.bytesFromOrigin ?? 0,
      originRacesWonByPeer: stats?.originRacesWonByPeer ?? 0,
      viaServiceWorker: demo.viaServiceWorker === true
    }
  }, undefined)
}

async function originStats (demo: Demo): Promise<OriginStats> {
  const res = await fetch(new URL('/__ringcdn/origin-stats', demo.url), { signal: AbortSignal.timeout(5_000) })
  return res.json() as Promise<OriginStats>
}

/** The peer ids the tab's ring view draws (read from the SVG itself) */
async function drawnPeers (tab: TestPage): Promise<string[]> {
  return tab.evaluate(() => [...document.querySelectorAll('#ring [data-peer]')].map(e => e.getAttribute('data-peer') ?? ''), undefined)
}

/** What a tab loaded and looked up, for failure messages */
function describeAssets (state: TabState): string {
  return [
    `peer …${state.peerId?.slice(-6) ?? ''}, joined after ${state.joinMs ?? `(not joined: ${state.joinError ?? ''})`} ms`,
    ...state.assets.map(a => `${a.path}: ${a.status} ${a.source ?? ''}${a.attempts > 1 ? ` after ${a.attempts} tries (${a.error ?? ''})` : ''}${a.ringMiss != null ? `, ring: ${a.ringMiss}` : ''}`),
    'lookups, newest first:',
    ...state.lookups,
    'page log:',
    ...state.logs
  ].join('\n')
}

describe('demo site (npm start) in Chromium', function () {
  this.timeout(150_000)

  let demo: Demo
  let browsers: Browser[] = []
  const tabs: TestPage[] = []
  const states: TabState[] = []
  let siteBytes = 0

  async function openTab (browser: Browser): Promise<TabState> {
    const tab = await openPage(browser, demo.url)
    tabs.push(tab)
    const state = await waitUntilLoaded(tab)
    state.logs = tab.logs.slice(-20)
    states.push(state)
    return state
  }

  before(async function () {
    await mkdir(SCREENSHOTS, { recursive: true })
    demo = await startDemo({ port: 0, relayPort: 0 })
    siteBytes = demo.assets.reduce((sum, a) => sum + a.body.byteLength, 0)
    browsers = await Promise.all([launchChromium(), launchChromium()])
  })

  after(async function () {
    await Promise.all(tabs.map(async t => t.close().catch(() => {})))
    await Promise.all(browsers.map(async b => b.close().catch(() => {})))
    await demo?.stop()
  })

  it('serves images, a multi-MB file and a segmented video, each with a Repr-Digest its manifest agrees with', async function () {
    const manifest = await (await fetch(new URL('/ringcdn-manifest.json', demo.url))).json()
    expect(manifest.ringcdn).to.equal(1)
    const kinds = new Set(demo.assets.map(a => a.kind))
    expect([...kinds]).to.include.members(['image', 'file', 'playlist', 'segment'])
    expect(Math.max(...demo.assets.map(a => a.body.byteLength))).to.be.greaterThan(2_000_000)

    for (const asset of demo.assets) {
      const res = await fetch(new URL(asset.path, demo.url))
      expect(res.status).to.equal(200, asset.path)
      const body = new Uint8Array(await res.arrayBuffer())
      const digest = createHash('sha256').update(body).digest('base64')
      expect(res.headers.get('repr-digest')).to.equal(`sha-256=:${digest}:`, asset.path)
      expect(manifest.assets[asset.path].integrity).to.equal(`sha256-${digest}`, asset.path)
    }

    const playlist = await (await fetch(new URL('/assets/video/playlist.m3u8', demo.url))).text()
    const segments = playlist.split('\n').filter(l => l.endsWith('.webm'))
    expect(segments).to.have.length.greaterThan(1)
    expect(segments.map(s => `/assets/video/${s}`)).to.deep.equal(demo.assets.filter(a => a.kind === 'segment').map(a => a.path))
  })

  it('counts what the origin serves at /__ringcdn/origin-stats, not its own answers', async function () {
    const before = await originStats(demo)
    await originStats(demo)
    await fetch(new URL('/assets/img/tile-1.svg', demo.url)).then(async r => r.arrayBuffer())
    const after = await originStats(demo)
    expect(after.requests).to.equal(before.requests + 1)
    expect(after.assetRequests).to.equal(before.assetRequests + 1)
    expect(after.bytes - before.bytes).to.equal(demo.assets.find(a => a.path === '/assets/img/tile-1.svg')?.body.byteLength)
  })

  it('loads every asset in the first tab, from the origin', async function () {
    const before = await originStats(demo)
    const first = await openTab(browsers[0])
    expect(first.peerId).to.be.a('string')
    expect(first.assets.every(a => a.status === 'done'), describeAssets(first)).to.equal(true)
    expect(first.assets.every(a => a.source === 'origin'), describeAssets(first)).to.equal(true)
    const after = await originStats(demo)
    expect(after.assetBytes - before.assetBytes).to.equal(siteBytes)
  })

  it('gets assets from peers in later tabs of two browser processes, so the origin serves less than they load', async function () {
    const before = await originStats(demo)
    const later = [await openTab(browsers[1]), await openTab(browsers[0]), await openTab(browsers[1])]
    const report = later.map(describeAssets).join('\n---\n')
    for (const state of later) {
      expect(state.assets.every(a => a.status === 'done'), report).to.equal(true)
      // the page asked with plain fetch(); the service worker handed each request to the tab's node
      expect(state.viaServiceWorker, 'assets loaded through the service worker').to.equal(true)
    }
    const fromPeers = later.reduce((sum, s) => sum + s.bytesFromPeers, 0)
    const fromOrigin = later.reduce((sum, s) => sum + s.bytesFromOrigin, 0)
    // every byte a later tab did not get from a peer, the origin served, and nothing else
    expect(fromPeers + fromOrigin).to.equal(later.length * siteBytes)
    const after = await originStats(demo)
    // the origin served every byte the tabs took from it; more only for an origin request brought in
    // beside slow peers that a peer then beat (stopped part-way or whole): never more than the tabs loaded
    const served = after.assetBytes - before.assetBytes
    const racesLost = later.reduce((sum, s) => sum + s.originRacesWonByPeer, 0)
    if (racesLost === 0) {
      expect(served, report).to.equal(fromOrigin)
    } else {
      expect(served, report).to.be.within(fromOrigin, fromOrigin + fromPeers)
    }
    // without ringcdn the origin would have served the site once per tab. How much less it serves is
    // a race per asset (the origin is brought in beside peers that take longer than it would, and an
    // origin on loopback is fast), so it depends on the machine's load: `npm run bench:browser`
    // measures it; here it is enough that peers served some of it, every byte counted once
    expect(fromPeers, report).to.be.greaterThan(0)
    const peerAssetBytes = later.reduce((sum, s) => sum + s.assets.filter(a => a.source === 'peer').reduce((n, a) => n + a.size, 0), 0)
    expect(peerAssetBytes, report).to.equal(fromPeers)
  })

  it('shows every live node on every tab\'s ring view', async function () {
    const live = states.map(s => s.peerId)
    const deadline = Date.now() + RING_MS
    let views: string[][] = []
    while (Date.now() < deadline) {
      views = await Promise.all(tabs.map(drawnPeers))
      if (views.every(view => live.every(peer => view.includes(peer ?? '')))) {
        break
      }
      await new Promise(resolve => setTimeout(resolve, 500))
    }
    for (const [i, view] of views.entries()) {
      const missing = live.filter(peer => !view.includes(peer ?? ''))
      const ring = missing.length === 0 ? '' : await tabs[i].evaluate(() => JSON.stringify((globalThis as any).ringcdnDemo?.cdn?.getRing(), (_k, v) => typeof v === 'bigint' ? v.toString(16) : v), undefined)
      expect(view, `tab ${i} (…${states[i].peerId?.slice(-6) ?? ''}) does not draw ${missing.join(', ')}; its ring: ${ring}\n${tabs[i].logs.slice(-20).join('\n')}`).to.include.members(live as string[])
    }
    // the view labels this page "me" and draws its neighbours as such
    const roles = await tabs[0].evaluate(() => [...document.querySelectorAll('#ring [data-role]')].map(e => e.getAttribute('data-role')), undefined)
    expect(roles).to.include.members(['self', 'successor'])
    await tabs[tabs.length - 1].page.screenshot({ path: join(SCREENSHOTS, 'ring-view.png'), fullPage: true })
  })

  it('shows where each asset came from, the offload and the origin\'s counters in the page', async function () {
    // the newest tab that joined the ring before loading its assets (the page waits 10 s for that,
    // then takes everything from the origin; a loaded machine can make a join take longer)
    const shown = states.findLastIndex(s => s.joinMs != null)
    expect(shown, states.map(describeAssets).join('\n---\n')).to.be.greaterThan(0)
    const tab = tabs[shown]
    const sources = await tab.evaluate(() => [...document.querySelectorAll('#assets tr[data-path]')].map(tr => (tr as HTMLElement).dataset.source), undefined)
    expect(sources).to.have.length(demo.assets.length)
    expect(sources, describeAssets(states[shown])).to.include('peer')
    const expected = await originStats(demo)
    const text = await withTimeout((async () => {
      // the page polls the origin every 2 s: wait until it shows the current count
      await tab.page.waitForFunction((n) => document.querySelector('#origin-stats')?.textContent?.includes(`asset requests${n}`) === true, expected.assetRequests, { timeout: 10_000 })
      return tab.page.textContent('#page-stats')
    })(), 15_000, 'page stats')
    expect(text).to.match(/offload\d+ %/)
  })

  it('plays the segmented video: every segment decoded, end to end', async function () {
    const segments = demo.assets.filter(a => a.kind === 'segment').length
    const buffered = await tabs[tabs.length - 1].evaluate(() => {
      const video = document.querySelector('video')
      return video == null || video.buffered.length === 0 ? 0 : video.buffered.end(video.buffered.length - 1)
    }, undefined)
    // each segment holds 2 s; sequence mode lays them end to end, so a dropped or undecodable one shortens this
    expect(buffered).to.be.greaterThan((segments - 0.5) * 2)
  })

  it('still gets what peers hold when the origin stops serving assets', async function () {
    demo.servingAssets = false
    try {
      const before = await originStats(demo)
      const state = await openTab(browsers[1])
      const report = describeAssets(state)
      // every tab so far holds every asset, and the page got them from peers (verified against
      // the manifest). An asset can still be missing when the ring fails the newest page (a
      // lookup failed, its home had no holder list, a holder did not deliver, the join was
      // slow); the report says which. Those are the ring's to fix (test/libp2p, test/browser):
      // here it is enough that peers alone served the page.
      const fromPeers = state.assets.filter(a => a.source === 'peer')
      expect(fromPeers.length, report).to.be.greaterThan(0)
      expect(state.assets.filter(a => a.status === 'done').every(a => a.source === 'peer'), report).to.equal(true)
      for (const asset of state.assets.filter(a => a.status === 'pending')) {
        // segments are only asked for once the playlist came
        expect(asset.kind, report).to.equal('segment')
        expect(state.assets.find(a => a.kind === 'playlist')?.status, report).to.equal('error')
      }
      // an asset whose lookup failed went to the origin, got a 503 and was tried again: every
      // origin request is one of those failed attempts, none delivered anything
      const after = await originStats(demo)
      const failedAttempts = state.assets.reduce((sum, a) => sum + a.attempts - (a.status === 'done' ? 1 : 0), 0)
      expect(after.assetRequests - before.assetRequests, report).to.be.at.most(failedAttempts)
    } finally {
      demo.servingAssets = true
    }
  })
})

describe('npm start entry (demo/start.ts)', function () {
  this.timeout(60_000)

  const entry = ['--experimental-transform-types', '--disable-warning=ExperimentalWarning', join(ROOT, 'demo', 'start.ts')]

  it('prints the site URL, serves the page and stops on SIGINT', async function () {
    const child = spawn(process.execPath, entry, { cwd: ROOT, env: { ...process.env, PORT: '0', RELAY_PORT: '0' }, stdio: ['ignore', 'pipe', 'pipe'] })
    let stdout = ''
    let stderr = ''
    child.stdout.on('data', (chunk: Buffer) => { stdout += chunk.toString() })
    child.stderr.on('data', (chunk: Buffer) => { stderr += chunk.toString() })
    const exited = new Promise<number | null>(resolve => { child.once('exit', (code) => { resolve(code) }) })
    try {
      const url = await withTimeout(new Promise<string>((resolve, reject) => {
        const check = (): void => {
          const match = /site:\s+(http:\/\/127\.0\.0\.1:\d+\/)/.exec(stdout)
          if (match != null) {
            resolve(match[1])
          }
        }
        child.stdout.on('data', check)
        child.once('exit', (code) => { reject(new Error(`exited with ${code} before printing a URL:\n${stdout}\n${stderr}`)) })
      }), START_MS, 'npm start printing its URL')

      const res = await fetch(url, { signal: AbortSignal.timeout(5_000) })
      expect(res.status).to.equal(200)
      expect(await res.text()).to.include('ringcdn-demo-config')

      child.kill('SIGINT')
      const code = await withTimeout(exited, STOP_MS, 'npm start stopping on SIGINT')
      expect(code, stderr).to.equal(0)
      expect(stdout).to.include('stopped')
      await fetch(url, { signal: AbortSignal.timeout(2_000) }).then(() => { throw new Error('still serving after SIGINT') }, () => {})
    } finally {
      if (child.exitCode == null) {
        child.kill('SIGKILL')
      }
    }
  })

  it('refuses a bad PORT with a clear message and exit status 2', async function () {
    const child = spawn(process.execPath, entry, { cwd: ROOT, env: { ...process.env, PORT: 'eighty' }, stdio: ['ignore', 'pipe', 'pipe'] })
    let stderr = ''
    child.stderr.on('data', (chunk: Buffer) => { stderr += chunk.toString() })
    try {
      const code = await withTimeout(new Promise<number | null>(resolve => { child.once('exit', resolve) }), START_MS, 'bad PORT exit')
      expect(code).to.equal(2)
      expect(stderr).to.include('PORT must be a port number')
      expect(stderr).to.include('"eighty"')
    } finally {
      if (child.exitCode == null) {
        child.kill('SIGKILL')
      }
    }
  })
})
