/**
 * The bootstrap protocol on the wire: a relay answers malformed, oversized
 * and wrong-type frames with INVALID_REQUEST and keeps serving; the client
 * turns bad answers, refusals, silence and foreign peers into named errors.
 */
import { noise } from '@chainsafe/libp2p-noise'
import { yamux } from '@chainsafe/libp2p-yamux'
import { identify } from '@libp2p/identify'
import { lpStream } from '@libp2p/utils'
import { webSockets } from '@libp2p/websockets'
import { multiaddr } from '@multiformats/multiaddr'
import { expect } from 'aegir/chai'
import { createLibp2p } from 'libp2p'
import { createRelay } from '../../relay/relay.ts'
import { BOOTSTRAP_PROTOCOL, MAX_BOOTSTRAP_REQUEST_BYTES, queryBootstrap } from '../../src/libp2p/bootstrap-client.ts'
import { BootstrapRequest, BootstrapResponse } from '../../src/libp2p/bootstrap-messages.ts'
import type { Relay } from '../../relay/relay.ts'
import type { Connection, Libp2p } from '@libp2p/interface'

async function createClient (listen: string[] = []): Promise<Libp2p> {
  return createLibp2p({
    addresses: { listen },
    transports: [webSockets()],
    connectionEncrypters: [noise()],
    streamMuxers: [yamux()],
    connectionMonitor: { enabled: false },
    services: { identify: identify() }
  })
}

/** Sends bytes as one frame and returns the relay's answer */
async function exchange (connection: Connection, bytes: Uint8Array): Promise<BootstrapResponse> {
  const stream = await connection.newStream(BOOTSTRAP_PROTOCOL, { signal: AbortSignal.timeout(5_000) })
  const signal = AbortSignal.timeout(5_000)
  const lp = lpStream(stream, { maxDataLength: 1_000_000 })
  await lp.write(bytes, { signal })
  await stream.close({ signal })
  return BootstrapResponse.decode((await lp.read({ signal })).subarray())
}

describe('relay: bootstrap protocol on the wire', function () {
  this.timeout(30_000)

  let relay: Relay
  let client: Libp2p
  let connection: Connection

  before(async () => {
    relay = await createRelay({ port: 0, httpPort: 0, processMetrics: false })
    client = await createClient()
    connection = await client.dial(multiaddr(relay.multiaddrs[0]), { signal: AbortSignal.timeout(5_000) })
  })

  after(async () => {
    await client?.stop()
    await relay?.stop()
  })

  /** A valid request still gets a valid answer */
  async function stillServes (): Promise<void> {
    const answer = await queryBootstrap(connection, { namespace: 'still-serving', addrs: [], member: true })
    expect(answer).to.deep.equal({ type: 'members', members: [], registered: true })
  }

  it('answers bytes that do not decode with INVALID_REQUEST and keeps serving', async () => {
    const res = await exchange(connection, Uint8Array.from([0xff, 0xff, 0xff, 0xff, 0xff, 0xff]))
    expect(res.status).to.equal(BootstrapResponse.Status.INVALID_REQUEST)
    expect(res.message).to.match(/undecodable/)
    await stillServes()
  })

  it('answers a namespace with control characters with INVALID_REQUEST', async () => {
    const res = await exchange(connection, BootstrapRequest.encode({ namespace: 'a\u0000b', addrs: [], member: true, limit: 0 }))
    expect(res.status).to.equal(BootstrapResponse.Status.INVALID_REQUEST)
    expect(res.message).to.match(/control characters/)
  })

  it('answers an oversized frame with INVALID_REQUEST without reading it', async () => {
    const res = await exchange(connection, new Uint8Array(MAX_BOOTSTRAP_REQUEST_BYTES + 1))
    expect(res.status).to.equal(BootstrapResponse.Status.INVALID_REQUEST)
    expect(res.message).to.match(/too large/)
    await stillServes()
  })

  it('answers a frame of the wrong message type with INVALID_REQUEST', async () => {
    const wrong = BootstrapResponse.encode({ status: BootstrapResponse.Status.FOUND, members: [], registered: true, message: '' })
    const res = await exchange(connection, wrong)
    expect(res.status).to.equal(BootstrapResponse.Status.INVALID_REQUEST)
    await stillServes()
  })

  it('refuses an empty namespace, too many addresses, and another peer\'s address', async () => {
    const empty = await exchange(connection, BootstrapRequest.encode({ namespace: '', addrs: [], member: false, limit: 0 }))
    expect(empty.status).to.equal(BootstrapResponse.Status.INVALID_REQUEST)
    expect(empty.message).to.match(/namespace/)

    const addr = multiaddr('/ip4/127.0.0.1/tcp/1/ws').bytes
    const many = await exchange(connection, BootstrapRequest.encode({ namespace: 'x', addrs: Array(9).fill(addr), member: true, limit: 0 }))
    expect(many.status).to.equal(BootstrapResponse.Status.INVALID_REQUEST)

    const foreign = multiaddr(`/ip4/127.0.0.1/tcp/1/ws/p2p/${relay.peerId}`).bytes
    const other = await exchange(connection, BootstrapRequest.encode({ namespace: 'x', addrs: [foreign], member: true, limit: 0 }))
    expect(other.status).to.equal(BootstrapResponse.Status.INVALID_REQUEST)
    expect(other.message).to.match(/another peer/)
    expect(relay.registry.members('x')).to.be.empty()
    expect(relay.stats().invalidBootstrapRequests).to.be.at.least(6)
    await stillServes()
  })

  it('tells the client a peer that does not speak the protocol with BootstrapUnsupportedError', async () => {
    const other = await createClient(['/ip4/127.0.0.1/tcp/0/ws'])
    try {
      const conn = await client.dial(other.getMultiaddrs(), { signal: AbortSignal.timeout(5_000) })
      await expect(queryBootstrap(conn, { namespace: 'x', addrs: [], member: false })).to.eventually.be.rejected.with.property('name', 'BootstrapUnsupportedError')
    } finally {
      await other.stop()
    }
  })

  it('turns a garbage answer, a refusal and silence into named errors at the client', async () => {
    const fake = await createClient(['/ip4/127.0.0.1/tcp/0/ws'])
    let reply: Uint8Array | undefined
    await fake.handle(BOOTSTRAP_PROTOCOL, async (stream) => {
      const lp = lpStream(stream)
      await lp.read()
      if (reply != null) {
        await lp.write(reply)
        await stream.close()
      }
      // no reply: stay silent until the client gives up
    })
    try {
      const conn = await client.dial(fake.getMultiaddrs(), { signal: AbortSignal.timeout(5_000) })
      const ask = async (): Promise<unknown> => queryBootstrap(conn, { namespace: 'x', addrs: [], member: false }, { timeout: 1_000 })

      reply = Uint8Array.from([0x12, 0x05, 0x0a, 0x00])
      await expect(ask()).to.eventually.be.rejected.with.property('name', 'InvalidMessageError')
      // an empty frame decodes to status UNSPECIFIED, which no relay sends
      reply = new Uint8Array(0)
      await expect(ask()).to.eventually.be.rejected.with.property('name', 'InvalidMessageError')
      reply = BootstrapResponse.encode({ status: BootstrapResponse.Status.UNAVAILABLE, members: [], registered: false, message: 'full' })
      await expect(ask()).to.eventually.be.rejected.with.property('name', 'BootstrapRefusedError')
      // members sent beside WAIT are not taken: nobody is listed before it registers
      reply = BootstrapResponse.encode({ status: BootstrapResponse.Status.WAIT, members: [{ peer: client.peerId.toMultihash().bytes, addrs: [] }], registered: false, message: '' })
      await expect(ask()).to.eventually.deep.equal({ type: 'wait' })
      reply = undefined
      await expect(ask()).to.eventually.be.rejected.with.property('name', 'RpcTimeoutError')
    } finally {
      await fake.stop()
    }
  })

  it('refuses to send a namespace the relay would refuse', async () => {
    await expect(queryBootstrap(connection, { namespace: 'x'.repeat(257), addrs: [], member: false })).to.eventually.be.rejected.with.property('name', 'InvalidMessageError')
  })
})
