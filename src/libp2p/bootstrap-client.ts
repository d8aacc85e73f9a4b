/**
 * The page's side of the bootstrap protocol (`/ringcdn/bootstrap/1.0.0`): ask
 * a relay for ring members of a namespace to join through, or learn that
 * this node should found the ring; and register as a member once joined.
 *
 * One request and one response per stream, each a length-prefixed protobuf
 * frame (`bootstrap.proto`). The stream may run over a limited (relayed)
 * connection: the messages are small signalling.
 */
import { UnsupportedProtocolError } from '@libp2p/interface'
import { peerIdFromMultihash } from '@libp2p/peer-id'
import { lpStream } from '@libp2p/utils'
import { multiaddr } from '@multiformats/multiaddr'
import { sha256 } from '@noble/hashes/sha2.js'
import * as Digest from 'multiformats/hashes/digest'
import { AbortError, InvalidMessageError, RpcTimeoutError } from '../overlay/errors.ts'
import { BootstrapRequest, BootstrapResponse } from './bootstrap-messages.ts'
import type { Connection, Stream } from '@libp2p/interface'
import type { Multiaddr } from '@multiformats/multiaddr'

/** The protocol id */
export const BOOTSTRAP_PROTOCOL = '/ringcdn/bootstrap/1.0.0'
/** Largest request frame, bytes (8 addresses of at most 512 bytes and a namespace fit easily) */
export const MAX_BOOTSTRAP_REQUEST_BYTES = 8_192
/** Largest response frame, bytes (32 members with their addresses) */
export const MAX_BOOTSTRAP_RESPONSE_BYTES = 262_144
/** Longest namespace, UTF-8 bytes */
export const MAX_NAMESPACE_BYTES = 256
/** Addresses a request may carry */
export const MAX_BOOTSTRAP_ADDRS = 8
/** Longest address, bytes */
export const MAX_ADDR_BYTES = 512
/** Members a response may carry */
export const MAX_BOOTSTRAP_MEMBERS = 32
/** Deadline of one bootstrap request, ms */
export const BOOTSTRAP_TIMEOUT_MS = 5_000

/** The relay refused the request (invalid, or over its limits); `status` says which */
export class BootstrapRefusedError extends Error {
  static name = 'BootstrapRefusedError'
  name = 'BootstrapRefusedError'
  readonly status: BootstrapResponse.Status

  constructor (message: string, status: BootstrapResponse.Status) {
    super(message)
    this.status = status
  }
}

/** The remote does not speak the bootstrap protocol (it may be a ring member itself) */
export class BootstrapUnsupportedError extends Error {
  static name = 'BootstrapUnsupportedError'
  name = 'BootstrapUnsupportedError'
}

/** A ring member as a relay listed it */
export interface BootstrapMember {
  /** Peer id string */
  peer: string
  addrs: Multiaddr[]
}

/** What a relay answered */
export type BootstrapAnswer =
  | { type: 'found' }
  | { type: 'members', members: BootstrapMember[], registered: boolean }
  /** Another page was told to found the ring and has not registered yet: ask again shortly */
  | { type: 'wait' }

export interface BootstrapQuery {
  namespace: string
  /** This node's dialable multiaddrs (at most 8 are sent) */
  addrs: Multiaddr[]
  /** This node is a ring member: ask to be listed */
  member: boolean
  /** Members wanted; 0 = the relay's default */
  limit?: number
}

export interface BootstrapQueryOptions {
  signal?: AbortSignal
  /** @default BOOTSTRAP_TIMEOUT_MS (5 s) */
  timeout?: number
}

/**
 * The multiaddrs worth registering: ones another page can open an unlimited
 * connection to (WebRTC through a relay, or a direct listener). A plain
 * `/p2p-circuit` address only gives a limited connection, which ring
 * messages may not use.
 */
export function dialableAddrs (addrs: Multiaddr[]): Multiaddr[] {
  return addrs
    .filter(ma => {
      const names = ma.getComponents().map(c => c.name)
      return names.includes('webrtc') || !names.includes('p2p-circuit')
    })
    .filter(ma => ma.bytes.byteLength <= MAX_ADDR_BYTES)
    .slice(0, MAX_BOOTSTRAP_ADDRS)
}

/** Protobuf wire types of the request's fields: 0 varint, 2 length-delimited */
const REQUEST_WIRE_TYPES: Record<number, number> = { 1: 2, 2: 2, 3: 0, 4: 0 }
/** ...and of the response's */
const RESPONSE_WIRE_TYPES: Record<number, number> = { 1: 0, 2: 2, 3: 0, 4: 2 }

/**
 * Checks that every known field of a frame has its declared wire type. The
 * generated decoders read a field by its number alone, so a frame of another
 * message type (or garbage that happens to parse) would otherwise decode into
 * nonsense values instead of failing.
 *
 * @throws {InvalidMessageError}
 */
export function checkWireTypes (bytes: Uint8Array, expected: Record<number, number>): void {
  let pos = 0
  const varint = (): number => {
    let value = 0
    for (let shift = 0; shift < 64; shift += 7) {
      if (pos >= bytes.byteLength) {
        throw new InvalidMessageError('truncated varint')
      }
      const byte = bytes[pos++]
      // values past 2^53 lose precision, which only matters for lengths: those fail the bounds check below
      value += (byte & 0x7f) * 2 ** shift
      if ((byte & 0x80) === 0) {
        return value
      }
    }
    throw new InvalidMessageError('varint longer than 10 bytes')
  }
  while (pos < bytes.byteLength) {
    const tag = varint()
    const field = Math.floor(tag / 8)
    const wireType = tag % 8
    if (field === 0) {
      throw new InvalidMessageError('field number 0')
    }
    if (expected[field] != null && expected[field] !== wireType) {
      throw new InvalidMessageError(`field ${field} has wire type ${wireType}, expected ${expected[field]}`)
    }
    switch (wireType) {
      case 0: varint(); break
      case 1: pos += 8; break
      case 2: {
        // not `pos += varint()`: that adds to the position before the length was read
        const length = varint()
        pos += length
        break
      }
      case 5: pos += 4; break
      default: throw new InvalidMessageError(`unsupported wire type ${wireType}`)
    }
    if (pos > bytes.byteLength) {
      throw new InvalidMessageError('field runs past the end of the frame')
    }
  }
}

/**
 * Decodes and checks a request frame: field types, at most
 * MAX_BOOTSTRAP_ADDRS addresses, a namespace of 1 to MAX_NAMESPACE_BYTES bytes
 * of text without control characters
 *
 * @throws {InvalidMessageError}
 */
export function decodeBootstrapRequest (bytes: Uint8Array): BootstrapRequest {
  let req: BootstrapRequest
  try {
    checkWireTypes(bytes, REQUEST_WIRE_TYPES)
    req = BootstrapRequest.decode(bytes, { limits: { addrs: MAX_BOOTSTRAP_ADDRS } })
  } catch (err: any) {
    throw new InvalidMessageError(`undecodable request - ${err.message}`, { cause: err })
  }
  checkNamespace(req.namespace)
  return req
}

function checkNamespace (namespace: string): void {
  const bytes = new TextEncoder().encode(namespace).byteLength
  if (bytes === 0 || bytes > MAX_NAMESPACE_BYTES) {
    throw new InvalidMessageError(`a namespace must have 1 to ${MAX_NAMESPACE_BYTES} bytes, got ${bytes}`)
  }
  // eslint-disable-next-line no-control-regex
  if (/[\u0000-\u001f\u007f\ufffd]/.test(namespace)) {
    throw new InvalidMessageError('a namespace is text without control characters')
  }
}

/** Encodes a request, refusing one the relay would refuse */
export function encodeBootstrapRequest (query: BootstrapQuery): Uint8Array {
  checkNamespace(query.namespace)
  return BootstrapRequest.encode({
    namespace: query.namespace,
    addrs: dialableAddrs(query.addrs).map(ma => ma.bytes as Uint8Array<ArrayBuffer>),
    member: query.member,
    limit: query.limit ?? 0
  })
}

/** Decodes and checks a response frame */
export function decodeBootstrapResponse (bytes: Uint8Array): BootstrapAnswer {
  let res: BootstrapResponse
  try {
    checkWireTypes(bytes, RESPONSE_WIRE_TYPES)
    res = BootstrapResponse.decode(bytes, { limits: { members: MAX_BOOTSTRAP_MEMBERS, members$: { addrs: MAX_BOOTSTRAP_ADDRS } } })
  } catch (err: any) {
    throw new InvalidMessageError(`undecodable bootstrap response - ${err.message}`, { cause: err })
  }
  switch (res.status) {
    case BootstrapResponse.Status.FOUND:
      return { type: 'found' }
    case BootstrapResponse.Status.OK:
      return { type: 'members', members: res.members.map(toMember), registered: res.registered }
    case BootstrapResponse.Status.WAIT:
      return { type: 'wait' }
    case BootstrapResponse.Status.INVALID_REQUEST:
    case BootstrapResponse.Status.UNAVAILABLE: {
      const message = res.message.slice(0, 512)
      const hint = refusalHint(message)
      throw new BootstrapRefusedError(`the relay refused: ${message}${hint == null ? '' : ` - ${hint}`}`, res.status)
    }
    default:
      throw new InvalidMessageError(`bootstrap response with status ${String(res.status)}`)
  }
}

/**
 * What a user can change for each refusal the relay names (its message
 * starts with the refusal code, `relay/members.ts`); undefined for the ones
 * only time or the relay's operator can fix
 */
export function refusalHint (message: string): string | undefined {
  const code = message.split(':', 1)[0]
  switch (code) {
    case 'namespace-not-served':
      return 'set the `namespace` option (of ringCdn() / createRingCdn(), by default the page\'s origin) to one this relay serves, or add it to the relay\'s --namespace list (RINGCDN_RELAY_NAMESPACES, `members.namespaces` in createRelay())'
    case 'namespaces-full':
      return 'the relay is at its --max-namespaces limit (RINGCDN_RELAY_MAX_NAMESPACES); raise it or use another relay (the `relay` / `bootstrap` option)'
    case 'peer-namespaces':
    case 'ip-namespaces':
      return 'this node (or its IP address) is listed in too many namespaces on this relay; join fewer rings, or raise the relay\'s --max-namespaces-per-peer / --max-namespaces-per-ip'
    default:
      return undefined
  }
}

function toMember (wire: { peer: Uint8Array, addrs: Uint8Array[] }): BootstrapMember {
  let peer: string
  try {
    peer = peerIdFromMultihash(Digest.decode(wire.peer)).toString()
  } catch (err: any) {
    throw new InvalidMessageError(`bootstrap response lists an invalid peer id - ${err.message}`, { cause: err })
  }
  const addrs: Multiaddr[] = []
  for (const bytes of wire.addrs) {
    try {
      addrs.push(multiaddr(bytes))
    } catch {
      // another page's addresses are opaque hints: a bad one costs nothing
    }
  }
  return { peer, addrs }
}

/**
 * Asks the relay at the other end of `connection`
 *
 * @throws {BootstrapUnsupportedError} the remote does not speak the protocol
 * @throws {BootstrapRefusedError} the relay refused the request
 * @throws {InvalidMessageError} the answer was malformed
 * @throws {RpcTimeoutError} no answer in time
 * @throws {AbortError}
 */
export async function queryBootstrap (connection: Connection, query: BootstrapQuery, options: BootstrapQueryOptions = {}): Promise<BootstrapAnswer> {
  const request = encodeBootstrapRequest(query)
  const timeout = options.timeout ?? BOOTSTRAP_TIMEOUT_MS
  const deadline = AbortSignal.timeout(timeout)
  const signal = options.signal == null ? deadline : AbortSignal.any([options.signal, deadline])
  let stream: Stream | undefined
  try {
    try {
      stream = await connection.newStream(BOOTSTRAP_PROTOCOL, { signal, runOnLimitedConnection: true })
    } catch (err: any) {
      if (err.name === UnsupportedProtocolError.name) {
        throw new BootstrapUnsupportedError(`${connection.remotePeer.toString()} does not speak ${BOOTSTRAP_PROTOCOL}`, { cause: err })
      }
      throw err
    }
    const lp = lpStream(stream, { maxDataLength: MAX_BOOTSTRAP_RESPONSE_BYTES })
    await lp.write(request, { signal })
    await stream.close({ signal })
    const frame = (await lp.read({ signal })).subarray()
    return decodeBootstrapResponse(frame)
  } catch (err: any) {
    stream?.abort(err)
    if (options.signal?.aborted === true) {
      throw new AbortError()
    }
    if (err instanceof BootstrapRefusedError || err instanceof BootstrapUnsupportedError || err instanceof InvalidMessageError) {
      throw err
    }
    if (deadline.aborted) {
      throw new RpcTimeoutError(`no bootstrap answer from ${connection.remotePeer.toString()} within ${timeout}ms`, { cause: err })
    }
    if (err?.name === 'InvalidDataLengthError' || err?.name === 'InvalidDataLengthLengthError') {
      throw new InvalidMessageError(`invalid bootstrap response frame - ${err.message}`, { cause: err })
    }
    throw err
  }
}

/** Rendezvous weight of a relay for a page: the page prefers relays of higher weight */
export function relayWeight (self: string, relay: string): bigint {
  const digest = sha256(new TextEncoder().encode(`${self}\n${relay}`))
  let n = 0n
  for (const byte of digest.subarray(0, 8)) {
    n = (n << 8n) | BigInt(byte)
  }
  return n
}

/**
 * The order a page tries its relays in: highest rendezvous weight of (page,
 * relay) first, the relay named by its `/p2p/` id (or its address without
 * one)
 */
export function relayOrder<T extends Multiaddr> (self: string, relays: T[]): T[] {
  const key = (ma: Multiaddr): string => ma.getComponents().findLast(c => c.name === 'p2p')?.value ?? ma.toString()
  return relays
    .map(ma => ({ ma, weight: relayWeight(self, key(ma)) }))
    .sort((a, b) => Number(b.weight > a.weight) - Number(a.weight > b.weight))
    .map(({ ma }) => ma)
}

/** The relays a node's addresses say it holds a reservation on */
export function reservationRelays (addrs: Multiaddr[]): string[] {
  const out = new Set<string>()
  for (const ma of addrs) {
    const components = ma.getComponents()
    const at = components.findIndex(c => c.name === 'p2p-circuit')
    const relay = at > 0 ? components[at - 1] : undefined
    if (relay?.name === 'p2p' && relay.value != null) {
      out.add(relay.value)
    }
  }
  return [...out]
}
