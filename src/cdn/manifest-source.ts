/**
 * Where the CDN service's manifest comes from: given as an object, or loaded
 * from a URL in the background when the service starts. Fetches never wait
 * for a manifest that failed to load: without one, digests come from
 * integrity options and origin headers.
 */
import { Manifest, loadManifest } from './manifest.ts'
import type { ManifestDocument } from './manifest.ts'
import type { Logger } from '@libp2p/interface'

export interface ManifestSourceInit {
  /** The manifest, its document, or the URL to load it from */
  source?: ManifestDocument | Manifest | string | URL
  /** Relative URLs resolve against this */
  baseUrl?: string | URL
  /** For loading it from a URL */
  fetch?: typeof globalThis.fetch
  log: Logger
}

export class ManifestSource {
  private readonly init: ManifestSourceInit
  private readonly log: Logger
  private manifest?: Manifest
  private loading?: Promise<Manifest | undefined>

  constructor (init: ManifestSourceInit) {
    this.init = init
    this.log = init.log
  }

  /** The manifest as far as it is known now (none while it is loading) */
  get current (): Manifest | undefined {
    return this.manifest
  }

  /** Takes the manifest given, or starts loading it (`signal`: the service's lifetime) */
  start (signal?: AbortSignal): void {
    const source = this.init.source
    if (source == null) {
      return
    }
    if (source instanceof Manifest) {
      this.manifest = source
    } else if (typeof source === 'string' || source instanceof URL) {
      const url = new URL(source, this.init.baseUrl)
      this.loading = loadManifest(url, { fetch: this.init.fetch, signal })
        .then(manifest => {
          this.manifest = manifest
          this.log('manifest %s lists %d assets', url.href, manifest.size)
          return manifest
        }, err => {
          // without a manifest, digests come from integrity options and origin headers
          this.log.error('manifest %s not loaded - %e', url.href, err)
          return undefined
        })
    } else {
      this.manifest = new Manifest(source, this.init.baseUrl)
    }
  }

  /** The manifest once it has loaded (undefined when there is none or it failed) */
  async loaded (): Promise<Manifest | undefined> {
    return this.manifest ?? await this.loading
  }
}
