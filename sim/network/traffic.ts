/**
 * The simulated network's accounting: a few counters per (address, traffic
 * class), in typed arrays; no per-message objects are kept.
 */
import type { SimNode } from './node.ts'

/** One address's traffic in one class (or all classes), in bytes and messages; bytes include virtual bytes */
export interface TrafficStats {
  requestBytesSent: number
  /** What the node uploaded answering others */
  responseBytesSent: number
  requestBytesReceived: number
  responseBytesReceived: number
  messagesSent: number
  messagesReceived: number
}

/** The whole network's traffic in one class */
export interface ClassTotals {
  /** Messages sent: requests plus answers (error answers included) */
  messages: number
  /** Bytes sent, encoded plus virtual */
  bytes: number
  requests: number
  requestBytes: number
  responses: number
  responseBytes: number
  /** Messages sent that were never delivered: random loss, or sent to a node that had crashed or gone */
  lost: number
}

/** Per (class, node) counters, STRIDE numbers per node */
export const REQUEST_BYTES_SENT = 0
export const RESPONSE_BYTES_SENT = 1
export const REQUEST_BYTES_RECEIVED = 2
export const RESPONSE_BYTES_RECEIVED = 3
const MESSAGES_SENT = 4
const MESSAGES_RECEIVED = 5
const STRIDE = 6

/** Traffic per (class, node index) and per class, with the network-wide message counts */
export class TrafficLedger {
  private readonly classIndexes = new Map<string, number>()
  private readonly classNames: string[] = []
  /** counters[cls][node.index × STRIDE + field] */
  private readonly counters: Float64Array[] = []
  private readonly classTotals: ClassTotals[] = []
  private capacity: number
  /** Messages that reached a live receiver */
  delivered = 0
  /** Messages sent but never delivered */
  lost = 0
  /** Messages sent: requests plus answers */
  sent = 0

  constructor (capacity: number) {
    this.capacity = capacity
  }

  /** The counter row of a traffic class, registering it on first use */
  classIndex (cls: string): number {
    let index = this.classIndexes.get(cls)
    if (index === undefined) {
      index = this.classNames.length
      this.classIndexes.set(cls, index)
      this.classNames.push(cls)
      this.counters.push(new Float64Array(this.capacity * STRIDE))
      this.classTotals.push({ messages: 0, bytes: 0, requests: 0, requestBytes: 0, responses: 0, responseBytes: 0, lost: 0 })
    }
    return index
  }

  /** `node` sent a request of `size` bytes in class `cls` */
  requestSent (node: SimNode, cls: number, size: number): void {
    this.count(node, cls, REQUEST_BYTES_SENT, size)
    const totals = this.classTotals[cls]
    totals.requests++
    totals.requestBytes += size
  }

  /** `node` sent an answer of `size` bytes in class `cls` */
  responseSent (node: SimNode, cls: number, size: number): void {
    this.count(node, cls, RESPONSE_BYTES_SENT, size)
    const totals = this.classTotals[cls]
    totals.responses++
    totals.responseBytes += size
  }

  /** A message reached `node`; `field` says whether it was a request or an answer */
  received (cls: number, node: SimNode, field: number, size: number): void {
    this.delivered++
    const row = this.counters[cls]
    const base = node.index * STRIDE
    row[base + field] += size
    row[base + MESSAGES_RECEIVED]++
  }

  /** A message of class `cls` was sent and never delivered */
  lose (cls: number): void {
    this.lost++
    this.classTotals[cls].lost++
  }

  /** Traffic of node `index` in class `cls`, or in all classes */
  stats (index: number, cls?: string): TrafficStats {
    const stats: TrafficStats = { requestBytesSent: 0, responseBytesSent: 0, requestBytesReceived: 0, responseBytesReceived: 0, messagesSent: 0, messagesReceived: 0 }
    const base = index * STRIDE
    for (let c = 0; c < this.counters.length; c++) {
      if (cls !== undefined && this.classNames[c] !== cls) {
        continue
      }
      const row = this.counters[c]
      stats.requestBytesSent += row[base + REQUEST_BYTES_SENT]
      stats.responseBytesSent += row[base + RESPONSE_BYTES_SENT]
      stats.requestBytesReceived += row[base + REQUEST_BYTES_RECEIVED]
      stats.responseBytesReceived += row[base + RESPONSE_BYTES_RECEIVED]
      stats.messagesSent += row[base + MESSAGES_SENT]
      stats.messagesReceived += row[base + MESSAGES_RECEIVED]
    }
    return stats
  }

  /** Traffic class names seen so far */
  classes (): string[] {
    return [...this.classNames]
  }

  /** Network-wide traffic per class (copies) */
  totals (): Record<string, ClassTotals> {
    const out: Record<string, ClassTotals> = {}
    for (let c = 0; c < this.classNames.length; c++) {
      out[this.classNames[c]] = { ...this.classTotals[c] }
    }
    return out
  }

  /** Makes room for node indexes below `capacity` */
  grow (capacity: number): void {
    this.capacity = capacity
    for (let c = 0; c < this.counters.length; c++) {
      const bigger = new Float64Array(capacity * STRIDE)
      bigger.set(this.counters[c])
      this.counters[c] = bigger
    }
  }

  private count (node: SimNode, cls: number, field: number, size: number): void {
    this.sent++
    const row = this.counters[cls]
    const base = node.index * STRIDE
    row[base + field] += size
    row[base + MESSAGES_SENT]++
    const totals = this.classTotals[cls]
    totals.messages++
    totals.bytes += size
  }
}
