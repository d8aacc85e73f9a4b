/**
 * One named error class per storage failure. Callers match on `.name`.
 * Aborts use `AbortError` from `@libp2p/interface`, like the rest of libp2p.
 */

/** The object is larger than the store's `maxBytes`: storing it would evict everything and still not fit */
export class ObjectTooLargeError extends Error {
  static name = 'ObjectTooLargeError'
  name = 'ObjectTooLargeError'
}

/**
 * The object description is malformed (key, digest, size, chunk size, chunk
 * digests) or the chunks handed to `put` do not match it (count or lengths)
 */
export class InvalidObjectError extends Error {
  static name = 'InvalidObjectError'
  name = 'InvalidObjectError'
}

/**
 * The object is not in the store: never stored, deleted, evicted, replaced by
 * another version (when a `digest` was asked for), or removed while a `read`
 * was streaming it
 */
export class NotFoundError extends Error {
  static name = 'NotFoundError'
  name = 'NotFoundError'
}

/** The byte range asked of `read` is malformed or starts past the end of the object */
export class InvalidRangeError extends Error {
  static name = 'InvalidRangeError'
  name = 'InvalidRangeError'
}

/** The browser refused to store more for this origin (IndexedDB `QuotaExceededError`), even after evicting */
export class StorageQuotaError extends Error {
  static name = 'StorageQuotaError'
  name = 'StorageQuotaError'
}

/** The backing storage cannot be used here (no IndexedDB, or the database failed to open) */
export class StorageUnavailableError extends Error {
  static name = 'StorageUnavailableError'
  name = 'StorageUnavailableError'
}

/** The store was closed; operations in flight when it closed fail with this too */
export class StoreClosedError extends Error {
  static name = 'StoreClosedError'
  name = 'StoreClosedError'

  constructor (message: string = 'The content store is closed') {
    super(message)
  }
}

/**
 * A `put` stayed idle (no chunk written) longer than the store's stale-put
 * timeout, so its staged chunks were collected as garbage (possibly by another
 * tab sharing the database) before it could commit
 */
export class StalePutError extends Error {
  static name = 'StalePutError'
  name = 'StalePutError'
}
