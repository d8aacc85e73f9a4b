/**
 * `npm run bench:p9`: what ringcdn adds to a page. Builds the browser entry
 * (`src/browser.ts`, everything a page loads: libp2p, its transports, the
 * ring, the CDN, both stores) and a bare libp2p browser node with the same
 * transports (`bench/pages/p9-bare-node.ts`) with the same esbuild settings
 * (`browserBuildOptions`: ESM, minified, browser platform), gzips both (level
 * 9) and compares. Bar: the page bundle is at most 200 KB (204 800 bytes)
 * gzipped.
 *
 * Prints and saves bench/results/p9-bundle.json.
 */
import { mkdtempSync, rmSync } from 'node:fs'
import { mkdir, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { dirname, join, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'
import { build } from 'esbuild'
import { browserBuildOptions, bundleSize, formatKiB } from '../scripts/build-browser.ts'

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..')
/** Largest acceptable page bundle, gzipped, bytes (200 KB) */
const BAR_GZIP_BYTES = 200 * 1024

const dir = mkdtempSync(join(tmpdir(), 'ringcdn-p9-'))
try {
  const measure = async (entry: string, name: string): Promise<{ bytes: number, gzipBytes: number }> => {
    const outfile = join(dir, `${name}.js`)
    await build(browserBuildOptions(resolve(ROOT, entry), outfile))
    const { bytes, gzipBytes } = bundleSize(outfile)
    return { bytes, gzipBytes }
  }
  const ringcdn = await measure('src/browser.ts', 'ringcdn')
  const bare = await measure('bench/pages/p9-bare-node.ts', 'bare')
  const result = {
    benchmark: 'p9-bundle',
    command: 'npm run bench:p9',
    date: new Date().toISOString(),
    node: process.version,
    build: 'esbuild, ESM, minified, platform browser, target ' + String(browserBuildOptions('', '').target) + '; gzip level 9',
    ringcdn: { entry: 'src/browser.ts', ...ringcdn },
    bareLibp2p: { entry: 'bench/pages/p9-bare-node.ts', transports: 'websockets + webrtc + circuit relay + noise + yamux + identify', ...bare },
    difference: { bytes: ringcdn.bytes - bare.bytes, gzipBytes: ringcdn.gzipBytes - bare.gzipBytes },
    bar: { maxGzipBytes: BAR_GZIP_BYTES, pass: ringcdn.gzipBytes <= BAR_GZIP_BYTES }
  }
  await mkdir(resolve(ROOT, 'bench/results'), { recursive: true })
  await writeFile(resolve(ROOT, 'bench/results/p9-bundle.json'), `${JSON.stringify(result, null, 2)}\n`)
  process.stdout.write(`ringcdn page bundle: ${formatKiB(ringcdn.bytes)} raw, ${formatKiB(ringcdn.gzipBytes)} gzip\n`)
  process.stdout.write(`bare libp2p node:    ${formatKiB(bare.bytes)} raw, ${formatKiB(bare.gzipBytes)} gzip\n`)
  process.stdout.write(`ringcdn adds:        ${formatKiB(result.difference.bytes)} raw, ${formatKiB(result.difference.gzipBytes)} gzip\n`)
  process.stdout.write(`bar ≤ ${formatKiB(BAR_GZIP_BYTES)} gzip: ${result.bar.pass ? 'pass' : 'FAIL'}\n`)
  if (!result.bar.pass) {
    process.exitCode = 1
  }
} finally {
  rmSync(dir, { recursive: true, force: true })
}
