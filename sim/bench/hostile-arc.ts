/**
 * The share of the key space that hostile pages own at the start of a
 * `--start converged` run with `--hostile-fraction`: the lookups no routing
 * can answer honestly (their owner is the attacker), the floor of the
 * honest pages' failed (`drop`) or wrong (`claim`) lookups.
 *
 * Usage: npm run sim:hostile-arc -- NODES FRACTION SEED
 */
import { idFromBytes } from '../../src/overlay/ring-id.ts'
import { Hostility } from '../hostile.ts'
import { DEFAULT_SIM_OPTIONS } from '../options.ts'
import { SeededRandom } from '../random.ts'
import { simRingIdOf } from '../ring-protocol.ts'
import { makeAddress } from '../simulation.ts'

const RING = 2n ** 256n
const [nodes, fraction, seed] = process.argv.slice(2).map(Number)
const opts = { ...DEFAULT_SIM_OPTIONS, nodes, seed, hostileFraction: fraction }
const hostility = new Hostility(opts, new SeededRandom(seed).fork('hostile'), { now: () => 0 } as any, () => false)
const members = Array.from({ length: nodes }, (_, n) => ({ id: idFromBytes(simRingIdOf(makeAddress(n))), hostile: hostility.choose(n) }))
  .sort((a, b) => Number(a.id - b.id > 0n) - Number(a.id - b.id < 0n))
let owned = 0n
members.forEach((m, i) => {
  const before = members[(i - 1 + members.length) % members.length].id
  if (m.hostile) {
    owned += ((m.id - before) % RING + RING) % RING
  }
})
process.stdout.write(`${nodes} nodes, ${hostility.created} hostile (fraction ${fraction}, seed ${seed}): they own ${(Number(owned * 1_000_000n / RING) / 10_000).toFixed(2)} % of the key space\n`)
