/**
 * The package as a user gets it, made once per test process and shared by
 * the package tests (pack.spec.ts, examples.spec.ts): `npm pack` (which
 * builds on `prepare`), the tarball installed into a fresh temporary app next
 * to what a user's app installs beside it (the libp2p modules a Node program
 * configures itself, esbuild and Vite for a page bundle, the types of Node).
 *
 * Packing and installing cost about a minute of CPU (the pack's build ~15 s,
 * the install from the warm npm cache ~35 s of wall time when the machine is
 * otherwise idle); on 2 cores shared with four other test runs it took 10
 * minutes of wall time, so the bounds below are for hangs, not for speed.
 * Every step names itself when it runs out of time. The app is removed when
 * the process exits; `RINGCDN_KEEP_PACK_TEST=1` keeps it for a look.
 */
import { execFile } from 'node:child_process'
import { accessSync, constants, readFileSync, realpathSync, rmSync } from 'node:fs'
import { copyFile, mkdir, mkdtemp, readdir, readFile, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { delimiter, dirname, join, relative } from 'node:path'
import { fileURLToPath } from 'node:url'

export const ROOT = fileURLToPath(new URL('../..', import.meta.url))
const FIXTURES = fileURLToPath(new URL('./app', import.meta.url))
export const PKG = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8'))

/** `npm pack` runs the package build (tsc + the browser bundle): ~12 s of CPU, minutes of wall time when the 2 cores are shared */
export const PACK_TIMEOUT = 600_000
/** ~35 s from the warm cache here; the first install on a cold cache downloads ~250 MB */
export const INSTALL_TIMEOUT = 600_000
/** Bound on a command-line tool that should answer at once (--version, manifest, a build) */
export const CLI_TIMEOUT = 60_000

/**
 * What a Node program that runs ringcdn installs beside it: it builds its own
 * libp2p node. Same ranges as ringcdn's own dependencies, so npm installs one
 * copy of each.
 */
const USER_DEPENDENCIES = ['libp2p', '@chainsafe/libp2p-noise', '@chainsafe/libp2p-yamux', '@libp2p/websockets', '@libp2p/identify', '@libp2p/interface']
  .map(name => `${name}@${PKG.dependencies[name] as string}`)

/**
 * A page's bundlers: esbuild (examples/page-esbuild), the version this repo
 * builds with, and Vite (examples/page-vite), the range that example's
 * package.json asks for. Vite is not a dependency of this repository: it
 * comes from the registry (or the npm cache) into the app only. It adds
 * ~15 packages and 37 MB to the app.
 */
const USER_DEV_DEPENDENCIES = [
  `esbuild@${PKG.devDependencies.esbuild as string}`,
  `vite@${JSON.parse(readFileSync(join(ROOT, 'examples/page-vite/package.json'), 'utf8')).devDependencies.vite as string}`
]

export class CommandError extends Error {
  static name = 'CommandError'
  name = 'CommandError'
}

export class CommandTimeoutError extends Error {
  static name = 'CommandTimeoutError'
  name = 'CommandTimeoutError'
}

export interface Run {
  code: number
  stdout: string
  stderr: string
}

/**
 * Node 24 and the repo's tools first on PATH, and no `npm_*` variables of the
 * `npm test` that runs this: a nested npm would take them as its own config
 * (prefix, lifecycle event, …). The npm cache stays.
 */
export function childEnv (extra: Record<string, string> = {}): Record<string, string> {
  const env: Record<string, string> = {}
  for (const [k, v] of Object.entries(process.env)) {
    if (v != null && (!k.startsWith('npm_') || k === 'npm_config_cache' || k === 'npm_config_registry')) {
      env[k] = v
    }
  }
  env.PATH = [dirname(process.execPath), join(ROOT, 'node_modules/.bin'), env.PATH ?? ''].join(delimiter)
  return { ...env, ...extra }
}

/** Runs a command to its end within `timeout`; rejects with a named error (and its output) otherwise */
export async function run (what: string, file: string, args: string[], options: { cwd: string, timeout: number, env?: Record<string, string>, check?: boolean }): Promise<Run> {
  return new Promise((resolve, reject) => {
    execFile(file, args, { cwd: options.cwd, env: options.env ?? childEnv(), timeout: options.timeout, killSignal: 'SIGKILL', maxBuffer: 64 * 1024 * 1024 }, (err, stdout, stderr) => {
      // a failed command has a numeric code; a command that could not start has a string one (ENOENT)
      let code = err == null ? 0 : -1
      if (typeof err?.code === 'number') {
        code = err.code
      }
      if (err != null && (err.killed === true || err.signal != null)) {
        reject(new CommandTimeoutError(`${what} did not finish within ${options.timeout} ms\n--- stdout\n${stdout}\n--- stderr\n${stderr}`))
        return
      }
      if ((options.check ?? true) && code !== 0) {
        reject(new CommandError(`${what} exited ${code}\n--- stdout\n${stdout}\n--- stderr\n${stderr}`))
        return
      }
      resolve({ code, stdout, stderr })
    })
  })
}

/** Every file under `dir`, '/'-separated and relative to it */
export async function listFiles (dir: string, base: string = dir): Promise<string[]> {
  const out: string[] = []
  for (const entry of await readdir(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name)
    if (entry.isDirectory()) {
      out.push(...await listFiles(path, base))
    } else {
      out.push(relative(base, path).split('\\').join('/'))
    }
  }
  return out
}

/** A `node` on PATH older than 22 (e.g. the system's Node 20), to check the version errors with */
export async function findOldNode (): Promise<{ path: string, version: string } | undefined> {
  const ours = realpathSync(process.execPath)
  for (const dir of (process.env.PATH ?? '').split(delimiter)) {
    const candidate = join(dir, 'node')
    try {
      accessSync(candidate, constants.X_OK)
      if (realpathSync(candidate) === ours) {
        continue
      }
    } catch {
      continue
    }
    const { stdout } = await run(`${candidate} --version`, candidate, ['--version'], { cwd: ROOT, timeout: CLI_TIMEOUT, env: { PATH: process.env.PATH ?? '' }, check: false })
    const version = stdout.trim()
    if (Number.parseInt(version.replace(/^v/, ''), 10) < 22) {
      return { path: candidate, version }
    }
  }
  return undefined
}

export interface PackedApp {
  /** The fresh app (package.json, the fixtures of test/package/app, node_modules) */
  app: string
  /** `<app>/node_modules/ringcdn` */
  installed: string
  /** The tarball `npm pack` wrote */
  tarball: string
}

let packed: Promise<PackedApp> | undefined

async function packAndInstall (): Promise<PackedApp> {
  const work = await mkdtemp(join(tmpdir(), 'ringcdn-pack-'))
  if (process.env.RINGCDN_KEEP_PACK_TEST == null) {
    process.once('exit', () => { rmSync(work, { recursive: true, force: true }) })
  }
  const packDir = join(work, 'pack')
  const app = join(work, 'app')
  await mkdir(packDir)
  await mkdir(app)

  // the way a user (or `npm publish`) gets it: prepare builds dist/ first
  await run('npm pack (builds on prepare)', 'npm', ['pack', '--pack-destination', packDir], { cwd: ROOT, timeout: PACK_TIMEOUT })
  const tarballs = (await readdir(packDir)).filter(f => f.endsWith('.tgz'))
  if (tarballs.length !== 1) {
    throw new CommandError(`npm pack wrote ${tarballs.length} tarballs, expected one: ${tarballs.join(', ')}`)
  }
  const tarball = join(packDir, tarballs[0])

  await writeFile(join(app, 'package.json'), JSON.stringify({
    name: 'ringcdn-pack-test-app',
    private: true,
    type: 'module',
    // what the README's "Types" paragraph tells Node users who import yamux: its 8.0.1 declarations
    // are written against uint8arraylist 2 while @libp2p/interface 3 uses 3, which fails
    // skipLibCheck: false; yamux runs on 3 (the two-nodes program checks it does)
    overrides: { '@chainsafe/libp2p-yamux': { uint8arraylist: PKG.dependencies.uint8arraylist } }
  }, null, 2))
  for (const file of await readdir(FIXTURES)) {
    await copyFile(join(FIXTURES, file), join(app, file))
  }
  const typesNode = JSON.parse(await readFile(join(ROOT, 'node_modules/@types/node/package.json'), 'utf8')).version as string
  await run('npm install of the tarball', 'npm', ['install', '--prefer-offline', '--no-audit', '--no-fund',
    tarball, ...USER_DEPENDENCIES, ...USER_DEV_DEPENDENCIES, `@types/node@^${typesNode}`], { cwd: app, timeout: INSTALL_TIMEOUT })
  return { app, installed: join(app, 'node_modules/ringcdn'), tarball }
}

/**
 * The packed package installed into a fresh app: made on the first call,
 * shared by every later one. `RINGCDN_PACKED_APP=<dir>` reuses an app a
 * run with `RINGCDN_KEEP_PACK_TEST=1` left behind (its path is `<tmp>/ringcdn-pack-…/app`),
 * to iterate on a test without packing again.
 */
export async function packedApp (): Promise<PackedApp> {
  const reuse = process.env.RINGCDN_PACKED_APP
  if (reuse != null && reuse !== '') {
    return { app: reuse, installed: join(reuse, 'node_modules/ringcdn'), tarball: '' }
  }
  packed ??= packAndInstall()
  return packed
}
