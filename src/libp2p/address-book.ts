/**
 * Where to dial the peers the ring talks about. The overlay carries each
 * peer's dialing hints (its multiaddrs, as bytes) untouched; this book
 * collects them from every peer seen in a ring message or a directory answer,
 * so a node learned second-hand (from a successor list, a finger table, a
 * holder list) can be dialled although libp2p's peer store never heard of it.
 * `StreamRpc`'s `addressHints` and the content client read it.
 *
 * Bounded (least recently learned or used first out): a stale entry costs a
 * failed dial, after which libp2p still tries the peer store.
 */
import { multiaddr } from '@multiformats/multiaddr'
import { LRUCache } from 'lru-cache'
import type { RingRequest, RingResponse, WirePeer } from '../overlay/messages.ts'
import type { Address, Peer } from '../overlay/seams.ts'
import type { Multiaddr } from '@multiformats/multiaddr'

/** Peers whose dialing hints are remembered */
export const ADDRESS_BOOK_SIZE = 2_048

/** Hints kept per peer (the overlay carries at most 8) */
const MAX_HINTS_PER_PEER = 8

export interface AddressBookInit {
  /** @default ADDRESS_BOOK_SIZE (2048) */
  size?: number
  /** This node's own address: never recorded */
  self?: Address
}

export class AddressBook {
  private readonly book: LRUCache<Address, Multiaddr[]>
  private readonly self?: Address

  constructor (init: AddressBookInit = {}) {
    this.book = new LRUCache({ max: init.size ?? ADDRESS_BOOK_SIZE })
    this.self = init.self
  }

  get size (): number {
    return this.book.size
  }

  /** The multiaddrs last learned for `address` (empty if none) */
  hints (address: Address): Multiaddr[] {
    return this.book.get(address) ?? []
  }

  /** Records multiaddrs for `address`; malformed hint bytes are skipped */
  add (address: Address, hints: Array<Uint8Array | Multiaddr | string> | undefined): void {
    if (address === this.self || hints == null || hints.length === 0) {
      return
    }
    const addrs: Multiaddr[] = []
    for (const hint of hints.slice(0, MAX_HINTS_PER_PEER)) {
      try {
        addrs.push(multiaddr(hint))
      } catch {
        // a peer's hints are opaque to everyone but the dialler: ignore garbage
      }
    }
    if (addrs.length > 0) {
      this.book.set(address, addrs)
    }
  }

  learn (peer: Peer | WirePeer | undefined): void {
    if (peer != null) {
      this.add(peer.address, peer.hints)
    }
  }

  /** Records the hints of every peer a ring request mentions */
  harvestRequest (req: RingRequest): void {
    this.learn(req.stabilize?.sender)
    this.learn(req.leave?.sender)
    this.learn(req.leave?.predecessor)
    req.leave?.successors.forEach(p => { this.learn(p) })
  }

  /** Records the hints of every peer a ring response mentions */
  harvestResponse (res: RingResponse): void {
    this.learn(res.route?.owner)
    this.learn(res.stabilize?.predecessor)
    res.stabilize?.successors.forEach(p => { this.learn(p) })
    res.stabilize?.fingers.forEach(p => { this.learn(p) })
  }

  clear (): void {
    this.book.clear()
  }
}
