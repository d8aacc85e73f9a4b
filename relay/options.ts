/**
 * Command line and environment of `ringcdn-relay`, turned into
 * `RelayOptions`. Pure: arguments, environment and a file check go in, options
 * or a `UsageError` come out. A flag wins over its environment variable.
 */
import { parseArgs } from 'node:util'
import { multiaddr } from '@multiformats/multiaddr'
import { MAX_CONNECTIONS_PER_IP, MAX_PENDING_CONNECTIONS_PER_IP } from './connection-guard.ts'
import { FOUNDING_PENALTY_MS, MAX_FAILED_FOUNDINGS_PER_IP, REGISTRATION_BURST_PER_IP, REGISTRATIONS_PER_MINUTE_PER_IP } from './ip-ledger.ts'
import { FOUNDER_GRACE_MS, MAX_MEMBERS, MAX_MEMBERS_PER_IP, MAX_MEMBERS_PER_IP_PER_NAMESPACE, MAX_MEMBERS_PER_NAMESPACE, MAX_NAMESPACES, MAX_NAMESPACES_PER_IP, MAX_NAMESPACES_PER_PEER, MAX_SAMPLE_PER_IP } from './members.ts'
import { DEFAULT_HOST, DEFAULT_HTTP_PORT, DEFAULT_PORT, INBOUND_CONNECTION_THRESHOLD, MAX_CONNECTIONS, MAX_INCOMING_PENDING_CONNECTIONS, MAX_RESERVATIONS } from './relay.ts'
import type { RelayOptions } from './relay.ts'

/** A flag, environment variable or value the relay cannot use */
export class UsageError extends Error {
  static name = 'UsageError'
  name = 'UsageError'
}

type Kind = 'string' | 'list' | 'names' | 'port' | 'count' | 'ms' | 'file' | 'path'

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
  { flag: 'peer-relay', env: 'RINGCDN_RELAY_PEER_RELAYS', kind: 'list', default: 'none', help: 'the site\'s other relays (multiaddrs, /p2p/<id> recommended), comma-separated or repeated: relays share member lists so pages on any of them form one ring' },
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
  { flag: 'founder-grace', env: 'RINGCDN_RELAY_FOUNDER_GRACE_MS', kind: 'ms', default: String(FOUNDER_GRACE_MS), help: 'ms a page told to found a ring keeps others waiting before it registers (asking again does not renew it)' },
  { flag: 'namespace', env: 'RINGCDN_RELAY_NAMESPACES', kind: 'names', default: 'any namespace', help: 'serve only these namespaces (site origins), comma-separated or repeated; others are refused' },
  { flag: 'max-connections-per-ip', env: 'RINGCDN_RELAY_MAX_CONNECTIONS_PER_IP', kind: 'count', default: String(MAX_CONNECTIONS_PER_IP), help: 'connections one IP address may hold, open or in their handshake' },
  { flag: 'max-pending-per-ip', env: 'RINGCDN_RELAY_MAX_PENDING_PER_IP', kind: 'count', default: String(MAX_PENDING_CONNECTIONS_PER_IP), help: 'connections of one IP address in their handshake at once' },
  { flag: 'max-members-per-ip', env: 'RINGCDN_RELAY_MAX_MEMBERS_PER_IP', kind: 'count', default: String(MAX_MEMBERS_PER_IP), help: 'ring members listed from one IP address, all namespaces' },
  { flag: 'max-members-per-ip-per-namespace', env: 'RINGCDN_RELAY_MAX_MEMBERS_PER_IP_PER_NAMESPACE', kind: 'count', default: String(MAX_MEMBERS_PER_IP_PER_NAMESPACE), help: 'ring members listed from one IP address in one namespace' },
  { flag: 'max-namespaces-per-ip', env: 'RINGCDN_RELAY_MAX_NAMESPACES_PER_IP', kind: 'count', default: String(MAX_NAMESPACES_PER_IP), help: 'namespaces one IP address may be listed (or found a ring) in' },
  { flag: 'max-namespaces-per-peer', env: 'RINGCDN_RELAY_MAX_NAMESPACES_PER_PEER', kind: 'count', default: String(MAX_NAMESPACES_PER_PEER), help: 'namespaces one peer may be listed in' },
  { flag: 'sample-per-ip', env: 'RINGCDN_RELAY_SAMPLE_PER_IP', kind: 'count', default: String(MAX_SAMPLE_PER_IP), help: 'members of one IP address in one answer to a joiner' },
  { flag: 'registration-burst', env: 'RINGCDN_RELAY_REGISTRATION_BURST', kind: 'count', default: String(REGISTRATION_BURST_PER_IP), help: 'new member listings one IP address may make in a burst' },
  { flag: 'registrations-per-minute', env: 'RINGCDN_RELAY_REGISTRATIONS_PER_MINUTE', kind: 'count', default: String(REGISTRATIONS_PER_MINUTE_PER_IP), help: 'new member listings per minute per IP address after its burst' },
  { flag: 'founding-penalty', env: 'RINGCDN_RELAY_FOUNDING_PENALTY_MS', kind: 'ms', default: String(FOUNDING_PENALTY_MS), help: 'ms a peer told to found a ring that never registered is not told again' },
  { flag: 'failed-foundings-per-ip', env: 'RINGCDN_RELAY_FAILED_FOUNDINGS_PER_IP', kind: 'count', default: String(MAX_FAILED_FOUNDINGS_PER_IP), help: 'unhonoured founder grants within the penalty after which an IP address is not told to found' }
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
    const labels: Partial<Record<Kind, string>> = { list: 'addr,…', names: 'name,…', path: 'file' }
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
        ...Object.fromEntries(SETTINGS.map(s => [s.flag, { type: 'string' as const, multiple: s.kind === 'list' || s.kind === 'names' }]))
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
    values[s.flag] = parseValue(s, Array.isArray(value) ? value.join(',') : value, where(s), init)
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
    peerRelays: values['peer-relay'] as string[] | undefined,
    limits: {
      maxConnections: values['max-connections'] as number | undefined,
      maxReservations: values['max-reservations'] as number | undefined,
      inboundConnectionThreshold: values['connection-rate'] as number | undefined,
      maxIncomingPendingConnections: values['max-pending'] as number | undefined,
      maxConnectionsPerIp: values['max-connections-per-ip'] as number | undefined,
      maxPendingConnectionsPerIp: values['max-pending-per-ip'] as number | undefined
    },
    members: {
      maxMembers: values['max-members'] as number | undefined,
      maxMembersPerNamespace: values['max-members-per-namespace'] as number | undefined,
      maxNamespaces: values['max-namespaces'] as number | undefined,
      founderGraceMs: values['founder-grace'] as number | undefined,
      namespaces: values.namespace as string[] | undefined,
      maxMembersPerIp: values['max-members-per-ip'] as number | undefined,
      maxMembersPerIpPerNamespace: values['max-members-per-ip-per-namespace'] as number | undefined,
      maxNamespacesPerIp: values['max-namespaces-per-ip'] as number | undefined,
      maxNamespacesPerPeer: values['max-namespaces-per-peer'] as number | undefined,
      maxSamplePerIp: values['sample-per-ip'] as number | undefined,
      registrationBurstPerIp: values['registration-burst'] as number | undefined,
      registrationsPerMinutePerIp: values['registrations-per-minute'] as number | undefined,
      foundingPenaltyMs: values['founding-penalty'] as number | undefined,
      maxFailedFoundingsPerIp: values['failed-foundings-per-ip'] as number | undefined
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

/** One setting's text as the value the relay takes; `where` names its flag or variable */
function parseValue (s: Setting, text: string, where: string, init: ParseInit): unknown {
  switch (s.kind) {
    case 'string':
    case 'path':
      if (text.trim() === '') {
        throw new UsageError(`${where} must not be empty`)
      }
      return text.trim()
    case 'port':
      return integer(text, 0, 65_535, where)
    case 'count':
      return integer(text, 1, 10_000_000, where)
    case 'ms':
      return integer(text, 0, 86_400_000, where)
    case 'list': {
      const list = text.split(',').map(a => a.trim()).filter(a => a !== '')
      for (const addr of list) {
        try {
          multiaddr(addr)
        } catch (err: any) {
          throw new UsageError(`${where}: ${addr} is not a multiaddr - ${err.message}`)
        }
      }
      return list
    }
    case 'names': {
      const names = text.split(',').map(a => a.trim()).filter(a => a !== '')
      if (names.length === 0) {
        throw new UsageError(`${where} must name at least one namespace`)
      }
      return names
    }
    case 'file':
      if (init.fileExists != null && !init.fileExists(text)) {
        throw new UsageError(`${where}: no such file ${text}`)
      }
      return text
    default:
      throw new UsageError(`unknown kind of setting ${String(s.kind)}`)
  }
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
