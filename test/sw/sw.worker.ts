/**
 * The site's service worker in the tests: the one line a site writes, with
 * the ack deadline taken from the script URL (`/sw.js?timeout=1500`) so a
 * test can shorten it.
 */
import { ringCdnServiceWorker } from '../../src/service-worker.ts'

const timeout = Number(new URL(self.location.href).searchParams.get('timeout') ?? NaN)
ringCdnServiceWorker({ allow: ['/assets/', /\.m4s$/], timeoutMs: Number.isFinite(timeout) ? timeout : undefined })
