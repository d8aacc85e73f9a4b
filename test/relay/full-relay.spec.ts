/**
 * A full relay: two peered relays on loopback with one reservation slot
 * each. A page whose first choice is the relay already holding another
 * page's reservation is refused and disconnected by it, and its keeper moves
 * it to the other relay at once — the keeper's own reservation timeout is
 * set far beyond the test's deadline, so only the relay's disconnect can
 * move it in time.
 */
import { expect } from 'aegir/chai'
import { waitFor } from '../libp2p/fixtures.ts'
import { createMultiRelayPage, createRelaySet, relayOf, waitForLinks } from './fixtures.ts'
import type { MultiRelayPage, RelaySet } from './fixtures.ts'

/** Far beyond any wait below: a move within the test is the relay's doing */
const KEEPER_RESERVATION_TIMEOUT_MS = 600_000

describe('relay: a full relay refuses a page and disconnects it, and the page moves on', function () {
  this.timeout(120_000)

  let set: RelaySet
  const pages: MultiRelayPage[] = []

  /** A page that tries relay `first` first */
  async function pageOn (first: number): Promise<MultiRelayPage> {
    const order = set.addrs.map((_, i) => set.addrs[(first + i) % set.addrs.length])
    const page = await createMultiRelayPage(order, { namespace: 'https://full.example' }, {
      self: undefined,
      random: () => 0.999,
      reservationTimeoutMs: KEEPER_RESERVATION_TIMEOUT_MS
    })
    pages.push(page)
    return page
  }

  before(async () => {
    set = await createRelaySet(2, { limits: { maxReservations: 1 } })
    await waitForLinks(set)
  })

  after(async () => {
    for (const page of pages) {
      await page.stop()
    }
    await set?.stopAll()
  })

  it('moves a refused page to its next relay without waiting for its reservation timeout', async () => {
    const first = await pageOn(0)
    await waitFor(() => relayOf(first.node) === set.relays[0].peerId, 30_000, 'the first page to reserve on relay 0')

    const second = await pageOn(0)
    await waitFor(() => relayOf(second.node) === set.relays[1].peerId, 30_000, 'the refused page to reserve on relay 1')

    expect(set.relays[0].stats().refusedReservations).to.be.greaterThan(0)
    expect(set.relays[0].stats().reservations).to.equal(1)
    expect(second.keeper.moves).to.be.greaterThan(0)
    expect(second.keeper.current()).to.equal(set.relays[1].peerId)
    // the page that held its slot kept it
    expect(relayOf(first.node)).to.equal(set.relays[0].peerId)
  })
})
