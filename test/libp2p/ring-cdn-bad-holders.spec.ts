/**
 * Holders that waste a fetch's time, on 8 real libp2p nodes (`@libp2p/memory`)
 * and a real HTTP origin on 127.0.0.1: a silent holder while the origin is
 * slow (the origin is brought in beside the peer path and wins), and silent,
 * BUSY and TOO_LARGE holders beside an honest one (the next holder is asked,
 * the bad one avoided). Home copies are off, so the holders a home lists are
 * exactly the nodes that fetched an asset.
 */
import { expect } from 'aegir/chai'
import { SOURCE_HEADER } from '../../src/ring-cdn.ts'
import { bytesOf, sri, startOrigin } from '../fixtures/origin-server.ts'
import { bodyBytes, createRing, misbehave, stopAll, waitForRing } from './cdn-fixtures.ts'
import { waitFor } from './fixtures.ts'
import type { CdnNode, Misbehaviour } from './cdn-fixtures.ts'
import type { HolderFailureDetail } from '../../src/cdn/stats.ts'
import type { Origin } from '../fixtures/origin-server.ts'

const NODES = 8
const HOSTILE: Record<Misbehaviour, number> = { silent: 1, busy: 2, 'too-large': 3 }
const HONEST_HOLDER = 4
/** Requesters of the holder tests: the race is held off there, so every fetch shows what the peer path did */
const REQUESTERS = [0, 5, 6]
/** The requester of the race test: it waits for a silent holder long enough for the origin to answer first */
const RACER = 7
/** Assets per requester and attack: a requester asks the hostile holder first on about half of them */
const ASSETS_EACH = 4
/** The origin's added delay for the race test's asset, ms (what a distant origin costs) */
const SLOW_ORIGIN_MS = 1_500

describe('ringcdn with bad holders on 8 libp2p nodes', function () {
  this.timeout(120_000)

  let origin: Origin
  let nodes: CdnNode[]
  const manifest = { ringcdn: 1 as const, assets: {} as Record<string, string> }
  const bodies = new Map<string, Uint8Array>()
  const cdn = (i: number): CdnNode['services']['cdn'] => nodes[i].services.cdn

  const paths: string[] = ['/race/slow.bin']
  for (const attack of Object.keys(HOSTILE)) {
    for (const r of REQUESTERS) {
      for (let k = 0; k < ASSETS_EACH; k++) {
        paths.push(`/holders/${attack}-${r}-${k}.bin`)
      }
    }
  }

  before(async () => {
    origin = await startOrigin()
    paths.forEach((path, i) => {
      const body = bytesOf(20_000 + i, 100 + i)
      bodies.set(path, body)
      origin.set(path, { body, contentType: 'application/octet-stream' })
      manifest.assets[origin.url(path)] = sri(body)
    })
    nodes = await createRing(NODES, {
      initFor: (i) => ({
        manifest,
        homeCopies: false,
        // the race held off, and the next holder asked a second after a silent one: an honest holder
        // slow to answer on a busy machine is not taken for a silent one
        ...(REQUESTERS.includes(i) ? { originMarginMs: 60_000, originSafetyFactor: 1, holderHedgeMs: 1_000 } : {}),
        // a margin shorter than the slow origin's time: the race, not the peer phase's end, brings it in
        ...(i === RACER ? { holderAnswerTimeoutMs: 30_000, peerTimeoutMs: 30_000, originMarginMs: 800 } : {})
      })
    })
    await waitForRing(nodes)
  })

  after(async () => {
    await stopAll(nodes ?? [])
    await origin?.close()
  })

  it('fetches from a slow origin while a silent holder keeps the peer path waiting: the origin was brought in before the peer path ended', async () => {
    const path = '/race/slow.bin'
    const url = origin.url(path)
    // the silent node fetched it (so the home lists it), then stops answering
    await bodyBytes(await cdn(HOSTILE.silent).fetch(url))
    await waitForHolders(RACER, url, 1)
    await misbehave(nodes[HOSTILE.silent], 'silent')
    origin.set(path, { body: bodies.get(path) as Uint8Array, getDelayMs: SLOW_ORIGIN_MS })

    const failures: HolderFailureDetail[] = []
    cdn(RACER).addEventListener('holder-failure', (evt) => { failures.push(evt.detail) })
    const before = cdn(RACER).getStats()
    const res = await cdn(RACER).fetch(url)
    // what had happened when the fetch answered: the silent holder had not been given up on
    const failuresWhenAnswered = failures.length
    expect(res.headers.get(SOURCE_HEADER)).to.equal('origin')
    expect(await bodyBytes(res)).to.equalBytes(bodies.get(path))
    expect(failuresWhenAnswered).to.equal(0)
    const after = cdn(RACER).getStats()
    expect(after.originRaces - before.originRaces).to.equal(1)
    expect(after.originRacesWonByPeer - before.originRacesWonByPeer).to.equal(0)
    expect(after.fromOrigin - before.fromOrigin).to.equal(1)
    // one GET by the silent node, one by the racer: no more
    expect(origin.count(path)).to.equal(2)
  })

  const holderTest = (attack: Misbehaviour): void => {
    it(`asks the next holder after a ${attack} one, and avoids the ${attack} holder from then on`, async () => {
      const hostile = nodes[HOSTILE[attack]]
      const mine = paths.filter(p => p.startsWith(`/holders/${attack}-`))
      // the hostile node holds each asset first, then an honest one
      for (const path of mine) {
        await bodyBytes(await cdn(HOSTILE[attack]).fetch(origin.url(path)))
      }
      for (const path of mine) {
        await waitForHolders(HONEST_HOLDER, origin.url(path), 1)
        await bodyBytes(await cdn(HONEST_HOLDER).fetch(origin.url(path)))
      }
      await misbehave(hostile, attack)

      let encounters = 0
      for (const r of REQUESTERS) {
        const failures: HolderFailureDetail[] = []
        cdn(r).addEventListener('holder-failure', (evt) => { failures.push(evt.detail) })
        const before = cdn(r).getStats()
        for (let k = 0; k < ASSETS_EACH; k++) {
          const path = `/holders/${attack}-${r}-${k}.bin`
          const url = origin.url(path)
          await waitForHolders(r, url, 2)
          const res = await cdn(r).fetch(url)
          // one bad answer never ends the peer phase: the honest holder serves it
          expect(res.headers.get(SOURCE_HEADER), `${path}, holder failures ${JSON.stringify(failures)}`).to.equal('peer')
          expect(await bodyBytes(res)).to.equalBytes(bodies.get(path))
        }
        if (attack === 'silent') {
          // a silent holder is judged when its answer deadline passes, after the fetch the other holder
          // served: every fetch that asked it first hedged once, and gets that verdict
          const hedges = cdn(r).getStats().holderHedges - before.holderHedges
          await waitFor(() => failures.filter(f => f.peer === hostile.peerId.toString()).length >= hedges, 10_000, `the silent holder's verdicts at requester ${r}`)
        }
        const fromHostile = failures.filter(f => f.peer === hostile.peerId.toString())
        // avoided after the first time
        expect(fromHostile.length, JSON.stringify(fromHostile)).to.be.at.most(1)
        expect(cdn(r).getStats().holdersAvoided[attack] ?? 0).to.equal(fromHostile.length)
        expect(cdn(r).getStats().fromOrigin).to.equal(before.fromOrigin)
        encounters += fromHostile.length
      }
      // each requester asks the hostile holder first on about half its fetches until it avoids it:
      // that none of them ever did is a 1-in-4 096 chance
      expect(encounters).to.be.greaterThan(0)
    })
  }
  for (const attack of Object.keys(HOSTILE) as Misbehaviour[]) {
    holderTest(attack)
  }

  async function waitForHolders (i: number, url: string, min: number): Promise<void> {
    const end = Date.now() + 10_000
    const self = nodes[i].peerId.toString()
    while (true) {
      const res = await cdn(i).locate(url)
      if (res.holders.filter(h => h !== self).length >= min) {
        return
      }
      if (Date.now() > end) {
        throw new Error(`home node lists ${res.holders.length} holders of ${url}, wanted ${min}`)
      }
      await new Promise(resolve => setTimeout(resolve, 50))
    }
  }
})
