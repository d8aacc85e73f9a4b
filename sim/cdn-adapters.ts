/**
 * The simulator's side of the CDN seams (`src/cdn/seams.ts`), so every
 * simulated page runs the library's fetch pipeline and holdings: a page's
 * store of virtual objects (sizes and model digests, no bytes), a downloader
 * over `SimNetwork`'s content protocol, and an origin on virtual time.
 *
 * Bytes are not materialised: a transfer carries the object's size as
 * virtual bytes (it costs transfer time and counts as upload), and each
 * object has a model digest (a 64-hex string) that the holder sends with it,
 * so a holder's answer is checked against the digest the requester trusts
 * exactly where the library checks real bytes.
 */
import { createHash } from 'node:crypto'
import { LRUCache } from 'lru-cache'
import { clockDelay } from '../src/cdn/deadline.ts'
import { IntegrityError, NotHeldError, ObjectSizeError } from '../src/cdn/errors.ts'
import { MIN_PEER_THROUGHPUT } from '../src/cdn/peer-downloader.ts'
import { keyForUrl } from '../src/keys.ts'
import { REQUEST_TIMEOUT_MS, STALL_TIMEOUT_MS } from '../src/libp2p/content-protocol.ts'
import { idToHex } from '../src/overlay/ring-id.ts'
import type { SimProtocol } from './network/protocol.ts'
import type { DownloadOptions, Downloader, FetchState, FetchTarget, LocalIndex, OriginAnswer, OriginSource, StoredObject } from '../src/cdn/seams.ts'
import type { Clock, Peer, Rpc } from '../src/overlay/seams.ts'
import type { Provenance } from '../src/storage/content-store.ts'

/** Origin round trip before the first byte, ms */
export const ORIGIN_RTT_MS = 80
/** Origin and peer links, bytes per second (10 Mbit/s) */
export const LINK_BYTES_PER_SEC = 1_250_000

/**
 * The content transfer protocol, in the library's two steps: a page asks a
 * holder for object `index` and gets its size and digest (`body: false`, the
 * library's meta answer, bounded by the request timeout), then its bytes
 * (`body: true`, bounded by the size-scaled transfer allowance)
 */
export interface ContentRequest { index: number, body: boolean }
/** `size` 0: not held. Otherwise the object's size and the digest of the version served; a body answer carries `size` virtual bytes */
export interface ContentResponse { size: number, digest: string, body: boolean }

export const contentProtocol: SimProtocol<ContentRequest, ContentResponse> = {
  name: 'content',
  encodeRequest: (req) => {
    const out = new Uint8Array(5)
    out.set(uint32(req.index))
    out[4] = req.body ? 1 : 0
    return out
  },
  decodeRequest: (bytes) => {
    if (bytes.byteLength !== 5) {
      throw new Error('a content request is 5 bytes')
    }
    return { index: readUint32(bytes.subarray(0, 4), 0), body: bytes[4] === 1 }
  },
  encodeResponse: (res) => {
    const out = new Uint8Array(res.size === 0 ? 5 : 37)
    out.set(uint32(res.size))
    out[4] = res.body ? 1 : 0
    if (res.size > 0) {
      out.set(Buffer.from(res.digest, 'hex'), 5)
    }
    return out
  },
  decodeResponse: (bytes) => {
    const size = readUint32(bytes.subarray(0, 4), 0)
    if (bytes.byteLength !== (size > 0 ? 37 : 5)) {
      throw new Error('a content response with bytes carries a 32-byte digest')
    }
    return { size, body: bytes[4] === 1, digest: size === 0 ? '' : Buffer.from(bytes.subarray(5)).toString('hex') }
  },
  virtualBytes: (msg) => 'size' in msg && msg.body ? msg.size : 0
}

/** The site's objects: URL, key, size and model digest by index (every one listed in the site's manifest) */
export class SimCatalogue {
  readonly hrefs: string[] = []
  readonly keys: bigint[] = []
  readonly keyHexes: string[] = []
  readonly sizes: number[]
  readonly digests: string[] = []
  private readonly byKeyHex = new Map<string, number>()
  private readonly byKey = new Map<bigint, number>()

  constructor (sizes: number[]) {
    this.sizes = sizes
    sizes.forEach((_, i) => {
      const href = `https://site.example/assets/${i}`
      const key = keyForUrl(href)
      this.hrefs.push(href)
      this.keys.push(key)
      this.keyHexes.push(idToHex(key))
      this.digests.push(createHash('sha256').update(`object ${i}`).digest('hex'))
      this.byKeyHex.set(idToHex(key), i)
      this.byKey.set(key, i)
    })
  }

  indexOfHex (keyHex: string): number | undefined {
    return this.byKeyHex.get(keyHex)
  }

  indexOfKey (key: bigint): number | undefined {
    return this.byKey.get(key)
  }

  /** What a page's fetch of object `index` is after: the manifest vouches for its digest */
  target (index: number): FetchTarget {
    return { href: this.hrefs[index], key: this.keys[index], keyHex: this.keyHexes[index], digest: this.digests[index], digestFrom: 'manifest' }
  }
}

export interface SimObject {
  size: number
  digest: string
  provenance?: Provenance
}

export interface SimPageStoreInit {
  maxBytes: number
  /** An object entered the store */
  onStore?(index: number): void
  /** An object left it (evicted or replaced by nothing) */
  onEvict?(index: number): void
}

/** A page's store: an LRU of virtual objects bounded by their sizes */
export class SimPageStore implements LocalIndex {
  private readonly catalogue: SimCatalogue
  private readonly cache: LRUCache<number, SimObject>
  private readonly onStore?: (index: number) => void

  constructor (catalogue: SimCatalogue, init: SimPageStoreInit) {
    this.catalogue = catalogue
    this.onStore = init.onStore
    this.cache = new LRUCache<number, SimObject>({
      maxSize: init.maxBytes,
      sizeCalculation: object => Math.max(1, object.size),
      dispose: (_object, index, reason) => {
        if (reason !== 'set') {
          init.onEvict?.(index)
        }
      }
    })
  }

  async getMeta (key: string, options: { digest?: string } = {}): Promise<StoredObject | undefined> {
    const index = this.catalogue.indexOfHex(key)
    const object = index == null ? undefined : this.cache.peek(index)
    if (object == null || (options.digest != null && object.digest !== options.digest)) {
      return undefined
    }
    return { key, ...object }
  }

  get (index: number): SimObject | undefined {
    return this.cache.peek(index)
  }

  /** Reading an object counts as use (it is delivered or uploaded) */
  touch (index: number): void {
    this.cache.get(index)
  }

  put (index: number, object: SimObject): void {
    this.cache.set(index, object)
    if (this.cache.has(index)) {
      this.onStore?.(index)
    }
  }

  keys (): IterableIterator<number> {
    return this.cache.keys()
  }
}

/** The downloader over `SimNetwork`'s content protocol, with the library's deadlines */
export class SimDownloader implements Downloader {
  private readonly content: Rpc<ContentRequest, ContentResponse>
  private readonly store: SimPageStore
  private readonly catalogue: SimCatalogue
  /** Sees each attempt before it is made; the returned function sees its outcome (for the simulator's judgement) */
  private readonly onAttempt?: (holder: Peer, index: number) => (delivered: boolean) => void

  constructor (content: Rpc<ContentRequest, ContentResponse>, store: SimPageStore, catalogue: SimCatalogue, onAttempt?: (holder: Peer, index: number) => (delivered: boolean) => void) {
    this.content = content
    this.store = store
    this.catalogue = catalogue
    this.onAttempt = onAttempt
  }

  async download (holder: Peer, key: string, options: DownloadOptions): Promise<StoredObject> {
    const index = this.catalogue.indexOfHex(key)
    if (index == null) {
      throw new NotHeldError(`${key} is no object of the site`)
    }
    const expected = this.catalogue.sizes[index]
    if (expected > options.maxObjectBytes) {
      throw new ObjectSizeError(`${key} is ${expected} bytes, more than ${options.maxObjectBytes}`)
    }
    const done = this.onAttempt?.(holder, index)
    // the library's bounds: the holder answers within the request timeout, then streams at the least throughput
    const startWithin = Math.min(REQUEST_TIMEOUT_MS, options.startWithinMs ?? Infinity)
    try {
      const meta = await this.content.request(holder.address, { index, body: false }, { timeout: startWithin, signal: options.signal })
      this.check(meta, holder, key, options.digest)
      options.onStart?.(meta.size)
      const allowed = 1000 * meta.size / MIN_PEER_THROUGHPUT + STALL_TIMEOUT_MS
      const res = await this.content.request(holder.address, { index, body: true }, { timeout: allowed, signal: options.signal })
      this.check(res, holder, key, options.digest ?? meta.digest)
      const object: SimObject = { size: res.size, digest: res.digest, provenance: options.provenance }
      this.store.put(index, object)
      done?.(true)
      return { key, ...object }
    } catch (err) {
      done?.(false)
      throw err
    }
  }

  /** What the library's content client refuses: a miss, or a version other than the one asked for */
  private check (res: ContentResponse, holder: Peer, key: string, digest: string | undefined): void {
    if (res.size === 0) {
      throw new NotHeldError(`${holder.address} does not hold ${key}`)
    }
    if (digest != null && res.digest !== digest) {
      throw new IntegrityError(`${holder.address} sent ${key} with digest ${res.digest}, not ${digest}`, 'peer')
    }
  }
}

/** The origin on virtual time: a round trip, then the body at link speed; every object is in the manifest */
export class SimOrigin implements OriginSource<number> {
  heads = 0
  private readonly clock: Clock
  private readonly store: SimPageStore
  private readonly catalogue: SimCatalogue

  constructor (clock: Clock, store: SimPageStore, catalogue: SimCatalogue) {
    this.clock = clock
    this.store = store
    this.catalogue = catalogue
  }

  async headDigest (href: string, signal: AbortSignal): Promise<string | undefined> {
    this.heads++
    await clockDelay(this.clock, ORIGIN_RTT_MS, signal)
    const index = this.catalogue.hrefs.indexOf(href)
    return index < 0 ? undefined : this.catalogue.digests[index]
  }

  async get (state: FetchState): Promise<OriginAnswer<number>> {
    const index = this.catalogue.indexOfHex(state.keyHex)
    if (index == null) {
      return { result: 0, bytes: 0 }
    }
    const size = this.catalogue.sizes[index]
    await clockDelay(this.clock, ORIGIN_RTT_MS + 1000 * size / LINK_BYTES_PER_SEC, state.signal)
    const object: SimObject = { size, digest: this.catalogue.digests[index], provenance: state.digestFrom ?? 'origin' }
    this.store.put(index, object)
    return { result: size, stored: { key: state.keyHex, ...object }, bytes: size }
  }
}

function uint32 (n: number): Uint8Array {
  const out = new Uint8Array(4)
  new DataView(out.buffer).setUint32(0, n)
  return out
}

function readUint32 (bytes: Uint8Array, offset: number): number {
  if (bytes.byteLength !== offset + 4) {
    throw new Error('content message must be 4 bytes')
  }
  return new DataView(bytes.buffer, bytes.byteOffset + offset, 4).getUint32(0)
}
