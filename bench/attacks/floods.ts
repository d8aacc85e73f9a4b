/**
 * The two flooding attacks of the ring bench, used both by a hostile node in
 * the bench's own process (`ring.ts`) and by one in a process of its own
 * (`hostile-node.ts`), so that the two measure the same attack
 */
import { DirectoryRequest } from '../../src/cdn/directory-messages.ts'
import { keyForUrl } from '../../src/keys.ts'
import { compareIds, idToBytes } from '../../src/overlay/ring-id.ts'
import { peerToWire } from '../../src/overlay/wire.ts'
import type { RingCdn } from '../../src/ring-cdn.ts'

/** Lookups the flooding peer keeps in flight */
export const FLOOD_IN_FLIGHT = 128
/** Bound on one flood lookup or announce, ms */
export const FLOOD_REQUEST_TIMEOUT_MS = 3_000
/** Random keys in one home's range the announcing peer claims to hold, keys outside it, and announces it keeps in flight */
export const ANNOUNCE_KEYS = 1_024
export const ANNOUNCE_STRAY_KEYS = 128
export const ANNOUNCES_IN_FLIGHT = 8
/** Longest an announce flood can take: every announce waiting out its timeout, 8 at a time */
export const ANNOUNCE_FLOOD_MAX_MS = Math.ceil((ANNOUNCE_KEYS + ANNOUNCE_STRAY_KEYS) / ANNOUNCES_IN_FLIGHT) * FLOOD_REQUEST_TIMEOUT_MS

export interface LookupFloodCounts {
  lookups: number
  answered: number
  failed: number
}

export interface AnnounceCounts {
  sent: number
  /** Answered without an error (recorded, or dropped unrecorded past the announcer's share) */
  answered: number
  /** Refused with an error (not the key's home, busy, ...) */
  refused: number
}

export interface LookupFlood {
  readonly counts: LookupFloodCounts
  /** Ends the flood once the lookups in flight settle (each within its timeout) */
  stop(): Promise<LookupFloodCounts>
}

/** Keeps `FLOOD_IN_FLIGHT` lookups of random keys in flight until stopped */
export function startLookupFlood (cdn: RingCdn): LookupFlood {
  const counts: LookupFloodCounts = { lookups: 0, answered: 0, failed: 0 }
  const state = { on: true }
  const loop = async (i: number): Promise<void> => {
    let n = i
    while (state.on) {
      counts.lookups++
      try {
        await cdn.locate(`https://flood.example/${n}`, { timeout: FLOOD_REQUEST_TIMEOUT_MS })
        counts.answered++
      } catch {
        counts.failed++
      }
      // a lookup settled at once (a node left alone answers every key itself, or fails
      // at once) would otherwise spin in microtasks and starve this process's timers and IPC
      await new Promise(resolve => setImmediate(resolve))
      n += FLOOD_IN_FLIGHT
    }
  }
  const loops = Array.from({ length: FLOOD_IN_FLIGHT }, async (_, i) => loop(i))
  return {
    counts,
    async stop () {
      state.on = false
      await Promise.allSettled(loops)
      return counts
    }
  }
}

/** The home the announce flood aims at: its ring position and peer id */
export interface AnnounceTarget {
  id: bigint
  peer: string
}

/**
 * The hostile node announces itself as the holder of random keys to one home:
 * `ANNOUNCE_KEYS` keys in that home's range (what the home must take or
 * bound), then `ANNOUNCE_STRAY_KEYS` keys outside it (what a node that is not
 * the home should refuse, not pass on). `ids` are the ring's node ids, the
 * announcer's among them; the home's range is read from them.
 */
export async function announceFlood (cdn: RingCdn, ids: bigint[], target: AnnounceTarget, result: AnnounceCounts): Promise<void> {
  const ring = cdn.ring
  if (ring == null) {
    return
  }
  const sorted = [...ids].sort(compareIds)
  const mine: bigint[] = []
  const stray: bigint[] = []
  for (let i = 0; mine.length < ANNOUNCE_KEYS || stray.length < ANNOUNCE_STRAY_KEYS; i++) {
    const key = keyForUrl(`https://announce.example/${i}`)
    const inRange = (sorted.find(id => id >= key) ?? sorted[0]) === target.id
    if (inRange && mine.length < ANNOUNCE_KEYS) {
      mine.push(key)
    } else if (!inRange && stray.length < ANNOUNCE_STRAY_KEYS) {
      stray.push(key)
    }
  }
  const keys = [...mine, ...stray]
  const self = peerToWire(ring.self)
  let next = 0
  const worker = async (): Promise<void> => {
    while (next < keys.length) {
      const payload = DirectoryRequest.encode({ type: DirectoryRequest.Type.ANNOUNCE, key: idToBytes(keys[next++]), gone: [], entries: [], holder: self })
      result.sent++
      try {
        await ring.message(target.peer, payload, { timeout: FLOOD_REQUEST_TIMEOUT_MS })
        result.answered++
      } catch {
        result.refused++
      }
    }
  }
  await Promise.all(Array.from({ length: ANNOUNCES_IN_FLIGHT }, worker))
}
