/**
 * The layout of an `IndexedDbContentStore` database (see that file's theory
 * of operation) and the steps inside one transaction that more than one
 * operation takes: counters, removing an object, evicting to fit.
 */
import type { ObjectMeta } from './content-store.ts'
import type { DBSchema, IDBPDatabase, IDBPTransaction, StoreNames } from 'idb'

export const DATABASE_VERSION = 1
export const COUNTERS_KEY = 'counters'

export interface ObjectRecord extends ObjectMeta {
  /** Chunks of this object are keyed `[version, index]` */
  version: number
  /** Value of `tick` when the object was last stored or read: smaller is evicted first */
  lastAccess: number
}

export interface StagingRecord {
  version: number
  key: string
  /** Wall-clock time of the last chunk written, in ms since the epoch */
  touchedAt: number
}

export interface Counters {
  /** Logical clock for `lastAccess` */
  tick: number
  /** Next put's `version` */
  nextVersion: number
}

export interface Schema extends DBSchema {
  objects: { key: string, value: ObjectRecord, indexes: { lastAccess: number } }
  chunks: { key: [number, number], value: Uint8Array }
  staging: { key: number, value: StagingRecord }
  state: { key: string, value: Counters }
}

export type Database = IDBPDatabase<Schema>
// typed readwrite so helpers can write; readonly transactions only read
export type Transaction = IDBPTransaction<Schema, Array<StoreNames<Schema>>, 'readwrite'>

export function versionRange (version: number): IDBKeyRange {
  return IDBKeyRange.bound([version, 0], [version, Infinity])
}

export function isQuotaError (err: unknown): boolean {
  return (err as Error | undefined)?.name === 'QuotaExceededError'
}

export async function readCounters (tx: Transaction): Promise<Counters> {
  return await tx.objectStore('state').get(COUNTERS_KEY) ?? { tick: 0, nextVersion: 1 }
}

export async function writeCounters (tx: Transaction, counters: Counters): Promise<void> {
  await tx.objectStore('state').put(counters, COUNTERS_KEY)
}

/** Drops an object record and its chunks: deletes only, so it commits even at the quota */
export async function removeObject (tx: Transaction, record: ObjectRecord): Promise<void> {
  await tx.objectStore('chunks').delete(versionRange(record.version))
  await tx.objectStore('objects').delete(record.key)
}

/**
 * Evicts least recently used objects among `records` until their sizes plus
 * `extra` fit under `maxBytes`; returns the keys evicted
 */
export async function evictToFit (tx: Transaction, records: ObjectRecord[], extra: number, maxBytes: number): Promise<string[]> {
  let bytes = records.reduce((sum, record) => sum + record.size, extra)
  const evicted: string[] = []

  for (const record of [...records].sort((a, b) => a.lastAccess - b.lastAccess)) {
    if (bytes <= maxBytes) {
      break
    }

    await removeObject(tx, record)
    bytes -= record.size
    evicted.push(record.key)
  }

  return evicted
}

/** Creates the object stores of `DATABASE_VERSION` in a new database */
export function createSchema (db: IDBPDatabase<Schema>): void {
  db.createObjectStore('objects', { keyPath: 'key' }).createIndex('lastAccess', 'lastAccess')
  db.createObjectStore('chunks')
  db.createObjectStore('staging')
  db.createObjectStore('state')
}
