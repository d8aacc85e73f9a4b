/**
 * One simulated run: every simulated page runs the library's own parts — the
 * ring (`RingNode`), the holder directory (`DirectoryService`), the fetch
 * pipeline (`FetchPipeline`) and holdings with announce retries and home
 * copies (`Holdings`) — over `SimNetwork` in virtual time, through the
 * adapters of `sim/cdn-adapters.ts` (virtual bytes, model digests, an origin
 * on virtual time), with churn, a Zipf CDN workload and an oracle judging
 * every lookup.
 *
 * Only lookups and fetches after the warm-up are measured.
 */

import { createHash } from 'node:crypto'
import { AvoidList } from '../src/cdn/avoid-list.ts'
import { createCounters } from '../src/cdn/counters.ts'
import { DirectoryService } from '../src/cdn/directory-service.ts'
import { FetchPipeline, LOOKUP_TIMEOUT_MS, MAX_HOLDER_ATTEMPTS } from '../src/cdn/fetch-pipeline.ts'
import { Holdings } from '../src/cdn/holdings.ts'
import { Lookups } from '../src/cdn/lookups.ts'
import { decodeRingRequest, decodeRingResponse, encodeRingRequest, encodeRingResponse } from '../src/overlay/codec.ts'
import { checkRequestIds, checkResponseIds } from '../src/overlay/id-binding.ts'
import { RingRequest } from '../src/overlay/messages.ts'
import { idFromBytes } from '../src/overlay/ring-id.ts'
import { RingNode } from '../src/overlay/ring-node.ts'
import { silentLog } from '../src/overlay/seams.ts'
import { warmNewNeighbours } from '../src/overlay/warm-connections.ts'
import { LINK_BYTES_PER_SEC, SimCatalogue, SimDownloader, SimOrigin, SimPageStore, contentProtocol } from './cdn-adapters.ts'
import { SimNetwork } from './network/network.ts'
import { Oracle } from './oracle.ts'
import { SeededRandom, ZipfSampler } from './random.ts'
import { countHistogramStats, LatencyHistogram } from './result.ts'
import { Scheduler } from './scheduler.ts'
import type { ContentRequest, ContentResponse } from './cdn-adapters.ts'
import type { SimHooks } from './cli-main.ts'
import type { SimProtocol, SimTrace } from './network/protocol.ts'
import type { SimOptions } from './options.ts'
import type { SimResult } from './result.ts'
import type { Locator } from '../src/cdn/seams.ts'
import type { RingResponse } from '../src/overlay/messages.ts'
import type { Peer, Rpc } from '../src/overlay/seams.ts'
/** Smallest and largest simulated object, bytes */
const MIN_OBJECT_BYTES = 1024
const MAX_OBJECT_BYTES = 64 * 1024 * 1024
/** Spread of object sizes (lognormal sigma) */
const OBJECT_SIZE_SIGMA = 1
/** Points in the time series */
const SERIES_POINTS = 60
/** Contacts the bootstrap list (the relay's live member list) hands a joining page */
const BOOTSTRAP_CONTACTS = 3
/** Length of a simulated peer id string (libp2p Ed25519 peer ids are 52 characters) */
const ADDRESS_LENGTH = 52

export interface SimulationHooks extends Partial<SimHooks> {
  /** Receives every message delivery (for trace hashing in determinism tests) */
  trace?: SimTrace
}

/**
 * A simulated page's ring id is SHA-256 of its name, as a libp2p page's is of
 * its peer id; every peer record a page decodes is checked against it, as
 * the library checks it (`src/overlay/id-binding.ts`)
 */
const simIds = new Map<string, Uint8Array>()
function simRingIdOf (address: string): Uint8Array {
  let id = simIds.get(address)
  if (id == null) {
    id = createHash('sha256').update(address).digest()
    simIds.set(address, id)
  }
  return id
}

const ringProtocol: SimProtocol<RingRequest, RingResponse> = {
  name: 'ring',
  encodeRequest: encodeRingRequest,
  decodeRequest: (bytes) => {
    const req = decodeRingRequest(bytes)
    checkRequestIds(req, simRingIdOf)
    return req
  },
  encodeResponse: encodeRingResponse,
  decodeResponse: (bytes) => {
    const res = decodeRingResponse(bytes)
    checkResponseIds(res, simRingIdOf)
    return res
  },
  classify: (req) => {
    switch (req.type) {
      case RingRequest.Type.ROUTE: return req.route?.maintenance === true ? 'maintenance' : 'lookup'
      case RingRequest.Type.APP: return 'directory'
      default: return 'maintenance'
    }
  }
}

/** One simulated page */
interface Page {
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
  /** Per object in flight: what the lookup found and how each holder tried failed (for `originReasons`) */
  attempts: Map<number, FetchAttempts>
}

interface FetchAttempts {
  located: boolean
  listed: number
  failures: HolderFailure[]
  /** The origin was brought in beside the still running peer path and answered first */
  raceLost?: boolean
}

interface Catalogue {
  objects: SimCatalogue
  zipf: ZipfSampler
}

export async function simulate (opts: SimOptions, hooks: SimulationHooks = {}): Promise<SimResult> {
  const wallStart = performance.now()
  let peakRss = process.memoryUsage().rss
  const root = new SeededRandom(opts.seed)
  const scheduler = new Scheduler()
  const clock = scheduler.clock()
  const network = new SimNetwork(scheduler, root.fork('network'), {
    loss: opts.loss,
    trace: hooks.trace,
    bandwidthBytesPerSec: LINK_BYTES_PER_SEC,
    connectMs: opts.connectSetupMs,
    maxConnections: opts.maxConnections > 0 ? opts.maxConnections : Infinity
  })
  const oracle = new Oracle()
  const pages = new Map<string, Page>()
  const workload = root.fork('workload')
  const churn = root.fork('churn')
  const catalogue = makeCatalogue(opts, root.fork('catalogue'))
  const measureFrom = opts.warmupMs
  const measuredMs = opts.durationMs - opts.warmupMs

  // ---- metrics -----------------------------------------------------------
  const lookups = { total: 0, correct: 0, wrong: 0, failed: 0, pure: 0, correctAtOwner: 0 }
  // pure lookups in flight → whether the node that delivered one was the key's true owner when it
  // answered (set by `ringRpc`): the same answer judged when it is given rather than when it arrives
  const ownerVerdicts = new Map<bigint, boolean | undefined>()
  // why lookups went wrong or failed: the first place to look when tuning the ring
  const diagnostics = { wrong: {} as Record<string, number>, failed: {} as Record<string, number>, origin: {} as Record<string, number> }
  const joinedAt = new Map<string, number>()
  const count = (table: Record<string, number>, reason: string): void => { table[reason] = (table[reason] ?? 0) + 1 }
  const fetches = { total: 0, fromPeers: 0, fromOrigin: 0, fromLocal: 0 }
  // why a request that was not the object's first went to the origin (judged with global knowledge)
  const originReasons: Record<OriginReason, number> = { noLiveCopy: 0, inFlightOnly: 0, lookupFailed: 0, notListed: 0, holdersGone: 0, holdersEvicted: 0, holdersBusy: 0, raceLost: 0 }
  // global knowledge for that judgement: which live pages hold each object, and which are fetching it
  const copies = new Map<number, Set<string>>()
  const inFlight = new Map<number, number>()
  const bytes = { peers: 0, origin: 0, idealOrigin: 0, raceLost: 0 }
  const replication = { copies: 0, bytes: 0 }
  const hopHistogram: number[] = []
  const latency = new LatencyHistogram()
  const uploaded = new Map<string, number>()
  const requestedEver = new Set<number>()
  const series = { tSeconds: [] as number[], correctRatio: [] as number[], offload: [] as number[], liveNodes: [] as number[] }
  let window = { lookups: 0, correct: 0, peerBytes: 0, originBytes: 0 }
  let maintenanceAtWarmup = 0
  let directoryAtWarmup = 0
  let liveNodeSeconds = 0
  let lastLiveSample = { t: 0, n: 0 }
  let nextAddress = 0

  const measuring = (): boolean => scheduler.now >= measureFrom
  const trackLive = (): void => {
    const now = scheduler.now
    if (now > measureFrom) {
      const from = Math.max(lastLiveSample.t, measureFrom)
      liveNodeSeconds += lastLiveSample.n * (now - from) / 1000
    }
    lastLiveSample = { t: now, n: oracle.size }
  }

  // ---- pages -------------------------------------------------------------
  /** The ring transport of a page, noting the oracle's verdict when this page delivers a pure lookup */
  const ringRpc = (address: string): Rpc<RingRequest, RingResponse> => {
    const rpc = network.rpc(address, ringProtocol)
    return {
      request: async (to, req, options) => rpc.request(to, req, options),
      isConnected: (to) => rpc.isConnected?.(to) === true,
      connect: (to) => { rpc.connect?.(to) },
      handle: (handler) => {
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

  const createPage = (): Page => {
    const address = makeAddress(nextAddress++)
    const peer: Peer = { id: idFromBytes(simRingIdOf(address)), address }
    const random = root.fork(`node:${address}`)
    const rpc = ringRpc(address)
    const ring = new RingNode({ clock, random, rpc }, {
      self: peer,
      onNeighboursChanged: warmNewNeighbours(rpc),
      successorListSize: opts.successors,
      stabilizeIntervalMs: opts.stabilizeIntervalMs,
      fixFingersIntervalMs: opts.fixFingersIntervalMs,
      adaptiveMaintenance: opts.adaptiveMaintenance,
      maintenanceBackoff: opts.maintenanceBackoff,
      bootstrap: () => bootstrapContacts(peer)
    })
    const store = new SimPageStore(catalogue.objects, {
      maxBytes: opts.cacheMB * 1024 * 1024,
      onStore: (index) => {
        if (page.alive) {
          let set = copies.get(index)
          if (set == null) {
            set = new Set()
            copies.set(index, set)
          }
          set.add(address)
        }
      },
      onEvict: (index) => { copies.get(index)?.delete(address) }
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
    const downloader = new SimDownloader(content, store, catalogue.objects, (holder, index) => holderAttempt(page, holder, index))
    const holdings = new Holdings({ clock, locator, lookups, downloader, avoidList, counters, log: silentLog }, {
      lookupTimeoutMs: LOOKUP_TIMEOUT_MS,
      homeCopies: opts.homeCopies,
      // every object is in the site's manifest, so a home node knows the digest of each key
      trustedDigest: (key) => {
        const index = catalogue.objects.indexOfKey(key)
        return index == null ? undefined : catalogue.objects.digests[index]
      },
      uploading: () => page.alive,
      announcing: () => page.alive,
      onHomeCopy: (_key, _holder, object) => {
        if (measuring()) {
          replication.bytes += object.size
          replication.copies++
        }
      }
    })
    const origin = new SimOrigin(clock, store, catalogue.objects)
    const pipeline = new FetchPipeline<number>({ clock, locator, lookups, downloader, origin, local: store, holdings, avoidList, counters, log: silentLog }, {
      // the library's own race with the origin (ORIGIN_MARGIN_MS), as a page runs it
      deliver: (object) => {
        const index = catalogue.objects.indexOfHex(object.key)
        if (index != null) {
          store.touch(index)
        }
        return object.size
      },
      events: {
        race: (target, winner) => {
          const index = catalogue.objects.indexOfHex(target.keyHex)
          const attempts = index == null ? undefined : page.attempts.get(index)
          if (attempts != null && winner === 'origin') {
            attempts.raceLost = true
          }
        },
        lookup: ({ target, home, hops, holders, durationMs, error, message }) => {
          const index = catalogue.objects.indexOfHex(target.keyHex)
          const attempts = index == null ? undefined : page.attempts.get(index)
          if (attempts != null) {
            attempts.located = home != null
            attempts.listed = holders.length
          }
          if (!measuring()) {
            return
          }
          if (home != null) {
            judge(target.key, home, hops ?? 0, durationMs)
          } else {
            lookupFailed(page, true, error ?? 'Error', message ?? '')
          }
        }
      }
    })
    const directory: DirectoryService = new DirectoryService({ ring, random }, {
      holdsLocally: key => holdings.has(key),
      onSoleHolder: (key, holder) => { void holdings.copyAsHome(key, holder, life.signal) }
    })
    content.handle(async (_from, req) => {
      const object = store.get(req.index)
      if (object == null) {
        // the library's content server: a miss means the store let it go, so stop listing ourselves
        holdings.forget(catalogue.objects.keys[req.index])
        return { size: 0, digest: '', body: req.body }
      }
      store.touch(req.index)
      if (req.body && measuring()) {
        uploaded.set(address, (uploaded.get(address) ?? 0) + object.size)
      }
      return { size: object.size, digest: object.digest, body: req.body }
    })
    const page: Page = { peer, ring, directory, content, store, pipeline, holdings, origin, life, alive: true, attempts: new Map() }
    pages.set(address, page)
    return page
  }

  /** The holder a page is about to try: judged now, with global knowledge; its outcome is noted for `originReasons` */
  const holderAttempt = (page: Page, holder: Peer, index: number): (delivered: boolean) => void => {
    const holderPage = pages.get(holder.address)
    let before: HolderFailure = 'gone'
    if (holderPage?.alive === true) {
      before = holderPage.store.get(index) != null ? 'busy' : 'evicted'
    }
    return (delivered) => {
      if (!delivered) {
        page.attempts.get(index)?.failures.push(before)
      }
    }
  }

  // `random` (the default, what the relay answers): members drawn uniformly, so joins arrive
  // through the ring's routing. `nearest` hands out the members around the joiner's position: under a
  // burst of joins it converged worse (1 000 nodes joining in 30 s: 81 % of lookups correct against 99.9 %)
  const bootstrapContacts = (self: Peer): string[] => {
    const out: string[] = []
    if (opts.bootstrap === 'nearest') {
      return nearestMembers(oracle, self, BOOTSTRAP_CONTACTS)
    }
    for (let i = 0; i < BOOTSTRAP_CONTACTS * 2 && out.length < BOOTSTRAP_CONTACTS && oracle.size > 0; i++) {
      const p = oracle.pick(churn.next())
      if (p != null && p.address !== self.address && !out.includes(p.address)) {
        out.push(p.address)
      }
    }
    return out
  }

  const arrive = (): void => {
    const page = createPage()
    if (oracle.size === 0) {
      page.ring.create()
      joined(page)
    } else {
      page.ring.join(bootstrapContacts(page.peer))
        .then(() => { joined(page) })
        .catch(() => {
          // could not join (contacts died meanwhile): the page gives up, like a visitor leaving
          depart(page, true)
        })
    }
  }

  const joined = (page: Page): void => {
    if (!page.alive) {
      return
    }
    trackLive()
    oracle.add(page.peer)
    joinedAt.set(page.peer.address, scheduler.now)
    if (opts.sessionMedianMs > 0) {
      scheduler.after(sessionLength(opts, churn), () => { depart(page, churn.next() < opts.crashFraction) })
    }
  }

  const depart = (page: Page, crash: boolean): void => {
    if (!page.alive) {
      return
    }
    if (crash) {
      page.alive = false
      page.life.abort()
      forgetCopies(page)
      trackLive()
      oracle.remove(page.peer.address)
      page.ring.stop()
      network.crash(page.peer.address)
      pages.delete(page.peer.address)
      return
    }
    // a leaving node stops answering as owner at once (its keys are its successor's), so it
    // leaves the oracle's ring now; it stays reachable until its neighbours have been told
    trackLive()
    oracle.remove(page.peer.address)
    page.ring.leave().finally(() => {
      page.alive = false
      page.life.abort()
      forgetCopies(page)
      network.leave(page.peer.address)
      pages.delete(page.peer.address)
    }).catch(() => {})
  }

  const forgetCopies = (page: Page): void => {
    for (const index of page.store.keys()) {
      copies.get(index)?.delete(page.peer.address)
    }
  }

  // ---- workload ----------------------------------------------------------
  const fetchObject = async (page: Page, index: number): Promise<void> => {
    const measured = measuring()
    const size = catalogue.objects.sizes[index]
    const held = page.store.get(index) != null
    const firstEver = !requestedEver.has(index)
    requestedEver.add(index)
    const liveCopy = (copies.get(index)?.size ?? 0) > 0
    const othersFetching = (inFlight.get(index) ?? 0) > 0
    const attempts: FetchAttempts = { located: false, listed: 0, failures: [] }
    if (!held) {
      inFlight.set(index, (inFlight.get(index) ?? 0) + 1)
      page.attempts.set(index, attempts)
    }
    let source: string
    try {
      source = (await page.pipeline.fetch(catalogue.objects.target(index), { signal: page.life.signal, lifetime: page.life.signal })).source
    } catch {
      // the page left during the fetch
      return
    } finally {
      if (!held) {
        inFlight.set(index, (inFlight.get(index) ?? 1) - 1)
        if (page.attempts.get(index) === attempts) {
          page.attempts.delete(index)
        }
      }
    }
    if (!page.alive || !measured) {
      return
    }
    fetches.total++
    switch (source) {
      case 'local':
        fetches.fromLocal++
        return
      case 'peer':
        fetches.fromPeers++
        bytes.peers += size
        window.peerBytes += size
        break
      default:
        fetches.fromOrigin++
        bytes.origin += size
        window.originBytes += size
        count(diagnostics.origin, originReason(attempts, firstEver))
        if (!firstEver) {
          // the origin beat a peer path that was still going: the library chose it for speed (bar B4)
          originReasons[attempts.raceLost === true ? 'raceLost' : classifyOrigin(liveCopy, othersFetching, attempts.located, attempts.failures)]++
        }
        if (attempts.raceLost === true && !firstEver) {
          bytes.raceLost += size
        }
    }
    if (firstEver) {
      bytes.idealOrigin += size
    }
  }

  const originReason = (attempts: FetchAttempts, firstEver: boolean): string => {
    if (firstEver) {
      return 'first request of the object (ideal too)'
    }
    if (!attempts.located) {
      return 'lookup failed'
    }
    return attempts.listed === 0 ? 'no holder listed' : `all ${Math.min(MAX_HOLDER_ATTEMPTS, attempts.listed)} holders tried failed`
  }

  /** Counts a failed lookup; false when it does not count (not measured, or its own page left) */
  const lookupFailed = (page: Page, measured: boolean, name: string, message: string): boolean => {
    // a lookup cut short because its own page left is not the ring's failure
    if (measured && page.alive && page.ring.joined) {
      lookups.total++
      lookups.failed++
      window.lookups++
      count(diagnostics.failed, `${name}: ${message.replace(/12D3KooW\w+/g, 'X').replace(/[0-9]+/g, 'N').slice(0, 160)}`)
      return true
    }
    return false
  }

  /** Judges an answered lookup on arrival; true when it is right */
  const judge = (key: bigint, owner: Peer, hops: number, ms: number): boolean => {
    lookups.total++
    window.lookups++
    const truth = oracle.successor(key)
    const right = truth?.address === owner.address
    if (right) {
      lookups.correct++
      window.correct++
    } else {
      lookups.wrong++
      count(diagnostics.wrong, wrongReason(truth, owner))
    }
    hopHistogram[hops] = (hopHistogram[hops] ?? 0) + 1
    latency.add(ms)
    return right
  }

  const wrongReason = (truth: Peer | undefined, owner: Peer): string => {
    if (truth == null) {
      return 'no members'
    }
    if (!oracle.has(owner.address)) {
      return 'answered by a node that left meanwhile'
    }
    const ownerPage = pages.get(owner.address)
    const ownerPred = ownerPage?.ring.predecessor
    const age = scheduler.now - (joinedAt.get(truth.address) ?? 0)
    if (age < 10_000) {
      return 'true owner joined < 10 s ago'
    }
    if (ownerPred == null) {
      return 'owner had no predecessor'
    }
    if (!oracle.has(ownerPred.address)) {
      return 'owner\'s predecessor was dead'
    }
    if (ownerPage?.ring.isSuspect(ownerPred.address) === true) {
      return 'owner suspected its live predecessor'
    }
    return 'other'
  }

  const pureLookup = async (page: Page): Promise<void> => {
    const key = idFromBytes(createHash('sha256').update(`lookup:${workload.next()}`).digest())
    const started = scheduler.now
    const measured = measuring()
    if (measured) {
      ownerVerdicts.set(key, undefined)
    }
    try {
      const res = await page.ring.lookup(key, { confirm: opts.confirmLookups })
      if (measured) {
        const right = judge(key, res.owner, res.hops, scheduler.now - started)
        lookups.pure++
        // no verdict: the requester owned the key itself (0 hops), so it answered on arrival
        if (ownerVerdicts.get(key) ?? right) {
          lookups.correctAtOwner++
        }
      }
    } catch (err: any) {
      if (lookupFailed(page, measured, err.name, String(err.message))) {
        lookups.pure++
      }
    } finally {
      ownerVerdicts.delete(key)
    }
  }

  /** A Poisson process over the whole population: the superposition of every page's own */
  const poisson = (ratePerNode: number, act: (page: Page) => void): void => {
    if (ratePerNode <= 0) {
      return
    }
    const tick = (): void => {
      const member = oracle.size > 0 ? oracle.pick(workload.next()) : undefined
      const page = member != null ? pages.get(member.address) : undefined
      if (page?.alive === true && page.ring.joined) {
        act(page)
      }
      scheduler.after(workload.exponential(1000 / (ratePerNode * Math.max(1, oracle.size))), tick)
    }
    scheduler.after(workload.exponential(1000 / (ratePerNode * opts.nodes)), tick)
  }

  /** `--start converged`: every initial page a member at t = 0, with the routing state of a settled ring */
  const startConverged = (): void => {
    const initial = Array.from({ length: opts.nodes }, createPage)
    oracle.addAll(initial.map(page => page.peer))
    for (const page of initial) {
      page.ring.resume(oracle.settledState(page.peer, opts.successors))
      joined(page)
    }
  }

  // ---- schedule ----------------------------------------------------------
  // the initial population arrives during the first half of the warm-up, or is there at once
  const rampMs = opts.start === 'converged' ? 0 : opts.warmupMs / 2
  if (opts.start === 'converged') {
    scheduler.at(0, startConverged)
  } else {
    for (let i = 0; i < opts.nodes; i++) {
      scheduler.at(i === 0 ? 0 : churn.next() * rampMs, arrive)
    }
  }
  if (opts.sessionMedianMs > 0) {
    // arrivals keep the population steady: rate = nodes / mean session
    const meanSessionMs = meanSession(opts)
    const nextArrival = (): void => {
      arrive()
      scheduler.after(churn.exponential(meanSessionMs / opts.nodes), nextArrival)
    }
    scheduler.at(rampMs + churn.exponential(meanSessionMs / opts.nodes), nextArrival)
  }
  if (opts.massFailureAtMs != null) {
    scheduler.at(opts.massFailureAtMs, () => {
      for (const member of [...oracle.all()]) {
        if (churn.next() < opts.massFailureFraction) {
          const page = pages.get(member.address)
          if (page != null) {
            depart(page, true)
          }
        }
      }
    })
  }
  poisson(opts.requestRate, page => { void fetchObject(page, catalogue.zipf.sample()) })
  poisson(opts.lookupRate, page => { void pureLookup(page) })
  scheduler.at(measureFrom, () => {
    maintenanceAtWarmup = network.totals().maintenance?.bytes ?? 0
    directoryAtWarmup = network.totals().directory?.bytes ?? 0
    trackLive()
  })
  const sampleEvery = Math.max(1000, measuredMs / SERIES_POINTS)
  const sample = (): void => {
    series.tSeconds.push(round(scheduler.now / 1000, 1))
    series.correctRatio.push(window.lookups > 0 ? window.correct / window.lookups : 1)
    series.offload.push(window.peerBytes + window.originBytes > 0 ? window.peerBytes / (window.peerBytes + window.originBytes) : 0)
    series.liveNodes.push(oracle.size)
    window = { lookups: 0, correct: 0, peerBytes: 0, originBytes: 0 }
    if (scheduler.now + sampleEvery <= opts.durationMs + 1e-6) {
      scheduler.after(sampleEvery, sample)
    }
  }
  scheduler.at(measureFrom + sampleEvery, sample)

  const wallDeadline = opts.wallLimitMs > 0 ? wallStart + opts.wallLimitMs : Infinity
  await scheduler.run({
    until: opts.durationMs,
    stopWhen: () => performance.now() > wallDeadline,
    progressEveryMs: Math.max(1000, opts.durationMs / 200),
    onProgress: (now) => {
      peakRss = Math.max(peakRss, process.memoryUsage().rss)
      hooks.onProgress?.(now / opts.durationMs, `${oracle.size} nodes, ${lookups.total} lookups`)
    }
  })
  trackLive()
  peakRss = Math.max(peakRss, process.memoryUsage().rss)

  // ---- results -----------------------------------------------------------
  let violations = 0
  let predecessorViolations = 0
  for (const member of oracle.all()) {
    const page = pages.get(member.address)
    const truth = oracle.next(member)
    const believed = page?.ring.successors[0]
    if (truth != null && believed?.address !== truth.address) {
      violations++
    }
    if (page?.ring.predecessor?.address !== oracle.previous(member)?.address) {
      predecessorViolations++
    }
  }
  // a wall-limited run ends early: rates are over the part actually simulated
  const measuredSeconds = Math.max(1e-9, (scheduler.now - measureFrom) / 1000)
  const meanLive = liveNodeSeconds / measuredSeconds
  const maintenanceBytes = (network.totals().maintenance?.bytes ?? 0) - maintenanceAtWarmup
  const directoryBytes = (network.totals().directory?.bytes ?? 0) - directoryAtWarmup
  const uploads = [...uploaded.values()]
  const totalUploaded = uploads.reduce((a, b) => a + b, 0)
  // mean over every page that was a member during the measured window, uploaders or not
  const pagesInWindow = Math.max(1, countPagesInWindow(nextAddress, opts))
  const hops = countHistogramStats(Array.from(hopHistogram, h => h ?? 0))
  const delivered = bytes.peers + bytes.origin

  for (const page of pages.values()) {
    page.ring.stop()
  }

  return {
    nodes: opts.nodes,
    virtualSeconds: round(scheduler.now / 1000, 1),
    wallSeconds: round((performance.now() - wallStart) / 1000, 2),
    peakRssMB: round(peakRss / 1024 / 1024, 1),
    events: scheduler.events,
    // copies: fetches still in flight keep counting into the live objects after we return
    lookups: { ...lookups },
    hops: { mean: round(hops.mean, 3), p50: hops.p50, p99: hops.p99 },
    latencyMs: { p50: round(latency.quantile(0.5), 1), p99: round(latency.quantile(0.99), 1) },
    fetches: { ...fetches, originReasons: { ...originReasons } },
    offload: round(delivered > 0 ? bytes.peers / delivered : 0, 4),
    idealOffload: round(delivered > 0 ? 1 - bytes.idealOrigin / delivered : 0, 4),
    raceLostShare: round(delivered > 0 ? bytes.raceLost / delivered : 0, 4),
    maintenanceBytesPerNodePerSec: round(meanLive > 0 ? maintenanceBytes / meanLive / measuredSeconds : 0, 1),
    directoryBytesPerNodePerSec: round(meanLive > 0 ? directoryBytes / meanLive / measuredSeconds : 0, 1),
    homeCopies: { copies: replication.copies, bytesPerNodePerSec: round(meanLive > 0 ? replication.bytes / meanLive / measuredSeconds : 0, 1), overDelivered: round(delivered > 0 ? replication.bytes / delivered : 0, 4) },
    upload: { maxOverMean: round(uploads.length > 0 ? Math.max(...uploads) / (totalUploaded / pagesInWindow) : 0, 2) },
    ring: { violations, predecessorViolations },
    options: { ...opts },
    diagnostics: structuredClone(diagnostics),
    series: structuredClone(series),
    hopHistogram: Array.from(hopHistogram, h => h ?? 0)
  }

  function countPagesInWindow (created: number, o: SimOptions): number {
    // pages alive at warm-up plus those that arrived after it
    return o.sessionMedianMs > 0 ? Math.max(o.nodes, created - o.nodes) : o.nodes
  }
}

type HolderFailure = 'gone' | 'evicted' | 'busy'
type OriginReason = 'noLiveCopy' | 'inFlightOnly' | 'lookupFailed' | 'notListed' | 'holdersGone' | 'holdersEvicted' | 'holdersBusy' | 'raceLost'

/**
 * Why a repeated request ended at the origin, most fundamental cause first: nobody alive held the
 * object (`inFlightOnly`: only pages still downloading it), the lookup failed, the home node listed
 * nobody, or every holder tried failed (some were busy/timed out, else some had evicted it, else all
 * had left)
 */
function classifyOrigin (liveCopy: boolean, othersFetching: boolean, located: boolean, failures: HolderFailure[]): OriginReason {
  if (!liveCopy) {
    return othersFetching ? 'inFlightOnly' : 'noLiveCopy'
  }
  if (!located) {
    return 'lookupFailed'
  }
  if (failures.length === 0) {
    return 'notListed'
  }
  if (failures.includes('busy')) {
    return 'holdersBusy'
  }
  return failures.includes('evicted') ? 'holdersEvicted' : 'holdersGone'
}

function makeCatalogue (opts: SimOptions, random: SeededRandom): Catalogue {
  const mean = opts.meanObjectKB * 1024
  const mu = Math.log(mean) - OBJECT_SIZE_SIGMA ** 2 / 2
  const sizes: number[] = []
  for (let i = 0; i < opts.objects; i++) {
    sizes.push(Math.round(Math.min(MAX_OBJECT_BYTES, Math.max(MIN_OBJECT_BYTES, random.lognormal(mu, OBJECT_SIZE_SIGMA)))))
  }
  return { objects: new SimCatalogue(sizes), zipf: new ZipfSampler(opts.objects, opts.zipf, random.fork('zipf')) }
}

function meanSession (opts: SimOptions): number {
  // exponential: median = mean · ln 2; Pareto (shape 2): median = scale · √2, mean = 2 · scale
  return opts.sessionDist === 'pareto' ? 2 * opts.sessionMedianMs / Math.SQRT2 : opts.sessionMedianMs / Math.LN2
}

function sessionLength (opts: SimOptions, random: SeededRandom): number {
  return opts.sessionDist === 'pareto'
    ? random.pareto(opts.sessionMedianMs / Math.SQRT2, 2)
    : random.exponential(meanSession(opts))
}

function makeAddress (n: number): string {
  const tail = n.toString(36)
  return '12D3KooW' + tail.padStart(ADDRESS_LENGTH - 8, '0')
}

function round (x: number, digits: number): number {
  const f = 10 ** digits
  return Math.round(x * f) / f
}

/** Up to `count` live members around `self`'s position, alternating sides, the predecessor side first */
function nearestMembers (oracle: Oracle, self: Peer, count: number): string[] {
  const out: string[] = []
  let after = oracle.successor(self.id)
  if (after?.address === self.address) {
    after = oracle.next(self)
  }
  let before = after == null ? undefined : oracle.previous(after)
  if (before?.address === self.address) {
    before = oracle.previous(before)
  }
  for (let i = 0; i < count && out.length < count; i++) {
    for (const p of [before, after]) {
      if (p != null && p.address !== self.address && !out.includes(p.address) && out.length < count) {
        out.push(p.address)
      }
    }
    before = before == null ? undefined : oracle.previous(before)
    after = after == null ? undefined : oracle.next(after)
  }
  return out
}
