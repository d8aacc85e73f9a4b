import { expect } from 'aegir/chai'
import fc from 'fast-check'
import { SeededRandom } from '../../sim/random.ts'
import { compareIds, distance, fingerStart, RING_BITS, RING_SIZE } from '../../src/overlay/ring-id.ts'
import { closestPreceding, MAX_CANDIDATES, route } from '../../src/overlay/route.ts'
import { createRoutingState, setFinger, setPredecessor, setSuccessors } from '../../src/overlay/routing-state.ts'
import type { RoutingState } from '../../src/overlay/routing-state.ts'
import type { Address, Peer } from '../../src/overlay/seams.ts'

const TOP = RING_SIZE - 1n
const HALF = RING_SIZE / 2n

function peer (id: bigint): Peer {
  return { id, address: `p${id}` }
}

interface StateSpec {
  self: bigint
  pred?: bigint
  successors?: bigint[]
  fingers?: bigint[]
}

function state (spec: StateSpec, successorListSize: number = 8): RoutingState {
  const s = createRoutingState(peer(spec.self), successorListSize)
  if (spec.pred != null) {
    setPredecessor(s, peer(spec.pred))
  }
  setSuccessors(s, (spec.successors ?? []).map(peer))
  // route() does not care which index a finger sits at, only who it is
  ;(spec.fingers ?? []).forEach((id, i) => setFinger(s, 200 + i, peer(id)))
  return s
}

function suspects (...ids: bigint[]): { has(address: Address): boolean } {
  const set = new Set(ids.map(id => `p${id}`))
  return { has: (address) => set.has(address) }
}

/** A decision as [id, final] pairs, or 'deliver' */
function decide (s: RoutingState, key: bigint, suspected: bigint[] = [], final: boolean = false, gone?: bigint[], answerFor: bigint[] = []): 'deliver' | `answer for ${bigint}` | Array<[bigint, boolean]> {
  const avoid = suspects(...suspected)
  const d = route(s, key, { suspects: avoid, final, maxCandidates: MAX_CANDIDATES, gone: gone == null ? avoid : suspects(...gone), answerFor: suspects(...answerFor) })
  if (d.type === 'answer-for') {
    return `answer for ${d.owner.id}`
  }
  return d.type === 'deliver' ? 'deliver' : d.hops.map(h => [h.peer.id, h.final])
}

interface Case {
  name: string
  state: StateSpec
  key: bigint
  suspects?: bigint[]
  final?: boolean
  /** Peers known gone (default: the suspects) */
  gone?: bigint[]
  /** Peers the lookup found swallowing or lying about it */
  answerFor?: bigint[]
  expect: 'deliver' | `answer for ${bigint}` | Array<[bigint, boolean]>
}

const ring: StateSpec = { self: 50n, pred: 40n, successors: [60n, 70n, 80n], fingers: [60n, 70n, 90n, 20n] }

const cases: Case[] = [
  // ownership: (pred, self]
  { name: 'delivers a key just after the predecessor', state: ring, key: 41n, expect: 'deliver' },
  { name: 'delivers a key inside (pred, self]', state: ring, key: 45n, expect: 'deliver' },
  { name: 'delivers its own id', state: ring, key: 50n, expect: 'deliver' },
  { name: 'delivers its own id without a predecessor', state: { self: 50n, successors: [60n] }, key: 50n, expect: 'deliver' },
  { name: 'does not deliver the predecessor\'s own id', state: { self: 50n, pred: 40n, successors: [60n] }, key: 40n, expect: [[60n, false]] },

  // alone
  { name: 'delivers everything when alone', state: { self: 50n }, key: 7n, expect: 'deliver' },
  { name: 'delivers a key far away when alone', state: { self: 50n }, key: TOP, expect: 'deliver' },

  // (self, successor]: final to the successor, next successors as fall-backs
  { name: 'forwards a key in (self, succ] to the successor as final, the next successors as fall-backs', state: ring, key: 55n, expect: [[60n, true], [70n, true], [80n, true]] },
  { name: 'forwards the successor\'s own id as final', state: ring, key: 60n, expect: [[60n, true], [70n, true], [80n, true]] },
  { name: 'forwards the key right after self as final', state: ring, key: 51n, expect: [[60n, true], [70n, true], [80n, true]] },
  {
    name: 'hands out at most MAX_CANDIDATES successors as fall-backs',
    state: { self: 50n, pred: 40n, successors: [60n, 61n, 62n, 63n, 64n, 65n] },
    key: 55n,
    expect: [[60n, true], [61n, true], [62n, true], [63n, true]]
  },
  { name: 'forwards to the first live successor when the first one is suspect', state: ring, key: 55n, suspects: [60n], expect: [[70n, true], [80n, true]] },

  // closest preceding
  { name: 'forwards beyond the successor to the closest preceding peer first, then by closeness to the key', state: ring, key: 95n, expect: [[90n, false], [80n, false], [70n, false], [60n, false]] },
  { name: 'only considers peers strictly before the key', state: ring, key: 90n, expect: [[80n, false], [70n, false], [60n, false]] },
  { name: 'lists a peer that is both finger and successor once', state: ring, key: 75n, expect: [[70n, false], [60n, false]] },
  { name: 'skips a suspect finger', state: ring, key: 95n, suspects: [90n], expect: [[80n, false], [70n, false], [60n, false]] },
  {
    name: 'wraps round when the key lies before self',
    state: ring,
    key: 30n,
    // (50, 30) wraps: 20 is nearest the key; 60, the farthest, falls beyond MAX_CANDIDATES
    expect: [[20n, false], [90n, false], [80n, false], [70n, false]]
  },
  {
    name: 'treats a suspect predecessor as absent: its keys are routed onwards',
    state: ring,
    key: 45n,
    suspects: [40n],
    expect: [[20n, false], [90n, false], [80n, false], [70n, false]]
  },

  // suspects as a last resort
  { name: 'tries suspect successors when nothing else is left and the key is the successor\'s', state: { self: 50n, pred: 40n, successors: [60n, 70n] }, key: 55n, suspects: [60n, 70n], expect: [[60n, true], [70n, true]] },
  { name: 'tries suspect preceding peers when nothing else is left', state: { self: 50n, pred: 40n, successors: [60n], fingers: [90n] }, key: 95n, suspects: [60n, 90n], expect: [[90n, false], [60n, false]] },
  { name: 'prefers a live peer farther from the key to a suspect closer one', state: { self: 50n, pred: 40n, successors: [60n], fingers: [90n] }, key: 95n, suspects: [90n], expect: [[60n, false]] },

  // final requests
  { name: 'walks a final request back to a live predecessor that lies between the key and self', state: ring, key: 30n, final: true, expect: [[40n, true]] },
  { name: 'walks back for the predecessor\'s own id', state: ring, key: 40n, final: true, expect: [[40n, true]] },
  { name: 'delivers a final request it owns', state: ring, key: 45n, final: true, expect: 'deliver' },
  { name: 'delivers a final request without a predecessor', state: { self: 50n, successors: [60n] }, key: 30n, final: true, expect: 'deliver' },
  { name: 'delivers a final request without a predecessor for a key far behind it when it knows no node between (a newcomer in a small ring)', state: { self: 50n, successors: [60n] }, key: 70n, final: true, expect: 'deliver' },
  { name: 'routes a final request without a predecessor on when it knows a node between the key and itself', state: { self: 50n, successors: [60n, 80n] }, key: 70n, final: true, expect: [[60n, false]] },
  { name: 'delivers a final request when its predecessor is suspect', state: ring, key: 30n, final: true, suspects: [40n], expect: 'deliver' },
  { name: 'walks a final request back to a predecessor the lookup avoids but that is not known gone', state: ring, key: 30n, final: true, suspects: [40n], gone: [], expect: [[40n, true]] },
  { name: 'delivers a final request for a key behind it once its predecessor is known gone', state: ring, key: 30n, final: true, suspects: [], gone: [40n], expect: 'deliver' },
  { name: 'answers a final request in the name of a predecessor the lookup found swallowing it', state: ring, key: 30n, final: true, suspects: [40n], gone: [], answerFor: [40n], expect: 'answer for 40' },
  { name: 'answers for the predecessor\'s own id when the lookup found it lying', state: ring, key: 40n, final: true, answerFor: [40n], expect: 'answer for 40' },
  { name: 'still delivers its own keys when its predecessor is on the lookup\'s list', state: ring, key: 45n, final: true, answerFor: [40n], expect: 'deliver' },
  { name: 'walks back to its predecessor when another peer is on the lookup\'s list', state: ring, key: 30n, final: true, answerFor: [60n], expect: [[40n, true]] },
  { name: 'does not answer for the predecessor a request that is not final', state: ring, key: 30n, answerFor: [40n], expect: [[20n, false], [90n, false], [80n, false], [70n, false]] },
  { name: 'delivers rather than answer for a predecessor known gone', state: ring, key: 30n, final: true, gone: [40n], answerFor: [40n], expect: 'deliver' },
  { name: 'answers for a predecessor whose arc spans more than half the ring (a small ring), not send the request round again', state: { self: HALF + 1000n, pred: 1000n, successors: [HALF + 2000n] }, key: 500n, final: true, answerFor: [1000n], expect: 'answer for 1000' },
  { name: 'routes on a final request for its successor\'s key whatever its predecessor did', state: ring, key: 55n, final: true, answerFor: [40n], expect: [[60n, true], [70n, true], [80n, true]] },

  // wrap-around near 0
  { name: 'delivers 0 at the first node after the top of the ring', state: { self: 5n, pred: TOP - 10n, successors: [20n] }, key: 0n, expect: 'deliver' },
  { name: 'delivers the top id at the first node after it', state: { self: 5n, pred: TOP - 10n, successors: [20n] }, key: TOP, expect: 'deliver' },
  { name: 'does not deliver a key just before its predecessor across 0', state: { self: 5n, pred: TOP - 10n, successors: [20n] }, key: TOP - 20n, expect: [[20n, false]] },
  { name: 'forwards 0 as final to a successor across the top', state: { self: TOP - 9n, pred: TOP - 100n, successors: [5n, 20n] }, key: 0n, expect: [[5n, true], [20n, true]] },
  { name: 'forwards a key between self and the top as final to a successor across 0', state: { self: TOP - 9n, pred: TOP - 100n, successors: [5n, 20n] }, key: TOP - 5n, expect: [[5n, true], [20n, true]] },
  {
    name: 'orders preceding peers across 0 by closeness to the key',
    state: { self: TOP - 9n, pred: TOP - 100n, successors: [5n], fingers: [1000n, 1n << 255n, 5n] },
    key: 2000n,
    expect: [[1000n, false], [5n, false]]
  },
  { name: 'walks a final request back across 0', state: { self: 5n, pred: TOP - 10n, successors: [20n] }, key: TOP - 20n, final: true, expect: [[TOP - 10n, true]] }
]

describe('route', () => {
  for (const c of cases) {
    it(c.name, () => {
      expect(decide(state(c.state), c.key, c.suspects, c.final, c.gone, c.answerFor)).to.deep.equal(c.expect)
    })
  }

  it('caps the closest preceding candidates at the maximum asked for', () => {
    const s = state({ self: 0n, pred: TOP - 5n, successors: [10n], fingers: [100n, 200n, 300n, 400n, 500n, 600n] })
    expect(closestPreceding(s, 1000n, suspects(), 2).map(p => p.id)).to.deep.equal([600n, 500n])
    const d = route(s, 1000n)
    expect(d.type === 'forward' ? d.hops.length : 0).to.equal(MAX_CANDIDATES)
  })

  it('never returns self or duplicates, and only peers strictly between self and the key when not final', () => {
    const id = fc.bigInt({ min: 0n, max: TOP })
    fc.assert(fc.property(id, fc.array(id, { maxLength: 12 }), fc.array(id, { maxLength: 12 }), fc.option(id), id, fc.array(fc.nat({ max: 11 }), { maxLength: 6 }), (self, succ, fingers, pred, key, suspectIdx) => {
      const all = [...succ, ...fingers]
      const s = state({ self, pred: pred ?? undefined, successors: succ, fingers })
      const suspected = suspectIdx.map(i => all[i]).filter(x => x != null)
      const d = route(s, key, { suspects: suspects(...suspected) })
      if (d.type !== 'forward') {
        return
      }
      const addresses = d.hops.map(h => h.peer.address)
      expect(new Set(addresses).size).to.equal(addresses.length)
      expect(addresses).to.not.include(`p${self}`)
      expect(d.hops.length).to.be.within(1, MAX_CANDIDATES)
      for (const hop of d.hops) {
        if (!hop.final) {
          expect(distance(self, hop.peer.id) < distance(self, key), `${hop.peer.id} lies in (${self}, ${key})`).to.equal(true)
          expect(hop.peer.id).to.not.equal(self)
        }
      }
    }), { numRuns: 2000 })
  })

  describe('on a ring with perfect routing state', () => {
    const SUCCESSORS = 8

    /** Every node's state as Chord defines it: true predecessor, next r nodes, finger i = successor(self + 2^i) */
    function perfectRing (ids: bigint[]): { sorted: bigint[], states: Map<bigint, RoutingState>, owner(key: bigint): bigint } {
      const sorted = [...new Set(ids)].sort(compareIds)
      const owner = (key: bigint): bigint => {
        let lo = 0
        let hi = sorted.length
        while (lo < hi) {
          const mid = (lo + hi) >>> 1
          if (sorted[mid] < key) {
            lo = mid + 1
          } else {
            hi = mid
          }
        }
        return sorted[lo === sorted.length ? 0 : lo]
      }
      const states = new Map<bigint, RoutingState>()
      const n = sorted.length
      sorted.forEach((id, i) => {
        const s = createRoutingState(peer(id), SUCCESSORS)
        setPredecessor(s, peer(sorted[(i - 1 + n) % n]))
        setSuccessors(s, Array.from({ length: Math.min(SUCCESSORS, n - 1) }, (_, k) => peer(sorted[(i + 1 + k) % n])))
        const succ = s.successors[0].id
        for (let f = 0; f < RING_BITS; f++) {
          const start = fingerStart(id, f)
          if (distance(id, start) > distance(id, succ)) {
            setFinger(s, f, peer(owner(start)))
          }
        }
        states.set(id, s)
      })
      return { sorted, states, owner }
    }

    /** Follows the best candidate of every decision; returns who delivered and after how many hops */
    function walk (states: Map<bigint, RoutingState>, from: bigint, key: bigint, maxHops: number): { at: bigint, hops: number } {
      let at = from
      let final = false
      const visited = new Set<string>()
      for (let hops = 0; hops <= maxHops; hops++) {
        const visit = `${at}/${final}`
        if (visited.has(visit)) {
          throw new Error(`routing loop at ${at} after ${hops} hops`)
        }
        visited.add(visit)
        const d = route(states.get(at) as RoutingState, key, { suspects: suspects(), final })
        if (d.type !== 'forward') {
          return { at, hops }
        }
        at = d.hops[0].peer.id
        final = d.hops[0].final
      }
      throw new Error(`no delivery within ${maxHops} hops`)
    }

    /** Uniformly random 256-bit ids, as SHA-256 makes them */
    function uniformIds (seed: number, count: number): bigint[] {
      const r = new SeededRandom(seed)
      return Array.from({ length: count }, () => {
        let x = 0n
        for (let i = 0; i < RING_BITS / 32; i++) {
          x = (x << 32n) | BigInt(r.uint32())
        }
        return x
      })
    }

    it('reaches the true successor from any node within log2(N) + 2 hops (uniform ids)', () => {
      fc.assert(fc.property(fc.integer({ min: 2, max: 64 }), fc.integer(), fc.array(fc.bigInt({ min: 0n, max: TOP }), { minLength: 4, maxLength: 4 }), fc.array(fc.nat(), { minLength: 8, maxLength: 8 }), (count, seed, extraKeys, picks) => {
        const { sorted, states, owner } = perfectRing(uniformIds(seed, count))
        const bound = Math.log2(sorted.length) + 2
        // node ids and their neighbours on the ring are the edge cases of ownership
        const keys = [...extraKeys, ...picks.map(i => sorted[i % sorted.length]).flatMap(id => [id, (id + 1n) & TOP, (id - 1n) & TOP])]
        for (const from of sorted) {
          for (const key of keys) {
            const { at, hops } = walk(states, from, key, sorted.length + 2)
            expect(at, `key ${key} from ${from}`).to.equal(owner(key))
            expect(hops, `key ${key} from ${from}`).to.be.at.most(bound)
          }
        }
      }), { numRuns: 60 })
    })

    it('reaches the true successor without a loop on rings with clustered ids and ids at 0 and the top', () => {
      const id = fc.oneof(fc.bigInt({ min: 0n, max: TOP }), fc.bigInt({ min: 0n, max: 64n }), fc.bigInt({ min: TOP - 64n, max: TOP }))
      fc.assert(fc.property(fc.uniqueArray(id, { minLength: 2, maxLength: 40 }), fc.array(id, { minLength: 1, maxLength: 8 }), (ids, extraKeys) => {
        const { sorted, states, owner } = perfectRing(ids)
        const keys = [...extraKeys, 0n, TOP, ...sorted]
        for (const from of sorted) {
          for (const key of keys) {
            // every hop moves strictly closer to the key, so N hops always suffice
            expect(walk(states, from, key, sorted.length).at).to.equal(owner(key))
          }
        }
      }), { numRuns: 200 })
    })

    it('reaches the true successor without a loop while a newcomer has no predecessor and no fingers yet', () => {
      // the moment after a join: the newcomer knows only its successors, while the others already
      // know it (its successor took it as predecessor). In a ring of two or three its arc can span
      // more than half the ring
      fc.assert(fc.property(fc.uniqueArray(fc.bigInt({ min: 0n, max: TOP }), { minLength: 2, maxLength: 12 }), fc.nat(), fc.array(fc.bigInt({ min: 0n, max: TOP }), { minLength: 1, maxLength: 8 }), (ids, pick, extraKeys) => {
        const { sorted, states, owner } = perfectRing(ids)
        const newcomer = states.get(sorted[pick % sorted.length]) as RoutingState
        newcomer.predecessor = undefined
        newcomer.fingers.clear()
        const keys = [...extraKeys, ...sorted.flatMap(id => [id, (id + 1n) & TOP, (id - 1n) & TOP])]
        for (const from of sorted) {
          for (const key of keys) {
            expect(walk(states, from, key, 2 * sorted.length).at, `key ${key} from ${from}`).to.equal(owner(key))
          }
        }
      }), { numRuns: 300 })
    })
  })
})
