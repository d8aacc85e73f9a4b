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
  // an empty query ("a.js?") reads back as '' but still serialises its '?': assigning drops it
  if (parsed.search === '') {
    parsed.search = ''
  }
  parsed.pathname = normalisePercentEncoding(parsed.pathname)
  parsed.search = normalisePercentEncoding(parsed.search)
  return parsed.href
}

/**
 * RFC 3986 §6.2.2: percent-encoded unreserved characters are decoded and the
 * remaining escapes get upper-case hex, so `%7e`, `%7E` and `~` agree
 */
function normalisePercentEncoding (text: string): string {
  return text.replace(/%([0-9a-fA-F]{2})/g, (_, hex: string) => {
    const char = String.fromCharCode(parseInt(hex, 16))
    return /[A-Za-z0-9\-._~]/.test(char) ? char : `%${hex.toUpperCase()}`
  })
}

/** The ring key of an asset: SHA-256 of its normalised URL */
export function keyForUrl (url: string | URL, base?: string | URL): bigint {
  return idFromBytes(sha256(new TextEncoder().encode(normaliseUrl(url, base))))
}

/** The ring position of a node: SHA-256 of its peer id bytes */
export function nodeIdFromBytes (peerIdBytes: Uint8Array): bigint {
  return idFromBytes(sha256(peerIdBytes))
}
