/**
 * The content transfer protocol between two real libp2p nodes: chunks
 * verified on arrival, refusals, a lying or stalling holder, and no stream
 * left behind.
 */
import { createHash } from 'node:crypto'
import { lpStream } from '@libp2p/utils'
import { expect } from 'aegir/chai'
import { ContentClient } from '../../src/libp2p/content-client.ts'
import { ContentMeta, ContentRequest } from '../../src/libp2p/content-messages.ts'
import { MAX_REQUEST_FRAME_BYTES, MAX_UPLOADS_PER_PEER, contentProtocol } from '../../src/libp2p/content-protocol.ts'
import { ContentServer } from '../../src/libp2p/content-server.ts'
import { libp2pComponents } from '../../src/libp2p/stream-rpc.ts'
import { CHUNK_SIZE } from '../../src/storage/content-store.ts'
import { MemoryContentStore } from '../../src/storage/memory-store.ts'
import { bytesOf } from '../fixtures/origin-server.ts'
import { TestStore } from './cdn-fixtures.ts'
import { DIAL_TIMEOUT, createNode, openStreams, waitFor } from './fixtures.ts'
import type { GetOptions, ObjectInit, ObjectMeta } from '../../src/storage/content-store.ts'
import type { Connection, Libp2p } from '@libp2p/interface'

const PROTOCOL = contentProtocol('test')
const KEY = 'ab'.repeat(32)
const MAX = 64 * 1024 * 1024

const hex = (bytes: Uint8Array): string => createHash('sha256').update(bytes).digest('hex')

function describeObject (body: Uint8Array, chunkSize: number = CHUNK_SIZE): { init: ObjectInit, chunks: Uint8Array[] } {
  const chunks: Uint8Array[] = []
  for (let i = 0; i < body.byteLength; i += chunkSize) {
    chunks.push(body.subarray(i, i + chunkSize))
  }
  return { init: { key: KEY, size: body.byteLength, chunkSize, digest: hex(body), chunkDigests: chunks.map(hex) }, chunks }
}

/** A store that takes a while to say what it holds */
class SlowMetaStore extends TestStore {
  async getMeta (key: string, options?: GetOptions): Promise<ObjectMeta | undefined> {
    await new Promise(resolve => setTimeout(resolve, 20))
    return super.getMeta(key, options)
  }
}

describe('content protocol', function () {
  this.timeout(30_000)

  let holder: Libp2p
  let requester: Libp2p
  let holderStore: TestStore
  let server: ContentServer
  let client: ContentClient
  const body = bytesOf(3 * CHUNK_SIZE + 1000, 41)
  const object = describeObject(body)

  beforeEach(async () => {
    [holder, requester] = await Promise.all([createNode('memory'), createNode('memory')])
    holderStore = new TestStore()
    server = new ContentServer(libp2pComponents(holder), { protocol: PROTOCOL, store: holderStore, stallTimeoutMs: 500 })
    await server.start()
    client = new ContentClient(libp2pComponents(requester), { protocol: PROTOCOL })
    await holderStore.put(object.init, object.chunks)
    await requester.dial(holder.getMultiaddrs(), { signal: AbortSignal.timeout(DIAL_TIMEOUT) })
  })

  afterEach(async () => {
    await server.stop()
    await Promise.all([holder.stop(), requester.stop()])
  })

  const download = async (options: { digest?: string, stallTimeoutMs?: number, maxAssembledBytes?: number } = {}): ReturnType<ContentClient['download']> =>
    client.download(holder.peerId.toString(), KEY, { digest: object.init.digest, maxObjectBytes: MAX, ...options })

  /** Serves `chunks` for the object as the holder (its own digests, as a lying holder would) */
  async function serveInstead (init: ObjectInit, chunks: Uint8Array[]): Promise<void> {
    const store = new TestStore()
    await store.put(init, chunks)
    await server.stop()
    server = new ContentServer(libp2pComponents(holder), { protocol: PROTOCOL, store, stallTimeoutMs: 500 })
    await server.start()
  }

  /** Pulls a download's chunks (expecting `served`) until it fails; the error and how many chunks were handed on */
  async function consume (dl: Awaited<ReturnType<ContentClient['download']>>, served: Uint8Array[] = object.chunks): Promise<{ err?: any, handedOn: number }> {
    let handedOn = 0
    try {
      for await (const chunk of dl.chunks) {
        expect(chunk).to.equalBytes(served[handedOn])
        handedOn++
      }
    } catch (err) {
      return { err, handedOn }
    }
    return { handedOn }
  }

  it('delivers an object chunk by chunk into an atomic put, and leaves no stream open', async () => {
    const store = new MemoryContentStore()
    const dl = await download()
    expect(dl.init).to.include({ size: body.byteLength, digest: object.init.digest })
    expect(dl.init.chunkDigests).to.deep.equal(object.init.chunkDigests)
    await store.put(dl.init, dl.chunks)
    const got = new Uint8Array(body.byteLength)
    let offset = 0
    for await (const piece of store.read(KEY)) {
      got.set(piece, offset)
      offset += piece.byteLength
    }
    expect(got).to.equalBytes(body)
    await waitFor(() => openStreams(holder, PROTOCOL) === 0 && openStreams(requester, PROTOCOL) === 0, 2_000, 'streams to close')
  })

  it('answers not held for an unknown key or another version', async () => {
    await expect(client.download(holder.peerId.toString(), 'cd'.repeat(32), { maxObjectBytes: MAX })).to.eventually.be.rejected.with.property('name', 'NotHeldError')
    await expect(download({ digest: 'ef'.repeat(32) })).to.eventually.be.rejected.with.property('name', 'NotHeldError')
  })

  it('answers busy when its uploads are all taken', async () => {
    await server.stop()
    server = new ContentServer(libp2pComponents(holder), { protocol: PROTOCOL, store: holderStore, maxConcurrentUploads: 0 })
    await server.start()
    await expect(download()).to.eventually.be.rejected.with.property('name', 'HolderBusyError')
    expect(server.busyRefusals).to.equal(1)
  })

  /** Starts `count` downloads at once; the ones admitted (not yet consumed) and the refusals by error name */
  async function burst (count: number): Promise<{ admitted: Array<Awaited<ReturnType<ContentClient['download']>>>, refused: Record<string, number> }> {
    const settled = await Promise.allSettled(Array.from({ length: count }, async () => download()))
    const admitted = settled.flatMap(r => r.status === 'fulfilled' ? [r.value] : [])
    const refused: Record<string, number> = {}
    for (const r of settled) {
      if (r.status === 'rejected') {
        refused[r.reason.name] = (refused[r.reason.name] ?? 0) + 1
      }
    }
    return { admitted, refused }
  }

  it('admits no more uploads than its cap when requests arrive together, although the store answers slowly', async () => {
    await server.stop()
    // a store whose answers take a while: every request is being admitted at the same moment
    const slow = new SlowMetaStore()
    await slow.put(object.init, object.chunks)
    server = new ContentServer(libp2pComponents(holder), { protocol: PROTOCOL, store: slow, maxConcurrentUploads: 8, maxUploadsPerPeer: 64 })
    await server.start()
    const { admitted, refused } = await burst(40)
    expect(admitted).to.have.lengthOf(8)
    expect(refused).to.deep.equal({ HolderBusyError: 32 })
    for (const dl of admitted) {
      expect((await consume(dl)).err).to.equal(undefined)
    }
    await waitFor(() => server.uploads === 0, 5_000, 'every upload slot to be given back')
  })

  it('serves one requester no more than its share at once, and the next request once one has finished', async () => {
    const { admitted, refused } = await burst(10)
    expect(admitted).to.have.lengthOf(MAX_UPLOADS_PER_PEER)
    expect(refused).to.deep.equal({ HolderBusyError: 10 - MAX_UPLOADS_PER_PEER })
    for (const dl of admitted) {
      expect((await consume(dl)).err).to.equal(undefined)
    }
    await waitFor(() => server.uploads === 0, 5_000, 'every upload slot to be given back')
    const again = await download()
    expect((await consume(again)).err).to.equal(undefined)
  })

  it('follows a cap changed at run time (a hidden page\'s budget): uploads in flight finish, new ones beyond it are busy', async () => {
    await server.stop()
    let limit: number | undefined
    server = new ContentServer(libp2pComponents(holder), { protocol: PROTOCOL, store: holderStore, uploadLimit: () => limit })
    await server.start()
    const before = await burst(4)
    expect(before.admitted).to.have.lengthOf(MAX_UPLOADS_PER_PEER)

    // the page is hidden now: its two uploads in flight are not cut, a third is busy
    limit = 1
    await expect(download()).to.eventually.be.rejected.with.property('name', 'HolderBusyError')
    for (const dl of before.admitted) {
      expect((await consume(dl)).err).to.equal(undefined)
    }
    await waitFor(() => server.uploads === 0, 5_000, 'every upload slot to be given back')

    // within the budget: one at a time, the per-peer share shrinks with it
    const hidden = await burst(3)
    expect(hidden.admitted).to.have.lengthOf(1)
    expect(hidden.refused).to.deep.equal({ HolderBusyError: 2 })
    expect((await consume(hidden.admitted[0])).err).to.equal(undefined)
    await waitFor(() => server.uploads === 0, 5_000, 'the budget\'s slot to be given back')

    limit = undefined
    const visible = await burst(4)
    expect(visible.admitted).to.have.lengthOf(MAX_UPLOADS_PER_PEER)
    for (const dl of visible.admitted) {
      expect((await consume(dl)).err).to.equal(undefined)
    }
  })

  it('stops at the first chunk that does not match its digest', async () => {
    holderStore.poison = true
    const dl = await download()
    const store = new MemoryContentStore()
    const err = await store.put(dl.init, dl.chunks).catch(e => e)
    expect(err).to.have.property('name', 'IntegrityError')
    expect(err.message).to.include('chunk 0')
    expect(await store.has(KEY)).to.be.false()
  })

  it('catches a bad chunk in the middle at that chunk and hands on only the chunks before it', async () => {
    const chunks = object.chunks.map(c => c.slice())
    chunks[2][100] ^= 0x01
    // the holder's chunk digests describe the good bytes: chunk 2 is the liar
    await serveInstead(object.init, chunks)
    const { err, handedOn } = await consume(await download())
    expect(err).to.have.property('name', 'IntegrityError')
    expect(err.message).to.include('chunk 2')
    expect(err.source).to.equal('peer')
    expect(handedOn).to.equal(2)
  })

  it('hands on the last chunk only once the whole object matched', async () => {
    // consistent chunk digests for other bytes in the last chunk: only the whole digest can tell
    const chunks = object.chunks.map(c => c.slice())
    chunks[3][0] ^= 0x01
    await serveInstead({ ...object.init, chunkDigests: chunks.map(hex) }, chunks)
    const { err, handedOn } = await consume(await download(), chunks)
    expect(err).to.have.property('name', 'IntegrityError')
    expect(err.message).to.include('hashes to')
    expect(handedOn).to.equal(3)
  })

  it('assembles a small object in one buffer and the store may keep it uncopied', async () => {
    const dl = await download()
    const seen: Uint8Array[] = []
    const store = new MemoryContentStore()
    await store.put(dl.init, (async function * () {
      for await (const chunk of dl.chunks) {
        seen.push(chunk)
        yield chunk
      }
    })(), { handOver: true })
    expect(new Set(seen.map(c => c.buffer)).size).to.equal(1)
    expect(seen[0].buffer.byteLength).to.equal(body.byteLength)
    const got = await store.getChunk(KEY, 1, { readOnly: true })
    expect(got?.buffer).to.equal(seen[0].buffer)
    expect(got).to.equalBytes(object.chunks[1])
  })

  it('streams an object larger than it assembles, chunk by chunk, with the same checks', async () => {
    const dl = await download({ maxAssembledBytes: CHUNK_SIZE })
    const seen: Uint8Array[] = []
    const store = new MemoryContentStore()
    await store.put(dl.init, (async function * () {
      for await (const chunk of dl.chunks) {
        seen.push(chunk)
        yield chunk
      }
    })(), { handOver: true })
    expect(new Set(seen.map(c => c.buffer)).size).to.equal(seen.length)
    const got = new Uint8Array(body.byteLength)
    let offset = 0
    for await (const piece of store.read(KEY)) {
      got.set(piece, offset)
      offset += piece.byteLength
    }
    expect(got).to.equalBytes(body)

    const bad = object.chunks.map(c => c.slice())
    bad[1][7] ^= 0x80
    await serveInstead(object.init, bad)
    const chunkFailure = await consume(await download({ maxAssembledBytes: CHUNK_SIZE }))
    expect(chunkFailure.err).to.have.property('name', 'IntegrityError')
    expect(chunkFailure.err.message).to.include('chunk 1')
    expect(chunkFailure.handedOn).to.equal(1)

    await serveInstead({ ...object.init, chunkDigests: bad.map(hex) }, bad)
    const wholeFailure = await consume(await download({ maxAssembledBytes: CHUNK_SIZE }), bad)
    expect(wholeFailure.err).to.have.property('name', 'IntegrityError')
    expect(wholeFailure.err.message).to.include('hashes to')
  })

  it('refuses an object whose whole digest is not the one asked for', async () => {
    // a holder that serves consistent chunk digests for other bytes under the asked-for digest
    const other = bytesOf(body.byteLength, 42)
    const forged = describeObject(other)
    const lying = new TestStore()
    await lying.put({ ...forged.init, digest: object.init.digest }, forged.chunks)
    await server.stop()
    server = new ContentServer(libp2pComponents(holder), { protocol: PROTOCOL, store: lying })
    await server.start()
    const dl = await download()
    const err = await new MemoryContentStore().put(dl.init, dl.chunks).catch(e => e)
    expect(err).to.have.property('name', 'IntegrityError')
    expect(err.source).to.equal('peer')
  })

  it('reaches a holder whose connection it still takes for open: the stream is tried once more, on a new connection', async () => {
    const [stale] = requester.getConnections(holder.peerId)
    // the holder drops the connection; the requester has not heard yet when it starts the download
    holder.getConnections(requester.peerId)[0].abort(new Error('the holder closed the connection'))
    expect(stale.status).to.equal('open')
    const dl = await download()
    const store = new MemoryContentStore()
    await store.put(dl.init, dl.chunks)
    expect(await store.has(KEY)).to.equal(true)
    const now = requester.getConnections(holder.peerId)
    expect(now.map(c => c.id)).to.not.include(stale.id)
  })

  it('tries the stream again on a new connection when the one it failed on still counts as open', async () => {
    const [first] = requester.getConnections(holder.peerId)
    // In Chromium a data channel can close before it opens while its connection stays open; the memory
    // transport has no such failure, so this one real connection is made to fail its next stream
    let failed = 0
    first.newStream = async () => {
      failed++
      throw new Error('the data channel closed before it opened')
    }
    const dl = await download()
    const store = new MemoryContentStore()
    await store.put(dl.init, dl.chunks)
    expect(await store.has(KEY)).to.equal(true)
    expect(failed).to.equal(1)
    // libp2p hands an open connection back when asked for one: only a forced dial gives a second
    expect(first.status).to.equal('open')
    expect(requester.getConnections(holder.peerId).map(c => c.id)).to.include(first.id).and.to.have.lengthOf(2)
  })

  it('leaves time for a second try when a stream never opens, and reaches the holder on a new connection', async () => {
    const [stale] = requester.getConnections(holder.peerId)
    stale.newStream = async () => new Promise(() => {})
    const dl = await client.download(holder.peerId.toString(), KEY, { digest: object.init.digest, maxObjectBytes: MAX, requestTimeoutMs: 2_000 })
    const store = new MemoryContentStore()
    await store.put(dl.init, dl.chunks)
    expect(await store.has(KEY)).to.equal(true)
    expect(requester.getConnections(holder.peerId).map(c => c.id)).to.include(stale.id).and.to.have.lengthOf(2)
  })

  it('gives up at the request deadline when no stream ever opens', async () => {
    // data channels that never open, on a transport that does not honour the abort signal (the
    // memory transport does, so every real connection this client gets is made not to)
    const hang = (connection: Connection): Connection => {
      connection.newStream = async () => new Promise(() => {})
      return connection
    }
    requester.getConnections(holder.peerId).forEach(hang)
    const components = libp2pComponents(requester)
    const hanging = new ContentClient({
      ...components,
      connectionManager: {
        getConnections: peerId => components.connectionManager.getConnections(peerId),
        openConnection: async (peer, options) => hang(await requester.dial(peer, options))
      }
    }, { protocol: PROTOCOL })
    const err = await hanging.download(holder.peerId.toString(), KEY, { digest: object.init.digest, maxObjectBytes: MAX, requestTimeoutMs: 300 }).catch(e => e)
    expect(err).to.have.property('name', 'TransferError')
  })

  it('gives up on a holder that stalls mid-transfer within the stall timeout', async () => {
    holderStore.chunkDelayMs = 5_000
    const dl = await download({ stallTimeoutMs: 300 })
    const err = await new MemoryContentStore().put(dl.init, dl.chunks).catch(e => e)
    // the holder would have sent every chunk within the test's timeout: only the stall deadline fails it
    expect(err).to.have.property('name', 'TransferError')
  })

  it('refuses objects larger than the requester accepts, and the holder reads and sends no chunk of them', async () => {
    holderStore.chunksRead = 0
    await expect(client.download(holder.peerId.toString(), KEY, { digest: object.init.digest, maxObjectBytes: 1000 }))
      .to.eventually.be.rejected.with.property('name', 'ObjectSizeError')
    expect(holderStore.chunksRead).to.equal(0)
    expect(server.uploads).to.equal(0)
  })
  it('resets a stream whose request frame is longer than a request can be, before answering it, and serves the next request', async () => {
    const signal = AbortSignal.timeout(10_000)
    /** A well-formed request padded with an unknown field (a decoder skips it) to `bytes` */
    const padded = (bytes: number): Uint8Array => {
      const request = ContentRequest.encode({ key: Uint8Array.from(Buffer.from(KEY, 'hex')), digest: new Uint8Array(0), window: 8, maxSize: 0 })
      const filler = bytes - request.byteLength - 4
      // field 15, length-delimited: tag 0x7a, then the length as a 3-byte varint
      const field = Uint8Array.from([0x7a, (filler & 0x7f) | 0x80, ((filler >> 7) & 0x7f) | 0x80, filler >> 14])
      return Uint8Array.from([...request, ...field, ...new Uint8Array(filler)])
    }
    const ask = async (frame: Uint8Array): Promise<ContentMeta> => {
      const stream = await requester.dialProtocol(holder.peerId, PROTOCOL, { signal })
      const lp = lpStream(stream, { maxDataLength: 8 * 1024 * 1024 })
      await lp.write(frame, { signal })
      const meta = ContentMeta.decode((await lp.read({ signal })).subarray())
      stream.abort(new Error('done'))
      return meta
    }

    // the same request just under the bound is served: the padding alone is refused
    expect((await ask(padded(MAX_REQUEST_FRAME_BYTES))).status).to.equal(ContentMeta.Status.OK)
    await expect(ask(padded(64 * 1024))).to.eventually.be.rejected()
    await waitFor(() => server.uploads === 0, 5_000, 'the holder to release its upload slots')
    const dl = await download()
    await new MemoryContentStore().put(dl.init, dl.chunks)
  })
})
