/**
 * The counters behind `RingCdnStats` that the fetch pipeline, the lookups and
 * the holdings keep. Plain numbers that only grow; the service adds the
 * figures it owns (busy refusals, connections, RPCs by type) when asked.
 */
import type { RingCdnStats } from './stats.ts'

export type CdnCounters = Omit<RingCdnStats, 'meanHops' | 'busyRefusals' | 'ringBusyRefusals' | 'directoryKeys' | 'announcesDropped' | 'connections' | 'ringRpcsSentByType' | 'holderFailuresByError' | 'holdersAvoided' | 'join'> & {
  /** Hops of the answered lookups, summed (for `meanHops`) */
  hops: number
  lookupsAnswered: number
  holderFailuresByError: Record<string, number>
}

export function createCounters (): CdnCounters {
  return {
    requests: 0,
    fromLocal: 0,
    fromPeers: 0,
    fromOrigin: 0,
    failures: 0,
    bytesFromPeers: 0,
    bytesFromOrigin: 0,
    bytesUploaded: 0,
    uploads: 0,
    integrityFailures: 0,
    lookups: 0,
    lookupFailures: 0,
    holderFailures: 0,
    originRaces: 0,
    originRacesWonByPeer: 0,
    holdersSkipped: 0,
    lookupsAroundHome: 0,
    holderHedges: 0,
    shareWaits: 0,
    ringRpcsSent: 0,
    lookupRpcsSent: 0,
    homeCopies: 0,
    bytesHomeCopied: 0,
    hops: 0,
    lookupsAnswered: 0,
    holderFailuresByError: {}
  }
}
