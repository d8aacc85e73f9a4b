/**
 * One simulated page, wired as a browser page wires the library: the ring
 * (`RingNode`) over the ring protocol, the holder directory
 * (`DirectoryService`), the fetch pipeline (`FetchPipeline`) and holdings
 * with announce retries and home copies (`Holdings`), over the adapters of
 * `cdn-adapters.ts`, with hooks that let the run's metrics watch it.
 */
import { AvoidList } from '../src/cdn/avoid-list.ts'
import { createCounters } from '../src/cdn/counters.ts'
import { DirectoryService } from '../src/cdn/directory-service.ts'
import { FetchPipeline, LOOKUP_TIMEOUT_MS } from '../src/cdn/fetch-pipeline.ts'
import { Holdings } from '../src/cdn/holdings.ts'
import { Lookups } from '../src/cdn/lookups.ts'
import { idFromBytes } from '../src/overlay/ring-id.ts'
import { RingNode } from '../src/overlay/ring-node.ts'
import { silentLog } from '../src/overlay/seams.ts'
import { warmNewNeighbours } from '../src/overlay/warm-connections.ts'
import { SimDownloader, SimOrigin, SimPageStore, contentProtocol } from './cdn-adapters.ts'
import { ringProtocol, simRingIdOf } from './ring-protocol.ts'
import type { ContentRequest, ContentResponse, SimCatalogue } from './cdn-adapters.ts'
import type { Hostility } from './hostile.ts'
import type { SimNetwork } from './network/network.ts'
import type { SimOptions } from './options.ts'
import type { Oracle } from './oracle.ts'
import type { SeededRandom } from './random.ts'
import type { RunMetrics } from './run-metrics.ts'
import type { Locator } from '../src/cdn/seams.ts'
import type { RingRequest, RingResponse } from '../src/overlay/messages.ts'
import type { Clock, Peer, Rpc } from '../src/overlay/seams.ts'

export type HolderFailure = 'gone' | 'evicted' | 'busy'

/** One simulated page */
export interface Page {
  peer: Peer
  ring: RingNode
  directory: DirectoryService
  content: Rpc<ContentRequest, ContentResponse>
  store: SimPageStore
  pipeline: FetchPipeline<number>
  holdings: Holdings
  origin: SimOrigin
  /** Aborted when the page leaves: its fetches and announces end with it */
  life: AbortController
  alive: boolean
  /** An attacker (`hostile.ts`): makes no requests, keeps no home copies, answers lookups as its behaviour says */
  hostile: boolean
  /** Per object in flight: what the lookup found and how each holder tried failed (for `originReasons`) */
  attempts: Map<number, FetchAttempts>
}

export interface FetchAttempts {
  located: boolean
  listed: number
  failures: HolderFailure[]
  /** The origin was brought in beside the still running peer path and answered first */
  raceLost?: boolean
}

/** What a page is wired to: the run's shared parts */
export interface PageContext {
  opts: SimOptions
  root: SeededRandom
  clock: Clock
  network: SimNetwork
  oracle: Oracle
  /** Every page not yet gone, by address; a new page adds itself */
  pages: Map<string, Page>
  catalogue: SimCatalogue
  metrics: RunMetrics
  /** The members a joining page is handed (the relay's answer) */
  bootstrapContacts(self: Peer): string[]
  /** Hostile pages and what they did, when the run has them (`--hostile-fraction`) */
  hostility?: Hostility
}

export function createPage (ctx: PageContext, address: string, hostile: boolean = false): Page {
  const { opts, root, clock, network, catalogue, metrics } = ctx
  const peer: Peer = { id: idFromBytes(simRingIdOf(address)), address }
  const random = root.fork(`node:${address}`)
  const hostility = hostile ? ctx.hostility : undefined
  const rpc = ringRpc(ctx, peer, hostility)
  const ring = new RingNode({ clock, random, rpc }, {
    self: peer,
    onNeighboursChanged: warmNewNeighbours(rpc),
    successorListSize: opts.successors,
    stabilizeIntervalMs: opts.stabilizeIntervalMs,
    fixFingersIntervalMs: opts.fixFingersIntervalMs,
    adaptiveMaintenance: opts.adaptiveMaintenance,
    maintenanceBackoff: opts.maintenanceBackoff,
    bootstrap: () => ctx.bootstrapContacts(peer),
    idOf: (a) => idFromBytes(simRingIdOf(a))
  })
  // the libp2p facade's `peer:disconnect`, when the network models it (`--connection-loss`)
  if (opts.connectionLossMs > 0) {
    network.onConnectionLost(address, (lost) => { ring.connectionLost(lost) })
  }
  const store = new SimPageStore(catalogue, {
    maxBytes: opts.cacheMB * 1024 * 1024,
    onStore: (index) => {
      if (page.alive) {
        let set = metrics.copies.get(index)
        if (set == null) {
          set = new Set()
          metrics.copies.set(index, set)
        }
        set.add(address)
      }
    },
    onEvict: (index) => { metrics.copies.get(index)?.delete(address) }
  })
  const life = new AbortController()
  const content = network.rpc(address, contentProtocol)
  const locator: Locator = {
    get ready () { return page.alive && ring.joined },
    self: peer,
    locate: async (key, options) => page.directory.locate(key, options),
    announce: async (home, key, gone, options) => { await page.directory.announce(home, key, gone, options) },
    forget: (key, holder) => { page.directory.forget(key, holder) }
  }
  const counters = createCounters()
  const lookups = new Lookups({ clock, locator, counters })
  const avoidList = new AvoidList(clock)
  const downloader = new SimDownloader(content, store, catalogue, (holder, index) => holderAttempt(ctx, page, holder, index))
  const holdings = new Holdings({ clock, locator, lookups, downloader, avoidList, counters, log: silentLog }, {
    lookupTimeoutMs: LOOKUP_TIMEOUT_MS,
    homeCopies: opts.homeCopies,
    // every object is in the site's manifest, so a home node knows the digest of each key
    trustedDigest: (key) => {
      const index = catalogue.indexOfKey(key)
      return index == null ? undefined : catalogue.digests[index]
    },
    uploading: () => page.alive,
    announcing: () => page.alive,
    onHomeCopy: (_key, _holder, object) => {
      if (metrics.measuring()) {
        metrics.replication.bytes += object.size
        metrics.replication.copies++
      }
    }
  })
  const origin = new SimOrigin(clock, store, catalogue)
  const pipeline = new FetchPipeline<number>({ clock, locator, lookups, downloader, origin, local: store, holdings, avoidList, counters, log: silentLog }, {
    // the library's own race with the origin (ORIGIN_MARGIN_MS), as a page runs it
    holderHedgeMs: hedgeMs(opts.holderHedge),
    deliver: (object) => {
      const index = catalogue.indexOfHex(object.key)
      if (index != null) {
        store.touch(index)
      }
      return object.size
    },
    events: {
      race: (target, winner) => {
        const index = catalogue.indexOfHex(target.keyHex)
        const attempts = index == null ? undefined : page.attempts.get(index)
        if (attempts != null && winner === 'origin') {
          attempts.raceLost = true
        }
      },
      lookup: ({ target, home, hops, holders, durationMs, error, message }) => {
        const index = catalogue.indexOfHex(target.keyHex)
        const attempts = index == null ? undefined : page.attempts.get(index)
        if (attempts != null) {
          attempts.located = home != null
          attempts.listed = holders.length
        }
        if (!metrics.measuring()) {
          return
        }
        if (home != null) {
          metrics.judge(target.key, home, hops ?? 0, durationMs)
        } else {
          metrics.lookupFailed(page, true, target.key, `fetch: ${error ?? 'Error'}`, message ?? '')
        }
      }
    }
  })
  const directory: DirectoryService = new DirectoryService({ ring, random }, {
    holdsLocally: key => holdings.has(key),
    onSoleHolder: (key, holder) => {
      // an attacker fetches nothing, a home copy included
      if (!hostile) {
        void holdings.copyAsHome(key, holder, life.signal)
      }
    }
  })
  content.handle(async (_from, req) => {
    const object = store.get(req.index)
    if (object == null) {
      // the library's content server: a miss means the store let it go, so stop listing ourselves
      holdings.forget(catalogue.keys[req.index])
      return { size: 0, digest: '', body: req.body }
    }
    store.touch(req.index)
    if (req.body && metrics.measuring()) {
      metrics.uploaded.set(address, (metrics.uploaded.get(address) ?? 0) + object.size)
    }
    return { size: object.size, digest: object.digest, body: req.body }
  })
  const forged = hostility?.content(catalogue)
  if (forged != null) {
    content.handle(forged)
  }
  const page: Page = { peer, ring, directory, content, store, pipeline, holdings, origin, life, alive: true, hostile, attempts: new Map() }
  ctx.pages.set(address, page)
  return page
}

/**
 * The ring transport of a page, noting the oracle's verdict when this page
 * delivers a pure lookup; a hostile page's requests meet its attack before its ring
 */
function ringRpc (ctx: PageContext, self: Peer, hostility: Hostility | undefined): Rpc<RingRequest, RingResponse> {
  const { network, oracle, metrics: { ownerVerdicts } } = ctx
  const address = self.address
  const rpc = network.rpc(address, ringProtocol)
  return {
    request: async (to, req, options) => rpc.request(to, req, options),
    isConnected: (to) => rpc.isConnected?.(to) === true,
    connect: (to) => { rpc.connect?.(to) },
    connecting: (to) => rpc.connecting?.(to) === true,
    handle: (real) => {
      const handler = hostility != null ? hostility.ring(self, real) : real
      rpc.handle(async (from, req, options) => {
        const res = await handler(from, req, options)
        if (ownerVerdicts.size > 0 && req.route != null && res.route?.owner?.address === address) {
          const key = idFromBytes(req.route.key)
          if (ownerVerdicts.has(key)) {
            ownerVerdicts.set(key, oracle.successor(key)?.address === address)
          }
        }
        return res
      })
    }
  }
}

/** The holder a page is about to try: judged now, with global knowledge; its outcome is noted for `originReasons` */
function holderAttempt (ctx: PageContext, page: Page, holder: Peer, index: number): (delivered: boolean) => void {
  const holderPage = ctx.pages.get(holder.address)
  let before: HolderFailure = 'gone'
  if (holderPage?.alive === true) {
    before = holderPage.store.get(index) != null ? 'busy' : 'evicted'
  }
  return (delivered) => {
    if (!delivered) {
      page.attempts.get(index)?.failures.push(before)
    } else if (holderPage?.hostile === true && ctx.hostility != null) {
      ctx.hostility.honest.fromHostile++
    }
  }
}

/** The pipeline's `holderHedgeMs` for `--holder-hedge`: learned (undefined), one holder at a time, or fixed */
function hedgeMs (hedge: SimOptions['holderHedge']): number | undefined {
  if (hedge === 'auto') {
    return undefined
  }
  return hedge === 'off' ? Number.POSITIVE_INFINITY : hedge
}
