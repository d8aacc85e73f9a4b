/**
 * The origin intake's tee: with a trusted digest and a length, the caller
 * reads the origin's body while the same bytes are verified and stored. A
 * real HTTP origin on 127.0.0.1 (whose body can stop half way until the test
 * opens a gate) and a real `MemoryContentStore`; no clock in the assertions:
 * every wait is bounded and fails with a named error.
 */
import { createHash } from 'node:crypto'
import { logger } from '@libp2p/logger'
import { expect } from 'aegir/chai'
import { createCounters } from '../../src/cdn/counters.ts'
import { OriginIntake } from '../../src/cdn/origin-intake.ts'
import { Origin } from '../../src/cdn/origin.ts'
import { responseFrom } from '../../src/cdn/responses.ts'
import { keyForUrl } from '../../src/keys.ts'
import { idToHex } from '../../src/overlay/ring-id.ts'
import { CHUNK_SIZE } from '../../src/storage/content-store.ts'
import { MemoryContentStore } from '../../src/storage/memory-store.ts'
import { within } from '../fixtures/deadline.ts'
import { bytesOf, startOrigin } from '../fixtures/origin-server.ts'
import type { CdnCounters } from '../../src/cdn/counters.ts'
import type { IntegrityError } from '../../src/cdn/errors.ts'
import type { FetchState, OriginAnswer, StoredObject } from '../../src/cdn/seams.ts'
import type { ObjectInit, ObjectMeta, PutOptions } from '../../src/storage/content-store.ts'
import type { Origin as TestOrigin } from '../fixtures/origin-server.ts'

/** Three and a bit chunks: the tee's store branch rechunks what the caller gets piece by piece */
const SIZE = 3 * CHUNK_SIZE + 1_234
const HALF = Math.floor(SIZE / 2)

function hex (bytes: Uint8Array): string {
  return createHash('sha256').update(bytes).digest('hex')
}

/** A gate the test opens */
function gate (): { until: Promise<void>, open(): void } {
  let open!: () => void
  const until = new Promise<void>(resolve => { open = resolve })
  return { until, open }
}

/** Reads `reader` until at least `bytes` have come (or the body ended) */
async function readAtLeast (reader: ReadableStreamDefaultReader<Uint8Array>, bytes: number, what: string): Promise<Uint8Array[]> {
  const got: Uint8Array[] = []
  let n = 0
  while (n < bytes) {
    const next = await within(reader.read(), what)
    if (next.done) {
      break
    }
    got.push(next.value)
    n += next.value.byteLength
  }
  return got
}

/** Reads `reader` to its end: the bytes, and the error it ended with if it did */
async function drain (reader: ReadableStreamDefaultReader<Uint8Array>, what: string): Promise<{ bytes: Uint8Array, error?: Error }> {
  const got: Uint8Array[] = []
  try {
    got.push(...await readAtLeast(reader, Infinity, what))
    return { bytes: concat(got) }
  } catch (error: any) {
    if (error.name === 'TestDeadlineError') {
      throw error
    }
    return { bytes: concat(got), error }
  }
}

function concat (pieces: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(pieces.reduce((n, p) => n + p.byteLength, 0))
  let at = 0
  for (const p of pieces) {
    out.set(p, at)
    at += p.byteLength
  }
  return out
}

async function stored (store: MemoryContentStore, key: string): Promise<Uint8Array> {
  const pieces: Uint8Array[] = []
  for await (const chunk of store.read(key)) {
    pieces.push(chunk)
  }
  return concat(pieces)
}

/** A real store that refuses every object (as a browser's store over its quota) after taking its first chunk */
class RefusingStore extends MemoryContentStore {
  async put (init: ObjectInit, chunks: AsyncIterable<Uint8Array>, options?: PutOptions): Promise<ObjectMeta> {
    const first = await chunks[Symbol.asyncIterator]().next()
    if (first.done !== true) {
      const err = new Error('over quota')
      err.name = 'QuotaExceededError'
      throw err
    }
    return super.put(init, [], options)
  }
}

describe('origin intake: the caller reads the origin body while it is stored', function () {
  this.timeout(30_000)

  let origin: TestOrigin
  let counters: CdnCounters
  let failures: IntegrityError[]
  let chunkDigests: string[][]

  before(async () => {
    origin = await startOrigin()
  })

  after(async () => {
    await origin?.close()
  })

  beforeEach(() => {
    counters = createCounters()
    failures = []
    chunkDigests = []
  })

  function intakeFor (store: MemoryContentStore, maxObjectBytes: number = 1 << 30): OriginIntake {
    const log = logger('ringcdn:test:origin-intake')
    return new OriginIntake({ origin: new Origin({ fetch: globalThis.fetch, log }), store, counters, log }, {
      maxObjectBytes,
      storeMaxBytes: () => 1 << 30,
      onChunkDigests: (meta, digests) => { chunkDigests.push(digests) },
      onIntegrityFailure: (state, err) => { failures.push(err) },
      respond: (meta) => responseFrom(store.read(meta.key), meta, 'origin')
    })
  }

  function stateFor (path: string, digest: string, signal: AbortSignal = new AbortController().signal): FetchState {
    const href = origin.url(path)
    const key = keyForUrl(href)
    return { href, key, keyHex: idToHex(key), digest, digestFrom: 'sri', signal, startedAt: 0, gone: [] }
  }

  /** Whether `storing` has settled, without waiting for it */
  async function settled (answer: OriginAnswer<Response>): Promise<boolean> {
    const marker = Symbol('pending')
    return await Promise.race([answer.storing, new Promise(resolve => { setTimeout(resolve, 0, marker) })]) !== marker
  }

  it('hands the caller the first bytes before the store has the object, and stores exactly the body', async () => {
    const body = bytesOf(SIZE, 41)
    const g = gate()
    origin.set('/tee/half.bin', { body, pauseAfter: { bytes: HALF, until: g.until } })
    const store = new MemoryContentStore()
    const state = stateFor('/tee/half.bin', hex(body))
    const answer = await within(intakeFor(store).get(state), 'the origin\'s answer')
    expect(answer.storing).to.be.an.instanceOf(Promise)
    const reader = (answer.result.body as ReadableStream<Uint8Array>).getReader()

    // half the body is all the origin has sent: the caller has bytes of it, the store has nothing yet
    const first = await readAtLeast(reader, 1, 'the first bytes')
    expect(concat(first)).to.equalBytes(body.subarray(0, concat(first).byteLength))
    expect(await store.getMeta(state.keyHex)).to.equal(undefined)
    expect(await settled(answer)).to.equal(false, 'storing ended before the origin sent the second half')

    g.open()
    const rest = await drain(reader, 'the rest of the body')
    expect(rest.error).to.equal(undefined)
    expect(concat([...first, rest.bytes])).to.equalBytes(body)
    // the caller's last bytes waited for the store: having read it all, the caller finds it stored
    expect(await store.getMeta(state.keyHex)).to.include({ size: SIZE, digest: hex(body) })
    const object = await within(answer.storing as Promise<StoredObject | undefined>, 'storing')
    expect(object).to.include({ key: state.keyHex, size: SIZE, digest: hex(body), provenance: 'sri' })
    expect(await stored(store, state.keyHex)).to.equalBytes(body)
    expect(chunkDigests).to.have.lengthOf(1)
    expect(chunkDigests[0]).to.have.lengthOf(4)
    expect(counters.bytesFromOrigin).to.equal(SIZE)
  })

  it('errors the caller\'s stream with IntegrityError before its last bytes when the body does not match, and stores nothing', async () => {
    const body = bytesOf(SIZE, 42)
    const wrong = bytesOf(SIZE, 43)
    origin.set('/tee/wrong.bin', { body, wrongBody: wrong })
    const store = new MemoryContentStore()
    const state = stateFor('/tee/wrong.bin', hex(body))
    const answer = await within(intakeFor(store).get(state), 'the origin\'s answer')
    const got = await drain((answer.result.body as ReadableStream<Uint8Array>).getReader(), 'the body')
    expect(got.error).to.have.property('name', 'IntegrityError')
    expect(got.error).to.have.property('source', 'origin')
    // the caller never held a complete copy of the bad bytes
    expect(got.bytes.byteLength).to.be.below(SIZE)
    expect(got.bytes).to.equalBytes(wrong.subarray(0, got.bytes.byteLength))
    expect(await within(answer.storing as Promise<StoredObject | undefined>, 'storing')).to.equal(undefined)
    expect(await store.getMeta(state.keyHex)).to.equal(undefined)
    expect(failures.map(f => f.name)).to.deep.equal(['IntegrityError'])
  })

  it('stores the whole verified object when the caller cancels its body half way', async () => {
    const body = bytesOf(SIZE, 44)
    const g = gate()
    origin.set('/tee/cancel.bin', { body, pauseAfter: { bytes: HALF, until: g.until } })
    const store = new MemoryContentStore()
    const state = stateFor('/tee/cancel.bin', hex(body))
    const answer = await within(intakeFor(store).get(state), 'the origin\'s answer')
    const reader = (answer.result.body as ReadableStream<Uint8Array>).getReader()
    await readAtLeast(reader, 1, 'the first bytes')
    await within(reader.cancel(), 'cancelling')
    expect(await store.getMeta(state.keyHex)).to.equal(undefined)

    g.open()
    const object = await within(answer.storing as Promise<StoredObject | undefined>, 'storing')
    expect(object).to.include({ size: SIZE, digest: hex(body) })
    expect(await stored(store, state.keyHex)).to.equalBytes(body)
  })

  it('stores nothing when the fetch is aborted half way, and errors the caller\'s stream', async () => {
    const body = bytesOf(SIZE, 45)
    const g = gate()
    origin.set('/tee/abort.bin', { body, pauseAfter: { bytes: HALF, until: g.until } })
    const store = new MemoryContentStore()
    const controller = new AbortController()
    const state = stateFor('/tee/abort.bin', hex(body), controller.signal)
    const answer = await within(intakeFor(store).get(state), 'the origin\'s answer')
    const reader = (answer.result.body as ReadableStream<Uint8Array>).getReader()
    await readAtLeast(reader, 1, 'the first bytes')
    controller.abort()
    const rest = await drain(reader, 'the rest of the body')
    expect(rest.error).to.have.property('name', 'AbortError')
    expect(await within(answer.storing as Promise<StoredObject | undefined>, 'storing')).to.equal(undefined)
    g.open()
    expect(await store.getMeta(state.keyHex)).to.equal(undefined)
    expect(await store.keys()).to.deep.equal([])
  })

  it('stores the object though the caller never reads its body', async () => {
    const body = bytesOf(SIZE, 46)
    origin.set('/tee/unread.bin', { body })
    const store = new MemoryContentStore()
    const state = stateFor('/tee/unread.bin', hex(body))
    const answer = await within(intakeFor(store).get(state), 'the origin\'s answer')
    const object = await within(answer.storing as Promise<StoredObject | undefined>, 'storing')
    expect(object).to.include({ size: SIZE, digest: hex(body) })
    expect(await stored(store, state.keyHex)).to.equalBytes(body)
    // the caller's bytes waited for it all along
    expect(new Uint8Array(await within(answer.result.arrayBuffer(), 'the body'))).to.equalBytes(body)
  })

  it('still delivers the verified body when the store refuses the object, part way or at once', async () => {
    const body = bytesOf(SIZE, 47)
    origin.set('/tee/refused.bin', { body })
    // over its quota after a chunk; too small for the object before reading any
    for (const store of [new RefusingStore(), new MemoryContentStore({}, { maxBytes: CHUNK_SIZE })]) {
      const state = stateFor('/tee/refused.bin', hex(body))
      const answer = await within(intakeFor(store).get(state), 'the origin\'s answer')
      const got = await drain((answer.result.body as ReadableStream<Uint8Array>).getReader(), 'the body')
      expect(got.error).to.equal(undefined)
      expect(got.bytes).to.equalBytes(body)
      expect(await within(answer.storing as Promise<StoredObject | undefined>, 'storing')).to.equal(undefined)
      expect(await store.keys()).to.deep.equal([])
    }
  })

  it('passes a body too large to keep through, erroring it before its last bytes when it does not match', async () => {
    const body = bytesOf(SIZE, 48)
    const wrong = bytesOf(SIZE, 49)
    origin.set('/tee/large.bin', { body, wrongBody: wrong })
    const store = new MemoryContentStore()
    const state = stateFor('/tee/large.bin', hex(body))
    const answer = await within(intakeFor(store, CHUNK_SIZE).get(state), 'the origin\'s answer')
    expect(answer.storing).to.equal(undefined)
    const got = await drain((answer.result.body as ReadableStream<Uint8Array>).getReader(), 'the body')
    expect(got.error).to.have.property('name', 'IntegrityError')
    expect(got.bytes.byteLength).to.be.below(SIZE)
    expect(await store.keys()).to.deep.equal([])

    origin.set('/tee/large.bin', { body })
    const good = await within(intakeFor(store, CHUNK_SIZE).get(state), 'the origin\'s answer')
    expect(new Uint8Array(await within(good.result.arrayBuffer(), 'the body'))).to.equalBytes(body)
  })
})
