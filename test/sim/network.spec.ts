import { expect } from 'aegir/chai'
import { CONNECT_STALL_MS } from '../../sim/network/connections.ts'
import { SimNetwork } from '../../sim/network/network.ts'
import { SeededRandom } from '../../sim/random.ts'
import { Scheduler } from '../../sim/scheduler.ts'
import { ErrorCode } from '../../src/overlay/errors.ts'
import { AppRequest } from '../../src/overlay/messages.ts'
import { rpcComplianceSuite } from '../seams/rpc-compliance.ts'
import type { SimNetworkInit } from '../../sim/network/network.ts'
import type { SimProtocol } from '../../sim/network/protocol.ts'
import type { EchoMessage } from '../seams/rpc-compliance.ts'

/** Small enough that the oversized-request test stays cheap */
const TEST_MAX_MESSAGE_BYTES = 64 * 1024
/** What protons framing adds to an AppRequest's payload, at most */
const APP_REQUEST_OVERHEAD_BYTES = 16

const echo: SimProtocol<EchoMessage, EchoMessage> = {
  name: 'echo',
  // protons types payloads as Uint8Array<ArrayBuffer>; the suite's EchoMessage is looser
  encodeRequest: msg => AppRequest.encode(msg as AppRequest),
  decodeRequest: bytes => AppRequest.decode(bytes),
  encodeResponse: msg => AppRequest.encode(msg as AppRequest),
  decodeResponse: bytes => AppRequest.decode(bytes)
}

function setup (init: SimNetworkInit = {}, seed: number | string = 1): { scheduler: Scheduler, network: SimNetwork } {
  const scheduler = new Scheduler()
  const network = new SimNetwork(scheduler, new SeededRandom(seed), { maxMessageBytes: TEST_MAX_MESSAGE_BYTES, ...init })
  return { scheduler, network }
}

async function failure (scheduler: Scheduler, p: Promise<unknown>): Promise<Error & { code?: number }> {
  try {
    await scheduler.settle(p)
  } catch (err: any) {
    return err
  }
  throw new Error('expected the request to fail')
}

rpcComplianceSuite({
  name: 'SimNetwork',
  async setup () {
    const { scheduler, network } = setup()
    return {
      a: network.rpc('a', echo),
      b: network.rpc('b', echo),
      addressA: 'a',
      addressB: 'b',
      nowhere: 'nowhere',
      drive: async p => scheduler.settle(p),
      maxMessageBytes: TEST_MAX_MESSAGE_BYTES - APP_REQUEST_OVERHEAD_BYTES,
      async stop () {}
    }
  }
})

describe('SimNetwork', () => {
  it('takes the same latency both ways, within [min, min + span]', async () => {
    const { scheduler, network } = setup({ minLatencyMs: 20, latencySpanMs: 80, bandwidthBytesPerSec: Infinity })
    const addresses = Array.from({ length: 30 }, (_, i) => `n${i}`)
    for (const address of addresses) {
      network.rpc(address, echo).handle(async (_from, req) => req)
    }
    for (let i = 0; i < addresses.length; i++) {
      for (let j = 0; j < addresses.length; j++) {
        const oneWay = network.latencyMs(addresses[i], addresses[j])
        expect(oneWay).to.equal(network.latencyMs(addresses[j], addresses[i]))
        expect(oneWay).to.be.within(20, 100)
      }
    }
    const start = scheduler.now
    await scheduler.settle(network.rpc('n0', echo).request('n1', { payload: new Uint8Array(8) }, { timeout: 5_000 }))
    expect(scheduler.now - start).to.equal(2 * network.latencyMs('n0', 'n1'))
  })

  it('adds transfer time for encoded and virtual bytes', async () => {
    const content: SimProtocol<EchoMessage, EchoMessage> = {
      ...echo,
      name: 'content',
      // the answer stands for 1 MB of content the simulation does not carry
      virtualBytes: msg => msg.payload[0] === 1 ? 1_000_000 : 0
    }
    const { scheduler, network } = setup({ bandwidthBytesPerSec: 1_000_000 })
    network.rpc('b', content).handle(async () => ({ payload: Uint8Array.from([1]) }))
    await scheduler.settle(network.rpc('a', content).request('b', { payload: Uint8Array.from([0]) }, { timeout: 60_000 }))
    expect(scheduler.now).to.equal(2 * network.latencyMs('a', 'b') + 1_000)
    expect(network.uploadedBy('b', 'content')).to.equal(1_000_000 + 3)
  })

  it('queues a node\'s answers on its uplink when uplinkQueueing is on', async () => {
    const content: SimProtocol<EchoMessage, EchoMessage> = { ...echo, virtualBytes: msg => msg.payload.length > 0 ? 100_000 : 0 }
    const clients = ['c1', 'c2', 'c3', 'c4', 'c5']
    const finishTimes = async (uplinkQueueing: boolean): Promise<{ done: number[], network: SimNetwork }> => {
      const { scheduler, network } = setup({ bandwidthBytesPerSec: 1_000_000, uplinkQueueing })
      network.rpc('server', content).handle(async () => ({ payload: new Uint8Array(1) }))
      const done: number[] = []
      await scheduler.settle(Promise.all(clients.map(async c => {
        await network.rpc(c, content).request('server', { payload: new Uint8Array(0) }, { timeout: 60_000 })
        done.push(scheduler.now)
      })))
      return { done, network }
    }
    // each 100 kB answer takes 100 ms to send
    const free = await finishTimes(false)
    for (const [i, c] of clients.entries()) {
      expect(free.done).to.include(2 * free.network.latencyMs(c, 'server') + 100)
      expect(free.done[i]).to.be.at.most(2 * 110 + 100)
    }
    // queued: the last of five answers leaves at least 500 ms after the first request arrived
    const queued = await finishTimes(true)
    const nearest = Math.min(...clients.map(c => queued.network.latencyMs(c, 'server')))
    expect(Math.max(...queued.done)).to.be.at.least(2 * nearest + 500)
  })

  it('makes the first request between two nodes wait for a connection set-up, and later ones reuse it', async () => {
    const { scheduler, network } = setup({ bandwidthBytesPerSec: Infinity, connectMs: 250 })
    network.rpc('b', echo).handle(async (_from, req) => req)
    const a = network.rpc('a', echo)
    const oneWay = network.latencyMs('a', 'b')
    await scheduler.settle(a.request('b', { payload: new Uint8Array(1) }, { timeout: 5_000 }))
    expect(scheduler.now).to.equal(250 + 4 * oneWay + 2 * oneWay)
    const second = scheduler.now
    await scheduler.settle(a.request('b', { payload: new Uint8Array(1) }, { timeout: 5_000 }))
    expect(scheduler.now - second).to.equal(2 * oneWay)
    // the connection serves both directions
    const third = scheduler.now
    network.rpc('a', echo).handle(async (_from, req) => req)
    await scheduler.settle(network.rpc('b', echo).request('a', { payload: new Uint8Array(1) }, { timeout: 5_000 }))
    expect(scheduler.now - third).to.equal(2 * oneWay)
    expect(network.connectionsSetUp).to.equal(1)
  })

  it('stalls a set-up by CONNECT_STALL_MS with the chance it is given, and refuses stalls without set-ups', async () => {
    for (const [chance, stall] of [[1, CONNECT_STALL_MS], [0, 0]] as const) {
      const { scheduler, network } = setup({ bandwidthBytesPerSec: Infinity, connectMs: 250, connectStall: chance })
      network.rpc('b', echo).handle(async (_from, req) => req)
      const oneWay = network.latencyMs('a', 'b')
      await scheduler.settle(network.rpc('a', echo).request('b', { payload: new Uint8Array(1) }, { timeout: 60_000 }))
      expect(scheduler.now, `chance ${chance}`).to.equal(250 + stall + 4 * oneWay + 2 * oneWay)
    }
    expect(() => setup({ connectStall: 0.5 })).to.throw(RangeError, /connectStall/)
    expect(() => setup({ connectMs: 250, connectStall: 2 })).to.throw(RangeError, /connectStall/)
  })

  it('never sends a request whose deadline passed during the set-up, but the connection still comes up for the next', async () => {
    const { scheduler, network } = setup({ bandwidthBytesPerSec: Infinity, connectMs: 1_000 })
    let served = 0
    network.rpc('b', echo).handle(async (_from, req) => { served++; return req })
    const a = network.rpc('a', echo)
    const early = await failure(scheduler, a.request('b', { payload: new Uint8Array(1) }, { timeout: 100 }))
    expect(early.name).to.equal('RpcTimeoutError')
    await scheduler.settle(new Promise(resolve => { scheduler.schedule(scheduler.now + 2_000, resolve, undefined) }))
    expect(served).to.equal(0)
    const start = scheduler.now
    await scheduler.settle(a.request('b', { payload: new Uint8Array(1) }, { timeout: 100 }))
    expect(scheduler.now - start).to.equal(2 * network.latencyMs('a', 'b'))
    expect(served).to.equal(1)
  })

  it('keeps at most maxConnections per node, closing the least recently used, which then costs a new set-up', async () => {
    const { scheduler, network } = setup({ bandwidthBytesPerSec: Infinity, connectMs: 100, maxConnections: 2 })
    for (const peer of ['p1', 'p2', 'p3']) {
      network.rpc(peer, echo).handle(async (_from, req) => req)
    }
    const a = network.rpc('a', echo)
    const ask = async (to: string): Promise<number> => {
      const start = scheduler.now
      await scheduler.settle(a.request(to, { payload: new Uint8Array(1) }, { timeout: 5_000 }))
      return scheduler.now - start
    }
    await ask('p1')
    await ask('p2')
    expect(await ask('p1')).to.equal(2 * network.latencyMs('a', 'p1'))
    // p3 pushes out p2, the least recently used
    await ask('p3')
    expect(await ask('p1')).to.equal(2 * network.latencyMs('a', 'p1'))
    expect(await ask('p2')).to.equal(100 + 6 * network.latencyMs('a', 'p2'))
    expect(network.connectionsSetUp).to.equal(4)
  })

  it('closes a departed node\'s connections: a node at a new address pays a new set-up', async () => {
    const { scheduler, network } = setup({ bandwidthBytesPerSec: Infinity, connectMs: 100 })
    network.rpc('b', echo).handle(async (_from, req) => req)
    const a = network.rpc('a', echo)
    await scheduler.settle(a.request('b', { payload: new Uint8Array(1) }, { timeout: 5_000 }))
    network.leave('a')
    expect(network.connectionsSetUp).to.equal(1)
    await scheduler.settle(network.rpc('a2', echo).request('b', { payload: new Uint8Array(1) }, { timeout: 5_000 }))
    expect(network.connectionsSetUp).to.equal(2)
  })

  it('sets up a connection ahead of any request when asked, and says when it is up', async () => {
    const { scheduler, network } = setup({ bandwidthBytesPerSec: Infinity, connectMs: 200 })
    network.rpc('b', echo).handle(async (_from, req) => req)
    const a = network.rpc('a', echo)
    const oneWay = network.latencyMs('a', 'b')
    expect(a.isConnected?.('b')).to.equal(false)
    expect(a.connecting?.('b')).to.equal(false)
    a.connect?.('b')
    expect(a.isConnected?.('b')).to.equal(false)
    expect(a.connecting?.('b')).to.equal(true)
    await scheduler.settle(new Promise(resolve => { scheduler.schedule(200 + 4 * oneWay, resolve, undefined) }))
    expect(a.isConnected?.('b')).to.equal(true)
    expect(a.connecting?.('b')).to.equal(false)
    const start = scheduler.now
    await scheduler.settle(a.request('b', { payload: new Uint8Array(1) }, { timeout: 100 }))
    expect(scheduler.now - start).to.equal(2 * oneWay)
    network.crash('b')
    expect(a.isConnected?.('b')).to.equal(false)
  })

  it('reports no connections when they are free, and connect does nothing', async () => {
    const { network } = setup()
    network.rpc('b', echo).handle(async (_from, req) => req)
    const a = network.rpc('a', echo)
    a.connect?.('b')
    expect(a.isConnected?.('b')).to.equal(false)
    expect(a.connecting?.('b')).to.equal(false)
    expect(network.connectionsSetUp).to.equal(0)
  })

  it('refuses a negative set-up time or an empty connection budget', () => {
    expect(() => setup({ connectMs: -1 })).to.throw(RangeError)
    expect(() => setup({ connectMs: 10, maxConnections: 0 })).to.throw(RangeError)
  })

  it('times out every request when every message is lost', async () => {
    const { scheduler, network } = setup({ loss: 1 })
    let handled = 0
    network.rpc('b', echo).handle(async (_from, req) => { handled++; return req })
    const err = await failure(scheduler, network.rpc('a', echo).request('b', { payload: new Uint8Array(1) }, { timeout: 1_000 }))
    expect(err.name).to.equal('RpcTimeoutError')
    expect(scheduler.now).to.equal(1_000)
    expect(handled).to.equal(0)
    expect(network.messagesLost).to.equal(1)
    expect(network.messagesDelivered).to.equal(0)
  })

  it('loses about the configured fraction of messages', async () => {
    const { scheduler, network } = setup({ loss: 0.2 })
    network.rpc('b', echo).handle(async (_from, req) => req)
    const a = network.rpc('a', echo)
    const outcomes = await scheduler.settle(Promise.allSettled(Array.from({ length: 2_000 }, async () => a.request('b', { payload: new Uint8Array(1) }, { timeout: 1_000 }))))
    const ok = outcomes.filter(o => o.status === 'fulfilled').length
    // a round trip survives with probability 0.8² = 0.64
    expect(ok / 2_000).to.be.closeTo(0.64, 0.04)
    expect(network.messagesLost / network.messagesSent).to.be.closeTo(0.2, 0.03)
  })

  it('times out requests to a crashed node, and a crashed node\'s own requests never settle', async () => {
    const { scheduler, network } = setup()
    network.rpc('b', echo).handle(async (_from, req) => req)
    const c = network.rpc('c', echo)
    let settled = 0
    const watch = (p: Promise<unknown>): void => { p.then(() => { settled++ }, () => { settled++ }) }
    // in flight when b crashes: its deadline would fire at 1000, but c crashes at 500
    watch(c.request('b', { payload: new Uint8Array(1) }, { timeout: 1_000 }))
    network.crash('b')
    expect(network.isAlive('b')).to.equal(false)
    scheduler.at(500, () => { network.crash('c') })
    const err = await failure(scheduler, network.rpc('a', echo).request('b', { payload: new Uint8Array(1) }, { timeout: 2_000 }))
    expect(err.name).to.equal('RpcTimeoutError')
    expect(scheduler.now).to.equal(2_000)
    watch(c.request('a', { payload: new Uint8Array(1) }, { timeout: 1_000 }))
    await scheduler.run()
    expect(settled).to.equal(0)
  })

  it('drops the answer of a node that crashes while handling a request', async () => {
    const { scheduler, network } = setup()
    const clock = scheduler.clock()
    network.rpc('b', echo).handle(async (_from, req) => new Promise(resolve => clock.setTimer(() => { resolve(req) }, 500)))
    const p = network.rpc('a', echo).request('b', { payload: new Uint8Array(1) }, { timeout: 3_000 })
    scheduler.at(100, () => { network.crash('b') })
    const err = await failure(scheduler, p)
    expect(err.name).to.equal('RpcTimeoutError')
  })

  it('fails fast with PeerUnreachableError after a node leaves', async () => {
    const { scheduler, network } = setup({ minLatencyMs: 15 })
    network.rpc('b', echo).handle(async (_from, req) => req)
    network.leave('b')
    const err = await failure(scheduler, network.rpc('a', echo).request('b', { payload: new Uint8Array(1) }, { timeout: 10_000 }))
    expect(err.name).to.equal('PeerUnreachableError')
    expect(scheduler.now).to.equal(30)
    expect(() => network.rpc('b', echo)).to.throw(/new address/)
  })

  it('fails a request in flight to a node that leaves when it arrives', async () => {
    const { scheduler, network } = setup()
    network.rpc('b', echo).handle(async (_from, req) => req)
    const p = network.rpc('a', echo).request('b', { payload: new Uint8Array(1) }, { timeout: 10_000 })
    network.leave('b')
    const err = await failure(scheduler, p)
    expect(err.name).to.equal('PeerUnreachableError')
    expect(scheduler.now).to.equal(2 * network.latencyMs('a', 'b'))
  })

  it('answers PeerUnreachableError for an address without a handler for the protocol', async () => {
    const { scheduler, network } = setup()
    network.rpc('b', echo)
    const err = await failure(scheduler, network.rpc('a', echo).request('b', { payload: new Uint8Array(1) }, { timeout: 10_000 }))
    expect(err.name).to.equal('PeerUnreachableError')
  })

  it('passes the thrown error\'s numeric code to the requester as a RemoteError', async () => {
    const { scheduler, network } = setup()
    network.rpc('b', echo).handle(async () => { throw Object.assign(new Error('no such key'), { code: 42 }) })
    const err = await failure(scheduler, network.rpc('a', echo).request('b', { payload: new Uint8Array(1) }, { timeout: 10_000 }))
    expect(err.name).to.equal('RemoteError')
    expect(err.code).to.equal(42)
    expect(err.message).to.equal('no such key')
  })

  it('rejects with InvalidMessageError when an answer does not decode', async () => {
    const broken: SimProtocol<EchoMessage, EchoMessage> = { ...echo, decodeResponse: () => { throw new Error('truncated') } }
    const { scheduler, network } = setup()
    network.rpc('b', echo).handle(async (_from, req) => req)
    const err = await failure(scheduler, network.rpc('a', broken).request('b', { payload: new Uint8Array(1) }, { timeout: 10_000 }))
    expect(err.name).to.equal('InvalidMessageError')
  })

  it('answers a request that does not decode with RemoteError code INVALID_MESSAGE, without calling the handler', async () => {
    const strict: SimProtocol<EchoMessage, EchoMessage> = { ...echo, decodeRequest: () => { throw new Error('bad field') } }
    const { scheduler, network } = setup()
    let calls = 0
    network.rpc('b', strict).handle(async (_from, req) => { calls++; return req })
    const err = await failure(scheduler, network.rpc('a', echo).request('b', { payload: new Uint8Array(1) }, { timeout: 10_000 }))
    expect(err.name).to.equal('RemoteError')
    expect(err.code).to.equal(ErrorCode.INVALID_MESSAGE)
    expect(calls).to.equal(0)
  })

  it('aborts the handler\'s signal when its node stops', async () => {
    const { scheduler, network } = setup()
    let signal: AbortSignal | undefined
    network.rpc('b', echo).handle(async (_from, req, options) => {
      signal = options.signal
      return req
    })
    await scheduler.settle(network.rpc('a', echo).request('b', { payload: new Uint8Array(1) }, { timeout: 10_000 }))
    expect(signal?.aborted).to.equal(false)
    network.leave('b')
    expect(signal?.aborted).to.equal(true)
  })

  it('accounts bytes per class: what a sends to b is what b receives from a', async () => {
    const classified: SimProtocol<EchoMessage, EchoMessage> = {
      ...echo,
      classify: msg => msg.payload[0] === 0 ? 'maintenance' : 'content',
      virtualBytes: msg => msg.payload.length * 10
    }
    const { scheduler, network } = setup()
    network.rpc('b', classified).handle(async (_from, req) => ({ payload: new Uint8Array(req.payload.length * 2).fill(7) }))
    const a = network.rpc('a', classified)
    await scheduler.settle(Promise.all([
      a.request('b', { payload: Uint8Array.from([0, 1, 2]) }, { timeout: 10_000 }),
      a.request('b', { payload: Uint8Array.from([5, 6]) }, { timeout: 10_000 }),
      a.request('b', { payload: Uint8Array.from([5, 6, 7, 8]) }, { timeout: 10_000 })
    ]))
    const framing = 2 // protons: tag + length byte
    const maintenance = network.traffic('a', 'maintenance')
    expect(maintenance.requestBytesSent).to.equal(3 + framing + 30)
    expect(network.traffic('b', 'maintenance').responseBytesSent).to.equal(6 + framing + 60)
    expect(network.uploadedBy('b', 'content')).to.equal((4 + framing + 40) + (8 + framing + 80))
    for (const cls of ['maintenance', 'content', undefined]) {
      expect(network.bytesSentBy('a', cls)).to.equal(network.bytesReceivedBy('b', cls))
      expect(network.bytesSentBy('b', cls)).to.equal(network.bytesReceivedBy('a', cls))
    }
    const totals = network.totals()
    expect(Object.keys(totals).sort()).to.deep.equal(['content', 'maintenance'])
    expect(totals.content.messages).to.equal(4)
    expect(totals.content.bytes).to.equal(network.bytesSentBy('a', 'content') + network.bytesSentBy('b', 'content'))
    expect(totals.maintenance.requests).to.equal(1)
    expect(network.messagesDelivered).to.equal(6)
    expect(network.traffic('a').messagesSent).to.equal(3)
    expect(network.traffic('nobody').messagesSent).to.equal(0)
  })

  it('replays the same trace for the same seed and a different one for another seed', async () => {
    const traceOf = async (seed: number): Promise<string> => {
      const trace: string[] = []
      const { scheduler, network } = setup({ loss: 0.1, trace: (kind, from, to) => { trace.push(`${scheduler.now} ${kind} ${from} ${to}`) } }, seed)
      const random = new SeededRandom(seed).fork('workload')
      const addresses = Array.from({ length: 50 }, (_, i) => `node-${i}`)
      const endpoints = addresses.map(address => network.rpc(address, echo))
      endpoints.forEach(e => { e.handle(async (_from, req) => req) })
      for (let i = 0; i < 500; i++) {
        scheduler.at(random.int(10_000), () => {
          const p = random.pick(endpoints).request(random.pick(addresses), { payload: Uint8Array.from([i & 0xff]) }, { timeout: 1_000 })
          // requests of the crashed node never settle, so nothing waits for them
          p.then(res => { trace.push(`${scheduler.now} answer ${res.payload[0]}`) }, err => { trace.push(`${scheduler.now} ${err.name}`) })
        })
      }
      scheduler.at(5_000, () => { network.crash('node-3') })
      await scheduler.run()
      expect(trace.some(line => line.includes(' lost '))).to.equal(true)
      expect(trace.some(line => line.includes(' dropped '))).to.equal(true)
      expect(trace.some(line => line.includes('RpcTimeoutError'))).to.equal(true)
      const digest = new Uint8Array(await crypto.subtle.digest('SHA-256', new TextEncoder().encode(trace.join('\n'))))
      return Buffer.from(digest).toString('hex')
    }
    const first = await traceOf(11)
    expect(await traceOf(11)).to.equal(first)
    expect(await traceOf(12)).to.not.equal(first)
  })
})
