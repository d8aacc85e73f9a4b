/**
 * The full-relay gate on its own: it refuses only when every slot is taken
 * by other peers, and closes a refused peer's connections after its delay
 * (unless the relay stopped first).
 */
import { generateKeyPair } from '@libp2p/crypto/keys'
import { peerIdFromPrivateKey } from '@libp2p/peer-id'
import { expect } from 'aegir/chai'
import { ReservationGate } from '../../relay/reservation-gate.ts'
import { waitFor } from '../libp2p/fixtures.ts'
import type { PeerId } from '@libp2p/interface'

async function newPeer (): Promise<PeerId> {
  return peerIdFromPrivateKey(await generateKeyPair('Ed25519'))
}

describe('relay: reservation gate', () => {
  it('refuses only when every slot is held by another peer, and then closes the refused peer', async () => {
    const [holder, other] = await Promise.all([newPeer(), newPeer()])
    const held = new Set<string>()
    const closed: string[] = []
    const gate = new ReservationGate({ maxReservations: 1, closeDelayMs: 10 })
    // not attached yet: the reservation store decides alone
    expect(gate.denyInboundRelayReservation(other)).to.equal(false)
    gate.attach({
      reservations: { get size () { return held.size }, has: (peer) => held.has(peer.toString()) },
      close: (peer) => { closed.push(peer.toString()) }
    })
    expect(gate.denyInboundRelayReservation(holder)).to.equal(false)
    held.add(holder.toString())
    // a refresh of a held reservation is never refused
    expect(gate.denyInboundRelayReservation(holder)).to.equal(false)
    expect(gate.denyInboundRelayReservation(other)).to.equal(true)
    expect(gate.refused).to.equal(1)
    await waitFor(() => closed.length > 0, 5_000, 'the refused peer to be closed')
    expect(closed).to.deep.equal([other.toString()])
  })

  it('closes nobody once stopped', async () => {
    const [holder, other] = await Promise.all([newPeer(), newPeer()])
    const closed: string[] = []
    const gate = new ReservationGate({ maxReservations: 1, closeDelayMs: 50 })
    gate.attach({
      reservations: { size: 1, has: (peer) => peer.equals(holder) },
      close: (peer) => { closed.push(peer.toString()) }
    })
    expect(gate.denyInboundRelayReservation(other)).to.equal(true)
    gate.stop()
    await new Promise(resolve => setTimeout(resolve, 200))
    expect(closed).to.deep.equal([])
  })
})
