import { createServer, connect as tcpConnect } from 'node:net'
import { multiaddr } from '@multiformats/multiaddr'
import { expect } from 'aegir/chai'
import { ErrorCode, HopLimitError } from '../../src/overlay/errors.ts'
import { rpcComplianceSuite } from '../seams/rpc-compliance.ts'
import { DIAL_TIMEOUT, ECHO_PROTOCOL, createEchoRpc, createNode, createPair, nowhere, openStreams, waitFor } from './fixtures.ts'
import type { Pair, TransportName } from './fixtures.ts'
import type { EchoMessage } from '../seams/rpc-compliance.ts'
import type { Libp2p } from '@libp2p/interface'
import type { Server } from 'node:net'

/** Small enough that the oversized case stays quick over real sockets */
const TCP_MAX_MESSAGE_BYTES = 64 * 1024

for (const [transport, maxMessageBytes] of [['memory', 4 * 1024 * 1024], ['tcp', TCP_MAX_MESSAGE_BYTES]] as const) {
  rpcComplianceSuite({
    name: `libp2p streams over ${transport}`,
    async setup () {
      // the suite's concurrency case sends 100 requests from one peer at once: the per-peer share
      // (its own test below) is policy, set above that here
      const pair = await createPair(transport, { maxMessageBytes, maxRequestsPerPeer: 128 })
      return {
        a: pair.a,
        b: pair.b,
        addressA: pair.addressA,
        addressB: pair.addressB,
        nowhere: await nowhere(),
        drive: async <T>(p: Promise<T>) => p,
        maxMessageBytes,
        stop: pair.stop
      }
    }
  })
}

async function settle <T> (p: Promise<T>): Promise<{ value?: T, error?: any }> {
  try {
    return { value: await p }
  } catch (error) {
    return { error }
  }
}

const one = (n: number): EchoMessage => ({ payload: Uint8Array.of(n) })

describe('StreamRpc', function () {
  const transport: TransportName = 'memory'
  let pair: Pair | undefined
  const extra: Libp2p[] = []
  const extraRpcs: Array<{ stop(): Promise<void> }> = []

  afterEach(async () => {
    await Promise.all(extraRpcs.splice(0).map(async rpc => rpc.stop()))
    await pair?.stop()
    pair = undefined
    await Promise.all(extra.splice(0).map(async node => node.stop()))
  })

  it('reuses one connection for every request and leaves no stream open on either side', async () => {
    pair = await createPair(transport)
    pair.b.handle(async (_from, req) => req)

    for (let i = 0; i < 20; i++) {
      await pair.a.request(pair.addressB, one(i), { timeout: 5_000 })
    }
    await Promise.all(Array.from({ length: 50 }, async (_, i) => pair?.a.request(pair.addressB, one(i), { timeout: 5_000 })))

    expect(pair.nodeA.getConnections(pair.nodeB.peerId)).to.have.lengthOf(1)
    const { nodeA, nodeB } = pair
    await waitFor(() => openStreams(nodeA) === 0 && openStreams(nodeB) === 0, 2_000, 'streams to close')
  })

  it('serves one peer at most maxRequestsPerPeer requests at once, answers the rest busy unread, and still serves other peers', async () => {
    pair = await createPair(transport, { maxRequestsPerPeer: 4 })
    const held: Array<() => void> = []
    pair.b.handle(async (_from, req) => new Promise<EchoMessage>(resolve => { held.push(() => { resolve(req) }) }))

    const flood = Array.from({ length: 10 }, async (_, i) => settle(pair?.a.request(pair.addressB, one(i), { timeout: 10_000 }) ?? Promise.reject(new Error('no pair'))))
    await waitFor(() => held.length === 4, 5_000, 'four handlers to run')
    // a third node is served while the first is at its share
    const other = await createNode(transport)
    extra.push(other)
    const otherRpc = createEchoRpc(other)
    await otherRpc.start()
    await other.dial(pair.nodeB.getMultiaddrs(), { signal: AbortSignal.timeout(5_000) })
    const fromOther = settle(otherRpc.request(pair.addressB, one(99), { timeout: 10_000 }))
    await waitFor(() => held.length === 5, 5_000, 'the other peer\'s handler to run')
    held.splice(0).forEach(release => { release() })

    const results = await Promise.all(flood)
    expect(results.filter(r => r.error == null)).to.have.lengthOf(4)
    expect(results.filter(r => r.error != null).map(r => r.error.name)).to.deep.equal(Array(6).fill('PeerBusyError'))
    expect((await fromOther).value?.payload).to.equalBytes(Uint8Array.of(99))
    await otherRpc.stop()
    const { nodeA, nodeB } = pair
    await waitFor(() => openStreams(nodeA) === 0 && openStreams(nodeB) === 0, 5_000, 'streams to close')
  })

  it('reports a usable connection only while one is open', async () => {
    pair = await createPair(transport)
    pair.b.handle(async (_from, req) => req)

    await pair.nodeA.hangUp(pair.nodeB.peerId)
    expect(pair.a.isConnected(pair.addressB)).to.be.false()
    await pair.a.request(pair.addressB, one(1), { timeout: 5_000 })
    expect(pair.a.isConnected(pair.addressB)).to.be.true()
    expect(pair.a.isConnected('not-a-peer-id')).to.be.false()

    await pair.nodeA.hangUp(pair.nodeB.peerId)
    expect(pair.a.isConnected(pair.addressB)).to.be.false()
  })

  it('leaves no stream open after handler errors, timeouts and aborts', async () => {
    pair = await createPair(transport)
    pair.b.handle(async (_from, req) => {
      if (req.payload[0] === 0) {
        throw new Error('no')
      }
      return new Promise<EchoMessage>(() => {})
    })

    const controller = new AbortController()
    setTimeout(() => { controller.abort() }, 100)
    const results = await Promise.all([
      settle(pair.a.request(pair.addressB, one(0), { timeout: 5_000 })),
      settle(pair.a.request(pair.addressB, one(1), { timeout: 200 })),
      settle(pair.a.request(pair.addressB, one(1), { timeout: 5_000, signal: controller.signal }))
    ])
    expect(results.map(r => r.error?.name)).to.deep.equal(['RemoteError', 'RpcTimeoutError', 'AbortError'])

    const { nodeA, nodeB } = pair
    await waitFor(() => openStreams(nodeA) === 0 && openStreams(nodeB) === 0, 2_000, 'streams to close')
  })

  // A transport that does not honour an abort signal (a WebRTC data channel that never opens, a close
  // that waits for a buffer that never drains) must cost a request its deadline and no more: a ring
  // maintenance round awaits these requests, and a round that never ends is never scheduled again.
  // The memory transport honours its signals, so the one real connection is made not to
  it('ends a request at its deadline when opening the stream never settles', async () => {
    pair = await createPair(transport)
    pair.b.handle(async (_from, req) => req)
    const [connection] = pair.nodeA.getConnections(pair.nodeB.peerId)
    connection.newStream = async () => new Promise(() => {})
    const { error } = await settle(pair.a.request(pair.addressB, one(1), { timeout: 300 }))
    expect(error).to.have.property('name', 'RpcTimeoutError')
  })

  it('ends a request at its deadline when closing the stream never settles, and leaves no stream open', async () => {
    pair = await createPair(transport)
    pair.b.handle(async (_from, req) => req)
    const [connection] = pair.nodeA.getConnections(pair.nodeB.peerId)
    const newStream = connection.newStream.bind(connection)
    connection.newStream = async (...args: Parameters<typeof newStream>) => {
      const stream = await newStream(...args)
      stream.close = async () => new Promise(() => {})
      return stream
    }
    const { error } = await settle(pair.a.request(pair.addressB, one(1), { timeout: 300 }))
    expect(error).to.have.property('name', 'RpcTimeoutError')
    const { nodeA, nodeB } = pair
    await waitFor(() => openStreams(nodeA) === 0 && openStreams(nodeB) === 0, 2_000, 'streams to close')
  })

  it('dials through addressHints when no connection exists', async () => {
    pair = await createPair(transport, {}, { connect: false })
    const { nodeA, nodeB } = pair
    await pair.a.stop()
    const hinted: string[] = []
    const a = createEchoRpc(nodeA, {
      addressHints: (address) => {
        hinted.push(address)
        // without the /p2p/ part: the adapter pins the peer id itself
        return nodeB.getMultiaddrs().map(ma => ma.decapsulateCode(421))
      }
    })
    await a.start()
    try {
      pair.b.handle(async (from) => ({ payload: new TextEncoder().encode(from) }))

      const res = await a.request(pair.addressB, one(1), { timeout: 5_000 })

      expect(new TextDecoder().decode(res.payload)).to.equal(pair.addressA)
      expect(hinted).to.deep.equal([pair.addressB])
      // connected now: the hints are not consulted again
      await a.request(pair.addressB, one(2), { timeout: 5_000 })
      expect(hinted).to.have.lengthOf(1)
    } finally {
      await a.stop()
    }
  })

  it('rejects with PeerUnreachableError when the remote does not speak the protocol', async () => {
    pair = await createPair(transport)
    await pair.b.stop()

    const { error } = await settle(pair.a.request(pair.addressB, one(1), { timeout: 5_000 }))

    expect(error?.name).to.equal('PeerUnreachableError')
  })

  it('rejects with PeerUnreachableError for an address that is not a peer id', async () => {
    pair = await createPair(transport)

    const { error } = await settle(pair.a.request('not-a-peer-id', one(1), { timeout: 5_000 }))

    expect(error?.name).to.equal('PeerUnreachableError')
  })

  it('carries the remote error\'s numeric code and message', async () => {
    pair = await createPair(transport)
    pair.b.handle(async () => { throw new HopLimitError('out of hops') })

    const { error } = await settle(pair.a.request(pair.addressB, one(1), { timeout: 5_000 }))

    expect(error?.name).to.equal('RemoteError')
    expect(error?.code).to.equal(ErrorCode.HOP_LIMIT)
    expect(error?.message).to.equal('out of hops')
  })

  it('rejects with InvalidMessageError when the answer does not decode', async () => {
    const [nodeA, nodeB] = await Promise.all([createNode(transport), createNode(transport)])
    extra.push(nodeA, nodeB)
    const a = createEchoRpc(nodeA, { decodeResponse: () => { throw new RangeError('bad bytes') } })
    const b = createEchoRpc(nodeB)
    await Promise.all([a.start(), b.start()])
    b.handle(async (_from, req) => req)
    await nodeA.dial(nodeB.getMultiaddrs(), { signal: AbortSignal.timeout(5_000) })

    const { error } = await settle(a.request(nodeB.peerId.toString(), one(1), { timeout: 5_000 }))

    expect(error?.name).to.equal('InvalidMessageError')
    await Promise.all([a.stop(), b.stop()])
  })

  it('answers with RemoteError when the handler outlives handlerTimeout, and aborts the handler\'s signal', async () => {
    pair = await createPair(transport, { handlerTimeout: 200 })
    let handlerSignal: AbortSignal | undefined
    pair.b.handle(async (_from, _req, { signal }) => {
      handlerSignal = signal
      return new Promise<EchoMessage>(() => {})
    })

    const { error } = await settle(pair.a.request(pair.addressB, one(1), { timeout: 5_000 }))

    expect(error?.name).to.equal('RemoteError')
    expect(handlerSignal?.aborted).to.equal(true)
  })

  it('aborts the handler\'s signal when the requester gives up', async () => {
    pair = await createPair(transport)
    let handlerSignal: AbortSignal | undefined
    pair.b.handle(async (_from, _req, { signal }) => {
      handlerSignal = signal
      return new Promise<EchoMessage>(() => {})
    })

    const { error } = await settle(pair.a.request(pair.addressB, one(1), { timeout: 200 }))

    expect(error?.name).to.equal('RpcTimeoutError')
    await waitFor(() => handlerSignal?.aborted === true, 2_000, 'the handler signal to abort')
  })

  it('aborts in-flight handlers when stopped', async () => {
    pair = await createPair(transport)
    let handlerSignal: AbortSignal | undefined
    pair.b.handle(async (_from, _req, { signal }) => {
      handlerSignal = signal
      return new Promise<EchoMessage>(() => {})
    })
    const pending = settle(pair.a.request(pair.addressB, one(1), { timeout: 5_000 }))
    await waitFor(() => handlerSignal != null, 2_000, 'the handler to run')

    await pair.b.stop()

    expect(handlerSignal?.aborted).to.equal(true)
    const { error } = await pending
    expect(error?.name).to.equal('PeerUnreachableError')
  })

  it('rejects its own in-flight requests with AbortError when stopped', async () => {
    pair = await createPair(transport)
    pair.b.handle(async () => new Promise<EchoMessage>(() => {}))
    const pending = settle(pair.a.request(pair.addressB, one(1), { timeout: 5_000 }))
    await waitFor(() => openStreams(pair?.nodeB as Libp2p) === 1, 2_000, 'the request to arrive')

    await pair.a.stop()

    const { error } = await pending
    expect(error?.name).to.equal('AbortError')
    const after = await settle(pair.a.request(pair.addressB, one(1), { timeout: 5_000 }))
    expect(after.error?.name).to.equal('AbortError')
  })

  it('serves a request to its own address with the local handler, through the codec', async () => {
    pair = await createPair(transport)
    const seen: string[] = []
    pair.a.handle(async (from, req) => {
      seen.push(from)
      return { payload: Uint8Array.from([...req.payload, 9]) }
    })

    const res = await pair.a.request(pair.addressA, one(1), { timeout: 5_000 })

    expect([...res.payload]).to.deep.equal([1, 9])
    expect(seen).to.deep.equal([pair.addressA])
  })

  it('refuses to send an answer larger than maxMessageBytes, answering with an error instead', async () => {
    pair = await createPair(transport, { maxMessageBytes: 1024 })
    pair.b.handle(async () => ({ payload: new Uint8Array(2048) }))

    const { error } = await settle(pair.a.request(pair.addressB, one(1), { timeout: 5_000 }))

    expect(error?.name).to.equal('RemoteError')
    expect(error?.code).to.equal(ErrorCode.INVALID_MESSAGE)
  })

  it('accepts fractional, negative and overlong deadlines', async () => {
    pair = await createPair(transport)
    pair.b.handle(async () => new Promise<EchoMessage>(() => {}))

    const fractional = await settle(pair.a.request(pair.addressB, one(1), { timeout: 100.5 }))
    const negative = await settle(pair.a.request(pair.addressB, one(1), { timeout: -1 }))
    expect([fractional.error?.name, negative.error?.name]).to.deep.equal(['RpcTimeoutError', 'RpcTimeoutError'])

    // a delay beyond a 32-bit timer must not fire at once
    const controller = new AbortController()
    const overlong = settle(pair.a.request(pair.addressB, one(1), { timeout: 2 ** 40, signal: controller.signal }))
    await new Promise(resolve => setTimeout(resolve, 100))
    controller.abort()
    expect((await overlong).error?.name).to.equal('AbortError')
  })

  it('lets a dial slower than a request\'s deadline finish in the background, shared by every request to the peer', async function () {
    // a TCP proxy in front of b that holds each connection before passing it on: a connection set-up
    // slower than the requests' deadlines, like WebRTC between two busy browser pages
    const HOLD_MS = 800
    pair = await createPair('tcp', {}, { connect: false })
    const targetPort = Number(pair.nodeB.getMultiaddrs()[0].getComponents().find(c => c.name === 'tcp')?.value)
    let accepted = 0
    const proxy: Server = createServer(socket => {
      accepted++
      socket.pause()
      setTimeout(() => {
        const upstream = tcpConnect(targetPort, '127.0.0.1', () => {
          socket.pipe(upstream).pipe(socket)
          socket.resume()
        })
        upstream.on('error', () => socket.destroy())
        socket.on('error', () => upstream.destroy())
      }, HOLD_MS)
    })
    await new Promise<void>(resolve => proxy.listen(0, '127.0.0.1', resolve))
    try {
      const port = (proxy.address() as { port: number }).port
      // a's endpoint again, dialling b through the proxy
      await pair.a.stop()
      const a = createEchoRpc(pair.nodeA, { addressHints: () => [multiaddr(`/ip4/127.0.0.1/tcp/${port}`)] })
      await a.start()
      pair.b.handle(async (_from, req) => req)
      const addressB = pair.addressB
      const early = await Promise.all([1, 2, 3].map(async n => settle(a.request(addressB, one(n), { timeout: HOLD_MS / 4 }))))
      expect(early.map(r => r.error?.name)).to.deep.equal(['RpcTimeoutError', 'RpcTimeoutError', 'RpcTimeoutError'])

      const { nodeA, nodeB } = pair
      await waitFor(() => nodeA.getConnections(nodeB.peerId).length > 0, DIAL_TIMEOUT, 'the dial to finish after the requests gave up')
      expect(await a.request(addressB, one(4), { timeout: DIAL_TIMEOUT })).to.deep.equal(one(4))
      // one dial served all four requests
      expect(accepted).to.equal(1)
      await a.stop()
    } finally {
      proxy.close()
    }
  })

  it('dials a peer ahead of any request when asked to connect, and never throws for a bad address', async () => {
    pair = await createPair(transport, {}, { connect: false })
    const { nodeA, nodeB, addressB } = pair
    // a's endpoint again, knowing where b listens
    await pair.a.stop()
    const a = createEchoRpc(nodeA, { addressHints: () => nodeB.getMultiaddrs() })
    await a.start()
    extraRpcs.push(a)
    expect(a.isConnected(addressB)).to.equal(false)
    a.connect(addressB)
    a.connect('not a peer id')
    await waitFor(() => a.isConnected(addressB), DIAL_TIMEOUT, 'the connection asked for')
    expect(nodeA.getConnections(nodeB.peerId)).to.have.lengthOf(1)
    // asking again while connected dials nothing new
    a.connect(addressB)
    expect(nodeA.getConnections(nodeB.peerId)).to.have.lengthOf(1)
  })

  it('uses the protocol id it was given', async () => {
    pair = await createPair(transport)

    expect(pair.nodeB.getProtocols()).to.include(ECHO_PROTOCOL)
    await pair.b.stop()
    expect(pair.nodeB.getProtocols()).to.not.include(ECHO_PROTOCOL)
  })
})
