import { expect } from 'aegir/chai'
import { AppRequest } from '../../src/overlay/messages.ts'
import { ECHO_PROTOCOL, createPair, openStreams, waitFor } from './fixtures.ts'
import type { Pair, TransportName } from './fixtures.ts'
import type { EchoMessage } from '../seams/rpc-compliance.ts'
import type { Libp2p, PeerId } from '@libp2p/interface'

const MAX_MESSAGE_BYTES = 1024

/** Bound on one raw exchange: the remote must have reset the stream by then */
const RAW_TIMEOUT = 3_000

interface RawResult {
  /** Bytes the remote sent back */
  received: number
  /** The stream's final status */
  status: string
}

/**
 * Opens a stream of the echo protocol, writes `chunks` as they are (no
 * framing), optionally closes the writable end, and collects whatever comes
 * back until the remote closes or resets the stream
 */
async function exchangeRaw (node: Libp2p, to: PeerId, chunks: Uint8Array[], options: { close?: boolean } = {}): Promise<RawResult> {
  const signal = AbortSignal.timeout(RAW_TIMEOUT)
  const stream = await node.dialProtocol(to, ECHO_PROTOCOL, { signal })
  const onAbort = (): void => { stream.abort(new Error('raw exchange timed out')) }
  signal.addEventListener('abort', onAbort, { once: true })

  let received = 0
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
      received += buf.byteLength
    }
    // the remote's end is done; wait for it to release the whole stream
    if (stream.status === 'open') {
      await new Promise<void>(resolve => {
        stream.addEventListener('close', () => { resolve() }, { once: true })
      })
    }
  } catch {
    // a reset surfaces here; the status below tells what happened
  } finally {
    signal.removeEventListener('abort', onAbort)
  }

  return { received, status: stream.status }
}

/** Unsigned LEB128, the length prefix of every frame */
function varint (n: number): Uint8Array {
  const bytes: number[] = []
  while (n >= 0x80) {
    bytes.push((n % 0x80) | 0x80)
    n = Math.floor(n / 0x80)
  }
  bytes.push(n)
  return Uint8Array.from(bytes)
}

function frame (body: Uint8Array): Uint8Array {
  const prefix = varint(body.byteLength)
  const out = new Uint8Array(prefix.byteLength + body.byteLength)
  out.set(prefix)
  out.set(body, prefix.byteLength)
  return out
}

const BAD_INPUT: Array<[string, Uint8Array[]]> = [
  ['garbage bytes (a length prefix longer than any allowed)', [new Uint8Array(16).fill(0xff)]],
  ['garbage text (a length that the stream ends before)', [new TextEncoder().encode('GET / HTTP/1.1\r\n\r\n')]],
  ['a truncated length prefix', [Uint8Array.of(0x80)]],
  ['nothing at all', []],
  ['a frame larger than maxMessageBytes', [frame(new Uint8Array(MAX_MESSAGE_BYTES + 1).fill(1))]],
  ['a length prefix larger than maxMessageBytes without its body', [varint(MAX_MESSAGE_BYTES * 1000)]],
  ['a valid frame whose body does not decode', [frame(Uint8Array.of(0x0a, 0x05, 0x01))]],
  ['a valid frame cut short', [frame(AppRequest.encode({ payload: new Uint8Array(100) })).subarray(0, 50)]]
]

for (const transport of ['memory', 'tcp'] as TransportName[]) {
  describe(`StreamRpc on bad input (${transport})`, function () {
    let pair: Pair | undefined
    /** Requests that reached the handler */
    const served = { calls: 0 }

    afterEach(async () => {
      await pair?.stop()
      pair = undefined
    })

    async function setup (init: Parameters<typeof createPair>[1] = {}): Promise<Pair> {
      pair = await createPair(transport, { maxMessageBytes: MAX_MESSAGE_BYTES, ...init })
      served.calls = 0
      pair.b.handle(async (_from, req) => {
        served.calls++
        return { payload: Uint8Array.from([...req.payload].reverse()) }
      })
      return pair
    }

    async function expectStillServing (p: Pair): Promise<void> {
      const before = served.calls
      const res = await p.a.request(p.addressB, { payload: Uint8Array.of(1, 2) }, { timeout: 5_000 })
      expect([...res.payload]).to.deep.equal([2, 1])
      expect(served.calls).to.equal(before + 1)
      await waitFor(() => openStreams(p.nodeB) === 0, 2_000, 'the server to release its streams')
    }

    for (const [what, chunks] of BAD_INPUT) {
      it(`resets the stream without answering on ${what}, and keeps serving`, async () => {
        const p = await setup()

        const result = await exchangeRaw(p.nodeA, p.nodeB.peerId, chunks)

        expect(result.received).to.equal(0)
        expect(result.status).to.equal('reset')
        expect(served.calls).to.equal(0)
        await expectStillServing(p)
      })
    }

    it('answers a requester that never closes its end, then releases the stream within closeTimeout', async () => {
      const p = await setup({ closeTimeout: 200 })

      // the remote answers, waits for our close, gives up and resets
      const result = await exchangeRaw(p.nodeA, p.nodeB.peerId, [frame(AppRequest.encode({ payload: Uint8Array.of(1) }))], { close: false })

      expect(result.received).to.be.greaterThan(0)
      expect(result.status).to.equal('reset')
      expect(served.calls).to.equal(1)
      await expectStillServing(p)
    })

    it('resets a stream whose request does not arrive within handlerTimeout', async () => {
      const p = await setup({ handlerTimeout: 200 })

      const result = await exchangeRaw(p.nodeA, p.nodeB.peerId, [Uint8Array.of(10)], { close: false })

      expect(result.received).to.equal(0)
      expect(result.status).to.equal('reset')
      await expectStillServing(p)
    })

    it('answers 200 concurrent requests across one connection', async () => {
      // the stream limits are under test here, not the per-peer share (tested in stream-rpc.spec.ts)
      const p = await setup({ maxRequestsPerPeer: 256 })

      const results = await Promise.all(Array.from({ length: 200 }, async (_, i) =>
        p.a.request(p.addressB, { payload: Uint8Array.of(i % 256, i >> 8) }, { timeout: 20_000 })
      ))

      expect(results.map(r => r.payload[1] + (r.payload[0] << 8))).to.deep.equal(Array.from({ length: 200 }, (_, i) => i))
      expect(p.nodeA.getConnections(p.nodeB.peerId)).to.have.lengthOf(1)
      await waitFor(() => openStreams(p.nodeA) === 0 && openStreams(p.nodeB) === 0, 2_000, 'streams to close')
    })

    for (const how of ['its libp2p node', 'its RPC endpoint'] as const) {
      it(`rejects within the deadline when the remote stops ${how} mid-request`, async () => {
        const p = await setup()
        let arrived = false
        p.b.handle(async () => {
          arrived = true
          return new Promise<EchoMessage>(() => {})
        })
        const timeout = 5_000
        const started = Date.now()
        const pending = p.a.request(p.addressB, { payload: Uint8Array.of(1) }, { timeout }).then(
          () => undefined,
          (err: Error) => err
        )
        await waitFor(() => arrived, 2_000, 'the request to arrive')

        await (how === 'its libp2p node' ? p.nodeB.stop() : p.b.stop())
        const error = await pending

        expect(['PeerUnreachableError', 'RpcTimeoutError']).to.include(error?.name)
        // a stop resets the stream: nobody waits for the deadline
        expect(Date.now() - started).to.be.lessThan(timeout)
      })
    }
  })
}
