/**
 * Two pages often dial each other at the same moment: a joiner its new
 * successor while the successor dials its new predecessor, both sides of a
 * new finger. A WebRTC dial between two pages can stall after ICE and DTLS
 * complete, its first data channel never opening, until libp2p's per-address
 * deadline (6 s); traced in Chromium pages on loopback, the stalled dial was
 * once the later of two crossing dials, the other having connected the
 * pages already. A request waiting on its own dial would wait out that
 * deadline; it takes the first usable connection to the peer instead,
 * whichever side dialled it. The stalled dial is left to end by its own
 * deadline.
 */
import type { Connection, Libp2pEvents, PeerId, TypedEventTarget } from '@libp2p/interface'

/** Where libp2p announces new connections (a node, or a service's `events` component) */
export type ConnectionEvents = Pick<TypedEventTarget<Libp2pEvents>, 'addEventListener' | 'removeEventListener'>

/**
 * Settles as `dial` does, or earlier with a connection to `peer` that opens
 * meanwhile and that `usable` accepts. Without `events` it is `dial`.
 */
export async function firstUsableConnection (events: ConnectionEvents | undefined, peer: PeerId, dial: Promise<Connection>, usable: (connection: Connection) => boolean): Promise<Connection> {
  if (events == null) {
    return dial
  }
  return new Promise<Connection>((resolve, reject) => {
    const onOpen = (evt: CustomEvent<Connection>): void => {
      const connection = evt.detail
      if (connection.status === 'open' && connection.remotePeer.equals(peer) && usable(connection)) {
        done()
        resolve(connection)
      }
    }
    const done = (): void => {
      events.removeEventListener('connection:open', onOpen)
    }
    events.addEventListener('connection:open', onOpen)
    dial.then(connection => {
      done()
      resolve(connection)
    }, err => {
      done()
      reject(err)
    })
  })
}
