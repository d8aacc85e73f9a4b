/**
 * A member's registered addresses are kept only when they are its own
 */
import { multiaddr } from '@multiformats/multiaddr'
import { expect } from 'aegir/chai'
import { ownAddresses } from '../../relay/member-addrs.ts'

const PAGE = '12D3KooWJ5wKr4cN5oqRb8TQ1cNYNS5gBeuCyyXw7iPgVf4UWqfv'
const RELAY = '12D3KooWSJHfDtRMnbtEjTuMsiAq2SEa2kH3a2WtvtaaDmDVbKo2'
const OTHER = '12D3KooWAm8Gc5yW2bdCxWbHkzFQMWPYGS4dZRQEAo3qz3JkRgJh'

const context = {
  peer: PAGE,
  relayPeer: RELAY,
  relayAddrs: [multiaddr(`/ip4/127.0.0.1/tcp/9090/ws/p2p/${RELAY}`)],
  observedIp: '10.0.0.5'
}

function keep (...addrs: string[]): string[] {
  return ownAddresses(addrs.map(a => multiaddr(a)), context).kept.map(bytes => multiaddr(bytes).toString())
}

describe('relay: a member\'s own addresses', () => {
  it('keeps its relayed WebRTC address through this relay', () => {
    const own = `/ip4/127.0.0.1/tcp/9090/ws/p2p/${RELAY}/p2p-circuit/webrtc/p2p/${PAGE}`
    expect(keep(own)).to.deep.equal([own])
  })

  it('rewrites a relayed address whose relay part names another host to this relay\'s address', () => {
    const elsewhere = `/ip4/203.0.113.9/tcp/80/ws/p2p/${RELAY}/p2p-circuit/webrtc/p2p/${PAGE}`
    expect(keep(elsewhere)).to.deep.equal([`/ip4/127.0.0.1/tcp/9090/ws/p2p/${RELAY}/p2p-circuit/webrtc/p2p/${PAGE}`])
  })

  it('keeps a direct address on the IP address its connection comes from', () => {
    expect(keep(`/ip4/10.0.0.5/tcp/4001/ws/p2p/${PAGE}`)).to.deep.equal([`/ip4/10.0.0.5/tcp/4001/ws/p2p/${PAGE}`])
  })

  it('drops a third party\'s host, an address without /p2p, another relay, and a name it cannot check', () => {
    const result = ownAddresses([
      `/ip4/203.0.113.9/tcp/80/ws/p2p/${PAGE}`,
      '/ip4/10.0.0.5/tcp/4001/ws',
      '/ip4/203.0.113.9/tcp/80/ws',
      `/ip4/127.0.0.1/tcp/9090/ws/p2p/${OTHER}/p2p-circuit/webrtc/p2p/${PAGE}`,
      `/dns4/victim.example/tcp/443/wss/p2p/${PAGE}`,
      `/p2p/${RELAY}/p2p-circuit/p2p/${RELAY}/p2p-circuit/webrtc/p2p/${PAGE}`
    ].map(a => multiaddr(a)), context)
    expect(result.kept).to.be.empty()
    expect(result.dropped).to.equal(6)
  })
})
