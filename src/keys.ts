/**
 * Keys and node ids: SHA-256 of a normalised URL (an asset's key) or of a
 * peer id's bytes (a node's ring position). Hashing lives here, outside the
 * overlay, which may not touch crypto.
 */

import { sha256 } from '@noble/hashes/sha2.js'
import { idFromBytes } from './overlay/ring-id.ts'

/** An asset URL that cannot be shared: not absolute http(s), or not parseable */
export class InvalidUrlError extends Error {
  static name = 'InvalidUrlError'
  name = 'InvalidUrlError'
}

/**
 * The one spelling of an asset URL that everybody hashes: the WHATWG URL
 * serialisation (lower-case scheme and host, default port dropped, dot
 * segments resolved, percent-encoding normalised) without the fragment, which
 * never reaches a server. Query strings are kept as they are: their order can
 * matter to the origin.
 */
export function normaliseUrl (url: string | URL, base?: string | URL): string {
  let parsed: URL
  try {
    parsed = new URL(url, base)
  } catch {
    throw new InvalidUrlError(`not a URL: ${String(url)}`)
  }
  if (parsed.protocol !== 'https:' && parsed.protocol !== 'http:') {
    throw new InvalidUrlError(`only http(s) URLs can be shared, got ${parsed.protocol}`)
  }
  parsed.hash = ''
  if (parsed.search === '?') {
    parsed.search = ''
  }
  return parsed.href
}

/** The ring key of an asset: SHA-256 of its normalised URL */
export function keyForUrl (url: string | URL, base?: string | URL): bigint {
  return idFromBytes(sha256(new TextEncoder().encode(normaliseUrl(url, base))))
}

/** The ring position of a node: SHA-256 of its peer id bytes */
export function nodeIdFromBytes (peerIdBytes: Uint8Array): bigint {
  return idFromBytes(sha256(peerIdBytes))
}
