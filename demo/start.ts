/**
 * `npm start`: the relay and the demo site on loopback, until Ctrl-C.
 *
 * Environment:
 *
 * - `HOST`: interface to listen on (default 127.0.0.1)
 * - `PORT`: the site's port (default 8080; 0 = any free port)
 * - `RELAY_PORT`: the relay's websocket port (default 9090)
 * - `RELAY_HTTP_PORT`: the relay's /health and /metrics port (default RELAY_PORT + 1)
 * - `RELAY_ANNOUNCE`: comma-separated multiaddrs the relay announces instead
 * of its listen addresses
 *
 * Exit status: 0 after Ctrl-C (SIGINT) or SIGTERM, 2 on a bad setting, 1 when
 * the demo cannot start (e.g. a port in use).
 */
import { DEFAULT_HOST, DEFAULT_PORT, DEFAULT_RELAY_PORT, parsePort, startDemo } from './server.ts'
import type { Demo } from './server.ts'

/** Exit status for a bad setting */
const EXIT_USAGE = 2
/** Exit status when starting failed */
const EXIT_FAILURE = 1
/** A stop that takes longer than this is cut short, ms */
const STOP_TIMEOUT_MS = 10_000

function fail (message: string, code: number): never {
  process.stderr.write(`ringcdn demo: ${message}\n`)
  process.exit(code)
}

let settings: { host: string, port: number, relayPort: number, relayHttpPort?: number, relayAnnounce?: string[] }
try {
  const relayPort = parsePort(process.env.RELAY_PORT ?? DEFAULT_RELAY_PORT, 'RELAY_PORT')
  settings = {
    host: process.env.HOST ?? DEFAULT_HOST,
    port: parsePort(process.env.PORT ?? DEFAULT_PORT, 'PORT'),
    relayPort,
    relayHttpPort: process.env.RELAY_HTTP_PORT == null ? undefined : parsePort(process.env.RELAY_HTTP_PORT, 'RELAY_HTTP_PORT'),
    relayAnnounce: process.env.RELAY_ANNOUNCE?.split(',').map(s => s.trim()).filter(s => s !== '')
  }
} catch (err: any) {
  fail(err.message, EXIT_USAGE)
}

let demo: Demo
try {
  demo = await startDemo(settings)
} catch (err: any) {
  const hint = err.code === 'EADDRINUSE' ? ' (a port is in use: set PORT / RELAY_PORT / RELAY_HTTP_PORT)' : ''
  fail(`could not start: ${err.message}${hint}`, EXIT_FAILURE)
}

process.stdout.write([
  'ringcdn demo is running',
  `  site:   ${demo.url}`,
  `  relay:  ${demo.relay.multiaddrs.join('\n          ')}`,
  `  relay health and metrics: ${demo.relay.httpUrl}`,
  `Open ${demo.url} in several tabs or browsers and watch assets come from peers. Ctrl-C stops.`,
  ''
].join('\n'))

let stopping = false
const stop = (signal: string): void => {
  if (stopping) {
    // a second Ctrl-C: the user wants out now
    process.exit(130)
  }
  stopping = true
  process.stdout.write(`\n${signal}: stopping…\n`)
  const timer = setTimeout(() => { fail('stop timed out', EXIT_FAILURE) }, STOP_TIMEOUT_MS)
  timer.unref()
  demo.stop().then(() => {
    process.stdout.write('stopped\n')
    process.exit(0)
  }, (err: Error) => {
    fail(`stop failed: ${err.message}`, EXIT_FAILURE)
  })
}
process.on('SIGINT', () => { stop('SIGINT') })
process.on('SIGTERM', () => { stop('SIGTERM') })
