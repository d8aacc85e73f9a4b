/**
 * `ringcdn-relay` option parsing: flags, environment variables, defaults left
 * to the relay, and a `UsageError` for anything it cannot use
 */
import { expect } from 'aegir/chai'
import { SETTINGS, UsageError, parseRelayArgs, usage } from '../../relay/options.ts'

const run = (argv: string[], env: Record<string, string> = {}, fileExists = (): boolean => true): any => {
  const parsed = parseRelayArgs(argv, env, { fileExists })
  if (parsed.type !== 'run') {
    throw new Error('expected options')
  }
  return parsed.options
}

describe('relay command line options', () => {
  it('leaves every default to the relay when nothing is given', () => {
    const options = run([])
    expect(options.host).to.be.undefined()
    expect(options.port).to.be.undefined()
    expect(Object.values(options.limits).every(v => v === undefined)).to.be.true()
    expect(Object.values(options.members).every(v => v === undefined)).to.be.true()
  })

  it('reads flags and environment variables, and a flag wins', () => {
    const options = run(['--port', '7000', '--max-reservations', '6000', '--announce', '/dns4/a.example/tcp/443/wss', '--announce', '/dns4/b.example/tcp/443/wss'], {
      RINGCDN_RELAY_PORT: '8000',
      RINGCDN_RELAY_HTTP_PORT: '8001',
      RINGCDN_RELAY_HOST: '0.0.0.0',
      RINGCDN_RELAY_CONNECTION_RATE: '50',
      RINGCDN_RELAY_FOUNDER_GRACE_MS: '2500'
    })
    expect(options).to.deep.include({ port: 7000, httpPort: 8001, host: '0.0.0.0', announce: ['/dns4/a.example/tcp/443/wss', '/dns4/b.example/tcp/443/wss'] })
    expect(options.limits).to.deep.include({ maxReservations: 6000, inboundConnectionThreshold: 50 })
    expect(options.members).to.deep.include({ founderGraceMs: 2500 })
  })

  it('splits a comma-separated announce list from the environment', () => {
    expect(run([], { RINGCDN_RELAY_ANNOUNCE: '/ip4/1.2.3.4/tcp/1/ws, /ip4/5.6.7.8/tcp/2/ws' }).announce).to.deep.equal(['/ip4/1.2.3.4/tcp/1/ws', '/ip4/5.6.7.8/tcp/2/ws'])
  })

  it('accepts port 0 (any free port)', () => {
    expect(run(['--port', '0', '--http-port', '0'])).to.deep.include({ port: 0, httpPort: 0 })
  })

  const bad: Array<[string, string[], Record<string, string>, RegExp]> = [
    ['an unknown flag', ['--colour', 'red'], {}, /colour/],
    ['a positional argument', ['start'], {}, /start/],
    ['a port that is not a number', ['--port', 'abc'], {}, /--port must be a whole number/],
    ['a port out of range', ['--port', '70000'], {}, /between 0 and 65535/],
    ['a bad environment value, named by its variable', [], { RINGCDN_RELAY_MAX_CONNECTIONS: '-5' }, /RINGCDN_RELAY_MAX_CONNECTIONS/],
    ['a zero count', ['--max-reservations', '0'], {}, /between 1 and/],
    ['an announce address that is not a multiaddr', ['--announce', 'relay.example.com'], {}, /not a multiaddr/],
    ['a certificate without a key', ['--cert', 'cert.pem'], {}, /go together/],
    ['an empty host', ['--host', ' '], {}, /must not be empty/],
    ['a flag without its value', ['--port'], {}, /port/]
  ]
  for (const [what, argv, env, message] of bad) {
    it(`refuses ${what} with a UsageError`, () => {
      expect(() => parseRelayArgs(argv, env)).to.throw(UsageError).with.property('message').that.matches(message)
    })
  }

  it('refuses a certificate file that does not exist', () => {
    expect(() => run(['--cert', 'nope.pem', '--key', 'nope.key'], {}, () => false)).to.throw(UsageError, /no such file nope.pem/)
  })

  it('documents every flag with its variable and default in --help', () => {
    const parsed = parseRelayArgs(['--help'], {})
    expect(parsed.type).to.equal('help')
    const text = usage()
    for (const s of SETTINGS) {
      expect(text).to.include(`--${s.flag}`)
      expect(text).to.include(s.env)
      expect(text).to.include(`(default: ${s.default})`)
    }
  })
})
