/**
 * Fair shares of a node's waiting work, per peer that asked for it.
 *
 * A routed lookup is cheap to send and dear to serve: every hop forwards it
 * and waits for the rest of the path, and the path's last hop asks its
 * successor on a miss. One peer that keeps a hundred lookups in flight thus
 * keeps a hundred forwards waiting at its neighbours, and those neighbours'
 * forwards use up *their* share at the next hops, so honest traffic through
 * them is refused there. Counting a request against the peer that sent it to
 * us (the only sender a node can check: the previous hop, not the lookup's
 * claimed origin) stops that at the first hop: a neighbour forwards at most
 * `perPeer` of one sender's requests at once, so the sender never holds more
 * than that of the neighbour's share at any node further on, and a node's
 * handlers stay open to everybody else.
 *
 * Two bounds: a sender may have at most `perPeer` requests waiting here; and
 * once `capacity` requests wait in all, a sender is admitted only while it
 * has fewer than its fair share (`capacity` over the senders waiting), so
 * many Sybil senders fill the node no more than one would, while a sender
 * with little in flight still gets in. A refused request does no work: it is
 * answered `PeerBusyError` at once, and the sender routes around us (or,
 * when we own the key, gives the lookup up: no other path reaches the owner).
 *
 * Pure (no time, no I/O): the simulator runs it as the libp2p node does.
 */

import type { Address, Clock } from './seams.ts'

/**
 * Requests of one sender that wait on work here at once (forwards,
 * application messages). A forwarder passes on the lookups of every
 * requester whose path crosses it, and a page's burst of fetches (a page
 * load asks for dozens of assets at once) crosses the same fingers: a share
 * of 8 refused such honest bursts in the simulator, and a refused final hop
 * fails the lookup (no other path reaches the key's owner)
 */
export const MAX_WAITING_REQUESTS_PER_PEER = 32
/** Waiting requests past which only senders under their fair share get in */
export const MAX_WAITING_REQUESTS = 512

export interface RequestSharesInit {
  /** @default MAX_WAITING_REQUESTS_PER_PEER (32) */
  perPeer?: number
  /** @default MAX_WAITING_REQUESTS (512) */
  capacity?: number
}

export class RequestShares {
  private readonly perPeer: number
  private readonly capacity: number
  private readonly waiting = new Map<Address, number>()
  private total = 0
  /** Requests refused so far, for stats and tests */
  refused = 0

  constructor (init: RequestSharesInit = {}) {
    this.perPeer = Math.max(1, init.perPeer ?? MAX_WAITING_REQUESTS_PER_PEER)
    this.capacity = Math.max(1, init.capacity ?? MAX_WAITING_REQUESTS)
  }

  /** Requests waiting here in all */
  get size (): number {
    return this.total
  }

  /** Requests of `from` waiting here */
  of (from: Address): number {
    return this.waiting.get(from) ?? 0
  }

  /**
   * Takes a slot for a request of `from`, or says why not: `undefined` when
   * admitted (the caller must `release` it once answered), else the reason
   */
  take (from: Address): string | undefined {
    const mine = this.of(from)
    if (mine >= this.perPeer) {
      this.refused++
      return `${mine} of your requests are waiting here`
    }
    if (this.total >= this.capacity) {
      // the senders waiting, counting this one if it is new
      const senders = this.waiting.size + (mine === 0 ? 1 : 0)
      const fair = Math.max(1, Math.floor(this.capacity / senders))
      if (mine >= fair) {
        this.refused++
        return `${this.total} requests are waiting here, ${mine} of them yours`
      }
    }
    this.waiting.set(from, mine + 1)
    this.total++
    return undefined
  }

  /**
   * Takes one more slot for `from` without refusing anything: a node that
   * sends a request another way beside a late forward charges the detour to
   * the sender whose request it is, so a peer that fills its share gets no
   * detours (its requests would otherwise reach the next hops twice). True
   * when taken (the caller must `release` it)
   */
  tryTake (from: Address): boolean {
    const mine = this.of(from)
    if (mine >= this.perPeer || (this.total >= this.capacity && mine >= Math.max(1, Math.floor(this.capacity / this.waiting.size)))) {
      return false
    }
    this.waiting.set(from, mine + 1)
    this.total++
    return true
  }

  /** A request of `from` taken with `take` was answered */
  release (from: Address): void {
    const mine = this.of(from)
    if (mine <= 0) {
      return
    }
    this.total--
    if (mine === 1) {
      this.waiting.delete(from)
    } else {
      this.waiting.set(from, mine - 1)
    }
  }
}

/**
 * The requester's side of the same share: a node sends at most `perPeer` of
 * its own lookups to one next hop at once and queues the rest locally (in
 * order, each within its own wait), so a page that asks for thirty assets at
 * once is never refused by its own fingers for being over its share. Only
 * lookups the node starts itself queue here: forwards for others are already
 * bounded per sender by the shares above.
 */
export class PeerWindow {
  private readonly perPeer: number
  private readonly clock: Clock
  private readonly open = new Map<Address, number>()
  private readonly queued = new Map<Address, Array<() => void>>()

  constructor (clock: Clock, perPeer: number = MAX_WAITING_REQUESTS_PER_PEER) {
    this.clock = clock
    this.perPeer = Math.max(1, perPeer)
  }

  /**
   * Resolves `true` once a slot to `to` is ours (the caller must `leave`), or
   * `false` when none freed within `waitMs` or `signal` aborted
   */
  async enter (to: Address, waitMs: number, signal?: AbortSignal): Promise<boolean> {
    const open = this.open.get(to) ?? 0
    if (open < this.perPeer) {
      this.open.set(to, open + 1)
      return true
    }
    if (waitMs <= 0 || signal?.aborted === true) {
      return false
    }
    return new Promise<boolean>(resolve => {
      const queue = this.queued.get(to) ?? []
      this.queued.set(to, queue)
      const done = (got: boolean): void => {
        timer.cancel()
        signal?.removeEventListener('abort', onAbort)
        const i = queue.indexOf(grant)
        if (i >= 0) {
          queue.splice(i, 1)
        }
        if (queue.length === 0 && this.queued.get(to) === queue) {
          this.queued.delete(to)
        }
        resolve(got)
      }
      // `leave` hands its slot on by calling this: the count stays as it was
      const grant = (): void => { done(true) }
      const onAbort = (): void => { done(false) }
      const timer = this.clock.setTimer(() => { done(false) }, waitMs)
      signal?.addEventListener('abort', onAbort, { once: true })
      queue.push(grant)
    })
  }

  /** A slot taken with `enter` is free: the next in line gets it */
  leave (to: Address): void {
    const next = this.queued.get(to)?.[0]
    if (next != null) {
      next()
      return
    }
    const open = (this.open.get(to) ?? 0) - 1
    if (open > 0) {
      this.open.set(to, open)
    } else {
      this.open.delete(to)
    }
  }
}
