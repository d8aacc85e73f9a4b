/**
 * How a page's node becomes a ring member (libp2p side): bootstrap addresses
 * are relays (which list members of the namespace, tell the first page to
 * found the ring, or tell the others to wait until that page has registered)
 * or ring members given directly; the join is retried with backoff; once
 * joined, the node registers with its relay so it is listed to joiners,
 * again whenever its addresses change or the relay reconnects.
 *
 * A site's relays share their member lists (relay/peer-relays.ts), so a page
 * asks **one** relay: the one it is connected to (its `RelayKeeper` chose
 * it), else the first that answers in its rendezvous order. It registers with
 * the relay its reservation is on (the only relay that can vouch for its
 * `/p2p-circuit` addresses), or, without a reservation, with the relays that
 * answered it.
 */
import { peerIdFromString } from '@libp2p/peer-id'
import { multiaddr } from '@multiformats/multiaddr'
import pRetry from 'p-retry'
import { raceSignal } from 'race-signal'
import { queryBootstrap, relayOrder, reservationRelays } from '../libp2p/bootstrap-client.ts'
import { InvalidParametersError, JoinFailedError } from '../overlay/errors.ts'
import type { AddressBook } from '../libp2p/address-book.ts'
import type { BootstrapAnswer } from '../libp2p/bootstrap-client.ts'
import type { RingNode } from '../overlay/ring-node.ts'
import type { Address } from '../overlay/seams.ts'
import type { Connection, Logger, PeerId, AbortOptions } from '@libp2p/interface'
import type { Multiaddr } from '@multiformats/multiaddr'

/** Join attempts after the first fails */
export const JOIN_RETRIES = 5
/** Delay before the first join retry, ms (doubles per retry) */
export const JOIN_RETRY_DELAY_MS = 500
/** Longest delay between join retries, ms */
export const JOIN_MAX_RETRY_DELAY_MS = 8_000
/**
 * After a join's retries all failed, the wait before the node tries again
 * (and again, for as long as it runs), ms. A page open for minutes must not
 * stay outside the ring because the ring was unreachable when it opened
 */
export const REJOIN_INTERVAL_MS = 15_000
/** Deadline of dialling one bootstrap address that names no peer id, ms */
export const BOOTSTRAP_DIAL_TIMEOUT_MS = 5_000
/**
 * Longest a join attempt keeps asking a relay that tells it to wait for
 * another page to found the ring, ms (the relay's founder grace is 2 s by
 * default; a relay that says "wait" forever fails the attempt)
 */
export const FOUNDER_WAIT_LIMIT_MS = 15_000
/** How often a join attempt told to wait for a founder asks again, ms */
export const FOUNDER_POLL_MS = 250

export interface RingMembershipComponents {
  peerId: PeerId
  connectionManager: {
    openConnection(peer: PeerId | Multiaddr[], options?: AbortOptions): Promise<Connection>
    getConnections?(peer?: PeerId): Connection[]
  }
  addressManager: { getAddresses(): Multiaddr[] }
  addressBook: AddressBook
  log: Logger
}

export interface RingMembershipInit {
  namespace: string
  bootstrap: Multiaddr[]
  /** @default JOIN_RETRIES (5) */
  joinRetries?: number
  /** @default JOIN_RETRY_DELAY_MS (500 ms) */
  joinRetryDelayMs?: number
  /** The node's life while it runs (undefined once stopped) */
  lifetime(): AbortSignal | undefined
  /** Whether the node is a ring member now */
  joined(): boolean
  /**
   * A relay listed other members when we registered (`contacts` holds them
   * now): a node alone in a ring it founded late, after another page founded
   * one, joins theirs
   */
  membersListed?(): void
}

export class RingMembership {
  private readonly components: RingMembershipComponents
  private readonly addressBook: AddressBook
  private readonly log: Logger
  private readonly namespace: string
  private readonly bootstrapAddrs: Multiaddr[]
  private readonly joinRetries: number
  private readonly joinRetryDelayMs: number
  private readonly lifetime: () => AbortSignal | undefined
  private readonly joined: () => boolean
  private readonly membersListed?: () => void
  /** Peer ids of bootstrap members, learned from their multiaddrs or from relays */
  private bootstrapIds: Address[] = []
  /** Bootstrap peers that speak the bootstrap protocol (relays keeping member lists) */
  private readonly relays = new Map<Address, PeerId>()
  /** Bootstrap peers that do not (ring members given directly) */
  private readonly notRelays = new Set<Address>()
  /** Registrations with relays in flight, and relays to ask again when theirs ends */
  private readonly registering = new Map<Address, Promise<void>>()
  private readonly registerAgain = new Set<Address>()
  /** How the joins went so far (times in ms of `performance.now()`) */
  progress: { answeredAt?: number, routedAt?: number, waits: number, failedAttempts: number, lastError?: string } = { waits: 0, failedAttempts: 0 }

  constructor (components: RingMembershipComponents, init: RingMembershipInit) {
    this.components = components
    this.addressBook = components.addressBook
    this.log = components.log
    this.namespace = init.namespace
    this.bootstrapAddrs = init.bootstrap
    this.joinRetries = init.joinRetries ?? JOIN_RETRIES
    this.joinRetryDelayMs = init.joinRetryDelayMs ?? JOIN_RETRY_DELAY_MS
    this.lifetime = init.lifetime
    this.joined = init.joined
    this.membersListed = init.membersListed
    this.onConnectionOpen = this.onConnectionOpen.bind(this)
  }

  /** Forgets how earlier joins went (the service starts again) */
  resetProgress (): void {
    this.progress = { waits: 0, failedAttempts: 0 }
  }

  /** Whether this node founds the ring itself (no bootstrap addresses) */
  get founder (): boolean {
    return this.bootstrapAddrs.length === 0
  }

  /** The members to join through, as last resolved (the ring asks again when it must rejoin) */
  get contacts (): Address[] {
    return this.bootstrapIds
  }

  /**
   * Contacts to join through. A bootstrap address that speaks the bootstrap
   * protocol is a relay: it lists ring members to join through, or
   * tells us to found the ring (`found`). Any other bootstrap address is a
   * ring member itself. A peer already known not to be a relay is not dialled.
   */
  private async resolveBootstrap (signal: AbortSignal): Promise<{ contacts: Address[], found: boolean, refused?: Error, wait: boolean }> {
    const self = this.components.peerId.toString()
    const ids = new Set<Address>()
    /** A relay's own refusal (e.g. of our namespace): what a failed join reports, since it says what to change */
    let refused: Error | undefined
    let found = false
    /** The relay told us another page is founding the ring: ask again shortly */
    let wait = false
    let answered = false
    for (const ma of this.askingOrder()) {
      // a bootstrap peer that is not a relay is a ring member to join through
      const member = (id: Address): void => {
        this.addressBook.add(id, [ma, ...this.addressBook.hints(id)])
        ids.add(id)
      }
      const id = ma.getComponents().findLast(c => c.name === 'p2p')?.value
      if (id != null && this.notRelays.has(id)) {
        member(id)
        continue
      }
      if (answered) {
        // one relay answered for all of them: they share their member lists
        continue
      }
      let connection: Connection
      try {
        connection = await this.components.connectionManager.openConnection([ma], { signal: AbortSignal.any([signal, AbortSignal.timeout(BOOTSTRAP_DIAL_TIMEOUT_MS)]) })
      } catch (err: any) {
        signal.throwIfAborted()
        this.log('bootstrap address %a did not answer - %e', ma, err)
        continue
      }
      const remote = connection.remotePeer.toString()
      if (this.notRelays.has(remote)) {
        member(remote)
        continue
      }
      try {
        const answer = await queryBootstrap(connection, { namespace: this.namespace, addrs: this.components.addressManager.getAddresses(), member: false }, { signal })
        this.relays.set(remote, connection.remotePeer)
        answered = true
        this.progress.answeredAt ??= performance.now()
        if (answer.type === 'found') {
          found = true
        } else if (answer.type === 'wait') {
          wait = true
          this.progress.waits++
        } else {
          // a random sample of the members: the join routes to our place through the ring
          for (const member of answer.members) {
            this.addressBook.add(member.peer, member.addrs)
            ids.add(member.peer)
          }
        }
      } catch (err: any) {
        signal.throwIfAborted()
        if (err.name === 'BootstrapUnsupportedError') {
          this.notRelays.add(remote)
          member(remote)
        } else {
          if (err.name === 'BootstrapRefusedError') {
            refused = err
          }
          this.log('relay %a did not answer the bootstrap request - %e', ma, err)
        }
      }
    }
    ids.delete(self)
    this.bootstrapIds = [...ids]
    return { contacts: this.bootstrapIds, found, refused, wait }
  }

  /**
   * Bootstrap addresses in the order to ask them: the relays this node is
   * connected to first (its own relay), then the others in its rendezvous
   * order (the order its relay keeper tries them in)
   */
  private askingOrder (): Multiaddr[] {
    const ordered = relayOrder(this.components.peerId.toString(), this.bootstrapAddrs)
    const connected = (ma: Multiaddr): boolean => {
      const id = ma.getComponents().findLast(c => c.name === 'p2p')?.value
      return id != null && this.components.connectionManager.getConnections?.().some(c => c.status === 'open' && c.remotePeer.toString() === id && !c.remoteAddr.getComponents().some(p => p.name === 'p2p-circuit')) === true
    }
    return [...ordered.filter(connected), ...ordered.filter(ma => !connected(ma))]
  }

  async join (ring: RingNode, signal: AbortSignal): Promise<void> {
    await pRetry(async () => {
      const patience = AbortSignal.timeout(FOUNDER_WAIT_LIMIT_MS)
      let resolved = await this.resolveBootstrap(signal)
      // another page is founding the ring: it is listed once it registers, or, if it never does, we are
      // told to found once its grace lapses
      while (resolved.wait && resolved.contacts.length === 0 && !resolved.found) {
        if (patience.aborted) {
          throw new JoinFailedError('the relay kept us waiting for a founder')
        }
        await raceSignal(new Promise(resolve => setTimeout(resolve, FOUNDER_POLL_MS)), signal)
        resolved = await this.resolveBootstrap(signal)
      }
      const { contacts, found, refused } = resolved
      if (contacts.length === 0) {
        if (refused != null) {
          throw new JoinFailedError(`the relay refused to bootstrap this page - ${refused.message}`, { cause: refused })
        }
        if (!found) {
          throw new JoinFailedError('no bootstrap address answered')
        }
        // the relay has no member of our namespace and lists us to concurrent askers: we found the ring
        ring.create()
        this.log('founded ring %s as %s', this.namespace, this.components.peerId.toString())
        return
      }
      await ring.join(contacts, {
        signal,
        onRouted: () => { this.progress.routedAt ??= performance.now() }
      })
    }, {
      retries: this.joinRetries,
      minTimeout: this.joinRetryDelayMs,
      maxTimeout: JOIN_MAX_RETRY_DELAY_MS,
      signal,
      shouldRetry: ({ error }) => error.name !== 'AbortError',
      onFailedAttempt: ({ error, attemptNumber, retriesLeft }) => {
        this.progress.failedAttempts++
        this.progress.lastError = error.message
        this.log('join attempt %d failed (%d left) - %e', attemptNumber, retriesLeft, error)
      }
    })
    this.log('joined ring %s as %s', this.namespace, this.components.peerId.toString())
    this.registerWithRelays()
  }

  /**
   * A join whose retries all failed is not the end: the node tries again
   * every `intervalMs` until it joins or stops (each new attempt is told to
   * `onAttempt`: it is what `whenJoined()` waits for from then on). The
   * outcome of each is also read through `whenJoined()`; a failure is logged
   * here.
   */
  rejoinOnFailure (attempt: Promise<void>, ring: RingNode, signal: AbortSignal, intervalMs: number, onAttempt: (attempt: Promise<void>) => void): void {
    attempt.catch(err => {
      if (signal.aborted) {
        return
      }
      this.log.error('could not join ring %s, trying again in %d ms - %e', this.namespace, intervalMs, err)
      const timer = setTimeout(() => {
        signal.removeEventListener('abort', cancel)
        if (signal.aborted || ring.joined) {
          return
        }
        const next = this.join(ring, signal)
        onAttempt(next)
        this.rejoinOnFailure(next, ring, signal, intervalMs, onAttempt)
      }, intervalMs)
      const cancel = (): void => { clearTimeout(timer) }
      signal.addEventListener('abort', cancel, { once: true })
    })
  }

  /**
   * The relays to register with: the one our reservation is on (it vouches
   * for our circuit addresses and shares the listing with its peer relays),
   * else the relays that answered us
   */
  private registrationTargets (): PeerId[] {
    const reserved = reservationRelays(this.components.addressManager.getAddresses())
      .filter(id => this.relays.has(id) || this.bootstrapAddrs.some(ma => ma.getComponents().findLast(c => c.name === 'p2p')?.value === id))
    if (reserved.length > 0) {
      return reserved.map(id => this.relays.get(id) ?? peerIdFromString(id))
    }
    return [...this.relays.values()]
  }

  /**
   * Tells our relay we are a ring member, so it lists us to joiners. In the
   * background and best effort: a relay that missed it hears again on the
   * next connection to it or change of our addresses.
   */
  registerWithRelays (relays: Iterable<PeerId> = this.registrationTargets()): void {
    const lifetime = this.lifetime()
    if (lifetime == null || !this.joined()) {
      return
    }
    for (const relay of relays) {
      const key = relay.toString()
      if (this.registering.has(key)) {
        // our addresses may have changed since that request was sent
        this.registerAgain.add(key)
        continue
      }
      const signal = AbortSignal.any([lifetime, AbortSignal.timeout(BOOTSTRAP_DIAL_TIMEOUT_MS * 2)])
      const run = (async () => {
        const connection = await this.components.connectionManager.openConnection(relay, { signal })
        const answer = await queryBootstrap(connection, { namespace: this.namespace, addrs: this.components.addressManager.getAddresses(), member: true }, { signal })
        this.log('registered with relay %p%s', relay, answer.type === 'members' && !answer.registered ? ' (not listed: the relay is full)' : '')
        this.learnListed(answer)
      })()
        .catch(err => { this.log('registering with relay %p failed - %e', relay, err) })
        .finally(() => {
          this.registering.delete(key)
          if (this.registerAgain.delete(key)) {
            this.registerWithRelays([relay])
          }
        })
      this.registering.set(key, run)
    }
  }

  /**
   * Members a relay listed when we registered become our contacts (the ring
   * rejoins through them if it loses everyone), and `membersListed` hears of
   * them: a founder that registered after its grace lapsed and another page
   * founded is alone in its ring, which would otherwise stay a second ring
   */
  private learnListed (answer: BootstrapAnswer): void {
    const members = answer.type === 'members' ? answer.members.filter(m => m.peer !== this.components.peerId.toString()) : []
    if (members.length > 0) {
      this.bootstrapIds = members.map(m => {
        this.addressBook.add(m.peer, m.addrs)
        return m.peer
      })
      this.membersListed?.()
    }
  }

  /** A new connection to a relay (e.g. after it restarted): it may have forgotten us */
  onConnectionOpen (evt: CustomEvent<Connection>): void {
    const remote = evt.detail.remotePeer.toString()
    const relay = this.registrationTargets().find(p => p.toString() === remote)
    if (relay != null) {
      this.registerWithRelays([relay])
    }
  }
}

/**
 * The `bootstrap` option as multiaddrs
 *
 * @throws {InvalidParametersError} an address that is not a multiaddr, naming the option to fix
 */
export function parseBootstrap (addrs: Array<string | Multiaddr>): Multiaddr[] {
  return addrs.map(addr => {
    if (typeof addr !== 'string') {
      return addr
    }
    try {
      return multiaddr(addr)
    } catch (err: any) {
      throw new InvalidParametersError(`bootstrap address "${addr}" (the \`bootstrap\` option of ringCdn()) is not a multiaddr such as /ip4/127.0.0.1/tcp/9090/ws/p2p/12D3KooW… (ringcdn-relay prints its own) - ${err.message}`, { cause: err })
    }
  })
}
