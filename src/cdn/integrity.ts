/**
 * Trusted digests and their spellings. Inside ringcdn a digest is SHA-256 as
 * 64 lowercase hex characters (what the `ContentStore` keeps); outside it
 * arrives as an SRI string (`sha256-<base64>`, the `integrity=` attribute), a
 * manifest entry, or an RFC 9530 `Repr-Digest` / `Content-Digest` header
 * (`sha-256=:<base64>:`).
 *
 * Hashing streams with `@noble/hashes` (WebCrypto cannot stream), which runs
 * the same everywhere at ~150 MiB/s. Where the runtime offers a native hash
 * without an import a bundler would trip on (Node's `process.getBuiltinModule`)
 * that is used instead, ~8× faster; whole chunks are hashed with WebCrypto in
 * browsers. Same digests either way: only the speed differs.
 *
 * In a page the difference is large: Chromium's `crypto.subtle.digest` hashed
 * 10 MiB in 40–80 ms (most of it copying the input into fresh memory) where
 * `Sha256Stream` took 270–410 ms of main-thread time (2 shared cores, under
 * load). So a content transfer that can afford to hold an object in one
 * buffer hashes it once with `sha256Hex` at the end (see
 * `libp2p/content-protocol.ts`); `Sha256Stream` is for bytes that must not
 * all be held at once.
 */
import { sha256 } from '@noble/hashes/sha2.js'
import { fromString as uint8ArrayFromString } from 'uint8arrays/from-string'
import { toString as uint8ArrayToString } from 'uint8arrays/to-string'
import { InvalidDigestError } from './errors.ts'

/** Bytes in a SHA-256 digest */
export const DIGEST_BYTES = 32

const HEX_DIGEST = /^[0-9a-f]{64}$/
const BASE64 = /^[A-Za-z0-9+/]+={0,2}$/
const TRAILING_PADDING = /[=]+$/
/** One member of an RFC 9530 dictionary with its byte-sequence value, e.g. `sha-256=:AbC=:` */
const DIGEST_MEMBER = /^\s*([a-z0-9-]+)\s*=\s*:([^:]*):\s*(?:;.*)?$/i

/** Whether `value` is a digest in ringcdn's internal spelling */
export function isHexDigest (value: unknown): value is string {
  return typeof value === 'string' && HEX_DIGEST.test(value)
}

export function digestToBytes (hex: string): Uint8Array<ArrayBuffer> {
  if (!isHexDigest(hex)) {
    throw new InvalidDigestError('a digest must be 64 lowercase hex characters')
  }
  return uint8ArrayFromString(hex, 'base16') as Uint8Array<ArrayBuffer>
}

export function digestFromBytes (bytes: Uint8Array): string {
  if (bytes.byteLength !== DIGEST_BYTES) {
    throw new InvalidDigestError(`a SHA-256 digest has ${DIGEST_BYTES} bytes, got ${bytes.byteLength}`)
  }
  return uint8ArrayToString(bytes, 'base16')
}

interface NativeHash {
  update(data: Uint8Array): NativeHash
  digest(encoding: 'hex'): string
}

/** Node's crypto module, reached without a static import so browser bundles never see it */
const nodeCrypto = ((globalThis as { process?: { getBuiltinModule?(id: string): unknown } }).process?.getBuiltinModule?.('node:crypto')) as { createHash(alg: 'sha256'): NativeHash } | undefined

/** WebCrypto, for one-shot digests where there is no native streaming hash */
const subtle = (globalThis as { crypto?: Crypto }).crypto?.subtle

/** SHA-256 of `bytes` as hex */
export async function sha256Hex (bytes: Uint8Array): Promise<string> {
  if (nodeCrypto != null) {
    return nodeCrypto.createHash('sha256').update(bytes).digest('hex')
  }
  if (subtle != null) {
    return uint8ArrayToString(new Uint8Array(await subtle.digest('SHA-256', bytes as Uint8Array<ArrayBuffer>)), 'base16')
  }
  return uint8ArrayToString(sha256(bytes), 'base16')
}

function base64ToHex (b64: string): string {
  if (!BASE64.test(b64)) {
    throw new InvalidDigestError('digest is not base64')
  }
  let bytes: Uint8Array
  try {
    bytes = uint8ArrayFromString(b64.replace(TRAILING_PADDING, ''), 'base64')
  } catch (err: any) {
    throw new InvalidDigestError(`digest is not base64: ${err.message}`)
  }
  return digestFromBytes(bytes)
}

/** The SRI spelling of a hex digest: `sha256-<base64>` */
export function toSri (hex: string): string {
  return `sha256-${uint8ArrayToString(digestToBytes(hex), 'base64pad')}`
}

/**
 * The SHA-256 digest in an SRI `integrity` string (W3C Subresource
 * Integrity): whitespace-separated `alg-base64[?options]` tokens. Only
 * `sha256` tokens are used; when there are several, they must agree (SRI
 * would accept any one of them, but two different trusted digests of one
 * asset leave nothing to verify peer bytes against).
 *
 * @returns the digest as hex, or `undefined` when there is no sha256 token
 * @throws {InvalidDigestError} when a sha256 token is malformed
 */
export function parseSri (integrity: string): string | undefined {
  let found: string | undefined
  for (const token of integrity.trim().split(/\s+/)) {
    const dash = token.indexOf('-')
    if (dash < 0 || token.slice(0, dash).toLowerCase() !== 'sha256') {
      continue
    }
    const hex = base64ToHex(token.slice(dash + 1).split('?')[0])
    if (found != null && found !== hex) {
      throw new InvalidDigestError('integrity lists two different sha256 digests')
    }
    found = hex
  }
  return found
}

/**
 * The `sha-256` member of an RFC 9530 `Repr-Digest` / `Content-Digest` header
 * value (a structured-field dictionary, e.g. `sha-256=:X48E9q…=:, sha-512=:…:`)
 *
 * @returns the digest as hex, or `undefined` when the header has no usable sha-256 member
 */
export function parseDigestHeader (value: string | null | undefined): string | undefined {
  if (value == null) {
    return undefined
  }
  // base64 has no commas, so splitting the dictionary on them is safe
  for (const member of value.split(',')) {
    const match = DIGEST_MEMBER.exec(member)
    if (match == null || match[1].toLowerCase() !== 'sha-256') {
      continue
    }
    try {
      return base64ToHex(match[2])
    } catch {
      return undefined
    }
  }
  return undefined
}

/**
 * The digest an origin response vouches for, if it can be trusted for the
 * bytes `fetch` hands over. Both headers digest the bytes *with* any content
 * coding applied, while `fetch` decodes gzip/br bodies, so a coded response's
 * digest says nothing about the bytes we see. `Repr-Digest` is preferred: it
 * does not depend on range or partial content.
 */
export function digestFromHeaders (headers: Headers): string | undefined {
  const coding = headers.get('content-encoding')
  if (coding != null && coding.trim() !== '' && coding.trim().toLowerCase() !== 'identity') {
    return undefined
  }
  return parseDigestHeader(headers.get('repr-digest')) ?? parseDigestHeader(headers.get('content-digest'))
}

/** The RFC 9530 header value for a hex digest (for origins and tests) */
export function toDigestHeader (hex: string): string {
  return `sha-256=:${uint8ArrayToString(digestToBytes(hex), 'base64pad')}:`
}

/**
 * Hashes a byte stream piece by piece
 */
export class Sha256Stream {
  private readonly native = nodeCrypto?.createHash('sha256')
  private readonly portable = this.native == null ? sha256.create() : undefined
  bytes = 0

  update (piece: Uint8Array): void {
    this.native?.update(piece)
    this.portable?.update(piece)
    this.bytes += piece.byteLength
  }

  /** The digest as hex; the stream cannot be updated afterwards */
  digest (): string {
    return this.native?.digest('hex') ?? uint8ArrayToString(this.portable?.digest() ?? new Uint8Array(), 'base16')
  }
}
