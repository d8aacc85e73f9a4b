/**
 * `npm run bench:transfer`: one asset from a peer over TCP on loopback vs an
 * HTTP GET of the same bytes from a loopback origin, for 10 MiB and 100 MiB.
 * Prints and saves (bench/results/transfer.json) throughput, their ratio, and
 * the requester's peak memory growth (RSS, heap, array buffers) during each
 * transfer. For scale, the same bytes as bare frames over one libp2p stream
 * (TCP + noise + yamux, nothing verified or stored) are timed too. The holder
 * and origin run in a child process.
 *
 * The requester keeps the object in a memory content store (the CDN verifies
 * into the store and answers from it), so its memory grows by the object's
 * size by design (`storedMiB`). Array-buffer peaks also count chunk copies the
 * garbage collector has not reclaimed yet; RSS shows what the process held.
 */
import { spawn } from 'node:child_process'
import { mkdir, writeFile } from 'node:fs/promises'
import { createInterface } from 'node:readline'
import { lpStream } from '@libp2p/utils'
import { multiaddr } from '@multiformats/multiaddr'
import { keyForUrl } from '../src/keys.ts'
import { idToHex } from '../src/overlay/ring-id.ts'
import { MemoryContentStore } from '../src/storage/memory-store.ts'
import { RAW_PROTOCOL, createCdnNode, drain, median, sampleMemory } from './nodes.ts'

const MiB = 1024 * 1024
const SIZES = [10 * MiB, 100 * MiB]
const RUNS = 3

const child = spawn(process.execPath, ['--experimental-transform-types', '--disable-warning=ExperimentalWarning', new URL('./transfer-server.ts', import.meta.url).pathname, ...SIZES.map(String)], {
  stdio: ['pipe', 'pipe', 'inherit']
})
const fromServer = createInterface({ input: child.stdout })[Symbol.asyncIterator]()
child.once('exit', code => {
  if (code !== 0) {
    process.stderr.write(`transfer server exited with ${code}\n`)
    process.exit(1)
  }
})
const server: { base: string, integrity: Record<string, string>, multiaddrs: string[] } = JSON.parse((await fromServer.next()).value ?? 'null')

const store = new MemoryContentStore({}, { maxBytes: 2 * SIZES.reduce((a, b) => a + b, 0) })
const node = await createCdnNode('tcp', { bootstrap: server.multiaddrs, store, maxObjectBytes: 1024 * MiB })
await node.services.cdn.whenJoined({ signal: AbortSignal.timeout(30_000) })
child.stdin.write('go\n')
if ((await fromServer.next()).value !== 'ready') {
  throw new Error('the transfer server did not get ready')
}

const results = []
for (const size of SIZES) {
  const url = `${server.base}/asset-${size}.bin`
  const http: number[] = []
  const peer: number[] = []
  const raw: number[] = []
  let httpMemory
  let peerMemory
  for (let run = 0; run < RUNS; run++) {
    global.gc?.()
    let stop = sampleMemory()
    let started = performance.now()
    const got = await drain(await fetch(url))
    http.push(performance.now() - started)
    httpMemory = stop()
    if (got !== size) {
      throw new Error(`HTTP delivered ${got} of ${size} bytes`)
    }

    started = performance.now()
    const rawBytes = await rawStream(size)
    raw.push(performance.now() - started)
    if (rawBytes !== size) {
      throw new Error(`the raw stream delivered ${rawBytes} of ${size} bytes`)
    }

    await store.delete(idToHex(keyForUrl(url)))
    global.gc?.()
    stop = sampleMemory()
    started = performance.now()
    const res = await node.services.cdn.fetch(url, { integrity: server.integrity[url] })
    const bytes = await drain(res)
    peer.push(performance.now() - started)
    peerMemory = stop()
    if (res.headers.get('ringcdn-source') !== 'peer' || bytes !== size) {
      throw new Error(`ringcdn delivered ${bytes} of ${size} bytes from ${res.headers.get('ringcdn-source')}`)
    }
  }
  const mibps = (ms: number): number => Math.round(size / MiB / (ms / 1000) * 10) / 10
  const result = {
    sizeMiB: size / MiB,
    runs: RUNS,
    httpMedianMs: Math.round(median(http)),
    peerMedianMs: Math.round(median(peer)),
    rawStreamMedianMs: Math.round(median(raw)),
    httpMiBps: mibps(median(http)),
    peerMiBps: mibps(median(peer)),
    rawStreamMiBps: mibps(median(raw)),
    /** peer throughput ÷ HTTP throughput */
    throughputRatio: Math.round(median(http) / median(peer) * 100) / 100,
    /** peer throughput ÷ bare libp2p stream throughput: the cost of verification, storing and flow control */
    ofRawStream: Math.round(median(raw) / median(peer) * 100) / 100,
    httpMemory,
    /** growth during the transfer; the requester's memory store keeps a copy of the object (`storedMiB`) by design */
    peerMemory: { ...peerMemory, storedMiB: size / MiB }
  }
  results.push(result)
  process.stdout.write(JSON.stringify(result) + '\n')
}

/** Reads `size` bytes of bare length-prefixed frames from the holder over a fresh stream */
async function rawStream (size: number): Promise<number> {
  const stream = await node.dialProtocol(multiaddr(server.multiaddrs[0]), RAW_PROTOCOL, { signal: AbortSignal.timeout(10_000) })
  const lp = lpStream(stream, { maxDataLength: 2 * MiB, maxBufferSize: 256 * MiB })
  await lp.write(new TextEncoder().encode(String(size)))
  await stream.close()
  let got = 0
  while (got < size) {
    got += (await lp.read()).byteLength
  }
  return got
}

const out = { benchmark: 'transfer', date: new Date().toISOString(), node: process.version, transport: 'tcp loopback, noise, yamux', results }
await mkdir(new URL('./results/', import.meta.url), { recursive: true })
await writeFile(new URL('./results/transfer.json', import.meta.url), JSON.stringify(out, null, 2) + '\n')
process.stdout.write('saved bench/results/transfer.json\n')
await node.stop()
child.stdin.end()
