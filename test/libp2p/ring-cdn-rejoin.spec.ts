/**
 * A page whose join failed for good (every retry) keeps trying: the ring may
 * have been unreachable only when it opened.
 */
import { expect } from 'aegir/chai'
import { MemoryContentStore } from '../../src/storage/memory-store.ts'
import { createCdnNode, stopAll } from './cdn-fixtures.ts'
import { waitFor } from './fixtures.ts'
import type { CdnNode } from './cdn-fixtures.ts'

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
})
