/**
 * Service-worker mode in real Chromium: a site on loopback (test/browser/
 * page-server.ts) whose service worker is the library's one line, and pages
 * holding a real libp2p node with the ringcdn service (a one-node ring: it
 * fetches from the origin once and then answers from its store). The page
 * server is the origin; its request log is the origin's counter.
 */
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { expect } from 'aegir/chai'
import { launchChromium, openPage } from '../browser/chromium.ts'
import { startPageServer } from '../browser/page-server.ts'
import { bytesOf, sri } from '../fixtures/origin-server.ts'
import type { GetResult, SwTestApi } from './sw.page.ts'
import type { TestPage } from '../browser/chromium.ts'
import type { PageServer } from '../browser/page-server.ts'
import type { Browser, BrowserContext } from 'playwright-core'

const here = dirname(fileURLToPath(import.meta.url))
/** The worker's ack deadline in these tests, ms: short, so fallbacks are quick, yet roomy for a busy machine */
const ACK_TIMEOUT_MS = 1_500
const SW_URL = `/sw.js?timeout=${ACK_TIMEOUT_MS}`

const APP_JS = new TextEncoder().encode('globalThis.appLoaded = (globalThis.appLoaded ?? 0) + 1\n')
const LIB_JS = new TextEncoder().encode('globalThis.libLoaded = true\n')
const VIDEO = bytesOf(5_000, 7)
const CLIP = bytesOf(3_000, 8)
const PLAIN = new TextEncoder().encode('not for the ring\n')

type Api = SwTestApi

async function call <K extends keyof Api> (page: TestPage, method: K, ...args: Parameters<Api[K]>): Promise<Awaited<ReturnType<Api[K]>>> {
  return page.evaluate(async ({ method, args }) => (globalThis as any).swTest[method](...args), { method, args }, { timeout: 40_000 })
}

describe('service-worker mode in Chromium', function () {
  this.timeout(120_000)

  let server: PageServer
  let browser: Browser
  const count = (path: string): number => server.requests.filter(r => r === path).length

  before(async () => {
    server = await startPageServer({
      entries: { main: join(here, 'sw.page.ts'), sw: join(here, 'sw.worker.ts') },
      // only the page script: the worker bundle is for the worker
      html: '<!doctype html>\n<html><head><meta charset="utf-8"><script type="module" src="/main.js"></script></head><body></body></html>\n',
      routes: {
        '/assets/app.js': { body: APP_JS, contentType: 'text/javascript' },
        '/assets/lib.js': { body: LIB_JS, contentType: 'text/javascript' },
        '/assets/video.m4s': { body: VIDEO, contentType: 'video/iso.segment' },
        '/assets/gone.js': { body: APP_JS, contentType: 'text/javascript' },
        '/assets/tabs.js': { body: APP_JS, contentType: 'text/javascript' },
        '/assets/hang.js': { body: APP_JS, contentType: 'text/javascript' },
        '/media/clip.m4s': { body: CLIP, contentType: 'video/iso.segment' },
        '/other/plain.txt': { body: PLAIN, contentType: 'text/plain' }
      }
    })
    browser = await launchChromium()
  })

  after(async () => {
    await browser?.close()
    await server?.close()
  })

  /** A page of the site in `context`, ready to call */
  async function sitePage (context: BrowserContext, register: boolean): Promise<TestPage> {
    const page = await openPage(context, server.url)
    await page.evaluate(async () => {
      const start = Date.now()
      while ((globalThis as any).swTest == null && Date.now() - start < 10_000) {
        await new Promise(resolve => setTimeout(resolve, 20))
      }
    }, undefined)
    if (register) {
      await call(page, 'register', SW_URL)
    }
    return page
  }

  describe('with a provider page', () => {
    let context: BrowserContext
    let provider: TestPage

    before(async () => {
      context = await browser.newContext()
      provider = await sitePage(context, true)
      await call(provider, 'provide')
    })

    after(async () => {
      await context?.close()
    })

    it('serves an allow-listed asset through the worker from the page\'s node, from the origin once', async () => {
      const first = await call(provider, 'get', '/assets/app.js')
      expect(first).to.include({ status: 200, source: 'origin' })
      expect(first.bytes).to.deep.equal([...APP_JS])
      const second = await call(provider, 'get', '/assets/app.js')
      expect(second).to.include({ status: 200, source: 'local' })
      expect(second.bytes).to.deep.equal([...APP_JS])
      expect(count('/assets/app.js')).to.equal(1)
      expect((await call(provider, 'stats')).served).to.equal(2)
    })

    it('matches allow-list patterns as well as path prefixes', async () => {
      const res = await call(provider, 'get', '/media/clip.m4s')
      expect(res).to.include({ status: 200, source: 'origin', length: CLIP.byteLength })
      expect(count('/media/clip.m4s')).to.equal(1)
    })

    it('leaves requests off the allow-list to the network', async () => {
      const before = await call(provider, 'stats')
      for (let i = 0; i < 2; i++) {
        const res = await call(provider, 'get', '/other/plain.txt')
        expect(res).to.include({ status: 200, source: null })
        expect(res.bytes).to.deep.equal([...PLAIN])
      }
      expect(count('/other/plain.txt')).to.equal(2)
      expect((await call(provider, 'stats')).requests).to.equal(before.requests)
    })

    it('answers Range requests with 206 and the right bytes, and 416 outside the object', async () => {
      const middle = await call(provider, 'get', '/assets/video.m4s', { range: 'bytes=100-199' })
      expect(middle).to.include({ status: 206, contentRange: `bytes 100-199/${VIDEO.byteLength}`, length: 100 })
      expect(middle.bytes).to.deep.equal([...VIDEO.subarray(100, 200)])
      expect(middle.source).to.be.oneOf(['origin', 'local'])

      const tail = await call(provider, 'get', '/assets/video.m4s', { range: 'bytes=-10' })
      expect(tail).to.include({ status: 206, source: 'local', contentRange: `bytes ${VIDEO.byteLength - 10}-${VIDEO.byteLength - 1}/${VIDEO.byteLength}` })
      expect(tail.bytes).to.deep.equal([...VIDEO.subarray(VIDEO.byteLength - 10)])

      const open = await call(provider, 'get', '/assets/video.m4s', { range: 'bytes=4990-' })
      expect(open.bytes).to.deep.equal([...VIDEO.subarray(4990)])

      const outside = await call(provider, 'get', '/assets/video.m4s', { range: `bytes=${VIDEO.byteLength}-` })
      expect(outside).to.include({ status: 416, contentRange: `bytes */${VIDEO.byteLength}`, length: 0 })

      // the seeks came from the node's store: the origin sent the segment once
      expect(count('/assets/video.m4s')).to.equal(1)
    })

    it('honours the element\'s integrity= attribute: wrong fails like the browser would, right loads', async () => {
      const before = await call(provider, 'stats')
      expect(await call(provider, 'script', '/assets/lib.js', 'sha256-AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=')).to.equal('error')
      const after = await call(provider, 'stats')
      // the node checked the bytes (and refused them); the worker did not fetch them again from the network
      expect(after.integrityFailures).to.equal(before.integrityFailures + 1)
      expect(after.served).to.equal(before.served + 1)
      expect(count('/assets/lib.js')).to.equal(1)

      expect(await call(provider, 'script', '/assets/lib.js', sri(LIB_JS))).to.equal('load')
      expect(await provider.evaluate(() => (globalThis as any).libLoaded, undefined)).to.equal(true)
      expect((await call(provider, 'stats')).served).to.equal(after.served + 1)
    })

    it('reads the real page\'s upload signals: a visible page uploads under "auto"', async () => {
      const res = await call(provider, 'uploadSignals')
      expect(res.snapshot.visibility).to.equal('visible')
      expect(res.decision).to.deep.equal({ upload: true })
      expect(res.node).to.deep.equal({ upload: true })
      // where Chromium exposes the Battery and Network Information APIs, they were read
      if (res.apis.battery) {
        expect(res.snapshot.batteryLevel).to.be.a('number')
      }
      if (res.apis.connection) {
        expect(res.snapshot).to.have.property('saveData')
      }
    })

    it('serves another tab of the site from the provider tab\'s node', async () => {
      const other = await sitePage(context, false)
      try {
        const res = await call(other, 'get', '/assets/app.js')
        expect(res).to.include({ status: 200, source: 'local' })
        expect(count('/assets/app.js')).to.equal(1)
      } finally {
        await other.close()
      }
    })

    it('falls back to the network within the deadline when a provider never answers, then drops it', async () => {
      const stuck = await sitePage(context, false)
      try {
        await call(stuck, 'provideStuck', false)
        // the stuck tab is the newest provider and the requester: the worker asks it first
        const res = await call(stuck, 'get', '/assets/gone.js')
        expect(res).to.include({ status: 200, source: null })
        expect(count('/assets/gone.js')).to.equal(1)
        // dropped: the next request goes to the provider tab again
        const again = await call(stuck, 'get', '/assets/gone.js')
        expect(again).to.include({ status: 200, source: 'origin' })
      } finally {
        await stuck.close()
      }
    })

    it('falls back to the network when a provider that accepted a request closes without answering', async () => {
      const reader = await sitePage(context, false)
      const hanging = await sitePage(context, false)
      try {
        await call(hanging, 'provideStuck', true)
        const pending = call(reader, 'get', '/assets/hang.js')
        await hanging.page.waitForFunction(() => (globalThis as any).stuckRequests > 0, undefined, { timeout: 10_000 })
        await hanging.close()
        // the worker notices the closed tab (well before its 60 s answer deadline, and this evaluate's 40 s bound)
        const res = await pending
        expect(res).to.include({ status: 200, source: null })
        expect(count('/assets/hang.js')).to.equal(1)
      } finally {
        await reader.close()
      }
    })

    it('finds its providers again after the browser stopped the worker', async () => {
      // what the browser does to an idle worker: its in-memory provider list is lost
      const before = await call(provider, 'stats')
      const session = await provider.page.context().newCDPSession(provider.page)
      await session.send('ServiceWorker.enable')
      await session.send('ServiceWorker.stopAllWorkers')
      await session.detach()
      const res = await call(provider, 'get', '/assets/app.js')
      // the restarted worker asked the tabs, the provider registered again and answered from its store
      expect(res).to.include({ status: 200, source: 'local' })
      expect(count('/assets/app.js')).to.equal(1)
      const after = await call(provider, 'stats')
      expect(after.registrations).to.equal(before.registrations + 1)
      expect(after.served).to.equal(before.served + 1)
    })

    it('falls back to the network when the provider tab is gone', async () => {
      const other = await sitePage(context, false)
      await provider.close()
      const res = await call(other, 'get', '/assets/video.m4s')
      expect(res).to.include({ status: 200, source: null, length: VIDEO.byteLength })
      expect(count('/assets/video.m4s')).to.equal(2)
      await other.close()
    })
  })

  it('picks a live provider among several tabs and drops a closed one', async () => {
    const context = await browser.newContext()
    try {
      const first = await sitePage(context, true)
      await call(first, 'provide')
      const second = await sitePage(context, false)
      await call(second, 'provide')
      const reader = await sitePage(context, false)

      // the newest provider serves a tab that is not one
      expect(await call(reader, 'get', '/assets/tabs.js')).to.include({ status: 200, source: 'origin' })
      expect((await call(second, 'stats')).served).to.equal(1)
      expect((await call(first, 'stats')).served).to.equal(0)

      await second.close()
      expect(await call(reader, 'get', '/assets/tabs.js')).to.include({ status: 200, source: 'origin' })
      expect((await call(first, 'stats')).served).to.equal(1)
      // each provider's own one-node ring fetched it once
      expect(count('/assets/tabs.js')).to.equal(2)
    } finally {
      await context.close()
    }
  })
})

export type { GetResult }
