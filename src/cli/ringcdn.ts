#!/usr/bin/env node
/**
 * The `ringcdn` command.
 *
 * ```
 * ringcdn manifest <dir> --base-url <url> [--out <file>] [--exclude <regexp>]… [--include-hidden]
 * ringcdn --version
 * ```
 *
 * Exit codes: 0 done, 1 the work failed (unreadable files, cannot write),
 * 2 bad arguments (with the usage on stderr).
 */
// first: on Node < 22 this exits with the version needed, before anything else loads
import './require-node-cli.ts'
import { realpathSync } from 'node:fs'
import { writeFile } from 'node:fs/promises'
import { resolve } from 'node:path'
import { pathToFileURL } from 'node:url'
import { parseArgs } from 'node:util'
import { ManifestBuildError, buildManifest } from './manifest.ts'
import { packageVersion } from './version.ts'

export const USAGE = `Usage:
  ringcdn manifest <dir> --base-url <url> [--out <file>] [--exclude <regexp>]... [--include-hidden]
  ringcdn --version

Writes the ringcdn manifest (URL -> sha256) of a site build.

  <dir>               the directory the site is served from
  --base-url <url>    the absolute URL <dir> is served at, e.g. https://example.com/
  --out <file>        where to write the manifest (default: standard output)
  --exclude <regexp>  leave out paths (relative to <dir>, '/'-separated) matching it; repeatable
  --include-hidden    also list files and directories whose name starts with '.'
  -h, --help          this help
  -v, --version       print the version of ringcdn
`

const VERSION_COMMANDS = new Set(['-v', '--version', 'version'])

/** Bad command-line arguments (exit code 2) */
export class UsageError extends Error {
  static name = 'UsageError'
  name = 'UsageError'
}

export interface CliIo {
  stdout(text: string): void
  stderr(text: string): void
}

const processIo: CliIo = {
  stdout: (text) => { process.stdout.write(text) },
  stderr: (text) => { process.stderr.write(text) }
}

/** Runs the command line; resolves with the exit code */
export async function main (argv: string[], io: CliIo = processIo): Promise<number> {
  try {
    return await run(argv, io)
  } catch (err: any) {
    if (err.name === 'UsageError') {
      io.stderr(`ringcdn: ${err.message}\n\n${USAGE}`)
      return 2
    }
    if (err.name === 'ManifestBuildError') {
      io.stderr(`ringcdn: ${err.message}\n`)
      // a missing directory or a bad base URL is still the caller's argument
      return 2
    }
    io.stderr(`ringcdn: ${err.message ?? String(err)}\n`)
    return 1
  }
}

async function run (argv: string[], io: CliIo): Promise<number> {
  const [command, ...rest] = argv
  if (command == null || command === '-h' || command === '--help' || command === 'help') {
    (command == null ? io.stderr : io.stdout)(USAGE)
    return command == null ? 2 : 0
  }
  if (VERSION_COMMANDS.has(command)) {
    io.stdout(`${packageVersion()}\n`)
    return 0
  }
  if (command !== 'manifest') {
    throw new UsageError(`unknown command "${command}"`)
  }
  let parsed
  try {
    parsed = parseArgs({
      args: rest,
      allowPositionals: true,
      strict: true,
      options: {
        'base-url': { type: 'string' },
        out: { type: 'string', short: 'o' },
        exclude: { type: 'string', multiple: true },
        'include-hidden': { type: 'boolean' },
        help: { type: 'boolean', short: 'h' }
      }
    })
  } catch (err: any) {
    throw new UsageError(err.message)
  }
  const { values, positionals } = parsed
  if (values.help === true) {
    io.stdout(USAGE)
    return 0
  }
  if (positionals.length !== 1) {
    throw new UsageError(positionals.length === 0 ? 'missing <dir>' : `one <dir> expected, got ${positionals.length}: ${positionals.join(' ')}`)
  }
  const baseUrl = values['base-url']
  if (baseUrl == null || baseUrl === '') {
    throw new UsageError('missing --base-url')
  }
  const exclude = (values.exclude ?? []).map(source => {
    try {
      return new RegExp(source)
    } catch (err: any) {
      throw new UsageError(`--exclude ${source}: ${err.message}`)
    }
  })
  const out = values.out
  const doc = await buildManifest(positionals[0], {
    baseUrl,
    exclude,
    includeHidden: values['include-hidden'] ?? false,
    skip: out == null ? [] : [resolve(out)]
  })
  const text = `${JSON.stringify(doc, null, 2)}\n`
  if (out == null || out === '-') {
    io.stdout(text)
  } else {
    await writeFile(out, text)
    io.stderr(`ringcdn: ${Object.keys(doc.assets).length} assets -> ${out}\n`)
  }
  return 0
}

/** Whether this module is the program (npm's bin is a symlink to it), not imported by a test */
function isMain (): boolean {
  const script = process.argv[1]
  if (script == null) {
    return false
  }
  try {
    return import.meta.url === pathToFileURL(realpathSync(script)).href
  } catch {
    return false
  }
}

if (isMain()) {
  main(process.argv.slice(2)).then(code => { process.exitCode = code }, (err) => {
    process.stderr.write(`ringcdn: ${String(err)}\n`)
    process.exitCode = 1
  })
}

export { ManifestBuildError }
