/**
 * What every entry point tells a user who has to act: the Node version
 * needed, the package version, and the flag to change when the relay cannot
 * listen. The packed-package test runs the same entry points from a tarball.
 */
import { readFileSync } from 'node:fs'
import { createServer } from 'node:net'
import { expect } from 'aegir/chai'
import { describeStartError, parseRelayArgs, usage } from '../../relay/options.ts'
import { createRelay } from '../../relay/relay.ts'
import { MIN_NODE_MAJOR, nodeVersionProblem } from '../../src/cli/node-version.ts'
import { main } from '../../src/cli/ringcdn.ts'
import { packageVersion } from '../../src/cli/version.ts'
import type { Server } from 'node:net'

const pkg = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8'))

describe('entry points', function () {
  this.timeout(60_000)

  describe('Node version', () => {
    it('names the version needed and the one running on Node 20', () => {
      const problem = nodeVersionProblem({ node: '20.20.2' })
      expect(problem).to.include('Node.js 22 or later')
      expect(problem).to.include('20.20.2')
    })

    it('accepts Node 22 and later, browsers, Bun and Deno', () => {
      expect(nodeVersionProblem({ node: '22.0.0' })).to.be.undefined()
      expect(nodeVersionProblem({ node: '24.9.0' })).to.be.undefined()
      expect(nodeVersionProblem(undefined)).to.be.undefined()
      expect(nodeVersionProblem({ node: '20.11.1', deno: '2.0.0' })).to.be.undefined()
      expect(nodeVersionProblem({ node: '20.0.0', bun: '1.2.0' })).to.be.undefined()
    })

    it('agrees with engines.node in package.json', () => {
      expect(pkg.engines.node).to.equal(`>=${MIN_NODE_MAJOR}`)
    })
  })

  describe('--version', () => {
    it('reads the version from package.json', () => {
      expect(packageVersion()).to.equal(pkg.version)
    })

    it('ringcdn --version prints it and exits 0', async () => {
      let out = ''
      const code = await main(['--version'], { stdout: (t) => { out += t }, stderr: () => {} })
      expect(code).to.equal(0)
      expect(out).to.equal(`${pkg.version}\n`)
    })

    it('ringcdn-relay --version and -v are parsed, and --help lists them', () => {
      expect(parseRelayArgs(['--version'], {})).to.deep.equal({ type: 'version' })
      expect(parseRelayArgs(['-v'], {})).to.deep.equal({ type: 'version' })
      expect(usage()).to.include('--version')
    })
  })

  describe('relay start-up errors', () => {
    let blocker: Server | undefined

    afterEach(async () => {
      await new Promise<void>(resolve => { blocker == null ? resolve() : blocker.close(() => { resolve() }) })
      blocker = undefined
    })

    async function busyPort (): Promise<number> {
      const server = createServer()
      blocker = server
      await new Promise<void>(resolve => server.listen(0, '127.0.0.1', resolve))
      const address = server.address()
      if (address == null || typeof address === 'string') {
        throw new Error('no port')
      }
      return address.port
    }

    it('names --port and RINGCDN_RELAY_PORT when the websocket port is in use, not libp2p\'s faultTolerance', async () => {
      const port = await busyPort()
      const options = { port, httpPort: 0, processMetrics: false }
      const err = await createRelay(options).then(async relay => { await relay.stop() }, (err: unknown) => err)
      expect(err, 'createRelay on a busy port').to.be.an('error')
      const text = describeStartError(err, options)
      expect(text).to.include(`port ${port}`)
      expect(text).to.include('--port or RINGCDN_RELAY_PORT')
      expect(text).to.not.include('faultTolerance')
    })

    it('names --http-port and RINGCDN_RELAY_HTTP_PORT when the HTTP port is in use', async () => {
      const httpPort = await busyPort()
      const options = { port: 0, httpPort, processMetrics: false }
      const err = await createRelay(options).then(async relay => { await relay.stop() }, (err: unknown) => err)
      expect(err, 'createRelay on a busy HTTP port').to.be.an('error')
      const text = describeStartError(err, options)
      expect(text).to.include(`port ${httpPort}`)
      expect(text).to.include('--http-port or RINGCDN_RELAY_HTTP_PORT')
    })

    it('names --host for an address that is not this machine\'s', () => {
      const err = Object.assign(new Error('Some configured addresses failed to be listened on … listen EADDRNOTAVAIL: address not available 203.0.113.7:9090'), { name: 'UnsupportedListenAddressesError' })
      expect(describeStartError(err, { host: '203.0.113.7' })).to.include('--host or RINGCDN_RELAY_HOST')
    })

    it('passes other errors through unchanged', () => {
      expect(describeStartError(new Error('disk on fire'), {})).to.equal('disk on fire')
    })
  })
})
