/**
 * Real libp2p nodes in process for the stream RPC tests: `@libp2p/memory` or
 * TCP on 127.0.0.1, noise + yamux, nothing else.
 */
import { noise } from '@chainsafe/libp2p-noise'
import { yamux } from '@chainsafe/libp2p-yamux'
import { generateKeyPair } from '@libp2p/crypto/keys'
import { memory } from '@libp2p/memory'
import { peerIdFromPrivateKey } from '@libp2p/peer-id'
import { tcp } from '@libp2p/tcp'
import { createLibp2p } from 'libp2p'
import { StreamRpc, libp2pComponents } from '../../src/libp2p/stream-rpc.ts'
import { AppRequest } from '../../src/overlay/messages.ts'
import type { StreamRpcInit } from '../../src/libp2p/stream-rpc.ts'
import type { Address } from '../../src/overlay/seams.ts'
import type { EchoMessage } from '../seams/rpc-compliance.ts'
import type { Libp2p } from '@libp2p/interface'

export type TransportName = 'memory' | 'tcp'

export const ECHO_PROTOCOL = '/ringcdn/test-echo/1.0.0'

/** Bound on connecting two test nodes */
export const DIAL_TIMEOUT = 5_000

let memoryAddresses = 0

export async function createNode (transport: TransportName): Promise<Libp2p> {
  return createLibp2p({
    addresses: {
      listen: [transport === 'memory' ? `/memory/stream-rpc-${process.pid}-${memoryAddresses++}` : '/ip4/127.0.0.1/tcp/0']
    },
    transports: [transport === 'memory' ? memory() : tcp()],
    connectionEncrypters: [noise()],
    streamMuxers: [yamux()],
    // its pings on a busy event loop only add noise to these tests
    connectionMonitor: { enabled: false }
  })
}

export const echoCodec: Pick<StreamRpcInit<EchoMessage, EchoMessage>, 'encodeRequest' | 'decodeRequest' | 'encodeResponse' | 'decodeResponse'> = {
  // the generated codec wants ArrayBuffer-backed payloads; the suite's are any Uint8Array
  encodeRequest: (req) => AppRequest.encode(req as AppRequest),
  decodeRequest: (bytes) => AppRequest.decode(bytes),
  encodeResponse: (res) => AppRequest.encode(res as AppRequest),
  decodeResponse: (bytes) => AppRequest.decode(bytes)
}

export function createEchoRpc (node: Libp2p, init: Partial<StreamRpcInit<EchoMessage, EchoMessage>> = {}): StreamRpc<EchoMessage, EchoMessage> {
  return new StreamRpc(libp2pComponents(node), {
    protocol: ECHO_PROTOCOL,
    ...echoCodec,
    ...init
  })
}

/** A valid peer id that is on no network */
export async function nowhere (): Promise<Address> {
  return peerIdFromPrivateKey(await generateKeyPair('Ed25519')).toString()
}

/**
 * Two nodes, `a` connected to `b`, each with a started echo RPC
 */
export interface Pair {
  nodeA: Libp2p
  nodeB: Libp2p
  a: StreamRpc<EchoMessage, EchoMessage>
  b: StreamRpc<EchoMessage, EchoMessage>
  addressA: Address
  addressB: Address
  stop(): Promise<void>
}

export async function createPair (transport: TransportName, init: Partial<StreamRpcInit<EchoMessage, EchoMessage>> = {}, options: { connect?: boolean } = {}): Promise<Pair> {
  const [nodeA, nodeB] = await Promise.all([createNode(transport), createNode(transport)])
  const a = createEchoRpc(nodeA, init)
  const b = createEchoRpc(nodeB, init)

  const stop = async (): Promise<void> => {
    await Promise.all([a.stop(), b.stop()])
    await Promise.all([nodeA.stop(), nodeB.stop()])
  }

  try {
    await Promise.all([a.start(), b.start()])
    if (options.connect !== false) {
      await nodeA.dial(nodeB.getMultiaddrs(), { signal: AbortSignal.timeout(DIAL_TIMEOUT) })
      // the dial resolves before the listener has finished its side of the
      // upgrade; b can only answer back once it holds the connection too
      // (it knows no address of a)
      await waitFor(() => nodeB.getConnections(nodeA.peerId).length > 0, DIAL_TIMEOUT, 'b to see the connection')
    }
  } catch (err) {
    await stop()
    throw err
  }

  return {
    nodeA,
    nodeB,
    a,
    b,
    addressA: nodeA.peerId.toString(),
    addressB: nodeB.peerId.toString(),
    stop
  }
}

/**
 * Polls `condition` until it holds, failing after `timeout` ms
 */
export async function waitFor (condition: () => boolean, timeout: number, what: string): Promise<void> {
  const end = Date.now() + timeout
  while (!condition()) {
    if (Date.now() > end) {
      throw new Error(`timed out after ${timeout}ms waiting for ${what}`)
    }
    await new Promise(resolve => setTimeout(resolve, 10))
  }
}

/** Streams of `protocol` still open on any connection of `node` */
export function openStreams (node: Libp2p, protocol: string = ECHO_PROTOCOL): number {
  return node.getConnections()
    .flatMap(conn => conn.streams)
    .filter(stream => stream.protocol === protocol)
    .length
}
