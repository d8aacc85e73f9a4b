/**
 * The put path of the IndexedDB store (theory of operation in
 * `indexeddb-store.ts`): a put takes a fresh version, writes each chunk in
 * its own transaction, and commits in one transaction that drops the key's
 * previous version and evicts until the object fits; a failed put discards
 * what it staged. At the browser's quota a write is retried after evicting
 * the least recently used object, within the put's own size.
 */
import { StalePutError, StorageQuotaError } from './errors.ts'
import { evictToFit, isQuotaError, readCounters, removeObject, versionRange, writeCounters } from './indexeddb-schema.ts'
import { copyMeta, throwIfAborted, validatedChunks } from './validate.ts'
import type { ChunkSource, ObjectInit, ObjectMeta } from './content-store.ts'
import type { Database, ObjectRecord, Schema, StagingRecord, Transaction } from './indexeddb-schema.ts'
import type { AbortOptions, Logger } from '@libp2p/interface'
import type { StoreNames } from 'idb'

/** Runs `fn` in one transaction (the store's `transaction`) */
export type RunTransaction = <T>(db: Database, stores: Array<StoreNames<Schema>>, mode: IDBTransactionMode, fn: (tx: Transaction) => Promise<T>) => Promise<T>

export interface StagedPutsInit {
  /** The database name, for messages */
  name: string
  maxBytes: number
  stalePutTimeout: number
  log: Logger
  /** Aborts when the store closes, so puts waiting on a slow source stop at once */
  closing: AbortSignal
  transaction: RunTransaction
  /** @throws {StoreClosedError} */
  assertOpen(): void
}

export class StagedPuts {
  private readonly name: string
  private readonly maxBytes: number
  private readonly stalePutTimeout: number
  private readonly log: Logger
  private readonly closing: AbortSignal
  private readonly transaction: RunTransaction
  private readonly assertOpen: () => void

  constructor (init: StagedPutsInit) {
    this.name = init.name
    this.maxBytes = init.maxBytes
    this.stalePutTimeout = init.stalePutTimeout
    this.log = init.log
    this.closing = init.closing
    this.transaction = init.transaction
    this.assertOpen = init.assertOpen
  }

  async stageAndCommit (db: Database, init: ObjectInit, chunks: ChunkSource, options: AbortOptions): Promise<ObjectMeta> {
    const signal = AbortSignal.any([this.closing, ...(options.signal == null ? [] : [options.signal])])
    const budget = { bytes: init.size + init.chunkSize }
    const version = await this.withQuotaRetry(db, budget, async () => this.beginPut(db, init.key))

    try {
      let next = 0

      for await (const chunk of validatedChunks(init, chunks, { signal, copy: 'views' })) {
        const index = next++
        await this.withQuotaRetry(db, budget, async () => { await this.writeChunk(db, version, index, chunk) })
      }

      throwIfAborted(signal)
      return await this.withQuotaRetry(db, budget, async () => this.commit(db, version, init))
    } catch (err) {
      await this.discard(db, version)
      this.assertOpen()
      throw err
    }
  }

  private async beginPut (db: Database, key: string): Promise<number> {
    return this.transaction(db, ['staging', 'state'], 'readwrite', async (tx) => {
      const counters = await readCounters(tx)
      const version = counters.nextVersion++
      await writeCounters(tx, counters)
      await tx.objectStore('staging').put({ version, key, touchedAt: Date.now() }, version)

      return version
    })
  }

  private async writeChunk (db: Database, version: number, index: number, chunk: Uint8Array): Promise<void> {
    await this.transaction(db, ['staging', 'chunks'], 'readwrite', async (tx) => {
      // checked in the same transaction as the write, so a collected put can
      // never leave orphan chunks behind
      const staging = await this.stagingRecord(tx, version)
      staging.touchedAt = Date.now()
      await tx.objectStore('staging').put(staging, version)
      await tx.objectStore('chunks').put(chunk, [version, index])
    })
  }

  private async commit (db: Database, version: number, init: ObjectInit): Promise<ObjectMeta> {
    return this.transaction(db, ['objects', 'chunks', 'staging', 'state'], 'readwrite', async (tx) => {
      const staging = await this.stagingRecord(tx, version)
      await tx.objectStore('staging').delete(staging.version)

      const others: ObjectRecord[] = []

      for (const record of await tx.objectStore('objects').getAll()) {
        if (record.key === init.key) {
          // the previous version goes whatever its recency
          await removeObject(tx, record)
        } else {
          others.push(record)
        }
      }

      const evicted = await evictToFit(tx, others, init.size, this.maxBytes)

      if (evicted.length > 0) {
        this.log('evicted %d objects to store %s: %s', evicted.length, init.key, evicted.join(', '))
      }

      const counters = await readCounters(tx)
      counters.tick += 1
      const record: ObjectRecord = { ...init, storedAt: Date.now(), version, lastAccess: counters.tick }
      await tx.objectStore('objects').put(record)
      await writeCounters(tx, counters)

      return copyMeta(record)
    })
  }

  /** Deletes what a failed put staged; a failure here is left to the stale-put collector */
  private async discard (db: Database, version: number): Promise<void> {
    try {
      await this.transaction(db, ['staging', 'chunks'], 'readwrite', async (tx) => {
        await tx.objectStore('chunks').delete(versionRange(version))
        await tx.objectStore('staging').delete(version)
      })
    } catch (err) {
      this.log.error('could not discard staged version %d - %e', version, err)
    }
  }

  private async stagingRecord (tx: Transaction, version: number): Promise<StagingRecord> {
    const staging = await tx.objectStore('staging').get(version)

    if (staging == null) {
      throw new StalePutError(`put of version ${version} was idle longer than ${this.stalePutTimeout} ms and was collected`)
    }

    return staging
  }

  /**
   * Runs `fn`; when the browser's quota refuses a write, evicts the least
   * recently used object and tries again. The browser's quota (a share of free
   * disk, smaller in private windows) can be below `maxBytes`, and the origin's
   * other data counts against it too. Gives up with `StorageQuotaError` when
   * nothing is left to evict, or once this put has evicted more than it needs
   * (its size plus one chunk of slack): past that, the quota is taken by
   * something else and evicting on would only empty the store.
   */
  private async withQuotaRetry<T> (db: Database, budget: { bytes: number }, fn: () => Promise<T>): Promise<T> {
    while (true) {
      try {
        return await fn()
      } catch (err) {
        if (!isQuotaError(err)) {
          throw err
        }

        if (budget.bytes <= 0) {
          throw new StorageQuotaError('the browser\'s storage quota for this origin is full; evicting as many bytes as the object needs did not make room', { cause: err })
        }

        // deletes only: this commits even when no write would
        const evicted = await this.transaction(db, ['objects', 'chunks'], 'readwrite', async (tx) => {
          const oldest = await tx.objectStore('objects').index('lastAccess').openCursor()

          if (oldest == null) {
            return undefined
          }

          await removeObject(tx, oldest.value)
          return oldest.value
        })

        if (evicted == null) {
          throw new StorageQuotaError(`the browser's storage quota for this origin is full and ${this.name} has nothing left to evict`, { cause: err })
        }

        budget.bytes -= evicted.size
        this.log('quota exceeded, evicted %s (%d bytes)', evicted.key, evicted.size)
      }
    }
  }
}
