/**
 * How the service takes in an origin body (the libp2p side of the pipeline's
 * `OriginSource` seam): when the digest and length are known, handed to the
 * caller as it arrives while the same bytes are verified and stored beside it
 * (`OriginTee`; the answer's `storing` settles once the object is stored
 * whole, and only then is it announced); buffered, hashed and stored when they are not (up to
 * `maxBufferedBytes`); passed through to the caller when it is too large to
 * keep — with a digest, the last piece is held back until the whole body has
 * checked out. An HTTP error status is the caller's answer, as the origin
 * sent it.
 */
import { rechunk } from '../storage/chunks.ts'
import { CHUNK_SIZE } from '../storage/content-store.ts'
import { IntegrityError } from './errors.ts'
import { Sha256Stream, digestFromHeaders, sha256Hex } from './integrity.ts'
import { OriginTee, heldBack } from './origin-tee.ts'
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
      return this.tee(state, { key: state.keyHex, size, chunkSize: CHUNK_SIZE, digest: state.digest, contentType, provenance: state.digestFrom ?? 'origin' }, res)
    }
    if (size == null || (size <= this.maxBufferedBytes && fits(size))) {
      return this.buffer(state, res, contentType)
    }
    return this.passThrough(state, res, [], this.origin.readBody(res, state.signal))
  }

  /**
   * Digest and length known: the body goes to the caller and into the store
   * at once (`OriginTee`). The caller's last piece waits until the whole body
   * has matched the digest and the store has the object (or has refused it);
   * the put commits only if it matched. `storing` settles once the object is
   * stored whole (or could not be).
   */
  private tee (state: FetchState, init: ObjectInit & { digest: string }, res: Response): OriginAnswer<Response> {
    const counters = this.counters
    const tee = new OriginTee({
      body: this.origin.readBody(res, state.signal),
      digest: init.digest,
      href: state.href,
      onPiece: (piece) => { counters.bytesFromOrigin += piece.byteLength },
      onMismatch: (err) => { this.onIntegrityFailure(state, err) }
    })
    const chunkDigests: string[] = []
    async function * chunks (): AsyncGenerator<Uint8Array, void, undefined> {
      for await (const chunk of rechunk(tee.store, init.chunkSize)) {
        chunkDigests.push(await sha256Hex(chunk))
        yield chunk
      }
    }
    const storing = this.store.put(init, chunks(), { signal: state.signal }).then(
      (meta): ObjectMeta => {
        this.onChunkDigests?.(meta, chunkDigests)
        return meta
      },
      (err: any): undefined => {
        // the store may fail before it ever read its branch: drop it, so the tee stops queueing for it
        tee.dropStore()
        // a bad body, a broken origin or an abort errors the caller's branch too: nothing more to do.
        // The store refusing the object (too large, quota, a body longer than its Content-Length)
        // leaves the caller's branch going: its bytes are checked all the same
        if (err.name !== 'IntegrityError' && err.name !== 'AbortError' && err.name !== 'OriginFetchError') {
          this.log('could not store %s - %e', state.href, err)
        }
        return undefined
      }
    )
    // the caller's branch ends only once the whole body has matched the digest; its last piece then
    // waits until the store has the object, so a caller that read it all finds it stored
    const body = heldBack(tee.caller, async () => { await storing })
    return { result: responseFrom(body, init, 'origin'), storing, bytes: init.size }
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
  private passThrough (state: FetchState, res: Response, prefix: Uint8Array[], body: AsyncGenerator<Uint8Array, void, undefined>): OriginAnswer<Response> {
    const digest = state.digest
    const counters = this.counters
    const onBad = (err: IntegrityError): void => { this.onIntegrityFailure(state, err) }
    const href = state.href
    const whole = new Sha256Stream()
    async function * counted (): AsyncGenerator<Uint8Array, void, undefined> {
      for (const piece of prefix) {
        // the prefix was counted when it was buffered
        whole.update(piece)
        yield piece
      }
      for await (const piece of body) {
        counters.bytesFromOrigin += piece.byteLength
        whole.update(piece)
        yield piece
      }
    }
    const checked = heldBack(counted(), () => {
      if (digest != null && whole.digest() !== digest) {
        const err = new IntegrityError(`${href} from the origin does not match ${digest}`, 'origin')
        onBad(err)
        throw err
      }
    })
    return { result: withSource(res, 'origin', bodyFrom(checked)), bytes: identityLength(res.headers) ?? 0 }
  }
}
