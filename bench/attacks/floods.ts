/**
 * The flooding attacks of the ring bench. The lookup and announce floods are
 * used both by a hostile node in the bench's own process (`ring.ts`) and by
 * one in a process of its own (`hostile-node.ts`), so that the two measure
 * the same attack; the stream flood runs in the bench's process
 */
import { DirectoryRequest } from '../../src/cdn/directory-messages.ts'
import { keyForUrl } from '../../src/keys.ts'
import { compareIds, idToBytes } from '../../src/overlay/ring-id.ts'
import { peerToWire } from '../../src/overlay/wire.ts'
import type { RingCdn } from '../../src/ring-cdn.ts'
import type { PeerId, Stream } from '@libp2p/interface'

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

/** Ring streams the stream-flooding peer keeps open to its victim */
export const STREAM_FLOOD_STREAMS = 256
/** Bound on opening one flood stream, ms */
const STREAM_OPEN_TIMEOUT_MS = 10_000
/** Pause after a stream the victim refused to open, ms (its stream cap is full: no spin) */
const STREAM_REFUSED_PAUSE_MS = 100
/** Chunk the frame is sent in, bytes */
const STREAM_CHUNK_BYTES = 64 * 1024

export interface StreamFloodCounts {
  /** Streams the victim accepted */
  opened: number
  /** Stream openings the victim refused (its per-connection stream cap) or that failed */
  refused: number
  /** Accepted streams the victim ended before the attacker did (reset at its read deadline or frame bound) */
  endedByVictim: number
  /** Bytes written into accepted streams */
  bytesSent: number
}

export interface StreamFlood {
  readonly counts: StreamFloodCounts
  /** Ends the flood: every stream of it is aborted */
  stop(): Promise<StreamFloodCounts>
}

/** Unsigned LEB128, the length prefix of a ring frame */
function varint (n: number): Uint8Array {
  const out: number[] = []
  let rest = n
  while (rest >= 0x80) {
    out.push((rest & 0x7f) | 0x80)
    rest = Math.floor(rest / 0x80)
  }
  out.push(rest)
  return Uint8Array.from(out)
}

/** What the flooding node needs of libp2p: opening a stream of a protocol to a peer */
export interface StreamOpener {
  dialProtocol(peer: PeerId, protocol: string, options: { signal: AbortSignal }): Promise<Stream>
}

/**
 * Keeps `streams` ring streams open to `victim` over the attacker's
 * connection, each carrying a frame of `frameBytes` (the length prefix says
 * so) with its last byte never sent, so the victim buffers what it got and
 * waits; a stream the victim ends is opened again at once
 */
export function startStreamFlood (attacker: StreamOpener, victim: PeerId, protocol: string, frameBytes: number, streams: number = STREAM_FLOOD_STREAMS): StreamFlood {
  const counts: StreamFloodCounts = { opened: 0, refused: 0, endedByVictim: 0, bytesSent: 0 }
  const stop = new AbortController()
  const pause = async (ms: number): Promise<void> => new Promise(resolve => {
    const onStop = (): void => { clearTimeout(timer); resolve() }
    const timer = setTimeout(() => {
      stop.signal.removeEventListener('abort', onStop)
      resolve()
    }, ms)
    stop.signal.addEventListener('abort', onStop, { once: true })
  })
  const chunk = new Uint8Array(STREAM_CHUNK_BYTES).fill(0x5a)
  const hold = async (stream: Stream): Promise<void> => {
    // the stream's end is watched by its close event, not by reading it: a reader started after the
    // sends may never see a reset that came during them
    const ended = new AbortController()
    const onClose = (): void => { ended.abort() }
    stream.addEventListener('close', onClose, { once: true })
    const onStop = (): void => { stream.abort(new Error('the stream flood stopped')) }
    stop.signal.addEventListener('abort', onStop, { once: true })
    const signal = AbortSignal.any([ended.signal, stop.signal])
    try {
      const send = async (bytes: Uint8Array): Promise<void> => {
        counts.bytesSent += bytes.byteLength
        if (!stream.send(bytes)) {
          await stream.onDrain({ signal })
        }
      }
      await send(varint(frameBytes))
      // all but the frame's last byte
      for (let left = frameBytes - 1; left > 0; left -= chunk.byteLength) {
        await send(left >= chunk.byteLength ? chunk : chunk.subarray(0, left))
      }
      // held until the victim ends it (its read deadline, or a busy answer and close) or the flood stops
      if (!signal.aborted) {
        await new Promise(resolve => { signal.addEventListener('abort', resolve, { once: true }) })
      }
    } catch {
      // a reset by the victim or the flood's stop: told apart below
    } finally {
      stream.removeEventListener('close', onClose)
      stop.signal.removeEventListener('abort', onStop)
    }
    if (!stop.signal.aborted) {
      counts.endedByVictim++
    }
  }
  const worker = async (): Promise<void> => {
    while (!stop.signal.aborted) {
      let stream: Stream
      try {
        stream = await attacker.dialProtocol(victim, protocol, { signal: AbortSignal.any([stop.signal, AbortSignal.timeout(STREAM_OPEN_TIMEOUT_MS)]) })
      } catch {
        if (!stop.signal.aborted) {
          counts.refused++
          await pause(STREAM_REFUSED_PAUSE_MS)
        }
        continue
      }
      counts.opened++
      await hold(stream)
    }
  }
  const workers = Array.from({ length: streams }, worker)
  return {
    counts,
    async stop () {
      stop.abort()
      await Promise.allSettled(workers)
      return counts
    }
  }
}
