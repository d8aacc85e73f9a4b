/**
 * `npm run build:browser`: bundles the browser entry (src/browser.ts) into
 * one minified ES module, `dist/browser/ringcdn.js` (+ `.map`), and prints
 * its size raw and gzipped. Sites load it with
 * `import { createRingCdn } from '/ringcdn.js'` or through the package export
 * `ringcdn/browser`.
 *
 * Usage: node --experimental-transform-types scripts/build-browser.ts [--outfile <path>] [--json]
 */
import { mkdirSync, readFileSync } from 'node:fs'
import { dirname, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'
import { parseArgs } from 'node:util'
import { gzipSync } from 'node:zlib'
import { build } from 'esbuild'
import type { BuildOptions } from 'esbuild'

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..')

/** Where `npm run build:browser` writes the bundle */
export const BROWSER_BUNDLE = resolve(ROOT, 'dist/browser/ringcdn.js')

/** The browsers the bundle targets: WebRTC data channels, `AbortSignal.any`, ES2022 */
export const BROWSER_TARGET = ['chrome116', 'firefox124', 'safari17.4']

/**
 * The esbuild settings of the page bundle; the P9 benchmark builds its
 * baseline with exactly these
 */
export function browserBuildOptions (entry: string, outfile: string): BuildOptions {
  return {
    entryPoints: [entry],
    outfile,
    bundle: true,
    format: 'esm',
    platform: 'browser',
    target: BROWSER_TARGET,
    minify: true,
    sourcemap: true,
    legalComments: 'none',
    // some dependencies read process.env.NODE_ENV; a page has no `process`
    define: { 'process.env.NODE_ENV': '"production"' },
    logLevel: 'warning'
  }
}

export interface BundleSize {
  file: string
  bytes: number
  gzipBytes: number
}

/** Size of a built file, raw and gzipped (level 9, what a CDN serves) */
export function bundleSize (file: string): BundleSize {
  const bytes = readFileSync(file)
  return { file, bytes: bytes.byteLength, gzipBytes: gzipSync(bytes, { level: 9 }).byteLength }
}

/** Builds `entry` to `outfile` the way the page bundle is built, and measures it */
export async function buildBrowserBundle (entry: string = resolve(ROOT, 'src/browser.ts'), outfile: string = BROWSER_BUNDLE): Promise<BundleSize> {
  mkdirSync(dirname(outfile), { recursive: true })
  await build(browserBuildOptions(entry, outfile))
  return bundleSize(outfile)
}

export function formatKiB (bytes: number): string {
  return `${(bytes / 1024).toFixed(1)} KiB`
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const { values } = parseArgs({ options: { outfile: { type: 'string' }, json: { type: 'boolean', default: false } } })
  const size = await buildBrowserBundle(undefined, values.outfile == null ? BROWSER_BUNDLE : resolve(values.outfile))
  if (values.json === true) {
    process.stdout.write(`${JSON.stringify(size)}\n`)
  } else {
    process.stdout.write(`${size.file}: ${formatKiB(size.bytes)} raw, ${formatKiB(size.gzipBytes)} gzip\n`)
  }
}
