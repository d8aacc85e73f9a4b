/**
 * The ring protocol's codec, with limits on every repeated field so a
 * hostile frame cannot make a decoder build millions of objects (a 4 MiB
 * frame of empty peers would otherwise cost half a gigabyte). Every adapter
 * — libp2p streams and the simulator — encodes and decodes through here.
 */

import { InvalidMessageError } from './errors.ts'
import { RingRequest, RingResponse } from './messages.ts'
import { MAX_AVOIDED_HOPS } from './settings.ts'
import { MAX_HINTS, MAX_PEERS_PER_MESSAGE } from './wire.ts'

const PEER_LIMITS = { hints: MAX_HINTS }

export const RING_REQUEST_LIMITS = {
  route: { origin: PEER_LIMITS, avoid: MAX_AVOIDED_HOPS },
  stabilize: { sender: PEER_LIMITS },
  leave: { sender: PEER_LIMITS, predecessor: PEER_LIMITS, successors: MAX_PEERS_PER_MESSAGE, successors$: PEER_LIMITS }
}

export const RING_RESPONSE_LIMITS = {
  route: { owner: PEER_LIMITS },
  stabilize: { predecessor: PEER_LIMITS, successors: MAX_PEERS_PER_MESSAGE, successors$: PEER_LIMITS, fingers: MAX_PEERS_PER_MESSAGE, fingers$: PEER_LIMITS }
}

export function encodeRingRequest (req: RingRequest): Uint8Array<ArrayBuffer> {
  return RingRequest.encode(req)
}

export function decodeRingRequest (bytes: Uint8Array): RingRequest {
  try {
    return RingRequest.decode(bytes, { limits: RING_REQUEST_LIMITS })
  } catch (err: any) {
    throw new InvalidMessageError(`bad ring request: ${err.message}`)
  }
}

export function encodeRingResponse (res: RingResponse): Uint8Array<ArrayBuffer> {
  return RingResponse.encode(res)
}

export function decodeRingResponse (bytes: Uint8Array): RingResponse {
  try {
    return RingResponse.decode(bytes, { limits: RING_RESPONSE_LIMITS })
  } catch (err: any) {
    throw new InvalidMessageError(`bad ring response: ${err.message}`)
  }
}
