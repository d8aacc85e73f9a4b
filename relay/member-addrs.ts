/**
 * Which of the addresses a page registers are its own. The relay hands them
 * to joiners, who dial them: an address that is not the page's would turn
 * the relay into a way to send every joiner of a site to a third party's
 * host. So only two kinds are kept, both ending in `/p2p/<the page's id>`
 * (the peer its connection authenticated):
 *
 * - its relayed form through this relay, `<this relay>/p2p/<relay id>/p2p-circuit/…/p2p/<id>`.
 * The part before `/p2p/<relay id>` is rewritten to this relay's own first
 * address when it is not one of its addresses, so it cannot name another host;
 * - a direct address on the IP address the relay observes its connection
 * from (a page that listens itself).
 *
 * Every other address is dropped. Pure.
 */
import { multiaddr } from '@multiformats/multiaddr'
import type { Multiaddr } from '@multiformats/multiaddr'

export interface OwnAddressContext {
  /** The registering connection's remote peer id */
  peer: string
  /** This relay's peer id */
  relayPeer: string
  /** This relay's own addresses (without or with `/p2p/<relay id>`) */
  relayAddrs: Multiaddr[]
  /** The IP address the registering connection comes from, if known */
  observedIp?: string
}

export interface OwnAddresses {
  kept: Uint8Array[]
  /** Addresses dropped as not the page's own */
  dropped: number
  /** Relayed addresses whose relay part was rewritten to this relay's address */
  rewritten: number
}

/** The addresses of `addrs` that are the page's own (see the file header) */
export function ownAddresses (addrs: Multiaddr[], context: OwnAddressContext): OwnAddresses {
  const relayPrefixes = new Set(context.relayAddrs.map(ma => withoutPeer(ma, context.relayPeer).toString()))
  const firstPrefix = context.relayAddrs.length > 0 ? withoutPeer(context.relayAddrs[0], context.relayPeer) : undefined
  const kept = new Map<string, Uint8Array>()
  let dropped = 0
  let rewritten = 0
  for (const ma of addrs) {
    const components = ma.getComponents()
    const last = components[components.length - 1]
    if (last?.name !== 'p2p' || last.value !== context.peer) {
      dropped++
      continue
    }
    const circuits = components.filter(c => c.name === 'p2p-circuit').length
    if (circuits > 1) {
      dropped++
      continue
    }
    if (circuits === 1) {
      const at = components.findIndex(c => c.name === 'p2p-circuit')
      const relay = components[at - 1]
      if (relay?.name !== 'p2p' || relay.value !== context.relayPeer || firstPrefix == null) {
        // through another relay (or none named): nothing this relay can vouch for
        dropped++
        continue
      }
      const prefix = multiaddr(components.slice(0, at - 1))
      const rest = multiaddr(components.slice(at - 1))
      let own = ma
      if (!relayPrefixes.has(prefix.toString())) {
        own = firstPrefix.encapsulate(rest)
        rewritten++
      }
      kept.set(own.toString(), own.bytes)
      continue
    }
    const host = components[0]
    if ((host?.name === 'ip4' || host?.name === 'ip6') && host.value === context.observedIp) {
      kept.set(ma.toString(), ma.bytes)
      continue
    }
    dropped++
  }
  return { kept: [...kept.values()], dropped, rewritten }
}

/** The IP address of a connection's remote address, if it has one */
export function ipOf (ma: Multiaddr): string | undefined {
  const first = ma.getComponents()[0]
  return first?.name === 'ip4' || first?.name === 'ip6' ? first.value : undefined
}

function withoutPeer (ma: Multiaddr, peer: string): Multiaddr {
  const components = ma.getComponents()
  const last = components[components.length - 1]
  return last?.name === 'p2p' && last.value === peer ? multiaddr(components.slice(0, -1)) : ma
}
