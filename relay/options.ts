/**
 * Command line and environment of `ringcdn-relay`, turned into
 * `RelayOptions`. Pure: arguments, environment and a file check go in, options
 * or a `UsageError` come out. A flag wins over its environment variable.
 */
import { parseArgs } from 'node:util'
import { multiaddr } from '@multiformats/multiaddr'
import { FOUNDER_GRACE_MS, MAX_MEMBERS, MAX_MEMBERS_PER_NAMESPACE, MAX_NAMESPACES } from './members.ts'
import { DEFAULT_HOST, DEFAULT_HTTP_PORT, DEFAULT_PORT, INBOUND_CONNECTION_THRESHOLD, MAX_CONNECTIONS, MAX_INCOMING_PENDING_CONNECTIONS, MAX_RESERVATIONS } from './relay.ts'
import type { RelayOptions } from './relay.ts'

/** A flag, environment variable or value the relay cannot use */
export class UsageError extends Error {
  static name = 'UsageError'
  name = 'UsageError'
}

type Kind = 'string' | 'list' | 'port' | 'count' | 'ms' | 'file' | 'path'

interface Setting {
  flag: string
  env: string
  kind: Kind
  help: string
  default: string
}

/** Every setting, in the order `--help` lists them */
export const SETTINGS: Setting[] = [
  { flag: 'host', env: 'RINGCDN_RELAY_HOST', kind: 'string', default: DEFAULT_HOST, help: 'interface to listen on (0.0.0.0: all)' },
  { flag: 'port', env: 'RINGCDN_RELAY_PORT', kind: 'port', default: String(DEFAULT_PORT), help: 'websocket (libp2p) port; 0 = any free port' },
  { flag: 'http-port', env: 'RINGCDN_RELAY_HTTP_PORT', kind: 'port', default: String(DEFAULT_HTTP_PORT), help: 'port of /health and /metrics; 0 = any free port' },
  { flag: 'announce', env: 'RINGCDN_RELAY_ANNOUNCE', kind: 'list', default: 'the listening addresses', help: 'multiaddrs to advertise instead, comma-separated or repeated (e.g. /dns4/relay.example.com/tcp/443/wss)' },
  { flag: 'cert', env: 'RINGCDN_RELAY_CERT', kind: 'file', default: 'none (ws)', help: 'TLS certificate file (PEM); with --key the listener speaks wss' },
  { flag: 'key', env: 'RINGCDN_RELAY_KEY', kind: 'file', default: 'none', help: 'TLS private key file (PEM)' },
  { flag: 'identity', env: 'RINGCDN_RELAY_IDENTITY', kind: 'path', default: 'a new key per start', help: 'file with the relay\'s libp2p private key, created if missing (keeps the /p2p/ id across restarts)' },
  { flag: 'max-connections', env: 'RINGCDN_RELAY_MAX_CONNECTIONS', kind: 'count', default: String(MAX_CONNECTIONS), help: 'open connections before libp2p prunes' },
  { flag: 'max-reservations', env: 'RINGCDN_RELAY_MAX_RESERVATIONS', kind: 'count', default: String(MAX_RESERVATIONS), help: 'relay reservations held at once' },
  { flag: 'connection-rate', env: 'RINGCDN_RELAY_CONNECTION_RATE', kind: 'count', default: String(INBOUND_CONNECTION_THRESHOLD), help: 'new connections per second accepted from one IP address' },
  { flag: 'max-pending', env: 'RINGCDN_RELAY_MAX_PENDING', kind: 'count', default: String(MAX_INCOMING_PENDING_CONNECTIONS), help: 'connections in their handshake at once' },
  { flag: 'max-members', env: 'RINGCDN_RELAY_MAX_MEMBERS', kind: 'count', default: String(MAX_MEMBERS), help: 'ring members listed over all namespaces' },
  { flag: 'max-members-per-namespace', env: 'RINGCDN_RELAY_MAX_MEMBERS_PER_NAMESPACE', kind: 'count', default: String(MAX_MEMBERS_PER_NAMESPACE), help: 'ring members listed per namespace' },
  { flag: 'max-namespaces', env: 'RINGCDN_RELAY_MAX_NAMESPACES', kind: 'count', default: String(MAX_NAMESPACES), help: 'namespaces (sites) tracked at once' },
  { flag: 'founder-grace', env: 'RINGCDN_RELAY_FOUNDER_GRACE_MS', kind: 'ms', default: String(FOUNDER_GRACE_MS), help: 'ms a page told to found a ring is listed to others before it registers' }
]

export type ParsedArgs =
  | { type: 'help', text: string }
  | { type: 'version' }
  | { type: 'run', options: RelayOptions }

export interface ParseInit {
  /** Whether a file exists (checked for --cert and --key) */
  fileExists?(path: string): boolean
}

export function usage (): string {
  const lines = [
    'Usage: ringcdn-relay [options]',
    '',
    'The ringcdn relay and bootstrap node: websockets + circuit relay v2 for pages, and a live',
    'ring member list per namespace. Prints one JSON line {"peerId","multiaddrs","http"} on',
    'stdout when listening; logs go to stderr (DEBUG=ringcdn:* for more). SIGINT/SIGTERM stop it.',
    '',
    'Options (flag, environment variable; a flag wins):'
  ]
  for (const s of SETTINGS) {
    const labels: Partial<Record<Kind, string>> = { list: 'addr,…', path: 'file' }
    const value = labels[s.kind] ?? s.kind
    lines.push(`  --${s.flag} <${value}>`.padEnd(40) + s.env)
    lines.push(`      ${s.help} (default: ${s.default})`)
  }
  lines.push('  -h, --help'.padEnd(40) + 'show this help')
  lines.push('  -v, --version'.padEnd(40) + 'print the version of ringcdn')
  return lines.join('\n') + '\n'
}

/**
 * @throws {UsageError}
 */
export function parseRelayArgs (argv: string[], env: Record<string, string | undefined>, init: ParseInit = {}): ParsedArgs {
  let parsed: ReturnType<typeof parseArgs>
  try {
    parsed = parseArgs({
      args: argv,
      strict: true,
      allowPositionals: false,
      options: {
        help: { type: 'boolean', short: 'h' },
        version: { type: 'boolean', short: 'v' },
        ...Object.fromEntries(SETTINGS.map(s => [s.flag, { type: 'string' as const, multiple: s.kind === 'list' }]))
      }
    })
  } catch (err: any) {
    throw new UsageError(err.message.split('\n')[0])
  }
  const early = helpOrVersion(parsed.values)
  if (early != null) {
    return early
  }

  const raw = (s: Setting): string | string[] | undefined => {
    const flag = parsed.values[s.flag] as string | string[] | undefined
    if (flag != null) {
      return flag
    }
    const value = env[s.env]
    return value == null || value === '' ? undefined : value
  }
  const where = (s: Setting): string => parsed.values[s.flag] != null ? `--${s.flag}` : s.env

  const values: Record<string, unknown> = {}
  for (const s of SETTINGS) {
    const value = raw(s)
    if (value == null) {
      continue
    }
    const text = Array.isArray(value) ? value.join(',') : value
    switch (s.kind) {
      case 'string':
      case 'path':
        if (text.trim() === '') {
          throw new UsageError(`${where(s)} must not be empty`)
        }
        values[s.flag] = text.trim()
        break
      case 'port':
        values[s.flag] = integer(text, 0, 65_535, where(s))
        break
      case 'count':
        values[s.flag] = integer(text, 1, 10_000_000, where(s))
        break
      case 'ms':
        values[s.flag] = integer(text, 0, 86_400_000, where(s))
        break
      case 'list': {
        const list = text.split(',').map(a => a.trim()).filter(a => a !== '')
        for (const addr of list) {
          try {
            multiaddr(addr)
          } catch (err: any) {
            throw new UsageError(`${where(s)}: ${addr} is not a multiaddr - ${err.message}`)
          }
        }
        values[s.flag] = list
        break
      }
      case 'file':
        if (init.fileExists != null && !init.fileExists(text)) {
          throw new UsageError(`${where(s)}: no such file ${text}`)
        }
        values[s.flag] = text
        break
      default:
        throw new UsageError(`unknown kind of setting ${String(s.kind)}`)
    }
  }

  if ((values.cert == null) !== (values.key == null)) {
    throw new UsageError('--cert and --key go together (wss needs both)')
  }

  const options: RelayOptions = {
    host: values.host as string | undefined,
    port: values.port as number | undefined,
    httpPort: values['http-port'] as number | undefined,
    announce: values.announce as string[] | undefined,
    cert: values.cert as string | undefined,
    key: values.key as string | undefined,
    identity: values.identity as string | undefined,
    limits: {
      maxConnections: values['max-connections'] as number | undefined,
      maxReservations: values['max-reservations'] as number | undefined,
      inboundConnectionThreshold: values['connection-rate'] as number | undefined,
      maxIncomingPendingConnections: values['max-pending'] as number | undefined
    },
    members: {
      maxMembers: values['max-members'] as number | undefined,
      maxMembersPerNamespace: values['max-members-per-namespace'] as number | undefined,
      maxNamespaces: values['max-namespaces'] as number | undefined,
      founderGraceMs: values['founder-grace'] as number | undefined
    }
  }
  return { type: 'run', options }
}

/** `--help` or `--version`: answered without looking at the other settings */
function helpOrVersion (values: Record<string, unknown>): ParsedArgs | undefined {
  if (values.help === true) {
    return { type: 'help', text: usage() }
  }
  if (values.version === true) {
    return { type: 'version' }
  }
  return undefined
}

function integer (text: string, min: number, max: number, where: string): number {
  if (!/^\d+$/.test(text.trim())) {
    throw new UsageError(`${where} must be a whole number, got "${text}"`)
  }
  const n = Number(text.trim())
  if (n < min || n > max) {
    throw new UsageError(`${where} must be between ${min} and ${max}, got ${n}`)
  }
  return n
}

/** The setting behind an option of `RelayOptions`, for messages: "--port or RINGCDN_RELAY_PORT" */
function setting (flag: string): string {
  const s = SETTINGS.find(s => s.flag === flag)
  return s == null ? `--${flag}` : `--${s.flag} or ${s.env}`
}

/** The listener a `createRelay` error came from, for naming its setting */
interface Listener {
  what: string
  port: number
  flag: string
}

function failedListener (err: any, options: RelayOptions): Listener | undefined {
  if (err?.name === 'UnsupportedListenAddressesError') {
    return { what: 'websocket (libp2p) port', port: options.port ?? DEFAULT_PORT, flag: 'port' }
  }
  // the HTTP server's own error carries the port it tried
  if (err?.syscall === 'listen') {
    return { what: 'HTTP (/health, /metrics) port', port: err.port ?? options.httpPort ?? DEFAULT_HTTP_PORT, flag: 'http-port' }
  }
  return undefined
}

/**
 * What to tell the user when `createRelay` failed, naming the flag to
 * change. libp2p reports a websocket port in use as an
 * `UnsupportedListenAddressesError` whose text suggests
 * `transportManager.faultTolerance`, which a relay user cannot set and which
 * would not fix anything; the HTTP listener fails with a plain `EADDRINUSE`.
 *
 * @param err - what `createRelay` threw
 * @param options - the options it was given
 */
export function describeStartError (err: any, options: RelayOptions): string {
  const text = String(err?.message ?? err)
  const listener = failedListener(err, options)
  // libp2p keeps the socket error's code only in its message text
  const code = ['EADDRINUSE', 'EACCES', 'EADDRNOTAVAIL', 'ENOTFOUND'].find(c => err?.code === c || text.includes(c))
  if (listener == null || code == null) {
    return text
  }
  const host = options.host ?? DEFAULT_HOST
  switch (code) {
    case 'EADDRINUSE':
      return `the ${listener.what} ${listener.port} on ${host} is already in use (another relay running?): choose another with ${setting(listener.flag)}, or 0 for any free port`
    case 'EACCES':
      return `no permission to listen on the ${listener.what} ${listener.port} on ${host} (ports below 1024 need privileges): choose another with ${setting(listener.flag)}`
    default:
      return `cannot listen on ${host}: not an address of this machine; choose another with ${setting('host')}`
  }
}
