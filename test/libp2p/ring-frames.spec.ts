/**
 * Frame bounds of the ring protocol on a real libp2p member: a frame larger
 * than any ring message is refused before it is buffered whole, and the
 * directory's largest messages are cut to fit under that bound.
 */
import { lpStream } from '@libp2p/utils'
import { multiaddr } from '@multiformats/multiaddr'
import { expect } from 'aegir/chai'
import { DirectoryRequest } from '../../src/cdn/directory-messages.ts'
import { batches } from '../../src/cdn/directory-wire.ts'
import { decodeRingResponse } from '../../src/overlay/codec.ts'
import { RingRequest } from '../../src/overlay/messages.ts'
import { idToBytes } from '../../src/overlay/ring-id.ts'
import { MAX_HINT_BYTES, MAX_HINTS, MAX_RING_MESSAGE_BYTES, peerToWire } from '../../src/overlay/wire.ts'
import { DEFAULT_NAMESPACE, ringProtocol } from '../../src/ring-cdn.ts'
import { createRing, stopAll } from './cdn-fixtures.ts'
import { createNode, DIAL_TIMEOUT } from './fixtures.ts'
import type { CdnNode } from './cdn-fixtures.ts'
import type { Peer } from '../../src/overlay/seams.ts'
import type { Libp2p } from '@libp2p/interface'

/** Bound on one raw request, ms */
const REQUEST_TIMEOUT_MS = 10_000

describe('ring frame bounds', function () {
  this.timeout(60_000)
  let nodes: CdnNode[] = []
  let sender: Libp2p | undefined

  afterEach(async () => {
    await sender?.stop()
    await stopAll(nodes)
    nodes = []
  })

  /** Sends one length-prefixed frame on a ring stream and reads the answer */
  async function send (target: CdnNode, frame: Uint8Array): Promise<Uint8Array> {
    sender = sender ?? await createNode('memory')
    const signal = AbortSignal.timeout(REQUEST_TIMEOUT_MS)
    await sender.dial(multiaddr(target.getMultiaddrs()[0].toString()), { signal: AbortSignal.timeout(DIAL_TIMEOUT) })
    const stream = await sender.dialProtocol(target.peerId, ringProtocol(DEFAULT_NAMESPACE), { signal })
    const lp = lpStream(stream, { maxDataLength: 8 * 1024 * 1024 })
    await lp.write(frame, { signal })
    return (await lp.read({ signal })).subarray()
  }

  it('resets a stream whose request frame is larger than any ring message, and answers one that fits', async () => {
    nodes = await createRing(1)
    const probe = (padding: number): Uint8Array => RingRequest.encode({
      type: RingRequest.Type.PROBE,
      namespace: DEFAULT_NAMESPACE,
      // a PROBE ignores its payload: only the frame's size decides
      app: { payload: new Uint8Array(padding) }
    })

    const small = await send(nodes[0], probe(1_000))
    // the answer envelope: a status byte, then the ring response
    expect(decodeRingResponse(small.subarray(1)).error).to.equal(0)

    // 1 MiB: under the adapter's generic 4 MiB bound, over the ring's own
    await expect(send(nodes[0], probe(1024 * 1024))).to.eventually.be.rejected()
  })

  it('cuts the directory\'s batches to fit a ring frame, however large its holders\' hints', () => {
    const hint = new Uint8Array(MAX_HINT_BYTES)
    const holders: Peer[] = Array.from({ length: 16 }, (_, i) => ({ id: BigInt(i + 1), address: `holder-${i}`.padEnd(60, 'x'), hints: Array.from({ length: MAX_HINTS }, () => hint) }))
    const entries: Array<[bigint, Peer[]]> = Array.from({ length: 300 }, (_, i) => [BigInt(i + 1), holders])
    const cut = batches(entries)
    expect(cut.flat()).to.have.lengthOf(entries.length)
    for (const batch of cut) {
      const bytes = DirectoryRequest.encode({
        type: DirectoryRequest.Type.REPLICATE,
        key: new Uint8Array(0),
        gone: [],
        entries: batch.map(([key, list]) => ({ key: idToBytes(key), holders: list.map(peerToWire) }))
      }).byteLength
      expect(bytes).to.be.below(MAX_RING_MESSAGE_BYTES - 1024)
    }
  })
})
