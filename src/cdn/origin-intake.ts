/**
 * How the service takes in an origin body (the libp2p side of the pipeline's
 * `OriginSource` seam): verified and stored while it streams when the digest
 * and length are known; buffered, hashed and stored when they are not (up to
 * `maxBufferedBytes`); passed through to the caller when it is too large to
 * keep — with a digest, the last piece is held back until the whole body has
 * checked out. An HTTP error status is the caller's answer, as the origin
 * sent it.
 */
import { rechunk } from '../storage/chunks.ts'
import { CHUNK_SIZE } from '../storage/content-store.ts'
import { IntegrityError, OriginFetchError } from './errors.ts'
import { Sha256Stream, digestFromHeaders, sha256Hex } from './integrity.ts'
import { identityLength, responseFrom, withSource, bodyFrom } from './responses.ts'
import type { CdnCounters } from './counters.ts'
import type { Origin } from './origin.ts'
import type { FetchState, OriginAnswer, OriginSource } from './seams.ts'
import type { ContentStore, ObjectInit, ObjectMeta } from '../storage/content-store.ts'
import type { Logger } from '@libp2p/interface'

/** An origin body without a known digest or length is buffered up to this size to be hashed before storing, bytes */
export const MAX_BUFFERED_BYTES = 33_554_432

export interface OriginIntakeComponents {
  origin: Origin
  store: ContentStore
  counters: CdnCounters
  log: Logger
}

export interface OriginIntakeInit {
  /** Largest object stored, bytes */
  maxObjectBytes: number
  /** @default MAX_BUFFERED_BYTES (32 MiB) */
  maxBufferedBytes?: number
  /** The store's bound, bytes (known once the store has been asked) */
  storeMaxBytes(): number
  /** Chunk digests of a body that streamed into the store, so uploads of it need not hash it again */
  onChunkDigests?(meta: ObjectMeta, chunkDigests: string[]): void
  onIntegrityFailure(state: FetchState, err: IntegrityError): void
  /** A response streaming a stored object */
  respond(meta: ObjectMeta): Response
}

export class OriginIntake implements OriginSource<Response> {
  private readonly origin: Origin
  private readonly store: ContentStore
  private readonly counters: CdnCounters
  private readonly log: Logger
  private readonly maxObjectBytes: number
  private readonly maxBufferedBytes: number
  private readonly storeMaxBytes: () => number
  private readonly onChunkDigests?: (meta: ObjectMeta, chunkDigests: string[]) => void
  private readonly onIntegrityFailure: (state: FetchState, err: IntegrityError) => void
  private readonly respond: (meta: ObjectMeta) => Response

  constructor (components: OriginIntakeComponents, init: OriginIntakeInit) {
    this.origin = components.origin
    this.store = components.store
    this.counters = components.counters
    this.log = components.log
    this.maxObjectBytes = init.maxObjectBytes
    this.maxBufferedBytes = init.maxBufferedBytes ?? MAX_BUFFERED_BYTES
    this.storeMaxBytes = init.storeMaxBytes
    this.onChunkDigests = init.onChunkDigests
    this.onIntegrityFailure = init.onIntegrityFailure
    this.respond = init.respond
  }

  async headDigest (href: string, signal: AbortSignal): Promise<string | undefined> {
    return this.origin.headDigest(href, signal)
  }

  async get (state: FetchState): Promise<OriginAnswer<Response>> {
    const res = await this.origin.get(state.href, state.signal)
    if (!res.ok) {
      // the origin's answer is the answer: a 404 stays a 404
      return { result: withSource(res, 'origin'), bytes: 0 }
    }
    if (state.digest == null) {
      const digest = digestFromHeaders(res.headers)
      if (digest != null) {
        state.digest = digest
        state.digestFrom = 'origin'
      }
    }
    const size = identityLength(res.headers)
    const contentType = res.headers.get('content-type') ?? undefined
    const fits = (n: number): boolean => n <= this.storeMaxBytes() && n <= this.maxObjectBytes

    if (state.digest != null && size != null && fits(size)) {
      return this.storeStreaming(state, res, { key: state.keyHex, size, chunkSize: CHUNK_SIZE, digest: state.digest, contentType, provenance: state.digestFrom ?? 'origin' })
    }
    if (size == null || (size <= this.maxBufferedBytes && fits(size))) {
      return this.buffer(state, res, contentType)
    }
    return this.passThrough(state, res, [], this.origin.readBody(res, state.signal))
  }

  /** Digest and length known: the body streams into the store, and the put commits only if the digest matches */
  private async storeStreaming (state: FetchState, res: Response, init: ObjectInit): Promise<OriginAnswer<Response>> {
    const chunkDigests: string[] = []
    const body = this.origin.readBody(res, state.signal)
    const counters = this.counters
    const verified = async function * (): AsyncGenerator<Uint8Array, void, undefined> {
      const whole = new Sha256Stream()
      for await (const chunk of rechunk(body, init.chunkSize)) {
        whole.update(chunk)
        counters.bytesFromOrigin += chunk.byteLength
        chunkDigests.push(await sha256Hex(chunk))
        yield chunk
      }
      const actual = whole.digest()
      if (actual !== init.digest) {
        throw new IntegrityError(`${state.href} from the origin hashes to ${actual}, not ${init.digest}`, 'origin')
      }
    }
    let meta: ObjectMeta
    try {
      meta = await this.store.put(init, verified(), { signal: state.signal })
    } catch (err: any) {
      // the store stops its source when it fails; this only makes sure the origin's body is released
      body.return().catch(() => {})
      switch (err.name) {
        case 'IntegrityError':
          this.onIntegrityFailure(state, err)
          throw err
        case 'AbortError':
        case 'OriginFetchError':
          throw err
        case 'InvalidObjectError':
          // the body's length differs from its Content-Length
          throw new OriginFetchError(`${state.href}: the origin's body does not match its Content-Length - ${err.message}`, { cause: err })
        default:
          // the store could not take it (too large, quota): the body is partly read, so ask once more and pass it through
          this.log('could not store %s, passing it through - %e', state.href, err)
          return this.passThrough(state, await this.origin.get(state.href, state.signal), [], undefined)
      }
    }
    this.onChunkDigests?.(meta, chunkDigests)
    return { result: this.respond(meta), stored: meta, bytes: meta.size }
  }

  /**
   * Digest or length unknown: read the body (up to `maxBufferedBytes`), hash
   * it, then store it. A body that turns out longer is passed through.
   */
  private async buffer (state: FetchState, res: Response, contentType: string | undefined): Promise<OriginAnswer<Response>> {
    const body = this.origin.readBody(res, state.signal)
    const chunks = rechunk(body, CHUNK_SIZE)
    const buffered: Uint8Array[] = []
    const whole = new Sha256Stream()
    while (true) {
      const next = await chunks.next()
      if (next.done === true) {
        break
      }
      buffered.push(next.value)
      whole.update(next.value)
      this.counters.bytesFromOrigin += next.value.byteLength
      if (whole.bytes > this.maxBufferedBytes || whole.bytes > this.storeMaxBytes() || whole.bytes > this.maxObjectBytes) {
        return this.passThrough(state, res, buffered, chunks)
      }
    }
    const actual = whole.digest()
    if (state.digest != null && actual !== state.digest) {
      const err = new IntegrityError(`${state.href} from the origin hashes to ${actual}, not ${state.digest}`, 'origin')
      this.onIntegrityFailure(state, err)
      throw err
    }
    // the origin's own bytes, hashed here: vouched for by the origin when no other source named the digest
    const provenance = state.digestFrom ?? 'origin'
    const init: ObjectInit = { key: state.keyHex, size: whole.bytes, chunkSize: CHUNK_SIZE, digest: actual, chunkDigests: await Promise.all(buffered.map(sha256Hex)), contentType, provenance }
    try {
      const meta = await this.store.put(init, buffered, { signal: state.signal })
      return { result: this.respond(meta), stored: meta, bytes: whole.bytes }
    } catch (err: any) {
      if (err.name === 'AbortError') {
        throw err
      }
      // verified bytes in hand: deliver them even if the store refused them
      this.log('could not store %s - %e', state.href, err)
      return { result: responseFrom((async function * () { yield * buffered })(), { size: whole.bytes, contentType, digest: actual }, 'origin'), bytes: whole.bytes }
    }
  }

  /**
   * Too large to store or buffer: the origin's bytes go to the caller as
   * they come. With a digest, the last piece is held back until the whole
   * body has checked out, and a mismatch errors the body with
   * `IntegrityError` instead of completing it.
   */
  private passThrough (state: FetchState, res: Response, prefix: Uint8Array[], rest: AsyncGenerator<Uint8Array, void, undefined> | undefined): OriginAnswer<Response> {
    const digest = state.digest
    const body = rest ?? this.origin.readBody(res, state.signal)
    const counters = this.counters
    const onBad = (err: IntegrityError): void => { this.onIntegrityFailure(state, err) }
    const href = state.href
    async function * checked (): AsyncGenerator<Uint8Array, void, undefined> {
      const whole = new Sha256Stream()
      let held: Uint8Array | undefined
      const pass = function * (piece: Uint8Array): Generator<Uint8Array> {
        whole.update(piece)
        if (held != null) {
          yield held
        }
        held = piece
      }
      for (const piece of prefix) {
        yield * pass(piece)
      }
      // the prefix was counted when it was buffered
      for await (const piece of body) {
        counters.bytesFromOrigin += piece.byteLength
        yield * pass(piece)
      }
      if (digest != null && whole.digest() !== digest) {
        const err = new IntegrityError(`${href} from the origin does not match ${digest}`, 'origin')
        onBad(err)
        throw err
      }
      if (held != null) {
        yield held
      }
    }
    return { result: withSource(res, 'origin', bodyFrom(checked())), bytes: identityLength(res.headers) ?? 0 }
  }
}
