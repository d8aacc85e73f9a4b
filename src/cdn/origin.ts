/**
 * The origin seam: the site's own server, reached with `fetch`. It is the
 * fallback for every miss and failure, the root of trust for digests (its
 * manifest, its `Repr-Digest` header), and it is what ringcdn exists to
 * offload — so it is asked as little as possible and its answers are passed on
 * faithfully: an HTTP error status is the caller's answer, not ours to hide.
 */
import { AbortError } from '../overlay/errors.ts'
import { OriginFetchError } from './errors.ts'
import { digestFromHeaders } from './integrity.ts'
import type { Logger } from '@libp2p/interface'

/** Time for the origin to answer with headers, ms */
export const ORIGIN_TIMEOUT_MS = 30_000
/** Longest pause between two pieces of an origin body, ms */
export const ORIGIN_STALL_TIMEOUT_MS = 15_000
/** Time for the HEAD request that asks the origin for a digest, ms */
export const HEAD_TIMEOUT_MS = 3_000

export interface OriginInit {
  fetch: typeof globalThis.fetch
  log: Logger
  /** @default ORIGIN_TIMEOUT_MS (30 s) */
  timeoutMs?: number
  /** @default ORIGIN_STALL_TIMEOUT_MS (15 s) */
  stallTimeoutMs?: number
  /** @default HEAD_TIMEOUT_MS (3 s) */
  headTimeoutMs?: number
}

export class Origin {
  private readonly fetchFn: typeof globalThis.fetch
  private readonly log: Logger
  private readonly timeoutMs: number
  readonly stallTimeoutMs: number
  private readonly headTimeoutMs: number

  constructor (init: OriginInit) {
    this.fetchFn = init.fetch
    this.log = init.log
    this.timeoutMs = init.timeoutMs ?? ORIGIN_TIMEOUT_MS
    this.stallTimeoutMs = init.stallTimeoutMs ?? ORIGIN_STALL_TIMEOUT_MS
    this.headTimeoutMs = init.headTimeoutMs ?? HEAD_TIMEOUT_MS
  }

  /**
   * Asks the origin for the asset's digest (RFC 9530 `Repr-Digest` or
   * `Content-Digest` on a HEAD response). Never throws: no answer means no
   * digest, and the asset then comes from the origin anyway.
   */
  async headDigest (url: string, signal: AbortSignal): Promise<string | undefined> {
    try {
      const res = await this.fetchFn(url, { method: 'HEAD', signal: AbortSignal.any([signal, AbortSignal.timeout(this.headTimeoutMs)]) })
      await res.body?.cancel().catch(() => {})
      return res.ok ? digestFromHeaders(res.headers) : undefined
    } catch (err: any) {
      this.log('HEAD %s failed - %e', url, err)
      return undefined
    }
  }

  /**
   * GETs the asset. The deadline covers the headers; the body is guarded by
   * `stallTimeoutMs` per read (see `readBody`).
   *
   * @throws {OriginFetchError} when the origin cannot be reached
   * @throws {AbortError} when `signal` aborts
   */
  async get (url: string, signal: AbortSignal): Promise<Response> {
    const deadline = AbortSignal.timeout(this.timeoutMs)
    try {
      return await this.fetchFn(url, { signal: AbortSignal.any([signal, deadline]) })
    } catch (err: any) {
      if (signal.aborted) {
        throw new AbortError()
      }
      if (deadline.aborted) {
        throw new OriginFetchError(`${url}: no answer from the origin within ${this.timeoutMs}ms`, { cause: err })
      }
      throw new OriginFetchError(`${url}: ${err.message}`, { cause: err })
    }
  }

  /**
   * The pieces of a response body, each read bounded by `stallTimeoutMs`;
   * stopping early cancels the body
   *
   * @throws {OriginFetchError} when the body breaks off or stalls
   */
  async * readBody (res: Response, signal: AbortSignal): AsyncGenerator<Uint8Array, void, undefined> {
    if (res.body == null) {
      return
    }
    const reader = res.body.getReader()
    let done = false
    try {
      while (true) {
        let result: ReadableStreamReadResult<Uint8Array>
        try {
          result = await withDeadline(reader.read(), AbortSignal.any([signal, AbortSignal.timeout(this.stallTimeoutMs)]))
        } catch (err: any) {
          if (signal.aborted) {
            throw new AbortError()
          }
          throw new OriginFetchError(`${res.url}: the body broke off - ${err.message}`, { cause: err })
        }
        if (result.done) {
          done = true
          return
        }
        yield result.value
      }
    } finally {
      if (!done) {
        reader.cancel().catch(() => {})
      }
      reader.releaseLock()
    }
  }
}

/** Settles like `promise`, or rejects with the signal's reason when it aborts first */
async function withDeadline <T> (promise: Promise<T>, signal: AbortSignal): Promise<T> {
  if (signal.aborted) {
    promise.catch(() => {})
    throw signal.reason
  }
  return new Promise<T>((resolve, reject) => {
    const onAbort = (): void => { reject(signal.reason) }
    signal.addEventListener('abort', onAbort, { once: true })
    promise.then(resolve, reject).finally(() => { signal.removeEventListener('abort', onAbort) })
  })
}
