/**
 * What a simulation run is told: every option with its default, shared by the
 * command line (`cli-options.ts`) and by code that builds options directly
 * (tests, benchmarks).
 */
import { ADAPTIVE_MAINTENANCE, MAINTENANCE_BACKOFF } from '../src/overlay/settings.ts'
import { MINUTE_MS, SECOND_MS } from './duration.ts'

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

/**
 * What a hostile page does with the lookups it is sent (`sim/hostile.ts`): `drop` swallows them
 * unanswered, `claim` answers each as the key's owner and serves bytes that are not the object
 */
export type HostileBehaviour = 'drop' | 'claim'
export const HOSTILE_BEHAVIOURS: readonly HostileBehaviour[] = ['drop', 'claim']
export const DEFAULT_HOSTILE_BEHAVIOUR: HostileBehaviour = 'drop'

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
   * Chance that a new connection's set-up stalls for 6 s (a WebRTC dial that
   * stalls until libp2p's per-address deadline). Only with
   * `connectSetupMs` > 0.
   *
   * @default 0
   */
  connectStall: number
  /**
   * How long after a page departs a page that held a connection to it
   * notices the connection closed (a browser: ICE consent checks, ~15 s),
   * ms; 0 = never noticed. Only with `connectSetupMs` > 0.
   *
   * @default 0
   */
  connectionLossMs: number
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
   * How long a page's fetch waits for the holders asked so far to start
   * sending before it asks the next one beside them (and, with nobody left,
   * brings the origin in): `'auto'` learns it from the page's holders'
   * answer times as the library does; `'off'` asks one holder at a time; a
   * number of ms fixes it (`--holder-hedge auto|off|DUR`).
   *
   * @default 'auto'
   */
  holderHedge: 'auto' | 'off' | number
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
   * Fraction in [0, 1) of the pages that are hostile (`--hostile-fraction`): exactly that share of the
   * initial pages, drawn from the run's seed, and each later arrival with that chance. Unset (the
   * default) and 0 make the same run; set, the result has a `hostile` section (0: a baseline for it).
   *
   * @default undefined (no hostile page)
   */
  hostileFraction?: number
  /**
   * What hostile pages do (`--hostile-behaviour`), see `HostileBehaviour`.
   *
   * @default 'drop' (with `hostileFraction`)
   */
  hostileBehaviour?: HostileBehaviour
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
  connectionLossMs: 0,
  maxConnections: 0,
  connectStall: 0,
  objects: DEFAULT_OBJECTS,
  zipf: DEFAULT_ZIPF,
  meanObjectKB: DEFAULT_MEAN_OBJECT_KB,
  requestRate: DEFAULT_REQUEST_RATE_PER_NODE_PER_SEC,
  lookupRate: DEFAULT_LOOKUP_RATE_PER_NODE_PER_SEC,
  cacheMB: DEFAULT_CACHE_MB,
  homeCopies: DEFAULT_HOME_COPIES,
  holderHedge: 'auto',
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
