import { expect } from 'aegir/chai'
import fc from 'fast-check'
import { DirectoryRequest, DirectoryResponse } from '../../src/cdn/directory-messages.ts'
import { AbortError, codeOf, ErrorCode, errorFromCode, HopLimitError, InvalidMessageError, LookupFailedError, NotMemberError, RemoteError, WrongNamespaceError } from '../../src/overlay/errors.ts'
import { AppRequest, LeaveRequest, RingRequest, RingResponse, RouteRequest, RouteResponse, StabilizeRequest, StabilizeResponse, WirePeer } from '../../src/overlay/messages.ts'
import { compareIds, distance, fingerStart, ID_BYTES, idFromBytes, idToBytes, idToHex, RING_BITS, RING_SIZE } from '../../src/overlay/ring-id.ts'
import { MAX_ADDRESS_LENGTH, MAX_HINT_BYTES, MAX_HINTS, peerFromWire, peersFromWire, peerToWire } from '../../src/overlay/wire.ts'
import type { Peer } from '../../src/overlay/seams.ts'

const TOP = RING_SIZE - 1n

// ---- arbitraries -----------------------------------------------------------

const bytes = (max: number = 48): fc.Arbitrary<Uint8Array<ArrayBuffer>> => fc.uint8Array({ maxLength: max }) as fc.Arbitrary<Uint8Array<ArrayBuffer>>
const id32 = fc.uint8Array({ minLength: ID_BYTES, maxLength: ID_BYTES }) as fc.Arbitrary<Uint8Array<ArrayBuffer>>
const text = fc.string({ unit: 'grapheme', maxLength: 40 })
const uint32 = fc.nat({ max: 0xffff_ffff })
const ringId = fc.oneof(fc.bigInt({ min: 0n, max: TOP }), fc.constantFrom(0n, 1n, TOP, TOP - 1n, 1n << 255n))

/** An enum's members (protons merges a `codec` function into the enum object) */
function enumValues<E extends string> (e: Record<string, unknown>): E[] {
  return Object.values(e).filter((v): v is E => typeof v === 'string')
}

const wirePeer: fc.Arbitrary<WirePeer> = fc.record({ id: id32, address: text, hints: fc.array(bytes(), { maxLength: 4 }) })

/** Protons leaves unset optional fields out of the decoded object, so absent keys must be absent, not undefined */
function optional<T extends Record<string, unknown>> (model: { [K in keyof T]: fc.Arbitrary<T[K]> }, required: Array<keyof T>): fc.Arbitrary<T> {
  return fc.record(model, { requiredKeys: required }) as unknown as fc.Arbitrary<T>
}

const routeRequest = optional<RouteRequest>({ key: id32, hopsLeft: uint32, budgetMs: uint32, hops: uint32, final: fc.boolean(), maintenance: fc.boolean(), app: bytes(), avoid: fc.array(text, { maxLength: 8 }) }, ['key', 'hopsLeft', 'budgetMs', 'hops', 'final', 'maintenance', 'avoid'])
const stabilizeRequest = optional<StabilizeRequest>({ sender: wirePeer, wantFingers: fc.boolean() }, ['wantFingers'])
const leaveRequest = optional<LeaveRequest>({ sender: wirePeer, predecessor: wirePeer, successors: fc.array(wirePeer, { maxLength: 4 }), app: bytes() }, ['successors'])
const appRequest: fc.Arbitrary<AppRequest> = fc.record({ payload: bytes(200) })
const ringRequest = optional<RingRequest>({
  type: fc.constantFrom(...enumValues<RingRequest.Type>(RingRequest.Type)),
  namespace: text,
  route: routeRequest,
  stabilize: stabilizeRequest,
  leave: leaveRequest,
  app: appRequest
}, ['type', 'namespace'])

const routeResponse = optional<RouteResponse>({ owner: wirePeer, hops: uint32, app: bytes() }, ['hops'])
const stabilizeResponse = optional<StabilizeResponse>({ predecessor: wirePeer, successors: fc.array(wirePeer, { maxLength: 6 }), fingers: fc.array(wirePeer, { maxLength: 6 }) }, ['successors', 'fingers'])
const ringResponse = optional<RingResponse>({ error: uint32, message: text, route: routeResponse, stabilize: stabilizeResponse, app: bytes() }, ['error', 'message'])

const holder = wirePeer
const directoryRequest = optional<DirectoryRequest>({
  type: fc.constantFrom(...enumValues<DirectoryRequest.Type>(DirectoryRequest.Type)),
  key: bytes(32),
  gone: fc.array(text, { maxLength: 5 }),
  entries: fc.array(fc.record({ key: id32, holders: fc.array(holder, { maxLength: 4 }) }), { maxLength: 4 }),
  holder
}, ['type', 'key', 'gone', 'entries'])
const directoryResponse: fc.Arbitrary<DirectoryResponse> = fc.record({ holders: fc.array(holder, { maxLength: 6 }) })

/** A peer as the overlay accepts it from the wire */
const validPeer: fc.Arbitrary<Peer> = fc.record({
  id: ringId,
  address: fc.string({ unit: 'grapheme-ascii', minLength: 1, maxLength: MAX_ADDRESS_LENGTH }),
  hints: fc.array(fc.uint8Array({ maxLength: MAX_HINT_BYTES }), { minLength: 1, maxLength: MAX_HINTS })
}, { requiredKeys: ['id', 'address'] })

interface Codec<T> {
  encode(obj: Partial<T>): Uint8Array
  decode(buf: Uint8Array): T
}

function roundTrips<T> (name: string, codec: Codec<T>, arb: fc.Arbitrary<T>): void {
  it(`round-trips ${name} through its protons codec`, () => {
    fc.assert(fc.property(arb, msg => {
      expect(codec.decode(codec.encode(msg))).to.deep.equal(msg)
    }), { numRuns: 300 })
  })
}

function expectInvalid (fn: () => unknown, message?: RegExp): void {
  let thrown: unknown
  try {
    fn()
  } catch (err) {
    thrown = err
  }
  expect(thrown).to.be.an.instanceOf(InvalidMessageError)
  expect((thrown as Error).name).to.equal('InvalidMessageError')
  if (message != null) {
    expect((thrown as Error).message).to.match(message)
  }
}

function wire (over: Partial<WirePeer> = {}): WirePeer {
  return { id: idToBytes(42n), address: 'peer', hints: [], ...over }
}

describe('wire messages', () => {
  describe('ring protocol codecs', () => {
    roundTrips('WirePeer', WirePeer, wirePeer)
    roundTrips('RouteRequest', RouteRequest, routeRequest)
    roundTrips('RouteResponse', RouteResponse, routeResponse)
    roundTrips('StabilizeRequest', StabilizeRequest, stabilizeRequest)
    roundTrips('StabilizeResponse', StabilizeResponse, stabilizeResponse)
    roundTrips('LeaveRequest', LeaveRequest, leaveRequest)
    roundTrips('AppRequest', AppRequest, appRequest)
    roundTrips('RingRequest', RingRequest, ringRequest)
    roundTrips('RingResponse', RingResponse, ringResponse)

    it('keeps an empty optional payload distinct from an absent one', () => {
      const withEmpty = RouteResponse.decode(RouteResponse.encode({ hops: 1, app: new Uint8Array(0) }))
      const without = RouteResponse.decode(RouteResponse.encode({ hops: 1 }))
      expect(withEmpty.app).to.deep.equal(new Uint8Array(0))
      expect(without.app).to.equal(undefined)
    })
  })

  describe('directory codecs', () => {
    roundTrips('DirectoryRequest', DirectoryRequest, directoryRequest)
    roundTrips('DirectoryResponse', DirectoryResponse, directoryResponse)
  })

  describe('peerFromWire', () => {
    it('round-trips any valid peer through peerToWire and the codec', () => {
      fc.assert(fc.property(validPeer, p => {
        const back = peerFromWire(WirePeer.decode(WirePeer.encode(peerToWire(p))))
        expect(back).to.deep.equal(p)
      }), { numRuns: 200 })
    })

    it('accepts the largest address and hints allowed', () => {
      const hints = Array.from({ length: MAX_HINTS }, () => new Uint8Array(MAX_HINT_BYTES))
      const p = peerFromWire(wire({ address: 'a'.repeat(MAX_ADDRESS_LENGTH), hints }))
      expect(p.address).to.have.length(MAX_ADDRESS_LENGTH)
      expect(p.hints).to.have.length(MAX_HINTS)
      expect(p.id).to.equal(42n)
    })

    it('rejects a missing peer', () => {
      expectInvalid(() => peerFromWire(undefined), /missing/)
    })

    for (const length of [0, 1, ID_BYTES - 1, ID_BYTES + 1, 64]) {
      it(`rejects an id of ${length} bytes`, () => {
        expectInvalid(() => peerFromWire(wire({ id: new Uint8Array(length) })), /32 bytes/)
      })
    }

    it('rejects an empty address', () => {
      expectInvalid(() => peerFromWire(wire({ address: '' })), /address/)
    })

    it('rejects an address longer than the limit', () => {
      expectInvalid(() => peerFromWire(wire({ address: 'a'.repeat(MAX_ADDRESS_LENGTH + 1) })), /address/)
    })

    it('rejects more hints than the limit', () => {
      const hints = Array.from({ length: MAX_HINTS + 1 }, () => new Uint8Array(4))
      expectInvalid(() => peerFromWire(wire({ hints })), /hints/)
    })

    it('rejects a hint longer than the limit', () => {
      expectInvalid(() => peerFromWire(wire({ hints: [new Uint8Array(4), new Uint8Array(MAX_HINT_BYTES + 1)] })), /hints/)
    })

    it('gives back a held peer that the wire repeats byte for byte, and a new one otherwise', () => {
      const held: Peer[] = [{ id: 7n, address: 'a' }, { id: 42n, address: 'peer', hints: [Uint8Array.of(1, 2)] }]
      expect(peerFromWire(wire({ hints: [Uint8Array.of(1, 2)] }), held)).to.equal(held[1])
      // same address, different id (a forged or stale claim): decoded, not taken from what we hold
      const otherId = peerFromWire(wire({ id: idToBytes(43n), hints: [Uint8Array.of(1, 2)] }), held)
      expect(otherId).to.not.equal(held[1])
      expect(otherId.id).to.equal(43n)
      // new dialing hints are news too
      const otherHints = peerFromWire(wire({ hints: [Uint8Array.of(1, 3)] }), held)
      expect(otherHints).to.not.equal(held[1])
      expect(otherHints.hints).to.deep.equal([Uint8Array.of(1, 3)])
      expect(peerFromWire(wire(), held)).to.not.equal(held[1])
      // a malformed id is still refused when its address is held
      expectInvalid(() => peerFromWire(wire({ id: new Uint8Array(31), hints: [Uint8Array.of(1, 2)] }), held), /32 bytes/)
      expect(peersFromWire([wire({ address: 'a', id: idToBytes(7n) }), wire({ address: 'b' })], 8, held)[0]).to.equal(held[0])
    })

    it('rejects a peer list longer than the limit, and accepts one at the limit', () => {
      const list = Array.from({ length: 5 }, (_, i) => wire({ address: `p${i}` }))
      expect(peersFromWire(list, 5).map(p => p.address)).to.deep.equal(['p0', 'p1', 'p2', 'p3', 'p4'])
      expectInvalid(() => peersFromWire(list, 4), /longer than 4/)
    })

    it('rejects a peer list holding one malformed peer', () => {
      expectInvalid(() => peersFromWire([wire(), wire({ id: new Uint8Array(31) })], 8))
    })
  })

  describe('ring ids', () => {
    it('round-trips any position through 32 big-endian bytes', () => {
      fc.assert(fc.property(ringId, x => {
        const b = idToBytes(x)
        expect(b.byteLength).to.equal(ID_BYTES)
        expect(idFromBytes(b)).to.equal(x)
        expect(idToHex(x)).to.have.length(2 * ID_BYTES)
        expect(BigInt(`0x${idToHex(x)}`)).to.equal(x)
      }), { numRuns: 1000 })
    })

    it('round-trips 0 and 2^256 − 1', () => {
      expect(idToBytes(0n)).to.deep.equal(new Uint8Array(ID_BYTES))
      expect(idFromBytes(idToBytes(0n))).to.equal(0n)
      expect(idToBytes(TOP)).to.deep.equal(new Uint8Array(ID_BYTES).fill(0xff))
      expect(idFromBytes(idToBytes(TOP))).to.equal(TOP)
    })

    it('puts the most significant byte first', () => {
      const b = idToBytes((1n << 248n) + 0x0102n)
      expect(b[0]).to.equal(1)
      expect(b[ID_BYTES - 2]).to.equal(1)
      expect(b[ID_BYTES - 1]).to.equal(2)
    })

    it('reduces positions outside the ring modulo 2^256', () => {
      expect(idFromBytes(idToBytes(RING_SIZE))).to.equal(0n)
      expect(idFromBytes(idToBytes(RING_SIZE + 5n))).to.equal(5n)
    })

    it('rejects byte strings that are not 32 bytes long', () => {
      expectInvalid(() => idFromBytes(new Uint8Array(ID_BYTES - 1)))
      expectInvalid(() => idFromBytes(new Uint8Array(ID_BYTES + 1)))
      expectInvalid(() => idFromBytes(new Uint8Array(0)))
    })

    it('wraps finger starts past the top of the ring', () => {
      expect(fingerStart(TOP, 0)).to.equal(0n)
      expect(fingerStart(1n << 255n, 255)).to.equal(0n)
      expect(fingerStart(TOP - 3n, 3)).to.equal(4n)
      expect(fingerStart(0n, RING_BITS - 1)).to.equal(1n << 255n)
    })

    it('puts finger i exactly 2^i clockwise from its node', () => {
      fc.assert(fc.property(ringId, fc.integer({ min: 0, max: RING_BITS - 1 }), (x, i) => {
        const start = fingerStart(x, i)
        expect(start).to.equal((x + (1n << BigInt(i))) % RING_SIZE)
        expect(distance(x, start)).to.equal(1n << BigInt(i))
      }), { numRuns: 1000 })
    })

    it('measures clockwise distance so that both ways round make the whole ring', () => {
      fc.assert(fc.property(ringId, ringId, (a, b) => {
        const there = distance(a, b)
        const back = distance(b, a)
        expect(there >= 0n && there < RING_SIZE).to.equal(true)
        expect(a === b ? there === 0n && back === 0n : there + back === RING_SIZE).to.equal(true)
        expect(compareIds(a, b) < 0).to.equal(a < b)
        expect(compareIds(a, b) === 0).to.equal(a === b)
      }), { numRuns: 1000 })
    })
  })

  describe('error codes', () => {
    it('rebuilds every named error from the code it travels as', () => {
      for (const err of [new HopLimitError('h'), new LookupFailedError('l'), new InvalidMessageError('i'), new WrongNamespaceError('w'), new NotMemberError('n')]) {
        const back = errorFromCode(codeOf(err), err.message)
        expect(back.name).to.equal(err.name)
        expect(back.message).to.equal(err.message)
      }
    })

    it('turns an error without a code into a RemoteError with the unknown code', () => {
      expect(codeOf(new AbortError())).to.equal(ErrorCode.UNKNOWN)
      expect(codeOf(undefined)).to.equal(ErrorCode.UNKNOWN)
      const back = errorFromCode(77, 'odd')
      expect(back).to.be.an.instanceOf(RemoteError)
      expect((back as RemoteError).code).to.equal(77)
    })
  })
})
