/**
 * One simulated run, the scenario driver: every simulated page runs the
 * library's own parts (wired in `page.ts`) over `SimNetwork` in virtual time,
 * with churn (arrivals, sessions, crashes and clean departures, a mass
 * failure), a Zipf CDN workload and an oracle judging every lookup
 * (`run-metrics.ts`).
 *
 * Only lookups and fetches after the warm-up are measured.
 */

import { createHash } from 'node:crypto'
import { idFromBytes } from '../src/overlay/ring-id.ts'
import { LINK_BYTES_PER_SEC, SimCatalogue } from './cdn-adapters.ts'
import { Hostility } from './hostile.ts'
import { SimNetwork } from './network/network.ts'
import { Oracle } from './oracle.ts'
import { createPage as newPage } from './page.ts'
import { SeededRandom, ZipfSampler } from './random.ts'
import { RunMetrics } from './run-metrics.ts'
import { Scheduler } from './scheduler.ts'
import type { SimHooks } from './cli-main.ts'
import type { SimTrace } from './network/protocol.ts'
import type { SimOptions } from './options.ts'
import type { FetchAttempts, Page } from './page.ts'
import type { SimResult } from './result.ts'
import type { Peer } from '../src/overlay/seams.ts'
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

interface Catalogue {
  objects: SimCatalogue
  zipf: ZipfSampler
}

export async function simulate (opts: SimOptions, hooks: SimulationHooks = {}): Promise<SimResult> {
  const wallStart = performance.now()
  let peakRss = process.memoryUsage.rss()
  const root = new SeededRandom(opts.seed)
  const scheduler = new Scheduler()
  const clock = scheduler.clock()
  const network = new SimNetwork(scheduler, root.fork('network'), {
    loss: opts.loss,
    trace: hooks.trace,
    bandwidthBytesPerSec: LINK_BYTES_PER_SEC,
    connectMs: opts.connectSetupMs,
    maxConnections: opts.maxConnections > 0 ? opts.maxConnections : Infinity,
    connectStall: opts.connectStall,
    connectionLossMs: opts.connectionLossMs
  })
  const oracle = new Oracle()
  const pages = new Map<string, Page>()
  const workload = root.fork('workload')
  const churn = root.fork('churn')
  const catalogue = makeCatalogue(opts, root.fork('catalogue'))
  const measureFrom = opts.warmupMs
  const measuredMs = opts.durationMs - opts.warmupMs
  const metrics = new RunMetrics(opts, scheduler, oracle, pages)
  // its own fork: drawing the hostile pages perturbs no other stream of the run
  const hostility = opts.hostileFraction != null ? new Hostility(opts, root.fork('hostile'), clock, () => metrics.measuring()) : undefined
  let nextAddress = 0

  // ---- pages -------------------------------------------------------------
  const context = { opts, root, clock, network, oracle, pages, catalogue: catalogue.objects, metrics, hostility, bootstrapContacts: (self: Peer) => bootstrapContacts(self) }
  const createPage = (): Page => {
    const n = nextAddress++
    return newPage(context, makeAddress(n), hostility?.choose(n) === true)
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
      const arrived = scheduler.now
      page.ring.join(bootstrapContacts(page.peer))
        .then(() => {
          metrics.joins.push(scheduler.now - arrived)
          joined(page)
        })
        .catch(() => {
          // could not join (contacts died meanwhile): the page gives up, like a visitor leaving
          metrics.joinsFailed++
          depart(page, true)
        })
    }
  }

  const joined = (page: Page): void => {
    if (!page.alive) {
      return
    }
    metrics.trackLive()
    oracle.add(page.peer)
    metrics.joinedAt.set(page.peer.address, scheduler.now)
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
      metrics.trackLive()
      oracle.remove(page.peer.address)
      page.ring.stop()
      network.crash(page.peer.address)
      pages.delete(page.peer.address)
      return
    }
    // a leaving node stops answering as owner at once (its keys are its successor's), so it
    // leaves the oracle's ring now; it stays reachable until its neighbours have been told
    metrics.trackLive()
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
      metrics.copies.get(index)?.delete(page.peer.address)
    }
  }

  // ---- workload ----------------------------------------------------------
  const fetchObject = async (page: Page, index: number): Promise<void> => {
    const measured = metrics.measuring()
    const size = catalogue.objects.sizes[index]
    const held = page.store.get(index) != null
    const firstEver = !metrics.requestedEver.has(index)
    metrics.requestedEver.add(index)
    const liveCopy = (metrics.copies.get(index)?.size ?? 0) > 0
    const othersFetching = (metrics.inFlight.get(index) ?? 0) > 0
    const attempts: FetchAttempts = { located: false, listed: 0, failures: [] }
    if (!held) {
      metrics.inFlight.set(index, (metrics.inFlight.get(index) ?? 0) + 1)
      page.attempts.set(index, attempts)
    }
    let source: string
    const open = hostility?.fetchStarted(measured)
    try {
      source = (await page.pipeline.fetch(catalogue.objects.target(index), { signal: page.life.signal, lifetime: page.life.signal })).source
    } catch (err: any) {
      // the page left during the fetch, or (the library's failure) it did not
      hostility?.fetchFailed(page.alive && measured, err)
      return
    } finally {
      hostility?.fetchEnded(open)
      if (!held) {
        metrics.inFlight.set(index, (metrics.inFlight.get(index) ?? 1) - 1)
        if (page.attempts.get(index) === attempts) {
          page.attempts.delete(index)
        }
      }
    }
    if (!page.alive || !measured) {
      return
    }
    hostility?.fetched(open, source)
    metrics.fetched(source, size, attempts, firstEver, liveCopy, othersFetching)
  }

  const pureLookup = async (page: Page): Promise<void> => {
    const key = idFromBytes(createHash('sha256').update(`lookup:${workload.next()}`).digest())
    const started = scheduler.now
    const measured = metrics.measuring()
    if (measured) {
      metrics.ownerVerdicts.set(key, undefined)
    }
    try {
      const res = await page.ring.lookup(key, { confirm: opts.confirmLookups })
      if (measured) {
        const right = metrics.judge(key, res.owner, res.hops, scheduler.now - started)
        metrics.lookups.pure++
        // no verdict: the requester owned the key itself (0 hops), so it answered on arrival
        if (metrics.ownerVerdicts.get(key) ?? right) {
          metrics.lookups.correctAtOwner++
        }
      }
    } catch (err: any) {
      if (metrics.lookupFailed(page, measured, key, `lookup: ${String(err.name)}`, String(err.message))) {
        metrics.lookups.pure++
      }
    } finally {
      metrics.ownerVerdicts.delete(key)
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
      // an attacker makes no requests: every one measured is an honest page's
      if (page?.alive === true && page.ring.joined && !page.hostile) {
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
  scheduler.at(measureFrom, () => { metrics.warmupEnded(network) })
  const sampleEvery = Math.max(1000, measuredMs / SERIES_POINTS)
  const sample = (): void => {
    metrics.sample()
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
      // rss() alone: memoryUsage() also walks the heap's spaces, 1.7 % of a 1 000-page run
      peakRss = Math.max(peakRss, process.memoryUsage.rss())
      hooks.onProgress?.(now / opts.durationMs, `${oracle.size} nodes, ${metrics.lookups.total} lookups`)
    }
  })
  metrics.trackLive()
  peakRss = Math.max(peakRss, process.memoryUsage.rss())

  const result = metrics.result(network, nextAddress, wallStart, peakRss)
  if (hostility != null) {
    result.hostile = hostility.section(unverifiedStored(pages, catalogue.objects), scheduler.now)
  }
  return result
}

/** Objects in live honest pages' stores whose digest is not the object's: bytes the digest check let through */
function unverifiedStored (pages: Map<string, Page>, objects: SimCatalogue): number {
  let bad = 0
  for (const page of pages.values()) {
    if (page.alive && !page.hostile) {
      for (const index of page.store.keys()) {
        if (page.store.get(index)?.digest !== objects.digests[index]) {
          bad++
        }
      }
    }
  }
  return bad
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

export function makeAddress (n: number): string {
  const tail = n.toString(36)
  return '12D3KooW' + tail.padStart(ADDRESS_LENGTH - 8, '0')
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
