/**
 * The seams of the CDN policy the simulator runs: the fetch pipeline,
 * holdings and home copies reach the ring, peers, the origin and the page's
 * store only through these, and time and randomness only through `Clock` and
 * `Random`. The libp2p service (`src/ring-cdn.ts`) and the simulator
 * (`sim/page.ts`) each provide adapters; the policy code is the same.
 */
import type { LocateResult } from './directory-service.ts'
import type { Address, Peer } from '../overlay/seams.ts'
import type { Provenance } from '../storage/content-store.ts'

export type { LocateResult }

export interface SeamOptions {
  /** Deadline of the call, ms of the adapter's clock */
  timeout: number
  signal?: AbortSignal
}

/** The holder directory on the ring (`DirectoryService` is one) */
export interface Locator {
  /** Whether this node is a ring member now (a fetch before it goes to the origin) */
  readonly ready: boolean
  /**
   * Looks `key` up: its home node and a sample of holders. `avoid`: peers
   * found lying about `key` (a home that listed itself and served bytes that
   * are not the object); the lookup routes around them, and a home among them
   * is answered for by its successor from its replica of the home's entries
   */
  locate(key: bigint, options: SeamOptions & { avoid?: Address[] }): Promise<LocateResult>
  /** Tells `home` that this node holds `key` now, and which listed holders turned out not to */
  announce(home: Peer, key: bigint, gone: Address[], options: SeamOptions): Promise<void>
  /** As `key`'s home: `holder` does not hold it after all, or sent bytes that are not it */
  forget(key: bigint, holder: Address): void
  /** This node, as a home lists itself */
  readonly self?: Peer
}

/** What the pipeline knows of a stored object */
export interface StoredObject {
  /** Content key, 64 hex digits */
  key: string
  size: number
  /** SHA-256 of the whole object, hex (the simulator's model digest is any string) */
  digest: string
  provenance?: Provenance
}

export interface DownloadOptions {
  /** The digest the bytes must match; without it the holder's claim is checked for consistency only */
  digest?: string
  /** Recorded with the stored object: who vouched for `digest` */
  provenance: Provenance
  maxObjectBytes: number
  /** Time for the holder to start sending, ms */
  startWithinMs?: number
  signal: AbortSignal
  /**
   * The holder answered and is about to send `size` bytes (the pipeline
   * stops counting the holder as silent, and learns the object's size)
   */
  onStart?(size: number): void
}

/**
 * Downloads an object from a holder, verified, into the page's store.
 * Rejects with a named error (`IntegrityError`, `HolderBusyError`,
 * `NotHeldError`, `ObjectSizeError`, `TransferError`, …) when the holder does
 * not deliver.
 */
export interface Downloader {
  download(holder: Peer, key: string, options: DownloadOptions): Promise<StoredObject>
}

/** What a fetch is after */
export interface FetchTarget {
  /** Normalised URL */
  href: string
  key: bigint
  keyHex: string
  /** The trusted digest known before the fetch starts (SRI or manifest) */
  digest?: string
  /** Who vouched for `digest` */
  digestFrom?: Provenance
}

/** The state of one fetch that the origin intake reads and completes */
export interface FetchState extends FetchTarget {
  signal: AbortSignal
  /** ms of the pipeline's clock */
  startedAt: number
  home?: Peer
  gone: Address[]
  /** The key was looked up again around a home this page avoids (once per fetch) */
  askedAround?: boolean
  /** The object's size, once a holder has said it */
  size?: number
}

/**
 * What the origin answered: `stored` when the bytes went into the page's
 * store (then the page holds the object and announces it), `storing` when
 * they are still going in, and the caller's result either way
 */
export interface OriginAnswer<R> {
  result: R
  stored?: StoredObject
  /**
   * The bytes are going into the store while the caller reads them: settles
   * with the object once it is stored whole and verified, or `undefined`
   * when it was not stored (bad bytes, an abort, the store refused it).
   * Never rejects.
   */
  storing?: Promise<StoredObject | undefined>
  /** Body bytes the origin sent (0 for an error status) */
  bytes: number
}

/**
 * The site's origin. `get` may read a digest from the response headers into
 * `state` (`digest`, `digestFrom`) and verifies the body against it.
 */
export interface OriginSource<R> {
  /** The origin's `Repr-Digest` / `Content-Digest` on a HEAD; never throws (no answer, no digest) */
  headDigest(href: string, signal: AbortSignal): Promise<string | undefined>
  /** @throws {OriginFetchError | IntegrityError | AbortError} */
  get(state: FetchState): Promise<OriginAnswer<R>>
}

/** The page's store, as far as the pipeline reads it */
export interface LocalIndex {
  /** The stored object under `key` (only the version with `digest`, if given) */
  getMeta(key: string, options?: { digest?: string }): Promise<StoredObject | undefined>
}
