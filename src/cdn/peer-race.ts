/**
 * The state of one fetch's peer phase (`peer-phase.ts`): the holders it
 * asks, and each request to one of them.
 */
import type { StoredObject } from './seams.ts'
import type { Peer } from '../overlay/seams.ts'

/** One holder asked within a fetch */
export interface Attempt {
  holder: Peer
  /** When it was asked, ms of the clock */
  asked: number
  /** It said the object's size and began sending */
  started: boolean
  /** Stopped by the fetch as it started: another holder was sending, or had delivered */
  dropped: boolean
  /** Stops the download */
  stop: AbortController
  /** Set when the download ends */
  outcome?: { object: StoredObject, err?: undefined } | { object?: undefined, err: any, silent: boolean, ownShare: boolean }
  /** Settles when `outcome` is set; never rejects */
  done: Promise<void>
}

/** One fetch's holders being asked */
export interface Race {
  /** Holders not asked yet (or asked again: stopped as they started while another was sending) */
  queue: Peer[]
  /** Attempts not yet taken in by `settle` */
  live: Set<Attempt>
  /** The attempt whose transfer runs */
  sending?: Attempt
  /** A holder delivered, or the fetch ended: any attempt that starts now is stopped */
  won: boolean
  /** The fetch has heard the peers look stalled */
  stalled: boolean
  /** When the last holder was asked, ms of the clock */
  lastAsked: number
  /** Requests sent so far (a holder asked again counts again) */
  asked: number
  /** Holders our own downloads keep busy (full by our count, or refused us for it): asked again once one of those ends (the cancels) */
  waiting: Map<string, () => void>
  /** Waits for a share taken so far (`MAX_SHARE_WAITS`) */
  shareWaits: number
  /** Wakes the race when an attempt ends */
  wake(): void
}
