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
import type { BuildOptions, Plugin } from 'esbuild'

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
    plugins: pageBundlePlugins(),
    logLevel: 'warning'
  }
}

/** What the page bundle's build changes in its sources (the demo server bundles its pages with them too) */
export function pageBundlePlugins (): Plugin[] {
  return [dedupeIdenticalPackages(), dropStreamingDecoders(), ed25519KeysOnly(), libraryPatches()]
}

/**
 * Package versions whose code is the same as another version's, so the
 * bundle keeps one copy: `@chainsafe/libp2p-yamux` pins uint8arraylist 2.4.9,
 * everything else uses 3.0.2, and the two `dist/src/index.js` differ only in
 * comments and in the uint8arrays major they import, whose `alloc`, `concat`
 * and `equals` (all they use) are identical files (1.7 KiB of gzip). Exact
 * versions: a new one is bundled as it is until checked the same way
 */
export const SAME_CODE: Record<string, string> = {
  'uint8arraylist@2.4.9': '3.0.2'
}

/**
 * One copy of each package version in the bundle. npm nests a dependency
 * under each package that needs a version other than the hoisted one, so
 * two packages needing the same other version get two identical copies
 * (`@chainsafe/libp2p-noise` and `@chainsafe/libp2p-yamux` each carry
 * uint8arraylist 2.4.9), and esbuild, which bundles by path, would include
 * both. This resolves every bare import as usual, then points all imports
 * of one name and version at the first copy resolved.
 */
export function dedupeIdenticalPackages (): Plugin {
  return {
    name: 'dedupe-identical-packages',
    setup (build) {
      const first = new Map<string, string>()
      build.onResolve({ filter: /^[^./]/ }, async (args) => {
        if (args.pluginData === 'dedupe') {
          return undefined
        }
        const resolved = await build.resolve(args.path, { kind: args.kind, importer: args.importer, resolveDir: args.resolveDir, pluginData: 'dedupe' })
        const root = packageRoot(resolved.path)
        if (resolved.errors.length > 0 || root == null) {
          return resolved.errors.length > 0 ? { errors: resolved.errors } : { path: resolved.path, external: resolved.external, sideEffects: resolved.sideEffects }
        }
        const { name, version } = JSON.parse(readFileSync(resolve(root, 'package.json'), 'utf8'))
        const id = `${name}@${SAME_CODE[`${name}@${version}`] ?? version}:${resolved.path.slice(root.length)}`
        const canonical = first.get(id) ?? resolved.path
        first.set(id, canonical)
        return { path: canonical, sideEffects: resolved.sideEffects }
      })
    }
  }
}

/** The key modules of other types that `@libp2p/crypto`'s key functions import */
const OTHER_KEY_TYPES = /^\.\/(rsa|secp256k1|ecdsa)\//

/**
 * The page bundle resolves `@libp2p/crypto`'s RSA, secp256k1 and ECDSA key
 * modules to `src/browser/ed25519-only-keys.ts`: every identity a page meets
 * is Ed25519, and their curve code was 9.9 KiB of gzip (the bundle's budget is
 * 200 KiB). Only imports from the key functions' module are redirected; it
 * is the only importer of those modules in the page bundle.
 */
export function ed25519KeysOnly (): Plugin {
  return {
    name: 'ed25519-keys-only',
    setup (build) {
      build.onResolve({ filter: OTHER_KEY_TYPES }, (args) => {
        if (!/[/\\]@libp2p[/\\]crypto[/\\]dist[/\\]src[/\\]keys[/\\]index\.js$/.test(args.importer)) {
          return undefined
        }
        return { path: resolve(ROOT, 'src/browser/ed25519-only-keys.ts') }
      })
    }
  }
}

/**
 * A change the page bundle makes to a library module's text, where the
 * library's behaviour costs pages and no option changes it. The replaced
 * span starts at `from` and ends after the first `end` from `to` on;
 * `from` and `to` must each appear once, so a new version of the library
 * fails the build instead of being bundled unpatched.
 */
export interface LibraryPatch {
  /** Named in build errors */
  name: string
  /** The module's path in node_modules */
  module: RegExp
  from: string
  to: string
  end: string
  replacement: string
}

export const LIBRARY_PATCHES: LibraryPatch[] = [{
  /**
   * A dialling page creates an `init` data channel, waits for it to open,
   * closes it and waits for it to close. The answering page's muxer closes
   * that channel as soon as it adopts it, so when the answerer is quick the
   * channel is already closing or closed by the time the dialler looks, and
   * `@libp2p/webrtc` 6.0 then waits for an `open` event that never comes: the
   * dial hangs on a connected peer connection until its deadline (libp2p's
   * 6 s per address). Between two Chromium pages on a quiet machine that was
   * 11 and 4 dials in two runs of 100-odd (`npm run bench:p6`,
   * bench/RESULTS.md). The page
   * waits for whichever of open and close comes first, and for the close
   * only while the channel is not closed yet.
   */
  name: 'settled-init-channel',
  module: /[/\\]@libp2p[/\\]webrtc[/\\]dist[/\\]src[/\\]private-to-private[/\\]initiate-connection\.js$/,
  from: "if (channel.readyState !== 'open') {",
  to: "await pEvent(channel, 'close', {",
  end: '});',
  replacement: `if (channel.readyState === 'connecting') {
            await pEvent(channel, ['open', 'close'], { signal });
        }
        if (channel.readyState === 'open') {
            channel.close();
        }
        if (channel.readyState !== 'closed') {
            await pEvent(channel, 'close', { signal });
        }
        log.trace('init channel settled');`
}, {
  /**
   * `@libp2p/webrtc` closes a connection when its peer connection's state
   * becomes `failed` or `closed`. When the other page closes its side (a
   * connection it trims, a tab that goes), Chromium closes the SCTP and DTLS
   * transports at once but leaves the state `connected` until ICE consent
   * checks fail, about 15 s later; until then the connection looks open, takes
   * a place in the page's connection budget and swallows the streams opened
   * on it. The page also closes it when the SCTP transport closes.
   */
  name: 'close-with-sctp',
  module: /[/\\]@libp2p[/\\]webrtc[/\\]dist[/\\]src[/\\]rtcpeerconnection-to-conn\.js$/,
  from: 'const initialState = init.peerConnection.connectionState;',
  to: 'const initialState = init.peerConnection.connectionState;',
  end: ';',
  replacement: `const initialState = init.peerConnection.connectionState;
        const sctp = init.peerConnection.sctp;
        sctp?.addEventListener('statechange', () => {
            if (sctp.state === 'closed' && this.status === 'open') {
                this.log('the remote closed the SCTP transport');
                this.onTransportClosed();
                this.peerConnection.close();
            }
        });`
}]

/** The page bundle's library patches, each applied to its module as esbuild loads it */
export function libraryPatches (patches: LibraryPatch[] = LIBRARY_PATCHES): Plugin {
  return {
    name: 'library-patches',
    setup (build) {
      for (const patch of patches) {
        build.onLoad({ filter: patch.module }, (args) => {
          return { contents: applyPatch(patch, readFileSync(args.path, 'utf8')), loader: 'js' }
        })
      }
    }
  }
}

/** A library patch's anchors are not in its module as expected: the library changed */
export class LibraryPatchError extends Error {
  name = 'LibraryPatchError'
}

/** `source` with `patch` applied; throws `LibraryPatchError` when an anchor is missing or repeated */
export function applyPatch (patch: LibraryPatch, source: string): string {
  const from = source.indexOf(patch.from)
  const to = from < 0 ? -1 : source.indexOf(patch.to, from)
  const end = to < 0 ? -1 : source.indexOf(patch.end, to)
  if (end < 0 || source.indexOf(patch.from, from + 1) >= 0 || source.indexOf(patch.to, to + 1) >= 0) {
    throw new LibraryPatchError(`library patch ${patch.name} does not fit this version of its module: check whether what it fixes is still there`)
  }
  return source.slice(0, from) + patch.replacement + source.slice(end + patch.end.length)
}

/** How a protons-generated message codec's streaming decoder begins (protons 9) */
const STREAMING_DECODER = '}, function * (reader, length, prefix, opts = {}) {'

/**
 * Our protons-generated message files (`src/**\/*messages.ts`) carry, beside
 * each message's decoder, a streaming decoder (a generator yielding field by
 * field) that nothing in a page calls: pages decode whole frames. The page
 * bundle replaces each with a generator that throws, 1.4 KiB of gzip (the
 * bundle's budget is 200 KiB). Node and the simulator keep the generated
 * code as it is.
 */
export function dropStreamingDecoders (): Plugin {
  return {
    name: 'drop-streaming-decoders',
    setup (build) {
      build.onLoad({ filter: /[/\\]src[/\\].*messages\.ts$/ }, (args) => {
        const source = readFileSync(args.path, 'utf8')
        return { contents: withoutStreamingDecoders(source), loader: 'ts' }
      })
    }
  }
}

/** `source` with the body of every streaming decoder replaced by a throw (braces matched; the generated bodies hold no unbalanced brace) */
export function withoutStreamingDecoders (source: string): string {
  let out = ''
  let from = 0
  for (let at = source.indexOf(STREAMING_DECODER); at >= 0; at = source.indexOf(STREAMING_DECODER, from)) {
    const open = at + STREAMING_DECODER.length - 1
    let depth = 0
    let close = open
    for (; close < source.length; close++) {
      if (source[close] === '{') {
        depth++
      } else if (source[close] === '}' && --depth === 0) {
        break
      }
    }
    if (depth !== 0) {
      throw new Error('unbalanced streaming decoder in a generated message file')
    }
    out += source.slice(from, at) + "}, function * () { throw new Error('streaming decode is not in the page bundle') }"
    from = close + 1
  }
  return out + source.slice(from)
}

/** The folder of the package a file in node_modules belongs to */
function packageRoot (file: string): string | undefined {
  const match = /^(.*\/node_modules\/(?:@[^/]+\/)?[^/]+)\//.exec(file)
  return match?.[1]
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
