/**
 * A full relay tells a page so by closing its connection.
 *
 * libp2p's circuit relay server answers a reservation request it cannot
 * hold (every slot taken) with a refusal, and the page's circuit relay
 * transport logs it and emits nothing: the page's relay keeper would only
 * notice when no reservation came within its reservation timeout (15 s), and
 * for all that time the page is unreachable. The relay knows at once, so it
 * refuses through the connection gater's `denyInboundRelayReservation` (the
 * same test the reservation store makes) and closes the page's connection a
 * moment later, after the refusal went out. Losing its relay's connection
 * before a reservation makes the keeper move to the page's next relay at
 * once.
 *
 * Two pages asking for the last slot at the same moment can both pass here;
 * the one the reservation store then refuses waits for its keeper's timeout.
 */
import type { PeerId } from '@libp2p/interface'

/** How long after refusing a page its connection is closed: time for the refusal to reach it, ms */
export const REFUSED_CLOSE_DELAY_MS = 500

/** What the gate reads of the relay's libp2p node */
export interface ReservationGateTarget {
  /** Reservations held now, by peer */
  reservations: { size: number, has(peer: PeerId): boolean }
  /** Closes every connection to `peer` */
  close(peer: PeerId): void
}

export interface ReservationGateInit {
  /** The reservation store's capacity */
  maxReservations: number
  /** @default REFUSED_CLOSE_DELAY_MS (500 ms) */
  closeDelayMs?: number
}

export class ReservationGate {
  private readonly max: number
  private readonly closeDelayMs: number
  private target?: ReservationGateTarget
  private readonly closing = new Set<ReturnType<typeof setTimeout>>()
  /** Reservation requests refused because every slot was taken */
  refused = 0

  constructor (init: ReservationGateInit) {
    this.max = init.maxReservations
    this.closeDelayMs = init.closeDelayMs ?? REFUSED_CLOSE_DELAY_MS
    this.denyInboundRelayReservation = this.denyInboundRelayReservation.bind(this)
  }

  /** The node's reservations become known only once it exists; until then nothing is refused here */
  attach (target: ReservationGateTarget): void {
    this.target = target
  }

  /** True (refuse) when every slot is taken by other pages; the page is then disconnected */
  denyInboundRelayReservation (peer: PeerId): boolean {
    const target = this.target
    if (target == null || target.reservations.has(peer) || target.reservations.size < this.max) {
      return false
    }
    this.refused++
    const timer = setTimeout(() => {
      this.closing.delete(timer)
      target.close(peer)
    }, this.closeDelayMs)
    this.closing.add(timer)
    return true
  }

  /** Cancels closes not made yet (the relay is stopping) */
  stop (): void {
    for (const timer of this.closing) {
      clearTimeout(timer)
    }
    this.closing.clear()
  }
}
