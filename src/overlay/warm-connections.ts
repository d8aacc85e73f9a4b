/**
 * Connections to the peers a node routes through are set up as soon as they
 * enter its routing state, not by the first request that needs one. A new
 * connection costs a browser a WebRTC set-up through the relay (hundreds of
 * ms, seconds on a busy page), more than a hop's deadline: a lookup that met
 * a finger without a connection ran out of time on it. The libp2p facade and
 * the simulator both hand this to `onNeighboursChanged`.
 */
import type { PeersChange } from './routing-state.ts'
import type { Rpc } from './seams.ts'

export function warmNewNeighbours (rpc: Pick<Rpc<unknown, unknown>, 'connect'>): (change: PeersChange) => void {
  return (change) => {
    if (rpc.connect == null) {
      return
    }
    for (const peer of change.added) {
      rpc.connect(peer.address)
    }
  }
}
