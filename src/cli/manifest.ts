/**
 * Builds the site manifest (format in `src/cdn/manifest.ts`) from a site's
 * build directory: every file's URL, relative to the base URL the directory
 * is served at, with its SHA-256 as an SRI string and its size.
 *
 * Files are hashed as streams (a video does not have to fit in memory), in a
 * fixed order (sorted paths), so the same build gives a byte-identical
 * manifest. Hidden files and directories (`.git`, `.DS_Store`) are left out
 * unless asked for, and so is the manifest itself when it is written inside
 * the directory. Symbolic links to files are followed; links to directories
 * are not (a link cycle cannot hang the build).
 */
import { createHash } from 'node:crypto'
import { createReadStream } from 'node:fs'
import { readdir, stat } from 'node:fs/promises'
import { join, relative, resolve, sep } from 'node:path'
import { MANIFEST_VERSION, Manifest } from '../cdn/manifest.ts'
import type { ManifestAsset, ManifestDocument } from '../cdn/manifest.ts'

/** The directory or base URL given to the manifest builder is unusable */
export class ManifestBuildError extends Error {
  static name = 'ManifestBuildError'
  name = 'ManifestBuildError'
}

export interface BuildManifestOptions {
  /**
   * The absolute http(s) URL the directory is served at; asset URLs in the
   * manifest are relative to it
   */
  baseUrl: string
  /**
   * Paths (relative to the directory, `/`-separated) to leave out
   *
   * @default none
   */
  exclude?: RegExp[]
  /**
   * Include files and directories whose name starts with a dot
   *
   * @default false
   */
  includeHidden?: boolean
  /**
   * Absolute paths never listed (the manifest file being written)
   *
   * @default []
   */
  skip?: string[]
}

/** The base URL, checked, with a trailing slash so relative asset URLs resolve under it */
export function parseBaseUrl (baseUrl: string): string {
  let url: URL
  try {
    url = new URL(baseUrl)
  } catch {
    throw new ManifestBuildError(`--base-url must be an absolute URL like https://example.com/, not "${baseUrl}"`)
  }
  if (url.protocol !== 'https:' && url.protocol !== 'http:') {
    throw new ManifestBuildError(`--base-url must be an http(s) URL, not ${url.protocol}`)
  }
  if (url.search !== '' || url.hash !== '') {
    throw new ManifestBuildError('--base-url must not have a query or fragment')
  }
  if (!url.pathname.endsWith('/')) {
    url.pathname += '/'
  }
  return url.href
}

/** Lists and hashes every file under `dir` */
export async function buildManifest (dir: string, options: BuildManifestOptions): Promise<ManifestDocument> {
  const base = parseBaseUrl(options.baseUrl)
  const root = resolve(dir)
  let info
  try {
    info = await stat(root)
  } catch (err: any) {
    throw new ManifestBuildError(`cannot read ${dir}: ${err.code === 'ENOENT' ? 'no such directory' : err.message}`)
  }
  if (!info.isDirectory()) {
    throw new ManifestBuildError(`${dir} is not a directory`)
  }
  const skip = new Set((options.skip ?? []).map(p => resolve(p)))
  const files: string[] = []
  await walk(root, root, files, { ...options, skip })
  files.sort()

  const assets: Record<string, ManifestAsset> = {}
  for (const rel of files) {
    const { integrity, size } = await hashFile(join(root, rel))
    assets[toUrlPath(rel)] = { integrity, size }
  }
  const doc: ManifestDocument = { ringcdn: MANIFEST_VERSION, base, assets }
  // the reader's own checks: what we write, loadManifest accepts
  // eslint-disable-next-line no-new
  new Manifest(doc)
  return doc
}

async function walk (root: string, dir: string, out: string[], options: Omit<BuildManifestOptions, 'skip'> & { skip: Set<string> }): Promise<void> {
  const entries = await readdir(dir, { withFileTypes: true })
  for (const entry of entries) {
    if (!(options.includeHidden ?? false) && entry.name.startsWith('.')) {
      continue
    }
    const path = join(dir, entry.name)
    const rel = relative(root, path).split(sep).join('/')
    if (options.skip.has(path) || (options.exclude ?? []).some(re => { re.lastIndex = 0; return re.test(rel) })) {
      continue
    }
    if (entry.isDirectory()) {
      await walk(root, path, out, options)
    } else if (entry.isFile()) {
      out.push(rel)
    } else if (entry.isSymbolicLink()) {
      const target = await stat(path).catch(() => undefined)
      if (target?.isFile() === true) {
        out.push(rel)
      }
    }
  }
}

/** A relative path as a relative URL: each segment percent-encoded, so `a b#1.js` stays one file */
function toUrlPath (rel: string): string {
  return rel.split('/').map(segment => encodeURIComponent(segment)).join('/')
}

async function hashFile (path: string): Promise<{ integrity: string, size: number }> {
  const hash = createHash('sha256')
  let size = 0
  for await (const chunk of createReadStream(path)) {
    hash.update(chunk as Buffer)
    size += (chunk as Buffer).byteLength
  }
  return { integrity: `sha256-${hash.digest('base64')}`, size }
}
