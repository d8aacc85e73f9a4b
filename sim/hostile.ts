/**
 * Hostile pages (`--hostile-fraction`, `--hostile-behaviour`): a share of the
 * pages attacks the ring's routing, as `bench/attacks/ring.ts` attacks holders
 * over real libp2p, but at simulator scale. The library does not know about
 * attacks: the hostile page runs the same code as any page, and the attack
 * sits in front of its ring and content handlers, on the simulator's side. A
 * forged answer is a plain message that the network encodes with the real
 * codec (`ringProtocol`, `contentProtocol`), so the requester decodes and
 * checks it exactly as it would a real one.
 *
 * - `drop`: a normal member for upkeep (stabilize, notify, probes, leaves,
 * directory messages and maintenance ROUTEs are answered by the real code,
 * so it stays in the others' routing tables) that swallows every lookup
 * ROUTE it is sent: no answer, the sender's deadline has to end it ("accept
 * streams and never answer").
 * - `claim`: answers every lookup ROUTE it is sent as if it owned the key (it
 * names itself, with its true peer record: ids are bound to addresses), and a
 * directory LOCATE with itself as the only holder; asked for the object, it
 * sends a version whose digest is not the object's (bytes that are not it).
 *
 * A hostile page makes no lookups or fetches of its own and keeps no home
 * copies, so every lookup and fetch the run measures is an honest page's.
 */
import { createHash } from 'node:crypto'
import { DirectoryResponse } from '../src/cdn/directory-messages.ts'
import { RingRequest } from '../src/overlay/messages.ts'
import { peerToWire } from '../src/overlay/wire.ts'
import { LatencyHistogram } from './result.ts'
import type { ContentRequest, ContentResponse, SimCatalogue } from './cdn-adapters.ts'
import type { HostileBehaviour, SimOptions } from './options.ts'
import type { SeededRandom } from './random.ts'
import type { HostileSection } from './result.ts'
import type { RingResponse } from '../src/overlay/messages.ts'
import type { Address, Clock, Peer, RpcHandlerOptions } from '../src/overlay/seams.ts'

/** A measured fetch still running this long before the end of the run counts as unfinished, ms */
export const UNFINISHED_FETCH_MS = 60_000

export type RingHandler = (from: Address, req: RingRequest, options: RpcHandlerOptions) => Promise<RingResponse>
export type ContentHandler = (from: Address, req: ContentRequest, options: RpcHandlerOptions) => Promise<ContentResponse>

export interface OpenFetch { startedAt: number }

/** What the honest pages' fetches came to, beside the run's lookup and fetch counts */
export interface HonestFetches {
  /** Fetches that threw while their page was still there */
  failed: number
  failures: Record<string, number>
  /** Time of each measured fetch that went to the network (peer or origin), issue to bytes */
  latency: LatencyHistogram
  /** Start times of measured fetches still running */
  open: Set<OpenFetch>
  /** Fetches whose bytes came from a hostile page: must stay 0, a hostile page only serves bytes that are not the object */
  fromHostile: number
}

export function honestFetches (): HonestFetches {
  return { failed: 0, failures: {}, latency: new LatencyHistogram(), open: new Set(), fromHostile: 0 }
}

/** Which pages are hostile, what they do, and what their attack did */
export class Hostility {
  readonly fraction: number
  readonly behaviour: HostileBehaviour
  readonly honest = honestFetches()
  /** Hostile pages made over the run (the initial ones and later arrivals) */
  created = 0
  /** Lookup ROUTEs swallowed (`drop`), answered as owner (`claim`), content requests answered with a forged digest (`claim`), after the warm-up */
  readonly attack = { swallowed: 0, claimed: 0, forgedContent: 0 }
  private readonly initial = new Set<number>()
  private readonly nodes: number
  private readonly random: SeededRandom
  private readonly measuring: () => boolean
  private readonly clock: Clock

  constructor (opts: SimOptions, random: SeededRandom, clock: Clock, measuring: () => boolean) {
    this.clock = clock
    this.fraction = opts.hostileFraction ?? 0
    this.behaviour = opts.hostileBehaviour ?? 'drop'
    this.nodes = opts.nodes
    this.random = random
    this.measuring = measuring
    // exactly round(F · N) of the initial pages, so "10 % of 1 000" is 100 pages whatever the draw
    const order = Array.from({ length: opts.nodes }, (_, i) => i)
    const count = Math.round(this.fraction * opts.nodes)
    for (let i = 0; i < count; i++) {
      const j = i + Math.floor(random.next() * (order.length - i))
      ;[order[i], order[j]] = [order[j], order[i]]
      this.initial.add(order[i])
    }
  }

  /** Whether the `n`th page made in the run is hostile: initial pages from the fixed draw, later arrivals each with the fraction's chance */
  choose (n: number): boolean {
    const hostile = n < this.nodes ? this.initial.has(n) : this.random.next() < this.fraction
    if (hostile) {
      this.created++
    }
    return hostile
  }

  /** An honest page's fetch starts; what it returns goes to the calls below (nothing when not `measured`) */
  fetchStarted (measured: boolean): OpenFetch | undefined {
    if (!measured) {
      return undefined
    }
    const open = { startedAt: this.clock.now() }
    this.honest.open.add(open)
    return open
  }

  fetchEnded (open: OpenFetch | undefined): void {
    if (open != null) {
      this.honest.open.delete(open)
    }
  }

  /** A fetch ended with bytes from `source`: its time counts when they came over the network */
  fetched (open: OpenFetch | undefined, source: string): void {
    if (open != null && source !== 'local') {
      this.honest.latency.add(this.clock.now() - open.startedAt)
    }
  }

  /** A fetch threw; it counts when its page was still there and it was measured (`counts`) */
  fetchFailed (counts: boolean, err: any): void {
    if (counts) {
      this.honest.failed++
      const name = String(err?.name ?? 'Error')
      this.honest.failures[name] = (this.honest.failures[name] ?? 0) + 1
    }
  }

  /** The ring handler a hostile page answers with, in front of its real one */
  ring (self: Peer, real: RingHandler): RingHandler {
    return async (from, req, options) => {
      if (req.type !== RingRequest.Type.ROUTE || req.route == null || req.route.maintenance) {
        return real(from, req, options)
      }
      const measured = this.measuring()
      switch (this.behaviour) {
        case 'drop':
          if (measured) {
            this.attack.swallowed++
          }
          return new Promise<RingResponse>(() => {})
        case 'claim': {
          if (measured) {
            this.attack.claimed++
          }
          const owner = peerToWire(self)
          const app = req.route.app != null ? DirectoryResponse.encode({ holders: [owner] }) : undefined
          return { error: 0, message: '', route: { owner, hops: req.route.hops, app } }
        }
        default:
          return assertNever(this.behaviour)
      }
    }
  }

  /** The content handler a claiming page answers with: every object offered, each with a digest that is not its own */
  content (catalogue: SimCatalogue): ContentHandler | undefined {
    if (this.behaviour !== 'claim') {
      return undefined
    }
    return async (_from, req) => {
      if (this.measuring()) {
        this.attack.forgedContent++
      }
      return { size: catalogue.sizes[req.index] ?? 1, digest: forgedDigest(req.index), body: req.body }
    }
  }

  /**
   * The result's `hostile` section. `unverified`: objects in live honest
   * pages' stores whose digest is not the object's; `now`: the end of the run
   */
  section (unverified: number, now: number): HostileSection {
    const { honest } = this
    let unfinished = 0
    for (const fetch of honest.open) {
      if (fetch.startedAt <= now - UNFINISHED_FETCH_MS) {
        unfinished++
      }
    }
    return {
      fraction: this.fraction,
      behaviour: this.behaviour,
      count: this.initial.size,
      created: this.created,
      ...this.attack,
      honest: {
        fetchesFailed: honest.failed,
        fetchesUnfinished: unfinished,
        fetchesFromHostile: honest.fromHostile,
        unverifiedStored: unverified,
        fetchLatencyMs: { p50: round1(honest.latency.quantile(0.5)), p95: round1(honest.latency.quantile(0.95)), p99: round1(honest.latency.quantile(0.99)) },
        failures: { ...honest.failures }
      }
    }
  }
}

/** A digest no object of the catalogue has */
function forgedDigest (index: number): string {
  return createHash('sha256').update(`forged ${index}`).digest('hex')
}

function round1 (x: number): number {
  return Math.round(x * 10) / 10
}

function assertNever (x: never): never {
  throw new Error(`unexpected hostile behaviour ${String(x)}`)
}
