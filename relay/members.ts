/**
 * The relay's live member list: per namespace, the pages that are ring
 * members now, so a joining page has members to join through.
 *
 * Theory of operation:
 *
 * - A joining page is answered with members drawn uniformly at random: its
 * join then travels the ring's own routing to its place. Handing out the
 * members nearest its position looks cheaper, but in the simulator a burst of
 * joins converged much worse that way (`npm run sim -- --bootstrap nearest`:
 * 1 000 pages joining within 30 s gave 81 % correct lookups against 99.9 %),
 * so `nearest` stays an option (`pick`) for study only.
 * - Members are kept per namespace in an array sorted by ring id, so the
 * nearest members of any position are a binary search plus a walk outwards
 * (clockwise and anticlockwise, nearer first, wrapping around).
 * - A page registers by asking with `member: true`; it is dropped when its
 * last connection to the relay closes (`remove`). Nothing else expires: a
 * member's liveness is its connection, which the relay sees.
 * - Founding: the first page that asks about an empty namespace (without
 * being a member) is told to create the ring, and for `founderGraceMs` it is
 * listed to every other asker as if it were a member, so two pages that
 * arrive together cannot both found a ring. When the founder registers it
 * becomes an ordinary member; when its grace passes unregistered, the next
 * asker founds instead.
 * - Bounded: members per namespace, members in total, namespaces, and
 * namespaces per peer. Past a bound a page is answered but not listed.
 *
 * Pure state plus an injected clock: no libp2p, no timers.
 */
import { compareIds, distance } from '../src/overlay/ring-id.ts'

/** Members listed per namespace */
export const MAX_MEMBERS_PER_NAMESPACE = 50_000
/** Members listed over all namespaces */
export const MAX_MEMBERS = 200_000
/** Namespaces tracked at once */
export const MAX_NAMESPACES = 10_000
/** Namespaces one peer may be listed in */
export const MAX_NAMESPACES_PER_PEER = 4
/** How long a page told to found a ring is listed to other askers before it registers, ms */
export const FOUNDER_GRACE_MS = 10_000
/** Members answered when the asker names no limit */
export const DEFAULT_ANSWER_SIZE = 8
/** Most members answered to one request */
export const MAX_ANSWER_SIZE = 32

/** A ring member as the relay knows it */
export interface MemberEntry {
  /** Peer id string */
  peer: string
  /** Ring position: SHA-256 of the peer id bytes */
  id: bigint
  /** Multiaddr bytes the member registered */
  addrs: Uint8Array[]
}

/** What the registry decided for one request */
export type AskResult =
  | { type: 'found' }
  | { type: 'members', members: MemberEntry[], registered: boolean }
  | { type: 'unavailable', reason: string }

export interface AskOptions {
  /** The asker is a ring member: list it */
  member: boolean
  /** Members wanted (0 or absent: DEFAULT_ANSWER_SIZE; capped at MAX_ANSWER_SIZE) */
  limit?: number
}

export interface MemberRegistryInit {
  /** @default MAX_MEMBERS_PER_NAMESPACE (50 000) */
  maxMembersPerNamespace?: number
  /** @default MAX_MEMBERS (200 000) */
  maxMembers?: number
  /** @default MAX_NAMESPACES (10 000) */
  maxNamespaces?: number
  /** @default MAX_NAMESPACES_PER_PEER (4) */
  maxNamespacesPerPeer?: number
  /** @default FOUNDER_GRACE_MS (10 s) */
  founderGraceMs?: number
  /** @default MAX_ANSWER_SIZE (32) */
  maxAnswerSize?: number
  /**
   * Which members an asker is given: a uniform `random` sample, or the ones
   * `nearest` its ring position (see the theory of operation)
   *
   * @default 'random'
   */
  pick?: 'random' | 'nearest'
  /**
   * Milliseconds of some clock (for the founder grace)
   *
   * @default Date.now
   */
  now?(): number
  /**
   * Uniform numbers in [0, 1), for the random sample
   *
   * @default Math.random
   */
  random?(): number
}

interface Namespace {
  /** Sorted by id */
  members: MemberEntry[]
  founder?: MemberEntry & { until: number }
}

export interface RegistryStats {
  namespaces: number
  members: number
  /** Pages told to found a ring that have not registered yet (within their grace) */
  founders: number
}

export class MemberRegistry {
  private readonly namespaces = new Map<string, Namespace>()
  /** Namespaces each peer is listed (or founding) in */
  private readonly byPeer = new Map<string, Set<string>>()
  private total = 0
  private readonly maxMembersPerNamespace: number
  private readonly maxMembers: number
  private readonly maxNamespaces: number
  private readonly maxNamespacesPerPeer: number
  private readonly founderGraceMs: number
  private readonly maxAnswerSize: number
  private readonly now: () => number
  private readonly random: () => number
  private readonly pick: 'random' | 'nearest'

  constructor (init: MemberRegistryInit = {}) {
    this.maxMembersPerNamespace = init.maxMembersPerNamespace ?? MAX_MEMBERS_PER_NAMESPACE
    this.maxMembers = init.maxMembers ?? MAX_MEMBERS
    this.maxNamespaces = init.maxNamespaces ?? MAX_NAMESPACES
    this.maxNamespacesPerPeer = init.maxNamespacesPerPeer ?? MAX_NAMESPACES_PER_PEER
    this.founderGraceMs = init.founderGraceMs ?? FOUNDER_GRACE_MS
    this.maxAnswerSize = init.maxAnswerSize ?? MAX_ANSWER_SIZE
    this.now = init.now ?? Date.now
    this.random = init.random ?? Math.random
    this.pick = init.pick ?? 'random'
  }

  /**
   * Answers one bootstrap request: registers the asker when it is a member,
   * then lists members to join through, or tells it to found the ring
   */
  ask (namespace: string, asker: MemberEntry, options: AskOptions): AskResult {
    let ns = this.namespaces.get(namespace)
    if (ns == null) {
      if (this.namespaces.size >= this.maxNamespaces) {
        return { type: 'unavailable', reason: `the relay tracks its maximum of ${this.maxNamespaces} namespaces` }
      }
      ns = { members: [] }
      this.namespaces.set(namespace, ns)
    }
    const now = this.now()
    if (ns.founder != null && ns.founder.until <= now) {
      this.forgetFounder(namespace, ns)
    }

    let registered = false
    if (options.member) {
      registered = this.register(namespace, ns, asker)
    }

    const limit = Math.min(options.limit == null || options.limit <= 0 ? DEFAULT_ANSWER_SIZE : options.limit, this.maxAnswerSize)
    const members = this.pick === 'nearest'
      ? nearest(ns.members, asker.id, limit, asker.peer)
      : sample(ns.members, limit, this.random, asker.peer)
    const founder = ns.founder
    if (founder != null && founder.peer !== asker.peer && members.length < limit) {
      // the founder is not in the sorted list yet; it is the ring until others register
      members.push(founder)
    }

    if (members.length === 0 && !options.member) {
      if (founder == null || founder.peer === asker.peer) {
        if (!this.claimPeer(asker.peer, namespace)) {
          this.dropIfEmpty(namespace, ns)
          return { type: 'unavailable', reason: `a peer may be listed in at most ${this.maxNamespacesPerPeer} namespaces` }
        }
        ns.founder = { ...asker, until: now + this.founderGraceMs }
        return { type: 'found' }
      }
    }
    this.dropIfEmpty(namespace, ns)
    return { type: 'members', members, registered }
  }

  /** Drops a peer from every namespace (its connection to the relay closed); returns how many listings it had */
  remove (peer: string): number {
    const namespaces = this.byPeer.get(peer)
    if (namespaces == null) {
      return 0
    }
    this.byPeer.delete(peer)
    let removed = 0
    for (const name of namespaces) {
      const ns = this.namespaces.get(name)
      if (ns == null) {
        continue
      }
      if (ns.founder?.peer === peer) {
        ns.founder = undefined
        removed++
      }
      const index = ns.members.findIndex(m => m.peer === peer)
      if (index >= 0) {
        ns.members.splice(index, 1)
        this.total--
        removed++
      }
      this.dropIfEmpty(name, ns)
    }
    return removed
  }

  /** Members of a namespace in ring order (founder not included) */
  members (namespace: string): MemberEntry[] {
    return [...(this.namespaces.get(namespace)?.members ?? [])]
  }

  stats (): RegistryStats {
    let founders = 0
    const now = this.now()
    for (const ns of this.namespaces.values()) {
      if (ns.founder != null && ns.founder.until > now) {
        founders++
      }
    }
    return { namespaces: this.namespaces.size, members: this.total, founders }
  }

  clear (): void {
    this.namespaces.clear()
    this.byPeer.clear()
    this.total = 0
  }

  private register (namespace: string, ns: Namespace, asker: MemberEntry): boolean {
    const index = lowerBound(ns.members, asker.id)
    const existing = ns.members[index]
    if (existing?.peer === asker.peer) {
      // a re-registration: its addresses may have changed (a new relay reservation)
      existing.addrs = asker.addrs
    } else {
      if (ns.members.length >= this.maxMembersPerNamespace || this.total >= this.maxMembers) {
        return false
      }
      if (!this.claimPeer(asker.peer, namespace)) {
        return false
      }
      ns.members.splice(index, 0, { peer: asker.peer, id: asker.id, addrs: asker.addrs })
      this.total++
    }
    if (ns.founder?.peer === asker.peer) {
      // the founder is a member now: listed like everybody else
      ns.founder = undefined
    }
    return true
  }

  /** Notes that `peer` is listed in `namespace`; false if it is in too many already */
  private claimPeer (peer: string, namespace: string): boolean {
    let set = this.byPeer.get(peer)
    if (set == null) {
      set = new Set()
      this.byPeer.set(peer, set)
    }
    if (set.has(namespace)) {
      return true
    }
    if (set.size >= this.maxNamespacesPerPeer) {
      return false
    }
    set.add(namespace)
    return true
  }

  private forgetFounder (namespace: string, ns: Namespace): void {
    const founder = ns.founder
    if (founder == null) {
      return
    }
    ns.founder = undefined
    if (!ns.members.some(m => m.peer === founder.peer)) {
      const set = this.byPeer.get(founder.peer)
      set?.delete(namespace)
      if (set?.size === 0) {
        this.byPeer.delete(founder.peer)
      }
    }
  }

  private dropIfEmpty (namespace: string, ns: Namespace): void {
    if (ns.members.length === 0 && ns.founder == null) {
      this.namespaces.delete(namespace)
    }
  }
}

/** Index of the first member whose id is ≥ `id` (members.length if none) */
function lowerBound (members: MemberEntry[], id: bigint): number {
  let lo = 0
  let hi = members.length
  while (lo < hi) {
    const mid = (lo + hi) >>> 1
    if (compareIds(members[mid].id, id) < 0) {
      lo = mid + 1
    } else {
      hi = mid
    }
  }
  return lo
}

/**
 * Up to `limit` distinct members drawn uniformly at random, without `exclude`:
 * a partial Fisher–Yates shuffle over indexes, O(limit) for any list size
 */
export function sample (members: MemberEntry[], limit: number, random: () => number, exclude?: string): MemberEntry[] {
  const n = members.length
  const out: MemberEntry[] = []
  // swapped-out slots of the virtual index array; untouched slots hold their own index
  const swapped = new Map<number, number>()
  for (let i = 0; i < n && out.length < limit; i++) {
    const j = i + Math.floor(random() * (n - i))
    const picked = swapped.get(j) ?? j
    swapped.set(j, swapped.get(i) ?? i)
    const member = members[picked]
    if (member.peer !== exclude) {
      out.push(member)
    }
  }
  return out
}

/**
 * Up to `limit` members nearest `id` on the ring, in either direction,
 * nearest first, without `exclude`
 */
export function nearest (members: MemberEntry[], id: bigint, limit: number, exclude?: string): MemberEntry[] {
  const n = members.length
  const out: MemberEntry[] = []
  if (n === 0 || limit <= 0) {
    return out
  }
  const start = lowerBound(members, id)
  // `next` walks clockwise from the first id ≥ `id`, `prev` anticlockwise from the one before it
  let next = start % n
  let prev = (start - 1 + n) % n
  let taken = 0
  while (out.length < limit && taken < n) {
    const after = members[next]
    const before = members[prev]
    // the clockwise candidate wins ties: it is the asker's successor, the best place to join
    const useNext = distance(id, after.id) <= distance(before.id, id)
    const pick = useNext ? after : before
    if (useNext) {
      next = (next + 1) % n
    } else {
      prev = (prev - 1 + n) % n
    }
    taken++
    if (pick.peer !== exclude) {
      out.push(pick)
    }
  }
  return out
}
