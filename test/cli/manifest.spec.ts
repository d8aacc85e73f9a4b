/**
 * `ringcdn manifest`: run as a real process on a temp site build, and the
 * result loaded with `loadManifest` over a real loopback HTTP server, the way
 * a page loads it.
 */
import { execFile } from 'node:child_process'
import { createHash } from 'node:crypto'
import { mkdir, mkdtemp, readFile, rm, symlink, writeFile } from 'node:fs/promises'
import { createServer } from 'node:http'
import { tmpdir } from 'node:os'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { expect } from 'aegir/chai'
import { loadManifest } from '../../src/cdn/manifest.ts'
import { main } from '../../src/cli/ringcdn.ts'
import { bytesOf } from '../fixtures/origin-server.ts'
import type { Manifest } from '../../src/cdn/manifest.ts'
import type { AddressInfo } from 'node:net'

const CLI = join(dirname(fileURLToPath(import.meta.url)), '../../src/cli/ringcdn.ts')

/** Runs the CLI as its own process (bounded), as `npm run manifest` does */
async function runCli (args: string[]): Promise<{ code: number, stdout: string, stderr: string }> {
  return new Promise(resolve => {
    execFile(process.execPath, ['--experimental-transform-types', '--disable-warning=ExperimentalWarning', CLI, ...args], { timeout: 30_000 }, (err, stdout, stderr) => {
      const code = typeof err?.code === 'number' ? err.code : 1
      resolve({ code: err == null ? 0 : code, stdout, stderr })
    })
  })
}

/** Runs the CLI in process, capturing its output */
async function runMain (args: string[]): Promise<{ code: number, stdout: string, stderr: string }> {
  let stdout = ''
  let stderr = ''
  const code = await main(args, { stdout: (t) => { stdout += t }, stderr: (t) => { stderr += t } })
  return { code, stdout, stderr }
}

/** Serves one file over loopback HTTP and loads it with loadManifest */
async function loadOverHttp (file: string): Promise<Manifest> {
  const body = await readFile(file)
  const server = createServer((req, res) => {
    res.writeHead(200, { 'content-type': 'application/json' })
    res.end(body)
  })
  await new Promise<void>(resolve => server.listen(0, '127.0.0.1', resolve))
  try {
    const { port } = server.address() as AddressInfo
    return await loadManifest(`http://127.0.0.1:${port}/ringcdn-manifest.json`, { timeout: 5_000 })
  } finally {
    server.closeAllConnections()
    await new Promise(resolve => server.close(resolve))
  }
}

const hex = (bytes: Uint8Array): string => createHash('sha256').update(bytes).digest('hex')

describe('ringcdn manifest', function () {
  this.timeout(60_000)

  let dir: string
  let site: string
  const files: Record<string, Uint8Array> = {
    'index.html': new TextEncoder().encode('<!doctype html><title>site</title>'),
    'js/app.js': new TextEncoder().encode('console.log("app")'),
    'img/hero image #1.png': bytesOf(70_000, 3),
    'video/seg/0001.m4s': bytesOf(300_000, 4),
    'empty.txt': new Uint8Array(0)
  }

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'ringcdn-cli-'))
    site = join(dir, 'site')
    for (const [path, body] of Object.entries(files)) {
      await mkdir(dirname(join(site, path)), { recursive: true })
      await writeFile(join(site, path), body)
    }
    await mkdir(join(site, '.git'))
    await writeFile(join(site, '.git', 'HEAD'), 'ref: refs/heads/main')
    await writeFile(join(site, '.DS_Store'), 'x')
    await writeFile(join(site, 'js', 'app.js.map'), '{}')
    // a link cycle must not hang the walk
    await symlink(site, join(site, 'loop'))
  })

  after(async () => {
    await rm(dir, { recursive: true, force: true })
  })

  it('writes a manifest that loadManifest accepts, with every file\'s digest and size under the base URL', async () => {
    const out = join(dir, 'manifest.json')
    const res = await runCli(['manifest', site, '--base-url', 'https://example.com/', '--out', out])
    expect(res.code).to.equal(0, res.stderr)
    expect(res.stderr).to.include('6 assets')

    const manifest = await loadOverHttp(out)
    expect(manifest.size).to.equal(6)
    for (const [path, body] of Object.entries(files)) {
      const url = new URL(path.split('/').map(encodeURIComponent).join('/'), 'https://example.com/')
      expect(manifest.get(url), path).to.deep.equal({ digest: hex(body), size: body.byteLength })
    }
    expect(manifest.get('https://example.com/js/app.js.map')).to.not.be.undefined()
    expect(manifest.get('https://example.com/.DS_Store')).to.be.undefined()
    expect(manifest.get('https://example.com/.git/HEAD')).to.be.undefined()
  })

  it('resolves assets under a base URL with a path, with or without its trailing slash', async () => {
    for (const base of ['https://cdn.example.com/static', 'https://cdn.example.com/static/']) {
      const out = join(dir, 'static.json')
      expect((await runMain(['manifest', site, '--base-url', base, '--out', out])).code).to.equal(0)
      const manifest = await loadOverHttp(out)
      expect(manifest.get('https://cdn.example.com/static/js/app.js')?.digest).to.equal(hex(files['js/app.js']))
      expect(manifest.get('https://cdn.example.com/js/app.js')).to.be.undefined()
    }
  })

  it('is deterministic, leaves out its own output file, and honours --exclude and --include-hidden', async () => {
    const inside = join(site, 'ringcdn-manifest.json')
    expect((await runMain(['manifest', site, '--base-url', 'https://example.com/', '--out', inside])).code).to.equal(0)
    const first = await readFile(inside, 'utf8')
    expect((await runMain(['manifest', site, '--base-url', 'https://example.com/', '--out', inside])).code).to.equal(0)
    expect(await readFile(inside, 'utf8')).to.equal(first)
    expect(Object.keys(JSON.parse(first).assets)).to.not.include('ringcdn-manifest.json')
    await rm(inside)

    const res = await runMain(['manifest', site, '--base-url', 'https://example.com/', '--exclude', '\\.map$', '--exclude', '^video/', '--include-hidden'])
    const assets = Object.keys(JSON.parse(res.stdout).assets)
    expect(assets).to.include.members(['.git/HEAD', '.DS_Store', 'js/app.js'])
    expect(assets).to.not.include.members(['js/app.js.map', 'video/seg/0001.m4s'])
  })

  const bad: Array<[string, string[], string]> = [
    ['no arguments', [], 'Usage'],
    ['an unknown command', ['publish', 'x'], 'unknown command "publish"'],
    ['no directory', ['manifest', '--base-url', 'https://example.com/'], 'missing <dir>'],
    ['two directories', ['manifest', 'a', 'b', '--base-url', 'https://example.com/'], 'one <dir> expected'],
    ['no base URL', ['manifest', '.'], 'missing --base-url'],
    ['a relative base URL', ['manifest', '.', '--base-url', '/static/'], 'absolute URL'],
    ['a base URL that is not http(s)', ['manifest', '.', '--base-url', 'ftp://example.com/'], 'http(s)'],
    ['an unknown option', ['manifest', '.', '--base-url', 'https://example.com/', '--frobnicate'], 'frobnicate'],
    ['a bad --exclude pattern', ['manifest', '.', '--base-url', 'https://example.com/', '--exclude', '('], '--exclude'],
    ['a directory that does not exist', ['manifest', '/no/such/dir', '--base-url', 'https://example.com/'], 'no such directory'],
    ['a file instead of a directory', ['manifest', CLI, '--base-url', 'https://example.com/'], 'not a directory']
  ]
  for (const [what, args, message] of bad) {
    it(`exits 2 with a clear message on ${what}`, async () => {
      const res = await runMain(args)
      expect(res.code).to.equal(2)
      expect(res.stderr).to.include(message)
      expect(res.stdout).to.equal('')
    })
  }

  it('exits 2 from a real process on bad arguments, 0 on --help', async () => {
    const bad = await runCli(['manifest', site])
    expect(bad.code).to.equal(2)
    expect(bad.stderr).to.include('missing --base-url')
    const help = await runCli(['manifest', '--help'])
    expect(help.code).to.equal(0)
    expect(help.stdout).to.include('ringcdn manifest <dir> --base-url <url>')
  })
})
