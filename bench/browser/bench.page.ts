/**
 * Page side of the browser benchmark (`npm run bench:browser`), loaded next
 * to the end-to-end test page (test/browser/e2e.page.ts), whose
 * `globalThis.e2e` starts the CDN exactly as a site would. This adds
 * `globalThis.bench`:
 *
 * - `start` starts the CDN and times the join in the page (from before
 * `createRingCdn` to `whenJoined`), in the background, so the driver never
 * blocks on a slow join;
 * - `fetchPair` starts `cdn.fetch(url)` and a plain `fetch()` of the same URL
 * (marked with a query parameter so the origin counts it apart, `no-store`
 * so the browser cache cannot answer) at the same moment, so whatever load
 * the machine is under slows both alike;
 * - `info` reports join state, WebRTC connections and the JS heap.
 *
 * Times are `performance.now()` differences in the page.
 */
import type { LookupEventDetail, RingCdnPage, RingCdnStats } from '../../src/browser.ts'
import type { StartOptions } from '../../test/browser/e2e.page.ts'

export interface PairResult {
  url: string
  /** ringcdn: time to the last body byte (or to the failure), ms */
  cdnMs: number
  source: string | null
  bytes: number
  error?: string
  /** The ring lookup this fetch made (first `lookup` event for the URL after the fetch began) */
  hops?: number
  lookupMs?: number
  lookupError?: string
  /** Plain origin fetch started at the same moment: time to its last body byte, ms */
  originMs: number
  originBytes: number
  originError?: string
}

export interface PageInfo {
  peerId?: string
  /** ms from before `createRingCdn` to `whenJoined` resolving */
  joinMs?: number
  joined: boolean
  /** Why `whenJoined` rejected, if it did (the page may still join later: `joined` says) */
  joinError?: string
  /** When it rejected, ms after the start */
  joinErrorMs?: number
  /** Open direct WebRTC connections */
  webrtc: number
  /** All open connections (relay included) */
  connections: number
  /** `/p2p-circuit/webrtc` addresses the page advertises: 0 means it holds no relay reservation, so no page can dial it */
  webrtcAddrs: number
  /** `performance.memory.usedJSHeapSize` (Chromium only), bytes */
  heapBytes?: number
  stats?: RingCdnStats
}

const lookups: LookupEventDetail[] = []
let startedAt = 0
let joinMs: number | undefined
let joinError: string | undefined
let joinErrorMs: number | undefined

function cdn (): RingCdnPage | undefined {
  return (globalThis as any).e2e.page()
}

/** Reads a response body to the end; resolves with its length */
async function drain (res: Response): Promise<number> {
  return (await res.arrayBuffer()).byteLength
}

const bench = {
  async start (options: StartOptions, joinTimeoutMs: number): Promise<{ peerId?: string, peerToPeer: boolean }> {
    startedAt = performance.now()
    const started = await (globalThis as any).e2e.start(options)
    const page = cdn()
    page?.addEventListener('lookup', (evt) => {
      lookups.push(evt.detail)
      // bounded: a long churn run makes thousands
      lookups.splice(0, Math.max(0, lookups.length - 1000))
    })
    // in the background: the driver polls `info`, so a page that takes long to join does not hold the run up
    page?.whenJoined({ signal: AbortSignal.timeout(joinTimeoutMs) }).then(() => {
      joinMs = performance.now() - startedAt
    }, (err: Error) => {
      joinError = `${err.name}: ${err.message}`.slice(0, 300)
      joinErrorMs = performance.now() - startedAt
    })
    return started
  },

  async fetchPair (url: string, integrity: string, baselineQuery: string, timeoutMs: number): Promise<PairResult> {
    const page = cdn()
    if (page == null) {
      throw new Error('not started')
    }
    const href = new URL(url, location.href).href
    const seen = lookups.length
    const began = performance.now()
    const signal = AbortSignal.timeout(timeoutMs)
    const ringcdn = (async () => {
      const res = await page.fetch(url, { integrity, signal })
      const bytes = await drain(res)
      return { ms: performance.now() - began, source: res.headers.get('ringcdn-source'), bytes }
    })()
    const plain = (async () => {
      const res = await fetch(`${url}${url.includes('?') ? '&' : '?'}${baselineQuery}=${Math.random().toString(36).slice(2)}`, { cache: 'no-store', signal })
      if (!res.ok) {
        throw new Error(`HTTP ${res.status}`)
      }
      const bytes = await drain(res)
      return { ms: performance.now() - began, bytes }
    })()
    const [a, b] = await Promise.allSettled([ringcdn, plain])
    const failedAt = performance.now() - began
    // a lookup event may trail the fetch that caused it by a tick; the first one for this URL is this fetch's
    const lookup = lookups.slice(seen).find(l => l.url === href)
    const out: PairResult = {
      url,
      cdnMs: a.status === 'fulfilled' ? a.value.ms : failedAt,
      source: a.status === 'fulfilled' ? a.value.source : null,
      bytes: a.status === 'fulfilled' ? a.value.bytes : 0,
      originMs: b.status === 'fulfilled' ? b.value.ms : failedAt,
      originBytes: b.status === 'fulfilled' ? b.value.bytes : 0
    }
    if (a.status === 'rejected') {
      out.error = `${a.reason?.name}: ${a.reason?.message}`
    }
    if (b.status === 'rejected') {
      out.originError = `${b.reason?.name}: ${b.reason?.message}`
    }
    if (lookup != null) {
      out.hops = lookup.hops
      out.lookupMs = lookup.durationMs
      out.lookupError = lookup.error
    }
    return out
  },

  /** Whether `url`'s home lists `peer` as a holder (a failed lookup says no) */
  async listsHolder (url: string, peer: string): Promise<boolean> {
    try {
      const found = await cdn()?.libp2p?.services.cdn.locate(url, { timeout: 3_000 })
      return found?.holders.includes(peer) ?? false
    } catch {
      return false
    }
  },

  info (withStats: boolean): PageInfo {
    const page = cdn()
    const connections = page?.libp2p?.getConnections() ?? []
    const joined = page?.getRing().joined ?? false
    if (joined && joinMs == null && joinError != null) {
      // joined after `whenJoined` gave up: the time is known only to this poll's precision
      joinMs = performance.now() - startedAt
    }
    return {
      peerId: page?.peerId,
      joinMs,
      joined,
      joinError,
      joinErrorMs: joinErrorMs == null ? undefined : Math.round(joinErrorMs),
      webrtc: connections.filter(c => c.status === 'open' && c.limits == null && c.remoteAddr.toString().includes('/webrtc')).length,
      connections: connections.filter(c => c.status === 'open').length,
      webrtcAddrs: page?.libp2p?.getMultiaddrs().filter(ma => ma.toString().includes('/p2p-circuit/webrtc')).length ?? 0,
      heapBytes: (performance as any).memory?.usedJSHeapSize,
      stats: withStats ? page?.getStats() : undefined
    }
  }
}

export type BenchApi = typeof bench

;(globalThis as any).bench = bench
