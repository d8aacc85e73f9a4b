// A user's service worker script: type-checked (not run) by
// test/package/pack.spec.ts in the same program as the page code, with the DOM
// lib and without WebWorker (the two libs clash).
import { ringCdnServiceWorker } from 'ringcdn/service-worker'

ringCdnServiceWorker({ allow: ['/assets/', /\.m4s$/] })
