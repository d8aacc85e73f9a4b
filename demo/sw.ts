/**
 * The demo site's service worker: the one line a site adds. Same-origin GETs
 * under /assets/ are answered by a tab's ringcdn node (peer, local or origin,
 * always verified), anything else goes to the network.
 */
import { ringCdnServiceWorker } from '../src/service-worker.ts'

ringCdnServiceWorker({ allow: ['/assets/'] })
