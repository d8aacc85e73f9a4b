/**
 * How the relay picks the members it hands a joiner: a uniform sample, a
 * sample drawn per IP address first (so one address cannot fill answers with
 * its Sybils), or the members nearest a ring position (study only). Pure.
 */
import { compareIds, distance } from '../src/overlay/ring-id.ts'

/** What the samplers need of a member */
export interface Sampled {
  peer: string
  id: bigint
}

/** Index of the first member whose id is ≥ `id` (members.length if none) */
export function lowerBound (members: Sampled[], id: bigint): number {
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
 * Up to `limit` distinct indexes of [0, n) drawn uniformly at random: a
 * partial Fisher–Yates shuffle over a virtual index array, O(limit) for any n
 */
export function sampleIndexes (n: number, limit: number, random: () => number): number[] {
  const out: number[] = []
  // swapped-out slots of the virtual index array; untouched slots hold their own index
  const swapped = new Map<number, number>()
  for (let i = 0; i < n && out.length < limit; i++) {
    const j = i + Math.floor(random() * (n - i))
    out.push(swapped.get(j) ?? j)
    swapped.set(j, swapped.get(i) ?? i)
  }
  return out
}

/**
 * Up to `limit` distinct members drawn uniformly at random, without `exclude`
 */
export function sample<T extends Sampled> (members: T[], limit: number, random: () => number, exclude?: string): T[] {
  const n = members.length
  const out: T[] = []
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
 * Up to `limit` members, at most `perIp` of any one IP address: IP addresses
 * are drawn uniformly first, then members within each. One IP address with
 * 400 Sybils gets the same share of an answer as one with a single honest
 * page, so its share of answers is bounded by its share of addresses, not
 * of peer ids (which cost nothing to make).
 *
 * The answer takes one member of each drawn address before a second of any,
 * so a joiner's first contacts are on distinct addresses.
 */
export function samplePerIp<T extends Sampled> (byIp: Map<string, T[]>, ips: string[], limit: number, perIp: number, random: () => number, exclude?: string): T[] {
  const picks = sampleIndexes(ips.length, limit, random)
    .map(i => sample(byIp.get(ips[i]) ?? [], perIp, random, exclude))
  const out: T[] = []
  for (let round = 0; round < perIp && out.length < limit; round++) {
    for (const pick of picks) {
      if (round < pick.length && out.length < limit) {
        out.push(pick[round])
      }
    }
  }
  return out
}

/**
 * Members grouped by IP address, with the addresses kept as a list too, so
 * `sample` can draw addresses uniformly in O(limit)
 */
export class IpGroups<T extends Sampled & { ip: string }> {
  private readonly byIp = new Map<string, T[]>()
  private readonly ips: string[] = []
  private readonly index = new Map<string, number>()

  /** Members of `ip` */
  count (ip: string): number {
    return this.byIp.get(ip)?.length ?? 0
  }

  add (member: T): void {
    const list = this.byIp.get(member.ip)
    if (list != null) {
      list.push(member)
      return
    }
    this.byIp.set(member.ip, [member])
    this.index.set(member.ip, this.ips.length)
    this.ips.push(member.ip)
  }

  remove (member: T): void {
    const list = this.byIp.get(member.ip)
    if (list == null) {
      return
    }
    const at = list.indexOf(member)
    if (at >= 0) {
      list.splice(at, 1)
    }
    if (list.length > 0) {
      return
    }
    // the address has nobody left: swap-remove it from the list of addresses
    this.byIp.delete(member.ip)
    const index = this.index.get(member.ip) ?? -1
    this.index.delete(member.ip)
    const last = this.ips.pop()
    if (last != null && last !== member.ip && index >= 0) {
      this.ips[index] = last
      this.index.set(last, index)
    }
  }

  /** See `samplePerIp` */
  sample (limit: number, perIp: number, random: () => number, exclude?: string): T[] {
    return samplePerIp(this.byIp, this.ips, limit, perIp, random, exclude)
  }
}

/**
 * Up to `limit` members nearest `id` on the ring, in either direction,
 * nearest first, without `exclude`
 */
export function nearest<T extends Sampled> (members: T[], id: bigint, limit: number, exclude?: string): T[] {
  const n = members.length
  const out: T[] = []
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
