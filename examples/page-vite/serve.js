// The site's origin for this example: serves dist/ (what `vite build` wrote:
// the page, its bundle and the assets copied from public/; and the manifest)
// and /ringcdn-config.json with the relay's address, and logs every request,
// so you can watch a second tab load the picture without asking the origin for
// it.
//
//   RINGCDN_RELAY=/ip4/127.0.0.1/tcp/9090/ws/p2p/12D3KooW… node serve.js
import { readFile } from 'node:fs/promises'
import { createServer } from 'node:http'
import { extname, join, normalize } from 'node:path'

const ROOT = join(import.meta.dirname, 'dist')
const TYPES = { '.html': 'text/html; charset=utf-8', '.js': 'text/javascript; charset=utf-8', '.json': 'application/json', '.svg': 'image/svg+xml' }
const relay = (process.env.RINGCDN_RELAY ?? '').split(',').filter(a => a !== '')
if (relay.length === 0) {
  console.error('serve.js: set RINGCDN_RELAY to the relay\'s multiaddr (what `npx ringcdn-relay` prints), e.g.\n' +
    '  RINGCDN_RELAY=/ip4/127.0.0.1/tcp/9090/ws/p2p/12D3KooW… node serve.js')
  process.exit(2)
}

const server = createServer(async (req, res) => {
  const path = decodeURIComponent(new URL(req.url ?? '/', 'http://x').pathname)
  let status = 200
  try {
    if (path === '/ringcdn-config.json') {
      res.writeHead(200, { 'content-type': 'application/json', 'cache-control': 'no-store' }).end(JSON.stringify({ relay }))
      return
    }
    const file = normalize(join(ROOT, path.endsWith('/') ? `${path}index.html` : path))
    if (!file.startsWith(ROOT)) {
      status = 404
      res.writeHead(404).end()
      return
    }
    const body = await readFile(file)
    // no-store: otherwise the browser's HTTP cache, not the ring, would answer a second tab
    res.writeHead(200, { 'content-type': TYPES[extname(file)] ?? 'application/octet-stream', 'cache-control': 'no-store' }).end(body)
  } catch {
    status = 404
    res.writeHead(404).end()
  } finally {
    console.error(`${req.method} ${path} ${status}`)
  }
})
server.listen(Number(process.env.PORT ?? 8080), process.env.HOST ?? '127.0.0.1', () => {
  const { address, port } = server.address()
  console.log(`http://${address}:${port}/`)
})
