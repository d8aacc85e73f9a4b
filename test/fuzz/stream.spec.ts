/**
 * The ring protocol over real libp2p streams (@libp2p/memory), fuzzed: two
 * members serve a production `RingNode` through `StreamRpc`, an outsider
 * opens raw streams and writes random frames — length-prefixed garbage,
 * mutated and arbitrary requests, oversized frames, unframed bytes, several
 * frames on one stream. The member resets the stream or answers with an
 * error code, never crashes or hangs, releases every stream, and keeps
 * serving: afterwards valid requests and lookups succeed.
 */
import { expect } from 'aegir/chai'
import fc from 'fast-check'
import { RingRequest } from '../../src/overlay/messages.ts'
import { idToBytes } from '../../src/overlay/ring-id.ts'
import { waitFor } from '../libp2p/fixtures.ts'
import { concat, frame, messageArbs, mutate, mutationArb, varint } from './inputs.ts'
import { createLibp2pRing, exchangeRaw, FUZZ_MAX_MESSAGE_BYTES, LIBP2P_NAMESPACE, openFuzzStreams } from './libp2p-ring.ts'
import type { Libp2pMember, Libp2pRing, RawStreamOutcome } from './libp2p-ring.ts'

/** Raw exchanges per property */
const RUNS = 60

function expectHandled (outcome: RawStreamOutcome, what: string): void {
  expect(outcome.kind, `${what}: ${JSON.stringify(outcome)}`).to.be.oneOf(['reset', 'answer'])
  if (outcome.kind === 'answer') {
    expect(outcome.code, what).to.be.within(0, 6)
  }
}

describe('fuzz: ring protocol over libp2p streams', function () {
  this.timeout(30_000)
  let ring: Libp2pRing
  let a: Libp2pMember
  let b: Libp2pMember
  const rejections: unknown[] = []
  const onRejection = (reason: unknown): void => { rejections.push(reason) }

  before(async () => {
    process.on('unhandledRejection', onRejection)
    ring = await createLibp2pRing(2)
    ;[a, b] = ring.members
  })

  after(async () => {
    process.off('unhandledRejection', onRejection)
    await ring?.stop()
  })

  afterEach(async () => {
    expect(rejections.splice(0).map(String), 'unhandled rejections').to.deep.equal([])
    // every path on the serving side closes or resets its stream
    await waitFor(() => openFuzzStreams(b.node) === 0, 3_000, 'the member to release its streams')
    await expectStillServing()
  })

  /** A valid request from the outsider and lookups between the members succeed */
  async function expectStillServing (): Promise<void> {
    const probe = await exchangeRaw(ring.outsider, b.node.peerId, [frame(RingRequest.encode({ type: RingRequest.Type.PROBE, namespace: LIBP2P_NAMESPACE }))])
    expect(probe).to.have.property('kind', 'answer')
    expect(probe).to.have.property('code', 0)
    for (const key of [a.peer.id, b.peer.id, a.peer.id + 1n, b.peer.id + 1n]) {
      const res = await a.ring.lookup(key, { timeout: 5_000 })
      expect(res.owner.address).to.equal(ring.owner(key).peer.address)
    }
  }

  const arbs = messageArbs({ namespaces: [LIBP2P_NAMESPACE, '', 'other-site'] })

  it('resets or answers random length-prefixed frames', async () => {
    await fc.assert(fc.asyncProperty(fc.uint8Array({ maxLength: 300 }), async (body) => {
      expectHandled(await exchangeRaw(ring.outsider, b.node.peerId, [frame(body)]), 'random frame')
    }), { numRuns: RUNS })
  })

  it('resets or answers mutated valid requests', async () => {
    const valid = arbs.ringRequest.map(r => RingRequest.encode(r))
    await fc.assert(fc.asyncProperty(valid, fc.array(mutationArb, { minLength: 1, maxLength: 3 }), async (seed, mutations) => {
      const body = mutations.reduce<Uint8Array>((bytes, m) => mutate(bytes, m), seed)
      if (body.byteLength > FUZZ_MAX_MESSAGE_BYTES) {
        return
      }
      expectHandled(await exchangeRaw(ring.outsider, b.node.peerId, [frame(body)]), 'mutated request')
    }), { numRuns: RUNS })
  })

  it('answers arbitrary well-formed requests with a code', async () => {
    const addresses = [a.peer.address, b.peer.address, ring.outsider.peerId.toString()]
    const member = messageArbs({ addresses, ids: [a.peer.id, b.peer.id], namespaces: [LIBP2P_NAMESPACE, ''] })
    await fc.assert(fc.asyncProperty(member.ringRequest, async (req) => {
      const outcome = await exchangeRaw(ring.outsider, b.node.peerId, [frame(RingRequest.encode(req))])
      expect(outcome.kind, JSON.stringify(outcome)).to.equal('answer')
      expectHandled(outcome, 'arbitrary request')
    }), { numRuns: RUNS })
  })

  it('resets streams of unframed garbage, split into random chunks, closed or not', async () => {
    // run at once: without a close the member waits for the rest of the frame until its handlerTimeout (3 s)
    const samples = fc.sample(fc.tuple(fc.array(fc.uint8Array({ minLength: 1, maxLength: 64 }), { maxLength: 4 }), fc.boolean()), { numRuns: 40, seed: 7 })
    const outcomes = await Promise.all(samples.map(async ([chunks, close]) => exchangeRaw(ring.outsider, b.node.peerId, chunks, { close, timeout: 6_000 })))
    outcomes.forEach((outcome, i) => {
      expectHandled(outcome, `unframed garbage ${JSON.stringify(samples[i][0].map(c => Buffer.from(c).toString('hex')))} close=${samples[i][1]}`)
    })
  })

  it('resets oversized frames, whether the body follows or not', async () => {
    const oversized = new Uint8Array(FUZZ_MAX_MESSAGE_BYTES + 1).fill(0x0a)
    expectHandled(await exchangeRaw(ring.outsider, b.node.peerId, [frame(oversized)]), 'oversized frame')
    expectHandled(await exchangeRaw(ring.outsider, b.node.peerId, [varint(FUZZ_MAX_MESSAGE_BYTES * 1000)]), 'oversized length prefix')
    expectHandled(await exchangeRaw(ring.outsider, b.node.peerId, [varint(Number.MAX_SAFE_INTEGER)]), 'length prefix of 2^53')
    expectHandled(await exchangeRaw(ring.outsider, b.node.peerId, [new Uint8Array(11).fill(0xff)]), 'varint of 11 bytes')
  })

  it('answers the first of several frames on one stream and nothing more', async () => {
    const probe = frame(RingRequest.encode({ type: RingRequest.Type.PROBE, namespace: LIBP2P_NAMESPACE }))
    const outcome = await exchangeRaw(ring.outsider, b.node.peerId, [concat(probe, probe, frame(Uint8Array.of(1, 2, 3)))])
    // one response frame, then the stream ends; trailing frames are never read
    expectHandled(outcome, 'several frames')
  })

  it('survives 50 concurrent hostile streams mixed with valid lookups', async () => {
    const bodies = fc.sample(fc.oneof(fc.uint8Array({ maxLength: 200 }), arbs.ringRequest.map(r => RingRequest.encode(r))), { numRuns: 50, seed: 42 })
    const hostile = bodies.map(async body => exchangeRaw(ring.outsider, b.node.peerId, [frame(body)]))
    const lookups = [a.peer.id, b.peer.id].map(async key => a.ring.lookup(key, { timeout: 5_000 }))

    for (const outcome of await Promise.all(hostile)) {
      expectHandled(outcome, 'concurrent hostile stream')
    }
    const owners = (await Promise.all(lookups)).map(r => r.owner.address)
    expect(owners).to.deep.equal([ring.owner(a.peer.id).peer.address, ring.owner(b.peer.id).peer.address])
  })

  it('answers a semantically bad request with its error code over the stream', async () => {
    const cases: Array<[string, RingRequest, number]> = [
      ['wrong namespace', { type: RingRequest.Type.PROBE, namespace: 'other-site' }, 5],
      ['unknown type', { type: RingRequest.Type.UNKNOWN, namespace: LIBP2P_NAMESPACE }, 4],
      ['missing route', { type: RingRequest.Type.ROUTE, namespace: LIBP2P_NAMESPACE }, 4],
      ['key of 3 bytes', { type: RingRequest.Type.ROUTE, namespace: LIBP2P_NAMESPACE, route: { key: new Uint8Array(3), hopsLeft: 5, budgetMs: 1000, hops: 0, final: false, maintenance: false, avoid: [] } }, 4],
      ['hop limit', { type: RingRequest.Type.ROUTE, namespace: LIBP2P_NAMESPACE, route: { key: idToBytes(a.peer.id), hopsLeft: 0, budgetMs: 1000, hops: 0, final: false, maintenance: false, avoid: [] } }, 2],
      ['stabilize on behalf of another peer', { type: RingRequest.Type.STABILIZE, namespace: LIBP2P_NAMESPACE, stabilize: { sender: { id: idToBytes(a.peer.id), address: a.peer.address, hints: [] }, wantFingers: false } }, 4]
    ]
    for (const [what, req, code] of cases) {
      const outcome = await exchangeRaw(ring.outsider, b.node.peerId, [frame(RingRequest.encode(req))])
      expect(outcome, what).to.have.property('code', code)
    }
  })
})
