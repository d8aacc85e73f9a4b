/**
 * Lookup floods against real libp2p ring members: one peer keeping many
 * routed requests in flight gets a small share of a node's waiting work (the
 * rest refused busy at once, before any forward), and the node keeps serving
 * everybody else.
 */
import { multiaddr } from '@multiformats/multiaddr'
import { expect } from 'aegir/chai'
import { keyForUrl } from '../../src/keys.ts'
import { ErrorCode } from '../../src/overlay/errors.ts'
import { RingRequest } from '../../src/overlay/messages.ts'
import { MAX_WAITING_REQUESTS_PER_PEER } from '../../src/overlay/request-shares.ts'
import { compareIds, idToBytes } from '../../src/overlay/ring-id.ts'
import { DEFAULT_NAMESPACE } from '../../src/ring-cdn.ts'
import { createRing, rawRingRpc, stopAll, trueSuccessor, waitForRing } from './cdn-fixtures.ts'
import { createNode, DIAL_TIMEOUT } from './fixtures.ts'
import type { CdnNode } from './cdn-fixtures.ts'
import type { StreamRpc } from '../../src/libp2p/stream-rpc.ts'
import type { RingResponse } from '../../src/overlay/messages.ts'
import type { Libp2p } from '@libp2p/interface'

/** Routed requests the flooder sends at once (within the flooder's own 64 outbound streams) */
const FLOOD = 2 * MAX_WAITING_REQUESTS_PER_PEER
/** Lookups each honest member makes, one after another, while the flood goes on */
const HONEST_LOOKUPS = 4
/** How long the flooded keys' owner takes to answer, ms */
const OWNER_DELAY_MS = 1_500
/** Bound on one flood request or honest lookup, ms */
const REQUEST_TIMEOUT_MS = 10_000

describe('a peer flooding a ring member with routed lookups', function () {
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

  /** The flooder speaks the ring protocol with the plain codec; it is no member */
  async function startFlooder (target: CdnNode): Promise<StreamRpc<RingRequest, RingResponse>> {
    flooder = await createNode('memory')
    rpc = await rawRingRpc(flooder)
    await flooder.dial(multiaddr(target.getMultiaddrs()[0].toString()), { signal: AbortSignal.timeout(DIAL_TIMEOUT) })
    return rpc
  }

  function route (key: bigint): RingRequest {
    return {
      type: RingRequest.Type.ROUTE,
      namespace: DEFAULT_NAMESPACE,
      // as if forwarded to us (hops: 1): a hop on the way waits for the whole rest of the budget, the
      // longest hold a sender can ask for; a payload, so the owner's application is asked
      route: { key: idToBytes(key), hopsLeft: 16, budgetMs: 5_000, hops: 1, final: false, maintenance: false, app: new Uint8Array([1]), avoid: [] }
    }
  }

  it('forwards a few of its requests at once and refuses the rest busy before any forward, while members\' lookups are answered', async () => {
    nodes = await createRing(5)
    await waitForRing(nodes)
    const target = nodes[0]
    const ids = nodes.map(n => n.services.cdn.nodeId as bigint).sort(compareIds)
    // the flood's keys belong to one other member, whose answers take a while (a loaded page): each
    // forward the target makes for the flooder waits there, as it would on a long path
    const owner = nodes[1]
    const floodKeys: bigint[] = []
    for (let i = 0; floodKeys.length < FLOOD; i++) {
      const key = keyForUrl(`https://flood.example/${i}`)
      if (trueSuccessor(ids, key) === owner.services.cdn.nodeId) {
        floodKeys.push(key)
      }
    }
    let waiting = 0
    let peak = 0
    owner.services.cdn.ring?.setApplication({
      deliver: async () => {
        peak = Math.max(peak, ++waiting)
        try {
          await new Promise(resolve => setTimeout(resolve, OWNER_DELAY_MS))
          return new Uint8Array(0)
        } finally {
          waiting--
        }
      }
    })
    const flood = await startFlooder(target)
    const to = target.peerId.toString()

    const flooding = Promise.allSettled(floodKeys.map(async key => flood.request(to, route(key), { timeout: REQUEST_TIMEOUT_MS })))
    // while the flood waits at the target: every other member looks up keys the slow owner is not
    // home for, a few one after another; none may fail
    const honestUrls = Array.from({ length: 40 }, (_, i) => `https://site.example/asset-${i}.js`)
      .filter(url => trueSuccessor(ids, keyForUrl(url)) !== owner.services.cdn.nodeId)
      .slice(0, HONEST_LOOKUPS)
    const honest = await Promise.allSettled(nodes.filter(n => n !== owner).map(async node => {
      for (const url of honestUrls) {
        await node.services.cdn.locate(url, { signal: AbortSignal.timeout(REQUEST_TIMEOUT_MS) })
      }
    }))
    const outcomes = await flooding

    // a ring error answer (BUSY is 7) comes back as a response, not a rejection of the raw request
    const served = outcomes.filter(o => o.status === 'fulfilled' && o.value.error === 0).length
    const busy = outcomes.filter(o => o.status === 'fulfilled' && o.value.error === ErrorCode.BUSY).length
    // on a loaded machine the requests arrive over a second or two, so some of a later wave are
    // served once the first ones are answered: the share bounds those waiting at once, not in all
    expect(served, 'flood requests served').to.be.at.least(1)
    expect(busy, 'flood requests refused busy').to.equal(FLOOD - served).and.to.be.at.least(FLOOD / 4)
    expect(peak, 'flood requests waiting at the owner at once').to.be.at.most(MAX_WAITING_REQUESTS_PER_PEER)
    expect(target.services.cdn.ring?.busyRefusals, 'refusals counted at the target').to.be.at.least(busy)
    const failed = honest.filter(r => r.status === 'rejected').map(r => (r as PromiseRejectedResult).reason?.message)
    expect(failed, 'honest lookups that failed').to.deep.equal([])
  })
})
