/**
 * A `ContentStore` in the browser's IndexedDB (through `idb`): survives page
 * reloads and browser restarts, and is shared by every tab of the origin that
 * opens the same namespace.
 *
 * Theory of operation
 *
 * One database per namespace, four object stores:
 *
 * - `objects`: one record per visible object (its `ObjectMeta` plus
 * `version` and `lastAccess`), indexed by `lastAccess` for LRU eviction;
 * - `chunks`: chunk bytes keyed `[version, index]`;
 * - `staging`: one record per put in progress (`version`, `touchedAt`);
 * - `state`: one record with two counters, `tick` and `nextVersion`.
 *
 * A put takes a fresh `version` and writes each chunk in its own transaction
 * (IndexedDB commits a transaction as soon as it waits on anything else, such
 * as the next chunk from the network; and one transaction per chunk keeps
 * memory bounded). Chunks of a version no `objects` record points to are
 * invisible. The commit is one transaction that drops the key's previous
 * version, evicts least recently used objects until the new one fits, and
 * writes the object record: the object appears whole or not at all. A failed
 * put deletes its staged chunks; a put cut short by a crash or a closed tab
 * leaves a `staging` record that a later open collects once it has been idle
 * for `stalePutTimeout`.
 *
 * Readwrite transactions over the same stores run one at a time, across tabs
 * too, so tabs sharing the database never lose each other's updates. Totals
 * (`stats`, the bound) are summed from the `objects` records inside the
 * transaction that needs them rather than kept in a counter: there is nothing
 * to drift, and freeing space never needs a write. That matters at the
 * browser's quota, where a transaction that writes even a few bytes is
 * refused but one that only deletes still commits.
 *
 * Recency is a logical clock (`tick`) rather than wall-clock time, so two uses
 * in one millisecond (or in two tabs) still order strictly. Marking a use is
 * best effort: a read never fails because its recency could not be written.
 *
 * Versions are never reused, so a `read` pinned to a version can only find
 * that version's chunks, or none once it is replaced, deleted or evicted.
 */
import { defaultLogger } from '@libp2p/logger'
import { openDB } from 'idb'
import { chunkSlices } from './chunks.ts'
import { NotFoundError, StorageUnavailableError, StoreClosedError } from './errors.ts'
import { StagedPuts } from './indexeddb-puts.ts'
import { DATABASE_VERSION, createSchema, evictToFit, readCounters, removeObject, versionRange, writeCounters } from './indexeddb-schema.ts'
import { copyMeta, isChunkIndex, matchesDigest, resolveRange, throwIfAborted, validateObjectInit } from './validate.ts'
import type { ChunkSource, ContentStore, ContentStoreStats, GetOptions, ObjectInit, ObjectMeta, PutOptions, ReadOptions } from './content-store.ts'
import type { Database, ObjectRecord, Schema, Transaction } from './indexeddb-schema.ts'
import type { AbortOptions, ComponentLogger, Logger } from '@libp2p/interface'
import type { StoreNames } from 'idb'

/** Default bound of an IndexedDB store, in bytes (256 MiB) */
export const INDEXEDDB_STORE_MAX_BYTES = 268_435_456

/** Namespace (database) used when none is given */
export const DEFAULT_NAMESPACE = 'default'

/**
 * How long a put may go without writing a chunk before another open of the
 * database may collect its staged chunks as abandoned, in milliseconds (10 min)
 */
export const STALE_PUT_TIMEOUT_MS = 600_000

/** Databases are named `${DATABASE_PREFIX}${namespace}` */
export const DATABASE_PREFIX = 'ringcdn-store:'

/** Bump with an `upgrade` step whenever the schema changes */
export interface IndexedDbContentStoreComponents {
  /** @default `defaultLogger()` from `@libp2p/logger` */
  logger?: ComponentLogger
}

export interface IndexedDbContentStoreInit {
  /**
   * Names the database (`ringcdn-store:<namespace>`); stores of one namespace
   * on one origin share their contents, usually one per ring
   *
   * @default DEFAULT_NAMESPACE ('default')
   */
  namespace?: string
  /**
   * Upper bound on the sum of stored objects' sizes, in bytes. Enforced on
   * every put and on open (a database left larger by an earlier, larger bound
   * is trimmed). The browser's own quota may be lower: then puts evict further
   * and fail with `StorageQuotaError` only when nothing is left to evict.
   *
   * @default INDEXEDDB_STORE_MAX_BYTES (256 MiB)
   */
  maxBytes?: number
  /**
   * A put idle this long (no chunk written) counts as abandoned: the next open
   * collects its staged chunks and the put, if still alive, fails with
   * `StalePutError`. In milliseconds.
   *
   * @default STALE_PUT_TIMEOUT_MS (10 minutes)
   */
  stalePutTimeout?: number
}

export class IndexedDbContentStore implements ContentStore {
  private readonly log: Logger
  private readonly name: string
  private readonly maxBytes: number
  private readonly stalePutTimeout: number
  /** Fires on close so puts waiting on a slow source stop at once */
  private readonly closing = new AbortController()
  /** Puts in flight: close waits for them to discard what they staged */
  private readonly puts = new Set<Promise<unknown>>()
  private readonly staged: StagedPuts
  private db?: Promise<Database>
  private closed = false

  constructor (components: IndexedDbContentStoreComponents = {}, init: IndexedDbContentStoreInit = {}) {
    this.log = (components.logger ?? defaultLogger()).forComponent('ringcdn:storage:indexeddb')
    this.name = `${DATABASE_PREFIX}${init.namespace ?? DEFAULT_NAMESPACE}`
    this.maxBytes = init.maxBytes ?? INDEXEDDB_STORE_MAX_BYTES
    this.stalePutTimeout = init.stalePutTimeout ?? STALE_PUT_TIMEOUT_MS

    if (!Number.isSafeInteger(this.maxBytes) || this.maxBytes <= 0) {
      throw new RangeError(`maxBytes must be a positive integer, got ${init.maxBytes}`)
    }

    this.staged = new StagedPuts({
      name: this.name,
      maxBytes: this.maxBytes,
      stalePutTimeout: this.stalePutTimeout,
      log: this.log,
      closing: this.closing.signal,
      transaction: async (db, stores, mode, fn) => this.transaction(db, stores, mode, fn),
      assertOpen: () => { this.assertOpen() }
    })
  }

  /** The database name this store uses, e.g. to delete it with `idb`'s `deleteDB` */
  get databaseName (): string {
    return this.name
  }

  /**
   * Opens the database now rather than on first use, so a page learns early
   * that it cannot persist (`StorageUnavailableError`)
   */
  async open (options: AbortOptions = {}): Promise<void> {
    await this.database(options)
  }

  async has (key: string, options: GetOptions = {}): Promise<boolean> {
    return await this.getMeta(key, options) != null
  }

  async getMeta (key: string, options: GetOptions = {}): Promise<ObjectMeta | undefined> {
    const db = await this.database(options)
    const record = await db.get('objects', key)

    if (record == null || !matchesDigest(record, options.digest)) {
      return undefined
    }

    return copyMeta(record)
  }

  /** `handOver` makes no difference here: structured clone copies every chunk into the database anyway */
  async put (init: ObjectInit, chunks: ChunkSource, options: PutOptions = {}): Promise<ObjectMeta> {
    this.assertOpen(options)
    const valid = validateObjectInit(init, this.maxBytes)
    const db = await this.database(options)
    // close() may have started while the database was opening
    this.assertOpen(options)
    const put = this.staged.stageAndCommit(db, valid, chunks, options)
    this.puts.add(put)

    try {
      return await put
    } finally {
      this.puts.delete(put)
    }
  }

  async getChunk (key: string, index: number, options: GetOptions = {}): Promise<Uint8Array | undefined> {
    const db = await this.database(options)
    const found = await this.transaction(db, ['objects', 'chunks'], 'readonly', async (tx) => {
      const record = await tx.objectStore('objects').get(key)

      if (record == null || !matchesDigest(record, options.digest) || !isChunkIndex(record, index)) {
        return undefined
      }

      const chunk = await tx.objectStore('chunks').get([record.version, index])
      return chunk == null ? undefined : { record, chunk }
    })

    if (found == null) {
      return undefined
    }

    await this.touch(db, found.record)
    return found.chunk
  }

  async * read (key: string, options: ReadOptions = {}): AsyncGenerator<Uint8Array, void, undefined> {
    const db = await this.database(options)
    const record = await db.get('objects', key)

    if (record == null || !matchesDigest(record, options.digest)) {
      throw new NotFoundError(`object ${key} is not stored`)
    }

    const { offset, length } = resolveRange(record.size, options)
    await this.touch(db, record)

    // one short transaction per chunk: memory stays at one chunk however
    // large the object, and writers are not held up while the consumer is slow
    for (const slice of chunkSlices(record.chunkSize, offset, length)) {
      this.assertOpen(options)
      const chunk = await db.get('chunks', [record.version, slice.index])

      if (chunk == null) {
        throw new NotFoundError(`object ${key} was removed while being read`)
      }

      yield slice.start === 0 && slice.end === chunk.byteLength ? chunk : chunk.subarray(slice.start, slice.end)
    }
  }

  async delete (key: string, options: AbortOptions = {}): Promise<void> {
    const db = await this.database(options)

    await this.transaction(db, ['objects', 'chunks'], 'readwrite', async (tx) => {
      const record = await tx.objectStore('objects').get(key)

      if (record != null) {
        await removeObject(tx, record)
      }
    })
  }

  async keys (options: AbortOptions = {}): Promise<string[]> {
    const db = await this.database(options)
    return db.getAllKeys('objects')
  }

  async stats (options: AbortOptions = {}): Promise<ContentStoreStats> {
    const db = await this.database(options)
    const records = await db.getAll('objects')

    return {
      objects: records.length,
      bytes: records.reduce((sum, record) => sum + record.size, 0),
      maxBytes: this.maxBytes
    }
  }

  async close (): Promise<void> {
    if (this.closed) {
      return
    }

    this.closed = true
    this.closing.abort()
    // let puts in flight discard their staged chunks while the database is open
    await Promise.allSettled([...this.puts])

    const db = this.db
    this.db = undefined
    await db?.then(db => { db.close() }, () => {})
  }

  /**
   * Marks the object most recently used, if it is still the version read.
   * Best effort: failing to record a use (at the quota, or closing) must not
   * fail the read that made it.
   */
  private async touch (db: Database, read: ObjectRecord): Promise<void> {
    try {
      await this.transaction(db, ['objects', 'state'], 'readwrite', async (tx) => {
        const record = await tx.objectStore('objects').get(read.key)

        if (record?.version !== read.version) {
          return
        }

        const counters = await readCounters(tx)
        counters.tick += 1
        record.lastAccess = counters.tick
        await tx.objectStore('objects').put(record)
        await writeCounters(tx, counters)
      })
    } catch (err) {
      this.log('could not mark %s as used - %e', read.key, err)
    }
  }

  /**
   * Runs `fn` in one transaction and resolves once the transaction committed.
   * If `fn` throws, the transaction is aborted so none of its writes land.
   * Every request promise is awaited inside `fn` and `done` is always
   * awaited, so a failed transaction never surfaces as an unhandled rejection.
   */
  private async transaction<T> (db: Database, stores: Array<StoreNames<Schema>>, mode: IDBTransactionMode, fn: (tx: Transaction) => Promise<T>): Promise<T> {
    let tx: Transaction

    try {
      tx = db.transaction(stores, mode) as unknown as Transaction
    } catch (err) {
      // the connection was closed under us: by close(), or for a newer version
      this.assertOpen()
      throw err
    }

    let result: T

    try {
      result = await fn(tx)
    } catch (err) {
      try {
        tx.abort()
      } catch {
        // already finished or aborted by the failed request
      }

      await tx.done.catch(() => {})
      throw err
    }

    await tx.done
    return result
  }

  private async database (options: AbortOptions = {}): Promise<Database> {
    this.assertOpen(options)

    if (this.db == null) {
      const db = this.openDatabase()
      this.db = db
      // a failed open is retried by the next call rather than cached
      db.catch(() => {
        if (this.db === db) {
          this.db = undefined
        }
      })
    }

    return this.db
  }

  private async openDatabase (): Promise<Database> {
    if (globalThis.indexedDB == null) {
      throw new StorageUnavailableError('IndexedDB is not available in this environment')
    }

    let db: Database

    try {
      db = await openDB<Schema>(this.name, DATABASE_VERSION, {
        upgrade: createSchema,
        blocking: () => {
          // a newer schema wants the database (another tab after an
          // upgrade): step aside, the next call reopens
          this.log('closing %s for a newer version', this.name)
          this.forget(db)
        },
        terminated: () => {
          // the browser closed it (storage cleared, disk error)
          this.log.error('%s was closed by the browser', this.name)
          this.forget(db)
        }
      })
    } catch (err: any) {
      throw new StorageUnavailableError(`could not open IndexedDB database ${this.name}: ${err?.message}`, { cause: err })
    }

    try {
      await this.collectGarbage(db)
    } catch (err) {
      db.close()
      throw err
    }

    return db
  }

  private forget (db: Database): void {
    db.close()
    this.db = undefined
  }

  /** On open: collect abandoned puts, and trim to `maxBytes` if an earlier bound was larger */
  private async collectGarbage (db: Database): Promise<void> {
    const cutoff = Date.now() - this.stalePutTimeout

    const collected = await this.transaction(db, ['staging', 'chunks'], 'readwrite', async (tx) => {
      const stale: number[] = []
      let cursor = await tx.objectStore('staging').openCursor()

      while (cursor != null) {
        if (cursor.value.touchedAt < cutoff) {
          stale.push(cursor.value.version)
          await tx.objectStore('chunks').delete(versionRange(cursor.value.version))
          await cursor.delete()
        }

        cursor = await cursor.continue()
      }

      return stale
    })

    if (collected.length > 0) {
      this.log('collected %d abandoned puts', collected.length)
    }

    const evicted = await this.transaction(db, ['objects', 'chunks'], 'readwrite', async (tx) => {
      return evictToFit(tx, await tx.objectStore('objects').getAll(), 0, this.maxBytes)
    })

    if (evicted.length > 0) {
      this.log('evicted %d objects to fit the bound of %d bytes', evicted.length, this.maxBytes)
    }
  }

  private assertOpen (options: AbortOptions = {}): void {
    if (this.closed) {
      throw new StoreClosedError()
    }

    throwIfAborted(options.signal)
  }
}
