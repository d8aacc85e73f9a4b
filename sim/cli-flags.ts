/**
 * The simulator's flags in one table, which drives both the parser
 * (`cli-options.ts`) and the help text, so neither can forget a flag.
 */
import { formatDuration } from './duration.ts'
import { BOOTSTRAP_CHOICES, DEFAULT_ADAPTIVE_MAINTENANCE, DEFAULT_BOOTSTRAP, DEFAULT_CACHE_MB, DEFAULT_CRASH_FRACTION, DEFAULT_DURATION_MS, DEFAULT_FIX_FINGERS_INTERVAL_MS, DEFAULT_HOME_COPIES, DEFAULT_HOSTILE_BEHAVIOUR, DEFAULT_LOOKUP_RATE_PER_NODE_PER_SEC, DEFAULT_LOSS, DEFAULT_MAINTENANCE_BACKOFF, DEFAULT_MASS_FAILURE_FRACTION, DEFAULT_MEAN_OBJECT_KB, DEFAULT_NODES, DEFAULT_OBJECTS, DEFAULT_REQUEST_RATE_PER_NODE_PER_SEC, DEFAULT_SEED, DEFAULT_SESSION_DIST, DEFAULT_SESSION_MEDIAN_MS, DEFAULT_STABILIZE_INTERVAL_MS, DEFAULT_START, DEFAULT_SUCCESSORS, DEFAULT_WARMUP_MS, DEFAULT_ZIPF, HOSTILE_BEHAVIOURS, SESSION_DISTRIBUTIONS, START_CHOICES } from './options.ts'

export interface FlagDoc {
  /** Long name without the dashes */
  name: string
  /** Placeholder for the value; absent for switches */
  arg?: string
  short?: string
  /** The default as shown in the help, absent when there is none worth showing */
  default?: string
  help: string
}

export const FLAGS: readonly FlagDoc[] = [
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
  { name: 'connection-loss', arg: 'DUR', default: '0', help: 'how long after a page departs the pages connected to it notice the connection closed (a closed tab hangs up: ~200ms; a page that vanished: ~15s, ICE consent checks); 0 = never; needs --connect-setup' },
  { name: 'connect-stall', arg: 'P', default: '0', help: 'chance that a new connection\'s set-up stalls 6s more, until libp2p\'s per-address deadline (what-if: WebRTC dials between Chromium pages stalled ~0.25 before the page bundle\'s fix, 0 now); needs --connect-setup' },
  { name: 'max-connections', arg: 'N', default: '0', help: 'connections a node keeps open, least recently used closed first; 0 = no limit' },
  { name: 'objects', arg: 'M', default: String(DEFAULT_OBJECTS), help: 'distinct objects in the catalogue' },
  { name: 'zipf', arg: 'ALPHA', default: String(DEFAULT_ZIPF), help: 'Zipf exponent of object popularity; 0 = uniform' },
  { name: 'mean-object-kb', arg: 'KB', default: String(DEFAULT_MEAN_OBJECT_KB), help: 'mean object size in KB' },
  { name: 'request-rate', arg: 'R', default: String(DEFAULT_REQUEST_RATE_PER_NODE_PER_SEC), help: 'object requests per node per second' },
  { name: 'lookup-rate', arg: 'R', default: String(DEFAULT_LOOKUP_RATE_PER_NODE_PER_SEC), help: 'pure ring lookups per node per second' },
  { name: 'cache-mb', arg: 'MB', default: String(DEFAULT_CACHE_MB), help: 'cache size per node in MB' },
  { name: 'home-copies', arg: 'ON', default: DEFAULT_HOME_COPIES ? 'on' : 'off', help: 'a home node copies an object whose only holder just announced it: on | off' },
  { name: 'holder-hedge', arg: 'DUR', default: 'auto', help: 'wait for the holders asked before asking the next beside them: auto (learned, as in the library) | off | a duration' },
  { name: 'successors', arg: 'K', default: String(DEFAULT_SUCCESSORS), help: 'successor list length' },
  { name: 'stabilize-interval', arg: 'DUR', default: formatDuration(DEFAULT_STABILIZE_INTERVAL_MS), help: 'period of the stabilize round' },
  { name: 'fix-fingers-interval', arg: 'DUR', default: formatDuration(DEFAULT_FIX_FINGERS_INTERVAL_MS), help: 'period of the fix-fingers round' },
  { name: 'adaptive-maintenance', arg: 'ON', default: DEFAULT_ADAPTIVE_MAINTENANCE ? 'on' : 'off', help: 'rounds back off while a node\'s neighbourhood is quiet, back to their period when it changes: on | off' },
  { name: 'maintenance-backoff', arg: 'K', default: String(DEFAULT_MAINTENANCE_BACKOFF), help: 'longest round as a multiple of its period, with adaptive maintenance' },
  { name: 'confirm-lookups', arg: 'ON', default: 'off', help: 'pure lookups ask the owner they found, directly, whether it still owns the key: on | off' },
  { name: 'hostile-fraction', arg: 'F', default: '0', help: 'fraction of the pages that attack the ring\'s routing, 0..1 (below 1); they make no requests of their own' },
  { name: 'hostile-behaviour', arg: 'HOW', default: DEFAULT_HOSTILE_BEHAVIOUR, help: `what hostile pages do with the lookups they are sent: ${HOSTILE_BEHAVIOURS.join(' | ')} (drop = never answer, claim = answer as the owner and serve bytes that are not the object)` },
  { name: 'wall-limit', arg: 'DUR', default: '0', help: 'stop after this much wall-clock time and report how far the run got; 0 = none' },
  { name: 'seed', arg: 'S', default: String(DEFAULT_SEED), help: 'PRNG seed; same seed and flags = same run' },
  { name: 'json', arg: 'FILE', help: 'write the JSON result document to FILE' },
  { name: 'report', arg: 'FILE', help: 'write the HTML report to FILE' },
  { name: 'quiet', short: 'q', help: 'no progress bar or notes on stderr (summary still prints)' },
  { name: 'help', short: 'h', help: 'print this help and exit' }
]

export const SIM_USAGE = renderUsage()

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
