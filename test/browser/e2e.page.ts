/**
 * Page side of the end-to-end tests: loads the shipped bundle
 * (`/ringcdn.js`, built by scripts/build-browser.ts) and exposes a small
 * JSON-in/JSON-out API on `globalThis.e2e` for the test to drive with
 * `page.evaluate`. Nothing here reimplements the CDN: the page calls
 * `createRingCdn` exactly as a site would.
 */
import type { ContentStore, CreateRingCdnInit, RingCdnPage, RingView, TransferEventDetail, IntegrityFailureDetail, HolderFailureDetail, LookupEventDetail } from '../../src/browser.ts'

type Bundle = typeof import('../../src/browser.ts')

export interface StartOptions {
  relay: string[]
  store?: 'memory' | 'indexeddb'
  /** Wrap the store so that, once `lie(true)`, every chunk it serves to peers has a flipped byte */
  liar?: boolean
  /** Other `createRingCdn` options (JSON-able) */
  init?: Partial<CreateRingCdnInit>
}

export interface FetchResult {
  status: number
  source: string | null
  bytes: number
  /** SHA-256 of the body, hex */
  sha256: string
  /** Peer of the transfer event for this URL, if it came from one */
  peer?: string
  error?: string
}

export interface ConnectionInfo {
  id: string
  peer: string
  remoteAddr: string
  limited: boolean
  status: string
}

let cdn: RingCdnPage | undefined
let lying = false
const integrityFailures: IntegrityFailureDetail[] = []
const holderFailures: HolderFailureDetail[] = []
const lookups: LookupEventDetail[] = []
const downloads: TransferEventDetail[] = []

async function bundle (): Promise<Bundle> {
  // a runtime URL, so the page bundle does not swallow the artifact under test
  const url = '/ringcdn.js'
  return import(/* @vite-ignore */ url)
}

/** A store that serves corrupted bytes while `lying` (what a malicious or broken page would do) */
function liarStore (inner: ContentStore): ContentStore {
  return new Proxy(inner, {
    get (target, prop, receiver) {
      if (prop === 'getChunk') {
        // what the content server sends peers; the page's own reads stay honest
        return async (key: string, index: number, options?: any): Promise<Uint8Array | undefined> => {
          const chunk = await target.getChunk(key, index, options)
          if (!lying || chunk == null || chunk.byteLength === 0) {
            return chunk
          }
          const bad = chunk.slice()
          bad[0] ^= 0xff
          return bad
        }
      }
      const value = Reflect.get(target, prop, receiver)
      return typeof value === 'function' ? value.bind(target) : value
    }
  })
}

async function hex (bytes: ArrayBuffer): Promise<string> {
  const digest = new Uint8Array(await crypto.subtle.digest('SHA-256', bytes))
  return [...digest].map(b => b.toString(16).padStart(2, '0')).join('')
}

const api = {
  async start (options: StartOptions): Promise<{ peerId?: string, peerToPeer: boolean }> {
    const { createRingCdn, MemoryContentStore, IndexedDbContentStore } = await bundle()
    let store: CreateRingCdnInit['store'] = options.store
    if (options.liar === true) {
      store = liarStore(options.store === 'indexeddb' ? new IndexedDbContentStore({}, { namespace: location.origin }) : new MemoryContentStore())
    }
    cdn = await createRingCdn({ ...options.init, relay: options.relay, store })
    cdn.addEventListener('integrity-failure', (evt) => { integrityFailures.push(evt.detail) })
    cdn.addEventListener('holder-failure', (evt) => { holderFailures.push(evt.detail) })
    cdn.addEventListener('lookup', (evt) => { lookups.push(evt.detail) })
    cdn.addEventListener('transfer', (evt) => {
      if (evt.detail.direction === 'download') {
        downloads.push(evt.detail)
      }
    })
    return { peerId: cdn.peerId, peerToPeer: cdn.peerToPeer }
  },

  async whenJoined (timeoutMs: number): Promise<void> {
    await cdn?.whenJoined({ signal: AbortSignal.timeout(timeoutMs) })
  },

  /** This page's WebRTC addresses (empty until the relay reservation is made) */
  webrtcAddrs (): string[] {
    return cdn?.libp2p?.getMultiaddrs().map(ma => ma.toString()).filter(a => a.includes('/webrtc')) ?? []
  },

  ring (): RingView | undefined {
    return cdn?.getRing()
  },

  stats (): unknown {
    return cdn?.getStats()
  },

  async fetch (url: string, integrity?: string, timeoutMs: number = 20_000): Promise<FetchResult> {
    if (cdn == null) {
      throw new Error('not started')
    }
    const href = new URL(url, location.href).href
    const before = downloads.length
    try {
      const res = await cdn.fetch(url, { integrity, signal: AbortSignal.timeout(timeoutMs) })
      const body = await res.arrayBuffer()
      const event = downloads.slice(before).find(d => d.url === href)
      return { status: res.status, source: res.headers.get('ringcdn-source'), bytes: body.byteLength, sha256: await hex(body), peer: event?.peer }
    } catch (err: any) {
      return { status: 0, source: null, bytes: 0, sha256: '', error: `${err.name}: ${err.message}` }
    }
  },

  /** Holders of an asset the ring knows of (its home node's list); empty when the lookup fails */
  async holders (url: string): Promise<string[]> {
    try {
      return (await cdn?.libp2p?.services.cdn.locate(url, { timeout: 3_000 }))?.holders ?? []
    } catch {
      return []
    }
  },

  integrityFailures (): IntegrityFailureDetail[] {
    return integrityFailures
  },

  /** Holders this page's fetches tried that did not deliver, and why */
  holderFailures (): HolderFailureDetail[] {
    return holderFailures
  },

  /** The ring lookups this page's fetches made (with the error name of those that failed) */
  lookups (): LookupEventDetail[] {
    return lookups
  },

  lie (on: boolean): void {
    lying = on
  },

  /** Open connections, optionally to one peer */
  connections (peer?: string): ConnectionInfo[] {
    return (cdn?.libp2p?.getConnections() ?? [])
      .filter(c => peer == null || c.remotePeer.toString() === peer)
      .map(c => ({ id: c.id, peer: c.remotePeer.toString(), remoteAddr: c.remoteAddr.toString(), limited: c.limits != null, status: c.status }))
  },

  /** Opens a direct WebRTC connection to another page (by its WebRTC address), bounded; returns the remote address */
  async connect (addr: string, timeoutMs: number): Promise<string> {
    const node = cdn?.libp2p
    if (node == null) {
      throw new Error('no libp2p node: not started, or no WebRTC')
    }
    const { multiaddr } = await bundle()
    const connection = await node.dial(multiaddr(addr), { signal: AbortSignal.timeout(timeoutMs) })
    return connection.remoteAddr.toString()
  },

  /**
   * `rounds` fresh dials of a page's WebRTC address, each bounded by
   * `timeoutMs`: every round first closes all connections to that page, so
   * the dial cannot reuse one. A round whose dial returned a connection that
   * was already open (the ring reconnected first) is not counted and is
   * repeated, up to `rounds * 3` attempts. Returns each fresh dial's time
   * (ms, dial to open) and each failure, with the last steps (libp2p's
   * progress events) the dial reached.
   */
  async redials (addr: string, rounds: number, timeoutMs: number): Promise<{ times: number[], failures: string[] }> {
    const node = cdn?.libp2p
    if (node == null) {
      throw new Error('no libp2p node: not started, or no WebRTC')
    }
    const { multiaddr } = await bundle()
    const target = multiaddr(addr)
    const peer = target.getComponents().findLast(c => c.name === 'p2p')?.value
    const times: number[] = []
    const failures: string[] = []
    for (let attempt = 0; times.length < rounds && attempt < rounds * 3; attempt++) {
      const open = node.getConnections().filter(c => c.remotePeer.toString() === peer)
      await Promise.all(open.map(async c => c.close({ signal: AbortSignal.timeout(timeoutMs) }).catch((err: any) => {
        // the next dial must start clean whether or not this one closed gracefully
        failures.push(`closing the previous connection: ${err.name}: ${err.message}`)
        c.abort(err)
      })))
      const before = new Set(node.getConnections().map(c => c.id))
      const started = performance.now()
      const steps: string[] = []
      const onProgress = (event: { type: string }): void => { steps.push(`${event.type}@${Math.round(performance.now() - started)}`) }
      let connection
      try {
        connection = await node.dial(target, { signal: AbortSignal.timeout(timeoutMs), onProgress })
      } catch (err: any) {
        failures.push(`${err.name}: ${err.message} after ${Math.round(performance.now() - started)} ms (steps: ${steps.slice(-4).join(', ')})`)
        continue
      }
      const ms = performance.now() - started
      if (connection.limits != null || !connection.remoteAddr.toString().includes('/webrtc')) {
        throw new Error(`dial ${attempt} gave a ${connection.limits != null ? 'limited' : 'non-WebRTC'} connection ${connection.remoteAddr.toString()}`)
      }
      if (!before.has(connection.id)) {
        times.push(ms)
      }
    }
    return { times, failures }
  },

  /** Closes every connection to a peer (e.g. the relay), as a network drop would */
  async hangUp (peer: string): Promise<void> {
    const node = cdn?.libp2p
    const connection = node?.getConnections().find(c => c.remotePeer.toString() === peer)
    if (connection != null) {
      await node?.hangUp(connection.remotePeer)
    }
  },

  /** The node's upload decision now (`RingCdn.uploadState`) */
  uploadState (): unknown {
    return cdn?.libp2p?.services.cdn.uploadState
  },

  /**
   * Makes the page report itself hidden (or visible again), as a background
   * tab would: headless Chromium keeps every page visible, and the DevTools
   * protocol has no command that sets a page's visibility (`Page.setWebLifecycleState`
   * freezes the page, `Emulation.setFocusEmulationEnabled` only fakes focus).
   * Own properties on `document` shadow the prototype's getters, and the
   * `visibilitychange` event is what the upload policy listens to. The
   * browser's own timer throttling of hidden pages is not emulated by this.
   */
  emulateVisibility (state: 'hidden' | 'visible'): string {
    Object.defineProperty(document, 'visibilityState', { configurable: true, get: () => state })
    Object.defineProperty(document, 'hidden', { configurable: true, get: () => state === 'hidden' })
    document.dispatchEvent(new Event('visibilitychange'))
    return document.visibilityState
  },

  /** The page's CDN, for other page scripts (benchmarks); not JSON, so not for `evaluate` results */
  page (): RingCdnPage | undefined {
    return cdn
  },

  async stop (): Promise<void> {
    await cdn?.stop()
    cdn = undefined
  }
}

export type E2eApi = typeof api

;(globalThis as any).e2e = api
