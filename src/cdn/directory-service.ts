/**
 * The holder directory as a ring application: it answers LOCATE lookups that
 * arrive at this node as the key's home, records ANNOUNCEs, and moves entries
 * to the new home when the ring changes (a node joined just before us, or we
 * leave). Seams only (no ambient time, randomness or I/O), so the simulator
 * runs it unchanged.
 */

import { InvalidMessageError } from '../overlay/errors.ts'
import { inHalfOpen, inOpen } from '../overlay/interval.ts'
import { idFromBytes, idToBytes } from '../overlay/ring-id.ts'
import { MAX_HINTS, peerFromWire, peerToWire } from '../overlay/wire.ts'
import { DirectoryRequest, DirectoryResponse } from './directory-messages.ts'
import { HolderDirectory, MAX_HOLDERS_PER_KEY } from './holder-directory.ts'
import type { HolderDirectoryInit } from './holder-directory.ts'
import type { LookupResult, RingApplication, RingNode } from '../overlay/ring-node.ts'
import type { Address, Peer, Random } from '../overlay/seams.ts'

/** Longest list of entries or gone holders accepted in one directory message */
export const MAX_DIRECTORY_ITEMS = 10_000

export interface DirectoryServiceComponents {
  ring: RingNode
  random: Random
}

export interface DirectoryServiceInit extends HolderDirectoryInit {
  /**
   * Copy every announce to the home node's successor, which becomes home for
   * the key if the home node crashes: one extra message per announce for
   * fewer origin fetches under churn
   *
   * @default true
   */
  replicate?: boolean
  /** Whether this node holds `key` itself (then it lists itself first) */
  holdsLocally?(key: bigint): boolean
}

export interface LocateResult {
  /** The key's home node */
  home: Peer
  hops: number
  holders: Peer[]
}

export class DirectoryService implements RingApplication {
  readonly directory: HolderDirectory
  private readonly ring: RingNode
  private readonly random: Random
  private readonly holdsLocally: (key: bigint) => boolean
  private readonly replicate: boolean

  constructor (components: DirectoryServiceComponents, init: DirectoryServiceInit = {}) {
    this.ring = components.ring
    this.random = components.random
    this.directory = new HolderDirectory(init)
    this.holdsLocally = init.holdsLocally ?? (() => false)
    this.replicate = init.replicate ?? true
    this.ring.setApplication(this)
  }

  // ---- client side -------------------------------------------------------

  /** Looks `key` up on the ring and asks its home node who holds it */
  async locate (key: bigint, options: { timeout?: number, signal?: AbortSignal } = {}): Promise<LocateResult> {
    const app = DirectoryRequest.encode({ type: DirectoryRequest.Type.LOCATE, key: idToBytes(key), gone: [], entries: [] })
    const res: LookupResult = await this.ring.lookup(key, { ...options, app })
    const holders = res.app != null ? decodeResponse(res.app).filter(p => p.address !== this.ring.self.address) : []
    return { home: res.owner, hops: res.hops, holders }
  }

  /** Tells `home` that we hold `key` now, and which holders turned out not to */
  async announce (home: Peer, key: bigint, gone: Address[] = [], options: { timeout?: number, signal?: AbortSignal } = {}): Promise<void> {
    const payload = DirectoryRequest.encode({ type: DirectoryRequest.Type.ANNOUNCE, key: idToBytes(key), gone, entries: [], holder: peerToWire(this.ring.self) })
    if (home.address === this.ring.self.address) {
      await this.message(this.ring.self.address, payload)
      return
    }
    await this.ring.message(home.address, payload, options)
  }

  // ---- home node side (RingApplication) ----------------------------------

  async deliver (key: bigint, payload: Uint8Array): Promise<Uint8Array<ArrayBuffer>> {
    const req = decodeDirectoryRequest(payload)
    if (req.type !== DirectoryRequest.Type.LOCATE) {
      throw new InvalidMessageError(`routed directory request must be LOCATE, got ${req.type}`)
    }
    const holders = this.directory.locate(key, this.random)
    if (holders.length === 0 && this.holdsLocally(key)) {
      // the home node offers itself only when nobody else is listed: adding it to every answer
      // would make it serve a share of every request for its keys, the very hot spot the
      // directory exists to avoid (it is listed like anyone else once it announced itself)
      holders.push(this.ring.self)
    }
    return DirectoryResponse.encode({ holders: holders.map(peerToWire) })
  }

  async message (from: Address, payload: Uint8Array): Promise<undefined> {
    const req = decodeDirectoryRequest(payload)
    switch (req.type) {
      case DirectoryRequest.Type.ANNOUNCE: {
        const key = idFromBytes(req.key)
        const holder = peerFromWire(req.holder)
        if (holder.address !== from) {
          throw new InvalidMessageError('a node can only announce itself')
        }
        for (const address of req.gone) {
          this.directory.remove(key, address)
        }
        this.directory.announce(key, holder)
        const successor = this.ring.successors[0]
        if (this.replicate && successor != null) {
          const copy = DirectoryRequest.encode({ type: DirectoryRequest.Type.REPLICATE, key: new Uint8Array(0), gone: [], entries: [{ key: req.key, holders: [peerToWire(holder)] }] })
          this.ring.message(successor.address, copy).catch(() => {})
        }
        return
      }
      case DirectoryRequest.Type.REPLICATE: {
        // copies come only from our predecessor, the home of the keys we would inherit
        if (this.ring.predecessor?.address !== from) {
          throw new InvalidMessageError('replicas accepted only from our predecessor')
        }
        for (const entry of req.entries) {
          const key = idFromBytes(entry.key)
          for (const holder of entry.holders.map(peerFromWire)) {
            this.directory.announce(key, holder)
          }
        }
        return
      }
      case DirectoryRequest.Type.HANDOVER: {
        // only the old home hands over, after we joined just before it: our successor, and only
        // for keys that are ours now. Anything else could plant holders nobody announced
        const self = this.ring.self
        const pred = this.ring.predecessor
        if (from !== self.address && this.ring.successors[0]?.address !== from) {
          throw new InvalidMessageError('hand-over accepted only from our successor')
        }
        const entries = req.entries
          .map((e): [bigint, Peer[]] => [idFromBytes(e.key), e.holders.map(peerFromWire)])
          .filter(([key]) => from === self.address || pred == null || inHalfOpen(key, pred.id, self.id))
        this.directory.merge(entries)
        return
      }
      default:
        throw new InvalidMessageError(`unexpected directory request ${req.type}`)
    }
  }

  handoverOnLeave (): Uint8Array<ArrayBuffer> {
    return encodeHandover(this.directory.extract(() => true))
  }

  receiveHandover (_from: Peer, payload: Uint8Array): void {
    // the ring verified that a leaving predecessor sent this: its keys are ours now
    void this.message(this.ring.self.address, payload).catch(() => {})
  }

  predecessorChanged (previous: Peer | undefined, current: Peer | undefined): void {
    if (current == null) {
      return
    }
    if (previous == null) {
      // we had no predecessor (alone, or it timed out): we were answering for keys up to wherever the
      // ring sent them, and everything outside (current, self] is the new predecessor's side. It gets a
      // copy; ours stays as a replica, keeping its age, so the bounded directory evicts it first
      const self = this.ring.self
      const theirs = this.directory.select(key => !inHalfOpen(key, current.id, self.id))
      if (theirs.length > 0) {
        this.ring.message(current.address, encodeHandover(theirs)).catch(() => {})
      }
      return
    }
    if (!inOpen(current.id, previous.id, this.ring.self.id)) {
      return
    }
    // a node joined between our old predecessor and us: it is home for (previous, current] now
    const moving = this.directory.extract(key => inHalfOpen(key, previous.id, current.id))
    if (moving.length === 0) {
      return
    }
    this.ring.message(current.address, encodeHandover(moving)).catch(() => {
      // the newcomer is gone already: its keys come back to us, and so do the entries
      this.directory.merge(moving)
    })
  }
}

/** Decodes a directory request with limits on every list; anything malformed is an `InvalidMessageError` */
export function decodeDirectoryRequest (payload: Uint8Array): DirectoryRequest {
  try {
    return DirectoryRequest.decode(payload, {
      limits: {
        gone: MAX_DIRECTORY_ITEMS,
        entries: MAX_DIRECTORY_ITEMS,
        entries$: { holders: MAX_HOLDERS_PER_KEY, holders$: { hints: MAX_HINTS } },
        holder: { hints: MAX_HINTS }
      }
    })
  } catch (err: any) {
    throw new InvalidMessageError(`bad directory request: ${err.message}`)
  }
}

function decodeResponse (payload: Uint8Array): Peer[] {
  try {
    return DirectoryResponse.decode(payload, { limits: { holders: MAX_DIRECTORY_ITEMS, holders$: { hints: MAX_HINTS } } }).holders.map(peerFromWire)
  } catch (err: any) {
    throw new InvalidMessageError(`bad directory response: ${err.message}`)
  }
}

function encodeHandover (entries: Array<[bigint, Peer[]]>): Uint8Array<ArrayBuffer> {
  return DirectoryRequest.encode({
    type: DirectoryRequest.Type.HANDOVER,
    key: new Uint8Array(0),
    gone: [],
    entries: entries.map(([key, holders]) => ({ key: idToBytes(key), holders: holders.map(peerToWire) }))
  })
}
