/**
 * The page API for a browser without WebRTC (no `RTCPeerConnection`: old
 * browsers, locked-down embedded views, WebRTC disabled by policy). Such a
 * page cannot take part in the ring — it could neither accept nor open the
 * direct connections ring and content streams need — so it starts no libp2p
 * node at all and every fetch goes to the origin, marked
 * `ringcdn-source: origin`. The caller's `integrity`, or the manifest's
 * digest, is handed to the browser's own `fetch`, which enforces it (SRI), so
 * the integrity guarantee is the same as on the peer-to-peer path.
 */
import { TypedEventEmitter } from '@libp2p/interface'
import { toSri } from '../cdn/integrity.ts'
import { Manifest, loadManifest } from '../cdn/manifest.ts'
import { normaliseUrl } from '../keys.ts'
import { AbortError } from '../overlay/errors.ts'
import { DEFAULT_NAMESPACE, SOURCE_HEADER } from '../ring-cdn.ts'
import type { ManifestDocument } from '../cdn/manifest.ts'
import type { RingCdnEvents, RingCdnStats } from '../cdn/stats.ts'
import type { RingCdnFetchOptions, RingView } from '../ring-cdn.ts'

export interface OriginOnlyInit {
  namespace?: string
  manifest?: ManifestDocument | Manifest | string | URL
  baseUrl?: string | URL
  fetch?: typeof globalThis.fetch
}

export class OriginOnlyCdn extends TypedEventEmitter<RingCdnEvents> {
  readonly namespace: string
  private readonly fetchFn: typeof globalThis.fetch
  private readonly baseUrl?: string | URL
  private readonly manifest: Promise<Manifest | undefined>
  private readonly lifecycle = new AbortController()
  private readonly counters = { requests: 0, fromOrigin: 0, failures: 0, bytesFromOrigin: 0, integrityFailures: 0 }

  constructor (init: OriginOnlyInit = {}) {
    super()
    const location = (globalThis as { location?: { origin?: string, href?: string } }).location
    this.namespace = init.namespace ?? (location?.origin != null && location.origin !== 'null' ? location.origin : DEFAULT_NAMESPACE)
    this.baseUrl = init.baseUrl ?? location?.href
    this.fetchFn = init.fetch ?? globalThis.fetch.bind(globalThis)
    const source = init.manifest
    if (source == null) {
      this.manifest = Promise.resolve(undefined)
    } else if (source instanceof Manifest) {
      this.manifest = Promise.resolve(source)
    } else if (typeof source === 'string' || source instanceof URL) {
      // without the manifest, fetches still work (with the caller's integrity only)
      this.manifest = loadManifest(new URL(source, this.baseUrl), { fetch: this.fetchFn, signal: this.lifecycle.signal }).catch(() => undefined)
    } else {
      this.manifest = Promise.resolve(new Manifest(source, this.baseUrl))
    }
  }

  /**
   * Fetches from the origin, verified by the browser when a digest is known
   *
   * @throws {InvalidUrlError | InvalidDigestError | AbortError} or `fetch`'s own errors (a digest mismatch is a `TypeError`)
   */
  async fetch (url: string | URL, options: RingCdnFetchOptions = {}): Promise<Response> {
    if (this.lifecycle.signal.aborted) {
      throw new AbortError('the CDN was stopped')
    }
    const href = normaliseUrl(url, this.baseUrl)
    this.counters.requests++
    const started = Date.now()
    try {
      const listed = (await this.manifest)?.get(href)?.digest
      const integrity = options.integrity ?? (listed == null ? undefined : toSri(listed))
      const signal = options.signal == null ? this.lifecycle.signal : AbortSignal.any([options.signal, this.lifecycle.signal])
      const res = await this.fetchFn(href, { signal, integrity })
      this.counters.fromOrigin++
      const length = Number(res.headers.get('content-length') ?? 0)
      this.counters.bytesFromOrigin += Number.isSafeInteger(length) ? length : 0
      this.safeDispatchEvent('transfer', { detail: { direction: 'download', url: href, source: 'origin', bytes: length, durationMs: Date.now() - started, complete: true } })
      const headers = new Headers(res.headers)
      headers.set(SOURCE_HEADER, 'origin')
      return new Response(res.body, { status: res.status, statusText: res.statusText, headers })
    } catch (err) {
      this.counters.failures++
      throw err
    }
  }

  getStats (): RingCdnStats {
    return {
      ...this.counters,
      fromLocal: 0,
      fromPeers: 0,
      bytesFromPeers: 0,
      bytesUploaded: 0,
      uploads: 0,
      homeCopies: 0,
      bytesHomeCopied: 0,
      lookups: 0,
      lookupFailures: 0,
      meanHops: 0,
      ringBusyRefusals: 0,
      directoryKeys: 0,
      announcesDropped: 0,
      holderFailures: 0,
      holderFailuresByError: {},
      originRaces: 0,
      originRacesWonByPeer: 0,
      holdersSkipped: 0,
      lookupsAroundHome: 0,
      holderHedges: 0,
      shareWaits: 0,
      holdersAvoided: {},
      join: { waits: 0, failedAttempts: 0 },
      busyRefusals: 0,
      ringRpcsSent: 0,
      lookupRpcsSent: 0,
      ringRpcsSentByType: {},
      connections: { open: 0, kept: 0 }
    }
  }

  getRing (): RingView {
    return { namespace: this.namespace, joined: false, successors: [], fingers: [] }
  }

  stop (): void {
    this.lifecycle.abort(new AbortError('the CDN was stopped'))
  }
}
