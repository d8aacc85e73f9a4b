/**
 * Every decoder that bytes from the network reach, fuzzed: arbitrary bytes,
 * mutated valid encodings and every truncation decode or fail with a decode
 * error (`InvalidMessageError` where our own code decodes), never with a
 * `TypeError`, a stray `RangeError` or a hang; repeated fields stay within
 * limits where the caller passes them.
 */
import { expect } from 'aegir/chai'
import fc from 'fast-check'
import { DirectoryRequest, DirectoryResponse } from '../../src/cdn/directory-messages.ts'
import { MAX_DIRECTORY_ITEMS } from '../../src/cdn/directory-service.ts'
import { decodeEnvelope, encodeError, encodeOk, MAX_ERROR_MESSAGE_BYTES } from '../../src/libp2p/response-envelope.ts'
import { MAX_MESSAGE_BYTES } from '../../src/libp2p/stream-rpc.ts'
import { RingRequest, RingResponse } from '../../src/overlay/messages.ts'
import { ID_BYTES, idToBytes, RING_SIZE } from '../../src/overlay/ring-id.ts'
import { MAX_PEERS_PER_MESSAGE } from '../../src/overlay/ring-node.ts'
import { MAX_ADDRESS_LENGTH, MAX_HINT_BYTES, MAX_HINTS, peerFromWire, peersFromWire, peerToWire } from '../../src/overlay/wire.ts'
import {
  checkDecode, classifyError, concat, decoderTargets, hex, lengthDelimited, messageArbs, mutate, mutationArb,
  repeat, RING_REQUEST_LIMITS, RING_RESPONSE_LIMITS, varint, wirePeerArb
} from './inputs.ts'
import type { DecoderTarget, Mutation } from './inputs.ts'
import type { WirePeer } from '../../src/overlay/messages.ts'

/** Runs per property; CI-sized (the long run is `npm run fuzz`) */
const RUNS = 400

/** A decode of a frame of at most MAX_MESSAGE_BYTES must finish within this, ms */
const DECODE_BOUND_MS = 3_000

function expectDecodes (target: DecoderTarget, bytes: Uint8Array): void {
  const { problem } = checkDecode(target, bytes)
  if (problem != null) {
    expect.fail(`${target.name} on ${hex(bytes)}: ${problem}`)
  }
}

/** An empty WirePeer inside field `field`: two bytes that decode into one peer object */
const EMPTY_PEER = Uint8Array.of(0x1a, 0x00)

describe('fuzz: decoders', function () {
  const targets = decoderTargets({ namespaces: ['ringcdn-fuzz', ''] })

  for (const target of targets) {
    describe(target.name, function () {
      it('decodes or refuses arbitrary bytes with a decode error', () => {
        fc.assert(fc.property(fc.uint8Array({ maxLength: 512 }), (bytes) => {
          expectDecodes(target, bytes)
        }), { numRuns: RUNS })
      })

      it('decodes or refuses mutated valid encodings with a decode error', () => {
        fc.assert(fc.property(target.seeds, fc.array(mutationArb, { minLength: 1, maxLength: 4 }), (seed, mutations) => {
          expectDecodes(target, mutateAll(seed, mutations))
        }), { numRuns: RUNS })
      })

      it('decodes or refuses every truncation and every single bit flip of a valid encoding', () => {
        fc.assert(fc.property(target.seeds, (seed) => {
          for (let end = 0; end < seed.byteLength; end++) {
            expectDecodes(target, seed.subarray(0, end))
          }
          for (let bit = 0; bit < Math.min(seed.byteLength, 64) * 8; bit++) {
            const flipped = Uint8Array.from(seed)
            flipped[bit >> 3] ^= 1 << (bit & 7)
            expectDecodes(target, flipped)
          }
        }), { numRuns: 25 })
      })
    })
  }

  describe('round trips', function () {
    const arbs = messageArbs({ namespaces: ['ringcdn-fuzz'] })

    it('re-encodes every decoded RingRequest, RingResponse, DirectoryRequest and DirectoryResponse to the same bytes', () => {
      fc.assert(fc.property(arbs.ringRequest, arbs.ringResponse, arbs.directoryRequest, arbs.directoryResponse, (a, b, c, d) => {
        const ea = RingRequest.encode(a)
        expect(RingRequest.encode(RingRequest.decode(ea))).to.deep.equal(ea)
        const eb = RingResponse.encode(b)
        expect(RingResponse.encode(RingResponse.decode(eb))).to.deep.equal(eb)
        const ec = DirectoryRequest.encode(c)
        expect(DirectoryRequest.encode(DirectoryRequest.decode(ec))).to.deep.equal(ec)
        const ed = DirectoryResponse.encode(d)
        expect(DirectoryResponse.encode(DirectoryResponse.decode(ed))).to.deep.equal(ed)
      }), { numRuns: RUNS })
    })

    it('refuses type numbers outside the enum at decode time', () => {
      for (const type of [7, 8, 99, 0x7fff_ffff]) {
        const bytes = concat(varint(0x08), varint(type))
        expect(classifyError(capture(() => RingRequest.decode(bytes)))).to.equal('decode')
        expect(classifyError(capture(() => DirectoryRequest.decode(bytes)))).to.equal('decode')
      }
      // a negative int32 travels as ten bytes
      const negative = Uint8Array.of(0x08, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01)
      expect(classifyError(capture(() => RingRequest.decode(negative)))).to.equal('decode')
    })
  })

  describe('response envelope', function () {
    it('decodes any frame or throws InvalidMessageError', () => {
      fc.assert(fc.property(fc.uint8Array({ maxLength: 64 }), (bytes) => {
        try {
          const env = decodeEnvelope(bytes)
          expect(bytes[0]).to.be.oneOf([0, 1])
          if (!env.ok) {
            expect(env.code).to.be.within(0, 0xffff_ffff)
          }
        } catch (err: any) {
          expect(err.name).to.equal('InvalidMessageError')
        }
      }), { numRuns: RUNS * 5 })
    })

    it('round-trips ok bodies and error codes, cuts long messages, maps impossible codes to UNKNOWN', () => {
      fc.assert(fc.property(fc.uint8Array({ maxLength: 64 }), fc.oneof(fc.nat({ max: 0xffff_ffff }), fc.double(), fc.integer({ min: -10, max: -1 })), fc.string({ maxLength: 1000 }), (body, code, message) => {
        const ok = decodeEnvelope(encodeOk(body))
        expect(ok.ok && [...ok.body]).to.deep.equal([...body])
        const err = decodeEnvelope(encodeError(code, message))
        if (err.ok) {
          expect.fail('an error frame decoded as ok')
        }
        expect(err.code).to.equal(Number.isInteger(code) && code >= 0 && code <= 0xffff_ffff ? code : 1)
        expect(new TextEncoder().encode(err.message).byteLength).to.be.at.most(MAX_ERROR_MESSAGE_BYTES + 3)
      }), { numRuns: RUNS })
    })
  })

  describe('wire.ts conversions', function () {
    it('turns any WirePeer into a valid Peer or throws InvalidMessageError', () => {
      fc.assert(fc.property(wirePeerArb(['a', 'b']), (wire) => {
        let peer
        try {
          peer = peerFromWire(wire)
        } catch (err: any) {
          expect(err.name).to.equal('InvalidMessageError')
          expect(isValidWirePeer(wire), 'refused a valid peer').to.equal(false)
          return
        }
        expect(peer.id >= 0n && peer.id < RING_SIZE).to.equal(true)
        expect(peer.address.length).to.be.within(1, MAX_ADDRESS_LENGTH)
        expect(peer.hints?.length ?? 0).to.be.at.most(MAX_HINTS)
        expect(peerToWire(peer)).to.deep.equal({ ...wire, hints: wire.hints })
      }), { numRuns: RUNS })
    })

    it('refuses a missing peer and a list over its maximum with InvalidMessageError', () => {
      expect(capture(() => peerFromWire(undefined))).to.have.property('name', 'InvalidMessageError')
      fc.assert(fc.property(fc.nat({ max: 200 }), fc.nat({ max: 100 }), (length, max) => {
        const result = capturePeers(length, max)
        if (length > max) {
          expect(result).to.have.property('name', 'InvalidMessageError')
        } else {
          expect(result).to.have.lengthOf(length)
        }
      }), { numRuns: 100 })
    })
  })

  describe('adversarial frames', function () {
    /** Frames of MAX_MESSAGE_BYTES built to be slow or large to decode */
    const big: Array<[string, Uint8Array]> = [
      ['random bytes', Uint8Array.from({ length: MAX_MESSAGE_BYTES }, (_, i) => (i * 2654435761) >>> 24)],
      ['varint continuation bytes', new Uint8Array(MAX_MESSAGE_BYTES).fill(0x80)],
      ['a length field claiming 2 GiB', concat(Uint8Array.of(0x12), varint(0x7fff_fff0), new Uint8Array(64))],
      ['one unknown field repeated', repeat(Uint8Array.of(0x78, 0x01), MAX_MESSAGE_BYTES / 2)],
      ['a sub-message repeated', repeat(Uint8Array.of(0x1a, 0x00), MAX_MESSAGE_BYTES / 2)]
    ]

    for (const target of decoderTargets()) {
      it(`${target.name} handles MAX_MESSAGE_BYTES of hostile input quickly`, function () {
        this.timeout(60_000)
        for (const [what, bytes] of big) {
          const started = performance.now()
          expectDecodes(target, bytes)
          expect(performance.now() - started, what).to.be.lessThan(DECODE_BOUND_MS)
        }
      })
    }

    it('bounds peer lists and hints when decoded with the limits the ring enforces after decoding', () => {
      const peers = repeat(EMPTY_PEER, MAX_PEERS_PER_MESSAGE + 1)
      const leave = lengthDelimited(5, peers)
      expect(capture(() => RingRequest.decode(leave, { limits: RING_REQUEST_LIMITS }))).to.have.property('name', 'MaxLengthError')
      const stabilize = lengthDelimited(4, lengthDelimited(2, new Uint8Array(0)))
      expect(capture(() => RingResponse.decode(concat(stabilize, lengthDelimited(4, peers)), { limits: RING_RESPONSE_LIMITS }))).to.have.property('name', 'MaxLengthError')
      const manyHints = lengthDelimited(4, lengthDelimited(1, repeat(Uint8Array.of(0x1a, 0x00), MAX_HINTS + 1)))
      expect(capture(() => RingRequest.decode(manyHints, { limits: RING_REQUEST_LIMITS }))).to.have.property('name', 'MaxLengthError')
    })

    it('bounds the directory request lists it limits (gone, entries) and the response holders', () => {
      const gone = repeat(Uint8Array.of(0x1a, 0x00), MAX_DIRECTORY_ITEMS + 1)
      expect(capture(() => DirectoryRequest.decode(gone, { limits: { gone: MAX_DIRECTORY_ITEMS, entries: MAX_DIRECTORY_ITEMS } }))).to.have.property('name', 'MaxLengthError')
      const entries = repeat(Uint8Array.of(0x22, 0x00), MAX_DIRECTORY_ITEMS + 1)
      expect(capture(() => DirectoryRequest.decode(entries, { limits: { gone: MAX_DIRECTORY_ITEMS, entries: MAX_DIRECTORY_ITEMS } }))).to.have.property('name', 'MaxLengthError')
      const holders = repeat(Uint8Array.of(0x0a, 0x00), MAX_DIRECTORY_ITEMS + 1)
      expect(capture(() => DirectoryResponse.decode(holders, { limits: { holders: MAX_DIRECTORY_ITEMS } }))).to.have.property('name', 'MaxLengthError')
    })

    // BUG (memory amplification): the ring's decoders run without limits. The simulator's ring protocol
    // (sim/simulation.ts) and the StreamRpc codec both call `RingRequest.decode(bytes)` /
    // `RingResponse.decode(bytes)` with no `limits`, and `peersFromWire` / `peerFromWire` only count
    // peers and hints after the whole frame is decoded. Two bytes (`1a 00`) decode into one WirePeer
    // object, so one frame of MAX_MESSAGE_BYTES (4 MiB) under LeaveRequest.successors becomes ~2.1 M
    // objects: measured here 2 MiB → 1 048 572 peers, +327 MB heap, ~1 s of CPU, i.e. ~650 MB per
    // 4 MiB request; 256 concurrent inbound streams are allowed per connection. Same with
    // StabilizeResponse.successors/fingers in answers and WirePeer.hints everywhere.
    // Fix: decode with limits like RING_REQUEST_LIMITS / RING_RESPONSE_LIMITS (inputs.ts).
    it.skip('decodes a hostile LEAVE frame into at most MAX_PEERS_PER_MESSAGE peers without limits being passed', () => {
      const frameBytes = lengthDelimited(5, repeat(EMPTY_PEER, 512 * 1024))
      const decoded = capture(() => RingRequest.decode(frameBytes)) as RingRequest
      expect(decoded.leave?.successors.length ?? 0).to.be.at.most(MAX_PEERS_PER_MESSAGE)
    })

    // BUG (memory amplification, directory): `decodeRequest`/`decodeResponse` in directory-service.ts
    // limit `gone`, `entries` and `holders` (10 000 each) but not the nested lists: one HANDOVER
    // entry may carry any number of holders (`entries$.holders`), each with any number of hints
    // (`holders$.hints`). Encoded as `22 <len> 12 00 12 00 …` a 1 MiB payload decodes into ~500 000
    // holders before `merge` keeps 16 of them.
    it.skip('decodes a HANDOVER entry with at most MAX_DIRECTORY_ITEMS holders', () => {
      const entry = lengthDelimited(4, repeat(Uint8Array.of(0x12, 0x00), MAX_DIRECTORY_ITEMS + 1))
      expect(capture(() => DirectoryRequest.decode(entry, { limits: { gone: MAX_DIRECTORY_ITEMS, entries: MAX_DIRECTORY_ITEMS } }))).to.have.property('name', 'MaxLengthError')
    })

    // BUG (minor, protons-runtime 7.1.2): skipping an unknown field of wire type 3 (start group)
    // recurses once per nested group (`Uint8ArrayReader.skipType`), so 10 000 bytes of `7b`
    // (field 15, start group) make every decoder throw `RangeError: Maximum call stack size
    // exceeded` rather than a decode error. It is caught (StreamRpc resets the stream, SimNetwork
    // and DirectoryService answer INVALID_MESSAGE), but the depth is the sender's to choose.
    it.skip('refuses deeply nested groups with a decode error, not a stack overflow', () => {
      const groups = new Uint8Array(10_000).fill(0x7b)
      for (const target of decoderTargets()) {
        expect(checkDecode(target, groups).problem, target.name).to.equal(undefined)
      }
    })
  })
})

function mutateAll (seed: Uint8Array, mutations: Mutation[]): Uint8Array {
  let bytes = seed
  for (const m of mutations) {
    bytes = mutate(bytes, m)
  }
  return bytes
}

function isValidWirePeer (wire: WirePeer): boolean {
  return wire.id.byteLength === ID_BYTES && wire.address.length > 0 && wire.address.length <= MAX_ADDRESS_LENGTH &&
    wire.hints.length <= MAX_HINTS && wire.hints.every(h => h.byteLength <= MAX_HINT_BYTES)
}

/** peersFromWire on a list of `length` well-formed peers */
function capturePeers (length: number, max: number): unknown {
  const list = Array.from({ length }, (_, i) => ({ id: idToBytes(BigInt(i)), address: `p${i}`, hints: [] }))
  return capture(() => peersFromWire(list, max))
}

function capture (fn: () => unknown): unknown {
  try {
    return fn()
  } catch (err) {
    return err
  }
}
