/**
 * The registry's listings: per namespace, the listed peers sorted by ring id
 * and grouped by IP address, local and remote sources of each listing, the
 * namespaces each peer is listed (or founding) in, and the totals the bounds
 * are checked against. Mechanism only: `MemberRegistry` decides who is listed.
 */
import { IpGroups, lowerBound } from './sampling.ts'
import type { MemberEntry } from './member-registry-init.ts'

/** Where a listing came from: its addresses and the IP address its connection comes from */
export interface Source {
  addrs: Uint8Array[]
  ip: string
}

/** A listed peer: `addrs` and `ip` are its local listing's, else a remote one's (`refresh`) */
export type Listed = MemberEntry & {
  ip: string
  /** Listed by a page connected to this relay */
  own?: Source
  /** Listed by peer relays: relay peer id → what it published */
  remote: Map<string, Source>
}

export type Grant = MemberEntry & { ip: string, until: number }

export interface Namespace {
  /** Sorted by id, one entry per peer, local and remote */
  members: Listed[]
  /** The same members by IP address */
  groups: IpGroups<Listed>
  /** Local members per IP address (the per-IP caps count this relay's own listings) */
  localByIp: Map<string, number>
  /** A founder grant this relay made */
  founder?: Grant
  /** A founder grant a peer relay made (the namespace's arbiter) */
  remoteFounder?: Grant & { relay: string }
}

export interface ListingTableInit {
  maxNamespaces: number
  maxNamespacesPerPeer: number
}

export class ListingTable {
  readonly namespaces = new Map<string, Namespace>()
  /** Each peer's ring id and the namespaces it is listed (or founding) in */
  readonly byPeer = new Map<string, { id: bigint, namespaces: Set<string> }>()
  /** Peers listed (local or remote), all namespaces */
  total = 0
  localTotal = 0
  /** Relay → namespace → peers it lists (with their ring ids), so its listings go at once when it does */
  readonly remoteIndex = new Map<string, Map<string, Map<string, bigint>>>()
  remoteTotal = 0
  private readonly maxNamespaces: number
  private readonly maxNamespacesPerPeer: number

  constructor (init: ListingTableInit) {
    this.maxNamespaces = init.maxNamespaces
    this.maxNamespacesPerPeer = init.maxNamespacesPerPeer
  }

  clear (): void {
    this.namespaces.clear()
    this.byPeer.clear()
    this.remoteIndex.clear()
    this.total = 0
    this.localTotal = 0
    this.remoteTotal = 0
  }

  /** The namespace's record, created if missing (undefined when the namespace bound is reached) */
  namespace (name: string): Namespace | undefined {
    let ns = this.namespaces.get(name)
    if (ns == null) {
      if (this.namespaces.size >= this.maxNamespaces) {
        return undefined
      }
      ns = { members: [], groups: new IpGroups(), localByIp: new Map() }
      this.namespaces.set(name, ns)
    }
    return ns
  }

  /** The listing of `peer`, found by its ring id */
  listed (ns: Namespace, id: bigint, peer: string): Listed | undefined {
    const at = ns.members[lowerBound(ns.members, id)]
    return at?.peer === peer ? at : undefined
  }

  /** Lists a peer not listed in `ns` yet: in ring order, and in its IP address's group */
  insert (ns: Namespace, listed: Listed): void {
    ns.members.splice(lowerBound(ns.members, listed.id), 0, listed)
    ns.groups.add(listed)
    this.total++
  }

  /** Notes what `relay` published (`entry`) for `listed` in `namespace`, indexed so it goes with the relay */
  addRemoteSource (relay: string, namespace: string, ns: Namespace, listed: Listed, entry: MemberEntry & { ip: string }): void {
    if (!listed.remote.has(relay)) {
      this.remoteTotal++
      let byNamespace = this.remoteIndex.get(relay)
      if (byNamespace == null) {
        byNamespace = new Map()
        this.remoteIndex.set(relay, byNamespace)
      }
      let peers = byNamespace.get(namespace)
      if (peers == null) {
        peers = new Map()
        byNamespace.set(namespace, peers)
      }
      peers.set(entry.peer, entry.id)
    }
    listed.remote.set(relay, { addrs: entry.addrs, ip: entry.ip })
    this.refresh(ns, listed)
  }

  /** Takes a listing's addresses from its local source, else a remote one; drops it when it has none */
  refresh (ns: Namespace, listed: Listed): void {
    const source = listed.own ?? listed.remote.values().next().value
    if (source == null) {
      const at = lowerBound(ns.members, listed.id)
      if (ns.members[at] === listed) {
        ns.members.splice(at, 1)
      }
      ns.groups.remove(listed)
      this.total--
      return
    }
    if (source.ip !== listed.ip) {
      ns.groups.remove(listed)
      listed.ip = source.ip
      ns.groups.add(listed)
    }
    listed.addrs = source.addrs
  }

  countLocal (ns: Namespace, ip: string, delta: number): void {
    const n = (ns.localByIp.get(ip) ?? 0) + delta
    if (n <= 0) {
      ns.localByIp.delete(ip)
    } else {
      ns.localByIp.set(ip, n)
    }
  }

  canClaim (peer: string, namespace: string): boolean {
    const set = this.byPeer.get(peer)?.namespaces
    return set == null || set.has(namespace) || set.size < this.maxNamespacesPerPeer
  }

  /** Notes that `peer` is listed in `namespace` (canClaim said it may be) */
  claim (peer: string, id: bigint, namespace: string): void {
    let record = this.byPeer.get(peer)
    if (record == null) {
      record = { id, namespaces: new Set() }
      this.byPeer.set(peer, record)
    }
    record.namespaces.add(namespace)
  }

  dropIfEmpty (namespace: string, ns: Namespace): void {
    if (ns.members.length === 0 && ns.founder == null && ns.remoteFounder == null) {
      this.namespaces.delete(namespace)
    }
  }
}
