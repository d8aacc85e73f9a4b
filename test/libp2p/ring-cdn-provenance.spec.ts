/**
 * No byte a trusted source did not vouch for reaches a page's own `fetch()`:
 * real libp2p nodes (`@libp2p/memory`) and a real HTTP origin on 127.0.0.1.
 * One member plays the attacker of issue 16 ("Broken 1"): it stores bytes of
 * its own under a key, sends one LOCATE and announces itself as the key's
 * only holder. Then every path that can put bytes in a store is checked for
 * the provenance it records and for what a later fetch serves from the store.
 */
import { createHash } from 'node:crypto'
import { expect } from 'aegir/chai'
import { DirectoryService } from '../../src/cdn/directory-service.ts'
import { keyForUrl } from '../../src/keys.ts'
import { idToHex } from '../../src/overlay/ring-id.ts'
import { SOURCE_HEADER } from '../../src/ring-cdn.ts'
import { CHUNK_SIZE } from '../../src/storage/content-store.ts'
import { bytesOf, sri, startOrigin } from '../fixtures/origin-server.ts'
import { TestStore, bodyBytes, createRing, homeIndex, stopAll, waitForRing } from './cdn-fixtures.ts'
import { waitFor } from './fixtures.ts'
import type { CdnNode } from './cdn-fixtures.ts'
import type { Provenance } from '../../src/storage/content-store.ts'
import type { Origin } from '../fixtures/origin-server.ts'

const NODES = 8
const ATTACKER = 7
/** The one node that accepts peer bytes without a trusted digest */
const TOFU = 6
/** Manifest-listed candidate paths for the home-copy test; it takes the first whose home suits it */
const CANDIDATES = 32
/**
 * How long the attack tests give a home node to copy the attacker's object
 * (a copy takes milliseconds here). The home must never copy it, so a slow
 * machine can only make this check weaker, never make it fail.
 */
const COPY_GRACE_MS = 2_000

describe('ringcdn provenance: bytes a page delivers to itself were vouched for by a trusted source', function () {
  this.timeout(60_000)

  let origin: Origin
  let nodes: CdnNode[]
  const stores: TestStore[] = []
  const manifest = { ringcdn: 1 as const, assets: {} as Record<string, string> }
  const manifestAsset = bytesOf(5_000, 21)
  const copyAsset = bytesOf(CHUNK_SIZE + 17, 22)
  let attacker: DirectoryService

  const cdn = (i: number): CdnNode['services']['cdn'] => nodes[i].services.cdn
  const keyHex = (url: string): string => idToHex(keyForUrl(url))
  const hex = (bytes: Uint8Array): string => createHash('sha256').update(bytes).digest('hex')

  before(async () => {
    origin = await startOrigin()
    manifest.assets[origin.url('/js/app.js')] = sri(manifestAsset)
    manifest.assets[origin.url('/p/manifest.js')] = sri(manifestAsset)
    manifest.assets[origin.url('/p/chunked.js')] = sri(manifestAsset)
    manifest.assets[origin.url('/p/shared.js')] = sri(manifestAsset)
    for (let n = 0; n < CANDIDATES; n++) {
      manifest.assets[origin.url(`/p/copy-${n}.png`)] = sri(copyAsset)
    }
    nodes = await createRing(NODES, {
      initFor: (i) => {
        stores[i] = new TestStore()
        return { store: stores[i], manifest, trustOnFirstUse: i === TOFU }
      }
    })
    await waitForRing(nodes)
    // the attacker speaks the directory protocol itself (its own page's directory is replaced)
    const ring = cdn(ATTACKER).ring
    if (ring == null) {
      throw new Error('the attacker has no ring node')
    }
    attacker = new DirectoryService({ ring, random: { next: () => 0.5 } })
  })

  after(async () => {
    await stopAll(nodes ?? [])
    await origin?.close()
  })

  it('never serves an attacker\'s bytes to the home node\'s own fetch: a URL outside the manifest whose origin sends Repr-Digest', async () => {
    await attackAndFetchAtHome(true)
  })

  it('never serves an attacker\'s bytes to the home node\'s own fetch: a query variant of a manifest asset', async () => {
    await attackAndFetchAtHome(false)
  })

  /** The attack of issue 16, then the home node's own fetches of the key */
  async function attackAndFetchAtHome (outside: boolean): Promise<void> {
    const path = outside
      ? firstPath(n => `/config-${n}.json`, home => home !== ATTACKER && home !== TOFU)
      : firstPath(n => `/js/app.js?v=${n}`, home => home !== ATTACKER && home !== TOFU)
    const real = outside ? bytesOf(3_000, 23) : manifestAsset
    if (outside) {
      origin.set(path, { body: real, contentType: 'application/json', reprDigest: true })
    } else {
      // the origin serves the manifest asset whatever the query, without a digest header
      origin.set('/js/app.js', { body: real, contentType: 'application/javascript' })
    }
    const url = origin.url(path)
    const key = keyForUrl(url)
    const home = homeOf(url)
    const evil = bytesOf(real.byteLength, 99)
    const before = cdn(home).getStats()

    // the attack: own bytes under the key, one LOCATE, then "I am its only holder"
    await stores[ATTACKER].put({ key: keyHex(url), size: evil.byteLength, chunkSize: CHUNK_SIZE, digest: hex(evil) }, [evil])
    const located = await attacker.locate(key, { timeout: 3_000 })
    expect(located.home.address).to.equal(nodes[home].peerId.toString())
    await attacker.announce(located.home, key, [], { timeout: 3_000 })

    const copied = await settles(() => cdn(home).getStats().homeCopies > before.homeCopies, COPY_GRACE_MS)
    expect(copied, 'the home node copied an object nothing it trusts vouches for').to.be.false()
    expect(await stores[home].getMeta(keyHex(url), { digest: hex(evil) })).to.be.undefined()

    const res = await cdn(home).fetch(url)
    expect(res.headers.get(SOURCE_HEADER)).to.equal('origin')
    expect(hex(await bodyBytes(res))).to.equal(hex(real), 'the attacker\'s bytes were delivered')
    // and the next fetch is answered from the store with the origin's bytes
    const again = await cdn(home).fetch(url)
    expect(again.headers.get(SOURCE_HEADER)).to.equal('local')
    expect(hex(await bodyBytes(again))).to.equal(hex(real), 'the attacker\'s bytes were delivered')
  }

  it('records the digest\'s source for an origin body streamed against a digest (sri, manifest, origin header), and serves it locally after', async () => {
    const cases: Array<{ path: string, provenance: Provenance, integrity?: string, reprDigest?: boolean, body: Uint8Array }> = [
      { path: '/p/manifest.js', provenance: 'manifest', body: manifestAsset },
      { path: '/p/sri.js', provenance: 'sri', body: bytesOf(4_000, 24), integrity: sri(bytesOf(4_000, 24)) },
      { path: '/p/repr.js', provenance: 'origin', body: bytesOf(4_000, 25), reprDigest: true }
    ]
    for (const c of cases) {
      origin.set(c.path, { body: c.body, reprDigest: c.reprDigest })
      const url = origin.url(c.path)
      const res = await cdn(0).fetch(url, { integrity: c.integrity })
      expect(res.headers.get(SOURCE_HEADER)).to.equal('origin', c.path)
      // the body streamed to the caller while it was stored; its end waited for the store
      expect(await bodyBytes(res)).to.equalBytes(c.body)
      expect((await stores[0].getMeta(keyHex(url)))?.provenance).to.equal(c.provenance, c.path)
      // vouched for when stored: served from the store even without the integrity option
      const again = await cdn(0).fetch(url)
      expect(again.headers.get(SOURCE_HEADER)).to.equal('local', c.path)
      expect(await bodyBytes(again)).to.equalBytes(c.body)
      expect(origin.count(c.path)).to.equal(1, c.path)
    }
  })

  it('records the origin for a buffered origin body it hashed itself, and the manifest for one checked against it', async () => {
    const plain = bytesOf(6_000, 26)
    origin.set('/p/plain.json', { body: plain })
    origin.set('/p/chunked.js', { body: manifestAsset, chunked: true })
    for (const [path, provenance, body] of [['/p/plain.json', 'origin', plain], ['/p/chunked.js', 'manifest', manifestAsset]] as const) {
      const url = origin.url(path)
      expect(await bodyBytes(await cdn(1).fetch(url))).to.equalBytes(body)
      expect((await stores[1].getMeta(keyHex(url)))?.provenance).to.equal(provenance, path)
      const again = await cdn(1).fetch(url)
      expect(again.headers.get(SOURCE_HEADER)).to.equal('local', path)
      expect(await bodyBytes(again)).to.equalBytes(body)
    }
  })

  it('records the trusted digest\'s source for a peer download (manifest, origin HEAD), and serves it locally after', async () => {
    const headed = bytesOf(7_000, 27)
    origin.set('/p/shared.js', { body: manifestAsset })
    origin.set('/p/shared.json', { body: headed, reprDigest: true })
    for (const [path, provenance, body] of [['/p/shared.js', 'manifest', manifestAsset], ['/p/shared.json', 'origin', headed]] as const) {
      const url = origin.url(path)
      // neither page may be the key's home: the home takes a copy of its own
      // once the first page announces, and would then answer from its store
      const [first, second] = honestPagesBesides(homeOf(url))
      await bodyBytes(await cdn(first).fetch(url))
      await waitForHolders(second, url)
      const res = await cdn(second).fetch(url)
      expect(res.headers.get(SOURCE_HEADER)).to.equal('peer', path)
      expect(await bodyBytes(res)).to.equalBytes(body)
      expect((await stores[second].getMeta(keyHex(url)))?.provenance).to.equal(provenance, path)
      const again = await cdn(second).fetch(url)
      expect(again.headers.get(SOURCE_HEADER)).to.equal('local', path)
    }
  })

  it('records the manifest for a home copy, and the home node serves its copy to itself', async () => {
    const FETCHER = 4
    const path = firstPath(n => `/p/copy-${n}.png`, home => home !== FETCHER && home !== ATTACKER, CANDIDATES)
    origin.set(path, { body: copyAsset, contentType: 'image/png' })
    const url = origin.url(path)
    const home = homeOf(url)
    const before = cdn(home).getStats().homeCopies
    await bodyBytes(await cdn(FETCHER).fetch(url))
    await waitFor(() => cdn(home).getStats().homeCopies > before, 10_000, 'the home node to copy the object')
    expect((await stores[home].getMeta(keyHex(url)))?.provenance).to.equal('manifest')
    const res = await cdn(home).fetch(url)
    expect(res.headers.get(SOURCE_HEADER)).to.equal('local')
    expect(await bodyBytes(res)).to.equalBytes(copyAsset)
  })

  it('records peer for bytes taken on first use, and never answers a later fetch from them', async () => {
    const body = bytesOf(8_000, 28)
    origin.set('/p/tofu.json', { body })
    const url = origin.url('/p/tofu.json')
    await bodyBytes(await cdn(5).fetch(url))
    expect((await stores[5].getMeta(keyHex(url)))?.provenance).to.equal('origin')
    await waitForHolders(TOFU, url)

    const res = await cdn(TOFU).fetch(url)
    expect(res.headers.get(SOURCE_HEADER)).to.equal('peer')
    expect(await bodyBytes(res)).to.equalBytes(body)
    expect((await stores[TOFU].getMeta(keyHex(url)))?.provenance).to.equal('peer')

    const again = await cdn(TOFU).fetch(url)
    expect(again.headers.get(SOURCE_HEADER)).to.not.equal('local')
    expect(await bodyBytes(again)).to.equalBytes(body)
  })

  /** Index of the home node of `url` (the ring is settled) */
  function homeOf (url: string): number {
    return homeIndex(nodes, url)
  }

  /** Pages that trust no peer digest and are neither the attacker nor `home`, in index order */
  function honestPagesBesides (home: number): number[] {
    return nodes.map((_, i) => i).filter(i => i !== home && i !== ATTACKER && i !== TOFU)
  }

  function firstPath (path: (n: number) => string, wanted: (home: number) => boolean, candidates: number = 1_000): string {
    for (let n = 0; n < candidates; n++) {
      if (wanted(homeOf(origin.url(path(n))))) {
        return path(n)
      }
    }
    throw new Error(`no candidate path ${path(0)} has a suitable home node`)
  }

  async function waitForHolders (i: number, url: string): Promise<void> {
    const end = Date.now() + 10_000
    while ((await cdn(i).locate(url)).holders.length === 0) {
      if (Date.now() > end) {
        throw new Error(`no holder of ${url} was listed`)
      }
      await new Promise(resolve => setTimeout(resolve, 50))
    }
  }
})

/** Whether `condition` becomes true within `ms` (false otherwise: for things that must not happen) */
async function settles (condition: () => boolean, ms: number): Promise<boolean> {
  const end = Date.now() + ms
  while (!condition()) {
    if (Date.now() > end) {
      return false
    }
    await new Promise(resolve => setTimeout(resolve, 20))
  }
  return true
}
