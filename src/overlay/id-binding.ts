/**
 * A ring member's position is bound to its transport identity: its ring id
 * must be SHA-256 of its peer id. Without the binding a node could sit at any
 * id it likes — just before the key of an asset, say — and capture every
 * lookup for that key (S/Kademlia's "secure nodeId assignment"; Castro et
 * al., "Secure routing for structured peer-to-peer overlay networks").
 *
 * Only the adapter knows how an address maps to an identity (a libp2p peer id
 * over libp2p, a simulated name in the simulator), so it passes `idOf` in and
 * checks every peer record a decoded ring message carries before the ring
 * sees it. A record that fails makes the whole message invalid: a peer that
 * sends one is hostile or broken, and nothing else it says is believed.
 */

import { equals as uint8ArrayEquals } from 'uint8arrays/equals'
import { InvalidMessageError } from './errors.ts'
import type { RingRequest, RingResponse, WirePeer } from './messages.ts'
import type { Address } from './seams.ts'

/**
 * The 32-byte big-endian ring id an address must have, or `undefined` when
 * the address is no valid identity at all
 */
export type RingIdOf = (address: Address) => Uint8Array | undefined

/** A peer record whose ring id is not the one its address dictates */
export class UnboundRingIdError extends InvalidMessageError {
  static name = 'UnboundRingIdError'
  name = 'UnboundRingIdError'
}

/**
 * Throws `UnboundRingIdError` unless every peer record in `req` has the ring
 * id its address dictates
 */
export function checkRequestIds (req: RingRequest, idOf: RingIdOf): void {
  checkPeer(req.route?.origin, idOf)
  checkPeer(req.stabilize?.sender, idOf)
  checkPeer(req.leave?.sender, idOf)
  checkPeer(req.leave?.predecessor, idOf)
  req.leave?.successors.forEach(peer => { checkPeer(peer, idOf) })
}

/**
 * Throws `UnboundRingIdError` unless every peer record in `res` has the ring
 * id its address dictates
 */
export function checkResponseIds (res: RingResponse, idOf: RingIdOf): void {
  checkPeer(res.route?.owner, idOf)
  checkPeer(res.stabilize?.predecessor, idOf)
  res.stabilize?.successors.forEach(peer => { checkPeer(peer, idOf) })
  res.stabilize?.fingers.forEach(peer => { checkPeer(peer, idOf) })
}

function checkPeer (peer: WirePeer | undefined, idOf: RingIdOf): void {
  if (peer == null) {
    return
  }
  const expected = idOf(peer.address)
  if (expected == null) {
    throw new UnboundRingIdError(`peer address ${peer.address.slice(0, 64)} is not a valid identity`)
  }
  if (!uint8ArrayEquals(expected, peer.id)) {
    throw new UnboundRingIdError(`peer ${peer.address.slice(0, 64)} claims a ring id that is not the hash of its identity`)
  }
}
