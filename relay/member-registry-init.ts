/**
 * What the relay's member registry is told and answers: its bounds (each a
 * named default), the entries it lists, and its decisions for one request.
 */
import type { IpLedgerInit } from './ip-ledger.ts'

/** Members listed per namespace */
export const MAX_MEMBERS_PER_NAMESPACE = 50_000
/** Members listed over all namespaces */
export const MAX_MEMBERS = 200_000
/** Namespaces tracked at once */
export const MAX_NAMESPACES = 10_000
/** Namespaces one peer may be listed in */
export const MAX_NAMESPACES_PER_PEER = 4
/** Members listed from one IP address in one namespace (a NAT of one office, or one attacker) */
export const MAX_MEMBERS_PER_IP_PER_NAMESPACE = 32
/** Members listed from one IP address over all namespaces */
export const MAX_MEMBERS_PER_IP = 128
/** Namespaces one IP address may hold a listing (member or founder) in */
export const MAX_NAMESPACES_PER_IP = 32
/** Members of one IP address in one answer */
export const MAX_SAMPLE_PER_IP = 2
/**
 * How long a page told to found a ring keeps the namespace to itself before
 * it registers, ms; other askers are told to wait (and ask again every
 * `FOUNDER_POLL_MS`). An honest founder registers one round trip after it is
 * told. One that registers later, after another page founded, is alone in
 * its ring and joins the listed members (`RingMembership`), so the grace
 * only needs to cover the usual case, and it is all that a client which
 * never registers can hold a new site's first pages back.
 */
export const FOUNDER_GRACE_MS = 2_000
/** How often lapsed founder grants and idle per-IP records are swept on a request, ms */
export const SWEEP_INTERVAL_MS = 10_000
/** Members answered when the asker names no limit */
export const DEFAULT_ANSWER_SIZE = 8
/** Most members answered to one request */
export const MAX_ANSWER_SIZE = 32
/** The IP address of an asker whose address is not known */
export const UNKNOWN_IP = 'unknown'

/** A ring member as the relay knows it */
export interface MemberEntry {
  /** Peer id string */
  peer: string
  /** Ring position: SHA-256 of the peer id bytes */
  id: bigint
  /** Multiaddr bytes the member registered */
  addrs: Uint8Array[]
  /**
   * IP address its connection to the relay comes from
   *
   * @default UNKNOWN_IP
   */
  ip?: string
}

/** Why a request was refused */
export type Refusal = 'namespace-not-served' | 'namespaces-full' | 'peer-namespaces' | 'ip-namespaces' | 'founding-refused'
/** Why a member was answered but not listed */
export type NotListed = 'namespace-full' | 'members-full' | 'peer-namespaces' | 'ip-namespace-members' | 'ip-members' | 'ip-namespaces' | 'ip-rate'

/** What the registry decided for one request */
export type AskResult =
  | { type: 'found' }
  | { type: 'members', members: MemberEntry[], registered: boolean, notListed?: NotListed }
  | { type: 'unavailable', code: Refusal, reason: string }
  /** The namespace is empty here and this relay may not decide who founds it: ask its arbiter */
  | { type: 'arbitrate' }
  /** Another page was told to found the ring and has not registered yet: ask again shortly */
  | { type: 'wait' }

export interface AskOptions {
  /** The asker is a ring member: list it */
  member: boolean
  /** Members wanted (0 or absent: DEFAULT_ANSWER_SIZE; capped at MAX_ANSWER_SIZE) */
  limit?: number
  /**
   * This relay may tell the asker to found the ring (it is the namespace's
   * arbiter, or has no peer relays); otherwise `ask` answers `arbitrate`
   *
   * @default true
   */
  mayFound?: boolean
}

/** A change to this relay's own listings, as peer relays are told of it */
export type ListingChange =
  | { type: 'member', namespace: string, entry: MemberEntry & { ip: string } }
  | { type: 'gone', namespace: string, peer: string }
  | { type: 'founder', namespace: string, entry: MemberEntry & { ip: string }, graceMs: number }
  | { type: 'founder-gone', namespace: string, peer: string }

export interface MemberRegistryInit extends IpLedgerInit {
  /**
   * The only namespaces served (a relay run for known sites); others are
   * refused with `namespace-not-served`. Empty or absent: any namespace.
   *
   * @default any namespace
   */
  namespaces?: string[]
  /** @default MAX_MEMBERS_PER_NAMESPACE (50 000) */
  maxMembersPerNamespace?: number
  /** @default MAX_MEMBERS (200 000) */
  maxMembers?: number
  /** @default MAX_NAMESPACES (10 000) */
  maxNamespaces?: number
  /** @default MAX_NAMESPACES_PER_PEER (4) */
  maxNamespacesPerPeer?: number
  /** @default MAX_MEMBERS_PER_IP_PER_NAMESPACE (32) */
  maxMembersPerIpPerNamespace?: number
  /** @default MAX_MEMBERS_PER_IP (128) */
  maxMembersPerIp?: number
  /** @default MAX_NAMESPACES_PER_IP (32) */
  maxNamespacesPerIp?: number
  /** @default MAX_SAMPLE_PER_IP (2) */
  maxSamplePerIp?: number
  /** @default FOUNDER_GRACE_MS (5 s) */
  founderGraceMs?: number
  /** @default SWEEP_INTERVAL_MS (10 s) */
  sweepIntervalMs?: number
  /** @default MAX_ANSWER_SIZE (32) */
  maxAnswerSize?: number
  /**
   * Which members an asker is given: a `random` sample (drawn per IP
   * address), or the ones `nearest` its ring position (see the theory of
   * operation)
   *
   * @default 'random'
   */
  pick?: 'random' | 'nearest'
  /** Told of every change to this relay's own listings (to publish them to peer relays) */
  onChange?(change: ListingChange): void
  /**
   * Milliseconds of some clock (for the founder grace and the per-IP rates)
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

export interface RegistryStats {
  namespaces: number
  /** Peers listed, local and remote */
  members: number
  /** Peers listed by pages connected here */
  localMembers: number
  /** Listings published by peer relays */
  remoteListings: number
  /** Pages told to found a ring that have not registered yet (within their grace) */
  founders: number
  /** IP addresses with a record (members, a spent rate, a recent lapsed founding) */
  ips: number
  /** Peers not told to found for a while */
  penalties: number
}
