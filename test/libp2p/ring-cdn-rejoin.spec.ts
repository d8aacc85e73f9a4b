/**
 * A page whose join failed for good (every retry) keeps trying: the ring may
 * have been unreachable only when it opened. A page that founded a ring late
 * (its relay had meanwhile let another page found one) joins that ring.
 */
import { lpStream } from '@libp2p/utils'
import { expect } from 'aegir/chai'
import { BOOTSTRAP_PROTOCOL } from '../../src/libp2p/bootstrap-client.ts'
import { BootstrapRequest, BootstrapResponse } from '../../src/libp2p/bootstrap-messages.ts'
import { MemoryContentStore } from '../../src/storage/memory-store.ts'
import { createCdnNode, createRing, stopAll, waitForRing } from './cdn-fixtures.ts'
import { createNode, waitFor } from './fixtures.ts'
import type { CdnNode } from './cdn-fixtures.ts'
import type { Libp2p } from '@libp2p/interface'

describe('ringcdn rejoin', function () {
  this.timeout(60_000)
  let nodes: CdnNode[] = []

  afterEach(async () => {
    await stopAll(nodes)
    nodes = []
  })

  it('joins once the ring is reachable, after whenJoined() rejected', async () => {
    // a store of its own: the service closes only a store it made, so the founder can start again
    const founder = await createCdnNode({ init: { bootstrap: [], store: new MemoryContentStore() } })
    nodes.push(founder)
    const bootstrap = founder.getMultiaddrs().map(ma => ma.toString())
    // the only contact is down when the page opens
    await founder.stop()
    const page = await createCdnNode({ init: { bootstrap, joinRetries: 0, rejoinIntervalMs: 200 } })
    nodes.push(page)
    await expect(page.services.cdn.whenJoined({ signal: AbortSignal.timeout(30_000) })).to.eventually.be.rejected.with.property('name', 'JoinFailedError')
    expect(page.services.cdn.joined).to.equal(false)

    await founder.start()
    await founder.services.cdn.whenJoined({ signal: AbortSignal.timeout(10_000) })
    await waitFor(() => page.services.cdn.joined, 30_000, 'the page to join on a later attempt')
    await page.services.cdn.whenJoined({ signal: AbortSignal.timeout(1_000) })
    expect(page.services.cdn.getRing().successors.map(p => p.peer)).to.include(founder.peerId.toString())
  })

  it('joins the ring its relay lists when it registers alone in a ring it founded late', async () => {
    // two pages already form the namespace's ring
    const ring = await createRing(2, { transport: 'tcp' })
    nodes.push(...ring)
    // a relay that tells the next page to found (as when another page's grant lapsed an instant
    // before) and then, when that page registers, lists the ring that formed meanwhile
    const relay: Libp2p = await createNode('tcp')
    const asked: boolean[] = []
    const listing = ring.map(n => ({ peer: n.peerId.toMultihash().bytes, addrs: n.getMultiaddrs().map(ma => ma.bytes) }))
    await relay.handle(BOOTSTRAP_PROTOCOL, async (stream) => {
      const lp = lpStream(stream)
      const req = BootstrapRequest.decode((await lp.read()).subarray())
      asked.push(req.member)
      const members = req.member ? listing : []
      await lp.write(BootstrapResponse.encode({ status: req.member ? BootstrapResponse.Status.OK : BootstrapResponse.Status.FOUND, members, registered: req.member, message: '' }))
      await stream.close()
    })
    try {
      const late = await createCdnNode({ transport: 'tcp', init: { bootstrap: relay.getMultiaddrs().map(ma => ma.toString()) } })
      nodes.push(late)
      await late.services.cdn.whenJoined({ signal: AbortSignal.timeout(10_000) })
      await waitFor(() => asked.includes(true), 10_000, 'the late founder to register')
      await waitForRing([...ring, late])
      expect(asked[0]).to.equal(false)
    } finally {
      await relay.stop()
    }
  })
})
