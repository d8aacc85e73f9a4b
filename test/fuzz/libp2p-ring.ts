/**
 * Real libp2p for the stream fuzz tests and the long fuzz run: `@libp2p/memory`
 * nodes (test/libp2p/fixtures.ts), each serving a production `RingNode` (with
 * its `DirectoryService`) through `StreamRpc` on a fuzz protocol id, and an
 * outsider node that opens raw streams of that protocol and writes whatever
 * it is told to.
 */
import { DirectoryService } from '../../src/cdn/directory-service.ts'
import { nodeIdFromBytes } from '../../src/keys.ts'
import { decodeEnvelope } from '../../src/libp2p/response-envelope.ts'
import { createStreamRpc, libp2pComponents } from '../../src/libp2p/stream-rpc.ts'
import { mathRandom, wallClock } from '../../src/libp2p/wall-clock.ts'
import { RingRequest, RingResponse } from '../../src/overlay/messages.ts'
import { compareIds } from '../../src/overlay/ring-id.ts'
import { RingNode } from '../../src/overlay/ring-node.ts'
import { createNode, DIAL_TIMEOUT, waitFor } from '../libp2p/fixtures.ts'
import type { StreamRpc } from '../../src/libp2p/stream-rpc.ts'
import type { Peer } from '../../src/overlay/seams.ts'
import type { Libp2p, PeerId } from '@libp2p/interface'

export const FUZZ_PROTOCOL = '/ringcdn/fuzz/ring/1.0.0'
export const LIBP2P_NAMESPACE = 'ringcdn-fuzz'

/** Small, so that oversized frames stay cheap; real messages are far below it */
export const FUZZ_MAX_MESSAGE_BYTES = 64 * 1024

/** Bound on one raw exchange: by then the remote has answered or reset the stream */
export const RAW_EXCHANGE_TIMEOUT = 4_000

export interface Libp2pMember {
  node: Libp2p
  rpc: StreamRpc<RingRequest, RingResponse>
  ring: RingNode
  directory: DirectoryService
  peer: Peer
}

export interface Libp2pRing {
  members: Libp2pMember[]
  /** Not a member: only opens raw streams */
  outsider: Libp2p
  /** The member that owns `key` by the members' true ids */
  owner(key: bigint): Libp2pMember
  stop(): Promise<void>
}

/** `count` members in one ring, every one connected to the first, plus the outsider connected to all */
export async function createLibp2pRing (count: number = 2): Promise<Libp2pRing> {
  const nodes = await Promise.all(Array.from({ length: count + 1 }, async () => createNode('memory')))
  const outsider = nodes[count]
  const members: Libp2pMember[] = nodes.slice(0, count).map(node => {
    const rpc = createStreamRpc<RingRequest, RingResponse>(libp2pComponents(node), {
      protocol: FUZZ_PROTOCOL,
      encodeRequest: (req) => RingRequest.encode(req),
      decodeRequest: (bytes) => RingRequest.decode(bytes),
      encodeResponse: (res) => RingResponse.encode(res),
      decodeResponse: (bytes) => RingResponse.decode(bytes),
      maxMessageBytes: FUZZ_MAX_MESSAGE_BYTES,
      handlerTimeout: 3_000,
      closeTimeout: 1_000
    })
    const peer: Peer = { id: nodeIdFromBytes(node.peerId.toMultihash().bytes), address: node.peerId.toString() }
    const ring = new RingNode({ clock: wallClock, random: mathRandom, rpc }, { self: peer, namespace: LIBP2P_NAMESPACE })
    const directory = new DirectoryService({ ring, random: mathRandom })
    return { node, rpc, ring, directory, peer }
  })

  const stop = async (): Promise<void> => {
    for (const m of members) {
      m.ring.stop()
    }
    await Promise.all(members.map(async m => m.rpc.stop()))
    await Promise.all(nodes.map(async n => n.stop()))
  }

  try {
    await Promise.all(members.map(async m => m.rpc.start()))
    for (const m of members.slice(1)) {
      await m.node.dial(members[0].node.getMultiaddrs(), { signal: AbortSignal.timeout(DIAL_TIMEOUT) })
      await waitFor(() => members[0].node.getConnections(m.node.peerId).length > 0, DIAL_TIMEOUT, 'the first member to see the connection')
    }
    for (const m of members) {
      await outsider.dial(m.node.getMultiaddrs(), { signal: AbortSignal.timeout(DIAL_TIMEOUT) })
      await waitFor(() => m.node.getConnections(outsider.peerId).length > 0, DIAL_TIMEOUT, 'a member to see the outsider')
    }
    members[0].ring.create()
    for (const m of members.slice(1)) {
      await m.ring.join([members[0].peer.address], { signal: AbortSignal.timeout(10_000) })
    }
    // one stabilize round everywhere, so that every member knows its predecessor and successor
    for (let round = 0; round < 2; round++) {
      for (const m of members) {
        await m.ring.stabilize()
      }
    }
  } catch (err) {
    await stop()
    throw err
  }

  const sorted = [...members].sort((a, b) => compareIds(a.peer.id, b.peer.id))
  return {
    members,
    outsider,
    owner: (key) => sorted.find(m => m.peer.id >= key) ?? sorted[0],
    stop
  }
}

/**
 * What came back on a raw stream:
 * - `reset`: the remote reset the stream without answering
 * - `answer`: one response frame; `code` is the envelope's error code or the RingResponse's `error`
 * - `garbled`: bytes that are not one well-formed response frame
 * - `closed`: the remote closed without a word
 * - `hung`: neither within RAW_EXCHANGE_TIMEOUT
 */
export type RawStreamOutcome =
  | { kind: 'reset' }
  | { kind: 'answer', code: number, res?: RingResponse }
  | { kind: 'garbled', bytes: number }
  | { kind: 'closed' }
  | { kind: 'hung' }

/**
 * Opens a stream of the fuzz protocol from `from` to `to`, writes `chunks` as
 * they are, optionally half-closes, and reads until the remote closes or
 * resets the stream
 */
export async function exchangeRaw (from: Libp2p, to: PeerId, chunks: Uint8Array[], options: { close?: boolean, timeout?: number } = {}): Promise<RawStreamOutcome> {
  const signal = AbortSignal.timeout(options.timeout ?? RAW_EXCHANGE_TIMEOUT)
  const stream = await from.dialProtocol(to, FUZZ_PROTOCOL, { signal })
  let hung = false
  const onAbort = (): void => {
    hung = true
    stream.abort(new Error('raw exchange timed out'))
  }
  signal.addEventListener('abort', onAbort, { once: true })

  const received: Uint8Array[] = []
  try {
    for (const chunk of chunks) {
      if (!stream.send(chunk)) {
        await stream.onDrain({ signal })
      }
    }
    if (options.close !== false) {
      await stream.close({ signal })
    }
    for await (const buf of stream) {
      received.push(buf.subarray())
    }
    if (stream.status === 'open') {
      await new Promise<void>(resolve => {
        stream.addEventListener('close', () => { resolve() }, { once: true })
      })
    }
  } catch {
    // a reset surfaces here; the status tells what happened
  } finally {
    signal.removeEventListener('abort', onAbort)
  }

  if (hung) {
    return { kind: 'hung' }
  }
  const bytes = Buffer.concat(received)
  if (bytes.byteLength === 0) {
    if (stream.status === 'reset' || stream.status === 'aborted') {
      return { kind: 'reset' }
    }
    return { kind: 'closed' }
  }
  return parseResponseFrame(bytes)
}

function parseResponseFrame (bytes: Uint8Array): RawStreamOutcome {
  let length = 0
  let shift = 0
  let at = 0
  while (at < bytes.byteLength && at < 10) {
    const b = bytes[at++]
    length += (b & 0x7f) * 2 ** shift
    shift += 7
    if (b < 0x80) {
      break
    }
  }
  if (at + length !== bytes.byteLength) {
    return { kind: 'garbled', bytes: bytes.byteLength }
  }
  try {
    const envelope = decodeEnvelope(bytes.subarray(at))
    if (!envelope.ok) {
      return { kind: 'answer', code: envelope.code }
    }
    const res = RingResponse.decode(envelope.body)
    return { kind: 'answer', code: res.error, res }
  } catch {
    return { kind: 'garbled', bytes: bytes.byteLength }
  }
}

/** Streams of the fuzz protocol still open on any connection of `node` */
export function openFuzzStreams (node: Libp2p): number {
  return node.getConnections()
    .flatMap(conn => conn.streams)
    .filter(stream => stream.protocol === FUZZ_PROTOCOL)
    .length
}
