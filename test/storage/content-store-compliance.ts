/**
 * The one compliance suite every `ContentStore` passes: `MemoryContentStore`
 * in Node and `IndexedDbContentStore` in a real Chromium page.
 *
 * Environment-agnostic on purpose (no `node:` imports, no chai, no mocha in
 * the cases): each case is a plain async function that throws on failure, so
 * a browser page can import `contentStoreCases` and `runContentStoreCases`
 * and report the results back to the Node test. `contentStoreSuite` is the
 * thin mocha wrapper for stores that run in Node.
 */
import { sha256 } from '@noble/hashes/sha2.js'
import { bytesToHex } from '@noble/hashes/utils.js'
import { concat } from 'uint8arrays/concat'
import { equals } from 'uint8arrays/equals'
import type { ContentStore, ObjectInit, ReadOptions } from '../../src/storage/content-store.ts'

/** Bound of a case's store unless the case asks for another, in bytes */
const CASE_MAX_BYTES = 16_384

/** Chunk size of the test objects, in bytes */
const CS = 1_024

export interface ContentStoreCase {
  name: string
  /**
   * Bound of the fresh store the case gets, in bytes
   *
   * @default CASE_MAX_BYTES (16 KiB)
   */
  maxBytes?: number
  run(store: ContentStore): Promise<void>
}

export interface ContentStoreFactory {
  /** A fresh, empty store bounded by `maxBytes`; the runner closes it after the case */
  create(init: { maxBytes: number }): Promise<ContentStore>
}

export interface ContentStoreCaseResult {
  name: string
  passed: boolean
  /** `name: message` and stack of the failure */
  error?: string
  /** Informational only: never asserted on */
  durationMs: number
}

// ---------------------------------------------------------------------------
// assertions (tiny on purpose: they must run in a bare browser page)

class CheckFailedError extends Error {
  static name = 'CheckFailedError'
  name = 'CheckFailedError'
}

function check (condition: boolean, message: string): asserts condition {
  if (!condition) {
    throw new CheckFailedError(message)
  }
}

/** JSON with object keys sorted, so equality does not depend on key order */
function canonical (value: unknown): string {
  return JSON.stringify(value, (_key, v: unknown) => {
    if (v == null || typeof v !== 'object' || Array.isArray(v)) {
      return v
    }

    return Object.fromEntries(Object.entries(v).sort(([a], [b]) => a < b ? -1 : 1))
  })
}

function checkEqual<T> (actual: T, expected: T, what: string): void {
  const a = canonical(actual)
  const e = canonical(expected)
  check(a === e, `${what}: expected ${e}, got ${a}`)
}

function checkBytes (actual: Uint8Array | undefined, expected: Uint8Array, what: string): void {
  check(actual != null, `${what}: expected ${expected.byteLength} bytes, got undefined`)
  check(actual.byteLength === expected.byteLength, `${what}: expected ${expected.byteLength} bytes, got ${actual.byteLength}`)
  check(equals(actual, expected), `${what}: bytes differ`)
}

/** Runs `fn` and returns the error it throws, failing if it throws none or one of another name */
async function checkRejects (fn: () => Promise<unknown>, name: string, what: string): Promise<Error> {
  try {
    await fn()
  } catch (err: any) {
    check(err?.name === name, `${what}: expected ${name}, got ${err?.name}: ${err?.message}`)
    return err
  }

  throw new CheckFailedError(`${what}: expected ${name}, but it succeeded`)
}

// ---------------------------------------------------------------------------
// test objects

function hex (bytes: Uint8Array): string {
  return bytesToHex(sha256(bytes))
}

/** Deterministic pseudo-random bytes (xorshift32), different for each seed */
export function makeBytes (size: number, seed: number): Uint8Array {
  const out = new Uint8Array(size)
  let x = (seed * 2654435761) >>> 0 || 1

  for (let i = 0; i < size; i++) {
    x ^= x << 13
    x >>>= 0
    x ^= x >>> 17
    x ^= x << 5
    x >>>= 0
    out[i] = x & 0xff
  }

  return out
}

export interface TestObject {
  init: ObjectInit
  bytes: Uint8Array
  chunks: Uint8Array[]
}

function split (bytes: Uint8Array, chunkSize: number): Uint8Array[] {
  const chunks: Uint8Array[] = []

  for (let offset = 0; offset < bytes.byteLength; offset += chunkSize) {
    chunks.push(bytes.slice(offset, offset + chunkSize))
  }

  return chunks
}

/** A well-formed object: `name` gives the key (as a URL would), `seed` the content */
export function makeObject (name: string, size: number, seed: number = 1, chunkSize: number = CS): TestObject {
  const bytes = makeBytes(size, seed)
  const chunks = split(bytes, chunkSize)

  return {
    init: {
      key: hex(new TextEncoder().encode(`https://example.test/${name}`)),
      size,
      chunkSize,
      digest: hex(bytes)
    },
    bytes,
    chunks
  }
}

async function collect (source: AsyncIterable<Uint8Array>): Promise<Uint8Array> {
  const pieces: Uint8Array[] = []

  for await (const piece of source) {
    pieces.push(piece)
  }

  return concat(pieces)
}

async function readAll (store: ContentStore, key: string, options?: ReadOptions): Promise<Uint8Array> {
  return collect(store.read(key, options))
}

async function * asyncChunks (chunks: Uint8Array[]): AsyncGenerator<Uint8Array> {
  for (const chunk of chunks) {
    await Promise.resolve()
    yield chunk
  }
}

/**
 * A source that hands out `chunks` but stops before chunk `holdAt` until
 * released: by then the store has taken (and written) every earlier chunk
 */
function gatedSource (chunks: Uint8Array[], holdAt: number): { source: AsyncGenerator<Uint8Array>, atGate: Promise<void>, release(): void, state: { pulled: number, closed: boolean } } {
  let release = (): void => {}
  let reachGate = (): void => {}
  const released = new Promise<void>(resolve => { release = resolve })
  const atGate = new Promise<void>(resolve => { reachGate = resolve })
  const state = { pulled: 0, closed: false }

  async function * source (): AsyncGenerator<Uint8Array> {
    try {
      for (let i = 0; i < chunks.length; i++) {
        if (i === holdAt) {
          reachGate()
          await released
        }

        state.pulled++
        yield chunks[i]
      }
    } finally {
      state.closed = true
    }
  }

  return { source: source(), atGate, release, state }
}

/** A source that never yields */
async function * stalledSource (): AsyncGenerator<Uint8Array> {
  await new Promise<never>(() => {})
  yield new Uint8Array(0)
}

async function put (store: ContentStore, object: TestObject): Promise<void> {
  await store.put(object.init, object.chunks)
}

async function checkAbsent (store: ContentStore, key: string, what: string): Promise<void> {
  check(!(await store.has(key)), `${what}: has() is true`)
  check(await store.getMeta(key) === undefined, `${what}: getMeta() is defined`)
  check(await store.getChunk(key, 0) === undefined, `${what}: getChunk(0) is defined`)
  check(!(await store.keys()).includes(key), `${what}: keys() lists it`)
  await checkRejects(async () => readAll(store, key), 'NotFoundError', `${what}: read()`)
}

async function checkStats (store: ContentStore, objects: number, bytes: number, what: string): Promise<void> {
  const stats = await store.stats()
  checkEqual({ objects: stats.objects, bytes: stats.bytes }, { objects, bytes }, `${what}: stats`)
}

/** Fills a store of 16 KiB with four 4 KiB objects a, b, c, d (stored in that order) */
async function fillFour (store: ContentStore): Promise<TestObject[]> {
  const objects = ['a', 'b', 'c', 'd'].map((name, i) => makeObject(name, 4 * CS, i + 1))

  for (const object of objects) {
    await put(store, object)
  }

  return objects
}

async function present (store: ContentStore, objects: TestObject[]): Promise<boolean[]> {
  return Promise.all(objects.map(async o => store.has(o.init.key)))
}

// ---------------------------------------------------------------------------
// the cases

export const contentStoreCases: ContentStoreCase[] = [
  {
    name: 'stores an object and reads it back whole, chunk by chunk and as metadata',
    async run (store) {
      const object = makeObject('page.js', 3 * CS + 500)
      const before = Date.now()
      const stored = await store.put(object.init, object.chunks)
      const after = Date.now()

      check(stored.storedAt >= before && stored.storedAt <= after, `storedAt ${stored.storedAt} not within [${before}, ${after}]`)
      checkEqual(stored, { ...object.init, storedAt: stored.storedAt }, 'put() result')
      checkEqual(await store.getMeta(object.init.key), stored, 'getMeta()')
      check(await store.has(object.init.key), 'has() is false')

      for (let i = 0; i < object.chunks.length; i++) {
        checkBytes(await store.getChunk(object.init.key, i), object.chunks[i], `chunk ${i}`)
      }

      checkBytes(await readAll(store, object.init.key), object.bytes, 'read()')
      checkEqual(await store.keys(), [object.init.key], 'keys()')
      checkEqual(await store.stats(), { objects: 1, bytes: object.init.size, maxBytes: CASE_MAX_BYTES }, 'stats()')
    }
  },
  {
    name: 'takes chunks from an array, a sync generator or an async generator',
    async run (store) {
      const objects = [1, 2, 3].map(i => makeObject(`source-${i}`, 2 * CS + 7, i))
      await store.put(objects[0].init, objects[0].chunks)
      await store.put(objects[1].init, (function * () { yield * objects[1].chunks })())
      await store.put(objects[2].init, asyncChunks(objects[2].chunks))

      for (const object of objects) {
        checkBytes(await readAll(store, object.init.key), object.bytes, object.init.key)
      }
    }
  },
  {
    name: 'stores an empty object as zero chunks',
    async run (store) {
      const object = makeObject('empty.css', 0)
      await store.put(object.init, [])

      check(await store.has(object.init.key), 'has() is false')
      checkEqual((await store.getMeta(object.init.key))?.size, 0, 'size')
      check(await store.getChunk(object.init.key, 0) === undefined, 'getChunk(0) is defined')
      checkEqual((await readAll(store, object.init.key)).byteLength, 0, 'bytes read')
      await checkStats(store, 1, 0, 'after put')
    }
  },
  {
    name: 'keeps content type and chunk digests as given',
    async run (store) {
      const object = makeObject('video.mp4', 2 * CS + 1)
      const init: ObjectInit = { ...object.init, contentType: 'video/mp4', chunkDigests: object.chunks.map(hex) }
      await store.put(init, object.chunks)
      const meta = await store.getMeta(init.key)

      checkEqual(meta?.contentType, 'video/mp4', 'contentType')
      checkEqual(meta?.chunkDigests, init.chunkDigests, 'chunkDigests')
    }
  },
  {
    name: 'keeps each object\'s provenance as given, and reads one stored without it back without it (untrusted)',
    async run (store) {
      const provenances = ['sri', 'manifest', 'origin', 'peer'] as const
      for (const [i, provenance] of provenances.entries()) {
        const object = makeObject(`vouched-${provenance}`, CS + i, i)
        await store.put({ ...object.init, provenance }, object.chunks)
        checkEqual((await store.getMeta(object.init.key))?.provenance, provenance, `provenance ${provenance}`)
      }
      // what a record written before provenances existed looks like: it must not read as vouched
      const legacy = makeObject('legacy', CS)
      await store.put(legacy.init, legacy.chunks)
      const meta = await store.getMeta(legacy.init.key)
      check(meta != null && !('provenance' in meta), 'a record stored without provenance reads back without one')
    }
  },
  {
    name: 'answers a missing key in-band: has is false, getMeta and getChunk are undefined, read throws NotFoundError',
    async run (store) {
      await put(store, makeObject('other', CS))
      await checkAbsent(store, makeObject('missing', CS).init.key, 'missing key')
      await store.delete(makeObject('missing', CS).init.key)
    }
  },
  {
    name: 'getChunk is undefined for an index that is not a chunk of the object',
    async run (store) {
      const object = makeObject('three-chunks', 3 * CS)
      await put(store, object)

      for (const index of [-1, 3, 1.5, Number.NaN, 1e9]) {
        check(await store.getChunk(object.init.key, index) === undefined, `getChunk(${index}) is defined`)
      }
    }
  },
  {
    name: 'reads byte ranges within a chunk, across chunks, to the end, and cuts them at the end',
    async run (store) {
      const object = makeObject('ranges', 5 * CS + 300)
      const { size } = object.init
      await put(store, object)
      const ranges: Array<[ReadOptions, number, number]> = [
        [{ offset: 10, length: 20 }, 10, 30],
        [{ offset: CS - 5, length: 10 }, CS - 5, CS + 5],
        [{ offset: CS, length: CS }, CS, 2 * CS],
        [{ offset: 100, length: 3 * CS }, 100, 3 * CS + 100],
        [{ offset: 4 * CS + 1 }, 4 * CS + 1, size],
        [{ length: 7 }, 0, 7],
        [{ offset: size - 1 }, size - 1, size],
        [{ offset: size - 10, length: 1_000_000 }, size - 10, size],
        [{ offset: 0, length: size }, 0, size]
      ]

      for (const [options, start, end] of ranges) {
        checkBytes(await readAll(store, object.init.key, options), object.bytes.subarray(start, end), `read(${JSON.stringify(options)})`)
      }
    }
  },
  {
    name: 'yields each piece of a range within one chunk, only for the chunks the range touches',
    async run (store) {
      const object = makeObject('pieces', 6 * CS)
      await put(store, object)
      const lengths: number[] = []

      for await (const piece of store.read(object.init.key, { offset: CS + 24, length: 3 * CS })) {
        lengths.push(piece.byteLength)
      }

      checkEqual(lengths, [CS - 24, CS, CS, 24], 'piece lengths')
    }
  },
  {
    name: 'reads an empty range at the end of an object as nothing',
    async run (store) {
      const object = makeObject('end', 2 * CS)
      await put(store, object)

      checkEqual((await readAll(store, object.init.key, { offset: 2 * CS })).byteLength, 0, 'offset = size')
      checkEqual((await readAll(store, object.init.key, { offset: 5, length: 0 })).byteLength, 0, 'length 0')
    }
  },
  {
    name: 'refuses malformed ranges and ranges starting past the end with InvalidRangeError',
    async run (store) {
      const object = makeObject('bad-ranges', 2 * CS)
      await put(store, object)

      for (const options of [{ offset: 2 * CS + 1 }, { offset: -1 }, { offset: 1.5 }, { length: -1 }, { length: 0.5 }, { offset: Number.NaN }]) {
        await checkRejects(async () => readAll(store, object.init.key, options), 'InvalidRangeError', `read(${JSON.stringify(options)})`)
      }
    }
  },
  {
    name: 'serves only the version with the digest asked for',
    async run (store) {
      const object = makeObject('versioned', 2 * CS)
      const other = makeObject('versioned', 2 * CS, 99)
      await put(store, object)
      const { key, digest } = object.init

      check(await store.has(key, { digest }), 'has(right digest) is false')
      check(await store.getMeta(key, { digest }) != null, 'getMeta(right digest) is undefined')
      checkBytes(await store.getChunk(key, 1, { digest }), object.chunks[1], 'getChunk(right digest)')
      checkBytes(await readAll(store, key, { digest }), object.bytes, 'read(right digest)')

      check(!(await store.has(key, { digest: other.init.digest })), 'has(other digest) is true')
      check(await store.getMeta(key, { digest: other.init.digest }) === undefined, 'getMeta(other digest) is defined')
      check(await store.getChunk(key, 0, { digest: other.init.digest }) === undefined, 'getChunk(other digest) is defined')
      await checkRejects(async () => readAll(store, key, { digest: other.init.digest }), 'NotFoundError', 'read(other digest)')
    }
  },
  {
    name: 'refuses an object larger than maxBytes with ObjectTooLargeError, before reading a chunk and evicting nothing',
    async run (store) {
      const objects = await fillFour(store)
      const huge = makeObject('huge', CASE_MAX_BYTES + 1)
      const gated = gatedSource(huge.chunks, huge.chunks.length)

      await checkRejects(async () => store.put(huge.init, gated.source), 'ObjectTooLargeError', 'put(maxBytes + 1)')
      checkEqual(gated.state.pulled, 0, 'chunks pulled from the source')
      checkEqual(await present(store, objects), [true, true, true, true], 'objects present')
      await checkAbsent(store, huge.init.key, 'refused object')
    }
  },
  {
    name: 'stores an object of exactly maxBytes by evicting everything else',
    async run (store) {
      const objects = await fillFour(store)
      const full = makeObject('full', CASE_MAX_BYTES, 7)
      await put(store, full)

      checkEqual(await present(store, objects), [false, false, false, false], 'earlier objects present')
      checkBytes(await readAll(store, full.init.key), full.bytes, 'read()')
      await checkStats(store, 1, CASE_MAX_BYTES, 'after put')
    }
  },
  {
    name: 'refuses a malformed description with InvalidObjectError',
    async run (store) {
      const object = makeObject('malformed', 2 * CS + 1)
      const good = object.init
      const bad: Array<[string, ObjectInit]> = [
        ['uppercase key', { ...good, key: good.key.toUpperCase() }],
        ['short key', { ...good, key: good.key.slice(1) }],
        ['short digest', { ...good, digest: good.digest.slice(2) }],
        ['non-hex digest', { ...good, digest: 'z'.repeat(64) }],
        ['negative size', { ...good, size: -1 }],
        ['fractional size', { ...good, size: 1.5 }],
        ['zero chunk size', { ...good, chunkSize: 0 }],
        ['fractional chunk size', { ...good, chunkSize: 0.5 }],
        ['too few chunk digests', { ...good, chunkDigests: object.chunks.slice(1).map(hex) }],
        ['malformed chunk digest', { ...good, chunkDigests: object.chunks.map(() => 'x') }],
        ['non-string content type', { ...good, contentType: 42 as unknown as string }],
        ['unknown provenance', { ...good, provenance: 'holder' as unknown as 'peer' }]
      ]

      for (const [what, init] of bad) {
        await checkRejects(async () => store.put(init, object.chunks), 'InvalidObjectError', what)
      }

      await checkStats(store, 0, 0, 'after refusals')
    }
  },
  {
    name: 'refuses chunks that do not match the description with InvalidObjectError and stores nothing',
    async run (store) {
      const object = makeObject('mismatch', 3 * CS + 10)
      const { chunks } = object
      const bad: Array<[string, unknown[]]> = [
        ['short middle chunk', [chunks[0], chunks[1].subarray(1), chunks[2], chunks[3]]],
        ['long first chunk', [concat([chunks[0], Uint8Array.of(1)]), chunks[1], chunks[2], chunks[3]]],
        ['last chunk too long', [chunks[0], chunks[1], chunks[2], concat([chunks[3], Uint8Array.of(1)])]],
        ['last chunk too short', [chunks[0], chunks[1], chunks[2], chunks[3].subarray(1)]],
        ['one chunk too many', [...chunks, Uint8Array.of(1)]],
        ['one chunk too few', chunks.slice(0, 3)],
        ['no chunks', []],
        ['a string for a chunk', [chunks[0], 'not bytes', chunks[2], chunks[3]]]
      ]

      for (const [what, source] of bad) {
        await checkRejects(async () => store.put(object.init, source as Uint8Array[]), 'InvalidObjectError', what)
        await checkAbsent(store, object.init.key, what)
      }

      const empty = makeObject('empty-mismatch', 0)
      await checkRejects(async () => store.put(empty.init, [new Uint8Array(0)]), 'InvalidObjectError', 'a chunk for an empty object')
      await checkStats(store, 0, 0, 'after refusals')
    }
  },
  {
    name: 'stops pulling from the source at the first wrong chunk and closes it',
    async run (store) {
      const object = makeObject('stop-early', 6 * CS)
      const chunks = [...object.chunks]
      chunks[1] = chunks[1].subarray(2)
      const gated = gatedSource(chunks, chunks.length)

      await checkRejects(async () => store.put(object.init, gated.source), 'InvalidObjectError', 'put()')
      checkEqual(gated.state.pulled, 2, 'chunks pulled')
      // closing a generator is asynchronous; give it a few turns
      for (let i = 0; i < 10 && !gated.state.closed; i++) {
        await new Promise(resolve => setTimeout(resolve, 0))
      }
      check(gated.state.closed, 'source not closed')
    }
  },
  {
    name: 'passes an error thrown by the source through and leaves nothing behind',
    async run (store) {
      const object = makeObject('failing-source', 4 * CS)

      async function * failing (): AsyncGenerator<Uint8Array> {
        yield object.chunks[0]
        yield object.chunks[1]
        throw new RangeError('network went away')
      }

      const err = await checkRejects(async () => store.put(object.init, failing()), 'RangeError', 'put()')
      checkEqual(err.message, 'network went away', 'error message')
      await checkAbsent(store, object.init.key, 'after failed put')
      await checkStats(store, 0, 0, 'after failed put')
    }
  },
  {
    name: 'a failed put of a stored key leaves the earlier version intact',
    async run (store) {
      const v1 = makeObject('style.css', 3 * CS, 1)
      const v2 = makeObject('style.css', 5 * CS, 2)
      await put(store, v1)

      await checkRejects(async () => store.put(v2.init, v2.chunks.slice(0, 4)), 'InvalidObjectError', 'put(v2 missing a chunk)')

      checkEqual((await store.getMeta(v1.init.key))?.digest, v1.init.digest, 'digest')
      checkBytes(await readAll(store, v1.init.key), v1.bytes, 'read()')
      await checkStats(store, 1, v1.init.size, 'after failed put')
    }
  },
  {
    name: 'a put aborted midway rejects with AbortError and leaves nothing behind',
    async run (store) {
      const object = makeObject('aborted', 6 * CS)
      const controller = new AbortController()
      const gated = gatedSource(object.chunks, 3)
      const putting = store.put(object.init, gated.source, { signal: controller.signal })
      await gated.atGate
      controller.abort()
      gated.release()

      await checkRejects(async () => putting, 'AbortError', 'put()')
      await checkAbsent(store, object.init.key, 'after abort')
      await checkStats(store, 0, 0, 'after abort')
    }
  },
  {
    name: 'a put with an already aborted signal rejects with AbortError without reading the source',
    async run (store) {
      const object = makeObject('pre-aborted', 2 * CS)
      const gated = gatedSource(object.chunks, object.chunks.length)

      await checkRejects(async () => store.put(object.init, gated.source, { signal: AbortSignal.abort() }), 'AbortError', 'put()')
      checkEqual(gated.state.pulled, 0, 'chunks pulled')
      await checkAbsent(store, object.init.key, 'after abort')
    }
  },
  {
    name: 'an abort ends a put whose source never yields',
    async run (store) {
      const object = makeObject('stalled', 2 * CS)
      const controller = new AbortController()
      const putting = store.put(object.init, stalledSource(), { signal: controller.signal })
      setTimeout(() => { controller.abort() }, 10)

      await checkRejects(async () => putting, 'AbortError', 'put()')
      await checkAbsent(store, object.init.key, 'after abort')
    }
  },
  {
    name: 'never shows a partially stored object',
    async run (store) {
      const object = makeObject('partial', 6 * CS)
      const gated = gatedSource(object.chunks, 5)
      const putting = store.put(object.init, gated.source)
      await gated.atGate

      await checkAbsent(store, object.init.key, 'while 5 of 6 chunks are written')
      await checkStats(store, 0, 0, 'while 5 of 6 chunks are written')

      gated.release()
      await putting
      checkBytes(await readAll(store, object.init.key), object.bytes, 'after put')
    }
  },
  {
    name: 'shows the earlier version of a key until a replacing put commits, then the new one whole',
    async run (store) {
      const v1 = makeObject('app.js', 3 * CS, 1)
      const v2 = makeObject('app.js', 5 * CS + 3, 2)
      await put(store, v1)
      const gated = gatedSource(v2.chunks, 4)
      const putting = store.put(v2.init, gated.source)
      await gated.atGate

      checkEqual((await store.getMeta(v1.init.key))?.digest, v1.init.digest, 'digest during replacement')
      checkBytes(await readAll(store, v1.init.key), v1.bytes, 'read() during replacement')

      gated.release()
      await putting
      checkEqual((await store.getMeta(v1.init.key))?.digest, v2.init.digest, 'digest after replacement')
      checkBytes(await readAll(store, v1.init.key), v2.bytes, 'read() after replacement')
      await checkStats(store, 1, v2.init.size, 'after replacement')
    }
  },
  {
    name: 'concurrent puts of one key each commit whole and the last to commit wins',
    async run (store) {
      const first = makeObject('shared.js', 4 * CS, 1)
      const second = makeObject('shared.js', 3 * CS + 9, 2)
      const a = gatedSource(first.chunks, 2)
      const b = gatedSource(second.chunks, 1)
      const putA = store.put(first.init, a.source)
      const putB = store.put(second.init, b.source)
      await Promise.all([a.atGate, b.atGate])

      a.release()
      await putA
      checkBytes(await readAll(store, first.init.key), first.bytes, 'after the first commit')

      b.release()
      await putB
      checkBytes(await readAll(store, first.init.key), second.bytes, 'after the second commit')
      checkEqual((await store.getMeta(first.init.key))?.digest, second.init.digest, 'digest')
      await checkStats(store, 1, second.init.size, 'after both')
    }
  },
  {
    name: 'many concurrent puts of one key leave exactly one whole version',
    async run (store) {
      const versions = Array.from({ length: 8 }, (_, i) => makeObject('hot.js', (i + 1) * 500, i + 1))
      await Promise.all(versions.map(async v => store.put(v.init, asyncChunks(v.chunks))))
      const meta = await store.getMeta(versions[0].init.key)
      const winner = versions.find(v => v.init.digest === meta?.digest)

      check(winner != null, 'stored digest is none of the versions')
      checkBytes(await readAll(store, winner.init.key), winner.bytes, 'read()')
      await checkStats(store, 1, winner.init.size, 'after all puts')
    }
  },
  {
    name: 'concurrent puts of different keys stay within maxBytes and keep the totals exact',
    async run (store) {
      const objects = Array.from({ length: 12 }, (_, i) => makeObject(`many-${i}`, 3 * CS + i * 100, i + 1))
      await Promise.all(objects.map(async o => store.put(o.init, asyncChunks(o.chunks))))
      const stats = await store.stats()
      const keys = await store.keys()
      const sizes = await Promise.all(keys.map(async k => (await store.getMeta(k))?.size ?? Number.NaN))

      check(stats.bytes <= CASE_MAX_BYTES, `stats.bytes ${stats.bytes} > maxBytes`)
      check(stats.objects > 0, 'nothing stored')
      checkEqual(stats.objects, keys.length, 'stats.objects vs keys()')
      checkEqual(stats.bytes, sizes.reduce((a, b) => a + b, 0), 'stats.bytes vs sum of sizes')
      checkEqual((await present(store, objects)).filter(Boolean).length, keys.length, 'has() vs keys()')

      for (const key of keys) {
        const object = objects.find(o => o.init.key === key)
        check(object != null, `unknown key ${key}`)
        checkBytes(await readAll(store, key), object.bytes, key)
      }
    }
  },
  {
    name: 'evicts the least recently stored object first to make room',
    async run (store) {
      const objects = await fillFour(store)
      await put(store, makeObject('e', 4 * CS, 5))
      checkEqual(await present(store, objects), [false, true, true, true], 'a..d present after e')

      await put(store, makeObject('f', 5 * CS, 6))
      checkEqual(await present(store, objects), [false, false, false, true], 'a..d present after f')
      await checkStats(store, 3, 13 * CS, 'after f')
    }
  },
  {
    name: 'reading a chunk or a range counts as use for eviction',
    async run (store) {
      const [a, b, c, d] = await fillFour(store)
      await store.getChunk(a.init.key, 3)
      await readAll(store, b.init.key, { offset: 5, length: 1 })

      await put(store, makeObject('e', 4 * CS, 5))
      checkEqual(await present(store, [a, b, c, d]), [true, true, false, true], 'a..d present after e')

      await put(store, makeObject('f', 4 * CS, 6))
      checkEqual(await present(store, [a, b, c, d]), [true, true, false, false], 'a..d present after f')

      await put(store, makeObject('g', 4 * CS, 7))
      checkEqual(await present(store, [a, b, c, d]), [false, true, false, false], 'a..d present after g')
    }
  },
  {
    name: 'has, getMeta, keys and stats do not count as use',
    async run (store) {
      const objects = await fillFour(store)
      await store.has(objects[0].init.key)
      await store.getMeta(objects[0].init.key)
      await store.keys()
      await store.stats()

      await put(store, makeObject('e', 4 * CS, 5))
      checkEqual(await present(store, objects), [false, true, true, true], 'a..d present after e')
    }
  },
  {
    name: 'storing a key again counts as use and replaces its bytes in the total',
    async run (store) {
      const [a, b, c, d] = await fillFour(store)
      const smallerA = makeObject('a', 2 * CS, 11)
      await put(store, smallerA)
      await checkStats(store, 4, 14 * CS, 'after replacing a')

      await put(store, makeObject('e', 4 * CS, 5))
      checkEqual(await present(store, [a, b, c, d]), [true, false, true, true], 'a..d present after e')
      checkBytes(await readAll(store, a.init.key), smallerA.bytes, 'a')
    }
  },
  {
    name: 'deletes an object and its bytes; deleting a missing key does nothing',
    async run (store) {
      const [a, b] = await fillFour(store)
      await store.delete(a.init.key)
      await checkAbsent(store, a.init.key, 'after delete')
      await checkStats(store, 3, 12 * CS, 'after delete')

      await store.delete(a.init.key)
      await store.delete(makeObject('never', 1).init.key)
      await checkStats(store, 3, 12 * CS, 'after deleting missing keys')

      await put(store, a)
      checkBytes(await readAll(store, a.init.key), a.bytes, 'a stored again')
      checkBytes(await readAll(store, b.init.key), b.bytes, 'b untouched')
    }
  },
  {
    name: 'a read that started before a replacement yields only the version it started on',
    async run (store) {
      const v1 = makeObject('movie.mp4', 6 * CS, 1)
      const v2 = makeObject('movie.mp4', 6 * CS, 2)
      await put(store, v1)
      const reading = store.read(v1.init.key)
      const pieces: Uint8Array[] = []
      const first = await reading.next()
      check(first.done !== true, 'read() yielded nothing')
      pieces.push(first.value)

      await put(store, v2)

      try {
        for await (const piece of reading) {
          pieces.push(piece)
        }

        checkBytes(concat(pieces), v1.bytes, 'completed read')
      } catch (err: any) {
        // stores that do not snapshot may end the stream instead: never mixed bytes
        check(err?.name === 'NotFoundError', `read() failed with ${err?.name}: ${err?.message}`)
        checkBytes(concat(pieces), v1.bytes.subarray(0, pieces.length * CS), 'bytes before the failure')
      }
    }
  },
  {
    name: 'a read that started before a delete yields the bytes it started on or ends with NotFoundError',
    async run (store) {
      const object = makeObject('deleted-while-read', 5 * CS)
      await put(store, object)
      const reading = store.read(object.init.key)
      const pieces: Uint8Array[] = []
      const first = await reading.next()
      check(first.done !== true, 'read() yielded nothing')
      pieces.push(first.value)

      await store.delete(object.init.key)

      try {
        for await (const piece of reading) {
          pieces.push(piece)
        }

        checkBytes(concat(pieces), object.bytes, 'completed read')
      } catch (err: any) {
        check(err?.name === 'NotFoundError', `read() failed with ${err?.name}: ${err?.message}`)
        checkBytes(concat(pieces), object.bytes.subarray(0, pieces.length * CS), 'bytes before the failure')
      }
    }
  },
  {
    name: 'bytes handed to put and bytes returned by reads are the caller\'s to change',
    async run (store) {
      const object = makeObject('mutable', 3 * CS)
      const given = object.chunks.map(c => c.slice())
      await store.put(object.init, given)
      given.forEach(c => c.fill(0))
      checkBytes(await readAll(store, object.init.key), object.bytes, 'after mutating the chunks given')

      const chunk = await store.getChunk(object.init.key, 1)
      chunk?.fill(0)

      for await (const piece of store.read(object.init.key)) {
        piece.fill(0)
      }

      checkBytes(await readAll(store, object.init.key), object.bytes, 'after mutating the bytes returned')
    }
  },
  {
    name: 'stores chunks that are views into a larger buffer as just their bytes',
    async run (store) {
      const object = makeObject('views', 3 * CS + 1)
      // one buffer with padding around each chunk
      const backing = new Uint8Array(object.init.size + 64)
      backing.set(object.bytes, 32)
      const views = object.chunks.map((c, i) => backing.subarray(32 + i * CS, 32 + i * CS + c.byteLength))
      await store.put(object.init, views)

      checkBytes(await readAll(store, object.init.key), object.bytes, 'read()')
      checkEqual((await store.getChunk(object.init.key, 0))?.byteLength, CS, 'chunk 0 length')
    }
  },
  {
    name: 'getMeta returns a copy the caller may change',
    async run (store) {
      const object = makeObject('meta-copy', 2 * CS)
      const init = { ...object.init, chunkDigests: object.chunks.map(hex), contentType: 'text/css' }
      await store.put(init, object.chunks)
      init.chunkDigests[0] = '0'.repeat(64)

      const meta = await store.getMeta(object.init.key)
      check(meta?.chunkDigests != null, 'chunkDigests missing')
      checkEqual(meta.chunkDigests[0], hex(object.chunks[0]), 'chunk digest after changing the init')
      meta.chunkDigests[1] = '0'.repeat(64)
      meta.size = 1

      const again = await store.getMeta(object.init.key)
      checkEqual(again?.chunkDigests?.[1], hex(object.chunks[1]), 'chunk digest after changing a result')
      checkEqual(again?.size, 2 * CS, 'size after changing a result')
    }
  },
  {
    name: 'streams an object of many chunks in order',
    maxBytes: 2_097_152,
    async run (store) {
      const object = makeObject('big.bin', 64 * 16_384 + 123, 3, 16_384)
      await store.put(object.init, asyncChunks(object.chunks))
      const hash = sha256.create()
      let pieces = 0

      for await (const piece of store.read(object.init.key)) {
        check(piece.byteLength <= 16_384, `piece of ${piece.byteLength} bytes`)
        hash.update(piece)
        pieces++
      }

      checkEqual(pieces, 65, 'pieces')
      checkEqual(bytesToHex(hash.digest()), object.init.digest, 'digest of the bytes read')
    }
  },
  {
    name: 'read honours its abort signal between pieces',
    async run (store) {
      const object = makeObject('abort-read', 4 * CS)
      await put(store, object)
      const controller = new AbortController()
      let pieces = 0

      await checkRejects(async () => {
        for await (const piece of store.read(object.init.key, { signal: controller.signal })) {
          check(piece.byteLength === CS, 'piece length')
          pieces++
          controller.abort()
        }
      }, 'AbortError', 'read()')
      checkEqual(pieces, 1, 'pieces before the abort')
      await checkRejects(async () => store.getChunk(object.init.key, 0, { signal: AbortSignal.abort() }), 'AbortError', 'getChunk(aborted)')
    }
  },
  {
    name: 'close fails a put in flight with StoreClosedError',
    async run (store) {
      const object = makeObject('closing', 2 * CS)
      const putting = store.put(object.init, stalledSource())
      // let the put get going before closing
      await new Promise(resolve => setTimeout(resolve, 10))
      await store.close()

      await checkRejects(async () => putting, 'StoreClosedError', 'put() in flight')
    }
  },
  {
    name: 'after close every call rejects with StoreClosedError and closing again is fine',
    async run (store) {
      const object = makeObject('closed', CS)
      await put(store, object)
      await store.close()
      await store.close()
      const { key } = object.init

      await checkRejects(async () => store.has(key), 'StoreClosedError', 'has()')
      await checkRejects(async () => store.getMeta(key), 'StoreClosedError', 'getMeta()')
      await checkRejects(async () => store.getChunk(key, 0), 'StoreClosedError', 'getChunk()')
      await checkRejects(async () => readAll(store, key), 'StoreClosedError', 'read()')
      await checkRejects(async () => store.put(object.init, object.chunks), 'StoreClosedError', 'put()')
      await checkRejects(async () => store.delete(key), 'StoreClosedError', 'delete()')
      await checkRejects(async () => store.keys(), 'StoreClosedError', 'keys()')
      await checkRejects(async () => store.stats(), 'StoreClosedError', 'stats()')
    }
  }
]

// ---------------------------------------------------------------------------
// runners

/** Runs one case on a fresh store from `factory`, closing the store afterwards */
export async function runContentStoreCase (factory: ContentStoreFactory, testCase: ContentStoreCase): Promise<ContentStoreCaseResult> {
  const started = Date.now()
  let store: ContentStore | undefined

  try {
    store = await factory.create({ maxBytes: testCase.maxBytes ?? CASE_MAX_BYTES })
    await testCase.run(store)
    await store.close()

    return { name: testCase.name, passed: true, durationMs: Date.now() - started }
  } catch (err: any) {
    await store?.close().catch(() => {})

    return { name: testCase.name, passed: false, error: `${err?.name}: ${err?.message}\n${err?.stack ?? ''}`, durationMs: Date.now() - started }
  }
}

/** Runs every case (or those `filter` keeps) one after another; never throws */
export async function runContentStoreCases (factory: ContentStoreFactory, filter: (name: string) => boolean = () => true): Promise<ContentStoreCaseResult[]> {
  const results: ContentStoreCaseResult[] = []

  for (const testCase of contentStoreCases.filter(c => filter(c.name))) {
    results.push(await runContentStoreCase(factory, testCase))
  }

  return results
}

export interface ContentStoreSuiteOptions {
  name: string
  create(init: { maxBytes: number }): Promise<ContentStore>
}

/** The mocha wrapper: one `it` per case, for stores that run in Node */
export function contentStoreSuite (options: ContentStoreSuiteOptions): void {
  describe(`ContentStore compliance: ${options.name}`, function () {
    for (const testCase of contentStoreCases) {
      it(testCase.name, async function () {
        const store = await options.create({ maxBytes: testCase.maxBytes ?? CASE_MAX_BYTES })

        try {
          await testCase.run(store)
        } finally {
          await store.close()
        }
      })
    }
  })
}
