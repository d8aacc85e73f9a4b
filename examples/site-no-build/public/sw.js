// The site's service worker (registered with { type: 'module' }): same-origin GETs under /assets/ are
// answered by a tab's ringcdn node (peer, local or origin, always verified); anything else, or no tab
// answering within 3 s, goes to the network. '/ringcdn-sw.js' is the package's
// node_modules/ringcdn/dist/src/service-worker.js, which imports nothing.
import { ringCdnServiceWorker } from '/ringcdn-sw.js'

ringCdnServiceWorker({ allow: ['/assets/'] })
