/**
 * Conversions between the protons wire messages and the overlay's in-memory
 * types, with validation: every peer that arrives from the network passes
 * through `peerFromWire`, so malformed ids become `InvalidMessageError` here
 * and nowhere else.
 */

import { equals as uint8ArrayEquals } from 'uint8arrays/equals'
import { InvalidMessageError } from './errors.ts'
import { idFromBytes, idToBytes } from './ring-id.ts'
import type { WirePeer } from './messages.ts'
import type { Peer } from './seams.ts'

/**
 * Largest ring message, bytes: the frame bound of the ring protocol. The
 * ring's own messages are a few KiB (a stabilize answer lists some tens of
 * peers); the largest are the directory's batches, which are cut to fit. A
 * reader buffers up to this much per request a peer has in flight, so it
 * bounds what a peer's streams can make us hold
 */
export const MAX_RING_MESSAGE_BYTES = 256 * 1024

/** Longest transport address accepted from the wire (a multiaddr or peer id string) */
export const MAX_ADDRESS_LENGTH = 1024

/** Longest peer list accepted in one message */
export const MAX_PEERS_PER_MESSAGE = 64

/** Dialing hints kept per peer */
export const MAX_HINTS = 8
/** Longest dialing hint accepted, bytes */
export const MAX_HINT_BYTES = 512

/**
 * Peers in a routing state are sent again and again (every stabilize answer
 * lists the successors), so their wire form is built once per peer object
 */
const wireForms = new WeakMap<Peer, WirePeer>()

export function peerToWire (peer: Peer): WirePeer {
  let wire = wireForms.get(peer)
  if (wire == null) {
    wire = { id: idToBytes(peer.id), address: peer.address, hints: (peer.hints ?? []) as Array<Uint8Array<ArrayBuffer>> }
    wireForms.set(peer, wire)
  }
  return wire
}

/**
 * The peer a wire form describes. Pass the peers already held (a successor
 * list) as `known`: an answer that repeats one of them, byte for byte, gets
 * the held object back, without decoding its id again. Stabilize answers
 * repeat most of a successor list every round: decoded anew, each round made
 * new objects for the same peers, and their wire form (memoised per object)
 * had to be built again when the list was passed on.
 */
export function peerFromWire (wire: WirePeer | undefined, known?: readonly Peer[]): Peer {
  if (wire == null) {
    throw new InvalidMessageError('missing peer')
  }
  if (wire.address.length === 0 || wire.address.length > MAX_ADDRESS_LENGTH) {
    throw new InvalidMessageError(`peer address must be 1..${MAX_ADDRESS_LENGTH} characters`)
  }
  if (wire.hints.length > MAX_HINTS || wire.hints.some(h => h.byteLength > MAX_HINT_BYTES)) {
    throw new InvalidMessageError(`at most ${MAX_HINTS} hints of ${MAX_HINT_BYTES} bytes per peer`)
  }
  if (known !== undefined) {
    for (const held of known) {
      if (held.address === wire.address && sameWire(peerToWire(held), wire)) {
        return held
      }
    }
  }
  const peer: Peer = { id: idFromBytes(wire.id), address: wire.address }
  if (wire.hints.length > 0) {
    peer.hints = wire.hints
  }
  return peer
}

export function peersFromWire (list: WirePeer[], max: number, known?: readonly Peer[]): Peer[] {
  if (list.length > max) {
    throw new InvalidMessageError(`peer list longer than ${max}`)
  }
  return list.map(wire => peerFromWire(wire, known))
}

function sameWire (a: WirePeer, b: WirePeer): boolean {
  return uint8ArrayEquals(a.id, b.id) && a.hints.length === b.hints.length && a.hints.every((hint, i) => uint8ArrayEquals(hint, b.hints[i]))
}
