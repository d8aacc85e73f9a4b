/**
 * The package as a user gets it: `npm pack` (which builds on `prepack`), the
 * tarball installed into a fresh temporary app next to the libp2p modules a
 * Node program configures itself, and then what the README tells a user to
 * do: a Node program with a relay and two nodes fetching from each other,
 * `npx ringcdn manifest`, `npx ringcdn-relay --version`, and a type-check of
 * page, worker and Node code with the documented tsconfig
 * (`skipLibCheck: false`). On a Node older than 22 (if one is on PATH) every
 * entry point must name the version needed.
 *
 * Costs about a minute of CPU (the pack's build ~15 s, the install from the
 * warm npm cache ~35 s of wall time when the machine is otherwise idle); on 2
 * cores shared with four other test runs it took 10 minutes of wall time, so
 * the bounds below are for hangs, not for speed. Every step names itself when
 * it runs out of time. `RINGCDN_KEEP_PACK_TEST=1` keeps the app for a look.
 */
import { execFile } from 'node:child_process'
import { accessSync, constants, readFileSync, realpathSync } from 'node:fs'
import { copyFile, mkdir, mkdtemp, readdir, readFile, rm, stat, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { delimiter, dirname, join, relative } from 'node:path'
import { fileURLToPath } from 'node:url'
import { expect } from 'aegir/chai'

const ROOT = fileURLToPath(new URL('../..', import.meta.url))
const FIXTURES = fileURLToPath(new URL('./app', import.meta.url))
const PKG = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8'))

/** `npm pack` runs the package build (tsc + the browser bundle): ~12 s of CPU, minutes of wall time when the 2 cores are shared */
const PACK_TIMEOUT = 600_000
/** ~35 s from the warm cache here; the first install on a cold cache downloads ~250 MB */
const INSTALL_TIMEOUT = 600_000
/** The two-nodes program bounds itself at DEADLINE_MS; this is the bound on the process */
const PROGRAM_DEADLINE = 120_000
const PROGRAM_TIMEOUT = PROGRAM_DEADLINE + 15_000
const TSC_TIMEOUT = 180_000
const CLI_TIMEOUT = 60_000

/**
 * What a Node program that runs ringcdn installs beside it: it builds its own
 * libp2p node. Same ranges as ringcdn's own dependencies, so npm installs one
 * copy of each.
 */
const USER_DEPENDENCIES = ['libp2p', '@chainsafe/libp2p-noise', '@chainsafe/libp2p-yamux', '@libp2p/websockets', '@libp2p/identify', '@libp2p/interface']
  .map(name => `${name}@${PKG.dependencies[name] as string}`)

class CommandError extends Error {
  static name = 'CommandError'
  name = 'CommandError'
}

class CommandTimeoutError extends Error {
  static name = 'CommandTimeoutError'
  name = 'CommandTimeoutError'
}

interface Run {
  code: number
  stdout: string
  stderr: string
}

/**
 * Node 24 and the repo's tools first on PATH, and no `npm_*` variables of the
 * `npm test` that runs this: a nested npm would take them as its own config
 * (prefix, lifecycle event, …). The npm cache stays.
 */
function childEnv (extra: Record<string, string> = {}): Record<string, string> {
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
async function run (what: string, file: string, args: string[], options: { cwd: string, timeout: number, env?: Record<string, string>, check?: boolean }): Promise<Run> {
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
async function listFiles (dir: string, base: string = dir): Promise<string[]> {
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
async function findOldNode (): Promise<{ path: string, version: string } | undefined> {
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

describe('the packed package, installed into a fresh app', function () {
  // backstop only: each step below has its own, named bound
  this.timeout(PACK_TIMEOUT + INSTALL_TIMEOUT + PROGRAM_TIMEOUT)

  let work: string
  let app: string
  let installed: string

  before(async () => {
    work = await mkdtemp(join(tmpdir(), 'ringcdn-pack-'))
    const packDir = join(work, 'pack')
    app = join(work, 'app')
    await mkdir(packDir)
    await mkdir(app)

    // the way a user (or `npm publish`) gets it: prepack builds dist/ first
    await run('npm pack (builds on prepack)', 'npm', ['pack', '--pack-destination', packDir], { cwd: ROOT, timeout: PACK_TIMEOUT })
    const tarballs = (await readdir(packDir)).filter(f => f.endsWith('.tgz'))
    expect(tarballs).to.have.lengthOf(1)

    await writeFile(join(app, 'package.json'), JSON.stringify({
      name: 'ringcdn-pack-test-app',
      private: true,
      type: 'module',
      // what the README's "Types" paragraph tells Node users who import yamux: its 8.0.1 declarations
      // are written against uint8arraylist 2 while @libp2p/interface 3 uses 3, which fails
      // skipLibCheck: false; yamux runs on 3 (the two-nodes program below checks it does)
      overrides: { '@chainsafe/libp2p-yamux': { uint8arraylist: PKG.dependencies.uint8arraylist } }
    }, null, 2))
    for (const file of await readdir(FIXTURES)) {
      await copyFile(join(FIXTURES, file), join(app, file))
    }
    const typesNode = JSON.parse(await readFile(join(ROOT, 'node_modules/@types/node/package.json'), 'utf8')).version as string
    await run('npm install of the tarball', 'npm', ['install', '--prefer-offline', '--no-audit', '--no-fund',
      join(packDir, tarballs[0]), ...USER_DEPENDENCIES, `@types/node@^${typesNode}`], { cwd: app, timeout: INSTALL_TIMEOUT })
    installed = join(app, 'node_modules/ringcdn')
  })

  after(async () => {
    if (work != null && process.env.RINGCDN_KEEP_PACK_TEST == null) {
      await rm(work, { recursive: true, force: true })
    }
  })

  it('ships the library, the browser bundle, the service worker, both CLIs and the relay, and no demo, simulator, scripts or big source maps', async () => {
    const files = await listFiles(installed)
    for (const expected of [
      'package.json', 'README.md', 'CHANGELOG.md', 'LICENSE-APACHE', 'LICENSE-MIT',
      'dist/src/index.js', 'dist/src/index.d.ts', 'dist/src/browser.d.ts', 'dist/browser/ringcdn.js',
      'dist/src/service-worker.js', 'dist/src/service-worker.d.ts',
      'dist/src/cli/ringcdn.js', 'dist/relay/cli.js', 'dist/relay/relay.js', 'dist/relay/relay.d.ts'
    ]) {
      expect(files, expected).to.include(expected)
    }
    const unwanted = files.filter(f => /^dist\/(demo|sim|scripts|test|bench)\//.test(f) || f.endsWith('.tsbuildinfo') || (f.startsWith('dist/browser/') && f.endsWith('.map')))
    expect(unwanted).to.deep.equal([])
    for (const file of files) {
      // the browser bundle (~650 KiB) is the biggest thing a user needs; its 3.5 MB map is not shipped
      expect((await stat(join(installed, file))).size, file).to.be.below(1024 * 1024)
    }
  })

  it('runs a relay and two Node nodes that fetch from each other', async () => {
    // Node 24 strips the types of the user's .ts program
    const { stdout } = await run('the two-nodes program', process.execPath, ['two-nodes.ts'], {
      cwd: app, timeout: PROGRAM_TIMEOUT, env: childEnv({ DEADLINE_MS: String(PROGRAM_DEADLINE) })
    })
    const result = JSON.parse(stdout.trim().split('\n').pop() ?? '')
    expect(result['/a.bin']).to.deep.equal({ first: 'origin', second: 'peer', intact: true, originRequests: 1 })
    expect(result['/b.bin']).to.deep.equal({ first: 'origin', second: 'peer', intact: true, originRequests: 1 })
  })

  it('npx ringcdn manifest writes the digests of a site', async () => {
    const site = join(app, 'site')
    await mkdir(join(site, 'img'), { recursive: true })
    await writeFile(join(site, 'index.html'), '<!doctype html><title>hi</title>')
    await writeFile(join(site, 'img/a.png'), new Uint8Array([1, 2, 3]))
    await run('npx ringcdn manifest', 'npx', ['ringcdn', 'manifest', 'site', '--base-url', 'https://example.com/', '--out', 'manifest.json'], { cwd: app, timeout: CLI_TIMEOUT })
    const manifest = JSON.parse(await readFile(join(app, 'manifest.json'), 'utf8'))
    expect(Object.keys(manifest.assets).sort()).to.deep.equal(['img/a.png', 'index.html'])
  })

  it('npx ringcdn-relay --version prints the package version', async () => {
    // ringcdn --version reads it through the same module (dist/src/cli/version.js); one npx is enough
    const relay = await run('npx ringcdn-relay --version', 'npx', ['ringcdn-relay', '--version'], { cwd: app, timeout: CLI_TIMEOUT })
    expect(relay.stdout.trim()).to.equal(PKG.version)
  })

  it('type-checks page, service worker and Node code with the README\'s tsconfig (skipLibCheck: false)', async () => {
    const tsconfig = JSON.parse(await readFile(join(app, 'tsconfig.json'), 'utf8'))
    expect(tsconfig.compilerOptions.skipLibCheck).to.equal(false)
    // the repo's TypeScript, so the check does not depend on what the registry calls latest
    const tsc = join(ROOT, 'node_modules/typescript/bin/tsc')
    const { code, stdout } = await run('tsc -p tsconfig.json in the app', process.execPath, [tsc, '-p', 'tsconfig.json'], { cwd: app, timeout: TSC_TIMEOUT, check: false })
    expect(stdout, 'tsc errors').to.equal('')
    expect(code).to.equal(0)
  })

  it('names the Node version needed when started on a Node older than 22', async function () {
    const old = await findOldNode()
    if (old == null) {
      // nothing older on this machine to try; the message itself is unit-tested in test/cli
      this.skip()
    }
    const env = { PATH: process.env.PATH ?? '' }
    for (const bin of ['dist/relay/cli.js', 'dist/src/cli/ringcdn.js']) {
      const res = await run(`${bin} on ${old.version}`, old.path, [join(installed, bin), '--version'], { cwd: app, timeout: CLI_TIMEOUT, env, check: false })
      expect(res.code, bin).to.equal(1)
      expect(res.stderr, bin).to.include('ringcdn needs Node.js 22 or later')
      expect(res.stderr, bin).to.include(old.version.replace(/^v/, ''))
    }
    const lib = await run(`import('ringcdn') on ${old.version}`, old.path, ['--input-type=module', '-e',
      'import("ringcdn").then(() => process.exit(0), (e) => { process.stderr.write(e.name + ": " + e.message); process.exit(7) })'], { cwd: app, timeout: CLI_TIMEOUT, env, check: false })
    expect(lib.code).to.equal(7)
    expect(lib.stderr).to.include('NodeVersionError: ringcdn needs Node.js 22 or later')
  })
})
