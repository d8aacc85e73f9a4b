/**
 * The site manifest: the origin's list of trusted digests, one per asset URL,
 * produced at build time (a CLI comes later) and served next to the assets. It
 * is the second source of trusted digests (DESIGN §4), after the caller's
 * `integrity` option and before the origin's digest headers, and the one that
 * lets a page accept peer bytes without asking the origin anything per asset.
 *
 * Format, version 1 (JSON, `Content-Type: application/json`):
 *
 * ```json
 * {
 *   "ringcdn": 1,
 *   "base": "https://example.com/",
 *   "assets": {
 *     "/js/app.js": "sha256-47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=",
 *     "/video/intro.mp4": { "integrity": "sha256-…", "size": 104857600 }
 *   }
 * }
 * ```
 *
 * - `ringcdn`: the format version, `1`. Required: a manifest of a newer
 * version is refused rather than half understood.
 * - `base`: optional absolute URL that relative asset URLs resolve against.
 * Default: the URL the manifest was loaded from (or, for a manifest object
 * passed in code, the service's `baseUrl`).
 * - `assets`: asset URL (absolute, or relative to `base`) → an SRI string with
 * a `sha256-<base64>` token, or an object `{ integrity, size? }` where `size`
 * is the length in bytes. URLs are compared after `normaliseUrl`, so
 * `https://Example.com:443/a/../js/app.js#x` matches `/js/app.js`.
 *
 * A manifest is only as trustworthy as the channel it came from: load it from
 * the origin over https, never from peers.
 */
import { keyForUrl, normaliseUrl } from '../keys.ts'
import { ManifestError } from './errors.ts'
import { parseSri } from './integrity.ts'

/** The manifest format version this code reads */
export const MANIFEST_VERSION = 1

/** Largest manifest accepted, bytes (≈ 50 000 assets) */
export const MAX_MANIFEST_BYTES = 8 * 1024 * 1024

/** How long loading a manifest from its URL may take, ms */
export const MANIFEST_TIMEOUT_MS = 10_000

/** One asset's entry, long form */
export interface ManifestAsset {
  /** SRI string with a `sha256-<base64>` token */
  integrity: string
  /** Length in bytes, if the build knew it */
  size?: number
}

/** The manifest document as served (format version 1) */
export interface ManifestDocument {
  ringcdn: 1
  base?: string
  assets: Record<string, string | ManifestAsset>
}

/** What the CDN knows about an asset from the manifest */
export interface ManifestEntry {
  /** SHA-256 as hex */
  digest: string
  size?: number
}

export class Manifest {
  private readonly entries: Map<string, ManifestEntry>
  private keyIndex?: Map<bigint, ManifestEntry>

  /**
   * @param doc - the parsed manifest
   * @param base - where relative URLs resolve when `doc.base` is absent
   * @throws {ManifestError} when the document is malformed
   */
  constructor (doc: unknown, base?: string | URL) {
    this.entries = parse(doc, base)
  }

  get size (): number {
    return this.entries.size
  }

  /** The entry for an asset URL (normalised before the lookup), if listed */
  get (url: string | URL): ManifestEntry | undefined {
    let href: string
    try {
      href = normaliseUrl(url)
    } catch {
      return undefined
    }
    return this.entries.get(href)
  }

  /**
   * The entry of the asset whose key (SHA-256 of its normalised URL) is
   * `key`, if listed: a home node knows the keys it is home for, not the URLs
   */
  byKey (key: bigint): ManifestEntry | undefined {
    this.keyIndex ??= new Map([...this.entries].map(([href, entry]) => [keyForUrl(href), entry]))
    return this.keyIndex.get(key)
  }
}

function parse (doc: unknown, fallbackBase?: string | URL): Map<string, ManifestEntry> {
  if (doc == null || typeof doc !== 'object' || Array.isArray(doc)) {
    throw new ManifestError('a manifest must be a JSON object')
  }
  const { ringcdn: version, base, assets } = doc as Record<string, unknown>
  if (version !== MANIFEST_VERSION) {
    throw new ManifestError(`unsupported manifest version ${String(version)} (this code reads ${MANIFEST_VERSION})`)
  }
  if (base != null && typeof base !== 'string') {
    throw new ManifestError('manifest "base" must be a URL string')
  }
  if (assets == null || typeof assets !== 'object' || Array.isArray(assets)) {
    throw new ManifestError('manifest "assets" must be an object of URL → integrity')
  }
  const resolveAgainst = base ?? fallbackBase
  const entries = new Map<string, ManifestEntry>()
  for (const [url, value] of Object.entries(assets)) {
    let href: string
    try {
      href = normaliseUrl(url, resolveAgainst)
    } catch (err: any) {
      throw new ManifestError(`manifest asset "${url}": ${err.message}`)
    }
    const entry = parseEntry(url, value)
    if (entry != null) {
      entries.set(href, entry)
    }
  }
  return entries
}

function parseEntry (url: string, value: unknown): ManifestEntry | undefined {
  let integrity: unknown = value
  let size: unknown
  if (value != null && typeof value === 'object') {
    ({ integrity, size } = value as Record<string, unknown>)
  }
  if (typeof integrity !== 'string') {
    throw new ManifestError(`manifest asset "${url}": integrity must be an SRI string`)
  }
  if (size != null && (typeof size !== 'number' || !Number.isSafeInteger(size) || size < 0)) {
    throw new ManifestError(`manifest asset "${url}": size must be a non-negative integer`)
  }
  let digest: string | undefined
  try {
    digest = parseSri(integrity)
  } catch (err: any) {
    throw new ManifestError(`manifest asset "${url}": ${err.message}`)
  }
  if (digest == null) {
    // only other algorithms listed: nothing ringcdn can verify with
    return undefined
  }
  return size == null ? { digest } : { digest, size }
}

export interface LoadManifestOptions {
  /** @default globalThis.fetch */
  fetch?: typeof globalThis.fetch
  signal?: AbortSignal
  /** @default MANIFEST_TIMEOUT_MS (10 s) */
  timeout?: number
}

/**
 * Fetches and parses a manifest; relative asset URLs resolve against the
 * manifest's URL unless it names a `base`
 *
 * @throws {ManifestError}
 */
export async function loadManifest (url: string | URL, options: LoadManifestOptions = {}): Promise<Manifest> {
  const fetchFn = options.fetch ?? globalThis.fetch.bind(globalThis)
  const deadline = AbortSignal.timeout(options.timeout ?? MANIFEST_TIMEOUT_MS)
  const signal = options.signal == null ? deadline : AbortSignal.any([deadline, options.signal])
  let text: string
  try {
    const res = await fetchFn(url, { signal, headers: { accept: 'application/json' } })
    if (!res.ok) {
      await res.body?.cancel().catch(() => {})
      throw new ManifestError(`manifest ${String(url)}: HTTP ${res.status}`)
    }
    const length = Number(res.headers.get('content-length') ?? 0)
    if (length > MAX_MANIFEST_BYTES) {
      await res.body?.cancel().catch(() => {})
      throw new ManifestError(`manifest ${String(url)} is larger than ${MAX_MANIFEST_BYTES} bytes`)
    }
    text = await res.text()
  } catch (err: any) {
    if (err.name === 'ManifestError') {
      throw err
    }
    throw new ManifestError(`could not load manifest ${String(url)}: ${err.message}`, { cause: err })
  }
  if (text.length > MAX_MANIFEST_BYTES) {
    throw new ManifestError(`manifest ${String(url)} is larger than ${MAX_MANIFEST_BYTES} bytes`)
  }
  let doc: unknown
  try {
    doc = JSON.parse(text)
  } catch (err: any) {
    throw new ManifestError(`manifest ${String(url)} is not JSON: ${err.message}`)
  }
  return new Manifest(doc, url)
}
