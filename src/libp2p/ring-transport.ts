/**
 * The ring protocol over libp2p: a `StreamRpc` for ring messages that decodes
 * with the overlay's limited codec, checks every peer's ring id against its
 * peer id, learns dialling hints from what it reads, counts what it sends, and
 * gives the ring an `Rpc` that notes every peer it talks to as a user of its
 * connection (the connection budget keeps those open).
 */
import { decodeRingRequest, decodeRingResponse, encodeRingResponse } from '../overlay/codec.ts'
import { checkRequestIds, checkResponseIds } from '../overlay/id-binding.ts'
import { RingRequest } from '../overlay/messages.ts'
import { MAX_RING_MESSAGE_BYTES } from '../overlay/wire.ts'
import { libp2pRingIdOf } from './ring-id-binding.ts'
import { StreamRpc } from './stream-rpc.ts'
import type { AddressBook } from './address-book.ts'
import type { ConnectionBudget } from './connection-budget.ts'
import type { StreamRpcComponents } from './stream-rpc.ts'
import type { CdnCounters } from '../cdn/counters.ts'
import type { RingIdOf } from '../overlay/id-binding.ts'
import type { RingResponse } from '../overlay/messages.ts'
import type { Rpc } from '../overlay/seams.ts'

export interface RingTransportInit {
  protocol: string
  addressBook: AddressBook
  budget: ConnectionBudget
  counters: CdnCounters
  /** @default RING_MAX_STREAMS (96) */
  maxStreams?: number
}

/**
 * Concurrent ring streams per connection and direction. Every accepted
 * stream can hold up to its muxer's receive window of unread bytes (256 KiB
 * with yamux) even when its request is refused busy unread, so this bounds
 * what one peer's connection can make us buffer (24 MiB; at 256 streams one
 * connection held 64 MiB, bench:attacks:ring `streams`). Honest peers stay
 * far below it: a page answers at most 32 waiting requests per sender and
 * queues its own lookups per next hop within that share.
 */
export const RING_MAX_STREAMS = 96

export class RingTransport {
  /** Ring requests sent, by message type */
  readonly sentByType: Record<string, number> = {}
  /** The ring id every peer record this transport decodes must have (the id binding, cached) */
  readonly ringIdOf: RingIdOf
  private readonly rpc: StreamRpc<RingRequest, RingResponse>
  private readonly budget: ConnectionBudget
  private readonly counters: CdnCounters

  constructor (components: StreamRpcComponents, init: RingTransportInit) {
    this.budget = init.budget
    this.counters = init.counters
    const addressBook = init.addressBook
    const ringIdOf = this.ringIdOf = libp2pRingIdOf()
    this.rpc = new StreamRpc(components, {
      protocol: init.protocol,
      encodeRequest: (req) => {
        this.countRequest(req)
        return RingRequest.encode(req)
      },
      decodeRequest: (bytes) => {
        // the limited codec: a hostile frame cannot make us build millions of peers
        const req = decodeRingRequest(bytes)
        // every peer's ring id must be its peer id's hash, or a node could sit at any key it likes
        checkRequestIds(req, ringIdOf)
        addressBook.harvestRequest(req)
        return req
      },
      encodeResponse: encodeRingResponse,
      decodeResponse: (bytes) => {
        const res = decodeRingResponse(bytes)
        checkResponseIds(res, ringIdOf)
        addressBook.harvestResponse(res)
        return res
      },
      // ring messages are small and the directory's batches are cut to fit: a peer's streams can
      // make us buffer this much per request in flight, not the adapter's generic 4 MiB
      maxMessageBytes: MAX_RING_MESSAGE_BYTES,
      maxInboundStreams: init.maxStreams ?? RING_MAX_STREAMS,
      maxOutboundStreams: init.maxStreams ?? RING_MAX_STREAMS,
      addressHints: (address) => addressBook.hints(address)
    })
  }

  async start (): Promise<void> {
    await this.rpc.start()
  }

  async stop (): Promise<void> {
    await this.rpc.stop()
  }

  /** The ring's Rpc, noting every peer it talks to as a user of its connection */
  metered (): Rpc<RingRequest, RingResponse> {
    return {
      request: async (to, req, options) => {
        this.budget.touch(to)
        return this.rpc.request(to, req, options)
      },
      isConnected: (to) => this.rpc.isConnected(to),
      connecting: (to) => this.rpc.connecting(to),
      connect: (to) => {
        this.budget.touch(to)
        this.rpc.connect(to)
      },
      handle: (handler) => {
        this.rpc.handle(async (from, req, options) => {
          this.budget.touch(from)
          return handler(from, req, options)
        })
      }
    }
  }

  private countRequest (req: RingRequest): void {
    this.counters.ringRpcsSent++
    this.sentByType[req.type] = (this.sentByType[req.type] ?? 0) + 1
    if (req.type === RingRequest.Type.ROUTE && req.route?.maintenance === false) {
      this.counters.lookupRpcsSent++
    }
  }
}
