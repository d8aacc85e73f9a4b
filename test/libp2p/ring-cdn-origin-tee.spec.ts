/**
 * The origin tee through the whole service: real libp2p nodes
 * (`@libp2p/memory`), a real HTTP origin on 127.0.0.1 whose body stops half
 * way until the test opens a gate. The caller reads the first bytes while
 * the origin holds the rest; the page announces the object to the ring only
 * once it is stored whole; a second fetch of the key meanwhile waits for the
 * store instead of asking the origin again.
 */
import { expect } from 'aegir/chai'
import { keyForUrl } from '../../src/keys.ts'
import { idToHex } from '../../src/overlay/ring-id.ts'
import { SOURCE_HEADER } from '../../src/ring-cdn.ts'
import { CHUNK_SIZE } from '../../src/storage/content-store.ts'
import { TestDeadlineError, within } from '../fixtures/deadline.ts'
import { bytesOf, sri, startOrigin } from '../fixtures/origin-server.ts'
import { TestStore, bodyBytes, createRing, stopAll, waitForRing } from './cdn-fixtures.ts'
import type { CdnNode } from './cdn-fixtures.ts'
import type { Origin } from '../fixtures/origin-server.ts'

const NODES = 4
/** Bound on every wait, ms */
const WAIT_MS = 10_000

describe('ringcdn origin tee: the caller reads an origin body while it is stored, and the ring hears of it after', function () {
  this.timeout(60_000)

  let origin: Origin
  let nodes: CdnNode[]
  const stores: TestStore[] = []
  const cdn = (i: number): CdnNode['services']['cdn'] => nodes[i].services.cdn

  before(async () => {
    origin = await startOrigin()
    nodes = await createRing(NODES, {
      initFor: (i) => {
        stores[i] = new TestStore()
        return { store: stores[i] }
      }
    })
    await waitForRing(nodes)
  })

  after(async () => {
    await stopAll(nodes ?? [])
    await origin?.close()
  })

  it('answers before the origin has sent the whole body, announces only once stored whole, and a second fetch meanwhile waits for the store', async () => {
    const body = bytesOf(3 * CHUNK_SIZE + 99, 51)
    let open!: () => void
    const until = new Promise<void>(resolve => { open = resolve })
    origin.set('/tee/app.bin', { body, pauseAfter: { bytes: CHUNK_SIZE, until } })
    const url = origin.url('/tee/app.bin')
    const key = idToHex(keyForUrl(url))

    const res = await within(cdn(0).fetch(url, { integrity: sri(body) }), 'the answer')
    expect(res.headers.get(SOURCE_HEADER)).to.equal('origin')
    const reader = (res.body as ReadableStream<Uint8Array>).getReader()
    const first = await within(reader.read(), 'the first bytes')
    expect(first.done).to.equal(false)
    expect(first.value).to.equalBytes(body.subarray(0, first.value?.byteLength))

    // the origin holds the rest back: nothing is stored, the ring lists no holder
    const second = cdn(0).fetch(url, { integrity: sri(body) })
    expect(await stores[0].getMeta(key)).to.equal(undefined)
    expect((await within(cdn(1).locate(url), 'a lookup')).holders).to.deep.equal([])

    open()
    const pieces: Uint8Array[] = [first.value as Uint8Array]
    while (true) {
      const next = await within(reader.read(), 'the rest of the body')
      if (next.done) {
        break
      }
      pieces.push(next.value)
    }
    expect(new Uint8Array(await new Blob(pieces as BlobPart[]).arrayBuffer())).to.equalBytes(body)
    expect(await stores[0].getMeta(key)).to.include({ size: body.byteLength })

    // the fetch that came meanwhile waited for the store rather than asking the origin again
    const again = await within(second, 'the second fetch')
    expect(again.headers.get(SOURCE_HEADER)).to.equal('local')
    expect(await bodyBytes(again)).to.equalBytes(body)
    expect(origin.count('/tee/app.bin')).to.equal(1)

    // and then the ring hears of it
    const end = Date.now() + WAIT_MS
    while ((await cdn(1).locate(url)).holders.length === 0) {
      if (Date.now() > end) {
        throw new TestDeadlineError('the home never listed the page that stored the object')
      }
      await new Promise(resolve => setTimeout(resolve, 50))
    }
    expect((await cdn(1).locate(url)).holders).to.deep.equal([nodes[0].peerId.toString()])
  })
})
