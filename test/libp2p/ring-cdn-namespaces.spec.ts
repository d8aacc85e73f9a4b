/**
 * Two sites' rings on one libp2p network: the nodes share connections, yet
 * the rings never mix — their protocol ids are namespaced, and a ring message
 * that names another namespace is refused.
 */
import { expect } from 'aegir/chai'
import { StreamRpc, libp2pComponents } from '../../src/libp2p/stream-rpc.ts'
import { ErrorCode } from '../../src/overlay/errors.ts'
import { RingRequest, RingResponse } from '../../src/overlay/messages.ts'
import { SOURCE_HEADER, ringProtocol } from '../../src/ring-cdn.ts'
import { bytesOf, sri, startOrigin } from '../fixtures/origin-server.ts'
import { bodyBytes, createCdnNode, createRing, ringIsCorrect, stopAll, waitForRing } from './cdn-fixtures.ts'
import { DIAL_TIMEOUT } from './fixtures.ts'
import type { CdnNode } from './cdn-fixtures.ts'
import type { Origin } from '../fixtures/origin-server.ts'

describe('ringcdn namespaces', function () {
  this.timeout(60_000)

  let origin: Origin
  let siteA: CdnNode[] = []
  let siteB: CdnNode[] = []
  const extra: CdnNode[] = []
  const body = bytesOf(70_000, 21)

  before(async () => {
    origin = await startOrigin()
    origin.set('/shared.js', { body })
    const manifest = { ringcdn: 1 as const, assets: { [origin.url('/shared.js')]: sri(body) } }
    siteA = await createRing(4, { init: { namespace: 'https://a.example', manifest } })
    siteB = await createRing(4, { init: { namespace: 'https://b.example', manifest } })
    // every node of one site connected to every node of the other
    await Promise.all(siteA.flatMap(a => siteB.map(async b => a.dial(b.getMultiaddrs(), { signal: AbortSignal.timeout(DIAL_TIMEOUT) }))))
    await Promise.all([waitForRing(siteA), waitForRing(siteB)])
  })

  after(async () => {
    await stopAll([...siteA, ...siteB, ...extra])
    await origin?.close()
  })

  it('keeps each ring to its own members although they share connections', async () => {
    expect(siteA[0].getConnections(siteB[0].peerId)).to.not.be.empty()
    const a = new Set(siteA.map(n => n.peerId.toString()))
    for (const node of siteA) {
      const ring = node.services.cdn.ring
      expect(ring?.successors.every(p => a.has(p.address))).to.be.true()
      expect(a.has(ring?.predecessor?.address ?? '')).to.be.true()
    }
    expect(ringIsCorrect(siteA)).to.be.true()
    expect(ringIsCorrect(siteB)).to.be.true()
  })

  it('never serves one site\'s holders to the other', async () => {
    const url = origin.url('/shared.js')
    await bodyBytes(await siteA[0].services.cdn.fetch(url))
    const fromB = await siteB[1].services.cdn.fetch(url)
    expect(fromB.headers.get(SOURCE_HEADER)).to.equal('origin')
    expect(await bodyBytes(fromB)).to.equalBytes(body)
    expect(origin.count('/shared.js')).to.equal(2)
    expect((await siteB[2].services.cdn.locate(url)).holders).to.not.include(siteA[0].peerId.toString())
  })

  it('cannot join through a member of another namespace', async () => {
    const stray = await createCdnNode({
      init: { namespace: 'https://b.example', bootstrap: siteA[0].getMultiaddrs().map(String), joinRetries: 1, joinRetryDelayMs: 50 }
    })
    extra.push(stray)
    await expect(stray.services.cdn.whenJoined({ signal: AbortSignal.timeout(10_000) })).to.eventually.be.rejected.with.property('name', 'JoinFailedError')
    expect(stray.services.cdn.joined).to.be.false()
  })

  it('refuses a ring message that names another namespace', async () => {
    // a client of site A's ring protocol that says it speaks for site B
    const rpc = new StreamRpc(libp2pComponents(siteB[0]), {
      protocol: ringProtocol('https://a.example'),
      encodeRequest: (req: RingRequest) => RingRequest.encode(req),
      decodeRequest: (bytes) => RingRequest.decode(bytes),
      encodeResponse: (res: RingResponse) => RingResponse.encode(res),
      decodeResponse: (bytes) => RingResponse.decode(bytes)
    })
    await rpc.start()
    try {
      const res = await rpc.request(siteA[0].peerId.toString(), { type: RingRequest.Type.PROBE, namespace: 'https://b.example' }, { timeout: 5_000 })
      expect(res.error).to.equal(ErrorCode.WRONG_NAMESPACE)
    } finally {
      await rpc.stop()
    }
  })
})
