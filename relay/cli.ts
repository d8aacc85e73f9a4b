#!/usr/bin/env node
/**
 * `ringcdn-relay`: starts a relay from flags and environment variables
 * (`--help` lists them), prints one JSON line on stdout once listening, and
 * stops cleanly on SIGINT/SIGTERM. Exit codes: 0 stopped by a signal, 1 could
 * not start or stop, 2 bad flags or values.
 */
// first: on Node < 22 this exits with the version needed, before libp2p loads
import '../src/cli/require-node-cli.ts'
import { existsSync } from 'node:fs'
import { packageVersion } from '../src/cli/version.ts'
import { UsageError, describeStartError, parseRelayArgs } from './options.ts'
import { createRelay } from './relay.ts'
import type { Relay } from './relay.ts'

/** Longest wait for a clean stop after a signal, ms */
const STOP_TIMEOUT_MS = 10_000

async function main (): Promise<number> {
  let parsed
  try {
    parsed = parseRelayArgs(process.argv.slice(2), process.env, { fileExists: existsSync })
  } catch (err: any) {
    if (err.name === UsageError.name) {
      process.stderr.write(`ringcdn-relay: ${err.message}\nTry 'ringcdn-relay --help'.\n`)
      return 2
    }
    throw err
  }
  if (parsed.type === 'help') {
    process.stdout.write(parsed.text)
    return 0
  }
  if (parsed.type === 'version') {
    process.stdout.write(`${packageVersion()}\n`)
    return 0
  }

  let relay: Relay
  try {
    relay = await createRelay(parsed.options)
  } catch (err: any) {
    process.stderr.write(`ringcdn-relay: could not start - ${describeStartError(err, parsed.options)}\n`)
    return 1
  }
  process.stdout.write(JSON.stringify({ peerId: relay.peerId, multiaddrs: relay.multiaddrs, http: relay.httpUrl }) + '\n')
  process.stderr.write(`ringcdn-relay ${relay.peerId} listening on ${relay.multiaddrs.join(' ')}; health and metrics on ${relay.httpUrl}\n`)

  const signal = await new Promise<string>(resolve => {
    process.once('SIGINT', () => { resolve('SIGINT') })
    process.once('SIGTERM', () => { resolve('SIGTERM') })
  })
  process.stderr.write(`ringcdn-relay: ${signal}, stopping\n`)
  const timer = setTimeout(() => {
    process.stderr.write(`ringcdn-relay: did not stop within ${STOP_TIMEOUT_MS}ms\n`)
    process.exit(1)
  }, STOP_TIMEOUT_MS)
  timer.unref()
  try {
    await relay.stop()
  } catch (err: any) {
    process.stderr.write(`ringcdn-relay: stopping failed - ${err.message}\n`)
    return 1
  }
  return 0
}

main().then(code => {
  process.exitCode = code
}, (err: any) => {
  process.stderr.write(`ringcdn-relay: ${err?.stack ?? String(err)}\n`)
  process.exitCode = 1
})
