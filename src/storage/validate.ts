/**
 * Checks shared by every `ContentStore`: the shape of an object description,
 * the chunks handed to `put`, byte ranges, and aborting. Keeping them in one
 * place is what makes the implementations agree on every edge case the
 * compliance suite probes.
 */
import { AbortError } from '@libp2p/interface'
import { raceSignal } from 'race-signal'
import { chunkCount, chunkLength } from './chunks.ts'
import { InvalidObjectError, InvalidRangeError, ObjectTooLargeError } from './errors.ts'
import type { ChunkSource, ObjectInit, ObjectMeta, Provenance, ReadOptions } from './content-store.ts'

const HEX_DIGEST = /^[0-9a-f]{64}$/
const PROVENANCES = new Set<unknown>(['sri', 'manifest', 'origin', 'peer'] satisfies Provenance[])

function isHexDigest (value: unknown): value is string {
  return typeof value === 'string' && HEX_DIGEST.test(value)
}

function isSize (value: unknown): value is number {
  return typeof value === 'number' && Number.isSafeInteger(value) && value >= 0
}

/**
 * Validates an object description against the store's bound and returns a
 * copy holding only the known fields, so nothing the caller attached (or
 * mutates later) ends up persisted.
 */
export function validateObjectInit (init: ObjectInit, maxBytes: number): ObjectInit {
  if (init == null || typeof init !== 'object') {
    throw new InvalidObjectError('object description missing')
  }
  if (!isHexDigest(init.key)) {
    throw new InvalidObjectError('key must be 64 lowercase hex characters (SHA-256 of the normalised URL)')
  }
  if (!isHexDigest(init.digest)) {
    throw new InvalidObjectError(`digest of ${init.key} must be 64 lowercase hex characters (SHA-256)`)
  }
  if (!isSize(init.size)) {
    throw new InvalidObjectError(`size of ${init.key} must be a non-negative integer, got ${init.size}`)
  }
  if (!isSize(init.chunkSize) || init.chunkSize === 0) {
    throw new InvalidObjectError(`chunk size of ${init.key} must be a positive integer, got ${init.chunkSize}`)
  }
  if (init.contentType != null && typeof init.contentType !== 'string') {
    throw new InvalidObjectError(`content type of ${init.key} must be a string`)
  }
  if (init.provenance != null && !PROVENANCES.has(init.provenance)) {
    throw new InvalidObjectError(`provenance of ${init.key} must be one of ${[...PROVENANCES].join(', ')}, got ${String(init.provenance)}`)
  }

  const out: ObjectInit = {
    key: init.key,
    size: init.size,
    chunkSize: init.chunkSize,
    digest: init.digest
  }

  if (init.chunkDigests != null) {
    const expected = chunkCount(init.size, init.chunkSize)

    if (!Array.isArray(init.chunkDigests) || init.chunkDigests.length !== expected || !init.chunkDigests.every(isHexDigest)) {
      throw new InvalidObjectError(`chunk digests of ${init.key} must be ${expected} SHA-256 digests as 64 lowercase hex characters`)
    }

    out.chunkDigests = [...init.chunkDigests]
  }

  if (init.contentType != null) {
    out.contentType = init.contentType
  }
  if (init.provenance != null) {
    out.provenance = init.provenance
  }

  // checked last so a malformed description is reported as such, whatever its size
  if (init.size > maxBytes) {
    throw new ObjectTooLargeError(`object ${init.key} is ${init.size} bytes, the store holds at most ${maxBytes}`)
  }

  return out
}

/** Deep copy of a description, so callers cannot mutate what the store holds */
export function copyMeta (meta: ObjectMeta): ObjectMeta {
  const out: ObjectMeta = {
    key: meta.key,
    size: meta.size,
    chunkSize: meta.chunkSize,
    digest: meta.digest,
    storedAt: meta.storedAt
  }

  if (meta.chunkDigests != null) {
    out.chunkDigests = [...meta.chunkDigests]
  }
  if (meta.contentType != null) {
    out.contentType = meta.contentType
  }
  if (meta.provenance != null) {
    out.provenance = meta.provenance
  }

  return out
}

/** Whether a stored object satisfies a `digest` restriction */
export function matchesDigest (meta: { digest: string }, digest?: string): boolean {
  return digest == null || meta.digest === digest
}

/** Whether `index` names a chunk of the object */
export function isChunkIndex (meta: { size: number, chunkSize: number }, index: number): boolean {
  return Number.isSafeInteger(index) && index >= 0 && index < chunkCount(meta.size, meta.chunkSize)
}

/**
 * Resolves `read` options against an object's size: the range starts at
 * `offset` and is cut at the end of the object
 */
export function resolveRange (size: number, options: ReadOptions): { offset: number, length: number } {
  const offset = options.offset ?? 0

  if (!isSize(offset)) {
    throw new InvalidRangeError(`offset must be a non-negative integer, got ${offset}`)
  }
  if (options.length != null && !isSize(options.length)) {
    throw new InvalidRangeError(`length must be a non-negative integer, got ${options.length}`)
  }
  if (offset > size) {
    throw new InvalidRangeError(`offset ${offset} is past the end of the object (${size} bytes)`)
  }

  return { offset, length: Math.min(options.length ?? size - offset, size - offset) }
}

/** Throws `AbortError` if the signal has fired */
export function throwIfAborted (signal?: AbortSignal): void {
  if (signal?.aborted === true) {
    throw new AbortError()
  }
}

/** A plain `Uint8Array` owning exactly its bytes (a Node `Buffer.slice` would share memory) */
export function copyBytes (bytes: Uint8Array): Uint8Array {
  const out = new Uint8Array(bytes.byteLength)
  out.set(bytes)
  return out
}

/** Whether `bytes` is a plain `Uint8Array` spanning its whole buffer */
function ownsBuffer (bytes: Uint8Array): boolean {
  return bytes.constructor === Uint8Array && bytes.byteOffset === 0 && bytes.byteLength === bytes.buffer.byteLength
}

export interface ValidatedChunksOptions {
  signal?: AbortSignal
  /**
   * `'always'` copies every chunk (a store that keeps the arrays themselves);
   * `'views'` copies only chunks that are views into a larger buffer, because
   * structured clone (IndexedDB) would otherwise persist the whole buffer;
   * `'never'` copies nothing (chunks handed over, `PutOptions.handOver`)
   */
  copy: 'always' | 'views' | 'never'
}

/**
 * Pulls chunks from `source` one at a time, checking each against the
 * description as it arrives (so a bad source is refused at the first wrong
 * chunk, without reading on) and the count at the end. Stops the source when
 * it stops early.
 */
export async function * validatedChunks (init: ObjectInit, source: ChunkSource, options: ValidatedChunksOptions): AsyncGenerator<Uint8Array, void, undefined> {
  const expected = chunkCount(init.size, init.chunkSize)
  const iterator: AsyncIterator<Uint8Array> | Iterator<Uint8Array> = Symbol.asyncIterator in source
    ? source[Symbol.asyncIterator]()
    : source[Symbol.iterator]()
  let index = 0
  let finished = false

  try {
    while (true) {
      // a chunk source that never yields cannot hold a put forever
      const result = await raceSignal(Promise.resolve(iterator.next()), options.signal, { translateError: () => new AbortError() })

      if (result.done === true) {
        finished = true
        break
      }

      const chunk: unknown = result.value

      if (!(chunk instanceof Uint8Array)) {
        throw new InvalidObjectError(`chunk ${index} of ${init.key} is not a Uint8Array`)
      }
      if (index >= expected) {
        throw new InvalidObjectError(`${init.key} has ${expected} chunks of ${init.chunkSize} bytes for ${init.size} bytes, the source gave more`)
      }

      const length = chunkLength(init.size, init.chunkSize, index)

      if (chunk.byteLength !== length) {
        throw new InvalidObjectError(`chunk ${index} of ${init.key} is ${chunk.byteLength} bytes, expected ${length}`)
      }

      yield options.copy === 'always' || (options.copy === 'views' && !ownsBuffer(chunk)) ? copyBytes(chunk) : chunk
      index++
    }
  } finally {
    if (!finished) {
      // tell the producer nobody will read on (closes a fetch body, a stream);
      // its own failure to close is not ours to report
      void Promise.resolve()
        .then(async () => iterator.return?.())
        .catch(() => {})
    }
  }

  if (index !== expected) {
    throw new InvalidObjectError(`${init.key} has ${expected} chunks of ${init.chunkSize} bytes for ${init.size} bytes, the source gave ${index}`)
  }
}
