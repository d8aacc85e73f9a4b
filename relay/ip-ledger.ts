/**
 * What the member registry remembers per IP address and per peer, so that
 * one address (where peer ids cost nothing) cannot take more than its share:
 * members listed, namespaces occupied, new listings per minute, and founder
 * grants it failed to honour. Every record expires once it says nothing
 * (no members, a full token bucket, no recent failure), so the state an
 * attack leaves behind is swept away after it ends.
 *
 * Pure state plus the caller's clock: no libp2p, no timers.
 */

/** New listings one IP address may make in a burst */
export const REGISTRATION_BURST_PER_IP = 32
/** New listings one IP address may make per minute once its burst is spent */
export const REGISTRATIONS_PER_MINUTE_PER_IP = 60
/** How long a peer (or IP address) that was told to found a ring and never registered is not told again, ms */
export const FOUNDING_PENALTY_MS = 60_000
/** Unhonoured founder grants within FOUNDING_PENALTY_MS after which an IP address is not told to found either */
export const MAX_FAILED_FOUNDINGS_PER_IP = 2

export interface IpLedgerInit {
  /** @default REGISTRATION_BURST_PER_IP (32) */
  registrationBurstPerIp?: number
  /** @default REGISTRATIONS_PER_MINUTE_PER_IP (60 per minute) */
  registrationsPerMinutePerIp?: number
  /** @default FOUNDING_PENALTY_MS (60 s) */
  foundingPenaltyMs?: number
  /** @default MAX_FAILED_FOUNDINGS_PER_IP (2) */
  maxFailedFoundingsPerIp?: number
}

interface IpRecord {
  /** Members listed from this address, all namespaces */
  members: number
  /** Namespace → listings (members and a founder grant) this address holds there */
  namespaces: Map<string, number>
  /** Registration tokens left, and when they were last topped up (ms) */
  tokens: number
  refilledAt: number
  /** When founder grants given to this address lapsed unhonoured (ms), oldest first */
  failedFoundings: number[]
}

export class IpLedger {
  private readonly ips = new Map<string, IpRecord>()
  /** Peer → time until which it is not told to found (ms) */
  private readonly peerPenalties = new Map<string, number>()
  private readonly burst: number
  private readonly perMs: number
  private readonly penaltyMs: number
  private readonly maxFailedFoundings: number

  constructor (init: IpLedgerInit = {}) {
    this.burst = init.registrationBurstPerIp ?? REGISTRATION_BURST_PER_IP
    this.perMs = (init.registrationsPerMinutePerIp ?? REGISTRATIONS_PER_MINUTE_PER_IP) / 60_000
    this.penaltyMs = init.foundingPenaltyMs ?? FOUNDING_PENALTY_MS
    this.maxFailedFoundings = init.maxFailedFoundingsPerIp ?? MAX_FAILED_FOUNDINGS_PER_IP
  }

  /** Members listed from `ip` over all namespaces */
  members (ip: string): number {
    return this.ips.get(ip)?.members ?? 0
  }

  /** Namespaces `ip` holds a listing in */
  namespaces (ip: string): number {
    return this.ips.get(ip)?.namespaces.size ?? 0
  }

  /** Whether `ip` holds a listing (member or founder grant) in `namespace` */
  holds (ip: string, namespace: string): boolean {
    return this.ips.get(ip)?.namespaces.has(namespace) ?? false
  }

  /** Notes a listing of `ip` in `namespace`; `member` for a member (not a founder grant) */
  hold (ip: string, namespace: string, member: boolean, now: number): void {
    const record = this.record(ip, now)
    record.namespaces.set(namespace, (record.namespaces.get(namespace) ?? 0) + 1)
    if (member) {
      record.members++
    }
  }

  release (ip: string, namespace: string, member: boolean): void {
    const record = this.ips.get(ip)
    if (record == null) {
      return
    }
    const held = (record.namespaces.get(namespace) ?? 0) - 1
    if (held > 0) {
      record.namespaces.set(namespace, held)
    } else {
      record.namespaces.delete(namespace)
    }
    if (member) {
      record.members = Math.max(0, record.members - 1)
    }
  }

  /** Takes one new-listing token of `ip`; false when its rate is spent */
  takeRegistration (ip: string, now: number): boolean {
    const record = this.record(ip, now)
    this.refill(record, now)
    if (record.tokens < 1) {
      return false
    }
    record.tokens--
    return true
  }

  /** Whether `peer` (or its address) left a founder grant unhonoured recently */
  foundingRefused (peer: string, ip: string, now: number): boolean {
    const until = this.peerPenalties.get(peer)
    if (until != null && until > now) {
      return true
    }
    const failed = this.ips.get(ip)?.failedFoundings ?? []
    return failed.filter(at => at + this.penaltyMs > now).length >= this.maxFailedFoundings
  }

  /** A founder grant lapsed without the founder registering */
  foundingFailed (peer: string, ip: string, now: number): void {
    this.peerPenalties.set(peer, now + this.penaltyMs)
    const record = this.record(ip, now)
    record.failedFoundings.push(now)
    if (record.failedFoundings.length > this.maxFailedFoundings) {
      record.failedFoundings.shift()
    }
  }

  /** Forgets what no longer says anything; returns how many records went */
  sweep (now: number): number {
    let dropped = 0
    for (const [peer, until] of this.peerPenalties) {
      if (until <= now) {
        this.peerPenalties.delete(peer)
        dropped++
      }
    }
    for (const [ip, record] of this.ips) {
      this.refill(record, now)
      record.failedFoundings = record.failedFoundings.filter(at => at + this.penaltyMs > now)
      if (record.members === 0 && record.namespaces.size === 0 && record.tokens >= this.burst && record.failedFoundings.length === 0) {
        this.ips.delete(ip)
        dropped++
      }
    }
    return dropped
  }

  /** Records held: IP addresses and peer penalties */
  size (): { ips: number, penalties: number } {
    return { ips: this.ips.size, penalties: this.peerPenalties.size }
  }

  clear (): void {
    this.ips.clear()
    this.peerPenalties.clear()
  }

  private record (ip: string, now: number): IpRecord {
    let record = this.ips.get(ip)
    if (record == null) {
      record = { members: 0, namespaces: new Map(), tokens: this.burst, refilledAt: now, failedFoundings: [] }
      this.ips.set(ip, record)
    }
    return record
  }

  private refill (record: IpRecord, now: number): void {
    record.tokens = Math.min(this.burst, record.tokens + (now - record.refilledAt) * this.perMs)
    record.refilledAt = now
  }
}
