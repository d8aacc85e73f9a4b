/**
 * The simulated network's connection model (`connectMs` > 0): a browser pays
 * a WebRTC set-up through the relay before its first message to a peer, and
 * keeps only so many connections open. The first request between two
 * addresses starts a connection that is ready `connectMs` plus two round trips
 * later (offer and answer through the relay, then ICE and DTLS); requests wait
 * for it, and one whose deadline passes first is never sent, as with libp2p,
 * while the connection still comes up for the next. Each address keeps at
 * most `maxConnections` (least recently used closed first, on both sides), and
 * a closed connection costs a new set-up. A departed address's connections
 * close with it.
 *
 * With `stallChance` > 0 a new set-up stalls that often: it is ready only
 * `CONNECT_STALL_MS` later than it would be, as when a WebRTC dial between
 * two pages stalls after ICE and DTLS until libp2p's per-address deadline
 * and the dial after it connects (traced in Chromium, bench/RESULTS.md).
 */
import type { LatencyModel } from './latency.ts'
import type { SeededRandom } from '../random.ts'
import type { SimNode } from './node.ts'

/** What a stalled set-up adds: libp2p's per-address dial deadline (`ADDRESS_DIAL_TIMEOUT`), ms */
export const CONNECT_STALL_MS = 6_000

export class Connections {
  /** 0 = connections are free and never counted */
  readonly connectMs: number
  private readonly maxConnections: number
  private readonly latency: LatencyModel
  private readonly stallChance: number
  private readonly random?: SeededRandom
  /** Per node index: its open (or opening) connections, peer index → virtual time ready, least recently used first */
  private readonly links: Array<Map<number, number> | undefined> = []
  /** Connections set up so far */
  opened = 0

  constructor (connectMs: number, maxConnections: number, latency: LatencyModel, stall?: { chance: number, random: SeededRandom }) {
    this.connectMs = connectMs
    this.maxConnections = maxConnections
    this.latency = latency
    this.stallChance = stall?.chance ?? 0
    this.random = stall?.random
  }

  /** Whether `from` holds a connection to `to` that is up at `now` */
  isUp (from: SimNode, to: SimNode, now: number): boolean {
    const ready = this.links[from.index]?.get(to.index)
    return ready !== undefined && ready <= now
  }

  /** Whether `from` is setting up a connection to `to` at `now` (opened, not ready yet) */
  isOpening (from: SimNode, to: SimNode, now: number): boolean {
    const ready = this.links[from.index]?.get(to.index)
    return ready !== undefined && ready > now
  }

  /**
   * When the connection between `from` and `to` is (or will be) ready: an open
   * or opening one is reused and becomes the most recently used on both sides;
   * otherwise one is set up now
   */
  readyAt (from: SimNode, to: SimNode, now: number): number {
    if (from === to) {
      return now
    }
    const mine = this.linksOf(from)
    const ready = mine.get(to.index)
    if (ready !== undefined) {
      mine.delete(to.index)
      mine.set(to.index, ready)
      const theirs = this.linksOf(to)
      theirs.delete(from.index)
      theirs.set(from.index, ready)
      return ready
    }
    // drawn only when stalls are modelled, so runs without them keep their random streams
    const stalled = this.stallChance > 0 && this.random?.chance(this.stallChance) === true
    const at = now + this.connectMs + 4 * this.latency.propagation(from, to) + (stalled ? CONNECT_STALL_MS : 0)
    this.opened++
    this.link(from, to, at)
    this.link(to, from, at)
    return at
  }

  /** Closes every connection of `node`, on both sides; returns the indexes of the peers that held one */
  close (node: SimNode): number[] {
    const links = this.links[node.index]
    if (links === undefined) {
      return []
    }
    const peers = [...links.keys()]
    for (const peer of peers) {
      this.links[peer]?.delete(node.index)
    }
    this.links[node.index] = undefined
    return peers
  }

  private linksOf (node: SimNode): Map<number, number> {
    let links = this.links[node.index]
    if (links === undefined) {
      links = new Map()
      this.links[node.index] = links
    }
    return links
  }

  /** Records a connection on `a`'s side, closing `a`'s least recently used one beyond the budget */
  private link (a: SimNode, b: SimNode, readyAt: number): void {
    const links = this.linksOf(a)
    links.set(b.index, readyAt)
    if (links.size > this.maxConnections) {
      const oldest = links.keys().next().value as number
      links.delete(oldest)
      this.links[oldest]?.delete(a.index)
    }
  }
}
