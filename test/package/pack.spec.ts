/**
 * The package as a user gets it (packed-app.ts: `npm pack`, which builds on
 * `prepare`, and the tarball installed into a fresh temporary app), and then
 * what the README tells a user to do: a Node program with a relay and two
 * nodes fetching from each other, `npx ringcdn manifest`, `npx ringcdn-relay
 * --version`, and a type-check of page, worker and Node code with the
 * documented tsconfig (`skipLibCheck: false`). On a Node older than 22 (if
 * one is on PATH) every entry point must name the version needed.
 */
import { mkdir, readdir, readFile, stat, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { expect } from 'aegir/chai'
import { bundleSize } from '../../scripts/build-browser.ts'
import { CLI_TIMEOUT, INSTALL_TIMEOUT, PACK_TIMEOUT, PKG, ROOT, childEnv, findOldNode, listFiles, packedApp, run } from './packed-app.ts'

/**
 * How far the README's figures for the browser bundle may be from the
 * shipped bundle's size. Not zero, so that a change of a few hundred bytes
 * does not ask for a README edit; small enough that a figure two releases
 * old fails (it was 2 % off when this test came in).
 */
const README_SIZE_TOLERANCE = 0.01

/** The two-nodes program bounds itself at DEADLINE_MS; this is the bound on the process */
const PROGRAM_DEADLINE = 120_000
const PROGRAM_TIMEOUT = PROGRAM_DEADLINE + 15_000
const TSC_TIMEOUT = 180_000

describe('the packed package, installed into a fresh app', function () {
  // backstop only: each step below has its own, named bound
  this.timeout(PACK_TIMEOUT + INSTALL_TIMEOUT + PROGRAM_TIMEOUT)

  let app: string
  let installed: string

  before(async () => {
    ({ app, installed } = await packedApp())
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
      // the browser bundle (~690 KiB) is the biggest thing a user needs; its 3.7 MB map is not shipped
      expect((await stat(join(installed, file))).size, file).to.be.below(1024 * 1024)
    }
  })

  it('gives in the README the browser bundle\'s size as the build prints it', async () => {
    // measured as `npm run build:browser` measures it (raw, gzip level 9), on the bundle the app got
    const { bytes, gzipBytes } = bundleSize(join(installed, 'dist/browser/ringcdn.js'))
    const readme = await readFile(join(ROOT, 'README.md'), 'utf8')
    const reported = /reports as ([\d.]+) KiB raw, ([\d.]+) KiB gzip/.exec(readme)
    const comment = /dist\/browser\/ringcdn\.js, ~(\d+) KiB gzip/.exec(readme)
    expect(reported, 'README: "`npm run build:browser` reports as … KiB raw, … KiB gzip"').to.not.equal(null)
    expect(comment, 'README: "// dist/browser/ringcdn.js, ~… KiB gzip"').to.not.equal(null)
    const near = (kib: string, actual: number, what: string): void => {
      const want = `${(actual / 1024).toFixed(1)} KiB`
      expect(Math.abs(Number(kib) * 1024 - actual) / actual, `README gives ${what} as ${kib} KiB; the build prints ${want}`).to.be.at.most(README_SIZE_TOLERANCE)
    }
    near(reported?.[1] ?? '', bytes, 'the raw size')
    near(reported?.[2] ?? '', gzipBytes, 'the gzip size')
    near(comment?.[1] ?? '', gzipBytes, 'the gzip size (the createRingCdn example)')
  })

  it('does not bring react-native or @libp2p/webrtc into the app (the page code that uses them is prebuilt)', async () => {
    // as a dependency, @libp2p/webrtc pulled in react-native-webrtc and its peer react-native: ~175 MB
    const modules = await readdir(join(app, 'node_modules'))
    expect(modules).to.not.include('react-native')
    expect(modules).to.not.include('react-native-webrtc')
    expect(await readdir(join(app, 'node_modules/@libp2p'))).to.not.include('webrtc')
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
