/**
 * The relay's live member list: per namespace, the pages that are ring
 * members now, so a joining page has members to join through.
 *
 * Theory of operation:
 *
 * - A joining page is answered with members drawn at random: its join then
 * travels the ring's own routing to its place. Handing out the members
 * nearest its position looks cheaper, but in the simulator a burst of joins
 * converged much worse that way (`npm run sim -- --bootstrap nearest`: 1 000
 * pages joining within 30 s gave 81 % correct lookups against 99.9 %), so
 * `nearest` stays an option (`pick`) for study only.
 * - The random sample is drawn per IP address first, at most
 * `maxSamplePerIp` members of one address per answer: peer ids cost nothing,
 * IP addresses do, so a Sybil's share of answers is bounded by its share of
 * addresses (`samplePerIp`).
 * - Members are kept per namespace in an array sorted by ring id (for
 * `nearest` and O(log n) removal) and grouped by IP address (for the sample
 * and the per-IP caps).
 * - A page registers by asking with `member: true`; it is dropped when its
 * last connection to the relay closes (`remove`). A member's liveness is its
 * connection, which the relay sees; a namespace with nobody listed is
 * forgotten at once.
 * - Founding: the first page that asks about an empty namespace (without
 * being a member) is told to create the ring, and for `founderGraceMs` every
 * other asker is told to wait and ask again, so two pages that arrive
 * together cannot both found a ring. The founder is listed only once it
 * registers (then it is an ordinary member): a client that takes the grant
 * and never registers costs the others its grace, not failed joins through
 * it. Asking again does not renew the grace (else one client could hold a
 * namespace empty forever); when it lapses unregistered, the next asker
 * founds, and the lapsed founder's peer id (and, after repeats, its IP
 * address) is not told to found again for a while. A founder that registers
 * after that finds others listed and joins them (`RingMembership`).
 * - Several relays of one site share their lists (`peer-relays.ts`): what a
 * peer relay publishes is kept here as *remote* listings, by relay, beside
 * this relay's own (*local*) ones. Joiners are drawn from both, so all pages
 * of a namespace form one ring whatever relay they use. A peer is listed once
 * however many relays list it: its local listing wins (its addresses through
 * this relay), else any remote one. Per-IP and per-peer caps count local
 * listings only (each relay enforces them on the pages it sees); the
 * namespace and total bounds count everything listed. Every change to a
 * local listing is reported to `onChange`, for publishing.
 * - With peer relays, the founding decision is made once per namespace by
 * its arbiter relay: `ask` with `mayFound: false` answers `arbitrate`
 * instead of granting, and the caller asks the arbiter. A grant the arbiter
 * made is kept as the namespace's remote founder and listed like a local one.
 * - Bounded, per relay, per namespace, per peer and per IP address (see the
 * Init); past a bound a page is answered but not listed (`notListed` says
 * why), or refused (`unavailable`, `code` says why). Every per-IP and
 * per-peer record expires once it says nothing (`sweep`).
 *
 * Pure state plus an injected clock: no libp2p, no timers.
 */
import { IpLedger } from './ip-ledger.ts'
import { ListingTable } from './listing-table.ts'
import { DEFAULT_ANSWER_SIZE, FOUNDER_GRACE_MS, MAX_ANSWER_SIZE, MAX_MEMBERS, MAX_MEMBERS_PER_IP, MAX_MEMBERS_PER_IP_PER_NAMESPACE, MAX_MEMBERS_PER_NAMESPACE, MAX_NAMESPACES, MAX_NAMESPACES_PER_IP, MAX_NAMESPACES_PER_PEER, MAX_SAMPLE_PER_IP, SWEEP_INTERVAL_MS, UNKNOWN_IP } from './member-registry-init.ts'
import { nearest } from './sampling.ts'
import type { Listed, Namespace, Source } from './listing-table.ts'
import type { AskOptions, AskResult, ListingChange, MemberEntry, MemberRegistryInit, NotListed, RegistryStats } from './member-registry-init.ts'

export { nearest, sample, samplePerIp } from './sampling.ts'
export { DEFAULT_ANSWER_SIZE, FOUNDER_GRACE_MS, MAX_ANSWER_SIZE, MAX_MEMBERS, MAX_MEMBERS_PER_IP, MAX_MEMBERS_PER_IP_PER_NAMESPACE, MAX_MEMBERS_PER_NAMESPACE, MAX_NAMESPACES, MAX_NAMESPACES_PER_IP, MAX_NAMESPACES_PER_PEER, MAX_SAMPLE_PER_IP, SWEEP_INTERVAL_MS, UNKNOWN_IP } from './member-registry-init.ts'
export type { AskOptions, AskResult, ListingChange, MemberEntry, MemberRegistryInit, NotListed, Refusal, RegistryStats } from './member-registry-init.ts'

export class MemberRegistry {
  private readonly table: ListingTable
  /** Namespaces with a founder grant, so a sweep need not visit every namespace */
  private readonly founding = new Set<string>()
  private readonly ledger: IpLedger
  private readonly served?: Set<string>
  private readonly onChange?: (change: ListingChange) => void
  private lastSweep: number
  private readonly maxMembersPerNamespace: number
  private readonly maxMembers: number
  private readonly maxNamespaces: number
  private readonly maxNamespacesPerPeer: number
  private readonly maxMembersPerIpPerNamespace: number
  private readonly maxMembersPerIp: number
  private readonly maxNamespacesPerIp: number
  private readonly maxSamplePerIp: number
  private readonly founderGraceMs: number
  /** How often `sweep` should run, ms */
  readonly sweepIntervalMs: number
  private readonly maxAnswerSize: number
  private readonly now: () => number
  private readonly random: () => number
  private readonly pick: 'random' | 'nearest'

  constructor (init: MemberRegistryInit = {}) {
    this.served = init.namespaces != null && init.namespaces.length > 0 ? new Set(init.namespaces) : undefined
    this.ledger = new IpLedger(init)
    this.maxMembersPerNamespace = init.maxMembersPerNamespace ?? MAX_MEMBERS_PER_NAMESPACE
    this.maxMembers = init.maxMembers ?? MAX_MEMBERS
    this.maxNamespaces = init.maxNamespaces ?? MAX_NAMESPACES
    this.maxNamespacesPerPeer = init.maxNamespacesPerPeer ?? MAX_NAMESPACES_PER_PEER
    this.maxMembersPerIpPerNamespace = init.maxMembersPerIpPerNamespace ?? MAX_MEMBERS_PER_IP_PER_NAMESPACE
    this.maxMembersPerIp = init.maxMembersPerIp ?? MAX_MEMBERS_PER_IP
    this.maxNamespacesPerIp = init.maxNamespacesPerIp ?? MAX_NAMESPACES_PER_IP
    this.maxSamplePerIp = init.maxSamplePerIp ?? MAX_SAMPLE_PER_IP
    this.founderGraceMs = init.founderGraceMs ?? FOUNDER_GRACE_MS
    this.sweepIntervalMs = init.sweepIntervalMs ?? SWEEP_INTERVAL_MS
    this.maxAnswerSize = init.maxAnswerSize ?? MAX_ANSWER_SIZE
    this.now = init.now ?? Date.now
    this.random = init.random ?? Math.random
    this.pick = init.pick ?? 'random'
    this.table = new ListingTable({ maxNamespaces: this.maxNamespaces, maxNamespacesPerPeer: this.maxNamespacesPerPeer })
    this.onChange = init.onChange
    this.lastSweep = this.now()
  }

  /**
   * Answers one bootstrap request: registers the asker when it is a member,
   * then lists members to join through, or tells it to found the ring
   */
  ask (namespace: string, entry: MemberEntry, options: AskOptions): AskResult {
    const now = this.now()
    if (now - this.lastSweep >= this.sweepIntervalMs) {
      this.sweep()
    }
    if (this.served != null && !this.served.has(namespace)) {
      return { type: 'unavailable', code: 'namespace-not-served', reason: 'this relay serves only the namespaces it was configured with' }
    }
    const asker = { ...entry, ip: entry.ip ?? UNKNOWN_IP }
    const ns = this.table.namespace(namespace)
    if (ns == null) {
      return { type: 'unavailable', code: 'namespaces-full', reason: `the relay tracks its maximum of ${this.maxNamespaces} namespaces` }
    }
    this.expireFounder(namespace, ns, now)

    let notListed: NotListed | undefined
    if (options.member) {
      notListed = this.register(namespace, ns, asker, now)
    }

    const limit = this.answerSize(options.limit)
    const members: MemberEntry[] = this.pick === 'nearest'
      ? nearest(ns.members, asker.id, limit, asker.peer)
      : ns.groups.sample(limit, this.maxSamplePerIp, this.random, asker.peer)
    const founder = ns.founder ?? ns.remoteFounder

    if (members.length === 0 && !options.member) {
      if (founder?.peer === asker.peer) {
        // a retry of the founder: told again, but its grace is not renewed
        return { type: 'found' }
      }
      if (founder != null) {
        // the founder is not listed before it registers: a client that never does holds the
        // others back for its grace at most, not for as long as they keep failing to join it
        this.table.dropIfEmpty(namespace, ns)
        return { type: 'wait' }
      }
      if (options.mayFound === false) {
        this.table.dropIfEmpty(namespace, ns)
        return { type: 'arbitrate' }
      }
      const refused = this.grantFounding(namespace, ns, asker, now)
      if (refused != null) {
        this.table.dropIfEmpty(namespace, ns)
        return refused
      }
      return { type: 'found' }
    }
    this.table.dropIfEmpty(namespace, ns)
    const registered = options.member && notListed == null
    return notListed == null ? { type: 'members', members, registered } : { type: 'members', members, registered, notListed }
  }

  /** A peer relay lists `entry` in `namespace` (or lists it again, with new addresses); false when a bound keeps it out */
  addRemote (relay: string, namespace: string, entry: MemberEntry & { ip: string }): boolean {
    if (this.served != null && !this.served.has(namespace)) {
      return false
    }
    const ns = this.table.namespace(namespace)
    if (ns == null) {
      return false
    }
    let listed = this.table.listed(ns, entry.id, entry.peer)
    if (listed == null) {
      if (ns.members.length >= this.maxMembersPerNamespace || this.table.total >= this.maxMembers) {
        this.table.dropIfEmpty(namespace, ns)
        return false
      }
      listed = { peer: entry.peer, id: entry.id, addrs: entry.addrs, ip: entry.ip, remote: new Map() }
      this.table.insert(ns, listed)
    }
    this.table.addRemoteSource(relay, namespace, ns, listed, entry)
    // a founder that registered with another relay is an ordinary member now
    if (ns.founder?.peer === entry.peer) {
      this.clearFounder(namespace, ns, false)
    }
    if (ns.remoteFounder?.peer === entry.peer) {
      ns.remoteFounder = undefined
    }
    return true
  }

  /** A peer relay no longer lists `peer` in `namespace` */
  removeRemote (relay: string, namespace: string, peer: string): void {
    const ns = this.table.namespaces.get(namespace)
    const peers = this.table.remoteIndex.get(relay)?.get(namespace)
    const id = peers?.get(peer)
    if (ns == null || peers == null || id == null) {
      return
    }
    peers.delete(peer)
    if (peers.size === 0) {
      this.table.remoteIndex.get(relay)?.delete(namespace)
    }
    const listed = this.table.listed(ns, id, peer)
    if (listed?.remote.delete(relay) === true) {
      this.table.remoteTotal--
      this.table.refresh(ns, listed)
    }
    this.table.dropIfEmpty(namespace, ns)
  }

  /** The namespace's arbiter (a peer relay) told `entry` to found the ring; other askers wait for it up to `graceMs` */
  addRemoteFounder (relay: string, namespace: string, entry: MemberEntry & { ip: string }, graceMs: number): void {
    if (this.served != null && !this.served.has(namespace)) {
      return
    }
    const ns = this.table.namespace(namespace)
    if (ns == null) {
      return
    }
    if (this.table.listed(ns, entry.id, entry.peer) != null) {
      // it registered already
      this.table.dropIfEmpty(namespace, ns)
      return
    }
    ns.remoteFounder = { peer: entry.peer, id: entry.id, addrs: entry.addrs, ip: entry.ip, until: this.now() + Math.min(graceMs, this.founderGraceMs), relay }
  }

  /** A founder grant a peer relay made has ended */
  removeRemoteFounder (relay: string, namespace: string, peer: string): void {
    const ns = this.table.namespaces.get(namespace)
    if (ns?.remoteFounder?.relay === relay && ns.remoteFounder.peer === peer) {
      ns.remoteFounder = undefined
      this.table.dropIfEmpty(namespace, ns)
    }
  }

  /** Forgets everything a peer relay published (its link ended); returns how many listings went */
  dropRelay (relay: string): number {
    const byNamespace = this.table.remoteIndex.get(relay)
    let dropped = 0
    for (const [name, ns] of this.table.namespaces) {
      if (ns.remoteFounder?.relay === relay) {
        ns.remoteFounder = undefined
        this.table.dropIfEmpty(name, ns)
      }
    }
    if (byNamespace == null) {
      return dropped
    }
    for (const [name, peers] of [...byNamespace]) {
      for (const peer of [...peers.keys()]) {
        this.removeRemote(relay, name, peer)
        dropped++
      }
    }
    this.table.remoteIndex.delete(relay)
    return dropped
  }

  /** This relay's own listings, as changes (the snapshot a new peer relay link starts with) */
  localListings (): ListingChange[] {
    const out: ListingChange[] = []
    const now = this.now()
    for (const [namespace, ns] of this.table.namespaces) {
      for (const m of ns.members) {
        if (m.own != null) {
          out.push({ type: 'member', namespace, entry: { peer: m.peer, id: m.id, addrs: m.own.addrs, ip: m.own.ip } })
        }
      }
      const f = ns.founder
      if (f != null && f.until > now) {
        out.push({ type: 'founder', namespace, entry: { peer: f.peer, id: f.id, addrs: f.addrs, ip: f.ip }, graceMs: f.until - now })
      }
    }
    return out
  }

  /** Drops a peer from every namespace (its connection to the relay closed); returns how many listings it had */
  remove (peer: string): number {
    const record = this.table.byPeer.get(peer)
    if (record == null) {
      return 0
    }
    this.table.byPeer.delete(peer)
    let removed = 0
    for (const name of record.namespaces) {
      const ns = this.table.namespaces.get(name)
      if (ns == null) {
        continue
      }
      if (ns.founder?.peer === peer) {
        this.ledger.release(ns.founder.ip, name, false)
        ns.founder = undefined
        this.founding.delete(name)
        this.onChange?.({ type: 'founder-gone', namespace: name, peer })
        removed++
      }
      const member = this.table.listed(ns, record.id, peer)
      const own = member?.own
      if (member != null && own != null) {
        member.own = undefined
        this.table.countLocal(ns, own.ip, -1)
        this.ledger.release(own.ip, name, true)
        this.table.localTotal--
        this.table.refresh(ns, member)
        this.onChange?.({ type: 'gone', namespace: name, peer })
        removed++
      }
      this.table.dropIfEmpty(name, ns)
    }
    return removed
  }

  /** Members of a namespace in ring order, local and remote (founder not included) */
  members (namespace: string): MemberEntry[] {
    return [...(this.table.namespaces.get(namespace)?.members ?? [])]
  }

  /** Whether `peer` was told to found `namespace` (here or by the arbiter) and has not registered yet */
  founderOf (namespace: string): string | undefined {
    const ns = this.table.namespaces.get(namespace)
    return (ns?.founder ?? ns?.remoteFounder)?.peer
  }

  /**
   * Drops lapsed founder grants (penalising their founders) and per-IP and
   * per-peer records that say nothing any more. Runs on requests at most
   * every `sweepIntervalMs`; a relay also calls it on a timer, so memory
   * returns after an attack even when no request follows.
   */
  sweep (): void {
    const now = this.now()
    this.lastSweep = now
    this.expireFounders(now)
    this.ledger.sweep(now)
  }

  stats (): RegistryStats {
    let founders = 0
    const now = this.now()
    for (const name of this.founding) {
      const until = this.table.namespaces.get(name)?.founder?.until
      if (until != null && until > now) {
        founders++
      }
    }
    return { namespaces: this.table.namespaces.size, members: this.table.total, localMembers: this.table.localTotal, remoteListings: this.table.remoteTotal, founders, ...this.ledger.size() }
  }

  clear (): void {
    this.table.clear()
    this.founding.clear()
    this.ledger.clear()
  }

  private answerSize (wanted: number | undefined): number {
    return Math.min(wanted == null || wanted <= 0 ? DEFAULT_ANSWER_SIZE : wanted, this.maxAnswerSize)
  }

  /** Lists the asker; returns why not when it cannot be */
  private register (namespace: string, ns: Namespace, asker: MemberEntry & { ip: string }, now: number): NotListed | undefined {
    const existing = this.table.listed(ns, asker.id, asker.peer)
    if (existing?.own != null) {
      // a re-registration: its addresses may have changed (a new relay reservation)
      existing.own.addrs = asker.addrs
      this.table.refresh(ns, existing)
    } else {
      const refused = this.refusal(namespace, ns, asker, existing, now)
      if (refused != null) {
        return refused
      }
      this.listOwn(namespace, ns, asker, existing, now)
    }
    this.onChange?.({ type: 'member', namespace, entry: { peer: asker.peer, id: asker.id, addrs: asker.addrs, ip: asker.ip } })
    this.settleFounder(namespace, ns, asker.peer)
    return undefined
  }

  /** Why a first registration through this relay is refused: bounds, caps, then the per-IP rate (checked last, so a refusal costs none) */
  private refusal (namespace: string, ns: Namespace, asker: MemberEntry & { ip: string }, existing: Listed | undefined, now: number): NotListed | undefined {
    if (existing == null && (ns.members.length >= this.maxMembersPerNamespace || this.table.total >= this.maxMembers)) {
      return ns.members.length >= this.maxMembersPerNamespace ? 'namespace-full' : 'members-full'
    }
    if ((ns.localByIp.get(asker.ip) ?? 0) >= this.maxMembersPerIpPerNamespace) {
      return 'ip-namespace-members'
    }
    if (this.ledger.members(asker.ip) >= this.maxMembersPerIp) {
      return 'ip-members'
    }
    const isFounder = ns.founder?.peer === asker.peer || ns.remoteFounder?.peer === asker.peer
    if (!isFounder && !this.ledger.holds(asker.ip, namespace) && this.ledger.namespaces(asker.ip) >= this.maxNamespacesPerIp) {
      return 'ip-namespaces'
    }
    if (!this.table.canClaim(asker.peer, namespace)) {
      return 'peer-namespaces'
    }
    // the founder's registration is what its grant was for: not refused by rate
    return !isFounder && !this.ledger.takeRegistration(asker.ip, now) ? 'ip-rate' : undefined
  }

  /** Lists the asker through this relay (it passed `refusal`) */
  private listOwn (namespace: string, ns: Namespace, asker: MemberEntry & { ip: string }, existing: Listed | undefined, now: number): void {
    this.table.claim(asker.peer, asker.id, namespace)
    const own: Source = { addrs: asker.addrs, ip: asker.ip }
    if (existing != null) {
      // listed by a peer relay already (a page that moved here): its addresses through this relay win
      existing.own = own
      this.table.refresh(ns, existing)
    } else {
      this.table.insert(ns, { peer: asker.peer, id: asker.id, addrs: asker.addrs, ip: asker.ip, own, remote: new Map() })
    }
    this.table.countLocal(ns, asker.ip, 1)
    this.ledger.hold(asker.ip, namespace, true, now)
    this.table.localTotal++
  }

  /** A founder that registered is a member now, listed like everybody else */
  private settleFounder (namespace: string, ns: Namespace, peer: string): void {
    if (ns.founder?.peer === peer) {
      this.ledger.release(ns.founder.ip, namespace, false)
      ns.founder = undefined
      this.founding.delete(namespace)
      this.onChange?.({ type: 'founder-gone', namespace, peer })
    }
    if (ns.remoteFounder?.peer === peer) {
      ns.remoteFounder = undefined
    }
  }

  /** Makes the asker the founder of an empty namespace; returns the refusal when it may not be */
  private grantFounding (namespace: string, ns: Namespace, asker: MemberEntry & { ip: string }, now: number): AskResult | undefined {
    // grants that lapsed elsewhere count against this asker now, not at the next sweep
    this.expireFounders(now)
    if (this.ledger.foundingRefused(asker.peer, asker.ip, now)) {
      return { type: 'unavailable', code: 'founding-refused', reason: 'told to found a ring before and never registered: not again for a while' }
    }
    if (!this.ledger.holds(asker.ip, namespace) && this.ledger.namespaces(asker.ip) >= this.maxNamespacesPerIp) {
      return { type: 'unavailable', code: 'ip-namespaces', reason: `an IP address may be listed in at most ${this.maxNamespacesPerIp} namespaces` }
    }
    if (!this.table.canClaim(asker.peer, namespace)) {
      return { type: 'unavailable', code: 'peer-namespaces', reason: `a peer may be listed in at most ${this.maxNamespacesPerPeer} namespaces` }
    }
    this.table.claim(asker.peer, asker.id, namespace)
    ns.founder = { peer: asker.peer, id: asker.id, addrs: asker.addrs, ip: asker.ip, until: now + this.founderGraceMs }
    this.founding.add(namespace)
    this.ledger.hold(asker.ip, namespace, false, now)
    this.onChange?.({ type: 'founder', namespace, entry: { peer: asker.peer, id: asker.id, addrs: asker.addrs, ip: asker.ip }, graceMs: this.founderGraceMs })
    return undefined
  }

  private expireFounders (now: number): void {
    for (const name of [...this.founding]) {
      const ns = this.table.namespaces.get(name)
      if (ns == null) {
        this.founding.delete(name)
        continue
      }
      this.expireFounder(name, ns, now)
      this.table.dropIfEmpty(name, ns)
    }
  }

  /** A founder grant that lapsed unregistered goes, and its founder is not told to found again for a while */
  private expireFounder (namespace: string, ns: Namespace, now: number): void {
    if (ns.remoteFounder != null && ns.remoteFounder.until <= now) {
      // the arbiter penalises it; here it only stops being listed
      ns.remoteFounder = undefined
    }
    const founder = ns.founder
    if (founder == null || founder.until > now) {
      return
    }
    this.clearFounder(namespace, ns, true)
  }

  /** Ends this relay's founder grant in `namespace`: lapsed (`penalise`), or honoured at another relay */
  private clearFounder (namespace: string, ns: Namespace, penalise: boolean): void {
    const founder = ns.founder
    if (founder == null) {
      return
    }
    ns.founder = undefined
    this.founding.delete(namespace)
    this.ledger.release(founder.ip, namespace, false)
    if (penalise) {
      this.ledger.foundingFailed(founder.peer, founder.ip, this.now())
    }
    const record = this.table.byPeer.get(founder.peer)
    if (record != null && this.table.listed(ns, founder.id, founder.peer)?.own == null) {
      record.namespaces.delete(namespace)
      if (record.namespaces.size === 0) {
        this.table.byPeer.delete(founder.peer)
      }
    }
    this.onChange?.({ type: 'founder-gone', namespace, peer: founder.peer })
  }
}
