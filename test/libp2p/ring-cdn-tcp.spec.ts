/**
 * The ringcdn service over real sockets: three nodes on TCP (127.0.0.1),
 * noise, yamux, and an HTTP origin. A multi-chunk asset travels from one
 * page to the next with the credit-based flow control on a real transport.
 * (100 MiB is exercised by `npm run bench:transfer`.)
 */
import { expect } from 'aegir/chai'
import { SOURCE_HEADER } from '../../src/ring-cdn.ts'
import { MemoryContentStore } from '../../src/storage/memory-store.ts'
import { bytesOf, startOrigin } from '../fixtures/origin-server.ts'
import { bodyBytes, createRing, stopAll, waitForRing } from './cdn-fixtures.ts'
import { waitFor } from './fixtures.ts'
import type { CdnNode } from './cdn-fixtures.ts'
import type { Origin } from '../fixtures/origin-server.ts'

const MiB = 1024 * 1024

describe('ringcdn over TCP', function () {
  this.timeout(60_000)

  let origin: Origin
  let nodes: CdnNode[] = []
  const body = bytesOf(16 * MiB + 5, 31)

  before(async () => {
    origin = await startOrigin()
    // the origin vouches for its bytes with Repr-Digest: no manifest needed
    origin.set('/big.bin', { body, reprDigest: true })
    nodes = await createRing(3, {
      transport: 'tcp',
      initFor: () => ({ store: new MemoryContentStore({}, { maxBytes: 64 * MiB }) })
    })
    await waitForRing(nodes)
  })

  after(async () => {
    await stopAll(nodes)
    await origin?.close()
  })

  it('moves a 16 MiB asset from one page to the next, verified chunk by chunk', async () => {
    const url = origin.url('/big.bin')
    const first = await nodes[0].services.cdn.fetch(url)
    expect(first.headers.get(SOURCE_HEADER)).to.equal('origin')
    expect(await bodyBytes(first)).to.equalBytes(body)

    for (const node of nodes.slice(1)) {
      const end = Date.now() + 5_000
      while ((await node.services.cdn.locate(url)).holders.length === 0 && Date.now() < end) {
        await new Promise(resolve => setTimeout(resolve, 50))
      }
      const res = await node.services.cdn.fetch(url)
      expect(res.headers.get(SOURCE_HEADER)).to.equal('peer')
      expect(res.headers.get('content-length')).to.equal(String(body.byteLength))
      expect(await bodyBytes(res)).to.equalBytes(body)
    }
    expect(origin.count('/big.bin')).to.equal(1)
    // a holder counts an upload once the stream has closed on both ends, just after the requester is done
    const uploaded = (): number => nodes.reduce((sum, n) => sum + n.services.cdn.getStats().bytesUploaded, 0)
    await waitFor(() => uploaded() === 2 * body.byteLength, 2_000, 'both uploads to be counted')
  })
})
