/**
 * A page that loads many assets at once from the one page that holds them:
 * a holder serves each peer two transfers at once and answers BUSY beyond
 * that, so the page asks for no more and waits for its own downloads to
 * free the share, with
 * the origin fetched beside (here a slow one, so the peer wins). Real libp2p
 * nodes, a real origin on loopback.
 */
import { expect } from 'aegir/chai'
import { SOURCE_HEADER } from '../../src/ring-cdn.ts'
import { CHUNK_SIZE } from '../../src/storage/content-store.ts'
import { bytesOf, sri, startOrigin } from '../fixtures/origin-server.ts'
import { TestStore, bodyBytes, createRing, stopAll, waitForRing } from './cdn-fixtures.ts'
import type { CdnNode } from './cdn-fixtures.ts'
import type { Origin } from '../fixtures/origin-server.ts'

const ASSETS = 8
/** The origin's added delay, ms: well beyond a few transfers over loopback */
const SLOW_ORIGIN_MS = 3_000
/** Bound on the home nodes listing the first page as holder of every asset, ms */
const ANNOUNCED_MS = 20_000

class HoldersNotListedError extends Error {
  static name = 'HoldersNotListedError'
  name = 'HoldersNotListedError'
}

describe('ringcdn: many assets at once from one holder (real libp2p)', function () {
  this.timeout(120_000)

  let origin: Origin
  let nodes: CdnNode[] = []
  const paths = Array.from({ length: ASSETS }, (_, i) => `/img/tile-${i}.png`)
  const bodies = paths.map((_, i) => bytesOf(2 * CHUNK_SIZE + 17 * i, 40 + i))

  before(async function () {
    // a distant origin: a fetch that waits for its share races the origin, and the peer wins here
    origin = await startOrigin({ delayMs: SLOW_ORIGIN_MS })
    const manifest = { ringcdn: 1 as const, assets: {} as Record<string, string> }
    paths.forEach((path, i) => {
      origin.set(path, { body: bodies[i], contentType: 'image/png' })
      manifest.assets[origin.url(path)] = sri(bodies[i])
    })
    // no home copies: the first page stays the only holder of every asset
    nodes = await createRing(2, { initFor: () => ({ store: new TestStore(), manifest, homeCopies: false }) })
    await waitForRing(nodes)
  })

  after(async () => {
    await stopAll(nodes)
    await origin?.close()
  })

  it('gets every asset from the one holder, though it serves two at a time', async () => {
    const [first, second] = nodes.map(n => n.services.cdn)
    const seeded = await Promise.all(paths.map(async path => first.fetch(origin.url(path))))
    expect(seeded.map(res => res.headers.get(SOURCE_HEADER))).to.deep.equal(paths.map(() => 'origin'))
    await Promise.all(seeded.map(async res => res.arrayBuffer()))
    const end = Date.now() + ANNOUNCED_MS
    for (const path of paths) {
      while ((await second.locate(origin.url(path))).holders.length === 0) {
        if (Date.now() > end) {
          throw new HoldersNotListedError(`${path}: no holder listed within ${ANNOUNCED_MS} ms`)
        }
        await new Promise(resolve => setTimeout(resolve, 50))
      }
    }

    const all = await Promise.all(paths.map(async path => second.fetch(origin.url(path))))
    const stats = second.getStats()
    expect(all.map(res => res.headers.get(SOURCE_HEADER)), JSON.stringify({ failures: stats.holderFailuresByError, avoided: stats.holdersAvoided, shareWaits: stats.shareWaits })).to.deep.equal(paths.map(() => 'peer'))
    for (const [i, res] of all.entries()) {
      expect(await bodyBytes(res)).to.equalBytes(bodies[i])
    }
    // the page never asked past its share (the holder refused nothing): it waited for its own downloads
    expect(first.getStats().busyRefusals).to.equal(0)
    expect(second.getStats().shareWaits).to.be.at.least(1)
    expect(second.getStats().bytesFromPeers).to.equal(bodies.reduce((sum, b) => sum + b.byteLength, 0))
  })
})
