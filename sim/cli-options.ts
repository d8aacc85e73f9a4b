/**
 * The simulator CLI's flags: parsing and validation into `SimOptions`.
 *
 * node:util `parseArgs` does the tokenising; the checks are ours, so every mistake becomes one
 * `SimOptionsError` whose message names the flag and the bad value. We run `parseArgs` non-strict and
 * judge its tokens ourselves because strict mode rejects `--loss -0.1` as "ambiguous" before we could
 * say what is actually wrong with it (it is negative), and its messages do not say which value was bad.
 */
import { parseArgs } from 'node:util'
import { FLAGS } from './cli-flags.ts'
import { formatDuration, NUMBER, parseDuration } from './duration.ts'
import { BOOTSTRAP_CHOICES, DEFAULT_ADAPTIVE_MAINTENANCE, DEFAULT_BOOTSTRAP, DEFAULT_CACHE_MB, DEFAULT_CRASH_FRACTION, DEFAULT_DURATION_MS, DEFAULT_FIX_FINGERS_INTERVAL_MS, DEFAULT_HOME_COPIES, DEFAULT_HOSTILE_BEHAVIOUR, DEFAULT_LOOKUP_RATE_PER_NODE_PER_SEC, DEFAULT_LOSS, DEFAULT_MAINTENANCE_BACKOFF, DEFAULT_MASS_FAILURE_FRACTION, DEFAULT_MEAN_OBJECT_KB, DEFAULT_NODES, DEFAULT_OBJECTS, DEFAULT_REQUEST_RATE_PER_NODE_PER_SEC, DEFAULT_SEED, DEFAULT_SESSION_DIST, DEFAULT_SESSION_MEDIAN_MS, DEFAULT_SIM_OPTIONS, DEFAULT_STABILIZE_INTERVAL_MS, DEFAULT_START, DEFAULT_SUCCESSORS, DEFAULT_WARMUP_MS, DEFAULT_ZIPF, HOSTILE_BEHAVIOURS, SESSION_DISTRIBUTIONS, START_CHOICES } from './options.ts'
import type { SimOptions } from './options.ts'

const ON_OFF = ['on', 'off'] as const

/** A bad command line. `flag` is the offending flag as typed (or the stray argument), `value` its value if any */
export class SimOptionsError extends Error {
  static name = 'SimOptionsError'
  name = 'SimOptionsError'
  readonly flag: string
  readonly value: string | undefined

  constructor (message: string, flag: string, value?: string) {
    super(message)
    this.flag = flag
    this.value = value
  }
}

/**
 * Parses the simulator's command line (without the node and script arguments) into validated options.
 *
 * @throws {SimOptionsError} on an unknown flag, a missing or malformed value, or a value out of range
 */
export function parseSimArgs (argv: readonly string[]): SimOptions {
  // help wins over everything else on the line, even mistakes: whoever asked wants to read it
  const terminator = argv.indexOf('--')
  if ((terminator === -1 ? argv : argv.slice(0, terminator)).some(arg => arg === '--help' || arg === '-h')) {
    return { ...DEFAULT_SIM_OPTIONS, help: true }
  }
  const raw = tokenize(argv)

  const opts: SimOptions = {
    nodes: readInteger(raw, 'nodes', DEFAULT_NODES, 1),
    durationMs: readDuration(raw, 'duration', DEFAULT_DURATION_MS, { positive: true }),
    warmupMs: readDuration(raw, 'warmup', DEFAULT_WARMUP_MS),
    sessionMedianMs: readDuration(raw, 'session-median', DEFAULT_SESSION_MEDIAN_MS),
    sessionDist: readChoice(raw, 'session-dist', SESSION_DISTRIBUTIONS, DEFAULT_SESSION_DIST),
    bootstrap: readChoice(raw, 'bootstrap', BOOTSTRAP_CHOICES, DEFAULT_BOOTSTRAP),
    start: readChoice(raw, 'start', START_CHOICES, DEFAULT_START),
    crashFraction: readFraction(raw, 'crash-fraction', DEFAULT_CRASH_FRACTION),
    massFailureFraction: readFraction(raw, 'mass-failure-fraction', DEFAULT_MASS_FAILURE_FRACTION),
    loss: readFraction(raw, 'loss', DEFAULT_LOSS),
    connectSetupMs: readDuration(raw, 'connect-setup', 0),
    maxConnections: readInteger(raw, 'max-connections', 0, 0),
    connectionLossMs: readDuration(raw, 'connection-loss', 0),
    connectStall: readFraction(raw, 'connect-stall', 0),
    objects: readInteger(raw, 'objects', DEFAULT_OBJECTS, 1),
    zipf: readNumber(raw, 'zipf', DEFAULT_ZIPF),
    meanObjectKB: readNumber(raw, 'mean-object-kb', DEFAULT_MEAN_OBJECT_KB, { positive: true }),
    requestRate: readNumber(raw, 'request-rate', DEFAULT_REQUEST_RATE_PER_NODE_PER_SEC),
    lookupRate: readNumber(raw, 'lookup-rate', DEFAULT_LOOKUP_RATE_PER_NODE_PER_SEC),
    cacheMB: readNumber(raw, 'cache-mb', DEFAULT_CACHE_MB),
    homeCopies: readChoice(raw, 'home-copies', ON_OFF, DEFAULT_HOME_COPIES ? 'on' : 'off') === 'on',
    holderHedge: readHedge(raw),
    successors: readInteger(raw, 'successors', DEFAULT_SUCCESSORS, 1),
    stabilizeIntervalMs: readDuration(raw, 'stabilize-interval', DEFAULT_STABILIZE_INTERVAL_MS, { positive: true }),
    fixFingersIntervalMs: readDuration(raw, 'fix-fingers-interval', DEFAULT_FIX_FINGERS_INTERVAL_MS, { positive: true }),
    adaptiveMaintenance: readChoice(raw, 'adaptive-maintenance', ON_OFF, DEFAULT_ADAPTIVE_MAINTENANCE ? 'on' : 'off') === 'on',
    maintenanceBackoff: readInteger(raw, 'maintenance-backoff', DEFAULT_MAINTENANCE_BACKOFF, 1),
    confirmLookups: readChoice(raw, 'confirm-lookups', ON_OFF, 'off') === 'on',
    seed: readInteger(raw, 'seed', DEFAULT_SEED, 0),
    wallLimitMs: readDuration(raw, 'wall-limit', 0),
    quiet: raw.has('quiet'),
    help: false
  }

  const massFailureAt = raw.get('mass-failure-at')
  if (massFailureAt !== undefined) {
    opts.massFailureAtMs = readDuration(raw, 'mass-failure-at', 0)
    if (opts.massFailureAtMs >= opts.durationMs) {
      throw new SimOptionsError(`--mass-failure-at ${massFailureAt} is not before the end of the run (--duration ${formatDuration(opts.durationMs)})`, '--mass-failure-at', massFailureAt)
    }
  } else if (raw.has('mass-failure-fraction')) {
    // a fraction with no time would silently do nothing, which is surely not what was meant
    throw new SimOptionsError(`--mass-failure-fraction ${raw.get('mass-failure-fraction')} needs --mass-failure-at to say when the failure happens`, '--mass-failure-fraction', raw.get('mass-failure-fraction'))
  }
  if (opts.maxConnections > 0 && opts.connectSetupMs === 0) {
    // a budget on free connections would change nothing, which is surely not what was meant
    throw new SimOptionsError(`--max-connections ${opts.maxConnections} needs --connect-setup: connections are free without it`, '--max-connections', raw.get('max-connections'))
  }
  if (opts.connectStall > 0 && opts.connectSetupMs === 0) {
    throw new SimOptionsError(`--connect-stall ${raw.get('connect-stall')} needs --connect-setup: connections are free without it`, '--connect-stall', raw.get('connect-stall'))
  }
  if (opts.connectionLossMs > 0 && opts.connectSetupMs === 0) {
    throw new SimOptionsError(`--connection-loss ${raw.get('connection-loss')} needs --connect-setup: connections are free without it, and none is held`, '--connection-loss', raw.get('connection-loss'))
  }
  readHostile(raw, opts)
  if (opts.warmupMs >= opts.durationMs) {
    throw new SimOptionsError(`--warmup ${raw.get('warmup') ?? formatDuration(opts.warmupMs)} must be shorter than --duration ${formatDuration(opts.durationMs)}`, '--warmup', raw.get('warmup'))
  }
  const jsonPath = readPath(raw, 'json')
  if (jsonPath !== undefined) {
    opts.jsonPath = jsonPath
  }
  const reportPath = readPath(raw, 'report')
  if (reportPath !== undefined) {
    opts.reportPath = reportPath
  }
  return opts
}

/** A value token that is a negative number rather than the next flag, e.g. the `-0.1` in `--loss -0.1` */
const NEGATIVE_NUMBER = /^-(\d|\.\d)/

const PARSE_ARGS_OPTIONS = Object.fromEntries(FLAGS.map(f => [
  f.name,
  f.arg === undefined ? { type: 'boolean' as const, ...(f.short === undefined ? {} : { short: f.short }) } : { type: 'string' as const }
]))

/**
 * Turns argv into flag name → raw value ('' for switches), last occurrence winning. Values are still
 * strings here; the read* functions below interpret and range-check them.
 */
function tokenize (argv: readonly string[]): Map<string, string> {
  const { tokens } = parseArgs({ args: joinNegativeValues(argv), options: PARSE_ARGS_OPTIONS, strict: false, allowPositionals: true, tokens: true })
  const raw = new Map<string, string>()
  for (const token of tokens) {
    if (token.kind === 'positional') {
      throw new SimOptionsError(`unexpected argument '${token.value}' (flags look like --nodes 1000)`, token.value)
    }
    if (token.kind === 'option-terminator') {
      continue
    }
    const doc = FLAGS.find(f => f.name === token.name)
    if (doc === undefined) {
      throw new SimOptionsError(`unknown flag ${token.rawName}`, token.rawName)
    }
    const flag = `--${doc.name}`
    if (doc.arg === undefined) {
      if (token.value !== undefined) {
        throw new SimOptionsError(`${flag} takes no value, got '${token.value}'`, flag, token.value)
      }
      raw.set(doc.name, '')
      continue
    }
    // non-strict parseArgs takes the next argument as the value even when it is the next flag
    if (token.value === undefined || token.value === '') {
      throw new SimOptionsError(`${flag} is missing its value (${doc.arg})`, flag)
    }
    if (token.inlineValue === false && token.value.startsWith('-')) {
      throw new SimOptionsError(`${flag} is missing its value (${doc.arg}): the next argument is the flag ${token.value}`, flag)
    }
    raw.set(doc.name, token.value)
  }
  return raw
}

/**
 * Rewrites `--flag -0.1` as `--flag=-0.1`: otherwise parseArgs would read `-0.1` as the short flags
 * `-0`, `-.`, `-1`, and the user would hear about unknown flags instead of "must not be negative".
 */
function joinNegativeValues (argv: readonly string[]): string[] {
  const out: string[] = []
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]
    const next = argv[i + 1]
    const doc = arg.startsWith('--') ? FLAGS.find(f => `--${f.name}` === arg) : undefined
    if (doc?.arg !== undefined && next !== undefined && NEGATIVE_NUMBER.test(next)) {
      out.push(`${arg}=${next}`)
      i++
    } else {
      out.push(arg)
    }
  }
  return out
}

function readNumber (raw: Map<string, string>, name: string, fallback: number, range: { positive?: boolean } = {}): number {
  const text = raw.get(name)
  if (text === undefined) {
    return fallback
  }
  const flag = `--${name}`
  if (text.startsWith('-') && NUMBER.test(text.slice(1))) {
    throw new SimOptionsError(`${flag} must not be negative, got '${text}'`, flag, text)
  }
  if (!NUMBER.test(text)) {
    throw new SimOptionsError(`${flag} wants a number, got '${text}'`, flag, text)
  }
  const value = Number(text)
  if (!Number.isFinite(value)) {
    throw new SimOptionsError(`${flag} is out of range, got '${text}'`, flag, text)
  }
  if (range.positive === true && value === 0) {
    throw new SimOptionsError(`${flag} must be greater than 0, got '${text}'`, flag, text)
  }
  return value
}

function readInteger (raw: Map<string, string>, name: string, fallback: number, min: number): number {
  const value = readNumber(raw, name, fallback)
  const text = raw.get(name)
  if (text === undefined) {
    return value
  }
  const flag = `--${name}`
  if (!Number.isSafeInteger(value)) {
    throw new SimOptionsError(`${flag} wants a whole number, got '${text}'`, flag, text)
  }
  if (value < min) {
    throw new SimOptionsError(`${flag} must be at least ${min}, got '${text}'`, flag, text)
  }
  return value
}

function readFraction (raw: Map<string, string>, name: string, fallback: number): number {
  const value = readNumber(raw, name, fallback)
  const text = raw.get(name)
  if (text !== undefined && value > 1) {
    throw new SimOptionsError(`--${name} is a fraction and must be between 0 and 1, got '${text}'`, `--${name}`, text)
  }
  return value
}

function readDuration (raw: Map<string, string>, name: string, fallback: number, range: { positive?: boolean } = {}): number {
  const text = raw.get(name)
  if (text === undefined) {
    return fallback
  }
  const flag = `--${name}`
  if (text.startsWith('-') && parseDuration(text.slice(1)) !== undefined) {
    throw new SimOptionsError(`${flag} must not be negative, got '${text}'`, flag, text)
  }
  const ms = parseDuration(text)
  if (ms === undefined) {
    throw new SimOptionsError(`${flag} wants a duration like 90, 90s, 5m, 1.5h or 1h30m, got '${text}'`, flag, text)
  }
  if (!Number.isSafeInteger(ms)) {
    throw new SimOptionsError(`${flag} is out of range, got '${text}'`, flag, text)
  }
  if (range.positive === true && ms === 0) {
    throw new SimOptionsError(`${flag} must be longer than 0 ms, got '${text}'`, flag, text)
  }
  return ms
}

/**
 * `--hostile-fraction` and `--hostile-behaviour`, set on `opts` only when given, so that a run without
 * them has the very options (and result) it had before hostile pages existed
 */
function readHostile (raw: Map<string, string>, opts: SimOptions): void {
  const fraction = raw.get('hostile-fraction')
  if (fraction === undefined) {
    if (raw.has('hostile-behaviour')) {
      // a behaviour with no hostile page would silently do nothing, which is surely not what was meant
      throw new SimOptionsError(`--hostile-behaviour ${raw.get('hostile-behaviour')} needs --hostile-fraction to say how many pages are hostile`, '--hostile-behaviour', raw.get('hostile-behaviour'))
    }
    return
  }
  const value = readFraction(raw, 'hostile-fraction', 0)
  if (value >= 1) {
    throw new SimOptionsError(`--hostile-fraction must leave some honest pages (below 1), got '${fraction}'`, '--hostile-fraction', fraction)
  }
  opts.hostileFraction = value
  opts.hostileBehaviour = readChoice(raw, 'hostile-behaviour', HOSTILE_BEHAVIOURS, DEFAULT_HOSTILE_BEHAVIOUR)
}

/** `--holder-hedge`: auto, off, or a duration */
function readHedge (raw: Map<string, string>): SimOptions['holderHedge'] {
  const value = raw.get('holder-hedge')
  if (value === undefined || value === 'auto' || value === 'off') {
    return value ?? 'auto'
  }
  return readDuration(raw, 'holder-hedge', 0)
}

function readChoice<T extends string> (raw: Map<string, string>, name: string, choices: readonly T[], fallback: T): T {
  const text = raw.get(name)
  if (text === undefined) {
    return fallback
  }
  const choice = choices.find(c => c === text)
  if (choice === undefined) {
    throw new SimOptionsError(`--${name} must be one of ${choices.join(', ')}, got '${text}'`, `--${name}`, text)
  }
  return choice
}

function readPath (raw: Map<string, string>, name: string): string | undefined {
  return raw.get(name)
}
