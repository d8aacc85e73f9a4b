/**
 * `npm run bench:tab-close`: how long a Chromium page's ring keeps a closed
 * tab as its successor. Pages in one Chromium process join through the real
 * relay; the ring settles; then, `--rounds` times, the ring is left quiet for
 * `--quiet-s` (its rounds back off, up to 80 s apart) and one page's
 * successor tab is closed without a goodbye. Measured per round: when the
 * page's last libp2p connection to the closed tab went (ICE consent checks
 * fail), and when its first successor changed.
 *
 * Flags (defaults in brackets): --rounds [5] --quiet-s [120] --out
 * [bench/results/tab-close.json]. Every wait is bounded.
 */
import { mkdir, writeFile } from 'node:fs/promises'
import { loadavg } from 'node:os'
import { dirname } from 'node:path'
import { parseArgs } from 'node:util'
import { launchChromium } from '../../test/browser/chromium.ts'
import { E2ePage, startWorld, waitForRing } from '../../test/browser/e2e-harness.ts'

/** Bound on one page joining, and on the ring settling, ms */
const JOIN_MS = 60_000
const RING_MS = 120_000
/** Bound on one round's measurement after the tab closed, ms */
const ROUND_MS = 150_000
const POLL_MS = 200

interface Round { round: number, connectionGoneMs?: number, successorChangedMs?: number }

const { values } = parseArgs({ options: { rounds: { type: 'string', default: '5' }, 'quiet-s': { type: 'string', default: '120' }, out: { type: 'string', default: 'bench/results/tab-close.json' } } })
const rounds = Number(values.rounds)
const quietMs = Number(values['quiet-s']) * 1000
if (!Number.isInteger(rounds) || rounds < 1 || !(quietMs >= 0)) {
  throw new Error(`InvalidFlagError: --rounds wants a whole number ≥ 1 and --quiet-s a number ≥ 0, got ${values.rounds} and ${values['quiet-s']}`)
}

const world = await startWorld()
const browser = await launchChromium()
const pages: E2ePage[] = []
const results: Round[] = []
const loadBefore = loadavg()
try {
  // a page closes per round; three more keep the ring a ring
  for (let i = 0; i < rounds + 3; i++) {
    const page = await E2ePage.open(browser, world)
    await page.start({ relay: world.relay.multiaddrs, init: { homeCopies: false } })
    await page.whenJoined(JOIN_MS)
    pages.push(page)
  }
  await waitForRing(pages, RING_MS)
  for (let round = 0; round < rounds; round++) {
    await new Promise(resolve => setTimeout(resolve, quietMs))
    const live = pages.filter(p => p.peerId !== '')
    const watcher = live[round % live.length]
    const successor = (await watcher.ring())?.successors[0]?.peer
    const victim = live.find(p => p.peerId === successor)
    if (successor == null || victim == null) {
      throw new Error(`RingDisagreementError: page ${watcher.peerId}'s successor ${successor ?? 'none'} is not a live page`)
    }
    const closedAt = Date.now()
    await victim.test.page.close()
    victim.peerId = ''
    const result: Round = { round }
    while (Date.now() - closedAt < ROUND_MS && (result.connectionGoneMs == null || result.successorChangedMs == null)) {
      if (result.connectionGoneMs == null && (await watcher.connections(successor)).length === 0) {
        result.connectionGoneMs = Date.now() - closedAt
      }
      if (result.successorChangedMs == null && (await watcher.ring())?.successors[0]?.peer !== successor) {
        result.successorChangedMs = Date.now() - closedAt
      }
      await new Promise(resolve => setTimeout(resolve, POLL_MS))
    }
    results.push(result)
    process.stdout.write(`round ${round}: connection gone after ${result.connectionGoneMs ?? '–'} ms, successor changed after ${result.successorChangedMs ?? '–'} ms\n`)
  }
} finally {
  await Promise.all(pages.map(async p => p.close()))
  await browser.close()
  await world.close()
}
const out = values.out
await mkdir(dirname(out), { recursive: true })
await writeFile(out, JSON.stringify({ command: `npm run bench:tab-close -- --rounds ${rounds} --quiet-s ${quietMs / 1000} --out ${out}`, load: { before: loadBefore, after: loadavg() }, rounds: results }, null, 2) + '\n')
process.stdout.write(`saved ${out}\n`)
