/**
 * `npm run bench:full-relay`: how long a page refused by a full relay takes
 * to hold a reservation on its next relay (issue 17). Each trial starts two
 * peered relays on loopback with one reservation slot each; a first page
 * takes relay 0's slot; a second page, whose first choice is relay 0 too and
 * whose keeper keeps the library's 15 s reservation timeout, is timed from
 * its creation to its reservation on relay 1.
 *
 * Prints the times and saves bench/results/full-relay.json. Environment:
 * TRIALS (5).
 */
import { mkdir, writeFile } from 'node:fs/promises'
import { loadavg } from 'node:os'
import { RELAY_RESERVATION_TIMEOUT_MS } from '../src/browser/relay-keeper.ts'
import { waitFor } from '../test/libp2p/fixtures.ts'
import { createMultiRelayPage, createRelaySet, relayOf, waitForLinks } from '../test/relay/fixtures.ts'
import type { MultiRelayPage } from '../test/relay/fixtures.ts'

const TRIALS = Number(process.env.TRIALS ?? 5)
/** Bound on one page's wait for a reservation (a move after the keeper's timeout still shows) */
const WAIT_MS = 60_000
const namespace = 'https://full-relay.example'

async function trial (): Promise<{ ms: number, refused: number, moves: number }> {
  const set = await createRelaySet(2, { limits: { maxReservations: 1 } })
  const pages: MultiRelayPage[] = []
  try {
    await waitForLinks(set)
    // the keeper keeps this order with random() close to 1
    const keeper = { self: undefined, random: () => 0.999, reservationTimeoutMs: RELAY_RESERVATION_TIMEOUT_MS }
    pages.push(await createMultiRelayPage(set.addrs, { namespace }, keeper))
    await waitFor(() => relayOf(pages[0].node) === set.relays[0].peerId, WAIT_MS, 'the first page to reserve on relay 0')
    const started = Date.now()
    const refused = await createMultiRelayPage(set.addrs, { namespace }, keeper)
    pages.push(refused)
    await waitFor(() => relayOf(refused.node) === set.relays[1].peerId, WAIT_MS, 'the refused page to reserve on relay 1')
    return { ms: Date.now() - started, refused: set.relays[0].stats().refusedReservations, moves: refused.keeper.moves }
  } finally {
    for (const page of pages) {
      await page.stop()
    }
    await set.stopAll()
  }
}

const trials = []
for (let i = 0; i < TRIALS; i++) {
  const result = await trial()
  trials.push(result)
  // eslint-disable-next-line no-console
  console.log(`trial ${i + 1}: reserved on the next relay after ${result.ms} ms (relay 0 refused ${result.refused}, keeper moves ${result.moves})`)
}
const sorted = trials.map(t => t.ms).sort((a, b) => a - b)
const summary = {
  trials,
  medianMs: sorted[Math.floor(sorted.length / 2)],
  maxMs: sorted[sorted.length - 1],
  keeperReservationTimeoutMs: RELAY_RESERVATION_TIMEOUT_MS,
  loadAverage: loadavg()
}
// eslint-disable-next-line no-console
console.log(`median ${summary.medianMs} ms, max ${summary.maxMs} ms (the keeper's own timeout: ${RELAY_RESERVATION_TIMEOUT_MS} ms); load average ${summary.loadAverage.map(l => l.toFixed(2)).join(' ')}`)
await mkdir('bench/results', { recursive: true })
await writeFile('bench/results/full-relay.json', JSON.stringify(summary, null, 2) + '\n')
