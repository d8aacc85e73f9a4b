/**
 * The holder directory as a ring application: it answers LOCATE lookups that
 * arrive at this node as the key's home, records ANNOUNCEs, and moves entries
 * to the new home when the ring changes (a node joined just before us, or we
 * leave). Seams only (no ambient time, randomness or I/O), so the simulator
 * runs it unchanged.
 *
 * Theory of operation under churn. An entry lives at the key's home and, as a
 * replica, at the home's successor (the node that becomes home when the home
 * crashes). Measured in the simulator (1 000 pages, 10-minute sessions), most
 * repeated requests that still went to the origin while some live page held
 * the object were entries lost in ring changes, so every change keeps two
 * copies where it used to keep one. A joiner before us gets a copy of its
 * keys' entries and we keep ours: we are its successor, so ours is exactly
 * the replica it would want. When our successor or our range changes, we send
 * the new successor every entry we are home for (one batched REPLICATE), so
 * keys inherited from a crashed predecessor or a graceful hand-over do not
 * stay single. A home that knows no holder for a LOCATE asks its successor
 * first (one direct round trip, on misses only): a just-joined home has no
 * entries until the old home notices it, but the old home is its successor.
 * An ANNOUNCE that reaches a node not home for the key (it moved to a joiner
 * during the transfer) is refused, and the announcer looks the home up again:
 * passing it on would let one message cost two. One holder is listed for at
 * most `maxKeysPerHolder` keys here, and only a new listing is replicated.
 */

import { LRUCache } from 'lru-cache'
import { InvalidMessageError } from '../overlay/errors.ts'
import { inHalfOpen, inOpen } from '../overlay/interval.ts'
import { idFromBytes, idToBytes } from '../overlay/ring-id.ts'
import { peerFromWire, peerToWire } from '../overlay/wire.ts'
import { DirectoryRequest, DirectoryResponse } from './directory-messages.ts'
import { batches, decodeDirectoryRequest, decodeDirectoryResponse, encodeHandover } from './directory-wire.ts'
import { NotHomeError } from './errors.ts'
import { HolderDirectory } from './holder-directory.ts'
import type { HolderDirectoryInit } from './holder-directory.ts'
import type { LookupResult, RingApplication, RingNode } from '../overlay/ring-node.ts'
import type { Address, Peer, Random } from '../overlay/seams.ts'

/**
 * Keys one holder may be listed for at a home node. An announce beyond it
 * (for a key the holder is not listed for yet) is dropped unrecorded: one
 * peer announcing random keys in our range can neither fill the directory
 * (evicting honest entries) nor make us replicate without end. An honest page
 * is listed here for its share of the keys we are home for (its objects over
 * the ring's size, twice with replicas), far below this
 */
export const MAX_KEYS_PER_HOLDER = 256
/** LOCATEs a home node must have answered for a key before it reports a sole holder of it */
export const SOLE_HOLDER_MIN_LOCATES = 1
/** Keys whose LOCATE count a home node remembers (least recently asked forgotten first) */
const DEMAND_KEYS = 10_000
/** How long a home node waits for its successor's copy of an entry it misses, ms */
export const MISS_QUERY_TIMEOUT_MS = 1_000
/**
 * Distinct requesters that must report a holder that still answers before a
 * home node drops it (it may have evicted the object, or served bad bytes).
 * One report is a claim about a third party: believed alone, one hostile
 * requester could empty every entry it can name
 */
export const GONE_REPORTERS = 2
/** Reported holders a home node checks at once; reports beyond that only count as votes */
export const MAX_GONE_CHECKS = 8
/** (key, holder) pairs whose reporters a home node remembers */
const GONE_VOTES = 4_096

export interface DirectoryServiceComponents {
  ring: RingNode
  random: Random
}

/**
 * Home copies (`DirectoryServiceInit.onSoleHolder`, `RingCdnInit.homeCopies`):
 * the largest object a home node copies from its only holder, bytes
 */
export const HOME_COPY_MAX_BYTES = 8_388_608
/** Home copies one node downloads at once; sole holders announced meanwhile are skipped */
export const MAX_CONCURRENT_HOME_COPIES = 2

export interface DirectoryServiceInit extends HolderDirectoryInit {
  /**
   * Copy every announce to the home node's successor, which becomes home for
   * the key if the home node crashes: one extra message per announce for
   * fewer origin fetches under churn
   *
   * @default true
   */
  replicate?: boolean
  /**
   * A home node that knows no holder for a LOCATE asks its successor (which
   * keeps replicas) before answering; costs one round trip on misses only
   *
   * @default true
   */
  queryOnMiss?: boolean
  /**
   * How long that query may take, ms
   *
   * @default MISS_QUERY_TIMEOUT_MS (1 000)
   */
  missQueryTimeoutMs?: number
  /** Whether this node holds `key` itself (then it lists itself first) */
  holdsLocally?(key: bigint): boolean
  /**
   * Called on the home node when an ANNOUNCE leaves `holder` the only holder
   * of `key` it knows of and it does not hold `key` itself: typically right
   * after an origin fetch. The page may fetch a copy from `holder` (verified
   * like any peer transfer) and announce itself, so the object outlives its
   * one holder's session. Policy, so the page decides (budget, upload policy)
   */
  onSoleHolder?(key: bigint, holder: Peer): void
  /**
   * `onSoleHolder` only for keys this node answered at least this many
   * LOCATEs for. 2 (copy only objects asked for twice) looked cheaper but
   * saved almost nothing in the simulator: the count stays with one home
   * node, and under churn the home changes before a rare object's second
   * request
   *
   * @default SOLE_HOLDER_MIN_LOCATES (1)
   */
  soleHolderMinLocates?: number
  /**
   * Keys one holder may be listed for here; announces for more keys are
   * dropped unrecorded
   *
   * @default MAX_KEYS_PER_HOLDER (256)
   */
  maxKeysPerHolder?: number
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
  private readonly onSoleHolder?: (key: bigint, holder: Peer) => void
  private readonly soleHolderMinLocates: number
  /**
   * LOCATEs answered per key, the most recently asked-for keys kept. Built on
   * first use, like `goneVotesCache`: a page that never answers a LOCATE
   * never pays for it, and building both for every new page was 3–7 % of the
   * simulator's time at 1 000 pages (a cost per join)
   */
  // bounded by maxSize (one per key), not `max`: lru-cache allocates `max` slots up front (~217 KiB
  // here), while most pages are home for a few keys
  private demandCache?: LRUCache<bigint, number>
  private readonly replicate: boolean
  private readonly queryOnMiss: boolean
  private readonly missQueryTimeoutMs: number
  /** The successor and predecessor our primary entries were last copied for; a change means a new copy */
  private replicated?: { successor: Address, predecessor?: Address }
  private replicating = false
  /** Who reported each (key, holder) pair gone, while the holder still answers; built on the first report */
  private goneVotesCache?: LRUCache<string, Set<Address>>
  private goneChecks = 0
  private readonly maxKeysPerHolder: number
  /** Announces dropped because their holder was listed for its share of keys already */
  announcesDropped = 0
  /** LOCATEs answered from our replica because our predecessor, the home, swallowed or lied about them */
  answeredFor = 0

  constructor (components: DirectoryServiceComponents, init: DirectoryServiceInit = {}) {
    this.ring = components.ring
    this.random = components.random
    this.directory = new HolderDirectory(init)
    this.holdsLocally = init.holdsLocally ?? (() => false)
    this.onSoleHolder = init.onSoleHolder
    this.soleHolderMinLocates = init.soleHolderMinLocates ?? SOLE_HOLDER_MIN_LOCATES
    this.replicate = init.replicate ?? true
    this.queryOnMiss = init.queryOnMiss ?? true
    this.missQueryTimeoutMs = init.missQueryTimeoutMs ?? MISS_QUERY_TIMEOUT_MS
    this.maxKeysPerHolder = init.maxKeysPerHolder ?? MAX_KEYS_PER_HOLDER
    this.ring.setApplication(this)
  }

  // ---- client side -------------------------------------------------------

  /** Looks `key` up on the ring and asks its home node who holds it */
  async locate (key: bigint, options: { timeout?: number, signal?: AbortSignal, avoid?: Address[] } = {}): Promise<LocateResult> {
    const app = DirectoryRequest.encode({ type: DirectoryRequest.Type.LOCATE, key: idToBytes(key), gone: [], entries: [] })
    const res: LookupResult = await this.ring.lookup(key, { ...options, app })
    const holders = res.app != null ? decodeDirectoryResponse(res.app).filter(p => p.address !== this.ring.self.address) : []
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

  /**
   * We are `key`'s home and `holder` turned out not to hold it, or sent
   * bytes that are not it (our own finding, not a requester's report): it
   * leaves our entry and our successor's replica, which would otherwise
   * bring it back on our next miss
   */
  forget (key: bigint, holder: Address): void {
    this.directory.remove(key, holder)
    const successor = this.ring.successors[0]
    if (!this.replicate || successor == null || successor.address === this.ring.self.address) {
      return
    }
    const req = DirectoryRequest.encode({ type: DirectoryRequest.Type.REPLICATE, key: idToBytes(key), gone: [holder], entries: [] })
    this.ring.message(successor.address, req).catch(() => {})
  }

  // ---- home node side (RingApplication) ----------------------------------

  async deliver (key: bigint, payload: Uint8Array): Promise<Uint8Array<ArrayBuffer>> {
    const req = decodeDirectoryRequest(payload)
    if (req.type !== DirectoryRequest.Type.LOCATE) {
      throw new InvalidMessageError(`routed directory request must be LOCATE, got ${req.type}`)
    }
    this.syncReplicas()
    const demand = this.demandCache ??= new LRUCache<bigint, number>({ maxSize: DEMAND_KEYS, sizeCalculation: () => 1 })
    demand.set(key, (demand.get(key) ?? 0) + 1)
    let holders = this.directory.locate(key, this.random)
    if (holders.length === 0 && this.queryOnMiss) {
      holders = await this.querySuccessor(key)
    }
    if (holders.length === 0 && this.holdsLocally(key)) {
      // the home node offers itself only when nobody else is listed: adding it to every answer
      // would make it serve a share of every request for its keys, the very hot spot the
      // directory exists to avoid (it is listed like anyone else once it announced itself)
      holders.push(this.ring.self)
    }
    return DirectoryResponse.encode({ holders: holders.map(peerToWire) })
  }

  /**
   * A lookup found our predecessor, the key's home, swallowing or lying about
   * it (a hostile page owns the key): we answer the LOCATE from the replica
   * its announces and REPLICATEs left here, so the keys a hostile page owns
   * still reach their holders. The replica is what the home sent us, and a
   * requester verifies the bytes whoever lists the holder; an empty replica
   * is an ordinary miss
   */
  async answerFor (key: bigint, payload: Uint8Array, owner: Peer): Promise<Uint8Array<ArrayBuffer>> {
    const req = decodeDirectoryRequest(payload)
    if (req.type !== DirectoryRequest.Type.LOCATE) {
      throw new InvalidMessageError(`routed directory request must be LOCATE, got ${req.type}`)
    }
    this.answeredFor++
    const holders = this.directory.locate(key, this.random).filter(p => p.address !== owner.address)
    if (holders.length === 0 && this.holdsLocally(key)) {
      holders.push(this.ring.self)
    }
    return DirectoryResponse.encode({ holders: holders.map(peerToWire) })
  }

  async message (from: Address, payload: Uint8Array): Promise<Uint8Array<ArrayBuffer> | undefined> {
    const req = decodeDirectoryRequest(payload)
    switch (req.type) {
      case DirectoryRequest.Type.LOCATE: {
        // direct, not routed: a home node that missed asks its successor for its replica of the entry
        const holders = this.directory.holders(idFromBytes(req.key)).filter(p => p.address !== from)
        return DirectoryResponse.encode({ holders: holders.map(peerToWire) })
      }
      case DirectoryRequest.Type.ANNOUNCE:
        this.recordAnnounce(from, req)
        return
      case DirectoryRequest.Type.REPLICATE: {
        // copies come only from our predecessor, the home of the keys we would inherit
        if (this.ring.predecessor?.address !== from) {
          throw new InvalidMessageError('replicas accepted only from our predecessor')
        }
        if (req.key.byteLength > 0) {
          // holders the home dropped from this key's entry
          const key = idFromBytes(req.key)
          for (const address of req.gone) {
            this.directory.remove(key, address)
          }
        }
        for (const entry of req.entries) {
          const key = idFromBytes(entry.key)
          // the home's list is the fresher one: its order (most recent first) goes in front of ours
          for (const holder of entry.holders.map(wire => peerFromWire(wire)).reverse()) {
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
          .map((e): [bigint, Peer[]] => [idFromBytes(e.key), e.holders.map(wire => peerFromWire(wire))])
          .filter(([key]) => from === self.address || pred == null || inHalfOpen(key, pred.id, self.id))
        this.directory.merge(entries)
        if (from !== self.address) {
          this.syncReplicas()
        }
        return
      }
      default:
        throw new InvalidMessageError(`unexpected directory request ${req.type}`)
    }
  }

  /**
   * An ANNOUNCE: record the holder, replicate a new listing, and report a sole
   * holder. Work per announce is bounded and not amplifiable: an announce for
   * a key we are not home for is refused (the announcer looks the home up
   * again), one for a key beyond the holder's share is dropped, and only a new
   * listing costs a message to the successor, so one announcer makes us send
   * at most its share of REPLICATEs however often it announces
   */
  private recordAnnounce (from: Address, req: DirectoryRequest): void {
    const key = idFromBytes(req.key)
    const holder = peerFromWire(req.holder)
    if (holder.address !== from) {
      throw new InvalidMessageError('a node can only announce itself')
    }
    const self = this.ring.self
    const pred = this.ring.predecessor
    if (pred != null && pred.address !== self.address && !inHalfOpen(key, pred.id, self.id)) {
      // not ours (or no longer: a node joined before us while the announcer was fetching). Passing
      // it on would make one message cost us another; the announcer's retry finds the home
      throw new NotHomeError('this node is not the key\'s home')
    }
    for (const address of req.gone) {
      this.reportedGone(key, address, from)
    }
    const listed = this.directory.lists(key, holder.address)
    if (!listed && this.directory.keysOf(holder.address) >= this.maxKeysPerHolder) {
      this.announcesDropped++
      return
    }
    this.directory.announce(key, holder)
    this.syncReplicas()
    const successor = this.ring.successors[0]
    if (!listed && this.replicate && successor != null && successor.address !== self.address) {
      const copy = DirectoryRequest.encode({ type: DirectoryRequest.Type.REPLICATE, key: new Uint8Array(0), gone: [], entries: [{ key: req.key, holders: [peerToWire(holder)] }] })
      this.ring.message(successor.address, copy).catch(() => {})
    }
    if (holder.address !== self.address && this.directory.holders(key).length === 1 &&
      (this.demandCache?.peek(key) ?? 0) >= this.soleHolderMinLocates && !this.holdsLocally(key)) {
      this.onSoleHolder?.(key, holder)
    }
  }

  /**
   * A requester says `address` failed it for `key`. A claim about a third
   * party: the holder is asked directly (any answer proves it alive), and
   * dropped at once only if it does not answer; one that answers is dropped
   * once `GONE_REPORTERS` distinct requesters have reported it
   */
  private reportedGone (key: bigint, address: Address, reporter: Address): void {
    if (address === reporter || !this.directory.holders(key).some(p => p.address === address)) {
      return
    }
    const vote = `${key.toString(16)}/${address}`
    // maxSize, not max, as for `demandCache`: `max` would allocate 4 096 slots (~114 KiB) on the first report
    const goneVotes = this.goneVotesCache ??= new LRUCache<string, Set<Address>>({ maxSize: GONE_VOTES, sizeCalculation: () => 1 })
    const reporters = goneVotes.get(vote) ?? new Set<Address>()
    reporters.add(reporter)
    goneVotes.set(vote, reporters)
    if (reporters.size >= GONE_REPORTERS) {
      goneVotes.delete(vote)
      this.forget(key, address)
      return
    }
    if (this.goneChecks >= MAX_GONE_CHECKS || address === this.ring.self.address) {
      return
    }
    this.goneChecks++
    const probe = DirectoryRequest.encode({ type: DirectoryRequest.Type.LOCATE, key: idToBytes(key), gone: [], entries: [] })
    this.ring.message(address, probe, { timeout: this.missQueryTimeoutMs })
      .catch((err: Error) => {
        if (err.name !== 'AbortError') {
          goneVotes.delete(vote)
          this.forget(key, address)
        }
      })
      .finally(() => { this.goneChecks-- })
  }

  handoverOnLeave (): Uint8Array<ArrayBuffer> {
    // one notice carries it: the most recently used entries that fit, the rest are lost (a cache
    // index: each costs one origin fetch)
    const entries = this.directory.extract(() => true).reverse()
    return encodeHandover((batches(entries)[0] ?? []).reverse())
  }

  receiveHandover (_from: Peer, payload: Uint8Array): void {
    // the ring verified that a leaving predecessor sent this: its keys are ours now, and our
    // successor needs the replicas it kept for the leaver's successor (us) to cover them too
    void this.message(this.ring.self.address, payload).then(() => { this.replicated = undefined; this.syncReplicas() }, () => {})
  }

  predecessorChanged (previous: Peer | undefined, current: Peer | undefined): void {
    if (current == null) {
      return
    }
    this.syncReplicas()
    if (previous == null) {
      // we had no predecessor (alone, or it timed out): we were answering for keys up to wherever the
      // ring sent them, and everything outside (current, self] is the new predecessor's side. It gets a
      // copy; ours stays as a replica, keeping its age, so the bounded directory evicts it first
      const self = this.ring.self
      const theirs = this.directory.select(key => !inHalfOpen(key, current.id, self.id))
      if (theirs.length > 0) {
        this.handOver(current, theirs)
      }
      return
    }
    if (!inOpen(current.id, previous.id, this.ring.self.id)) {
      return
    }
    // a node joined between our old predecessor and us: it is home for (previous, current] now. It
    // gets a copy and ours stays, keeping its age: we are its successor, so ours is the replica that
    // brings the keys back if the newcomer crashes (a newcomer is the likeliest node to leave soon)
    const moving = this.directory.select(key => inHalfOpen(key, previous.id, current.id))
    if (moving.length === 0) {
      return
    }
    this.handOver(current, moving)
  }

  /**
   * Copies every entry we are home for to our successor, once per change of
   * successor or predecessor (the keys we are home for): a replica made only
   * announce by announce would miss whatever arrived before the successor did
   */
  private syncReplicas (): void {
    const successor = this.ring.successors[0]
    const pred = this.ring.predecessor
    const self = this.ring.self
    if (!this.replicate || this.replicating || successor == null || successor.address === self.address) {
      return
    }
    if (this.replicated?.successor === successor.address && this.replicated.predecessor === pred?.address) {
      return
    }
    const ours = this.directory.select(key => pred == null || inHalfOpen(key, pred.id, self.id))
    this.replicated = { successor: successor.address, predecessor: pred?.address }
    if (ours.length === 0) {
      return
    }
    this.replicating = true
    const send = async (): Promise<void> => {
      // in batches: one message must stay within the ring's message size and the receiver's list limits
      for (const batch of batches(ours)) {
        const copy = DirectoryRequest.encode({
          type: DirectoryRequest.Type.REPLICATE,
          key: new Uint8Array(0),
          gone: [],
          entries: batch.map(([key, holders]) => ({ key: idToBytes(key), holders: holders.map(peerToWire) }))
        })
        await this.ring.message(successor.address, copy)
      }
    }
    send()
      .catch(() => {
        // refused (it does not know us as its predecessor yet) or gone: try again on the next occasion
        this.replicated = undefined
      })
      .finally(() => { this.replicating = false })
  }

  /** Hands `entries` over to `to`, in batches that fit the ring's frames, one after another */
  private handOver (to: Peer, entries: Array<[bigint, Peer[]]>): void {
    const send = async (): Promise<void> => {
      for (const batch of batches(entries)) {
        await this.ring.message(to.address, encodeHandover(batch))
      }
    }
    send().catch(() => {})
  }

  /** On a miss, the successor's replica of `key`'s entry (merged into ours), as an answer sample */
  private async querySuccessor (key: bigint): Promise<Peer[]> {
    const successor = this.ring.successors[0]
    if (successor == null || successor.address === this.ring.self.address) {
      return []
    }
    try {
      const req = DirectoryRequest.encode({ type: DirectoryRequest.Type.LOCATE, key: idToBytes(key), gone: [], entries: [] })
      const res = await this.ring.message(successor.address, req, { timeout: this.missQueryTimeoutMs })
      const holders = res != null ? decodeDirectoryResponse(res) : []
      if (holders.length === 0) {
        return []
      }
      this.directory.merge([[key, holders]])
      return this.directory.locate(key, this.random)
    } catch {
      return []
    }
  }
}
