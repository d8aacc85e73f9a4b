/**
 * Peers a node does not ask again for a while, and why: they sent bytes that
 * failed verification, never answered, answered BUSY, or refused the object
 * as too large. Every peer is untrusted, and one that wastes a fetch's time
 * once will likely do it again (a hostile one re-announces itself as a
 * holder whatever the home hears), so the next fetches skip it. Each reason
 * has its own time: a busy holder is honest and soon free again; bad bytes
 * are a lie. Bounded (the oldest entry goes first) and expiring on the
 * injected `Clock`.
 */
import type { Address, Clock } from '../overlay/seams.ts'

/** Why a peer is avoided */
export type AvoidReason = 'integrity' | 'silent' | 'busy' | 'too-large'

/** A peer that sent bad bytes is not asked again for this long, ms */
export const AVOID_PEER_MS = 600_000
/** A holder that did not answer in time (silent, or slow to reach), ms */
export const AVOID_SILENT_MS = 60_000
/** A holder that answered BUSY, ms */
export const AVOID_BUSY_MS = 30_000
/** A holder that answered TOO_LARGE, ms */
export const AVOID_TOO_LARGE_MS = 60_000
/** Peers avoided at once at most; past it the oldest entry is dropped */
export const MAX_AVOIDED_PEERS = 1_024

export interface AvoidListInit {
  /**
   * How long a peer that sent bad bytes is avoided, ms
   *
   * @default AVOID_PEER_MS (10 min)
   */
  avoidMs?: number
  /** @default AVOID_SILENT_MS (1 min) */
  silentMs?: number
  /** @default AVOID_BUSY_MS (30 s) */
  busyMs?: number
  /** @default AVOID_TOO_LARGE_MS (1 min) */
  tooLargeMs?: number
  /** @default MAX_AVOIDED_PEERS (1 024) */
  maxPeers?: number
}

interface Entry {
  until: number
  reason: AvoidReason
}

export class AvoidList {
  private readonly clock: Clock
  private readonly durations: Record<AvoidReason, number>
  private readonly maxPeers: number
  /** Until when and why each peer is avoided, oldest first */
  private readonly entries = new Map<Address, Entry>()
  /** Peers put on the list, by reason (only grows) */
  readonly added: Record<AvoidReason, number> = { integrity: 0, silent: 0, busy: 0, 'too-large': 0 }

  constructor (clock: Clock, init: AvoidListInit = {}) {
    this.clock = clock
    this.durations = {
      integrity: init.avoidMs ?? AVOID_PEER_MS,
      silent: init.silentMs ?? AVOID_SILENT_MS,
      busy: init.busyMs ?? AVOID_BUSY_MS,
      'too-large': init.tooLargeMs ?? AVOID_TOO_LARGE_MS
    }
    this.maxPeers = Math.max(1, init.maxPeers ?? MAX_AVOIDED_PEERS)
  }

  /** Avoids `peer` for the time its `reason` earns; a longer avoidance already running is kept */
  avoid (peer: Address, reason: AvoidReason = 'integrity'): void {
    this.added[reason]++
    const until = this.clock.now() + this.durations[reason]
    const current = this.entries.get(peer)
    this.entries.delete(peer)
    this.entries.set(peer, current != null && current.until > until ? current : { until, reason })
    while (this.entries.size > this.maxPeers) {
      const oldest = this.entries.keys().next().value as Address
      this.entries.delete(oldest)
    }
  }

  /** Whether `peer` is avoided now (an expired entry is dropped, so the map does not grow with every peer ever avoided) */
  has (peer: Address): boolean {
    return this.reason(peer) != null
  }

  /** Why `peer` is avoided now, if it is */
  reason (peer: Address): AvoidReason | undefined {
    const entry = this.entries.get(peer)
    if (entry == null) {
      return undefined
    }
    if (entry.until > this.clock.now()) {
      return entry.reason
    }
    this.entries.delete(peer)
    return undefined
  }

  /** Peers on the list now, expired entries included until they are next looked at */
  get size (): number {
    return this.entries.size
  }
}
