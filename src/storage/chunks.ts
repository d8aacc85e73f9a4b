/**
 * Chunk geometry shared by the stores and the CDN layer: how an object of
 * `size` bytes splits into chunks of `chunkSize`, which chunks a byte range
 * touches, and turning an arbitrary byte stream (a `fetch` body) into chunks.
 */
import { Uint8ArrayList } from 'uint8arraylist'
import { InvalidObjectError } from './errors.ts'

/** Number of chunks of an object: the last one may be short, an empty object has none */
export function chunkCount (size: number, chunkSize: number): number {
  return Math.ceil(size / chunkSize)
}

/** Length in bytes of chunk `index` (from 0) of an object; 0 past the end */
export function chunkLength (size: number, chunkSize: number, index: number): number {
  return Math.max(0, Math.min(chunkSize, size - index * chunkSize))
}

/** The part of one chunk a byte range covers: bytes `[start, end)` of chunk `index` */
export interface ChunkSlice {
  index: number
  start: number
  end: number
}

/**
 * The chunk slices covering bytes `[offset, offset + length)` of an object, in
 * order. The range must already lie within the object.
 */
export function * chunkSlices (chunkSize: number, offset: number, length: number): Generator<ChunkSlice> {
  const end = offset + length

  if (length <= 0) {
    return
  }

  for (let index = Math.floor(offset / chunkSize); index * chunkSize < end; index++) {
    const base = index * chunkSize
    yield {
      index,
      start: Math.max(offset, base) - base,
      end: Math.min(end, base + chunkSize) - base
    }
  }
}

/**
 * Cuts a byte stream arriving in pieces of any size (a `fetch` body, a libp2p
 * stream) into chunks of exactly `chunkSize` bytes, the last one shorter. Holds
 * at most one chunk plus one piece in memory.
 */
export async function * rechunk (source: AsyncIterable<Uint8Array | Uint8ArrayList> | Iterable<Uint8Array | Uint8ArrayList>, chunkSize: number): AsyncGenerator<Uint8Array, void, undefined> {
  if (!Number.isSafeInteger(chunkSize) || chunkSize <= 0) {
    throw new InvalidObjectError(`chunk size must be a positive integer, got ${chunkSize}`)
  }

  const buffer = new Uint8ArrayList()

  for await (const piece of source) {
    buffer.append(piece)

    while (buffer.byteLength >= chunkSize) {
      yield buffer.slice(0, chunkSize)
      buffer.consume(chunkSize)
    }
  }

  if (buffer.byteLength > 0) {
    yield buffer.slice()
  }
}
