/**
 * The upload policy on real libp2p nodes (`@libp2p/memory`, noise, yamux) and
 * a real HTTP origin: a paused holder refuses, so the requester goes on (here:
 * to the origin); a consume-only node never becomes a holder.
 */
import { expect } from 'aegir/chai'
import { SOURCE_HEADER } from '../src/ring-cdn.ts'
import { bytesOf, sri, startOrigin } from './fixtures/origin-server.ts'
import { bodyBytes, createRing, stopAll, waitForRing } from './libp2p/cdn-fixtures.ts'
import { waitFor } from './libp2p/fixtures.ts'
import type { Origin } from './fixtures/origin-server.ts'
import type { CdnNode } from './libp2p/cdn-fixtures.ts'

const CONSUMER = 3

describe('upload policy on a libp2p ring', function () {
  this.timeout(60_000)

  let origin: Origin
  let nodes: CdnNode[]
  const manifest = { ringcdn: 1 as const, assets: {} as Record<string, string> }
  const assets: Record<string, Uint8Array> = {
    '/paused.js': bytesOf(70_000, 41),
    '/consumed.js': bytesOf(5_000, 42),
    '/control.js': bytesOf(5_000, 43)
  }
  const cdn = (i: number): CdnNode['services']['cdn'] => nodes[i].services.cdn

  before(async () => {
    origin = await startOrigin()
    for (const [path, body] of Object.entries(assets)) {
      origin.set(path, { body, contentType: 'application/javascript' })
      manifest.assets[origin.url(path)] = sri(body)
    }
    nodes = await createRing(4, {
      // no home copies: these tests count who holds what, and a home node's copy would be one more
      initFor: (i) => ({ manifest, uploadPolicy: i === CONSUMER ? 'never' : 'auto', homeCopies: false })
    })
    await waitForRing(nodes)
  })

  after(async () => {
    await stopAll(nodes ?? [])
    await origin?.close()
  })

  /** Polls the home node until it lists `min` holders of `url` (bounded) */
  async function holders (from: number, url: string, min: number, timeout = 5_000): Promise<string[]> {
    const end = Date.now() + timeout
    while (true) {
      const res = await cdn(from).locate(url)
      if (res.holders.length >= min || Date.now() > end) {
        return res.holders
      }
      await new Promise(resolve => setTimeout(resolve, 50))
    }
  }

  it('a node in Node.js uploads under "auto": no browser signal pauses it', () => {
    expect(cdn(0).uploadsPaused).to.be.false()
    expect(cdn(0).uploadState).to.deep.equal({ upload: true })
    expect(cdn(CONSUMER).uploadState).to.deep.equal({ upload: false, reason: 'never' })
  })

  it('a paused holder refuses, the requester falls back, and after resuming it serves again', async () => {
    const url = origin.url('/paused.js')
    const first = await cdn(0).fetch(url)
    expect(first.headers.get(SOURCE_HEADER)).to.equal('origin')
    await bodyBytes(first)
    expect(await holders(1, url, 1)).to.deep.equal([nodes[0].peerId.toString()])

    cdn(0).pauseUploads()
    expect(cdn(0).uploadState).to.deep.equal({ upload: false, reason: 'custom' })
    const second = await cdn(1).fetch(url)
    expect(second.headers.get(SOURCE_HEADER)).to.equal('origin')
    expect(await bodyBytes(second)).to.equalBytes(assets['/paused.js'])
    expect(origin.count('/paused.js')).to.equal(2)
    expect(cdn(0).getStats().uploads).to.equal(0)

    cdn(0).resumeUploads()
    // node 1 holds it now too; stop it serving so the peer answer can only come from node 0
    cdn(1).pauseUploads()
    const third = await cdn(2).fetch(url)
    expect(third.headers.get(SOURCE_HEADER)).to.equal('peer')
    expect(await bodyBytes(third)).to.equalBytes(assets['/paused.js'])
    // the holder counts the upload once both ends have closed the stream
    await waitFor(() => cdn(0).getStats().uploads === 1, 2_000, 'node 0 to count its upload')
    expect(origin.count('/paused.js')).to.equal(2)
    cdn(1).resumeUploads()
  })

  it('a consume-only node is never listed as a holder and never uploads', async () => {
    const consumed = origin.url('/consumed.js')
    const control = origin.url('/control.js')
    const res = await cdn(CONSUMER).fetch(consumed)
    expect(res.headers.get(SOURCE_HEADER)).to.equal('origin')
    expect(await bodyBytes(res)).to.equalBytes(assets['/consumed.js'])
    // a normal node's announce, started later, arrives: the consumer's would have by now
    await bodyBytes(await cdn(0).fetch(control))
    expect(await holders(1, control, 1)).to.have.lengthOf(1)
    expect(await holders(1, consumed, 1, 0)).to.deep.equal([])

    // and its own later fetch is local, while another node still goes to the origin
    expect((await cdn(CONSUMER).fetch(consumed)).headers.get(SOURCE_HEADER)).to.equal('local')
    expect((await cdn(1).fetch(consumed)).headers.get(SOURCE_HEADER)).to.equal('origin')
    expect(cdn(CONSUMER).getStats().uploads).to.equal(0)
  })
})
