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
import { decodeDirectoryRequest, MAX_DIRECTORY_ITEMS } from '../../src/cdn/directory-wire.ts'
import { decodeEnvelope, encodeError, encodeOk, MAX_ERROR_MESSAGE_BYTES } from '../../src/libp2p/response-envelope.ts'
import { MAX_MESSAGE_BYTES } from '../../src/libp2p/stream-rpc.ts'
import { decodeRingRequest, decodeRingResponse } from '../../src/overlay/codec.ts'
import { RingRequest, RingResponse, WirePeer } from '../../src/overlay/messages.ts'
import { ID_BYTES, idToBytes, RING_SIZE } from '../../src/overlay/ring-id.ts'
import { MAX_PEERS_PER_MESSAGE } from '../../src/overlay/ring-node.ts'
import { MAX_ADDRESS_LENGTH, MAX_HINT_BYTES, MAX_HINTS, peerFromWire, peersFromWire, peerToWire } from '../../src/overlay/wire.ts'
import {
  checkDecode, classifyError, concat, decoderTargets, hex, lengthDelimited, messageArbs, mutate, mutationArb,
  repeat, RING_REQUEST_LIMITS, RING_RESPONSE_LIMITS, varint, wirePeerArb
} from './inputs.ts'
import type { DecoderTarget, Mutation } from './inputs.ts'

/** Runs per property; CI-sized (the long run is `npm run fuzz`) */
const RUNS = 400

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
      // how long such frames take is measured by `npm run fuzz` (it reports slow decodes), not
      // asserted here: wall-clock bounds fail on a busy machine for reasons unrelated to the code
      it(`${target.name} decodes or refuses MAX_MESSAGE_BYTES of hostile input`, function () {
        this.timeout(60_000)
        for (const [, bytes] of big) {
          expectDecodes(target, bytes)
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

    // A frame of empty peers would decode into millions of objects (a 4 MiB LEAVE: ~2 M peers,
    // ~650 MB of heap) if the ring's codec did not cap every repeated field
    it('refuses a hostile LEAVE frame of half a million empty peers with InvalidMessageError', () => {
      const frameBytes = lengthDelimited(5, repeat(EMPTY_PEER, 512 * 1024))
      expect(capture(() => decodeRingRequest(frameBytes))).to.have.property('name', 'InvalidMessageError')
    })

    it('accepts a LEAVE frame with exactly MAX_PEERS_PER_MESSAGE successors', () => {
      const peer = WirePeer.encode({ id: new Uint8Array(32), address: 'p', hints: [] })
      const leave = RingRequest.encode({ type: RingRequest.Type.LEAVE, namespace: '', leave: { sender: WirePeer.decode(peer), successors: Array.from({ length: MAX_PEERS_PER_MESSAGE }, () => WirePeer.decode(peer)) } })
      expect((decodeRingRequest(leave)).leave?.successors).to.have.length(MAX_PEERS_PER_MESSAGE)
    })

    it('refuses a HANDOVER entry with more holders than a key keeps, with InvalidMessageError', () => {
      const entry = lengthDelimited(4, repeat(Uint8Array.of(0x12, 0x00), MAX_DIRECTORY_ITEMS + 1))
      expect(capture(() => decodeDirectoryRequest(entry))).to.have.property('name', 'InvalidMessageError')
    })

    // protons-runtime skips an unknown start-group field recursively, so deep nesting overflows the
    // stack inside the generated decoder; the codec must still turn that into the named error
    it('turns deeply nested groups into InvalidMessageError, not a bare RangeError', () => {
      const groups = new Uint8Array(10_000).fill(0x7b)
      expect(capture(() => decodeRingRequest(groups))).to.have.property('name', 'InvalidMessageError')
      expect(capture(() => decodeRingResponse(groups))).to.have.property('name', 'InvalidMessageError')
      expect(capture(() => decodeDirectoryRequest(groups))).to.have.property('name', 'InvalidMessageError')
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
