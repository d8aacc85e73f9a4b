/**
 * The `Response`s the service hands to callers: verified bytes streamed from
 * the store (or from memory), and the origin's own answers with the source
 * header added.
 */
import { toDigestHeader } from './integrity.ts'
import type { FetchSource } from './stats.ts'

/** Response header naming where the bytes came from */
export const SOURCE_HEADER = 'ringcdn-source'

/** A 200 answer streaming `source`, described by `meta` */
export function responseFrom (source: AsyncGenerator<Uint8Array, void, undefined>, meta: { size: number, contentType?: string, digest: string }, from: FetchSource): Response {
  const headers = new Headers({
    'content-length': String(meta.size),
    'repr-digest': toDigestHeader(meta.digest),
    [SOURCE_HEADER]: from
  })
  if (meta.contentType != null) {
    headers.set('content-type', meta.contentType)
  }
  return new Response(bodyFrom(source) as ReadableStream<Uint8Array<ArrayBuffer>>, { status: 200, headers })
}

/** The origin's response with the source header added (headers of a fetched response are immutable) */
export function withSource (res: Response, source: FetchSource, body: ReadableStream<Uint8Array> | null = res.body): Response {
  const headers = new Headers(res.headers)
  headers.set(SOURCE_HEADER, source)
  return new Response(body as ReadableStream<Uint8Array<ArrayBuffer>> | null, { status: res.status, statusText: res.statusText, headers })
}

/** The body length `fetch` will deliver, when the headers say it (a coded body is decoded, so its length is not) */
export function identityLength (headers: Headers): number | undefined {
  const coding = headers.get('content-encoding')?.trim().toLowerCase()
  if (coding != null && coding !== '' && coding !== 'identity') {
    return undefined
  }
  const length = Number(headers.get('content-length') ?? NaN)
  return Number.isSafeInteger(length) && length >= 0 ? length : undefined
}

/** A pull-based byte stream over a generator: one chunk in memory at a time, cancelling stops the generator */
export function bodyFrom (source: AsyncGenerator<Uint8Array, void, undefined>): ReadableStream<Uint8Array> {
  return new ReadableStream<Uint8Array>({
    async pull (controller) {
      try {
        const next = await source.next()
        if (next.done === true) {
          controller.close()
        } else {
          controller.enqueue(next.value)
        }
      } catch (err) {
        controller.error(err)
      }
    },
    async cancel () {
      await source.return(undefined)
    }
  }, { highWaterMark: 0 })
}
