/**
 * The simulator CLI's flags: parsing, validation, defaults and the help text.
 *
 * node:util `parseArgs` does the tokenising; the checks are ours, so every mistake becomes one
 * `SimOptionsError` whose message names the flag and the bad value. We run `parseArgs` non-strict and
 * judge its tokens ourselves because strict mode rejects `--loss -0.1` as "ambiguous" before we could
 * say what is actually wrong with it (it is negative), and its messages do not say which value was bad.
 */
import { constants } from 'node:fs'
import { access, mkdir, open, stat, unlink } from 'node:fs/promises'
import { basename, dirname, join, resolve } from 'node:path'
import { parseArgs } from 'node:util'
import { ADAPTIVE_MAINTENANCE, MAINTENANCE_BACKOFF } from '../src/overlay/settings.ts'

export type SessionDistribution = 'exponential' | 'pareto'

export const SESSION_DISTRIBUTIONS: readonly SessionDistribution[] = ['exponential', 'pareto']

/**
 * Which members a joining node is handed: uniformly `random` ones (what the relay's member list answers),
 * or the ones `nearest` its ring position (measured worse under join bursts; kept to compare)
 */
export type BootstrapChoice = 'random' | 'nearest'

export const BOOTSTRAP_CHOICES: readonly BootstrapChoice[] = ['random', 'nearest']
export type StartChoice = 'joins' | 'converged'
export const START_CHOICES: readonly StartChoice[] = ['joins', 'converged']

export interface SimOptions {
  /**
   * Nodes in the ring; under churn, arrivals keep the population around this.
   *
   * @default 1000
   */
  nodes: number
  /**
   * Simulated time of the whole run, warm-up included.
   *
   * @default 30 min
   */
  durationMs: number
  /**
   * Leading simulated time excluded from the metrics; less than `durationMs`.
   *
   * @default 5 min
   */
  warmupMs: number
  /**
   * Median session length; 0 = no churn (every node stays for the whole run).
   *
   * @default 10 min
   */
  sessionMedianMs: number
  /**
   * Distribution of session lengths around that median.
   *
   * @default 'exponential'
   */
  sessionDist: SessionDistribution
  /**
   * Which members a joining node contacts first.
   *
   * @default 'random'
   */
  bootstrap: BootstrapChoice
  /**
   * How the initial population forms the ring: `joins` — every node joins
   * through the protocol during the first half of the warm-up; `converged` —
   * all nodes are members at t = 0 with the routing state a settled ring has
   * (neighbours and fingers computed by the oracle), for measuring a stable
   * ring, or churn from a stable start, at sizes where 10⁵ joins would take
   * hours of wall time. Later arrivals always join through the protocol.
   *
   * @default 'joins'
   */
  start: StartChoice
  /**
   * Fraction in [0, 1] of departures that are crashes rather than graceful leaves.
   *
   * @default 0.5
   */
  crashFraction: number
  /**
   * When the one correlated crash event happens; undefined = no mass failure.
   *
   * @default undefined
   */
  massFailureAtMs?: number
  /**
   * Fraction in [0, 1] of live nodes that crash in the mass failure.
   *
   * @default 0.5
   */
  massFailureFraction: number
  /**
   * Probability in [0, 1] that a message is dropped.
   *
   * @default 0
   */
  loss: number
  /**
   * Set-up time of a connection between two nodes on top of two round trips
   * (a browser's WebRTC set-up through the relay), ms; 0 = connections are free.
   *
   * @default 0
   */
  connectSetupMs: number
  /**
   * Connections a node keeps open, least recently used closed first; 0 = no
   * limit. Only with `connectSetupMs` > 0.
   *
   * @default 0
   */
  maxConnections: number
  /**
   * Distinct objects in the catalogue.
   *
   * @default 10000
   */
  objects: number
  /**
   * Zipf exponent α of object popularity; 0 = uniform.
   *
   * @default 0.8
   */
  zipf: number
  /**
   * Mean object size in KB (1 KB = 1024 bytes).
   *
   * @default 200
   */
  meanObjectKB: number
  /**
   * Object requests per node per second (Poisson).
   *
   * @default 0.05
   */
  requestRate: number
  /**
   * Pure ring lookups per node per second (Poisson), on top of the requests.
   *
   * @default 0
   */
  lookupRate: number
  /**
   * Cache size per node in MB (1 MB = 2^20 bytes).
   *
   * @default 50
   */
  cacheMB: number
  /**
   * Whether a key's home node fetches a copy of an object whose only holder
   * just announced it (`DirectoryService` `onSoleHolder`), so the object
   * outlives that holder's session (`--home-copies on|off`).
   *
   * @default true
   */
  homeCopies: boolean
  /**
   * Successor list length.
   *
   * @default 8
   */
  successors: number
  /**
   * Period of the stabilize round.
   *
   * @default 5 s
   */
  stabilizeIntervalMs: number
  /**
   * Period of the fix-fingers round.
   *
   * @default 5 s
   */
  fixFingersIntervalMs: number
  /**
   * Stabilize and fix-fingers rounds back off while a node's neighbourhood
   * is quiet and return to their period when it changes
   * (`--adaptive-maintenance on|off`, `RingNodeInit.adaptiveMaintenance`).
   *
   * @default the library's default (on)
   */
  adaptiveMaintenance: boolean
  /**
   * The longest round as a multiple of its period when rounds adapt.
   *
   * @default the library's `MAINTENANCE_BACKOFF` (16)
   */
  maintenanceBackoff: number
  /**
   * Pure lookups confirm the owner they found with it directly before they
   * count as answered (`LookupOptions.confirm`; `--confirm-lookups on|off`).
   *
   * @default false
   */
  confirmLookups: boolean
  /**
   * PRNG seed; the same seed and options give the same trace.
   *
   * @default 1
   */
  seed: number
  /**
   * Where to write the JSON result document.
   *
   * @default undefined (not written)
   */
  jsonPath?: string
  /**
   * Where to write the HTML report.
   *
   * @default undefined (not written)
   */
  reportPath?: string
  /**
   * Stop the run after this much wall-clock time and report how far it got
   * (`virtualSeconds` then says how much was simulated); 0 = no limit.
   *
   * @default 0
   */
  wallLimitMs: number
  /**
   * No progress bar and no notes on stderr; the summary still goes to stdout.
   *
   * @default false
   */
  quiet: boolean
  /**
   * Print the usage and exit; when set, no other flag was validated.
   *
   * @default false
   */
  help: boolean
}

const SECOND_MS = 1000
const MINUTE_MS = 60 * SECOND_MS
const HOUR_MS = 60 * MINUTE_MS

const ON_OFF = ['on', 'off'] as const
export const DEFAULT_NODES = 1000
export const DEFAULT_DURATION_MS = 30 * MINUTE_MS
export const DEFAULT_WARMUP_MS = 5 * MINUTE_MS
export const DEFAULT_SESSION_MEDIAN_MS = 10 * MINUTE_MS
export const DEFAULT_SESSION_DIST: SessionDistribution = 'exponential'
export const DEFAULT_BOOTSTRAP: BootstrapChoice = 'random'
export const DEFAULT_START: StartChoice = 'joins'
export const DEFAULT_CRASH_FRACTION = 0.5
export const DEFAULT_MASS_FAILURE_FRACTION = 0.5
export const DEFAULT_LOSS = 0
export const DEFAULT_OBJECTS = 10_000
export const DEFAULT_ZIPF = 0.8
export const DEFAULT_MEAN_OBJECT_KB = 200
export const DEFAULT_REQUEST_RATE_PER_NODE_PER_SEC = 0.05
export const DEFAULT_LOOKUP_RATE_PER_NODE_PER_SEC = 0
export const DEFAULT_CACHE_MB = 50
export const DEFAULT_HOME_COPIES = true
export const DEFAULT_SUCCESSORS = 8
export const DEFAULT_STABILIZE_INTERVAL_MS = 5 * SECOND_MS
export const DEFAULT_FIX_FINGERS_INTERVAL_MS = 5 * SECOND_MS
export const DEFAULT_ADAPTIVE_MAINTENANCE = ADAPTIVE_MAINTENANCE
export const DEFAULT_MAINTENANCE_BACKOFF = MAINTENANCE_BACKOFF
export const DEFAULT_SEED = 1

/** Every default in one place, for code (tests, benchmarks) that builds options without a command line */
export const DEFAULT_SIM_OPTIONS: Readonly<SimOptions> = Object.freeze({
  nodes: DEFAULT_NODES,
  durationMs: DEFAULT_DURATION_MS,
  warmupMs: DEFAULT_WARMUP_MS,
  sessionMedianMs: DEFAULT_SESSION_MEDIAN_MS,
  sessionDist: DEFAULT_SESSION_DIST,
  bootstrap: DEFAULT_BOOTSTRAP,
  start: DEFAULT_START,
  crashFraction: DEFAULT_CRASH_FRACTION,
  massFailureFraction: DEFAULT_MASS_FAILURE_FRACTION,
  loss: DEFAULT_LOSS,
  connectSetupMs: 0,
  maxConnections: 0,
  objects: DEFAULT_OBJECTS,
  zipf: DEFAULT_ZIPF,
  meanObjectKB: DEFAULT_MEAN_OBJECT_KB,
  requestRate: DEFAULT_REQUEST_RATE_PER_NODE_PER_SEC,
  lookupRate: DEFAULT_LOOKUP_RATE_PER_NODE_PER_SEC,
  cacheMB: DEFAULT_CACHE_MB,
  homeCopies: DEFAULT_HOME_COPIES,
  successors: DEFAULT_SUCCESSORS,
  stabilizeIntervalMs: DEFAULT_STABILIZE_INTERVAL_MS,
  fixFingersIntervalMs: DEFAULT_FIX_FINGERS_INTERVAL_MS,
  adaptiveMaintenance: DEFAULT_ADAPTIVE_MAINTENANCE,
  maintenanceBackoff: DEFAULT_MAINTENANCE_BACKOFF,
  confirmLookups: false,
  seed: DEFAULT_SEED,
  wallLimitMs: 0,
  quiet: false,
  help: false
})

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

interface FlagDoc {
  /** Long name without the dashes */
  name: string
  /** Placeholder for the value; absent for switches */
  arg?: string
  short?: string
  /** The default as shown in the help, absent when there is none worth showing */
  default?: string
  help: string
}

/** Drives both the parser's option table and the help text, so neither can forget a flag */
const FLAGS: readonly FlagDoc[] = [
  { name: 'nodes', arg: 'N', default: String(DEFAULT_NODES), help: 'nodes in the ring (steady-state population under churn)' },
  { name: 'duration', arg: 'DUR', default: formatDuration(DEFAULT_DURATION_MS), help: 'simulated time of the whole run, warm-up included' },
  { name: 'warmup', arg: 'DUR', default: formatDuration(DEFAULT_WARMUP_MS), help: 'leading time left out of the metrics (< --duration)' },
  { name: 'session-median', arg: 'DUR', default: formatDuration(DEFAULT_SESSION_MEDIAN_MS), help: 'median node session; 0 = no churn' },
  { name: 'session-dist', arg: 'DIST', default: DEFAULT_SESSION_DIST, help: `session length distribution: ${SESSION_DISTRIBUTIONS.join(' | ')}` },
  { name: 'bootstrap', arg: 'HOW', default: DEFAULT_BOOTSTRAP, help: `members a joining node is handed: ${BOOTSTRAP_CHOICES.join(' | ')} (random = the relay's answer)` },
  { name: 'start', arg: 'HOW', default: DEFAULT_START, help: `how the initial nodes form the ring: ${START_CHOICES.join(' | ')} (converged = members at t = 0 with settled routing state)` },
  { name: 'crash-fraction', arg: 'F', default: String(DEFAULT_CRASH_FRACTION), help: 'fraction of departures that crash rather than leave, 0..1' },
  { name: 'mass-failure-at', arg: 'DUR', help: 'when one correlated crash event happens (default none)' },
  { name: 'mass-failure-fraction', arg: 'F', default: String(DEFAULT_MASS_FAILURE_FRACTION), help: 'fraction of live nodes crashing then, 0..1' },
  { name: 'loss', arg: 'P', default: String(DEFAULT_LOSS), help: 'probability that a message is dropped, 0..1' },
  { name: 'connect-setup', arg: 'DUR', default: '0', help: 'set-up time of a new connection on top of two round trips (a browser: ~250ms); 0 = free' },
  { name: 'max-connections', arg: 'N', default: '0', help: 'connections a node keeps open, least recently used closed first; 0 = no limit' },
  { name: 'objects', arg: 'M', default: String(DEFAULT_OBJECTS), help: 'distinct objects in the catalogue' },
  { name: 'zipf', arg: 'ALPHA', default: String(DEFAULT_ZIPF), help: 'Zipf exponent of object popularity; 0 = uniform' },
  { name: 'mean-object-kb', arg: 'KB', default: String(DEFAULT_MEAN_OBJECT_KB), help: 'mean object size in KB' },
  { name: 'request-rate', arg: 'R', default: String(DEFAULT_REQUEST_RATE_PER_NODE_PER_SEC), help: 'object requests per node per second' },
  { name: 'lookup-rate', arg: 'R', default: String(DEFAULT_LOOKUP_RATE_PER_NODE_PER_SEC), help: 'pure ring lookups per node per second' },
  { name: 'cache-mb', arg: 'MB', default: String(DEFAULT_CACHE_MB), help: 'cache size per node in MB' },
  { name: 'home-copies', arg: 'ON', default: DEFAULT_HOME_COPIES ? 'on' : 'off', help: 'a home node copies an object whose only holder just announced it: on | off' },
  { name: 'successors', arg: 'K', default: String(DEFAULT_SUCCESSORS), help: 'successor list length' },
  { name: 'stabilize-interval', arg: 'DUR', default: formatDuration(DEFAULT_STABILIZE_INTERVAL_MS), help: 'period of the stabilize round' },
  { name: 'fix-fingers-interval', arg: 'DUR', default: formatDuration(DEFAULT_FIX_FINGERS_INTERVAL_MS), help: 'period of the fix-fingers round' },
  { name: 'adaptive-maintenance', arg: 'ON', default: DEFAULT_ADAPTIVE_MAINTENANCE ? 'on' : 'off', help: 'rounds back off while a node\'s neighbourhood is quiet, back to their period when it changes: on | off' },
  { name: 'maintenance-backoff', arg: 'K', default: String(DEFAULT_MAINTENANCE_BACKOFF), help: 'longest round as a multiple of its period, with adaptive maintenance' },
  { name: 'confirm-lookups', arg: 'ON', default: 'off', help: 'pure lookups ask the owner they found, directly, whether it still owns the key: on | off' },
  { name: 'wall-limit', arg: 'DUR', default: '0', help: 'stop after this much wall-clock time and report how far the run got; 0 = none' },
  { name: 'seed', arg: 'S', default: String(DEFAULT_SEED), help: 'PRNG seed; same seed and flags = same run' },
  { name: 'json', arg: 'FILE', help: 'write the JSON result document to FILE' },
  { name: 'report', arg: 'FILE', help: 'write the HTML report to FILE' },
  { name: 'quiet', short: 'q', help: 'no progress bar or notes on stderr (summary still prints)' },
  { name: 'help', short: 'h', help: 'print this help and exit' }
]

export const SIM_USAGE = renderUsage()

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
    objects: readInteger(raw, 'objects', DEFAULT_OBJECTS, 1),
    zipf: readNumber(raw, 'zipf', DEFAULT_ZIPF),
    meanObjectKB: readNumber(raw, 'mean-object-kb', DEFAULT_MEAN_OBJECT_KB, { positive: true }),
    requestRate: readNumber(raw, 'request-rate', DEFAULT_REQUEST_RATE_PER_NODE_PER_SEC),
    lookupRate: readNumber(raw, 'lookup-rate', DEFAULT_LOOKUP_RATE_PER_NODE_PER_SEC),
    cacheMB: readNumber(raw, 'cache-mb', DEFAULT_CACHE_MB),
    homeCopies: readChoice(raw, 'home-copies', ON_OFF, DEFAULT_HOME_COPIES ? 'on' : 'off') === 'on',
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

/**
 * Parses a duration: a plain number is seconds; otherwise one or more number+unit parts with units
 * ms, s, m, h (`90s`, `1.5m`, `1h30m`). Returns whole milliseconds, or undefined when malformed.
 */
export function parseDuration (text: string): number | undefined {
  if (NUMBER.test(text)) {
    return Math.round(Number(text) * SECOND_MS)
  }
  if (!DURATION.test(text)) {
    return undefined
  }
  let ms = 0
  for (const [, amount, unit] of text.matchAll(DURATION_PART)) {
    ms += Number(amount) * UNIT_MS[unit]
  }
  return Math.round(ms)
}

/** Formats milliseconds the way `parseDuration` reads them back: `30m`, `1h30m`, `2.5s`, `250ms`, `0s` */
export function formatDuration (ms: number): string {
  if (!Number.isFinite(ms) || ms < 0) {
    return String(ms)
  }
  if (ms === 0) {
    return '0s'
  }
  if (ms < SECOND_MS) {
    return `${ms}ms`
  }
  const hours = Math.floor(ms / HOUR_MS)
  const minutes = Math.floor((ms % HOUR_MS) / MINUTE_MS)
  const seconds = (ms % MINUTE_MS) / SECOND_MS
  let out = ''
  if (hours > 0) {
    out += `${hours}h`
  }
  if (minutes > 0) {
    out += `${minutes}m`
  }
  if (seconds > 0) {
    out += `${seconds}s`
  }
  return out
}

/** Unsigned decimal, as typed by people: `3`, `0.5`, `.5`, `1e3`; no hex, no Infinity, no sign */
const NUMBER = /^(\d+\.?\d*|\.\d+)(e[+-]?\d+)?$/i
const DURATION = /^((\d+\.?\d*|\.\d+)(ms|s|m|h))+$/
const DURATION_PART = /(\d+\.?\d*|\.\d+)(ms|s|m|h)/g
const UNIT_MS: Record<string, number> = { ms: 1, s: SECOND_MS, m: MINUTE_MS, h: HOUR_MS }
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

/**
 * Makes sure the simulator can write `path` (the value of `flag`), so a mistake shows before a run that may
 * take hours rather than after it: the parent directory exists or can be made, and a probe file can be
 * created in it (which also catches read-only file systems and pseudo file systems such as /proc, where
 * permission bits say nothing); an existing `path` must be a writable regular file (a FIFO would block
 * the write forever, a directory cannot be written).
 *
 * @throws {SimOptionsError} naming the flag, the path and what is wrong
 */
export async function checkOutputPath (flag: string, path: string): Promise<void> {
  const fail = (why: string): SimOptionsError => new SimOptionsError(`${flag} ${path}: ${why}`, flag, path)
  const target = resolve(path)
  const existing = await stat(target).catch((err: NodeJS.ErrnoException) => {
    if (err.code === 'ENOENT') {
      return undefined
    }
    throw fail(`cannot use it (${err.code ?? err.message})`)
  })
  if (existing?.isDirectory() === true) {
    throw fail('is a directory; give a file name')
  }
  if (existing != null && !existing.isFile()) {
    throw fail('exists and is not a regular file')
  }
  const dir = dirname(target)
  try {
    await makeDirectories(dir)
  } catch (err: any) {
    throw fail(`cannot create its directory ${err.path ?? dir} (${err.code ?? err.message})`)
  }
  if (existing != null) {
    await access(target, constants.W_OK).catch((err: NodeJS.ErrnoException) => {
      throw fail(`is not writable (${err.code ?? err.message})`)
    })
  }
  const probe = join(dir, `.${basename(target)}.${process.pid}.probe`)
  try {
    const handle = await open(probe, 'wx')
    await handle.close()
    await unlink(probe)
  } catch (err: any) {
    throw fail(`cannot write in ${dir} (${err.code ?? err.message})`)
  }
}

/**
 * `mkdir -p`, one level at a time. Node's `mkdir(path, { recursive: true })` never settles on some paths
 * (`/proc/nope`: the kernel answers ENOENT for a parent that exists, and Node retries forever), which
 * hung the simulator after its run; here every step is one plain `mkdir` that fails at once.
 */
export async function makeDirectories (dir: string): Promise<void> {
  const missing: string[] = []
  let current = resolve(dir)
  for (;;) {
    const info = await stat(current).catch((err: NodeJS.ErrnoException) => {
      if (err.code === 'ENOENT') {
        return undefined
      }
      throw err
    })
    if (info != null) {
      if (!info.isDirectory()) {
        throw Object.assign(new Error(`${current} is not a directory`), { code: 'ENOTDIR', path: current })
      }
      break
    }
    missing.unshift(current)
    const parent = dirname(current)
    if (parent === current) {
      break
    }
    current = parent
  }
  for (const level of missing) {
    await mkdir(level).catch((err: NodeJS.ErrnoException) => {
      // made meanwhile by someone else: fine
      if (err.code !== 'EEXIST') {
        throw err
      }
    })
  }
}

function renderUsage (): string {
  const left = FLAGS.map(f => `${f.short === undefined ? '    ' : `-${f.short}, `}--${f.name}${f.arg === undefined ? '' : ` ${f.arg}`}`)
  const width = Math.max(...left.map(l => l.length)) + 2
  const lines = FLAGS.map((f, i) => `  ${left[i].padEnd(width)}${f.help}${f.default === undefined ? '' : ` (default ${f.default})`}`)
  return [
    'Usage: npm run sim -- [flags]',
    '',
    'Runs the ringcdn Chord ring in the discrete-event simulator and reports lookup correctness,',
    'hops, latency, offload and maintenance cost.',
    '',
    'Flags:',
    ...lines,
    '',
    'DUR is a duration: a plain number is seconds, or number+unit with units ms, s, m, h (90s, 5m, 1h30m).',
    'Rates are per node per second. Fractions are between 0 and 1.',
    '',
    'Example:',
    '  npm run sim -- --nodes 1000 --duration 30m --session-median 2m --seed 7 --json out.json --report out.html',
    ''
  ].join('\n')
}
