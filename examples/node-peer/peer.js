// A ringcdn peer in Node: joins a ring through a relay, fetches assets (from
// a peer when one holds them, otherwise from the origin, always verified
// against the site's manifest), then stays and serves them to the other
// members until Ctrl-C (or leaves at once with --exit).
//
//   node peer.js --relay <multiaddr> --base-url http://127.0.0.1:8080/ /assets/hero.svg
//
// Prints one JSON line per asset: {"url", "source": "origin" | "peer" | "local", "bytes", "sha256"}.
import { createHash } from 'node:crypto'
import { parseArgs } from 'node:util'
import { noise } from '@chainsafe/libp2p-noise'
import { yamux } from '@chainsafe/libp2p-yamux'
import { identify } from '@libp2p/identify'
import { webSockets } from '@libp2p/websockets'
import { createLibp2p } from 'libp2p'
import { ringCdn } from 'ringcdn'

const { values: args, positionals: urls } = parseArgs({
  allowPositionals: true,
  options: {
    relay: { type: 'string', multiple: true }, // the relay's multiaddr, /ip4/…/tcp/9090/ws/p2p/12D3KooW…
    'base-url': { type: 'string' }, // the site: relative URLs and the manifest resolve against it
    manifest: { type: 'string', default: 'ringcdn-manifest.json' }, // trusted digests (`npx ringcdn manifest`)
    namespace: { type: 'string', default: 'ringcdn-node-example' }, // the ring to join: every member uses the same
    host: { type: 'string', default: '127.0.0.1' }, // where other members reach this peer
    port: { type: 'string', default: '0' }, // its websocket port; 0 = any free port
    exit: { type: 'boolean', default: false } // leave once fetched instead of serving
  }
})
if (args.relay == null || args['base-url'] == null || urls.length === 0) {
  console.error('usage: node peer.js --relay <multiaddr> --base-url <url> [--manifest <url>] [--namespace <ring>] [--host <ip>] [--port <n>] [--exit] <asset URL>...')
  process.exit(2)
}

const node = await createLibp2p({
  // A Node peer needs an address the other members can dial directly: a relay reservation alone gives
  // no address ring traffic may use, and joining fails with "The dial request has no valid addresses".
  // On another machine, listen on a reachable interface (--host 0.0.0.0 and announce the public address).
  addresses: { listen: [`/ip4/${args.host}/tcp/${args.port}/ws`] },
  transports: [webSockets()],
  connectionEncrypters: [noise()],
  streamMuxers: [yamux()],
  services: {
    identify: identify(),
    cdn: ringCdn({
      namespace: args.namespace,
      bootstrap: args.relay,
      baseUrl: args['base-url'], // Node has no page URL: relative URLs need a base
      manifest: args.manifest
    })
  }
})
const cdn = node.services.cdn

const stop = async () => {
  await node.stop() // leaves the ring: neighbours take over what this peer knew
  process.exit(0)
}
process.once('SIGINT', stop)
process.once('SIGTERM', stop)

// a fetch before joining would go to the origin; wait for the ring, but not forever
await cdn.whenJoined({ signal: AbortSignal.timeout(30_000) })
console.error(`joined ring "${args.namespace}" as ${node.peerId} on ${node.getMultiaddrs().join(' ')}`)

for (const url of urls) {
  // falls back to the origin on any miss, timeout or bad byte; throws only if the origin fails too
  const res = await cdn.fetch(url, { signal: AbortSignal.timeout(30_000) })
  const body = new Uint8Array(await res.arrayBuffer())
  const sha256 = createHash('sha256').update(body).digest('hex')
  console.log(JSON.stringify({ url, source: res.headers.get('ringcdn-source'), bytes: body.byteLength, sha256 }))
}

if (args.exit) {
  await stop()
}
console.error('serving what it holds to the ring; Ctrl-C to leave')
