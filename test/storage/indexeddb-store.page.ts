/**
 * Browser entry for `indexeddb-store.spec.ts`: bundled by esbuild, loaded in
 * real Chromium, and driven from Node through `globalThis.storeTest`. Every
 * call opens its own store and closes it before answering, so the page can
 * be reloaded between calls; results are plain JSON.
 */
import { deleteDB, openDB } from 'idb'
import { chunkCount } from '../../src/storage/chunks.ts'
import { IndexedDbContentStore, DATABASE_PREFIX } from '../../src/storage/indexeddb-store.ts'
import { contentStoreCases, makeObject, runContentStoreCase } from './content-store-compliance.ts'
import type { ContentStoreCaseResult } from './content-store-compliance.ts'
import type { ContentStoreStats, ObjectMeta } from '../../src/storage/content-store.ts'
import type { IndexedDbContentStoreInit } from '../../src/storage/indexeddb-store.ts'

const COMPLIANCE_PREFIX = 'compliance-'

export interface StoreRef {
  namespace: string
  maxBytes: number
  /** @default the store's own */
  stalePutTimeout?: number
}

export interface PutRequest extends StoreRef {
  /** Names the key (as a URL would) */
  name: string
  size: number
  seed: number
  chunkSize?: number
}

export interface StoreState {
  keys: string[]
  stats: ContentStoreStats
}

export interface StorePageApi {
  /** Runs one compliance case on a fresh database and deletes it afterwards */
  runCase(name: string): Promise<ContentStoreCaseResult>
  /** Stores a generated object; resolves with its key and digest */
  putObject(request: PutRequest): Promise<{ key: string, digest: string }>
  /** Reads an object whole: its description and the SHA-256 of the bytes read, or null if missing */
  readObject(ref: StoreRef & { key: string }): Promise<{ meta: ObjectMeta, digest: string } | null>
  /** Reads one chunk (counts as use) */
  touch(ref: StoreRef & { key: string }): Promise<boolean>
  state(ref: StoreRef): Promise<StoreState>
  /** Starts a put that writes `written` chunks and then waits forever; resolves once they are written */
  startStalledPut(request: PutRequest & { written: number }): Promise<void>
  /** Counts records in the database's object stores, bypassing the store (after opening it, so garbage is collected) */
  rawCounts(ref: StoreRef): Promise<Record<'objects' | 'chunks' | 'staging', number>>
  /** Puts concurrently from this page: `count` objects named `${prefix}${i}`; resolves with the error names of failed puts */
  putMany(request: StoreRef & { prefix: string, count: number, size: number }): Promise<string[]>
  /** Tries a put, resolving with the error name (or 'ok') */
  tryPut(request: PutRequest): Promise<string>
}

declare global {
  var storeTest: StorePageApi
}

function storeFor (ref: StoreRef): IndexedDbContentStore {
  const init: IndexedDbContentStoreInit = { namespace: ref.namespace, maxBytes: ref.maxBytes }

  if (ref.stalePutTimeout != null) {
    init.stalePutTimeout = ref.stalePutTimeout
  }

  return new IndexedDbContentStore({}, init)
}

async function using<T> (ref: StoreRef, fn: (store: IndexedDbContentStore) => Promise<T>): Promise<T> {
  const store = storeFor(ref)

  try {
    return await fn(store)
  } finally {
    await store.close()
  }
}

function toHex (bytes: ArrayBuffer): string {
  return [...new Uint8Array(bytes)].map(b => b.toString(16).padStart(2, '0')).join('')
}

let namespaces = 0

/**
 * Looks behind the store's back after a case: no put may still be staged and
 * every chunk must belong to a stored object, which must have all of its own
 */
async function findLeftovers (namespace: string): Promise<string | undefined> {
  const db = await openDB(`${DATABASE_PREFIX}${namespace}`)

  try {
    if (!db.objectStoreNames.contains('objects')) {
      return undefined
    }

    const staging = await db.count('staging')
    const expected = new Map<number, number>()

    for (const record of await db.getAll('objects')) {
      expected.set(record.version, chunkCount(record.size, record.chunkSize))
    }

    const found = new Map<number, number>()

    for (const [version] of await db.getAllKeys('chunks') as Array<[number, number]>) {
      found.set(version, (found.get(version) ?? 0) + 1)
    }

    const orphans = [...found.keys()].filter(version => !expected.has(version))
    const incomplete = [...expected].filter(([version, count]) => (found.get(version) ?? 0) !== count)

    if (staging > 0 || orphans.length > 0 || incomplete.length > 0) {
      return `${staging} staged puts, chunks of ${orphans.length} unknown versions, ${incomplete.length} objects missing chunks`
    }

    return undefined
  } finally {
    db.close()
  }
}

globalThis.storeTest = {
  async runCase (name) {
    const testCase = contentStoreCases.find(c => c.name === name)

    if (testCase == null) {
      return { name, passed: false, error: `no such case: ${name}`, durationMs: 0 }
    }

    const namespace = `${COMPLIANCE_PREFIX}${Date.now()}-${namespaces++}`
    const result = await runContentStoreCase({
      create: async ({ maxBytes }) => new IndexedDbContentStore({}, { namespace, maxBytes })
    }, testCase)
    const leftovers = result.passed ? await findLeftovers(namespace) : undefined
    await deleteDB(`${DATABASE_PREFIX}${namespace}`)

    return leftovers == null ? result : { ...result, passed: false, error: `the case passed but left the database inconsistent: ${leftovers}` }
  },

  async putObject (request) {
    const object = makeObject(request.name, request.size, request.seed, request.chunkSize)
    await using(request, async store => store.put(object.init, object.chunks))

    return { key: object.init.key, digest: object.init.digest }
  },

  async readObject (ref) {
    return using(ref, async store => {
      const meta = await store.getMeta(ref.key)

      if (meta == null) {
        return null
      }

      const bytes = new Uint8Array(meta.size)
      let offset = 0

      for await (const piece of store.read(ref.key)) {
        bytes.set(piece, offset)
        offset += piece.byteLength
      }

      return { meta, digest: toHex(await crypto.subtle.digest('SHA-256', bytes)) }
    })
  },

  async touch (ref) {
    return using(ref, async store => await store.getChunk(ref.key, 0) != null)
  },

  async state (ref) {
    return using(ref, async store => ({ keys: (await store.keys()).sort(), stats: await store.stats() }))
  },

  async startStalledPut (request) {
    const object = makeObject(request.name, request.size, request.seed, request.chunkSize)
    const store = storeFor(request)
    let written = (): void => {}
    const done = new Promise<void>(resolve => { written = resolve })

    async function * stalling (): AsyncGenerator<Uint8Array> {
      for (let i = 0; i < request.written; i++) {
        yield object.chunks[i]
      }

      // the store pulls the next chunk only after writing the previous one
      written()
      await new Promise<never>(() => {})
    }

    // left running on purpose: the test reloads the page under it
    store.put(object.init, stalling()).catch(() => {})
    await done
  },

  async rawCounts (ref) {
    await using(ref, async store => { await store.open() })
    const db = await openDB(`${DATABASE_PREFIX}${ref.namespace}`)

    try {
      return {
        objects: await db.count('objects'),
        chunks: await db.count('chunks'),
        staging: await db.count('staging')
      }
    } finally {
      db.close()
    }
  },

  async putMany (request) {
    return using(request, async store => {
      const results = await Promise.allSettled(Array.from({ length: request.count }, async (_, i) => {
        const object = makeObject(`${request.prefix}${i}`, request.size, i + 1)
        await store.put(object.init, object.chunks)
      }))

      return results.flatMap(r => r.status === 'rejected' ? [`${r.reason?.name}: ${r.reason?.message}`] : [])
    })
  },

  async tryPut (request) {
    const object = makeObject(request.name, request.size, request.seed, request.chunkSize)

    try {
      await using(request, async store => store.put(object.init, object.chunks))
      return 'ok'
    } catch (err: any) {
      return `${err?.name}`
    }
  }
}
