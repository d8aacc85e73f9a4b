/**
 * Conversions between the protons wire messages and the overlay's in-memory
 * types, with validation: every peer that arrives from the network passes
 * through `peerFromWire`, so malformed ids become `InvalidMessageError` here
 * and nowhere else.
 */

import { InvalidMessageError } from './errors.ts'
import { idFromBytes, idToBytes } from './ring-id.ts'
import type { WirePeer } from './messages.ts'
import type { Peer } from './seams.ts'

/** Longest transport address accepted from the wire (a multiaddr or peer id string) */
export const MAX_ADDRESS_LENGTH = 1024

export function peerToWire (peer: Peer): WirePeer {
  return { id: idToBytes(peer.id), address: peer.address }
}

export function peerFromWire (wire: WirePeer | undefined): Peer {
  if (wire == null) {
    throw new InvalidMessageError('missing peer')
  }
  if (wire.address.length === 0 || wire.address.length > MAX_ADDRESS_LENGTH) {
    throw new InvalidMessageError(`peer address must be 1..${MAX_ADDRESS_LENGTH} characters`)
  }
  return { id: idFromBytes(wire.id), address: wire.address }
}

export function peersFromWire (list: WirePeer[], max: number): Peer[] {
  if (list.length > max) {
    throw new InvalidMessageError(`peer list longer than ${max}`)
  }
  return list.map(peerFromWire)
}
