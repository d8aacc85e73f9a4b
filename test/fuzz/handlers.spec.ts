/**
 * The ring's request handler and the directory's handlers, fuzzed through
 * the simulated network: an 8-node ring of production `RingNode`s and
 * `DirectoryService`s, and a ninth address sending them raw bytes.
 *
 * Semantically bad but decodable requests get the right error code; the
 * member keeps serving, and the ring keeps answering lookups with the true
 * owner. Arbitrary requests (every field drawn from arbitraries) never crash
 * a member, are answered within the deadline, and leave a ring that heals.
 */
import { expect } from 'aegir/chai'
import fc from 'fast-check'
import { DirectoryRequest } from '../../src/cdn/directory-messages.ts'
import { MAX_DIRECTORY_ITEMS } from '../../src/cdn/directory-wire.ts'
import { ErrorCode } from '../../src/overlay/errors.ts'
import { RingRequest } from '../../src/overlay/messages.ts'
import { idToBytes } from '../../src/overlay/ring-id.ts'
import { MAX_PEERS_PER_MESSAGE } from '../../src/overlay/ring-node.ts'
import { MAX_ADDRESS_LENGTH, MAX_HINT_BYTES, MAX_HINTS, peerToWire } from '../../src/overlay/wire.ts'
import { concat, lengthDelimited, messageArbs, varintField } from './inputs.ts'
import { FUZZ_NAMESPACE, FUZZER, FuzzRing, RAW_TIMEOUT_MS, simPeer } from './sim-ring.ts'
import type { Member, RawOutcome } from './sim-ring.ts'
import type { RouteRequest, WirePeer } from '../../src/overlay/messages.ts'
import type { Peer } from '../../src/overlay/seams.ts'

/** Virtual time a ring gets to repair itself after hostile but well-formed requests (suspect timeout 30 s, predecessor timeout 15 s) */
const HEAL_MS = 120_000

/** Lookups judged after each case */
const CHECK_LOOKUPS = 24

const { OK, HOP_LIMIT, LOOKUP_FAILED, INVALID_MESSAGE, WRONG_NAMESPACE } = { OK: 0, ...ErrorCode }

const namespaceField = lengthDelimited(2, new TextEncoder().encode(FUZZ_NAMESPACE))

function route (key: bigint | Uint8Array<ArrayBuffer>, fields: Partial<RouteRequest> = {}): RouteRequest {
  return {
    key: typeof key === 'bigint' ? idToBytes(key) : key,
    hopsLeft: 48,
    budgetMs: 10_000,
    hops: 0,
    final: false,
    maintenance: false,
    avoid: [],
    ...fields
  } as RouteRequest
}

function wire (peer: Peer, fields: Partial<WirePeer> = {}): WirePeer {
  return { ...peerToWire(peer), ...fields }
}

function directory (req: Partial<DirectoryRequest>): Uint8Array<ArrayBuffer> {
  return DirectoryRequest.encode({ type: DirectoryRequest.Type.UNKNOWN, key: new Uint8Array(0), gone: [], entries: [], ...req })
}

function app (payload: Uint8Array<ArrayBuffer>): Partial<RingRequest> {
  return { type: RingRequest.Type.APP, app: { payload } }
}

/** A member that is neither the target nor owns keys near the target: the key is several hops away */
interface Roles {
  /** Receives the bad requests */
  target: Member
  /** Another member, whose address the fuzzer pretends to be */
  other: Member
  /** A key the target does not own; the target forwards it at least once */
  farKey: bigint
  /** A key the target owns */
  ownKey: bigint
}

function roles (ring: FuzzRing): Roles {
  const sorted = ring.oracle.all()
  const target = ring.member(sorted[2].address)
  const other = ring.member(sorted[5].address)
  return { target, other, farKey: other.peer.id, ownKey: target.peer.id }
}

interface Case {
  what: string
  /** Bytes or a request (the namespace defaults to the ring's) */
  request(r: Roles, ring: FuzzRing): Partial<RingRequest> | Uint8Array
  code: number
  /** Extra checks on the answer and on the state afterwards */
  then?(outcome: RawOutcome, r: Roles, ring: FuzzRing): void
}

const peerOf = (r: Roles): Peer => r.other.peer

const CASES: Case[] = [
  // ---- type and shape ------------------------------------------------------
  { what: 'type UNKNOWN (0)', request: () => ({ type: RingRequest.Type.UNKNOWN }), code: INVALID_MESSAGE },
  { what: 'type 7, outside the enum', request: () => concat(varintField(1, 7), namespaceField), code: INVALID_MESSAGE },
  { what: 'type 0x7fffffff', request: () => concat(varintField(1, 0x7fff_ffff), namespaceField), code: INVALID_MESSAGE },
  { what: 'type -1 (ten-byte varint)', request: () => concat(Uint8Array.of(0x08, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01), namespaceField), code: INVALID_MESSAGE },
  { what: 'an empty frame', request: () => new Uint8Array(0), code: WRONG_NAMESPACE },
  { what: 'only unknown fields', request: () => concat(namespaceField, varintField(9, 1), lengthDelimited(10, Uint8Array.of(1, 2, 3))), code: INVALID_MESSAGE },
  { what: '10 000 nested groups (decoder stack overflow)', request: () => new Uint8Array(10_000).fill(0x7b), code: INVALID_MESSAGE },
  { what: 'a truncated frame', request: (r) => RingRequest.encode({ type: RingRequest.Type.ROUTE, namespace: FUZZ_NAMESPACE, route: route(r.farKey) }).subarray(0, 20), code: INVALID_MESSAGE },
  { what: 'ROUTE without its route', request: () => ({ type: RingRequest.Type.ROUTE }), code: INVALID_MESSAGE },
  { what: 'STABILIZE without its stabilize', request: () => ({ type: RingRequest.Type.STABILIZE }), code: INVALID_MESSAGE },
  { what: 'LEAVE without its leave', request: () => ({ type: RingRequest.Type.LEAVE }), code: INVALID_MESSAGE },
  { what: 'APP without its app', request: () => ({ type: RingRequest.Type.APP }), code: INVALID_MESSAGE },
  { what: 'ROUTE carrying a stabilize instead', request: (r) => ({ type: RingRequest.Type.ROUTE, stabilize: { sender: wire(r.other.peer), wantFingers: true } }), code: INVALID_MESSAGE },

  // ---- namespace -------------------------------------------------------------
  { what: 'the empty namespace', request: (r) => ({ type: RingRequest.Type.ROUTE, namespace: '', route: route(r.farKey) }), code: WRONG_NAMESPACE },
  { what: 'another namespace', request: (r) => ({ type: RingRequest.Type.ROUTE, namespace: 'other-site', route: route(r.farKey) }), code: WRONG_NAMESPACE },
  { what: 'the namespace with a trailing NUL', request: (r) => ({ type: RingRequest.Type.PROBE, namespace: `${FUZZ_NAMESPACE}\u0000`, route: route(r.farKey) }), code: WRONG_NAMESPACE },
  { what: 'a 100 KB namespace', request: () => ({ type: RingRequest.Type.PROBE, namespace: 'n'.repeat(100_000) }), code: WRONG_NAMESPACE },
  { what: 'another namespace on an otherwise invalid request', request: () => ({ type: RingRequest.Type.LEAVE, namespace: 'other-site' }), code: WRONG_NAMESPACE },

  // ---- ROUTE fields --------------------------------------------------------------
  ...[0, 1, 31, 33, 1000].map((n): Case => ({ what: `ROUTE with a key of ${n} bytes`, request: () => ({ type: RingRequest.Type.ROUTE, route: route(new Uint8Array(n).fill(7)) }), code: INVALID_MESSAGE })),
  { what: 'ROUTE with hopsLeft 0 to a non-owner', request: (r) => ({ type: RingRequest.Type.ROUTE, route: route(r.farKey, { hopsLeft: 0 }) }), code: HOP_LIMIT },
  {
    what: 'ROUTE with hopsLeft 0 to the owner',
    request: (r) => ({ type: RingRequest.Type.ROUTE, route: route(r.ownKey, { hopsLeft: 0 }) }),
    code: OK,
    then: (o, r) => { expect(ownerOf(o)).to.equal(r.target.peer.address) }
  },
  { what: 'ROUTE with budget 0 to a non-owner', request: (r) => ({ type: RingRequest.Type.ROUTE, route: route(r.farKey, { budgetMs: 0 }) }), code: LOOKUP_FAILED },
  { what: 'ROUTE with budget 0 to the owner', request: (r) => ({ type: RingRequest.Type.ROUTE, route: route(r.ownKey, { budgetMs: 0 }) }), code: OK },
  {
    what: 'ROUTE with budget 2^32 - 1 ms',
    request: (r) => ({ type: RingRequest.Type.ROUTE, route: route(r.farKey, { budgetMs: 0xffff_ffff }) }),
    code: OK,
    then: (o, r) => { expect(ownerOf(o)).to.equal(r.other.peer.address) }
  },
  {
    what: 'ROUTE with hopsLeft and hops 2^32 - 1',
    request: (r) => ({ type: RingRequest.Type.ROUTE, route: route(r.farKey, { hopsLeft: 0xffff_ffff, hops: 0xffff_ffff }) }),
    code: OK,
    then: (o, r) => { expect(ownerOf(o)).to.equal(r.other.peer.address) }
  },
  {
    what: 'ROUTE marked final to a node that does not own the key (it walks back to the owner)',
    request: (r) => ({ type: RingRequest.Type.ROUTE, route: route(r.farKey, { final: true }) }),
    code: OK,
    then: (o, r) => { expect(ownerOf(o)).to.equal(r.other.peer.address) }
  },
  {
    what: 'ROUTE marked maintenance',
    request: (r) => ({ type: RingRequest.Type.ROUTE, route: route(r.farKey, { maintenance: true }) }),
    code: OK
  },

  // ---- STABILIZE -------------------------------------------------------------
  { what: 'STABILIZE without a sender', request: () => ({ type: RingRequest.Type.STABILIZE, stabilize: { wantFingers: true } }), code: INVALID_MESSAGE },
  { what: 'STABILIZE from another member (sender ≠ requester)', request: (r) => ({ type: RingRequest.Type.STABILIZE, stabilize: { sender: wire(peerOf(r)), wantFingers: true } }), code: INVALID_MESSAGE },
  { what: 'STABILIZE with the receiver as sender', request: (r) => ({ type: RingRequest.Type.STABILIZE, stabilize: { sender: wire(r.target.peer), wantFingers: false } }), code: INVALID_MESSAGE },
  { what: 'STABILIZE with a 31-byte sender id', request: () => ({ type: RingRequest.Type.STABILIZE, stabilize: { sender: wire(simPeer(FUZZER), { id: new Uint8Array(31) }), wantFingers: false } }), code: INVALID_MESSAGE },
  { what: 'STABILIZE with an empty sender address', request: () => ({ type: RingRequest.Type.STABILIZE, stabilize: { sender: wire(simPeer(FUZZER), { address: '' }), wantFingers: false } }), code: INVALID_MESSAGE },
  { what: 'STABILIZE with an overlong sender address', request: () => ({ type: RingRequest.Type.STABILIZE, stabilize: { sender: wire(simPeer(FUZZER), { address: FUZZER + 'x'.repeat(MAX_ADDRESS_LENGTH) }), wantFingers: false } }), code: INVALID_MESSAGE },
  { what: `STABILIZE with ${MAX_HINTS + 1} hints`, request: () => ({ type: RingRequest.Type.STABILIZE, stabilize: { sender: wire(simPeer(FUZZER), { hints: Array.from({ length: MAX_HINTS + 1 }, () => new Uint8Array(4)) }), wantFingers: false } }), code: INVALID_MESSAGE },
  { what: `STABILIZE with a hint of ${MAX_HINT_BYTES + 1} bytes`, request: () => ({ type: RingRequest.Type.STABILIZE, stabilize: { sender: wire(simPeer(FUZZER), { hints: [new Uint8Array(MAX_HINT_BYTES + 1)] }), wantFingers: false } }), code: INVALID_MESSAGE },

  // ---- LEAVE ---------------------------------------------------------------------
  { what: 'LEAVE without a sender', request: () => ({ type: RingRequest.Type.LEAVE, leave: { successors: [] } }), code: INVALID_MESSAGE },
  {
    what: 'LEAVE on behalf of another member (sender ≠ requester)',
    request: (r) => ({ type: RingRequest.Type.LEAVE, leave: { sender: wire(peerOf(r)), successors: [] } }),
    code: INVALID_MESSAGE,
    then: (_o, r) => { expect(r.target.ring.isSuspect(r.other.peer.address)).to.equal(false) }
  },
  { what: `LEAVE with ${MAX_PEERS_PER_MESSAGE + 1} successors`, request: () => ({ type: RingRequest.Type.LEAVE, leave: { sender: wire(simPeer(FUZZER)), successors: Array.from({ length: MAX_PEERS_PER_MESSAGE + 1 }, (_, i) => wire(simPeer(`fake-${i}`))) } }), code: INVALID_MESSAGE },
  { what: 'LEAVE with 10 000 successors', request: () => ({ type: RingRequest.Type.LEAVE, leave: { sender: wire(simPeer(FUZZER)), successors: Array.from({ length: 10_000 }, (_, i) => wire(simPeer(`fake-${i}`))) } }), code: INVALID_MESSAGE },
  { what: 'LEAVE with a predecessor id of 0 bytes', request: () => ({ type: RingRequest.Type.LEAVE, leave: { sender: wire(simPeer(FUZZER)), predecessor: wire(simPeer('p'), { id: new Uint8Array(0) }), successors: [] } }), code: INVALID_MESSAGE },
  { what: 'LEAVE with one malformed successor among good ones', request: (r) => ({ type: RingRequest.Type.LEAVE, leave: { sender: wire(simPeer(FUZZER)), successors: [wire(r.other.peer), wire(simPeer('x'), { address: '' })] } }), code: INVALID_MESSAGE },
  {
    what: `LEAVE from a non-neighbour with ${MAX_PEERS_PER_MESSAGE} invented successors (accepted, changes nothing)`,
    request: () => ({ type: RingRequest.Type.LEAVE, leave: { sender: wire(simPeer(FUZZER)), successors: Array.from({ length: MAX_PEERS_PER_MESSAGE }, (_, i) => wire(simPeer(`fake-${i}`))) } }),
    code: OK
  },

  // ---- directory payloads --------------------------------------------------
  { what: 'APP with a garbage payload', request: () => app(Uint8Array.of(0x12, 0x05, 0x01)), code: INVALID_MESSAGE },
  { what: 'APP with an empty payload', request: () => app(new Uint8Array(0)), code: INVALID_MESSAGE },
  { what: 'APP with a RingRequest as payload', request: (r) => app(RingRequest.encode({ type: RingRequest.Type.ROUTE, namespace: FUZZ_NAMESPACE, route: route(r.farKey) })), code: INVALID_MESSAGE },
  { what: 'APP with 10 000 nested groups', request: () => app(new Uint8Array(10_000).fill(0x7b)), code: INVALID_MESSAGE },
  // a direct LOCATE is how a home node asks its successor for its replica of an entry (accepted)
  { what: 'APP LOCATE sent directly (a replica query)', request: (r) => app(directory({ type: DirectoryRequest.Type.LOCATE, key: idToBytes(r.ownKey) })), code: OK },
  { what: 'APP ANNOUNCE without a holder', request: (r) => app(directory({ type: DirectoryRequest.Type.ANNOUNCE, key: idToBytes(r.ownKey) })), code: INVALID_MESSAGE },
  {
    what: 'APP ANNOUNCE announcing another node',
    request: (r) => app(directory({ type: DirectoryRequest.Type.ANNOUNCE, key: idToBytes(r.ownKey), holder: wire(r.other.peer) })),
    code: INVALID_MESSAGE,
    then: (_o, r) => { expect(r.target.directory.directory.holders(r.ownKey)).to.have.lengthOf(0) }
  },
  { what: 'APP ANNOUNCE with a 5-byte key', request: () => app(directory({ type: DirectoryRequest.Type.ANNOUNCE, key: new Uint8Array(5), holder: wire(simPeer(FUZZER)) })), code: INVALID_MESSAGE },
  { what: `APP ANNOUNCE with ${MAX_DIRECTORY_ITEMS + 1} gone holders`, request: (r) => app(directory({ type: DirectoryRequest.Type.ANNOUNCE, key: idToBytes(r.ownKey), holder: wire(simPeer(FUZZER)), gone: Array.from({ length: MAX_DIRECTORY_ITEMS + 1 }, (_, i) => `g${i}`) })), code: INVALID_MESSAGE },
  { what: 'APP HANDOVER with an entry key of 3 bytes', request: () => app(directory({ type: DirectoryRequest.Type.HANDOVER, entries: [{ key: new Uint8Array(3), holders: [] }] })), code: INVALID_MESSAGE },
  {
    what: 'APP HANDOVER with a malformed holder (nothing merged)',
    request: (r) => app(directory({ type: DirectoryRequest.Type.HANDOVER, entries: [{ key: idToBytes(r.ownKey), holders: [wire(simPeer(FUZZER))] }, { key: idToBytes(r.ownKey + 1n), holders: [wire(simPeer('h'), { id: new Uint8Array(2) })] }] })),
    code: INVALID_MESSAGE,
    then: (_o, r) => { expect(r.target.directory.directory.size).to.equal(0) }
  },
  {
    what: 'APP ANNOUNCE of the fuzzer itself (accepted)',
    request: (r) => app(directory({ type: DirectoryRequest.Type.ANNOUNCE, key: idToBytes(r.ownKey), holder: wire(simPeer(FUZZER)) })),
    code: OK,
    then: (_o, r) => { expect(r.target.directory.directory.holders(r.ownKey).map(p => p.address)).to.deep.equal([FUZZER]) }
  },
  { what: 'ROUTE to the owner with a garbage app payload', request: (r) => ({ type: RingRequest.Type.ROUTE, route: route(r.ownKey, { app: Uint8Array.of(0xff, 0xff) }) }), code: INVALID_MESSAGE },
  { what: 'ROUTE to the owner with an ANNOUNCE as app payload (only LOCATE is routed)', request: (r) => ({ type: RingRequest.Type.ROUTE, route: route(r.ownKey, { app: directory({ type: DirectoryRequest.Type.ANNOUNCE, key: idToBytes(r.ownKey), holder: wire(simPeer(FUZZER)) }) }) }), code: INVALID_MESSAGE },
  {
    what: 'ROUTE to the owner with a LOCATE (accepted)',
    request: (r) => ({ type: RingRequest.Type.ROUTE, route: route(r.ownKey, { app: directory({ type: DirectoryRequest.Type.LOCATE, key: idToBytes(r.ownKey) }) }) }),
    code: OK
  },

  // ---- harmless requests ---------------------------------------------------
  { what: 'PROBE', request: () => ({ type: RingRequest.Type.PROBE }), code: OK, then: (o, r) => { expect(o.kind === 'answer' && o.res.stabilize?.predecessor?.address).to.equal(r.target.ring.predecessor?.address) } },
  { what: 'NUDGE', request: () => ({ type: RingRequest.Type.NUDGE }), code: OK }
]

/** The request with any routed app payload replaced by a valid LOCATE of its key */
function withValidRoutedApp (req: RingRequest): RingRequest {
  if (req.route?.app == null) {
    return req
  }
  return { ...req, route: { ...req.route, app: directory({ type: DirectoryRequest.Type.LOCATE, key: req.route.key }) } }
}

function ownerOf (outcome: RawOutcome): string | undefined {
  return outcome.kind === 'answer' ? outcome.res.route?.owner?.address : undefined
}

async function sendCase (ring: FuzzRing, to: string, request: Partial<RingRequest> | Uint8Array): Promise<RawOutcome> {
  return request instanceof Uint8Array ? ring.sendRaw(to, request) : ring.send(to, request)
}

async function expectRingCorrect (ring: FuzzRing, what: string): Promise<void> {
  expect(ring.converged(), `${what}: ${ring.describeViolations().join('; ')}`).to.equal(true)
  const check = await ring.checkLookups(CHECK_LOOKUPS)
  expect(check.correct, `${what}: ${check.problems.join('; ')}`).to.equal(CHECK_LOOKUPS)
}

async function expectServing (ring: FuzzRing, member: Member): Promise<void> {
  const probe = await ring.send(member.peer.address, { type: RingRequest.Type.PROBE })
  expect(probe).to.have.property('code', OK)
}

describe('fuzz: ring and directory handlers in the simulator', function () {
  const rejections: unknown[] = []
  const onRejection = (reason: unknown): void => { rejections.push(reason) }
  let ring: FuzzRing | undefined

  before(() => { process.on('unhandledRejection', onRejection) })
  after(() => { process.off('unhandledRejection', onRejection) })
  afterEach(() => {
    ring?.stop()
    ring = undefined
    expect(rejections.splice(0).map(String), 'unhandled rejections').to.deep.equal([])
  })

  async function runCase (c: Case): Promise<void> {
    const current = await FuzzRing.create({ seed: `case:${c.what}` })
    ring = current
    const r = roles(current)

    const outcome = await sendCase(current, r.target.peer.address, c.request(r, current))

    expect(outcome.kind, JSON.stringify(outcome)).to.be.oneOf(['answer', 'refused'])
    expect(outcome.kind !== 'timeout' && outcome.kind !== 'unreachable' && outcome.code, JSON.stringify(outcome)).to.equal(c.code)
    c.then?.(outcome, r, current)
    await expectServing(current, r.target)
    await expectRingCorrect(current, c.what)
  }

  describe('semantically bad requests', function () {
    for (const c of CASES) {
      it(`answers ${c.what} with code ${c.code}, keeps serving, and the ring stays correct`, async () => {
        await runCase(c)
      })
    }

    // an application error at the key's owner (a payload it refuses) is the caller's problem: it must
    // come back as code 4 without any hop on the path being taken for dead
    it('answers a routed request whose app payload the owner refuses with code 4, without marking live peers dead', async () => {
      ring = await FuzzRing.create({ seed: 2 })
      const r = roles(ring)

      const outcome = await ring.send(r.target.peer.address, { type: RingRequest.Type.ROUTE, route: route(r.farKey, { app: Uint8Array.of(1, 2, 3) }) })

      expect(outcome).to.have.property('code', INVALID_MESSAGE)
      await expectRingCorrect(ring, 'relayed app error')
      for (const m of ring.members) {
        expect(ring.members.filter(o => m.ring.isSuspect(o.peer.address)).map(o => o.peer.address), m.peer.address).to.deep.equal([])
      }
    })

    // with hops wrongly marked dead, members re-linked around them and could close separate cycles
    it('is one ring again after a routed request whose app payload the owner refuses', async function () {
      this.timeout(120_000)
      const split: string[] = []
      for (let target = 0; target < 8; target++) {
        for (let owner = 0; owner < 8; owner++) {
          if (owner === target) {
            continue
          }
          const current = await FuzzRing.create({ seed: 'g0' })
          ring = current
          const sorted = current.oracle.all()
          await current.send(sorted[target].address, { type: RingRequest.Type.ROUTE, route: route(sorted[owner].id, { app: Uint8Array.of(1, 2, 3) }) })
          await current.advance(300_000)
          if (!current.converged()) {
            split.push(`to #${target} for the key of #${owner}: ${current.describeViolations().join('; ')}`)
          }
          current.stop()
        }
      }
      expect(split, 'rings still split five minutes after one request').to.deep.equal([])
    })

    // a refused ANNOUNCE must not have removed the holders its `gone` list names
    it('leaves the directory untouched when it refuses an ANNOUNCE', async () => {
      ring = await FuzzRing.create({ seed: 'announce-gone' })
      const r = roles(ring)
      r.target.directory.directory.announce(r.ownKey, r.other.peer)

      const outcome = await ring.send(r.target.peer.address, app(directory({
        type: DirectoryRequest.Type.ANNOUNCE, key: idToBytes(r.ownKey), gone: [r.other.peer.address], holder: wire(r.other.peer)
      })))

      expect(outcome).to.have.property('code', INVALID_MESSAGE)
      expect(r.target.directory.directory.holders(r.ownKey).map(p => p.address)).to.deep.equal([r.other.peer.address])
    })

    it('refuses a request to a stopped member with NOT_MEMBER', async () => {
      ring = await FuzzRing.create({ seed: 'stopped' })
      const r = roles(ring)
      r.target.ring.stop()

      const outcome = await ring.send(r.target.peer.address, { type: RingRequest.Type.ROUTE, route: route(r.farKey) })

      expect(outcome).to.have.property('code', ErrorCode.NOT_MEMBER)
    })
  })

  describe('arbitrary requests', function () {
    it('never crash a member, are answered within the deadline with a known code, and the ring heals', async function () {
      this.timeout(120_000)
      const probe = await FuzzRing.create({ seed: 'universe' })
      const addresses = [...probe.members.map(m => m.peer.address), FUZZER]
      const ids = [...probe.members.map(m => m.peer.id), simPeer(FUZZER).id]
      probe.stop()
      const arbs = messageArbs({ addresses, ids, namespaces: [FUZZ_NAMESPACE, '', 'other-site'] })
      // routed app payloads are valid LOCATEs here: payloads the owner refuses break the ring (the skipped tests above)
      const requests = arbs.ringRequest.map(withValidRoutedApp)
      const stats = { requests: 0, codes: new Map<number, number>(), timeouts: 0 }

      await fc.assert(fc.asyncProperty(
        fc.integer({ min: 0, max: 1_000_000 }),
        fc.array(fc.tuple(fc.nat({ max: 7 }), requests, fc.nat({ max: 3_000 })), { minLength: 1, maxLength: 12 }),
        async (seed, requests) => {
          ring = await FuzzRing.create({ seed: `arbitrary:${seed}` })
          try {
            for (const [index, req, pauseMs] of requests) {
              const started = ring.scheduler.now
              const outcome = await ring.send(ring.members[index].peer.address, req)
              stats.requests++
              expect(ring.scheduler.now - started, 'answered within the deadline').to.be.at.most(RAW_TIMEOUT_MS)
              if (outcome.kind === 'timeout') {
                stats.timeouts++
              } else {
                expect(outcome.kind, JSON.stringify(outcome)).to.be.oneOf(['answer', 'refused'])
                const code = (outcome as { code: number }).code
                stats.codes.set(code, (stats.codes.get(code) ?? 0) + 1)
                expect(code).to.be.within(0, 6)
              }
              await ring.advance(pauseMs)
            }
            for (const m of ring.members) {
              await expectServing(ring, m)
            }
            await ring.advance(HEAL_MS)
            await expectRingCorrect(ring, 'after arbitrary requests and a heal period')
            expect(rejections.splice(0).map(String), 'unhandled rejections').to.deep.equal([])
          } finally {
            ring.stop()
            ring = undefined
          }
        }
      ), { numRuns: 100, endOnFailure: true })

      expect(stats.requests).to.be.greaterThan(40)
      // the arbitraries reach both successful and refused paths
      expect(stats.codes.get(OK) ?? 0).to.be.greaterThan(0)
      expect(stats.codes.get(INVALID_MESSAGE) ?? 0).to.be.greaterThan(0)
    })

    it('refuses arbitrary bytes with INVALID_MESSAGE or WRONG_NAMESPACE or answers them, and keeps serving', async function () {
      this.timeout(60_000)
      ring = await FuzzRing.create({ seed: 'bytes' })
      const target = ring.members[3]
      const r = roles(ring)
      const valid = messageArbs({ addresses: ring.members.map(m => m.peer.address), ids: ring.members.map(m => m.peer.id), namespaces: [FUZZ_NAMESPACE] }).ringRequest.map(q => RingRequest.encode(withValidRoutedApp(q)))
      const current = ring

      await fc.assert(fc.asyncProperty(fc.oneof(fc.uint8Array({ maxLength: 200 }), valid.map(b => b.subarray(0, Math.max(0, b.byteLength - 1)))), async (bytes) => {
        const outcome = await current.sendRaw(target.peer.address, bytes)
        expect(outcome.kind, JSON.stringify(outcome)).to.be.oneOf(['answer', 'refused', 'timeout'])
      }), { numRuns: 300 })

      await expectServing(ring, target)
      await ring.advance(HEAL_MS)
      await expectRingCorrect(ring, 'after arbitrary bytes')
      expect(r.target.ring.joined).to.equal(true)
    })
  })
})
