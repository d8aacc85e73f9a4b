/**
 * What this page holds, as the ring sees it: the keys it stored (so as a
 * key's home it can list itself), the announcements that get it listed, and
 * home copies — when an announcement leaves this node, a key's home, with a
 * single holder, it downloads a copy so the object outlives that holder's
 * session. A home knows the key, not the URL, so the only digest it can trust
 * is the manifest entry whose key matches: without one there is no copy (a
 * digest the holder names would let any member plant bytes in the home's
 * store). Seams only: the simulator runs this unchanged.
 */
import { LRUCache } from 'lru-cache'
import { idToHex } from '../overlay/ring-id.ts'
import { Announcer } from './announcer.ts'
import { HOME_COPY_MAX_BYTES, MAX_CONCURRENT_HOME_COPIES } from './directory-service.ts'
import type { AnnouncerInit } from './announcer.ts'
import type { AvoidList } from './avoid-list.ts'
import type { CdnCounters } from './counters.ts'
import type { Lookups } from './lookups.ts'
import type { Downloader, Locator, StoredObject } from './seams.ts'
import type { Address, Clock, Log, Peer } from '../overlay/seams.ts'

/** Keys this node remembers holding (answers "do you hold it?" for the home-node role) */
export const HELD_KEYS = 50_000
/** Deadline of the local announce a home makes for its own copy, ms (a local call: it does not wait on the network) */
const SELF_ANNOUNCE_TIMEOUT_MS = 1_000

export interface HoldingsComponents {
  clock: Clock
  locator: Locator
  lookups: Lookups
  downloader: Downloader
  avoidList: AvoidList
  counters: CdnCounters
  log: Log
}

export interface HoldingsInit extends Omit<AnnouncerInit, 'lookupTimeoutMs'> {
  lookupTimeoutMs: number
  /**
   * Make home copies at all
   *
   * @default true
   */
  homeCopies?: boolean
  /** @default HOME_COPY_MAX_BYTES (8 MiB) */
  homeCopyMaxBytes?: number
  /** @default MAX_CONCURRENT_HOME_COPIES (2) */
  maxConcurrentHomeCopies?: number
  /** @default HELD_KEYS (50 000) */
  heldKeys?: number
  /** The trusted digest of `key`, if the manifest lists an asset with that key */
  trustedDigest(key: bigint): string | undefined
  /** Whether this node may upload now (a home copy is for serving others) */
  uploading(): boolean
  /** Whether this node tells the ring what it holds (not when consume-only) */
  announcing(): boolean
  /** Sees every home copy made */
  onHomeCopy?(key: bigint, holder: Peer, object: StoredObject): void
}

export class Holdings {
  private readonly locator: Locator
  private readonly downloader: Downloader
  private readonly avoidList: AvoidList
  private readonly counters: CdnCounters
  private readonly log: Log
  private readonly announcer: Announcer
  private readonly held: LRUCache<bigint, true>
  private readonly copying = new Set<bigint>()
  private readonly homeCopies: boolean
  private readonly homeCopyMaxBytes: number
  private readonly maxConcurrentHomeCopies: number
  private readonly trustedDigest: (key: bigint) => string | undefined
  private readonly uploading: () => boolean
  private readonly announcing: () => boolean
  private readonly onHomeCopy?: (key: bigint, holder: Peer, object: StoredObject) => void

  constructor (components: HoldingsComponents, init: HoldingsInit) {
    this.locator = components.locator
    this.downloader = components.downloader
    this.avoidList = components.avoidList
    this.counters = components.counters
    this.log = components.log
    this.announcer = new Announcer(components, init)
    // bounded by maxSize (one per key), not `max`: lru-cache allocates `max` slots up front, which
    // for 50 000 keys is ~1 MiB per page before it holds anything
    this.held = new LRUCache<bigint, true>({ maxSize: init.heldKeys ?? HELD_KEYS, sizeCalculation: () => 1 })
    this.homeCopies = init.homeCopies ?? true
    this.homeCopyMaxBytes = init.homeCopyMaxBytes ?? HOME_COPY_MAX_BYTES
    this.maxConcurrentHomeCopies = init.maxConcurrentHomeCopies ?? MAX_CONCURRENT_HOME_COPIES
    this.trustedDigest = init.trustedDigest
    this.uploading = init.uploading
    this.announcing = init.announcing
    this.onHomeCopy = init.onHomeCopy
  }

  has (key: bigint): boolean {
    return this.held.has(key)
  }

  /** The store let the object go: as home node, stop listing ourselves */
  forget (key: bigint): void {
    this.held.delete(key)
  }

  /** Objects found in the store at start */
  remember (key: bigint): void {
    this.held.set(key, true)
  }

  /**
   * A verified object is in the store: remember it and tell its home node, in
   * the background, until `signal` (the node's life) aborts
   */
  stored (key: bigint, home: Peer | undefined, gone: Address[], signal: AbortSignal): void {
    this.held.set(key, true)
    // consume-only: the ring never learns that this node holds anything
    if (!this.announcing()) {
      return
    }
    this.announcer.announce(key, home, gone, () => this.held.has(key), signal)
  }

  /**
   * `holder` is the only holder of `key` this node, its home, knows of: copy
   * the object (verified against the manifest's digest) and list ourselves
   */
  async copyAsHome (key: bigint, holder: Peer, signal: AbortSignal): Promise<void> {
    const digest = this.trustedDigest(key)
    const self = this.locator.self
    if (!this.homeCopies || digest == null || self == null || !this.uploading() || !this.announcing() ||
      this.held.has(key) || this.copying.has(key) || this.copying.size >= this.maxConcurrentHomeCopies) {
      return
    }
    this.copying.add(key)
    const keyHex = idToHex(key)
    try {
      const object = await this.downloader.download(holder, keyHex, { digest, provenance: 'manifest', maxObjectBytes: this.homeCopyMaxBytes, signal })
      this.held.set(key, true)
      this.counters.homeCopies++
      this.counters.bytesHomeCopied += object.size
      this.onHomeCopy?.(key, holder, object)
      // we are the home: the announcement is a local call that lists us next to the holder
      await this.locator.announce(self, key, [], { timeout: SELF_ANNOUNCE_TIMEOUT_MS, signal })
      this.log.trace('home copy of %s from %s (%d bytes)', keyHex, holder.address, object.size)
    } catch (err: any) {
      this.log('home copy of %s from %s failed - %e', keyHex, holder.address, err)
      if (err.name === 'IntegrityError' || err.name === 'NotHeldError') {
        // it sent bytes that are not the object, or does not hold it after all: requesters are no
        // longer sent to it (a busy or unreachable holder stays listed: it may serve them)
        this.locator.forget(key, holder.address)
      }
      if (err.name === 'IntegrityError') {
        this.counters.integrityFailures++
        this.avoidList.avoid(holder.address)
      }
    } finally {
      this.copying.delete(key)
    }
  }
}
