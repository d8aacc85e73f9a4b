/**
 * ANNOUNCE floods against a real libp2p ring member: one peer announcing
 * itself as the holder of many random keys gets a bounded share of the home's
 * directory, makes it send a bounded number of REPLICATEs however often it
 * announces, and an announce for a key the node is not home for is refused,
 * not passed on.
 */
import { peerIdFromString } from '@libp2p/peer-id'
import { multiaddr } from '@multiformats/multiaddr'
import { expect } from 'aegir/chai'
import { DirectoryRequest } from '../../src/cdn/directory-messages.ts'
import { keyForUrl, nodeIdFromBytes } from '../../src/keys.ts'
import { RingRequest } from '../../src/overlay/messages.ts'
import { compareIds, idToBytes } from '../../src/overlay/ring-id.ts'
import { peerToWire } from '../../src/overlay/wire.ts'
import { DEFAULT_NAMESPACE } from '../../src/ring-cdn.ts'
import { createRing, rawRingRpc, stopAll, trueSuccessor, waitForRing } from './cdn-fixtures.ts'
import { createNode, DIAL_TIMEOUT } from './fixtures.ts'
import type { CdnNode } from './cdn-fixtures.ts'
import type { StreamRpc } from '../../src/libp2p/stream-rpc.ts'
import type { RingResponse } from '../../src/overlay/messages.ts'
import type { Peer } from '../../src/overlay/seams.ts'
import type { Libp2p } from '@libp2p/interface'

/** Keys one holder may be listed for at a home, for this test */
const MAX_KEYS = 16
/** Random keys in the home's range the flooder announces */
const FLOOD_KEYS = 64
/** Bound on one announce, ms */
const ANNOUNCE_TIMEOUT_MS = 5_000

describe('a peer flooding a home node with announces', function () {
  this.timeout(120_000)
  let nodes: CdnNode[] = []
  let flooder: Libp2p | undefined
  let rpc: StreamRpc<RingRequest, RingResponse> | undefined

  afterEach(async () => {
    await rpc?.stop()
    await flooder?.stop()
    await stopAll(nodes)
    nodes = []
  })

  it('lists it for a bounded share of keys, replicates only new listings, and refuses keys it is not home for', async () => {
    nodes = await createRing(4, { init: { directory: { maxKeysPerHolder: MAX_KEYS } } })
    await waitForRing(nodes)
    const home = nodes[0]
    const ids = nodes.map(n => n.services.cdn.nodeId as bigint).sort(compareIds)
    const homeId = home.services.cdn.nodeId as bigint
    const mine: bigint[] = []
    const notMine: bigint[] = []
    for (let i = 0; mine.length < FLOOD_KEYS || notMine.length < 8; i++) {
      const key = keyForUrl(`https://random.example/${i}`)
      ;(trueSuccessor(ids, key) === homeId ? mine : notMine).push(key)
    }

    flooder = await createNode('memory')
    rpc = await rawRingRpc(flooder)
    await flooder.dial(multiaddr(home.getMultiaddrs()[0].toString()), { signal: AbortSignal.timeout(DIAL_TIMEOUT) })
    const address = flooder.peerId.toString()
    const self: Peer = { id: nodeIdFromBytes(peerIdFromString(address).toMultihash().bytes), address }
    const announce = async (key: bigint): Promise<RingResponse> => (rpc as StreamRpc<RingRequest, RingResponse>).request(home.peerId.toString(), {
      type: RingRequest.Type.APP,
      namespace: DEFAULT_NAMESPACE,
      app: { payload: DirectoryRequest.encode({ type: DirectoryRequest.Type.ANNOUNCE, key: idToBytes(key), gone: [], entries: [], holder: peerToWire(self) }) }
    }, { timeout: ANNOUNCE_TIMEOUT_MS })

    const keysBefore = home.services.cdn.getStats().directoryKeys
    const appSent = (): number => home.services.cdn.getStats().ringRpcsSentByType[RingRequest.Type.APP] ?? 0
    const sentBefore = appSent()
    // one after another, so the ring's per-sender share does not refuse any of them
    for (const key of mine) {
      expect((await announce(key)).error, 'an announce in range is answered').to.equal(0)
    }
    // the same keys again: already listed, nothing new to replicate
    for (const key of mine.slice(0, MAX_KEYS)) {
      await announce(key)
    }
    const refusals: string[] = []
    for (const key of notMine.slice(0, 8)) {
      const res = await announce(key)
      refusals.push(res.message)
    }

    const stats = home.services.cdn.getStats()
    expect(stats.directoryKeys - keysBefore, 'keys the flooder added to the directory').to.be.at.most(MAX_KEYS)
    expect(stats.announcesDropped, 'announces dropped past the share').to.equal(FLOOD_KEYS - MAX_KEYS)
    // a REPLICATE per new listing, and a few messages of the home's own upkeep meanwhile
    expect(appSent() - sentBefore, 'directory messages the home sent').to.be.at.most(MAX_KEYS + 8)
    expect(refusals.every(m => m.includes('not the key\'s home')), `refusals: ${refusals.join('; ')}`).to.equal(true)
  })
})
