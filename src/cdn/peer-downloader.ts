/**
 * The libp2p side of the pipeline's `Downloader` seam: the content protocol
 * streams an object chunk by chunk straight into an atomic
 * `ContentStore.put` that commits only verified bytes. A transfer has a
 * deadline scaled by the object's size (`minPeerThroughput`), so a holder
 * that trickles is dropped for the next one.
 */
import { REQUEST_TIMEOUT_MS, STALL_TIMEOUT_MS } from '../libp2p/content-protocol.ts'
import { TransferError } from './errors.ts'
import type { DownloadOptions, Downloader, StoredObject } from './seams.ts'
import type { ContentClient } from '../libp2p/content-client.ts'
import type { Peer } from '../overlay/seams.ts'
import type { ContentStore } from '../storage/content-store.ts'
import type { Multiaddr } from '@multiformats/multiaddr'

/** A peer transfer slower than this on average is abandoned for the next holder, bytes per second */
export const MIN_PEER_THROUGHPUT = 1_048_576

export interface PeerDownloaderComponents {
  client: ContentClient
  store: ContentStore
}

export interface PeerDownloaderInit {
  /** Largest object stored, bytes */
  maxObjectBytes: number
  /** The store's bound, bytes */
  storeMaxBytes(): number
  /** Where to dial a holder with no open connection */
  hints(address: string): Multiaddr[]
  /** @default MIN_PEER_THROUGHPUT (1 MiB/s) */
  minPeerThroughput?: number
  /** @default REQUEST_TIMEOUT_MS (5 s) */
  requestTimeoutMs?: number
  /** @default STALL_TIMEOUT_MS (5 s) */
  stallTimeoutMs?: number
  /** Chunks in flight per transfer (the content client's default when absent) */
  window?: number
}

export class PeerDownloader implements Downloader {
  private readonly client: ContentClient
  private readonly store: ContentStore
  private readonly maxObjectBytes: number
  private readonly storeMaxBytes: () => number
  private readonly hints: (address: string) => Multiaddr[]
  private readonly minPeerThroughput: number
  private readonly requestTimeoutMs: number
  private readonly stallTimeoutMs: number
  private readonly window?: number

  constructor (components: PeerDownloaderComponents, init: PeerDownloaderInit) {
    this.client = components.client
    this.store = components.store
    this.maxObjectBytes = init.maxObjectBytes
    this.storeMaxBytes = init.storeMaxBytes
    this.hints = init.hints
    this.minPeerThroughput = init.minPeerThroughput ?? MIN_PEER_THROUGHPUT
    this.requestTimeoutMs = init.requestTimeoutMs ?? REQUEST_TIMEOUT_MS
    this.stallTimeoutMs = init.stallTimeoutMs ?? STALL_TIMEOUT_MS
    this.window = init.window
  }

  async download (holder: Peer, key: string, options: DownloadOptions): Promise<StoredObject> {
    const download = await this.client.download(holder.address, key, {
      digest: options.digest,
      hints: this.hints(holder.address),
      maxObjectBytes: Math.min(options.maxObjectBytes, this.maxObjectBytes, this.storeMaxBytes()),
      window: this.window,
      requestTimeoutMs: Math.min(this.requestTimeoutMs, options.startWithinMs ?? Infinity),
      stallTimeoutMs: this.stallTimeoutMs,
      signal: options.signal
    })
    options.onStart?.(download.init.size)
    const allowedMs = Math.ceil(1_000 * download.init.size / this.minPeerThroughput + this.stallTimeoutMs)
    const deadline = AbortSignal.timeout(allowedMs)
    try {
      // the transfer's chunks are its own buffers, nobody else's: the store may keep them uncopied
      return await this.store.put({ ...download.init, provenance: options.provenance }, download.chunks, { signal: AbortSignal.any([options.signal, deadline]), handOver: true })
    } catch (err: any) {
      download.abort(err)
      if (deadline.aborted && !options.signal.aborted) {
        throw new TransferError(`${holder.address} sent ${download.received} of ${download.init.size} bytes within ${allowedMs}ms`)
      }
      throw err
    }
  }
}
