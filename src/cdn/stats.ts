/**
 * What the CDN counts and the events it emits. Counters only ever grow (from
 * service start); rates and ratios are the reader's business.
 */

/** Where a fetched asset's bytes came from (also the `ringcdn-source` response header) */
export type FetchSource = 'local' | 'peer' | 'origin'

export interface RingCdnStats {
  /** `fetch` calls */
  requests: number
  /** Answered from this node's store */
  fromLocal: number
  /** Answered with bytes a peer sent (verified) */
  fromPeers: number
  /** Answered by the origin (including its error statuses) */
  fromOrigin: number
  /** `fetch` calls that failed (origin unreachable, bad origin bytes, aborted) */
  failures: number
  /** Verified bytes received from peers */
  bytesFromPeers: number
  /** Body bytes received from the origin */
  bytesFromOrigin: number
  /** Bytes sent to peers by this node's content server */
  bytesUploaded: number
  /** Uploads completed */
  uploads: number
  /** Objects this node copied as their home node from their only holder (`RingCdnInit.homeCopies`) */
  homeCopies: number
  /** Bytes of those copies (not counted in `bytesFromPeers`: no fetch asked for them) */
  bytesHomeCopied: number
  /** Transfers (peer or origin, fetches and home copies) whose bytes did not match the trusted digest */
  integrityFailures: number
  /** Ring lookups: for fetches, `locate` calls, and announce retries (each finds the home again) */
  lookups: number
  /** Lookups that failed or timed out */
  lookupFailures: number
  /** Mean hops of the lookups that succeeded (0 before the first) */
  meanHops: number
  /** Holders tried that did not deliver (not held, busy, gone, bad bytes) */
  holderFailures: number
  /** Those holder failures by error name (`IntegrityError`, `TransferError`, `HolderBusyError`, …) */
  holderFailuresByError: Record<string, number>
  /**
   * Fetches that brought the origin in while the peer path was still under
   * way (it was taking longer than the origin's estimated time allows)
   */
  originRaces: number
  /** Of those, fetches a peer still answered first (the origin fetch was stopped) */
  originRacesWonByPeer: number
  /** Listed holders a fetch did not ask because they are avoided */
  holdersSkipped: number
  /**
   * Lookups made again around a key's home this page avoids (it served bytes
   * that are not the object, or stayed silent): the home's successor answers
   * from its replica of the home's entries
   */
  lookupsAroundHome: number
  /** Holders asked beside others that had not started sending within the hedge delay */
  holderHedges: number
  /** Waits of a fetch for one of this page's own downloads from a holder to end, its share of that holder being full */
  shareWaits: number
  /** Holders put on the avoid list, by reason (`integrity`, `silent`, `busy`, `too-large`) */
  holdersAvoided: Record<string, number>
  /** Content requests this node refused as busy */
  busyRefusals: number
  /** Ring requests (forwards, application messages) refused because their sender had its share waiting */
  ringBusyRefusals: number
  /** Keys in this node's holder directory (its own and replicas) */
  directoryKeys: number
  /** Announces dropped because their holder was listed for its share of keys here already */
  announcesDropped: number
  /** Ring requests this node sent (lookup hops, maintenance, announces) */
  ringRpcsSent: number
  /** Of those, hops of routed application lookups (what a lookup costs the network) */
  lookupRpcsSent: number
  /** Ring requests sent, by message type (ROUTE, STABILIZE, PROBE, …) */
  ringRpcsSentByType: Record<string, number>
  /** Connections open now, and how many go to kept routing peers */
  connections: { open: number, kept: number }
  /** How this page's (last) join went */
  join: JoinStats
}

/** Where a join's time went, in ms from the service's start; a time is absent until it is reached */
export interface JoinStats {
  /** The node knew its listen addresses (a page: its relay reservation), or stopped waiting for them */
  addressesMs?: number
  /** A relay first answered the bootstrap request (members, found or wait) */
  answeredMs?: number
  /**
   * A contact first answered the join's lookup of this node's own id (the
   * successor to take is known; the join then connects to it and waits to be
   * taken in)
   */
  routedMs?: number
  /** Answers that said another page was founding the ring */
  waits: number
  /** Join attempts that failed, each retried after a back-off */
  failedAttempts: number
  /** Why the last one failed */
  lastError?: string
  /** The node first became a ring member (joined or founded) */
  joinedMs?: number
}

export interface LookupEventDetail {
  /** Normalised asset URL */
  url: string
  /** Content key, hex */
  key: string
  /** Peer id of the key's home node, when the lookup succeeded */
  home?: string
  hops?: number
  /** Holders the home node listed */
  holders: number
  durationMs: number
  /** Why the lookup failed (error name), when it did */
  error?: string
}

export interface TransferEventDetail {
  /** `download`: this node fetched an asset; `upload`: this node served one to a peer */
  direction: 'download' | 'upload'
  /** Normalised asset URL (downloads only: a holder does not know the URL) */
  url?: string
  /** Content key, hex (downloads only) */
  key?: string
  /** Where the bytes came from (downloads) */
  source?: FetchSource
  /** The other peer's id (peer downloads, uploads) */
  peer?: string
  bytes: number
  durationMs?: number
  /** False for an upload that broke off */
  complete: boolean
}

export interface IntegrityFailureDetail {
  url: string
  key: string
  source: 'peer' | 'origin'
  /** The peer that sent bad bytes */
  peer?: string
  /** The trusted digest, hex */
  expected: string
  message: string
}

export interface HolderFailureDetail {
  url: string
  key: string
  /** The holder that did not deliver */
  peer: string
  /** Why, as an error name (`IntegrityError`, `TransferError`, `HolderBusyError`, `LimitedConnectionError`, …) */
  error: string
  message: string
}

export interface RingCdnEvents {
  lookup: CustomEvent<LookupEventDetail>
  transfer: CustomEvent<TransferEventDetail>
  'integrity-failure': CustomEvent<IntegrityFailureDetail>
  /** A holder a fetch tried did not deliver; the fetch moves on to the next holder or the origin */
  'holder-failure': CustomEvent<HolderFailureDetail>
}
