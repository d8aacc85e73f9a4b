import { expect } from 'aegir/chai'
import { SIM_USAGE } from '../../sim/cli-flags.ts'
import { parseSimArgs, SimOptionsError } from '../../sim/cli-options.ts'
import { formatDuration, parseDuration } from '../../sim/duration.ts'
import { DEFAULT_SIM_OPTIONS } from '../../sim/options.ts'

/** Runs the parser expecting a SimOptionsError and returns it */
function rejection (argv: string[]): SimOptionsError {
  try {
    parseSimArgs(argv)
  } catch (err: any) {
    expect(err).to.be.an.instanceOf(SimOptionsError)
    expect(err.name).to.equal('SimOptionsError')
    return err
  }
  expect.fail(`expected ${JSON.stringify(argv)} to be rejected`)
}

describe('sim cli options', () => {
  it('uses the documented defaults when no flag is given', () => {
    expect(parseSimArgs([])).to.deep.equal({
      nodes: 1000,
      durationMs: 30 * 60_000,
      warmupMs: 5 * 60_000,
      sessionMedianMs: 10 * 60_000,
      sessionDist: 'exponential',
      bootstrap: 'random',
      start: 'joins',
      crashFraction: 0.5,
      massFailureFraction: 0.5,
      loss: 0,
      connectSetupMs: 0,
      connectionLossMs: 0,
      connectStall: 0,
      maxConnections: 0,
      objects: 10_000,
      zipf: 0.8,
      meanObjectKB: 200,
      requestRate: 0.05,
      lookupRate: 0,
      cacheMB: 50,
      homeCopies: true,
      holderHedge: 'auto',
      successors: 8,
      stabilizeIntervalMs: 5000,
      fixFingersIntervalMs: 5000,
      adaptiveMaintenance: true,
      maintenanceBackoff: 16,
      confirmLookups: false,
      seed: 1,
      wallLimitMs: 0,
      quiet: false,
      help: false
    })
    expect(parseSimArgs([])).to.deep.equal({ ...DEFAULT_SIM_OPTIONS })
  })

  it('parses every flag of the CLI contract', () => {
    const opts = parseSimArgs([
      '--nodes', '250', '--duration', '2h', '--warmup', '10m', '--session-median', '2m', '--session-dist', 'pareto',
      '--bootstrap', 'nearest', '--start', 'converged', '--crash-fraction', '0.25', '--mass-failure-at', '1h', '--mass-failure-fraction', '0.3', '--loss', '0.01',
      '--connect-setup', '250ms', '--max-connections', '48', '--connection-loss', '15s', '--connect-stall', '0.25',
      '--objects', '5000', '--zipf', '1.1', '--mean-object-kb', '64', '--request-rate', '0.2', '--lookup-rate', '1.5',
      '--cache-mb', '12.5', '--home-copies', 'off', '--holder-hedge', '300ms', '--successors', '16', '--stabilize-interval', '2s', '--fix-fingers-interval', '30s',
      '--adaptive-maintenance', 'off', '--maintenance-backoff', '8', '--confirm-lookups', 'on',
      '--seed', '7', '--json', 'out/run.json', '--report', 'out/run.html', '--quiet', '--wall-limit', '10m'
    ])
    expect(opts).to.deep.equal({
      nodes: 250,
      durationMs: 2 * 3_600_000,
      warmupMs: 10 * 60_000,
      sessionMedianMs: 2 * 60_000,
      sessionDist: 'pareto',
      bootstrap: 'nearest',
      start: 'converged',
      crashFraction: 0.25,
      massFailureAtMs: 3_600_000,
      massFailureFraction: 0.3,
      loss: 0.01,
      connectSetupMs: 250,
      maxConnections: 48,
      connectionLossMs: 15_000,
      connectStall: 0.25,
      objects: 5000,
      zipf: 1.1,
      meanObjectKB: 64,
      requestRate: 0.2,
      lookupRate: 1.5,
      cacheMB: 12.5,
      homeCopies: false,
      holderHedge: 300,
      successors: 16,
      stabilizeIntervalMs: 2000,
      fixFingersIntervalMs: 30_000,
      adaptiveMaintenance: false,
      maintenanceBackoff: 8,
      confirmLookups: true,
      seed: 7,
      wallLimitMs: 600_000,
      jsonPath: 'out/run.json',
      reportPath: 'out/run.html',
      quiet: true,
      help: false
    })
  })

  it('accepts --flag=value, short -q, and lets the last occurrence win', () => {
    const opts = parseSimArgs(['--nodes=10', '-q', '--nodes', '20', '--json=a.json'])
    expect(opts.nodes).to.equal(20)
    expect(opts.quiet).to.equal(true)
    expect(opts.jsonPath).to.equal('a.json')
  })

  it('reads durations as seconds when plain and in ms, s, m, h or combinations otherwise', () => {
    const table: Array<[string, number]> = [
      ['90', 90_000], ['1.5', 1500], ['0', 0], ['250ms', 250], ['45s', 45_000], ['5m', 300_000], ['1.5m', 90_000],
      ['2h', 7_200_000], ['1h30m', 5_400_000], ['1m30s', 90_000], ['.5h', 1_800_000]
    ]
    for (const [text, ms] of table) {
      expect(parseDuration(text), text).to.equal(ms)
      expect(parseSimArgs(['--session-median', text]).sessionMedianMs, text).to.equal(ms)
    }
    for (const bad of ['', '5x', 'm', '5 m', '1h-30m', '5M', '1e3s', 'Infinity', '0x10']) {
      expect(parseDuration(bad), bad).to.equal(undefined)
    }
  })

  it('formats durations so that they parse back to the same milliseconds', () => {
    for (const ms of [0, 250, 1000, 2500, 90_000, 300_000, 5_400_000, 3_600_000, 3_661_500]) {
      expect(parseDuration(formatDuration(ms)), String(ms)).to.equal(ms)
    }
    expect(formatDuration(30 * 60_000)).to.equal('30m')
    expect(formatDuration(5_400_000)).to.equal('1h30m')
  })

  it('treats --session-median 0 as no churn rather than an error', () => {
    expect(parseSimArgs(['--session-median', '0']).sessionMedianMs).to.equal(0)
  })

  it('reads --holder-hedge as auto, off or a duration, and refuses anything else', () => {
    expect(parseSimArgs(['--holder-hedge', 'auto']).holderHedge).to.equal('auto')
    expect(parseSimArgs(['--holder-hedge', 'off']).holderHedge).to.equal('off')
    expect(parseSimArgs(['--holder-hedge', '1.5s']).holderHedge).to.equal(1_500)
    expect(() => parseSimArgs(['--holder-hedge', 'soon'])).to.throw().with.property('name', 'SimOptionsError')
  })

  it('leaves the mass failure off unless --mass-failure-at is given', () => {
    expect(parseSimArgs([])).to.not.have.property('massFailureAtMs')
    expect(parseSimArgs(['--mass-failure-at', '10m']).massFailureAtMs).to.equal(600_000)
  })

  it('returns help without validating anything else on the line', () => {
    expect(parseSimArgs(['--help']).help).to.equal(true)
    expect(parseSimArgs(['--nodes', 'lots', '-h']).help).to.equal(true)
    expect(parseSimArgs(['--bogus', '--help']).help).to.equal(true)
  })

  describe('rejects', () => {
    const cases: Array<{ what: string, argv: string[], flag: string, value?: string, says: RegExp }> = [
      { what: 'an unknown long flag', argv: ['--nodez', '5'], flag: '--nodez', says: /unknown flag --nodez/ },
      { what: 'an unknown short flag', argv: ['-x'], flag: '-x', says: /unknown flag -x/ },
      { what: 'a stray positional argument', argv: ['1000'], flag: '1000', says: /unexpected argument '1000'/ },
      { what: 'a flag missing its value at the end', argv: ['--nodes'], flag: '--nodes', says: /--nodes is missing its value/ },
      { what: 'a flag whose value is the next flag', argv: ['--json', '--quiet'], flag: '--json', says: /--json is missing its value.*--quiet/ },
      { what: 'an empty inline value', argv: ['--seed='], flag: '--seed', says: /--seed is missing its value/ },
      { what: 'a value on a switch', argv: ['--quiet=yes'], flag: '--quiet', value: 'yes', says: /--quiet takes no value/ },
      { what: 'a non-numeric count', argv: ['--nodes', 'many'], flag: '--nodes', value: 'many', says: /--nodes wants a number, got 'many'/ },
      { what: 'hex numbers', argv: ['--objects', '0x10'], flag: '--objects', value: '0x10', says: /--objects wants a number/ },
      { what: 'a fractional node count', argv: ['--nodes', '2.5'], flag: '--nodes', value: '2.5', says: /--nodes wants a whole number, got '2.5'/ },
      { what: 'zero nodes', argv: ['--nodes', '0'], flag: '--nodes', value: '0', says: /--nodes must be at least 1, got '0'/ },
      { what: 'zero successors', argv: ['--successors', '0'], flag: '--successors', value: '0', says: /--successors must be at least 1/ },
      { what: 'a negative rate given as a separate argument', argv: ['--request-rate', '-1'], flag: '--request-rate', value: '-1', says: /--request-rate must not be negative, got '-1'/ },
      { what: 'a negative loss given inline', argv: ['--loss=-0.1'], flag: '--loss', value: '-0.1', says: /--loss must not be negative/ },
      { what: 'a negative seed', argv: ['--seed', '-3'], flag: '--seed', value: '-3', says: /--seed must not be negative/ },
      { what: 'a negative duration', argv: ['--warmup', '-5m'], flag: '--warmup', value: '-5m', says: /--warmup must not be negative, got '-5m'/ },
      { what: 'a loss above 1', argv: ['--loss', '1.5'], flag: '--loss', value: '1.5', says: /--loss is a fraction and must be between 0 and 1, got '1.5'/ },
      { what: 'a crash fraction above 1', argv: ['--crash-fraction', '2'], flag: '--crash-fraction', value: '2', says: /--crash-fraction is a fraction/ },
      { what: 'a mass failure fraction above 1', argv: ['--mass-failure-at', '1m', '--mass-failure-fraction', '1.01'], flag: '--mass-failure-fraction', value: '1.01', says: /--mass-failure-fraction is a fraction/ },
      { what: 'a mass failure fraction without a time', argv: ['--mass-failure-fraction', '0.3'], flag: '--mass-failure-fraction', value: '0.3', says: /needs --mass-failure-at/ },
      { what: 'a connection budget without a set-up time', argv: ['--max-connections', '48'], flag: '--max-connections', value: '48', says: /needs --connect-setup/ },
      { what: 'a connection loss without a set-up time', argv: ['--connection-loss', '15s'], flag: '--connection-loss', value: '15s', says: /needs --connect-setup/ },
      { what: 'set-up stalls without a set-up time', argv: ['--connect-stall', '0.25'], flag: '--connect-stall', value: '0.25', says: /needs --connect-setup/ },
      { what: 'a set-up stall chance above 1', argv: ['--connect-setup', '250ms', '--connect-stall', '1.5'], flag: '--connect-stall', value: '1.5', says: /--connect-stall is a fraction/ },
      { what: 'a mass failure after the end', argv: ['--duration', '10m', '--warmup', '1m', '--mass-failure-at', '10m'], flag: '--mass-failure-at', value: '10m', says: /--mass-failure-at 10m is not before the end/ },
      { what: 'a bad duration unit', argv: ['--duration', '5d'], flag: '--duration', value: '5d', says: /--duration wants a duration like .*, got '5d'/ },
      { what: 'a zero duration', argv: ['--duration', '0'], flag: '--duration', value: '0', says: /--duration must be longer than 0/ },
      { what: 'a zero stabilize interval', argv: ['--stabilize-interval', '0s'], flag: '--stabilize-interval', value: '0s', says: /--stabilize-interval must be longer than 0/ },
      { what: 'adaptive maintenance neither on nor off', argv: ['--adaptive-maintenance', 'yes'], flag: '--adaptive-maintenance', value: 'yes', says: /--adaptive-maintenance/ },
      { what: 'a maintenance backoff below 1', argv: ['--maintenance-backoff', '0'], flag: '--maintenance-backoff', value: '0', says: /--maintenance-backoff must be at least 1/ },
      { what: 'a garbled fix-fingers interval', argv: ['--fix-fingers-interval', 'soon'], flag: '--fix-fingers-interval', value: 'soon', says: /--fix-fingers-interval wants a duration/ },
      { what: 'a warm-up as long as the run', argv: ['--duration', '10m', '--warmup', '600'], flag: '--warmup', value: '600', says: /--warmup 600 must be shorter than --duration 10m/ },
      { what: 'the default warm-up when the run is shorter', argv: ['--duration', '1m'], flag: '--warmup', says: /--warmup 5m must be shorter than --duration 1m/ },
      { what: 'an unknown start', argv: ['--start', 'settled'], flag: '--start', value: 'settled', says: /--start must be one of joins, converged, got 'settled'/ },
      { what: 'an unknown bootstrap choice', argv: ['--bootstrap', 'closest'], flag: '--bootstrap', value: 'closest', says: /--bootstrap must be one of random, nearest, got 'closest'/ },
      { what: 'an unknown session distribution', argv: ['--session-dist', 'weibull'], flag: '--session-dist', value: 'weibull', says: /--session-dist must be one of exponential, pareto, got 'weibull'/ },
      { what: 'a zero mean object size', argv: ['--mean-object-kb', '0'], flag: '--mean-object-kb', value: '0', says: /--mean-object-kb must be greater than 0/ },
      { what: 'a seed too large to be exact', argv: ['--seed', '1e20'], flag: '--seed', value: '1e20', says: /--seed wants a whole number/ }
    ]
    for (const c of cases) {
      it(`${c.what}, naming the flag`, () => {
        const err = rejection(c.argv)
        expect(err.message).to.match(c.says)
        expect(err.flag).to.equal(c.flag)
        if (c.value !== undefined) {
          expect(err.value).to.equal(c.value)
        }
      })
    }
  })

  it('documents every flag with its default in the usage text', () => {
    const flags = ['nodes', 'duration', 'warmup', 'session-median', 'session-dist', 'bootstrap', 'start', 'crash-fraction', 'mass-failure-at',
      'mass-failure-fraction', 'loss', 'objects', 'zipf', 'mean-object-kb', 'request-rate', 'lookup-rate', 'cache-mb',
      'home-copies', 'successors', 'stabilize-interval', 'fix-fingers-interval', 'adaptive-maintenance', 'maintenance-backoff', 'confirm-lookups', 'seed', 'json', 'report', 'quiet', 'help']
    for (const flag of flags) {
      expect(SIM_USAGE).to.include(`--${flag}`)
    }
    for (const shown of ['(default 1000)', '(default 30m)', '(default 5m)', '(default 10m)', '(default exponential)',
      '(default 0.8)', '(default 0.05)', '(default 50)', '(default 200)', '(default 8)', '(default 5s)']) {
      expect(SIM_USAGE).to.include(shown)
    }
  })
})
