/**
 * Errors a user meets while wiring ringcdn into an app: each has its own
 * name and says which option (or relay flag) to change. The page API runs
 * here in Node, which has no `RTCPeerConnection`: exactly a browser without
 * WebRTC.
 */
import { generateKeyPair } from '@libp2p/crypto/keys'
import { memory } from '@libp2p/memory'
import { peerIdFromPrivateKey } from '@libp2p/peer-id'
import { expect } from 'aegir/chai'
import { createLibp2p } from 'libp2p'
import { createRingCdn } from '../src/browser.ts'
import { ringCdn } from '../src/index.ts'
import { decodeBootstrapResponse } from '../src/libp2p/bootstrap-client.ts'
import { BootstrapResponse } from '../src/libp2p/bootstrap-messages.ts'

async function relayId (): Promise<string> {
  return peerIdFromPrivateKey(await generateKeyPair('Ed25519')).toString()
}

function refusal (message: string): Uint8Array {
  return BootstrapResponse.encode({ status: BootstrapResponse.Status.UNAVAILABLE, members: [], registered: false, message })
}

describe('errors that name the option to fix', function () {
  this.timeout(20_000)

  describe('createRingCdn relay addresses', () => {
    it('a relay address that is not a multiaddr names the `relay` option', async () => {
      const err = await createRingCdn({ relay: 'wss://relay.example.com' }).then(() => undefined, (e: Error) => e)
      expect(err?.name).to.equal('InvalidRelayAddressError')
      expect(err?.message).to.include('wss://relay.example.com').and.include('`relay` option').and.include('/wss/p2p/')
    })

    it('a relay address a page cannot dial (no /ws or /wss) is refused up front, naming the `relay` option', async () => {
      const addr = `/ip4/127.0.0.1/tcp/9090/p2p/${await relayId()}`
      const err = await createRingCdn({ relay: addr }).then(() => undefined, (e: Error) => e)
      expect(err?.name).to.equal('InvalidRelayAddressError')
      expect(err?.message).to.include(addr).and.include('`relay` option').and.include('no /ws or /wss')
    })

    it('no relay at all names the `relay` option', async () => {
      const err = await createRingCdn({ relay: [] }).then(() => undefined, (e: Error) => e)
      expect(err?.name).to.equal('InvalidRelayAddressError')
      expect(err?.message).to.include('`relay` option')
    })
  })

  describe('a browser without WebRTC', () => {
    it('says why peerToPeer is false, and whenJoined rejects with the same reason', async () => {
      expect(globalThis.RTCPeerConnection, 'this test needs a runtime without WebRTC').to.be.undefined()
      const cdn = await createRingCdn({ relay: `/ip4/127.0.0.1/tcp/9090/ws/p2p/${await relayId()}`, namespace: 'https://app.example' })
      try {
        expect(cdn.peerToPeer).to.equal(false)
        expect(cdn.peerToPeerUnavailable).to.include('no WebRTC').and.include('RTCPeerConnection')
        const err = await cdn.whenJoined().then(() => undefined, (e: Error) => e)
        expect(err?.name).to.equal('PeerToPeerUnavailableError')
        expect(err?.message).to.equal(cdn.peerToPeerUnavailable)
      } finally {
        await cdn.stop()
      }
    })
  })

  describe('ringCdn bootstrap addresses (Node)', () => {
    it('a bootstrap address that is not a multiaddr names the `bootstrap` option', async () => {
      const err = await createLibp2p({
        addresses: { listen: ['/memory/user-errors'] },
        transports: [memory()],
        services: { cdn: ringCdn({ bootstrap: ['relay.example.com:9090'] }) }
      }).then(async (node) => { await node.stop() }, (e: Error) => e)
      expect(err?.name).to.equal('InvalidParametersError')
      expect(err?.message).to.include('relay.example.com:9090').and.include('`bootstrap` option')
    })
  })

  describe('a relay refusing the bootstrap request', () => {
    it('a namespace the relay does not serve names the `namespace` option and the relay\'s --namespace list', () => {
      const err = (() => {
        try {
          decodeBootstrapResponse(refusal('namespace-not-served: this relay serves only the namespaces it was configured with'))
        } catch (e: any) {
          return e
        }
      })()
      expect(err?.name).to.equal('BootstrapRefusedError')
      expect(err?.message).to.include('namespace-not-served').and.include('`namespace` option').and.include('--namespace')
    })

    it('a relay at its namespace limit names --max-namespaces', () => {
      expect(() => decodeBootstrapResponse(refusal('namespaces-full: the relay tracks its maximum of 3 namespaces')))
        .to.throw(/--max-namespaces/)
    })

    it('keeps the relay\'s own message when it has no hint to add', () => {
      expect(() => decodeBootstrapResponse(refusal('founding-refused: told to found a ring before and never registered')))
        .to.throw(/^the relay refused: founding-refused: told to found a ring before and never registered$/)
    })
  })
})
