/**
 * The simulated network's latency model.
 *
 * Each address gets random coordinates in the unit square (from its own fork
 * of the network's random stream, so it does not depend on join order).
 * One-way delay = round(minLatencyMs + distance × latencySpanMs / √2) plus the
 * transfer time of the message's bytes at `bandwidthBytesPerSec`, rounded to
 * whole milliseconds so that many deliveries share an instant (the scheduler
 * pays once per instant to settle promise chains).
 *
 * With `uplinkQueueing`, a node's messages queue on its uplink: a message
 * starts transmitting only when the node's previous message has finished.
 */
import type { SimNode } from './node.ts'
import type { SeededRandom } from '../random.ts'

/** Smallest one-way delay, between two nodes at the same coordinates */
export const MIN_LATENCY_MS = 10
/** Extra one-way delay across the whole diagonal of the unit square */
export const LATENCY_SPAN_MS = 100
/** 10 Mbit/s */
export const BANDWIDTH_BYTES_PER_SEC = 1_250_000

export interface LatencyModelInit {
  minLatencyMs: number
  latencySpanMs: number
  bandwidthBytesPerSec: number
  uplinkQueueing: boolean
  /** Rows to allocate at first: node indexes below this need no `grow` */
  capacity: number
}

/** Coordinates and uplinks per node index, in typed arrays grown with the network's node count */
export class LatencyModel {
  private readonly minLatencyMs: number
  /** Delay per unit of distance: the span over the unit square's diagonal */
  private readonly msPerDistance: number
  private readonly msPerByte: number
  private readonly uplinkQueueing: boolean
  /** Per node: x, y in the unit square */
  private coords: Float64Array
  /** Per node: virtual time its uplink is free again (only with `uplinkQueueing`) */
  private uplinkFreeAt: Float64Array

  constructor (init: LatencyModelInit) {
    this.minLatencyMs = init.minLatencyMs
    this.msPerDistance = init.latencySpanMs / Math.SQRT2
    this.msPerByte = 1000 / init.bandwidthBytesPerSec
    this.uplinkQueueing = init.uplinkQueueing
    this.coords = new Float64Array(init.capacity * 2)
    this.uplinkFreeAt = new Float64Array(init.capacity)
  }

  /** Places node `index` at coordinates drawn from `random` */
  place (index: number, random: SeededRandom): void {
    this.coords[2 * index] = random.next()
    this.coords[2 * index + 1] = random.next()
  }

  propagation (from: SimNode, to: SimNode): number {
    const coords = this.coords
    const dx = coords[2 * from.index] - coords[2 * to.index]
    const dy = coords[2 * from.index + 1] - coords[2 * to.index + 1]
    return Math.round(this.minLatencyMs + Math.sqrt(dx * dx + dy * dy) * this.msPerDistance)
  }

  /** Virtual time a message of `size` bytes sent at `now` from `from` reaches `to` */
  arrival (from: SimNode, to: SimNode, size: number, now: number): number {
    const transfer = size * this.msPerByte
    if (this.uplinkQueueing) {
      const freeAt = this.uplinkFreeAt[from.index]
      const start = freeAt > now ? freeAt : now
      this.uplinkFreeAt[from.index] = start + transfer
      return Math.max(now, Math.round(start + transfer)) + this.propagation(from, to)
    }
    return now + this.propagation(from, to) + Math.round(transfer)
  }

  /** Makes room for node indexes below `capacity` */
  grow (capacity: number): void {
    const coords = new Float64Array(capacity * 2)
    coords.set(this.coords)
    this.coords = coords
    const uplinkFreeAt = new Float64Array(capacity)
    uplinkFreeAt.set(this.uplinkFreeAt)
    this.uplinkFreeAt = uplinkFreeAt
  }
}
