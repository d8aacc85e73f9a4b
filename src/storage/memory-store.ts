/**
 * A `ContentStore` in the page's memory: an `lru-cache` bounded by bytes,
 * holding each object as an array of chunks. For pages that must not (or
 * cannot) persist, for Node, and for tests. Contents go with the page.
 */
import { defaultLogger } from '@libp2p/logger'
import { LRUCache } from 'lru-cache'
import { chunkSlices } from './chunks.ts'
import { NotFoundError, StoreClosedError } from './errors.ts'
import { copyBytes, copyMeta, isChunkIndex, matchesDigest, resolveRange, throwIfAborted, validatedChunks, validateObjectInit } from './validate.ts'
import type { ChunkSource, ContentStore, ContentStoreStats, GetChunkOptions, GetOptions, ObjectInit, ObjectMeta, PutOptions, ReadOptions } from './content-store.ts'
import type { AbortOptions, ComponentLogger, Logger } from '@libp2p/interface'

/** Default bound of a memory store, in bytes (64 MiB) */
export const MEMORY_STORE_MAX_BYTES = 67_108_864

export interface MemoryContentStoreComponents {
  /** @default `defaultLogger()` from `@libp2p/logger` */
  logger?: ComponentLogger
}

export interface MemoryContentStoreInit {
  /**
   * Upper bound on the sum of stored objects' sizes, in bytes
   *
   * @default MEMORY_STORE_MAX_BYTES (64 MiB)
   */
  maxBytes?: number
}

interface StoredObject {
  meta: ObjectMeta
  chunks: Uint8Array[]
}

export class MemoryContentStore implements ContentStore {
  private readonly log: Logger
  private readonly maxBytes: number
  private readonly cache: LRUCache<string, StoredObject>
  /** Fires on close so puts waiting on a slow source stop at once */
  private readonly closing = new AbortController()
  private closed = false

  constructor (components: MemoryContentStoreComponents = {}, init: MemoryContentStoreInit = {}) {
    this.log = (components.logger ?? defaultLogger()).forComponent('ringcdn:storage:memory')
    this.maxBytes = init.maxBytes ?? MEMORY_STORE_MAX_BYTES

    if (!Number.isSafeInteger(this.maxBytes) || this.maxBytes <= 0) {
      throw new RangeError(`maxBytes must be a positive integer, got ${init.maxBytes}`)
    }

    this.cache = new LRUCache<string, StoredObject>({
      maxSize: this.maxBytes,
      // lru-cache wants positive sizes: an empty object costs one byte of the
      // bound, which keeps "objects" bounded too
      sizeCalculation: (object) => Math.max(1, object.meta.size),
      dispose: (object, key, reason) => {
        if (reason === 'evict') {
          this.log('evicted %s (%d bytes)', key, object.meta.size)
        }
      }
    })
  }

  async has (key: string, options: GetOptions = {}): Promise<boolean> {
    this.assertOpen(options)
    const object = this.cache.peek(key)
    return object != null && matchesDigest(object.meta, options.digest)
  }

  async getMeta (key: string, options: GetOptions = {}): Promise<ObjectMeta | undefined> {
    this.assertOpen(options)
    const object = this.cache.peek(key)

    if (object == null || !matchesDigest(object.meta, options.digest)) {
      return undefined
    }

    return copyMeta(object.meta)
  }

  async put (init: ObjectInit, chunks: ChunkSource, options: PutOptions = {}): Promise<ObjectMeta> {
    this.assertOpen(options)
    const valid = validateObjectInit(init, this.maxBytes)
    const signal = AbortSignal.any([this.closing.signal, ...(options.signal == null ? [] : [options.signal])])
    // each put collects into its own array, so concurrent puts of one key never mix
    const collected: Uint8Array[] = []

    try {
      // handed-over chunks are kept as they are: the caller no longer owns them
      // (views into one buffer of this object are fine: they live and go together)
      for await (const chunk of validatedChunks(valid, chunks, { signal, copy: options.handOver === true ? 'never' : 'always' })) {
        collected.push(chunk)
      }
    } catch (err) {
      this.assertOpen()
      throw err
    }

    this.assertOpen(options)
    const meta: ObjectMeta = { ...valid, storedAt: Date.now() }
    // the one step that makes the object visible (and evicts to make room)
    this.cache.set(meta.key, { meta, chunks: collected })

    return copyMeta(meta)
  }

  async getChunk (key: string, index: number, options: GetChunkOptions = {}): Promise<Uint8Array | undefined> {
    this.assertOpen(options)
    const object = this.cache.peek(key)

    if (object == null || !matchesDigest(object.meta, options.digest) || !isChunkIndex(object.meta, index)) {
      return undefined
    }

    this.touch(key)
    // stored arrays are never written to, so a reader that promises not to either may have them
    return options.readOnly === true ? object.chunks[index] : copyBytes(object.chunks[index])
  }

  async * read (key: string, options: ReadOptions = {}): AsyncGenerator<Uint8Array, void, undefined> {
    this.assertOpen(options)
    // the chunk array of the version found here is never modified (a new put
    // replaces the whole record), so this read is a consistent snapshot
    const object = this.cache.peek(key)

    if (object == null || !matchesDigest(object.meta, options.digest)) {
      throw new NotFoundError(`object ${key} is not stored`)
    }

    const { offset, length } = resolveRange(object.meta.size, options)
    this.touch(key)

    for (const slice of chunkSlices(object.meta.chunkSize, offset, length)) {
      this.assertOpen(options)
      yield object.chunks[slice.index].slice(slice.start, slice.end)
    }
  }

  async delete (key: string, options: AbortOptions = {}): Promise<void> {
    this.assertOpen(options)
    this.cache.delete(key)
  }

  async keys (options: AbortOptions = {}): Promise<string[]> {
    this.assertOpen(options)
    return [...this.cache.keys()]
  }

  async stats (options: AbortOptions = {}): Promise<ContentStoreStats> {
    this.assertOpen(options)
    let bytes = 0

    for (const object of this.cache.values()) {
      bytes += object.meta.size
    }

    return { objects: this.cache.size, bytes, maxBytes: this.maxBytes }
  }

  async close (): Promise<void> {
    if (this.closed) {
      return
    }

    this.closed = true
    this.closing.abort()
    this.cache.clear()
  }

  /** Marks an object most recently used */
  private touch (key: string): void {
    this.cache.get(key)
  }

  private assertOpen (options: AbortOptions = {}): void {
    if (this.closed) {
      throw new StoreClosedError()
    }

    throwIfAborted(options.signal)
  }
}
