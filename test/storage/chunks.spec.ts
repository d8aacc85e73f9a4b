import { expect } from 'aegir/chai'
import { Uint8ArrayList } from 'uint8arraylist'
import { chunkCount, chunkLength, chunkSlices, rechunk } from '../../src/storage/chunks.ts'
import { makeBytes } from './content-store-compliance.ts'

async function all<T> (source: AsyncIterable<T>): Promise<T[]> {
  const out: T[] = []
  for await (const item of source) {
    out.push(item)
  }
  return out
}

/** Walks the range byte by byte, noting for each chunk the first and past-the-last byte touched */
function bruteForceSlices (chunkSize: number, offset: number, length: number): number[][] {
  const slices = new Map<number, [number, number]>()

  for (let byte = offset; byte < offset + length; byte++) {
    const index = Math.floor(byte / chunkSize)
    const within = byte % chunkSize
    const [start] = slices.get(index) ?? [within]
    slices.set(index, [start, within + 1])
  }

  return [...slices].map(([index, [start, end]]) => [index, start, end])
}

describe('chunk geometry', function () {
  it('counts chunks: the last one may be short, an empty object has none', () => {
    expect(chunkCount(0, 4)).to.equal(0)
    expect(chunkCount(1, 4)).to.equal(1)
    expect(chunkCount(4, 4)).to.equal(1)
    expect(chunkCount(5, 4)).to.equal(2)
    expect(chunkLength(10, 4, 0)).to.equal(4)
    expect(chunkLength(10, 4, 2)).to.equal(2)
    expect(chunkLength(10, 4, 3)).to.equal(0)
  })

  it('slices every range of a small object exactly like a brute-force byte walk', () => {
    for (const chunkSize of [1, 3, 4]) {
      for (let size = 0; size <= 13; size++) {
        for (let offset = 0; offset <= size; offset++) {
          for (let length = 0; offset + length <= size; length++) {
            const actual = [...chunkSlices(chunkSize, offset, length)].map(s => [s.index, s.start, s.end])
            expect(actual).to.deep.equal(bruteForceSlices(chunkSize, offset, length), `size ${size} chunk ${chunkSize} range ${offset}+${length}`)
          }
        }
      }
    }
  })
})

describe('rechunk', function () {
  it('cuts pieces of any size into fixed-size chunks with a short last one', async () => {
    const bytes = makeBytes(10_000, 3)
    const pieces = [bytes.subarray(0, 1), bytes.subarray(1, 5000), new Uint8ArrayList(bytes.subarray(5000, 5001), bytes.subarray(5001, 9999)), bytes.subarray(9999)]
    const chunks = await all(rechunk(pieces, 1024))

    expect(chunks.map(c => c.byteLength)).to.deep.equal([...Array(9).fill(1024), 10_000 - 9 * 1024])
    expect(Buffer.concat(chunks).equals(bytes)).to.equal(true)
  })

  it('yields nothing for an empty body and no short chunk for an exact multiple', async () => {
    expect(await all(rechunk([], 4))).to.deep.equal([])
    expect(await all(rechunk([new Uint8Array(0)], 4))).to.deep.equal([])
    expect((await all(rechunk([new Uint8Array(8)], 4))).map(c => c.byteLength)).to.deep.equal([4, 4])
  })

  it('refuses a chunk size that is not a positive integer', async () => {
    await expect(all(rechunk([new Uint8Array(1)], 0))).to.eventually.be.rejected.with.property('name', 'InvalidObjectError')
  })
})
