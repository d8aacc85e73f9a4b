/**
 * Page side of the idle-page benchmark (`npm run bench:idle`), loaded next to
 * the end-to-end test page (test/browser/e2e.page.ts), whose `globalThis.e2e`
 * starts the CDN exactly as a site would. This adds `globalThis.idle`, which
 * only counts: a page under measurement runs nothing but ringcdn.
 *
 * Every libp2p stream over WebRTC is one data channel, so
 * `RTCPeerConnection.prototype.createDataChannel` is wrapped (before the
 * bundle loads) to count the channels this page opens; WebRTC connections
 * opened and closed come from libp2p's connection events.
 */
import type { RingCdnPage } from '../../src/browser.ts'
import type { StartOptions } from '../../test/browser/e2e.page.ts'

export interface IdleSnapshot {
  /** `performance.now()` in the page, ms */
  at: number
  joined: boolean
  ringRpcsSent: number
  ringRpcsSentByType: Record<string, number>
  lookupRpcsSent: number
  /** Direct WebRTC connections opened and closed since the start (both directions) */
  webrtcOpened: number
  webrtcClosed: number
  /** Open now */
  webrtcOpen: number
  connectionsOpen: number
  /** Of the open connections, those to routing peers the CDN keeps (predecessor, successors, fingers) */
  connectionsKept: number
  /** Data channels this page created (one per outbound stream over WebRTC, plus WebRTC's own signalling channel) */
  dataChannels: number
  /** Streams open now over all connections */
  streamsOpen: number
}

let dataChannels = 0
let webrtcOpened = 0
let webrtcClosed = 0

if (typeof globalThis.RTCPeerConnection === 'function') {
  const proto = globalThis.RTCPeerConnection.prototype
  const create = proto.createDataChannel
  proto.createDataChannel = function (this: RTCPeerConnection, ...args: Parameters<RTCPeerConnection['createDataChannel']>): RTCDataChannel {
    dataChannels++
    return create.apply(this, args)
  }
}

function cdn (): RingCdnPage | undefined {
  return (globalThis as any).e2e.page()
}

const isDirectWebRtc = (conn: { remoteAddr: { toString(): string }, limits?: unknown }): boolean =>
  conn.limits == null && conn.remoteAddr.toString().includes('/webrtc')

const idle = {
  async start (options: StartOptions): Promise<{ peerId?: string }> {
    const started = await (globalThis as any).e2e.start(options)
    const node = cdn()?.libp2p
    node?.addEventListener('connection:open', (evt) => {
      if (isDirectWebRtc(evt.detail)) {
        webrtcOpened++
      }
    })
    node?.addEventListener('connection:close', (evt) => {
      if (isDirectWebRtc(evt.detail)) {
        webrtcClosed++
      }
    })
    return { peerId: started.peerId }
  },

  snapshot (): IdleSnapshot {
    const page = cdn()
    const stats = page?.getStats()
    const connections = page?.libp2p?.getConnections() ?? []
    return {
      at: performance.now(),
      joined: page?.getRing().joined ?? false,
      ringRpcsSent: stats?.ringRpcsSent ?? 0,
      ringRpcsSentByType: { ...stats?.ringRpcsSentByType },
      lookupRpcsSent: stats?.lookupRpcsSent ?? 0,
      webrtcOpened,
      webrtcClosed,
      webrtcOpen: connections.filter(c => c.status === 'open' && isDirectWebRtc(c)).length,
      connectionsOpen: connections.filter(c => c.status === 'open').length,
      connectionsKept: stats?.connections.kept ?? 0,
      dataChannels,
      streamsOpen: connections.reduce((n, c) => n + c.streams.length, 0)
    }
  }
}

export type IdleApi = typeof idle

;(globalThis as any).idle = idle
