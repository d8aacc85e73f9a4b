/**
 * The serving side of `npm run bench:transfer`, in its own process so the
 * requester's memory is measured alone: an HTTP origin on 127.0.0.1 and a
 * ringcdn node (TCP). Prints one JSON line with its addresses; on the first
 * line from stdin (the requester has joined) fetches every asset from the
 * origin, so it holds them, and prints `ready`; runs until stdin closes.
 */
import { createHash, randomBytes } from 'node:crypto'
import { createServer } from 'node:http'
import { createInterface } from 'node:readline'
import { lpStream } from '@libp2p/utils'
import { CHUNK_SIZE } from '../src/storage/content-store.ts'
import { MemoryContentStore } from '../src/storage/memory-store.ts'
import { RAW_PROTOCOL, createCdnNode } from './nodes.ts'
import type { AddressInfo } from 'node:net'

const sizes = process.argv.slice(2).map(Number)
const assets = new Map<string, Uint8Array>(sizes.map(size => [`/asset-${size}.bin`, randomBytes(size)]))
const server = createServer((req, res) => {
  const body = assets.get(req.url ?? '')
  if (body == null) {
    res.writeHead(404)
    res.end()
    return
  }
  res.writeHead(200, { 'content-type': 'application/octet-stream', 'content-length': String(body.byteLength) })
  res.end(body)
})
await new Promise<void>(resolve => { server.listen(0, '127.0.0.1', () => { resolve() }) })
const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`
const integrity = Object.fromEntries([...assets].map(([path, body]) => [`${base}${path}`, `sha256-${createHash('sha256').update(body).digest('base64')}`]))

const store = new MemoryContentStore({}, { maxBytes: 2 * sizes.reduce((a, b) => a + b, 0) + 1 })
const node = await createCdnNode('tcp', { bootstrap: [], store, maxObjectBytes: 1024 * 1024 * 1024 })
await node.services.cdn.whenJoined()

// the ceiling: the same bytes as bare length-prefixed frames over one libp2p stream (no verification, no store)
await node.handle(RAW_PROTOCOL, async (stream) => {
  const lp = lpStream(stream, { maxDataLength: 16 })
  const size = Number(new TextDecoder().decode((await lp.read()).subarray()))
  const frame = new Uint8Array(CHUNK_SIZE)
  for (let sent = 0; sent < size; sent += frame.byteLength) {
    await lp.write(frame.subarray(0, Math.min(frame.byteLength, size - sent)))
  }
  await stream.close()
})
process.stdout.write(JSON.stringify({ base, integrity, multiaddrs: node.getMultiaddrs().map(String) }) + '\n')

// once the requester has joined, fetch every asset from the origin: each fetch tells the asset's home node
const lines = createInterface({ input: process.stdin })
lines.once('line', () => {
  void (async () => {
    for (const url of Object.keys(integrity)) {
      const res = await node.services.cdn.fetch(url, { integrity: integrity[url] })
      await res.arrayBuffer()
    }
    process.stdout.write('ready\n')
  })()
})
lines.once('close', () => {
  void (async () => {
    await node.stop()
    server.closeAllConnections()
    server.close()
    process.exit(0)
  })()
})
