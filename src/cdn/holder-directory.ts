/**
 * The home node's record of who holds each key it is home for (Squirrel's
 * directory scheme). Bounded twice: at most `maxHoldersPerKey` holders per
 * key, most recent first, and at most `maxKeys` keys, least recently used
 * evicted. Answers hand out a random sample of the recent holders, so a hot
 * object's upload load spreads over everybody who fetched it lately instead
 * of landing on its first holder (Coral's "sloppy" spreading).
 *
 * Under churn this is a cache index, not a database: a lost or stale entry
 * costs an origin fetch, never a wrong byte (content is verified).
 */

import type { Address, Peer, Random } from '../overlay/seams.ts'

/** Holders remembered per key */
export const MAX_HOLDERS_PER_KEY = 16
/** Keys remembered per home node */
export const MAX_DIRECTORY_KEYS = 50_000
/** Holders handed out per answer */
export const HOLDERS_PER_ANSWER = 4
/**
 * Answers sample from this many of the most recent holders: recent holders
 * are likelier to be online still and have uploaded least, so load moves on
 * to newcomers instead of staying with long-lived pages
 */
export const ANSWER_POOL = 6

export interface HolderDirectoryInit {
  /** @default MAX_HOLDERS_PER_KEY (16) */
  maxHoldersPerKey?: number
  /** @default MAX_DIRECTORY_KEYS (50 000) */
  maxKeys?: number
  /** @default HOLDERS_PER_ANSWER (4) */
  holdersPerAnswer?: number
  /** @default ANSWER_POOL (6) */
  answerPool?: number
}

export class HolderDirectory {
  private readonly maxHoldersPerKey: number
  private readonly maxKeys: number
  private readonly holdersPerAnswer: number
  private readonly answerPool: number
  /** Map order is recency order: a touched key is re-inserted at the end */
  private readonly entries = new Map<bigint, Peer[]>()
  /** Keys each holder is listed for here: what one announcer may put in the directory is bounded */
  private readonly listings = new Map<Address, number>()

  constructor (init: HolderDirectoryInit = {}) {
    this.maxHoldersPerKey = init.maxHoldersPerKey ?? MAX_HOLDERS_PER_KEY
    this.maxKeys = init.maxKeys ?? MAX_DIRECTORY_KEYS
    this.holdersPerAnswer = init.holdersPerAnswer ?? HOLDERS_PER_ANSWER
    this.answerPool = Math.max(init.answerPool ?? ANSWER_POOL, this.holdersPerAnswer)
  }

  get size (): number {
    return this.entries.size
  }

  /** Keys `address` is listed for here */
  keysOf (address: Address): number {
    return this.listings.get(address) ?? 0
  }

  /** Whether `address` is listed as a holder of `key` */
  lists (key: bigint, address: Address): boolean {
    return this.entries.get(key)?.some(p => p.address === address) === true
  }

  /** All holders of `key`, most recent first */
  holders (key: bigint): readonly Peer[] {
    return this.entries.get(key) ?? []
  }

  /** A random sample of up to `holdersPerAnswer` of the `answerPool` most recent holders, excluding `except` */
  locate (key: bigint, random: Random, except?: Address): Peer[] {
    const list = this.entries.get(key)
    if (list == null) {
      return []
    }
    this.touch(key, list)
    const pool = (except == null ? list : list.filter(p => p.address !== except)).slice(0, this.answerPool)
    // partial Fisher-Yates: the first n slots end up a uniform sample
    const n = Math.min(this.holdersPerAnswer, pool.length)
    for (let i = 0; i < n; i++) {
      const j = i + Math.floor(random.next() * (pool.length - i))
      const t = pool[i]
      pool[i] = pool[j]
      pool[j] = t
    }
    return pool.slice(0, n)
  }

  /** `holder` now holds `key`: it becomes the most recent holder */
  announce (key: bigint, holder: Peer): void {
    const list = (this.entries.get(key) ?? []).filter(p => p.address !== holder.address)
    list.unshift(holder)
    list.length = Math.min(list.length, this.maxHoldersPerKey)
    this.touch(key, list)
    this.evict()
  }

  /** `address` turned out not to hold `key` (gone, evicted, or refused) */
  remove (key: bigint, address: Address): void {
    const list = this.entries.get(key)
    if (list == null) {
      return
    }
    const rest = list.filter(p => p.address !== address)
    if (rest.length === 0) {
      this.drop(key)
    } else {
      this.count(list, rest)
      this.entries.set(key, rest)
    }
  }

  /** The entries whose key matches, left in place and in their age order */
  select (match: (key: bigint) => boolean): Array<[bigint, Peer[]]> {
    const out: Array<[bigint, Peer[]]> = []
    for (const [key, holders] of this.entries) {
      if (match(key)) {
        out.push([key, [...holders]])
      }
    }
    return out
  }

  /** Removes and returns the entries whose key matches (hand-over to a new home) */
  extract (match: (key: bigint) => boolean): Array<[bigint, Peer[]]> {
    const out = this.select(match)
    for (const [key] of out) {
      this.drop(key)
    }
    return out
  }

  /** Takes entries handed over by another home node; holders already known keep their place */
  merge (entries: Array<[bigint, Peer[]]>): void {
    for (const [key, holders] of entries) {
      const known = this.entries.get(key) ?? []
      const seen = new Set(known.map(p => p.address))
      const merged = [...known]
      for (const holder of holders) {
        // a list from the network may repeat an address: one peer must not fill a key's slots
        if (!seen.has(holder.address)) {
          seen.add(holder.address)
          merged.push(holder)
        }
      }
      merged.length = Math.min(merged.length, this.maxHoldersPerKey)
      this.touch(key, merged)
    }
    this.evict()
  }

  private touch (key: bigint, list: Peer[]): void {
    this.count(this.entries.get(key) ?? [], list)
    this.entries.delete(key)
    this.entries.set(key, list)
  }

  private drop (key: bigint): void {
    this.count(this.entries.get(key) ?? [], [])
    this.entries.delete(key)
  }

  /** Keeps `listings` right when a key's holder list goes from `before` to `after` */
  private count (before: readonly Peer[], after: readonly Peer[]): void {
    for (const p of before) {
      const n = (this.listings.get(p.address) ?? 0) - 1
      if (n > 0) {
        this.listings.set(p.address, n)
      } else {
        this.listings.delete(p.address)
      }
    }
    for (const p of after) {
      this.listings.set(p.address, (this.listings.get(p.address) ?? 0) + 1)
    }
  }

  private evict (): void {
    while (this.entries.size > this.maxKeys) {
      const oldest = this.entries.keys().next().value
      if (oldest == null) {
        return
      }
      this.drop(oldest)
    }
  }
}
