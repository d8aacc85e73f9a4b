import { createHash } from 'node:crypto'
import { expect } from 'aegir/chai'
import { chunkCount, rechunk } from '../../src/storage/chunks.ts'
import { CHUNK_SIZE } from '../../src/storage/content-store.ts'
import { MEMORY_STORE_MAX_BYTES, MemoryContentStore } from '../../src/storage/memory-store.ts'
import { contentStoreSuite, makeObject } from './content-store-compliance.ts'

const MiB = 1_048_576

contentStoreSuite({
  name: 'MemoryContentStore',
  create: async ({ maxBytes }) => new MemoryContentStore({}, { maxBytes })
})

/** Deterministic bytes for piece `index` of a large object, cheap to regenerate */
function piece (index: number, length: number): Uint8Array {
  const words = new Uint32Array(Math.ceil(length / 4))

  for (let i = 0; i < words.length; i++) {
    words[i] = Math.imul(index + 1, 2654435761) ^ Math.imul(i, 40503)
  }

  return new Uint8Array(words.buffer, 0, length)
}

/** A 100 MiB body arriving in pieces of an awkward size, like a fetch body */
async function * body (size: number, pieceSize: number, pulled: { pieces: number }): AsyncGenerator<Uint8Array> {
  for (let offset = 0, i = 0; offset < size; offset += pieceSize, i++) {
    pulled.pieces++
    yield piece(i, Math.min(pieceSize, size - offset))
  }
}

describe('MemoryContentStore', function () {
  it('defaults to a 64 MiB bound', async () => {
    const store = new MemoryContentStore()
    expect(MEMORY_STORE_MAX_BYTES).to.equal(64 * MiB)
    expect((await store.stats()).maxBytes).to.equal(MEMORY_STORE_MAX_BYTES)
    await store.close()
  })

  it('refuses a bound that is not a positive integer', () => {
    for (const maxBytes of [0, -1, 1.5, Number.NaN]) {
      expect(() => new MemoryContentStore({}, { maxBytes })).to.throw(RangeError)
    }
  })

  it('discards its contents on close', async () => {
    const store = new MemoryContentStore()
    const object = makeObject('x', 10)
    await store.put(object.init, object.chunks)
    await store.close()

    const reopened = new MemoryContentStore()
    expect(await reopened.has(object.init.key)).to.equal(false)
    await reopened.close()
  })

  it('keeps handed-over chunks as they are, and still copies what readers get', async () => {
    const store = new MemoryContentStore()
    const object = makeObject('handed-over', 2 * CHUNK_SIZE + 10, 1, CHUNK_SIZE)
    // one buffer viewed by all chunks, as a content transfer assembles it
    const whole = object.bytes.slice()
    const views = object.chunks.map((c, i) => whole.subarray(i * CHUNK_SIZE, i * CHUNK_SIZE + c.byteLength))
    await store.put(object.init, views, { handOver: true })

    const kept = await store.getChunk(object.init.key, 1, { readOnly: true })
    expect(kept?.buffer).to.equal(whole.buffer, 'copied a handed-over chunk')
    expect(kept).to.equalBytes(object.chunks[1])

    // an ordinary getChunk and a read are the caller's to change
    const copy = await store.getChunk(object.init.key, 1)
    expect(copy?.buffer).to.not.equal(whole.buffer)
    copy?.fill(0)
    for await (const piece of store.read(object.init.key, { offset: CHUNK_SIZE, length: 10 })) {
      piece.fill(0)
    }
    expect(await store.getChunk(object.init.key, 1)).to.equalBytes(object.chunks[1])
    await store.close()
  })

  it('copies chunks that are not handed over, even for a read-only get', async () => {
    const store = new MemoryContentStore()
    const object = makeObject('not-handed-over', CHUNK_SIZE + 10, 1, CHUNK_SIZE)
    const chunks = object.chunks.map(c => c.slice())
    await store.put(object.init, chunks)
    chunks[0].fill(0)
    const got = await store.getChunk(object.init.key, 0, { readOnly: true })
    expect(got?.buffer).to.not.equal(chunks[0].buffer)
    expect(got).to.equalBytes(object.chunks[0])
    await store.close()
  })

  it('streams a 100 MiB object through in 256 KiB chunks, from an odd-sized body to ranged reads', async function () {
    this.timeout(120_000)
    const size = 100 * MiB
    const pieceSize = 100_003
    const expectedDigest = await (async () => {
      const hash = createHash('sha256')
      for await (const p of body(size, pieceSize, { pieces: 0 })) {
        hash.update(p)
      }
      return hash.digest('hex')
    })()

    const store = new MemoryContentStore({}, { maxBytes: size })
    const key = makeObject('video.mp4', 0).init.key
    const pulled = { pieces: 0 }
    const hash = createHash('sha256')
    let chunksGiven = 0

    // the body is pulled one piece at a time as the store takes chunks: at
    // no point does anything hold the object in one buffer
    async function * chunks (): AsyncGenerator<Uint8Array> {
      for await (const chunk of rechunk(body(size, pieceSize, pulled), CHUNK_SIZE)) {
        expect(chunk.byteLength).to.be.at.most(CHUNK_SIZE)
        expect(await store.has(key)).to.equal(false, 'visible before the put committed')
        // lazily pulled: never more than the pieces needed for the chunks so far plus one
        expect(pulled.pieces).to.be.at.most(Math.ceil((chunksGiven + 1) * CHUNK_SIZE / pieceSize) + 1)
        hash.update(chunk)
        chunksGiven++
        yield chunk
      }
    }

    const meta = await store.put({ key, size, chunkSize: CHUNK_SIZE, digest: expectedDigest, contentType: 'video/mp4' }, chunks())
    expect(chunksGiven).to.equal(chunkCount(size, CHUNK_SIZE)).and.to.equal(400)
    expect(hash.digest('hex')).to.equal(expectedDigest)
    expect(meta.size).to.equal(size)
    expect(await store.stats()).to.deep.equal({ objects: 1, bytes: size, maxBytes: size })

    // whole read: 400 pieces of one chunk each, hashed as they come
    const readHash = createHash('sha256')
    let pieces = 0
    for await (const p of store.read(key)) {
      expect(p.byteLength).to.equal(CHUNK_SIZE)
      readHash.update(p)
      pieces++
    }
    expect(pieces).to.equal(400)
    expect(readHash.digest('hex')).to.equal(expectedDigest)

    // seeking: the last MiB and a bit touches only the last five chunks
    const lengths: number[] = []
    for await (const p of store.read(key, { offset: size - MiB - 10, length: 2 * MiB })) {
      lengths.push(p.byteLength)
    }
    expect(lengths).to.deep.equal([10, CHUNK_SIZE, CHUNK_SIZE, CHUNK_SIZE, CHUNK_SIZE])

    // a second object evicts the 100 MiB one whole
    const small = makeObject('small', 1_000)
    await store.put(small.init, small.chunks)
    expect(await store.has(key)).to.equal(false)
    expect(await store.stats()).to.deep.equal({ objects: 1, bytes: 1_000, maxBytes: size })
    await store.close()
  })
})
