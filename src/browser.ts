/**
 * @packageDocumentation
 *
 * ringcdn for web pages: one call starts a libp2p node in the page, connects
 * it to the site's relay, joins the site's ring and returns the CDN.
 *
 * ```ts
 * import { createRingCdn } from 'ringcdn/browser'
 *
 * const cdn = await createRingCdn({
 *   relay: '/dns4/relay.example.com/tcp/443/wss/p2p/12D3Koo…',
 *   manifest: '/ringcdn-manifest.json',
 *   store: 'indexeddb'
 * })
 * const res = await cdn.fetch('/img/hero.jpg')
 * res.headers.get('ringcdn-source') // 'local' | 'peer' | 'origin'
 * ```
 *
 * Theory of operation: the page dials its relays over websockets and reserves
 * a slot (circuit relay v2), which gives it `/p2p-circuit/webrtc` addresses —
 * the only addresses it announces. Other pages dial those: the SDP offer and
 * ICE candidates travel over a short-lived relayed connection, and the result
 * is a direct, unlimited WebRTC connection. Ring RPCs and content streams
 * refuse limited (relayed) connections, so they only ever run over direct
 * WebRTC connections; the relay carries signalling, never asset bytes. The
 * relays double as the ring's bootstrap (they know the live members of each
 * namespace). A relay connection that closes is redialled with jittered,
 * bounded exponential backoff (`RelayKeeper`).
 *
 * Browser limits: a tab gets a few hundred RTCPeerConnections (Chromium
 * refuses more than 500 open at once), and every WebRTC connection costs a
 * relay round trip and ~300 ms to set up, so the ring's connection budget
 * (`maxConnections`) bounds the direct connections and keeps routing peers
 * open. Without `RTCPeerConnection` the page does not start libp2p at all:
 * `fetch` goes to the origin (`OriginOnlyCdn`).
 *
 * Local development just works: a page on loopback with loopback `ws://`
 * relays may dial loopback addresses (libp2p's browser default refuses them)
 * and uses no STUN server (see `local-development.ts`).
 */
import { noise } from '@chainsafe/libp2p-noise'
import { yamux } from '@chainsafe/libp2p-yamux'
import { circuitRelayTransport } from '@libp2p/circuit-relay-v2'
import { identify } from '@libp2p/identify'
import { ping } from '@libp2p/ping'
import { webRTC } from '@libp2p/webrtc'
import { webSockets } from '@libp2p/websockets'
import { multiaddr } from '@multiformats/multiaddr'
import { createLibp2p } from 'libp2p'
import { hangUpOnExit } from './browser/hang-up-on-exit.ts'
import { isLocalDevelopment, localDevelopmentGater } from './browser/local-development.ts'
import { OriginOnlyCdn } from './browser/origin-only.ts'
import { RelayKeeper } from './browser/relay-keeper.ts'
import { MAX_CONNECTIONS } from './libp2p/connection-budget.ts'
import { pageOrigin } from './page-globals.ts'
import { DEFAULT_NAMESPACE, ringCdn } from './ring-cdn.ts'
import { IndexedDbContentStore } from './storage/indexeddb-store.ts'
import { MemoryContentStore } from './storage/memory-store.ts'
import type { RingCdnEvents, RingCdnStats } from './cdn/stats.ts'
import type { RingCdn, RingCdnFetchOptions, RingCdnInit, RingView } from './ring-cdn.ts'
import type { ContentStore } from './storage/content-store.ts'
import type { Identify } from '@libp2p/identify'
import type { AbortOptions, Libp2p, TypedEventTarget } from '@libp2p/interface'
import type { Ping } from '@libp2p/ping'
import type { Multiaddr } from '@multiformats/multiaddr'

export { RELAY_RETRY_DELAY_MS, RELAY_MAX_RETRY_DELAY_MS, RELAY_DIAL_TIMEOUT_MS } from './browser/relay-keeper.ts'
export { SOURCE_HEADER } from './ring-cdn.ts'
export type { RingCdnStats, JoinStats, RingCdnEvents, FetchSource, LookupEventDetail, TransferEventDetail, IntegrityFailureDetail, HolderFailureDetail } from './cdn/stats.ts'
export type { RingCdnFetchOptions, RingView, RingViewPeer } from './ring-cdn.ts'
export type { ContentStore, ObjectInit, ObjectMeta } from './storage/content-store.ts'
export { MemoryContentStore, IndexedDbContentStore } from './storage/index.ts'
export { IntegrityError, OriginFetchError, InvalidDigestError, NotStartedError } from './cdn/errors.ts'
export { AbortError, JoinFailedError } from './overlay/errors.ts'
export { InvalidUrlError } from './keys.ts'
export { multiaddr } from '@multiformats/multiaddr'
export { serveServiceWorker } from './service-worker-bridge.ts'
export type { Multiaddr } from '@multiformats/multiaddr'

/**
 * Connections libp2p may hold beyond the ring's budget: relays, and the
 * short-lived relayed connections WebRTC signalling runs over
 */
export const CONNECTION_HEADROOM = 8

/**
 * New relayed connections a page accepts per second and relay (libp2p's
 * default is 5 per remote host). libp2p counts a relayed connection against
 * the relay's address, so that default is shared by every visitor of the
 * site, and every WebRTC connection begins with one (its signalling runs
 * over it): a page refused the sixth of a second's dials, which their
 * diallers saw as a reset or stalled noise handshake (2 and 32 failed
 * attempts in two runs of 100 redials between two Chromium pages,
 * `npm run bench:p6`, bench/RESULTS.md). Each connection a page accepts
 * still costs a handshake, and libp2p's `maxConnections` (the ring's budget
 * plus headroom) bounds what it holds: that, not this rate, is what a peer
 * dialling in a loop runs into.
 */
export const INBOUND_CONNECTION_RATE = 50

/**
 * WebRTC message size of a page's data channels, bytes (128 KiB).
 * `@libp2p/webrtc` defaults to 16 KiB for go- and rust-libp2p peers, but a
 * page's WebRTC peers are other pages, and every browser announces at least
 * 256 KiB (`a=max-message-size` in its SDP). Each message costs the
 * receiving page a task plus libp2p's framing (two data channel messages, a
 * length prefix and a protobuf): a 10 MiB page-to-page transfer took ~250 ms
 * less of the requester's main thread at 64 KiB than at 16 KiB, and 128 KiB
 * halves the messages again (P6, bench/RESULTS.md).
 */
export const DATA_CHANNEL_MESSAGE_BYTES = 131_072

/**
 * Bytes a data channel may queue before its writer pauses, bytes (4 MiB).
 * `@libp2p/webrtc` pauses at 2 MiB and resumes only once the queue is empty,
 * which leaves the channel idle for a moment each time; a transfer keeps at
 * most `TRANSFER_WINDOW` chunks (2 MiB) in flight, so at 4 MiB it never
 * pauses there. Chrome refuses sends beyond 16 MiB queued.
 */
export const DATA_CHANNEL_MAX_BUFFERED_BYTES = 4_194_304

/** `createRingCdn` was given no usable relay address */
export class InvalidRelayAddressError extends Error {
  static name = 'InvalidRelayAddressError'
  name = 'InvalidRelayAddressError'
}

/** This browser has no WebRTC, so the page is not a ring member (its fetches go to the origin) */
export class PeerToPeerUnavailableError extends Error {
  static name = 'PeerToPeerUnavailableError'
  name = 'PeerToPeerUnavailableError'
}

/**
 * Options of a page's WebRTC data channels, passed to `@libp2p/webrtc`
 * unchanged (the same fields as its `DataChannelOptions`). Declared here, not
 * imported, so the package's declarations do not need `@libp2p/webrtc`: it is
 * inside the prebuilt browser bundle, and a dependency of the package it
 * would pull react-native (~175 MB, through react-native-webrtc) into every
 * app that installs ringcdn.
 */
export interface DataChannelOptions {
  /** Largest message sent over a channel, bytes (ringcdn: DATA_CHANNEL_MESSAGE_BYTES) */
  maxMessageSize?: number
  /** Bytes queued before a writer waits for the channel to drain (ringcdn: DATA_CHANNEL_MAX_BUFFERED_BYTES) */
  maxBufferedAmount?: number
  /** How long a paused writer waits for `bufferedAmountLow`, ms */
  bufferedAmountLowEventTimeout?: number
  /** How long closing waits for the queue to drain, ms */
  drainTimeout?: number
  /** How long closing waits for the remote's FIN_ACK, ms */
  closeTimeout?: number
  /** How long the first send waits for the channel to open, ms */
  openTimeout?: number
  /** How long a closing stream waits for the remote to acknowledge its FIN, ms */
  finAckTimeout?: number
}

/** The services of a page's libp2p node */
export interface RingCdnServices extends Record<string, unknown> {
  identify: Identify
  ping: Ping
  cdn: RingCdn
}

/** A page's libp2p node */
export type RingCdnNode = Libp2p<RingCdnServices>

export interface CreateRingCdnInit extends Omit<RingCdnInit, 'bootstrap' | 'store'> {
  /**
   * Multiaddrs of the site's relays (`/dns4/…/tcp/443/wss/p2p/<id>`), which
   * are also the ring's bootstrap. Required.
   */
  relay: string | Multiaddr | Array<string | Multiaddr>
  /**
   * Where assets are kept: in memory (gone with the page), in IndexedDB
   * (survives reloads; database `ringcdn-store:<namespace>`), or a store of
   * your own (not closed by `stop()`). Without IndexedDB, 'indexeddb' falls
   * back to memory.
   *
   * @default 'memory'
   */
  store?: 'memory' | 'indexeddb' | ContentStore
  /**
   * Upper bound on the bytes the 'memory' or 'indexeddb' store keeps
   *
   * @default the store's own default (64 MiB in memory, 256 MiB in IndexedDB)
   */
  storeMaxBytes?: number
  /**
   * STUN/TURN servers for WebRTC
   *
   * @default [] in local development (no server reachable or needed), otherwise the public STUN servers of `@libp2p/webrtc`
   */
  iceServers?: RTCIceServer[]
  /**
   * Loopback development mode: loopback addresses may be dialled (plain
   * `ws://` relays, other pages' circuit addresses) and no STUN server is used
   *
   * @default true when the page is served from loopback and every relay is a loopback `ws://` address
   */
  localDevelopment?: boolean
  /**
   * Options of the WebRTC data channels (one per stream), e.g. `maxMessageSize`
   *
   * @default the defaults of `@libp2p/webrtc`, but 128 KiB messages (DATA_CHANNEL_MESSAGE_BYTES) and 4 MiB queued before a writer pauses (DATA_CHANNEL_MAX_BUFFERED_BYTES)
   */
  dataChannel?: DataChannelOptions
  /** @default RELAY_RETRY_DELAY_MS (1 s) */
  relayRetryDelayMs?: number
  /** @default RELAY_MAX_RETRY_DELAY_MS (30 s) */
  relayMaxRetryDelayMs?: number
}

/** What `createRingCdn` returns */
export interface RingCdnPage extends Pick<TypedEventTarget<RingCdnEvents>, 'addEventListener' | 'removeEventListener'> {
  /** false when the browser has no WebRTC: every fetch then goes to the origin */
  readonly peerToPeer: boolean
  /**
   * Why `peerToPeer` is false, in words a user can act on (undefined when it
   * is true); `whenJoined()` rejects with the same text
   */
  readonly peerToPeerUnavailable?: string
  readonly namespace: string
  /** This page's libp2p peer id (undefined without WebRTC) */
  readonly peerId?: string
  /** The page's libp2p node (undefined without WebRTC) */
  readonly libp2p?: RingCdnNode
  /**
   * Fetches an asset from this page's store, a peer or the origin, verified
   * against the trusted digest; the `ringcdn-source` header says which
   * (`local`, `peer`, `origin`). Errors as `RingCdn.fetch`.
   */
  fetch(url: string | URL, options?: RingCdnFetchOptions): Promise<Response>
  getStats(): RingCdnStats
  /** This page's view of the ring: self, predecessor, successors, fingers */
  getRing(): RingView
  /**
   * Resolves once the page is a ring member
   *
   * @throws {PeerToPeerUnavailableError} without WebRTC
   * @throws {JoinFailedError} when every join attempt failed
   */
  whenJoined(options?: AbortOptions): Promise<void>
  /** Leaves the ring and stops the node; fetches after this fail with `AbortError` / `NotStartedError` */
  stop(): Promise<void>
}

/**
 * Starts ringcdn in a web page. Resolves once the node runs; joining the ring
 * continues in the background (fetches before that go to the origin) —
 * `whenJoined()` waits for it.
 *
 * @throws {InvalidRelayAddressError} no relay, or one that is not a multiaddr
 */
export async function createRingCdn (init: CreateRingCdnInit): Promise<RingCdnPage> {
  const relays = parseRelays(init.relay)
  const { relay, store: storeOption, storeMaxBytes, iceServers, localDevelopment, dataChannel, relayRetryDelayMs, relayMaxRetryDelayMs, ...cdnInit } = init
  const namespace = init.namespace ?? pageOrigin() ?? DEFAULT_NAMESPACE

  if (typeof globalThis.RTCPeerConnection !== 'function') {
    return originOnly(new OriginOnlyCdn({ ...cdnInit, namespace }), NO_WEBRTC)
  }

  const local = localDevelopment ?? isLocalDevelopment(relays)
  const ownStore = typeof storeOption === 'string' || storeOption == null
  const store = openStore(storeOption, namespace, storeMaxBytes)
  const maxConnections = init.maxConnections ?? MAX_CONNECTIONS
  const ice = iceServers ?? (local ? [] : undefined)

  let node: RingCdnNode
  try {
    node = await createLibp2p({
      addresses: {
        listen: ['/p2p-circuit', '/webrtc'],
        // only WebRTC addresses: a peer dialling a plain circuit address would get a limited connection, useless for ring and content streams
        announceFilter: (addrs) => addrs.filter(isWebRtcAddress)
      },
      transports: [
        webSockets(),
        webRTC({ dataChannel: { maxMessageSize: DATA_CHANNEL_MESSAGE_BYTES, maxBufferedAmount: DATA_CHANNEL_MAX_BUFFERED_BYTES, ...dataChannel }, ...(ice == null ? {} : { rtcConfiguration: { iceServers: ice } }) }),
        circuitRelayTransport()
      ],
      connectionEncrypters: [noise()],
      streamMuxers: [yamux()],
      connectionGater: local ? localDevelopmentGater() : undefined,
      connectionManager: {
        maxConnections: maxConnections + CONNECTION_HEADROOM,
        inboundConnectionThreshold: INBOUND_CONNECTION_RATE
      },
      // it pings every connection over a fresh data channel every 10 s, most of an idle page's CPU; the browser's ICE
      // consent checks close a dead WebRTC connection, and the relay keeper pings the relay (bench:idle, bench/RESULTS.md)
      connectionMonitor: { enabled: false },
      services: {
        identify: identify(),
        ping: ping(),
        cdn: ringCdn({ ...cdnInit, namespace, store, maxConnections, bootstrap: relays })
      }
    })
  } catch (err) {
    if (ownStore) {
      await store.close().catch(() => {})
    }
    throw err
  }

  const keeper = new RelayKeeper({
    logger: node.logger,
    events: node,
    dial: async (addrs, options) => node.dial(addrs, options),
    getConnections: (peerId) => node.getConnections(peerId),
    getMultiaddrs: () => node.getMultiaddrs(),
    ping: async (peer, options) => node.services.ping.ping(peer, options)
  }, { relays, self: node.peerId.toString(), retryDelayMs: relayRetryDelayMs, maxRetryDelayMs: relayMaxRetryDelayMs })
  keeper.start()
  const stopHangUp = hangUpOnExit(globalThis, () => node.getConnections())

  const cdn = node.services.cdn
  let stopping: Promise<void> | undefined

  return {
    peerToPeer: true,
    namespace,
    peerId: node.peerId.toString(),
    libp2p: node,
    fetch: async (url, options) => cdn.fetch(url, options),
    getStats: () => cdn.getStats(),
    getRing: () => cdn.getRing(),
    whenJoined: async (options) => cdn.whenJoined(options),
    addEventListener: cdn.addEventListener.bind(cdn),
    removeEventListener: cdn.removeEventListener.bind(cdn),
    stop: async () => {
      stopping ??= (async () => {
        stopHangUp()
        keeper.stop()
        await node.stop()
        if (ownStore) {
          await store.close()
        }
      })()
      await stopping
    }
  }
}

/** Why a page without `RTCPeerConnection` is not a ring member */
const NO_WEBRTC = 'this browser has no WebRTC (no RTCPeerConnection: an old browser, a WebView without it, or WebRTC turned off, e.g. media.peerconnection.enabled = false in Firefox), so the page is not a ring member and every fetch goes to the origin'

function originOnly (cdn: OriginOnlyCdn, reason: string): RingCdnPage {
  return {
    peerToPeer: false,
    peerToPeerUnavailable: reason,
    namespace: cdn.namespace,
    fetch: async (url, options) => cdn.fetch(url, options),
    getStats: () => cdn.getStats(),
    getRing: () => cdn.getRing(),
    whenJoined: async () => { throw new PeerToPeerUnavailableError(reason) },
    addEventListener: cdn.addEventListener.bind(cdn),
    removeEventListener: cdn.removeEventListener.bind(cdn),
    stop: async () => { cdn.stop() }
  }
}

/** What a relay address looks like, for error messages */
const RELAY_EXAMPLE = '/dns4/relay.example.com/tcp/443/wss/p2p/12D3KooW… (ringcdn-relay prints its own on start)'

/**
 * The `relay` option as multiaddrs a page can dial: a page reaches its relays
 * over websockets only, so an address without `/ws` or `/wss` would fail
 * every dial quietly and leave the page out of the ring
 *
 * @throws {InvalidRelayAddressError} naming the option and the address
 */
function parseRelays (relay: CreateRingCdnInit['relay'] | undefined): Multiaddr[] {
  const list = Array.isArray(relay) ? relay : [relay].filter(r => r != null)
  if (list.length === 0) {
    throw new InvalidRelayAddressError(`createRingCdn needs at least one relay address in its \`relay\` option, e.g. ${RELAY_EXAMPLE}`)
  }
  return list.map(addr => {
    let ma: Multiaddr
    try {
      ma = typeof addr === 'string' ? multiaddr(addr) : addr
    } catch (err: any) {
      throw new InvalidRelayAddressError(`relay address "${String(addr)}" (the \`relay\` option of createRingCdn) is not a multiaddr such as ${RELAY_EXAMPLE} - ${err.message}`, { cause: err })
    }
    const names = ma.getComponents().map(c => c.name)
    if (!names.includes('ws') && !names.includes('wss')) {
      throw new InvalidRelayAddressError(`relay address "${ma.toString()}" (the \`relay\` option of createRingCdn) has no /ws or /wss: a page reaches its relays over websockets only, e.g. ${RELAY_EXAMPLE}`)
    }
    return ma
  })
}

function openStore (option: CreateRingCdnInit['store'], namespace: string, maxBytes: number | undefined): ContentStore {
  if (option != null && typeof option !== 'string') {
    return option
  }
  if (option === 'indexeddb' && globalThis.indexedDB != null) {
    return new IndexedDbContentStore({}, { namespace, maxBytes })
  }
  return new MemoryContentStore({}, { maxBytes })
}

/** A `…/p2p-circuit/webrtc/…` address: reached through a relay for signalling, then direct */
function isWebRtcAddress (ma: Multiaddr): boolean {
  const names = ma.getComponents().map(c => c.name)
  return names.includes('webrtc') && names.includes('p2p-circuit')
}
