/**
 * The CDN service's fetch path as the libp2p service wires it: the parts the
 * simulator runs too (lookups, holdings, the avoid list, the fetch pipeline),
 * over the wall clock, the content protocol (`PeerDownloader`), the origin
 * intake and the ring's holder directory (the locator), with the pipeline's
 * reports turned into the service's events.
 */
import { wallClock } from '../libp2p/wall-clock.ts'
import { AvoidList } from './avoid-list.ts'
import { NotStartedError } from './errors.ts'
import { FetchPipeline, MAX_HOLDER_ATTEMPTS, PEER_TIMEOUT_MS } from './fetch-pipeline.ts'
import { Holdings } from './holdings.ts'
import { Lookups } from './lookups.ts'
import { OriginIntake } from './origin-intake.ts'
import { Origin } from './origin.ts'
import { PeerDownloader } from './peer-downloader.ts'
import type { CdnCounters } from './counters.ts'
import type { DirectoryService } from './directory-service.ts'
import type { FetchEvents } from './fetch-pipeline.ts'
import type { RingCdnInit } from './ring-cdn-init.ts'
import type { Locator, StoredObject } from './seams.ts'
import type { FetchSource, RingCdnEvents } from './stats.ts'
import type { AddressBook } from '../libp2p/address-book.ts'
import type { ContentClient } from '../libp2p/content-client.ts'
import type { Peer } from '../overlay/seams.ts'
import type { ContentStore } from '../storage/content-store.ts'
import type { ComponentLogger, TypedEventTarget } from '@libp2p/interface'

/** What the service lends its fetch path */
export interface FetchPathComponents {
  logger: ComponentLogger
  client: ContentClient
  store: ContentStore
  locator: Locator
  addressBook: AddressBook
  counters: CdnCounters
  events: FetchEvents
}

/** The settings and callbacks the fetch path reads from the service */
export interface FetchPathInit {
  lookupTimeoutMs: number
  maxObjectBytes: number
  homeCopies: boolean
  storeMaxBytes(): number
  trustedDigest(key: bigint): string | undefined
  uploading(): boolean
  announcing(): boolean
  onChunkDigests(digest: string, chunkSize: number, chunkDigests: string[]): void
  respond(object: StoredObject & { contentType?: string }, source: FetchSource): Response
}

export interface FetchPath {
  avoidList: AvoidList
  lookups: Lookups
  holdings: Holdings
  pipeline: FetchPipeline<Response>
}

/** Builds the fetch path; `init` is the service's (the tuning it passes on) */
export function createFetchPath (components: FetchPathComponents, settings: FetchPathInit, init: RingCdnInit): FetchPath {
  const { store, locator, addressBook, counters } = components
  const log = components.logger.forComponent('ringcdn:cdn')
  const avoidList = new AvoidList(wallClock)
  const downloader = new PeerDownloader({
    client: components.client,
    store
  }, {
    maxObjectBytes: settings.maxObjectBytes,
    storeMaxBytes: settings.storeMaxBytes,
    hints: (address) => addressBook.hints(address),
    minPeerThroughput: init.minPeerThroughput,
    requestTimeoutMs: init.transferRequestTimeoutMs,
    stallTimeoutMs: init.transferStallTimeoutMs,
    window: init.transferWindow
  })
  const lookups = new Lookups({ clock: wallClock, locator, counters }, {
    onAnswer: (res) => {
      addressBook.learn(res.home)
      res.holders.forEach(h => { addressBook.learn(h) })
    }
  })
  const holdings = new Holdings({ clock: wallClock, locator, lookups, downloader, avoidList, counters, log }, {
    lookupTimeoutMs: settings.lookupTimeoutMs,
    homeCopies: settings.homeCopies,
    homeCopyMaxBytes: init.homeCopyMaxBytes,
    trustedDigest: settings.trustedDigest,
    uploading: settings.uploading,
    announcing: settings.announcing
  })
  const origin = new Origin({
    fetch: init.fetch ?? globalThis.fetch.bind(globalThis),
    log: components.logger.forComponent('ringcdn:origin'),
    timeoutMs: init.originTimeoutMs,
    stallTimeoutMs: init.originStallTimeoutMs,
    headTimeoutMs: init.headTimeoutMs
  })
  const intake: OriginIntake = new OriginIntake({ origin, store, counters, log }, {
    maxObjectBytes: settings.maxObjectBytes,
    maxBufferedBytes: init.maxBufferedBytes,
    storeMaxBytes: settings.storeMaxBytes,
    onChunkDigests: (meta, chunkDigests) => { settings.onChunkDigests(meta.digest, meta.chunkSize, chunkDigests) },
    onIntegrityFailure: (state, err) => { pipeline.integrityFailure(state, err) },
    respond: (meta) => settings.respond(meta, 'origin')
  })
  const pipeline: FetchPipeline<Response> = new FetchPipeline({ clock: wallClock, locator, lookups, downloader, origin: intake, local: store, holdings, avoidList, counters, log }, {
    lookupTimeoutMs: settings.lookupTimeoutMs,
    maxHolderAttempts: init.maxHolderAttempts ?? MAX_HOLDER_ATTEMPTS,
    peerTimeoutMs: init.peerTimeoutMs ?? PEER_TIMEOUT_MS,
    holderAnswerTimeoutMs: init.holderAnswerTimeoutMs,
    holderHedgeMs: init.holderHedgeMs,
    originMarginMs: init.originMarginMs,
    originSafetyFactor: init.originSafetyFactor,
    originHeadStartMs: init.originHeadStartMs,
    maxObjectBytes: settings.maxObjectBytes,
    trustOnFirstUse: init.trustOnFirstUse,
    deliver: (object, source) => settings.respond(object, source),
    events: components.events
  })
  return { avoidList, lookups, holdings, pipeline }
}

/** What the locator reads from the service */
export interface DirectoryLocatorInit {
  directory(): DirectoryService | undefined
  self(): Peer | undefined
  joined(): boolean
}

/** The ring's holder directory as the pipeline's locator; not ready until this node has joined */
export function directoryLocator (service: DirectoryLocatorInit): Locator {
  const directory = (): DirectoryService => {
    const found = service.directory()
    if (found == null) {
      throw new NotStartedError('not a ring member')
    }
    return found
  }
  return {
    get ready () { return service.directory() != null && service.joined() },
    get self () { return service.self() },
    locate: async (key, options) => directory().locate(key, options),
    announce: async (home, key, gone, options) => { await directory().announce(home, key, gone, options) },
    forget: (key, holder) => { service.directory()?.forget(key, holder) }
  }
}

/** The pipeline's reports as the service's events */
export function fetchEventsOf (target: TypedEventTarget<RingCdnEvents>): FetchEvents {
  return {
    lookup: ({ target: asset, home, hops, holders, durationMs, error }) => {
      target.safeDispatchEvent('lookup', { detail: { url: asset.href, key: asset.keyHex, home: home?.address, hops, holders: holders.length, durationMs, error } })
    },
    transfer: (asset, source, bytes, durationMs, peer) => {
      target.safeDispatchEvent('transfer', { detail: { direction: 'download', url: asset.href, key: asset.keyHex, source, peer, bytes, durationMs, complete: true } })
    },
    holderFailure: (asset, peer, err) => {
      target.safeDispatchEvent('holder-failure', { detail: { url: asset.href, key: asset.keyHex, peer, error: err.name, message: err.message } })
    },
    integrityFailure: (asset, err, expected, peer) => {
      target.safeDispatchEvent('integrity-failure', { detail: { url: asset.href, key: asset.keyHex, source: err.source, peer, expected, message: err.message } })
    }
  }
}
