/**
 * The `ContentStore` seam: where a page keeps the static assets it fetched so
 * it can serve them to other visitors. Two implementations pass one compliance
 * suite (`test/storage/content-store-compliance.ts`): `MemoryContentStore`
 * (lru-cache) and `IndexedDbContentStore` (idb, survives reloads).
 *
 * Objects are chunked. Assets range from a few KB to 100+ MiB and move between
 * peers in fixed-size chunks with per-chunk digests, so the store keeps them
 * chunk by chunk: a 100 MiB video is written and read with one chunk in memory
 * at a time, a byte range (video seeking) touches only its chunks, and several
 * holders can each serve some chunks of one object.
 *
 * Contract (every implementation):
 *
 * - Bounded: the stored objects' `size`s never add up to more than `maxBytes`.
 * Whole objects are evicted least recently used first to make room; reading
 * content (`getChunk`, `read`) and storing count as use, `has`, `getMeta`,
 * `keys` and `stats` do not (answering "do you hold it?" must not keep an
 * object alive).
 * - Atomic: `put` writes every chunk, then makes the object visible in one
 * step. Until then readers see the previous version of the key (or nothing);
 * a put that fails, is aborted or is interrupted by `close` leaves nothing
 * behind. Concurrent puts of one key are safe: each commits whole, the last
 * to commit wins.
 * - Versioned reads: a `read` is pinned to the version it started on. It
 * yields that version's bytes or ends with `NotFoundError` (the object was
 * deleted, evicted or replaced while streaming, which only stores that do
 * not snapshot may do), never a mix of two versions. Pass `digest` to serve
 * only the version whose digest the caller trusts.
 * - Absence: lookups answer absence in-band (`has` false, `getMeta` and
 * `getChunk` `undefined`); `read` cannot (an empty stream is a valid empty
 * object), so it throws `NotFoundError`.
 * - Not an integrity layer: the CDN verifies digests before `put` and the store
 * keeps what it is given. It does check the *shape*: chunk count and lengths
 * must match `size` and `chunkSize` (`InvalidObjectError`).
 * - Bytes returned are the caller's: mutating them does not change the store,
 * and mutating chunks after handing them to `put` does not either — unless
 * the caller says it will not (`PutOptions.handOver`, `GetChunkOptions.readOnly`),
 * so a store that keeps arrays in memory may skip the copy. A store never
 * changes the arrays of an object it holds: a new put replaces them whole.
 */
import type { AbortOptions } from '@libp2p/interface'

/** Chunk size objects are split into unless the publisher chose another, in bytes (256 KiB) */
export const CHUNK_SIZE = 262_144

/**
 * How an object's digest was vouched for when it was stored:
 *
 * - `sri`: the caller's `integrity` option;
 * - `manifest`: the site manifest the origin serves;
 * - `origin`: computed from bytes the origin sent, or the origin's
 * `Repr-Digest` / `Content-Digest`;
 * - `peer`: only the holder that sent the bytes claimed it (trust on first use).
 *
 * The first three are trusted sources; `peer` is not. A record without a
 * provenance (stored by an older version) counts as `peer`.
 */
export type Provenance = 'sri' | 'manifest' | 'origin' | 'peer'

/** The provenances a page may deliver to itself without a trusted digest in hand */
export const TRUSTED_PROVENANCES: readonly Provenance[] = ['sri', 'manifest', 'origin']

/** Whether a stored object's digest came from a trusted source (not a peer's claim, not unknown) */
export function isVouched (meta: { provenance?: Provenance }): boolean {
  return meta.provenance != null && TRUSTED_PROVENANCES.includes(meta.provenance)
}

/**
 * What a caller tells the store about an object it stores. All digests are
 * SHA-256 as 64 lowercase hex characters.
 */
export interface ObjectInit {
  /** The content key: SHA-256 of the normalised URL */
  key: string
  /** Total length in bytes (0 is allowed: an empty asset has no chunks) */
  size: number
  /** Length of every chunk but the last, in bytes; the last is `size - (n - 1) * chunkSize` */
  chunkSize: number
  /** SHA-256 of the whole object */
  digest: string
  /**
   * SHA-256 of each chunk, one per chunk in order. Kept so a holder can hand
   * them to a peer that fetches the object chunk by chunk (and verifies each
   * chunk as it arrives) without rehashing 100 MiB.
   */
  chunkDigests?: string[]
  /** The origin's `Content-Type`, replayed when the asset is served */
  contentType?: string
  /**
   * How `digest` was vouched for. Stores keep it as given; absent means
   * untrusted (like `peer`)
   */
  provenance?: Provenance
}

/** An object as stored */
export interface ObjectMeta extends ObjectInit {
  /** When the store committed it, in milliseconds since the Unix epoch */
  storedAt: number
}

/** Sources `put` accepts: one `Uint8Array` per chunk, in order */
export type ChunkSource = AsyncIterable<Uint8Array> | Iterable<Uint8Array>

export interface GetOptions extends AbortOptions {
  /**
   * Only the version of the object with this whole-object digest counts;
   * another version of the key is treated as missing. Use it to serve bytes
   * that match the digest a requester trusts even if the asset changed.
   */
  digest?: string
}

export interface GetChunkOptions extends GetOptions {
  /**
   * The caller only reads the chunk and never changes it (the content server
   * writes it to a stream), so a store that keeps arrays in memory may return
   * its own instead of a copy
   *
   * @default false
   */
  readOnly?: boolean
}

export interface PutOptions extends AbortOptions {
  /**
   * The chunks are handed over: the caller never reads or writes them (nor
   * the buffers they view) again, so a store that keeps arrays in memory may
   * keep these as they are instead of copying each one. A content transfer
   * assembles an object in a buffer of its own and hands it over; a caller
   * that keeps using its chunks must not set this.
   *
   * @default false
   */
  handOver?: boolean
}

export interface ReadOptions extends GetOptions {
  /**
   * First byte to read
   *
   * @default 0
   */
  offset?: number
  /**
   * How many bytes to read; a range running past the end of the object is cut
   * at the end (like an HTTP `Range` request)
   *
   * @default the rest of the object
   */
  length?: number
}

export interface ContentStoreStats {
  /** Objects stored */
  objects: number
  /** Sum of the stored objects' sizes, in bytes */
  bytes: number
  /** The bound `bytes` never exceeds */
  maxBytes: number
}

export interface ContentStore {
  /** Whether the object (with `digest`, if given) is stored; does not count as use */
  has(key: string, options?: GetOptions): Promise<boolean>

  /** The object's description, or `undefined`; does not count as use */
  getMeta(key: string, options?: GetOptions): Promise<ObjectMeta | undefined>

  /**
   * Stores an object from its chunks, replacing any earlier version of the key.
   * Writes all chunks, then makes the object visible atomically; a failed or
   * aborted put leaves nothing behind. Evicts least recently used objects to
   * make room.
   *
   * Rejects with `ObjectTooLargeError` (before reading any chunk) when
   * `size > maxBytes`, `InvalidObjectError` when the description is malformed
   * or the chunks do not match it, `AbortError`, `StoreClosedError`, or a
   * store-specific error (`StorageQuotaError`); an error thrown by `chunks`
   * itself is passed through.
   *
   * @returns the description as stored
   */
  put(init: ObjectInit, chunks: ChunkSource, options?: PutOptions): Promise<ObjectMeta>

  /**
   * One whole chunk (index from 0), or `undefined` when the object is missing
   * or has no such chunk. Counts as use.
   */
  getChunk(key: string, index: number, options?: GetChunkOptions): Promise<Uint8Array | undefined>

  /**
   * Streams a byte range of the object chunk by chunk (each yielded piece lies
   * within one chunk). Counts as use. Throws `NotFoundError` when the object is
   * missing (or is removed while streaming), `InvalidRangeError` for a
   * malformed range or one starting past the end.
   */
  read(key: string, options?: ReadOptions): AsyncGenerator<Uint8Array, void, undefined>

  /** Removes the object; removing a missing object is not an error */
  delete(key: string, options?: AbortOptions): Promise<void>

  /** Keys of all stored objects, in no particular order */
  keys(options?: AbortOptions): Promise<string[]>

  stats(options?: AbortOptions): Promise<ContentStoreStats>

  /**
   * Releases the store. Puts in flight fail with `StoreClosedError` and leave
   * nothing behind; later calls reject with `StoreClosedError`. Closing twice is
   * allowed. Closing a memory store discards its contents; a persistent store
   * keeps them for the next time it is opened.
   */
  close(): Promise<void>
}
