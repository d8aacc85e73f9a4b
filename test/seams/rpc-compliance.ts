/**
 * The one compliance suite every `Rpc` adapter passes: the simulated network
 * (`sim/`) and libp2p streams (`src/libp2p/`). It runs on a tiny echo protocol
 * whose messages are protons-encoded `AppRequest`s so each adapter's real
 * codec path is exercised.
 */
import { expect } from 'aegir/chai'
import type { Address, Rpc } from '../../src/overlay/seams.ts'

export interface EchoMessage {
  payload: Uint8Array
}

export interface RpcHarness {
  /** Two connected endpoints of one network speaking the echo protocol */
  a: Rpc<EchoMessage, EchoMessage>
  b: Rpc<EchoMessage, EchoMessage>
  addressA: Address
  addressB: Address
  /** An address nobody answers on: requests must reject with PeerUnreachableError or RpcTimeoutError */
  nowhere: Address
  /**
   * Settles `p`, driving whatever the adapter needs meanwhile (the simulator
   * runs its scheduler; a real network just awaits)
   */
  drive<T>(p: Promise<T>): Promise<T>
  /** The largest request the adapter accepts, in bytes of payload */
  maxMessageBytes: number
  stop(): Promise<void>
}

export interface RpcComplianceOptions {
  name: string
  setup(): Promise<RpcHarness>
}

async function settle<T> (h: RpcHarness, p: Promise<T>): Promise<{ value?: T, error?: Error }> {
  try {
    return { value: await h.drive(p) }
  } catch (err: any) {
    return { error: err }
  }
}

export function rpcComplianceSuite (opts: RpcComplianceOptions): void {
  describe(`Rpc compliance: ${opts.name}`, function () {
    let h: RpcHarness

    beforeEach(async () => {
      h = await opts.setup()
    })

    afterEach(async () => {
      await h?.stop()
    })

    it('returns the handler\'s answer to the requester and tells the handler who asked', async () => {
      const seen: Address[] = []
      h.b.handle(async (from, req) => {
        seen.push(from)
        return { payload: Uint8Array.from([...req.payload].reverse()) }
      })
      const res = await h.drive(h.a.request(h.addressB, { payload: Uint8Array.from([1, 2, 3]) }, { timeout: 5_000 }))
      expect([...res.payload]).to.deep.equal([3, 2, 1])
      expect(seen).to.deep.equal([h.addressA])
    })

    it('rejects with RpcTimeoutError when the handler never answers within the deadline', async () => {
      h.b.handle(async () => new Promise<EchoMessage>(() => {}))
      const { error } = await settle(h, h.a.request(h.addressB, { payload: new Uint8Array(1) }, { timeout: 300 }))
      expect(error?.name).to.equal('RpcTimeoutError')
    })

    it('rejects with PeerUnreachableError or RpcTimeoutError for an address nobody answers on', async () => {
      const { error } = await settle(h, h.a.request(h.nowhere, { payload: new Uint8Array(1) }, { timeout: 1_000 }))
      expect(['PeerUnreachableError', 'RpcTimeoutError']).to.include(error?.name)
    })

    it('rejects with RemoteError when the handler throws, and keeps serving afterwards', async () => {
      let calls = 0
      h.b.handle(async (_from, req) => {
        calls++
        if (req.payload[0] === 0) {
          throw new Error('handler failed')
        }
        return req
      })
      const { error } = await settle(h, h.a.request(h.addressB, { payload: Uint8Array.from([0]) }, { timeout: 5_000 }))
      expect(error?.name).to.equal('RemoteError')
      const ok = await h.drive(h.a.request(h.addressB, { payload: Uint8Array.from([7]) }, { timeout: 5_000 }))
      expect([...ok.payload]).to.deep.equal([7])
      expect(calls).to.equal(2)
    })

    it('rejects with AbortError when the caller aborts, before the deadline', async () => {
      h.b.handle(async () => new Promise<EchoMessage>(() => {}))
      const controller = new AbortController()
      const p = h.a.request(h.addressB, { payload: new Uint8Array(1) }, { timeout: 60_000, signal: controller.signal })
      controller.abort()
      const { error } = await settle(h, p)
      expect(error?.name).to.equal('AbortError')
    })

    it('rejects at once with AbortError when the signal is already aborted', async () => {
      h.b.handle(async (_from, req) => req)
      const { error } = await settle(h, h.a.request(h.addressB, { payload: new Uint8Array(1) }, { timeout: 5_000, signal: AbortSignal.abort() }))
      expect(error?.name).to.equal('AbortError')
    })

    it('answers 100 concurrent requests, each with its own answer', async () => {
      h.b.handle(async (_from, req) => ({ payload: Uint8Array.from([req.payload[0] + 1]) }))
      const results = await h.drive(Promise.all(
        Array.from({ length: 100 }, async (_, i) => h.a.request(h.addressB, { payload: Uint8Array.from([i]) }, { timeout: 20_000 }))
      ))
      expect(results.map(r => r.payload[0])).to.deep.equal(Array.from({ length: 100 }, (_, i) => i + 1))
    })

    it('works in both directions on one pair', async () => {
      h.a.handle(async () => ({ payload: Uint8Array.from([0xa]) }))
      h.b.handle(async () => ({ payload: Uint8Array.from([0xb]) }))
      const [fromB, fromA] = await h.drive(Promise.all([
        h.a.request(h.addressB, { payload: new Uint8Array(0) }, { timeout: 5_000 }),
        h.b.request(h.addressA, { payload: new Uint8Array(0) }, { timeout: 5_000 })
      ]))
      expect(fromB.payload[0]).to.equal(0xb)
      expect(fromA.payload[0]).to.equal(0xa)
    })

    it('refuses an oversized request with a named error and keeps serving', async () => {
      h.b.handle(async (_from, req) => ({ payload: req.payload.subarray(0, 1) }))
      const { error } = await settle(h, h.a.request(h.addressB, { payload: new Uint8Array(h.maxMessageBytes + 1024) }, { timeout: 10_000 }))
      expect(error).to.be.an('error')
      expect(['InvalidMessageError', 'RemoteError', 'PeerUnreachableError']).to.include(error?.name)
      const ok = await h.drive(h.a.request(h.addressB, { payload: Uint8Array.from([9]) }, { timeout: 5_000 }))
      expect([...ok.payload]).to.deep.equal([9])
    })
  })
}
