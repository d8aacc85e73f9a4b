/**
 * The ring id a libp2p peer must have: SHA-256 of its peer id's multihash
 * bytes (`nodeIdFromBytes`, the id every node gives itself). The transport
 * authenticates the peer id (noise), so an id bound to it cannot be chosen
 * freely: a node that wants a position must find a key pair that hashes
 * there, not just claim it.
 */

import { peerIdFromString } from '@libp2p/peer-id'
import { LRUCache } from 'lru-cache'
import { nodeIdFromBytes } from '../keys.ts'
import { idToBytes } from '../overlay/ring-id.ts'
import type { RingIdOf } from '../overlay/id-binding.ts'

/**
 * Addresses whose ring id is remembered. Routing state, successor lists and
 * answers name the same few dozen peers again and again; parsing and hashing
 * a peer id for every record would cost more than the rest of the decode.
 */
export const RING_ID_CACHE_SIZE = 4_096

/** A `RingIdOf` for libp2p peer id strings; an address that is no peer id has none */
export function libp2pRingIdOf (cacheSize: number = RING_ID_CACHE_SIZE): RingIdOf {
  // `false` remembers addresses that are no peer id, so garbage costs one parse
  const cache = new LRUCache<string, Uint8Array | false>({ max: cacheSize })
  return (address) => {
    let id = cache.get(address)
    if (id === undefined) {
      try {
        id = idToBytes(nodeIdFromBytes(peerIdFromString(address).toMultihash().bytes))
      } catch {
        id = false
      }
      cache.set(address, id)
    }
    return id === false ? undefined : id
  }
}
