// A user's Node program (TypeScript, run by Node's type stripping), type-checked and run by test/package/pack.spec.ts from a fresh app that
// installed the packed tarball: a relay (the `ringcdn/relay` export), two
// ringcdn nodes that know only the relay, and an HTTP origin. Each node
// fetches one asset from the origin and the other from its peer.
//
// A Node peer needs an address other peers can dial directly (here websockets
// on 127.0.0.1): with only a relay reservation it has no WebRTC-reachable
// address for ring traffic and its join fails.
//
// Prints one JSON line with the sources seen; exits non-zero with a named
// error on any failure or after DEADLINE_MS.
import { createHash } from 'node:crypto'
import { createServer } from 'node:http'
import { noise } from '@chainsafe/libp2p-noise'
import { yamux } from '@chainsafe/libp2p-yamux'
import { identify } from '@libp2p/identify'
import { webSockets } from '@libp2p/websockets'
import { createLibp2p } from 'libp2p'
import { ringCdn } from 'ringcdn'
import { createRelay } from 'ringcdn/relay'
import type { Identify } from '@libp2p/identify'
import type { Libp2p } from '@libp2p/interface'
import type { AddressInfo } from 'node:net'
import type { RingCdn } from 'ringcdn'

/** Bound on the whole program; the test's own bound on the child process is larger */
const DEADLINE_MS = Number(process.env.DEADLINE_MS ?? 60_000)
const NAMESPACE = 'https://app.example'

let step = 'start'
const deadline = setTimeout(() => {
  process.stderr.write(`two-nodes: TimeoutError: not done within ${DEADLINE_MS} ms (last step: ${step})\n`)
  process.exit(3)
}, DEADLINE_MS)

/** Polls `check` every 50 ms until it holds; throws a TimeoutError naming `what` after `ms` */
async function waitFor (check: () => boolean | Promise<boolean>, ms: number, what: string): Promise<void> {
  const end = Date.now() + ms
  while (!(await check())) {
    if (Date.now() > end) {
      const err = new Error(`timed out after ${ms} ms waiting for ${what}`)
      err.name = 'TimeoutError'
      throw err
    }
    await new Promise(resolve => setTimeout(resolve, 50))
  }
}

// the origin: two assets; fetches name their SHA-256 as `integrity`
const assets: Record<string, Uint8Array> = {
  '/a.bin': new Uint8Array(200_000).map((_, i) => (i * 7) % 251),
  '/b.bin': new Uint8Array(150_000).map((_, i) => (i * 13) % 241)
}
const originRequests: Record<string, number> = {}
const origin = createServer((req, res) => {
  const path = req.url ?? '/'
  const body = assets[path]
  originRequests[path] = (originRequests[path] ?? 0) + 1
  if (body == null) {
    res.writeHead(404).end()
    return
  }
  res.writeHead(200, { 'content-type': 'application/octet-stream', 'content-length': body.byteLength }).end(body)
})
await new Promise<void>(resolve => origin.listen(0, '127.0.0.1', resolve))
const base = `http://127.0.0.1:${(origin.address() as AddressInfo).port}`
const sri = (bytes: Uint8Array): string => `sha256-${createHash('sha256').update(bytes).digest('base64')}`

step = 'relay'
const relay = await createRelay({ host: '127.0.0.1', port: 0, httpPort: 0, processMetrics: false })

async function createNode (): Promise<Libp2p<{ identify: Identify, cdn: RingCdn }>> {
  return createLibp2p({
    // directly dialable: other ring members connect here
    addresses: { listen: ['/ip4/127.0.0.1/tcp/0/ws'] },
    transports: [webSockets()],
    connectionEncrypters: [noise()],
    streamMuxers: [yamux()],
    services: {
      identify: identify(),
      // homeCopies off: the home node would otherwise copy a lone asset and answer from its own store
      cdn: ringCdn({ namespace: NAMESPACE, bootstrap: [relay.multiaddrs[0]], baseUrl: base, homeCopies: false })
    }
  })
}

const nodes: Array<Libp2p<{ identify: Identify, cdn: RingCdn }>> = []
const result: Record<string, { first: string | null, second: string | null, intact: boolean, originRequests: number | undefined }> = {}
try {
  step = 'first node joins'
  nodes.push(await createNode())
  await nodes[0].services.cdn.whenJoined({ signal: AbortSignal.timeout(30_000) })
  step = 'second node joins'
  nodes.push(await createNode())
  await nodes[1].services.cdn.whenJoined({ signal: AbortSignal.timeout(30_000) })
  step = 'ring of two'
  const [a, b] = nodes
  await waitFor(() => {
    const ra = a.services.cdn.getRing()
    const rb = b.services.cdn.getRing()
    return ra.successors[0]?.peer === b.peerId.toString() && rb.successors[0]?.peer === a.peerId.toString()
  }, 30_000, 'each node to be the other\'s successor')

  for (const [path, first, second] of [['/a.bin', a, b], ['/b.bin', b, a]] as const) {
    step = `${path} from the origin`
    const integrity = sri(assets[path])
    const res1 = await first.services.cdn.fetch(path, { integrity, signal: AbortSignal.timeout(20_000) })
    const bytes1 = new Uint8Array(await res1.arrayBuffer())
    step = `${path} holder announced`
    await waitFor(async () => (await second.services.cdn.locate(path)).holders.length > 0, 20_000, `the home node of ${path} to list a holder`)
    step = `${path} from the peer`
    const res2 = await second.services.cdn.fetch(path, { integrity, signal: AbortSignal.timeout(20_000) })
    const bytes2 = new Uint8Array(await res2.arrayBuffer())
    result[path] = {
      first: res1.headers.get('ringcdn-source'),
      second: res2.headers.get('ringcdn-source'),
      intact: bytes1.byteLength === assets[path].byteLength && Buffer.compare(bytes2, Buffer.from(assets[path])) === 0,
      originRequests: originRequests[path]
    }
  }
  process.stdout.write(`${JSON.stringify(result)}\n`)
} catch (err: any) {
  process.stderr.write(`two-nodes: ${err.name}: ${err.message} (step: ${step})\n`)
  process.exitCode = 1
} finally {
  step = 'stop'
  for (const node of nodes) {
    await node.stop()
  }
  await relay.stop()
  origin.close()
  clearTimeout(deadline)
}
