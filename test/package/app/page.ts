// A user's page code: type-checked (not run) by test/package/pack.spec.ts with
// the tsconfig the README documents (lib ES2022 + DOM, skipLibCheck: false).
import { createRingCdn, serveServiceWorker } from 'ringcdn/browser'
import type { RingCdnStats } from 'ringcdn'

export async function start (relay: string): Promise<RingCdnStats> {
  const cdn = await createRingCdn({ relay, manifest: '/ringcdn-manifest.json', store: 'indexeddb' })
  serveServiceWorker(cdn)
  const res = await cdn.fetch('/img/hero.jpg')
  document.title = res.headers.get('ringcdn-source') ?? 'unknown'
  return cdn.getStats()
}
