/**
 * What the fuzz tests and `scripts/fuzz.ts` feed the decoders and handlers:
 * fast-check arbitraries over every wire message (valid and half-valid
 * values alike), byte-level mutations of their encodings, and the rules
 * that sort a decoder's failure into expected ("a decode error") or not.
 *
 * The protons runtime reports malformed bytes with a plain `RangeError`
 * ("index out of range", from a length that runs past the end), a plain
 * `Error` ("invalid wire type", "Invalid enum value") or a `MaxLengthError`
 * (a repeated field over its limit). The protocol boundaries (`StreamRpc`,
 * `SimNetwork`, `DirectoryService`) turn any of those into
 * `InvalidMessageError`. Anything else escaping a decoder — a `TypeError`,
 * a stack overflow, another `RangeError` — is a finding.
 */
import fc from 'fast-check'
import { DirectoryRequest, DirectoryResponse } from '../../src/cdn/directory-messages.ts'
import { decodeDirectoryRequest, MAX_DIRECTORY_ITEMS } from '../../src/cdn/directory-wire.ts'
import { decodeEnvelope, encodeError, encodeOk } from '../../src/libp2p/response-envelope.ts'
import { decodeRingRequest, decodeRingResponse, RING_REQUEST_LIMITS, RING_RESPONSE_LIMITS } from '../../src/overlay/codec.ts'
import { RingRequest, RingResponse, WirePeer } from '../../src/overlay/messages.ts'
import { idToBytes } from '../../src/overlay/ring-id.ts'
import { MAX_PEERS_PER_MESSAGE } from '../../src/overlay/ring-node.ts'
import { MAX_HINT_BYTES, MAX_HINTS, MAX_ADDRESS_LENGTH, peerFromWire, peersFromWire } from '../../src/overlay/wire.ts'
import type { Peer } from '../../src/overlay/seams.ts'

// ---- error classes ---------------------------------------------------------

/**
 * - `decode`: the protons runtime refused malformed bytes
 * - `limit`: a repeated field went over the limit the caller passed
 * - `invalid`: our own `InvalidMessageError`
 * - `stack`: the call stack overflowed (attacker-controlled recursion depth)
 * - `unexpected`: anything else (a bug)
 */
export type ErrorClass = 'decode' | 'limit' | 'invalid' | 'stack' | 'unexpected'

const PROTONS_MESSAGES = /^(index out of range|invalid wire type|Invalid enum value|invalid varint encoding)/

export function classifyError (err: unknown): ErrorClass {
  const e = err as { name?: unknown, message?: unknown } | undefined
  const message = typeof e?.message === 'string' ? e.message : ''
  if (e?.name === 'InvalidMessageError') {
    return 'invalid'
  }
  if (e?.name === 'MaxLengthError') {
    return 'limit'
  }
  if (err instanceof RangeError && /Maximum call stack size exceeded/.test(message)) {
    return 'stack'
  }
  if ((err instanceof RangeError || (err instanceof Error && err.constructor === Error)) && PROTONS_MESSAGES.test(message)) {
    return 'decode'
  }
  return 'unexpected'
}

/** Short description of an error for reports */
export function describeError (err: unknown): string {
  const e = err as { name?: unknown, message?: unknown } | undefined
  return `${String(e?.name ?? typeof err)}: ${String(e?.message ?? err).slice(0, 160)}`
}

// ---- framing ---------------------------------------------------------------

/** Unsigned LEB128, the length prefix of every frame and protobuf length */
export function varint (n: number): Uint8Array {
  const bytes: number[] = []
  while (n >= 0x80) {
    bytes.push((n % 0x80) | 0x80)
    n = Math.floor(n / 0x80)
  }
  bytes.push(n)
  return Uint8Array.from(bytes)
}

export function concat (...parts: Uint8Array[]): Uint8Array<ArrayBuffer> {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.byteLength, 0))
  let at = 0
  for (const p of parts) {
    out.set(p, at)
    at += p.byteLength
  }
  return out
}

/** One length-prefixed frame */
export function frame (body: Uint8Array): Uint8Array<ArrayBuffer> {
  return concat(varint(body.byteLength), body)
}

/** A protobuf length-delimited field: tag (field, wire type 2), length, bytes */
export function lengthDelimited (field: number, body: Uint8Array): Uint8Array<ArrayBuffer> {
  return concat(varint((field << 3) | 2), varint(body.byteLength), body)
}

/** A protobuf varint field */
export function varintField (field: number, value: number): Uint8Array<ArrayBuffer> {
  return concat(varint(field << 3), varint(value))
}

/** `count` copies of `unit` back to back */
export function repeat (unit: Uint8Array, count: number): Uint8Array<ArrayBuffer> {
  const out = new Uint8Array(unit.byteLength * count)
  for (let i = 0; i < count; i++) {
    out.set(unit, i * unit.byteLength)
  }
  return out
}

// ---- mutations ---------------------------------------------------------------

export type MutationKind = 'truncate' | 'flip' | 'set' | 'insert' | 'delete' | 'duplicate' | 'splice' | 'lengthBomb'

/** One byte-level change; positions are taken modulo the input's length */
export interface Mutation {
  kind: MutationKind
  at: number
  n: number
  bytes: Uint8Array
}

export const MUTATION_KINDS: MutationKind[] = ['truncate', 'flip', 'set', 'insert', 'delete', 'duplicate', 'splice', 'lengthBomb']

export function mutate (input: Uint8Array, m: Mutation): Uint8Array<ArrayBuffer> {
  const len = input.byteLength
  const at = len === 0 ? 0 : m.at % (len + 1)
  const out = Uint8Array.from(input)
  switch (m.kind) {
    case 'truncate':
      return out.slice(0, len === 0 ? 0 : m.at % len)
    case 'flip':
      if (len > 0) {
        out[m.at % len] ^= 1 << (m.n % 8)
      }
      return out
    case 'set':
      if (len > 0) {
        out[m.at % len] = m.n & 0xff
      }
      return out
    case 'insert':
      return concat(input.subarray(0, at), m.bytes, input.subarray(at))
    case 'delete':
      return concat(input.subarray(0, at), input.subarray(Math.min(len, at + 1 + (m.n % 16))))
    case 'duplicate': {
      const piece = input.subarray(at, Math.min(len, at + 1 + (m.n % 64)))
      return concat(input.subarray(0, at), piece, piece, input.subarray(at))
    }
    case 'splice':
      // the tail of another encoding (or garbage) grafted on
      return concat(input.subarray(0, at), m.bytes)
    case 'lengthBomb':
      // a varint claiming a huge length where a length or tag might be read
      return concat(input.subarray(0, at), varint(0x7fff_fff0 - (m.n % 1024)), input.subarray(at))
    default:
      throw new Error(`unknown mutation ${String(m.kind satisfies never)}`)
  }
}

export const mutationArb: fc.Arbitrary<Mutation> = fc.record({
  kind: fc.constantFrom(...MUTATION_KINDS),
  at: fc.nat(),
  n: fc.nat(),
  bytes: fc.uint8Array({ maxLength: 24 })
})

// ---- message arbitraries -------------------------------------------------------

/**
 * Peers as they may arrive: mostly well-formed (the addresses given, or any
 * string), sometimes with an id of the wrong length, an empty or overlong
 * address, or too many or too large hints
 */
export function wirePeerArb (addresses: string[] = [], ids: bigint[] = []): fc.Arbitrary<WirePeer> {
  const address = fc.oneof(
    { weight: 4, arbitrary: addresses.length > 0 ? fc.constantFrom(...addresses) : fc.string({ minLength: 1, maxLength: 60 }) },
    { weight: 2, arbitrary: fc.string({ minLength: 1, maxLength: 60 }) },
    { weight: 1, arbitrary: fc.constantFrom('', 'x'.repeat(MAX_ADDRESS_LENGTH + 1)) }
  )
  const id = fc.oneof(
    { weight: 4, arbitrary: ids.length > 0 ? fc.constantFrom(...ids).map(idToBytes) : fc.uint8Array({ minLength: 32, maxLength: 32 }) },
    { weight: 3, arbitrary: fc.uint8Array({ minLength: 32, maxLength: 32 }) },
    { weight: 1, arbitrary: fc.uint8Array({ maxLength: 40 }) }
  )
  const hints = fc.oneof(
    { weight: 6, arbitrary: fc.constant<Array<Uint8Array<ArrayBuffer>>>([]) },
    { weight: 3, arbitrary: fc.array(fc.uint8Array({ maxLength: 40 }), { maxLength: MAX_HINTS }) },
    { weight: 1, arbitrary: fc.array(fc.uint8Array({ maxLength: MAX_HINT_BYTES + 2 }), { maxLength: MAX_HINTS + 2 }) }
  )
  return fc.record({ id, address, hints })
}

/** Ring keys: the members' ids and their neighbours, random positions, wrong lengths */
export function keyArb (ids: bigint[] = []): fc.Arbitrary<Uint8Array<ArrayBuffer>> {
  const near = ids.length > 0
    ? fc.tuple(fc.constantFrom(...ids), fc.integer({ min: -2, max: 2 })).map(([id, d]) => idToBytes(id + BigInt(d)))
    : fc.uint8Array({ minLength: 32, maxLength: 32 })
  return fc.oneof(
    { weight: 3, arbitrary: near },
    { weight: 3, arbitrary: fc.uint8Array({ minLength: 32, maxLength: 32 }) },
    { weight: 1, arbitrary: fc.uint8Array({ maxLength: 64 }) }
  )
}

const uint32Arb = fc.oneof(
  { weight: 3, arbitrary: fc.integer({ min: 0, max: 64 }) },
  { weight: 2, arbitrary: fc.integer({ min: 0, max: 20_000 }) },
  { weight: 1, arbitrary: fc.constantFrom(0, 1, 0x7fff_ffff, 0xffff_ffff) },
  { weight: 1, arbitrary: fc.nat({ max: 0xffff_ffff }) }
)

/** Lookup budgets: mostly ones a real lookup carries, sometimes too small to forward, sometimes absurd */
const budgetArb = fc.oneof(
  { weight: 4, arbitrary: fc.integer({ min: 500, max: 20_000 }) },
  { weight: 1, arbitrary: fc.integer({ min: 0, max: 64 }) },
  { weight: 1, arbitrary: fc.constantFrom(0, 0x7fff_ffff, 0xffff_ffff) }
)

const REQUEST_TYPES = [
  RingRequest.Type.UNKNOWN, RingRequest.Type.ROUTE, RingRequest.Type.STABILIZE, RingRequest.Type.LEAVE,
  RingRequest.Type.APP, RingRequest.Type.PROBE, RingRequest.Type.NUDGE
]

const DIRECTORY_TYPES = [DirectoryRequest.Type.UNKNOWN, DirectoryRequest.Type.LOCATE, DirectoryRequest.Type.ANNOUNCE, DirectoryRequest.Type.HANDOVER]

export interface UniverseInit {
  /** Addresses worth naming in peers (ring members, the fuzzer) */
  addresses?: string[]
  /** Ids worth naming (members' positions) */
  ids?: bigint[]
  /** Namespaces to choose from; the first is the right one */
  namespaces?: string[]
}

/** Arbitraries over every message of both protocols, tuned to a ring's members */
export function messageArbs (init: UniverseInit = {}): {
  wirePeer: fc.Arbitrary<WirePeer>
  directoryRequest: fc.Arbitrary<DirectoryRequest>
  directoryResponse: fc.Arbitrary<DirectoryResponse>
  appPayload: fc.Arbitrary<Uint8Array<ArrayBuffer>>
  ringRequest: fc.Arbitrary<RingRequest>
  ringResponse: fc.Arbitrary<RingResponse>
} {
  const addresses = init.addresses ?? []
  const ids = init.ids ?? []
  const namespaces = init.namespaces ?? ['']
  const peer = wirePeerArb(addresses, ids)
  const key = keyArb(ids)
  const peers = (max: number): fc.Arbitrary<WirePeer[]> => fc.oneof(
    { weight: 5, arbitrary: fc.array(peer, { maxLength: 8 }) },
    { weight: 1, arbitrary: fc.array(peer, { maxLength: max }) }
  )

  const directoryRequest: fc.Arbitrary<DirectoryRequest> = fc.record({
    type: fc.constantFrom(...DIRECTORY_TYPES),
    key,
    gone: fc.array(addresses.length > 0 ? fc.oneof(fc.constantFrom(...addresses), fc.string()) : fc.string(), { maxLength: 6 }),
    entries: fc.array(fc.record({ key, holders: fc.array(peer, { maxLength: 6 }) }), { maxLength: 4 }),
    holder: fc.option(peer, { nil: undefined })
  }, { requiredKeys: ['type', 'key', 'gone', 'entries'] })

  const directoryResponse: fc.Arbitrary<DirectoryResponse> = fc.record({ holders: fc.array(peer, { maxLength: 8 }) })

  const appPayload = fc.oneof(
    { weight: 3, arbitrary: directoryRequest.map(r => DirectoryRequest.encode(r)) },
    { weight: 1, arbitrary: fc.uint8Array({ maxLength: 64 }) }
  )

  const route = fc.record({
    key,
    hopsLeft: uint32Arb,
    budgetMs: budgetArb,
    hops: uint32Arb,
    final: fc.boolean(),
    maintenance: fc.boolean(),
    app: fc.option(appPayload, { nil: undefined }),
    avoid: fc.array(fc.string({ maxLength: 64 }), { maxLength: 8 })
  }, { requiredKeys: ['key', 'hopsLeft', 'budgetMs', 'hops', 'final', 'maintenance', 'avoid'] })

  const ringRequest: fc.Arbitrary<RingRequest> = fc.record({
    type: fc.constantFrom(...REQUEST_TYPES),
    namespace: fc.oneof(
      { weight: 8, arbitrary: fc.constant(namespaces[0]) },
      { weight: 1, arbitrary: fc.constantFrom(...namespaces) },
      { weight: 1, arbitrary: fc.string({ maxLength: 20 }) }
    ),
    route: fc.option(route, { nil: undefined, freq: 3 }),
    stabilize: fc.option(fc.record({ sender: fc.option(peer, { nil: undefined, freq: 6 }), wantFingers: fc.boolean() }, { requiredKeys: ['wantFingers'] }), { nil: undefined, freq: 3 }),
    leave: fc.option(fc.record({
      sender: fc.option(peer, { nil: undefined, freq: 6 }),
      predecessor: fc.option(peer, { nil: undefined }),
      successors: peers(MAX_PEERS_PER_MESSAGE + 2),
      app: fc.option(appPayload, { nil: undefined })
    }, { requiredKeys: ['successors'] }), { nil: undefined, freq: 3 }),
    app: fc.option(fc.record({ payload: appPayload }), { nil: undefined, freq: 3 })
  }, { requiredKeys: ['type', 'namespace'] })

  const ringResponse: fc.Arbitrary<RingResponse> = fc.record({
    error: fc.oneof(fc.integer({ min: 0, max: 7 }), uint32Arb),
    message: fc.string({ maxLength: 40 }),
    route: fc.option(fc.record({ owner: fc.option(peer, { nil: undefined, freq: 6 }), hops: uint32Arb, app: fc.option(fc.uint8Array({ maxLength: 40 }), { nil: undefined }) }, { requiredKeys: ['hops'] }), { nil: undefined }),
    stabilize: fc.option(fc.record({ predecessor: fc.option(peer, { nil: undefined }), successors: peers(MAX_PEERS_PER_MESSAGE + 2), fingers: peers(MAX_PEERS_PER_MESSAGE + 2) }, { requiredKeys: ['successors', 'fingers'] }), { nil: undefined }),
    app: fc.option(fc.uint8Array({ maxLength: 40 }), { nil: undefined })
  }, { requiredKeys: ['error', 'message'] })

  return { wirePeer: peer, directoryRequest, directoryResponse, appPayload, ringRequest, ringResponse }
}

// ---- decoder targets -------------------------------------------------------

// the production codec's limits (src/overlay/codec.ts), re-exported for the fuzz targets
export { RING_REQUEST_LIMITS, RING_RESPONSE_LIMITS }

export interface DecoderTarget {
  name: string
  /** Decodes (and, for the `…→peers` targets, converts) bytes; may throw */
  decode(bytes: Uint8Array): unknown
  /** Error classes this target may throw on bad bytes */
  allowed: ReadonlySet<ErrorClass>
  /** Valid encodings to start mutations from */
  seeds: fc.Arbitrary<Uint8Array>
}

const PROTONS: ReadonlySet<ErrorClass> = new Set(['decode', 'limit'])
const CONVERTED: ReadonlySet<ErrorClass> = new Set(['decode', 'limit', 'invalid'])
const ENVELOPE: ReadonlySet<ErrorClass> = new Set(['invalid'])
/** The codecs production decodes through turn every failure into InvalidMessageError */
const CODEC: ReadonlySet<ErrorClass> = new Set(['invalid'])

/** The client side of a ring answer: every peer in it goes through `wire.ts` */
function convertResponse (res: RingResponse): Peer[] {
  const out: Peer[] = []
  if (res.route != null) {
    out.push(peerFromWire(res.route.owner))
  }
  if (res.stabilize != null) {
    if (res.stabilize.predecessor != null) {
      out.push(peerFromWire(res.stabilize.predecessor))
    }
    out.push(...peersFromWire(res.stabilize.successors, MAX_PEERS_PER_MESSAGE))
    out.push(...peersFromWire(res.stabilize.fingers, MAX_PEERS_PER_MESSAGE))
  }
  return out
}

/** The serving side's conversions of a request's peers */
function convertRequest (req: RingRequest): Peer[] {
  const out: Peer[] = []
  if (req.stabilize != null) {
    out.push(peerFromWire(req.stabilize.sender))
  }
  if (req.leave != null) {
    out.push(peerFromWire(req.leave.sender))
    if (req.leave.predecessor != null) {
      out.push(peerFromWire(req.leave.predecessor))
    }
    out.push(...peersFromWire(req.leave.successors, MAX_PEERS_PER_MESSAGE))
  }
  return out
}

export function decoderTargets (init: UniverseInit = {}): DecoderTarget[] {
  const arbs = messageArbs(init)
  const ringRequests = arbs.ringRequest.map(r => RingRequest.encode(r))
  const ringResponses = arbs.ringResponse.map(r => RingResponse.encode(r))
  const directoryRequests = arbs.directoryRequest.map(r => DirectoryRequest.encode(r))
  const directoryResponses = arbs.directoryResponse.map(r => DirectoryResponse.encode(r))
  const envelopes = fc.oneof(
    ringResponses.map(b => encodeOk(b)),
    fc.tuple(fc.nat({ max: 0xffff_ffff }), fc.string({ maxLength: 600 })).map(([code, message]) => encodeError(code, message))
  )
  return [
    { name: 'RingRequest', decode: (b) => RingRequest.decode(b), allowed: PROTONS, seeds: ringRequests },
    { name: 'RingResponse', decode: (b) => RingResponse.decode(b), allowed: PROTONS, seeds: ringResponses },
    { name: 'RingRequest(limits)', decode: (b) => RingRequest.decode(b, { limits: RING_REQUEST_LIMITS }), allowed: PROTONS, seeds: ringRequests },
    { name: 'RingResponse(limits)', decode: (b) => RingResponse.decode(b, { limits: RING_RESPONSE_LIMITS }), allowed: PROTONS, seeds: ringResponses },
    { name: 'DirectoryRequest', decode: (b) => DirectoryRequest.decode(b, { limits: { gone: MAX_DIRECTORY_ITEMS, entries: MAX_DIRECTORY_ITEMS } }), allowed: PROTONS, seeds: directoryRequests },
    { name: 'DirectoryResponse', decode: (b) => DirectoryResponse.decode(b, { limits: { holders: MAX_DIRECTORY_ITEMS } }), allowed: PROTONS, seeds: directoryResponses },
    { name: 'WirePeer→peerFromWire', decode: (b) => peerFromWire(WirePeer.decode(b)), allowed: CONVERTED, seeds: arbs.wirePeer.map(p => WirePeer.encode(p)) },
    { name: 'RingRequest→peers', decode: (b) => convertRequest(RingRequest.decode(b)), allowed: CONVERTED, seeds: ringRequests },
    { name: 'RingResponse→peers', decode: (b) => convertResponse(RingResponse.decode(b)), allowed: CONVERTED, seeds: ringResponses },
    { name: 'envelope', decode: (b) => decodeEnvelope(b), allowed: ENVELOPE, seeds: envelopes },
    { name: 'codec:decodeRingRequest', decode: (b) => decodeRingRequest(b), allowed: CODEC, seeds: ringRequests },
    { name: 'codec:decodeRingResponse', decode: (b) => decodeRingResponse(b), allowed: CODEC, seeds: ringResponses },
    { name: 'codec:decodeDirectoryRequest', decode: (b) => decodeDirectoryRequest(b), allowed: CODEC, seeds: directoryRequests }
  ]
}

/**
 * Runs a decoder on bytes: `undefined` when it decoded or failed the
 * allowed way, otherwise a description of what went wrong
 */
export function checkDecode (target: DecoderTarget, bytes: Uint8Array): { outcome: 'ok' | ErrorClass, problem?: string } {
  try {
    target.decode(bytes)
    return { outcome: 'ok' }
  } catch (err) {
    const cls = classifyError(err)
    if (target.allowed.has(cls)) {
      return { outcome: cls }
    }
    return { outcome: cls, problem: describeError(err) }
  }
}

/** Hex for a report, shortened in the middle */
export function hex (bytes: Uint8Array, max: number = 96): string {
  const s = Buffer.from(bytes).toString('hex')
  return s.length <= max ? s : `${s.slice(0, max / 2)}…${s.slice(-max / 2)} (${bytes.byteLength} bytes)`
}
