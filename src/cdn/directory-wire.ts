/**
 * The holder directory's messages on the wire: the bounds every list in a
 * directory message is decoded with (anything malformed or over them is an
 * `InvalidMessageError`), and the batches a home node cuts its entries into
 * when it replicates them to its successor or hands them over, so each
 * message fits the ring's frame bound. Pure (no time, randomness or I/O).
 */

import { InvalidMessageError } from '../overlay/errors.ts'
import { idToBytes } from '../overlay/ring-id.ts'
import { MAX_HINTS, MAX_RING_MESSAGE_BYTES, peerFromWire, peerToWire } from '../overlay/wire.ts'
import { DirectoryRequest, DirectoryResponse } from './directory-messages.ts'
import { MAX_HOLDERS_PER_KEY } from './holder-directory.ts'
import type { Peer } from '../overlay/seams.ts'

/** Longest list of entries accepted in one directory message */
export const MAX_DIRECTORY_ITEMS = 10_000
/**
 * Longest list of gone holders in one directory message: a requester reports
 * the holders one fetch tried, a home the ones it dropped from one key
 */
export const MAX_GONE_PER_MESSAGE = 16
/** Entries per REPLICATE or HANDOVER message when a home node copies or hands over its entries */
export const REPLICATE_BATCH = 256
/**
 * Bytes of entries per REPLICATE or HANDOVER message (or the hand-over a
 * leaving node puts in its LEAVE notice): well under the ring's frame bound,
 * which the rest of the message and the envelope share
 */
export const DIRECTORY_BATCH_BYTES = MAX_RING_MESSAGE_BYTES / 2

/** Decodes a directory request with limits on every list; anything malformed is an `InvalidMessageError` */
export function decodeDirectoryRequest (payload: Uint8Array): DirectoryRequest {
  try {
    return DirectoryRequest.decode(payload, {
      limits: {
        gone: MAX_GONE_PER_MESSAGE,
        entries: MAX_DIRECTORY_ITEMS,
        entries$: { holders: MAX_HOLDERS_PER_KEY, holders$: { hints: MAX_HINTS } },
        holder: { hints: MAX_HINTS }
      }
    })
  } catch (err: any) {
    throw new InvalidMessageError(`bad directory request: ${err.message}`)
  }
}

export function decodeDirectoryResponse (payload: Uint8Array): Peer[] {
  try {
    return DirectoryResponse.decode(payload, { limits: { holders: MAX_DIRECTORY_ITEMS, holders$: { hints: MAX_HINTS } } }).holders.map(wire => peerFromWire(wire))
  } catch (err: any) {
    throw new InvalidMessageError(`bad directory response: ${err.message}`)
  }
}

/**
 * Entries cut into batches of at most `REPLICATE_BATCH` entries and about
 * `DIRECTORY_BATCH_BYTES` bytes each (estimated from the wire form: a
 * holder's hints may make one entry hundreds of times another's size)
 */
export function batches (entries: Array<[bigint, Peer[]]>, maxBytes: number = DIRECTORY_BATCH_BYTES): Array<Array<[bigint, Peer[]]>> {
  const out: Array<Array<[bigint, Peer[]]>> = []
  let batch: Array<[bigint, Peer[]]> = []
  let bytes = 0
  for (const entry of entries) {
    const size = entryBytes(entry)
    if (batch.length > 0 && (bytes + size > maxBytes || batch.length >= REPLICATE_BATCH)) {
      out.push(batch)
      batch = []
      bytes = 0
    }
    if (size > maxBytes) {
      // one entry alone too large for a message (its holders' hints): not sent at all
      continue
    }
    batch.push(entry)
    bytes += size
  }
  if (batch.length > 0) {
    out.push(batch)
  }
  return out
}

/** Upper estimate of an entry's encoded size: key, and per holder its id, address and hints, with tags and lengths */
function entryBytes ([, holders]: [bigint, Peer[]]): number {
  let bytes = 40
  for (const holder of holders) {
    bytes += 48 + holder.address.length
    for (const hint of holder.hints ?? []) {
      bytes += hint.byteLength + 3
    }
  }
  return bytes
}

export function encodeHandover (entries: Array<[bigint, Peer[]]>): Uint8Array<ArrayBuffer> {
  return DirectoryRequest.encode({
    type: DirectoryRequest.Type.HANDOVER,
    key: new Uint8Array(0),
    gone: [],
    entries: entries.map(([key, holders]) => ({ key: idToBytes(key), holders: holders.map(peerToWire) }))
  })
}
