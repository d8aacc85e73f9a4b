/**
 * `IndexedDbContentStore` in real Chromium (Debian's, driven by
 * playwright-core; no fake IndexedDB): the compliance suite runs inside the
 * page, one mocha test per case, then what only a browser can show —
 * persistence across reloads and restarts, tabs sharing a store, the
 * browser's quota.
 */
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { expect } from 'aegir/chai'
import { INDEXEDDB_STORE_MAX_BYTES, IndexedDbContentStore } from '../../src/storage/indexeddb-store.ts'
import { launchChromium, launchPersistentChromium, openPage } from '../browser/chromium.ts'
import { startPageServer } from '../browser/page-server.ts'
import { contentStoreCases, makeObject } from './content-store-compliance.ts'
import type { StoreRef } from './indexeddb-store.page.ts'
import type { TestPage } from '../browser/chromium.ts'
import type { PageServer } from '../browser/page-server.ts'
import type { Browser } from 'playwright-core'

const PAGE_ENTRY = fileURLToPath(new URL('./indexeddb-store.page.ts', import.meta.url))

/** Bound on one compliance case run in the page, in milliseconds */
const CASE_TIMEOUT_MS = 20_000

const KiB = 1_024
const MiB = 1_048_576

let namespaces = 0

/** A namespace no earlier test (or run) has used */
function freshNamespace (label: string): string {
  return `${label}-${Date.now()}-${namespaces++}`
}

describe('IndexedDbContentStore outside a browser', function () {
  it('fails with StorageUnavailableError where there is no IndexedDB', async () => {
    const store = new IndexedDbContentStore()
    await expect(store.open()).to.eventually.be.rejected.with.property('name', 'StorageUnavailableError')
    await expect(store.has(makeObject('x', 1).init.key)).to.eventually.be.rejected.with.property('name', 'StorageUnavailableError')
    await store.close()
  })

  it('defaults to a 256 MiB bound and names its database after the namespace', () => {
    expect(INDEXEDDB_STORE_MAX_BYTES).to.equal(256 * MiB)
    expect(new IndexedDbContentStore({}, { namespace: 'https://example.test' }).databaseName).to.equal('ringcdn-store:https://example.test')
    expect(() => new IndexedDbContentStore({}, { maxBytes: 0 })).to.throw(RangeError)
  })
})

describe('IndexedDbContentStore in Chromium', function () {
  let server: PageServer
  let browser: Browser
  let page: TestPage

  before(async function () {
    server = await startPageServer({ entries: { main: PAGE_ENTRY } })
    browser = await launchChromium()
    page = await openPage(browser, server.url)
  })

  after(async function () {
    await page?.close().catch(() => {})
    await browser?.close()
    await server?.close()
  })

  /** Runs one compliance case in the page (which also checks the database for leftovers) */
  async function runInPage (name: string): Promise<void> {
    const result = await page.evaluate(async (name) => globalThis.storeTest.runCase(name), name, { timeout: CASE_TIMEOUT_MS })

    if (!result.passed) {
      throw new Error(`in Chromium: ${result.error}`)
    }
  }

  describe('compliance', function () {
    for (const { name } of contentStoreCases) {
      it(name, async () => { await runInPage(name) })
    }
  })

  it('still has an object stored before a page reload after it', async function () {
    const ref: StoreRef = { namespace: freshNamespace('reload'), maxBytes: MiB }
    const stored = await page.evaluate(async (request) => globalThis.storeTest.putObject(request), { ...ref, name: 'logo.png', size: 300 * KiB + 17, seed: 42, chunkSize: 64 * KiB })

    await page.reload()
    const read = await page.evaluate(async (request) => globalThis.storeTest.readObject(request), { ...ref, key: stored.key })

    expect(read).to.not.equal(null)
    expect(read?.digest).to.equal(stored.digest, 'SHA-256 of the bytes read after the reload')
    expect(read?.meta).to.include({ key: stored.key, digest: stored.digest, size: 300 * KiB + 17, chunkSize: 64 * KiB })
  })

  it('keeps its LRU order and byte bound across reloads, and trims to a smaller bound on open', async function () {
    const ref: StoreRef = { namespace: freshNamespace('bound'), maxBytes: 64 * KiB }
    const put = async (name: string, seed: number): Promise<string> => {
      const { key } = await page.evaluate(async (request) => globalThis.storeTest.putObject(request), { ...ref, name, size: 16 * KiB, seed })
      return key
    }
    const [a, b, c, d] = [await put('a', 1), await put('b', 2), await put('c', 3), await put('d', 4)]
    expect(await page.evaluate(async (request) => globalThis.storeTest.touch(request), { ...ref, key: a })).to.equal(true)

    // recency (a used after d) must survive the reload: b is now the oldest
    await page.reload()
    const e = await put('e', 5)
    let state = await page.evaluate(async (r) => globalThis.storeTest.state(r), ref)
    expect(state.keys).to.deep.equal([a, c, d, e].sort())
    expect(state.stats).to.deep.equal({ objects: 4, bytes: 64 * KiB, maxBytes: 64 * KiB })

    // reopened with half the bound after a reload: the two most recent stay
    await page.reload()
    state = await page.evaluate(async (r) => globalThis.storeTest.state(r), { ...ref, maxBytes: 32 * KiB })
    expect(state.keys).to.deep.equal([a, e].sort())
    expect(state.stats).to.deep.equal({ objects: 2, bytes: 32 * KiB, maxBytes: 32 * KiB })
    expect(await page.evaluate(async (r) => globalThis.storeTest.rawCounts(r), { ...ref, maxBytes: 32 * KiB })).to.deep.equal({ objects: 2, chunks: 32, staging: 0 })
    expect([b, c, d]).to.not.include.members(state.keys)
  })

  it('collects the chunks of a put cut off by a reload once it is stale, never while another tab may still write', async function () {
    const ref: StoreRef = { namespace: freshNamespace('abandoned'), maxBytes: MiB }
    const kept = await page.evaluate(async (request) => globalThis.storeTest.putObject(request), { ...ref, name: 'kept', size: 4 * KiB, seed: 1 })
    await page.evaluate(async (request) => globalThis.storeTest.startStalledPut(request), { ...ref, name: 'cut-off', size: 10 * KiB, seed: 2, written: 3 })

    await page.reload()
    // a fresh open with the default timeout: the put might be another tab's, still alive
    expect(await page.evaluate(async (r) => globalThis.storeTest.rawCounts(r), ref)).to.deep.equal({ objects: 1, chunks: 4 + 3, staging: 1 })
    expect((await page.evaluate(async (r) => globalThis.storeTest.state(r), ref)).keys).to.deep.equal([kept.key])

    // once idle longer than stalePutTimeout, an open collects it
    expect(await page.evaluate(async (r) => globalThis.storeTest.rawCounts(r), { ...ref, stalePutTimeout: 0 })).to.deep.equal({ objects: 1, chunks: 4, staging: 0 })
    const read = await page.evaluate(async (request) => globalThis.storeTest.readObject(request), { ...ref, key: kept.key })
    expect(read?.digest).to.equal(kept.digest)
  })

  it('is shared by two pages of one origin, which stay within the bound together with no orphan chunks', async function () {
    const context = await browser.newContext()

    try {
      const first = await openPage(context, server.url)
      const second = await openPage(context, server.url)
      const ref: StoreRef = { namespace: freshNamespace('tabs'), maxBytes: 64 * KiB }
      const failures = await Promise.all([
        first.evaluate(async (request) => globalThis.storeTest.putMany(request), { ...ref, prefix: 'first-', count: 12, size: 8 * KiB }),
        second.evaluate(async (request) => globalThis.storeTest.putMany(request), { ...ref, prefix: 'second-', count: 12, size: 8 * KiB })
      ])
      expect(failures.flat()).to.deep.equal([])

      const fromFirst = await first.evaluate(async (r) => globalThis.storeTest.state(r), ref)
      const fromSecond = await second.evaluate(async (r) => globalThis.storeTest.state(r), ref)
      expect(fromSecond).to.deep.equal(fromFirst)
      expect(fromFirst.stats).to.deep.equal({ objects: 8, bytes: 64 * KiB, maxBytes: 64 * KiB })
      // every chunk belongs to a listed object: 8 KiB objects in 1 KiB chunks
      expect(await first.evaluate(async (r) => globalThis.storeTest.rawCounts(r), ref)).to.deep.equal({ objects: 8, chunks: 64, staging: 0 })
    } finally {
      await context.close()
    }
  })

  it('evicts to make room under a browser quota below maxBytes, and refuses an object the quota cannot hold with StorageQuotaError', async function () {
    // its own context: the quota override lasts as long as the context
    const limited = await openPage(browser, server.url)

    try {
      const cdp = await limited.page.context().newCDPSession(limited.page)
      await cdp.send('Storage.overrideQuotaForOrigin', { origin: server.origin, quotaSize: 3 * MiB })
      const ref: StoreRef = { namespace: freshNamespace('quota'), maxBytes: 64 * MiB }
      const outcomes: string[] = []

      for (let i = 0; i < 10; i++) {
        outcomes.push(await limited.evaluate(async (request) => globalThis.storeTest.tryPut(request), { ...ref, name: `asset-${i}`, size: 512 * KiB, seed: i + 1, chunkSize: 64 * KiB }))
      }

      expect(outcomes).to.deep.equal(Array(10).fill('ok'))
      const state = await limited.evaluate(async (r) => globalThis.storeTest.state(r), ref)
      expect(state.stats.bytes).to.be.at.most(3 * MiB)
      expect(state.keys).to.include(makeObject('asset-9', 1).init.key, 'the newest object is kept')

      expect(await limited.evaluate(async (request) => globalThis.storeTest.tryPut(request), { ...ref, name: 'too-big', size: 5 * MiB, seed: 99, chunkSize: 64 * KiB })).to.equal('StorageQuotaError')
      const counts = await limited.evaluate(async (r) => globalThis.storeTest.rawCounts(r), ref)
      expect(counts.staging).to.equal(0, 'staged records left behind')
      expect(counts.chunks).to.equal(counts.objects * 8, 'chunks left behind by the refused put')
      expect((await limited.evaluate(async (r) => globalThis.storeTest.state(r), ref)).keys).to.not.include(makeObject('too-big', 1).init.key)
    } finally {
      await limited.close()
    }
  })

  it('still has an object stored before the browser restarts after it', async function () {
    const profile = await mkdtemp(join(tmpdir(), 'ringcdn-chromium-'))
    const ref: StoreRef = { namespace: freshNamespace('restart'), maxBytes: MiB }

    // each launch closes its browser whatever happens in between
    async function inBrowser<T> (fn: (page: TestPage) => Promise<T>): Promise<T> {
      const context = await launchPersistentChromium(profile)

      try {
        return await fn(await openPage(context, server.url))
      } finally {
        await context.close()
      }
    }

    try {
      const stored = await inBrowser(async (p) => p.evaluate(async (request) => globalThis.storeTest.putObject(request), { ...ref, name: 'font.woff2', size: 100 * KiB + 1, seed: 7, chunkSize: 16 * KiB }))
      const read = await inBrowser(async (p) => p.evaluate(async (request) => globalThis.storeTest.readObject(request), { ...ref, key: stored.key }))

      expect(read?.digest).to.equal(stored.digest)
    } finally {
      await rm(profile, { recursive: true, force: true })
    }
  })
})
