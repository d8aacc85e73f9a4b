// The page's script, bundled by Vite into dist/assets/index-<hash>.js (`npm run build`).
// It starts ringcdn, waits a little for the ring, then loads an image through
// it: from a peer that holds it (verified against the manifest's digest) or
// from the origin. Without ringcdn (no relay, an old browser) it loads the
// image from the origin with a plain fetch.
import { createRingCdn } from 'ringcdn/browser'

const ASSET = '/assets/hero.svg'
/**
 * How long the page waits to join the ring before fetching, ms. Fetches before joining go to the origin;
 * a real site would fetch at once, this example waits to show the picture coming from another visitor.
 */
const JOIN_TIMEOUT_MS = 30_000

const show = (id, text) => { document.getElementById(id).textContent = text }

/** Starts ringcdn; undefined if it cannot start (the page then uses plain fetch) */
async function startRingCdn () {
  try {
    // the relay's address: fixed in production (/dns4/relay.example.com/tcp/443/wss/p2p/…); serve.js hands it out here
    const { relay } = await (await fetch('/ringcdn-config.json')).json()
    return await createRingCdn({
      relay,
      manifest: '/ringcdn-manifest.json', // trusted digests: no peer bytes without one
      store: 'indexeddb' // what this page holds (and serves) survives a reload
    })
  } catch (err) {
    // e.g. InvalidRelayAddressError: the message names the option to fix
    show('ring', `ringcdn did not start: ${err.name}: ${err.message}`)
    return undefined
  }
}

// what the ring did for this page's fetches: each lookup and each holder that did not deliver
function logRingEvents (cdn) {
  const log = (line) => { document.getElementById('log').textContent += `${line}\n` }
  cdn.addEventListener('lookup', ({ detail }) => {
    log(detail.error != null ? `lookup failed: ${detail.error}` : `lookup: home ${detail.home}, ${detail.hops} hops, ${detail.holders} holder(s)`)
  })
  cdn.addEventListener('holder-failure', ({ detail }) => { log(`holder ${detail.peer} did not deliver: ${detail.error}: ${detail.message}`) })
}

const cdn = await startRingCdn()
if (cdn != null) {
  logRingEvents(cdn)
}
if (cdn != null && !cdn.peerToPeer) {
  // no WebRTC in this browser: cdn.fetch goes to the origin, which is fine
  show('ring', cdn.peerToPeerUnavailable)
} else if (cdn != null) {
  try {
    await cdn.whenJoined({ signal: AbortSignal.timeout(JOIN_TIMEOUT_MS) })
    show('ring', `joined the ring as ${cdn.peerId}`)
  } catch (err) {
    // not a member yet: cdn.fetch still works (from the origin until the page joins)
    show('ring', `not in the ring yet (${err.name}); loading from the origin`)
  }
}

// cdn.fetch falls back to the origin on any miss, timeout or bad byte
const res = cdn != null ? await cdn.fetch(ASSET) : await fetch(ASSET)
const bytes = await res.arrayBuffer()
document.getElementById('hero').src = URL.createObjectURL(new Blob([bytes], { type: 'image/svg+xml' }))
// 'origin', 'peer' (another visitor's page), or 'local' (this browser already had it)
show('source', res.headers.get('ringcdn-source') ?? 'origin (plain fetch)')
show('bytes', String(bytes.byteLength))
