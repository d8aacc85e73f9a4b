/**
 * Local development without configuration: a page served from loopback
 * talking to a relay on loopback over plain `ws://`.
 *
 * libp2p's browser build refuses to dial insecure websockets and private
 * addresses (its default connection gater), and `@libp2p/webrtc` asks four
 * public STUN servers for candidates. Both are right in production (wss://
 * relays on public names) and both break a laptop or a closed test network:
 * the relay is `ws://127.0.0.1`, the `/p2p-circuit/webrtc` addresses of other
 * pages start with it, and the STUN servers cannot be reached. So when, and
 * only when, the page itself is on loopback and every relay address is
 * loopback `ws://`, loopback addresses may be dialled and no STUN server is
 * used.
 */
import { isPrivate } from '@libp2p/utils'
import type { ConnectionGater } from '@libp2p/interface'
import type { Multiaddr } from '@multiformats/multiaddr'

/** Whether a host name (as in `location.hostname`) is this machine */
export function isLoopbackHost (hostname: string | undefined): boolean {
  if (hostname == null) {
    return false
  }
  const host = hostname.toLowerCase().replace(/^\[|\]$/g, '')
  return host === 'localhost' || host.endsWith('.localhost') || host === '::1' || /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(host)
}

/** Whether a multiaddr's first host component is this machine */
export function isLoopbackMultiaddr (ma: Multiaddr): boolean {
  const host = ma.getComponents().find(c => c.name === 'ip4' || c.name === 'ip6' || c.name === 'dns' || c.name === 'dns4' || c.name === 'dns6')
  return isLoopbackHost(host?.value)
}

/** Whether a relay address is plain (unencrypted) websockets on this machine */
export function isLoopbackWsRelay (ma: Multiaddr): boolean {
  const names = ma.getComponents().map(c => c.name)
  return isLoopbackMultiaddr(ma) && names.includes('ws') && !names.includes('tls') && !names.includes('wss')
}

/** Whether the page and every relay are on loopback, relays over `ws://`: then local development settings apply */
export function isLocalDevelopment (relays: Multiaddr[], pageHostname: string | undefined = pageHost()): boolean {
  return relays.length > 0 && isLoopbackHost(pageHostname) && relays.every(isLoopbackWsRelay)
}

/**
 * The connection gater of local development: loopback addresses may be
 * dialled over any transport (the relay's `ws://127.0.0.1`, and the circuit
 * and WebRTC addresses of other pages, which start with it); other private
 * addresses stay refused as in libp2p's browser default
 */
export function localDevelopmentGater (): ConnectionGater {
  return {
    denyDialMultiaddr: (ma) => !isLoopbackMultiaddr(ma) && isPrivate(ma)
  }
}

function pageHost (): string | undefined {
  return (globalThis as { location?: { hostname?: string } }).location?.hostname
}
