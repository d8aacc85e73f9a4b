/**
 * How pages choose their relay (`relayOrder`, rendezvous hashing of the
 * page's peer id): a site's pages spread evenly over its relays, and the
 * pages of a relay that goes spread evenly over the others while every other
 * page keeps its relay. Pure: no network.
 */
import { multiaddr } from '@multiformats/multiaddr'
import { expect } from 'aegir/chai'
import { relayOrder } from '../../src/libp2p/bootstrap-client.ts'

const RELAYS = ['A', 'B', 'C', 'D'].map((_, i) => multiaddr(`/ip4/127.0.0.1/tcp/${9101 + i}/ws`))
/** Pages, as the P8 target of 20 000 clients over 4 relays */
const PAGES = 20_000

function pageIds (n: number): string[] {
  return Array.from({ length: n }, (_, i) => `12D3KooPage${i.toString(36)}-${(i * 2654435761 % 4294967296).toString(16)}`)
}

describe('relay: a page\'s choice of relay', () => {
  it('spreads 20 000 pages over 4 relays within ±5 % of the mean', () => {
    const counts = new Map<string, number>()
    for (const page of pageIds(PAGES)) {
      const first = relayOrder(page, RELAYS)[0].toString()
      counts.set(first, (counts.get(first) ?? 0) + 1)
    }
    const mean = PAGES / RELAYS.length
    expect([...counts.values()]).to.have.lengthOf(4)
    for (const n of counts.values()) {
      expect(Math.abs(n - mean) / mean).to.be.below(0.05)
    }
  })

  it('moves only the pages of a relay that went, spread evenly over the others', () => {
    const gone = RELAYS[2].toString()
    const moved = new Map<string, number>()
    let stayed = 0
    let pagesOfGone = 0
    for (const page of pageIds(PAGES)) {
      const order = relayOrder(page, RELAYS).map(ma => ma.toString())
      const without = relayOrder(page, RELAYS.filter(ma => ma.toString() !== gone)).map(ma => ma.toString())
      if (order[0] === gone) {
        pagesOfGone++
        moved.set(without[0], (moved.get(without[0]) ?? 0) + 1)
      } else {
        // a page whose relay is alive keeps it
        expect(without[0]).to.equal(order[0])
        stayed++
      }
    }
    expect(stayed + pagesOfGone).to.equal(PAGES)
    const mean = pagesOfGone / 3
    expect([...moved.values()]).to.have.lengthOf(3)
    for (const n of moved.values()) {
      expect(Math.abs(n - mean) / mean).to.be.below(0.1)
    }
  })

  it('gives one page the same order whatever order the site lists its relays in', () => {
    const a = relayOrder('12D3KooSomePage', RELAYS).map(String)
    const b = relayOrder('12D3KooSomePage', [...RELAYS].reverse()).map(String)
    expect(a).to.deep.equal(b)
  })
})
