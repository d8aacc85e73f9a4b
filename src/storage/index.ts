/**
 * Where a page keeps the assets it serves to other visitors: the
 * `ContentStore` seam and its two implementations.
 */
export * from './content-store.ts'
export * from './errors.ts'
export { chunkCount, chunkLength, chunkSlices, rechunk } from './chunks.ts'
export type { ChunkSlice } from './chunks.ts'
export { MemoryContentStore, MEMORY_STORE_MAX_BYTES } from './memory-store.ts'
export type { MemoryContentStoreComponents, MemoryContentStoreInit } from './memory-store.ts'
export { IndexedDbContentStore, INDEXEDDB_STORE_MAX_BYTES, DEFAULT_NAMESPACE, STALE_PUT_TIMEOUT_MS, DATABASE_PREFIX } from './indexeddb-store.ts'
export type { IndexedDbContentStoreComponents, IndexedDbContentStoreInit } from './indexeddb-store.ts'
