/**
 * `ringcdn-relay` as a child process: the JSON line on stdout, /health, a
 * bad flag (exit 2), SIGTERM (exit 0). Every wait is bounded.
 */
import { spawn } from 'node:child_process'
import { once } from 'node:events'
import { fileURLToPath } from 'node:url'
import { expect } from 'aegir/chai'
import type { ChildProcessWithoutNullStreams } from 'node:child_process'

const CLI = fileURLToPath(new URL('../../relay/cli.ts', import.meta.url))
/** Bound on the relay starting (a fresh Node process compiling TypeScript on a busy machine) */
const START_TIMEOUT = 30_000

function startCli (args: string[], env: Record<string, string> = {}): ChildProcessWithoutNullStreams {
  return spawn(process.execPath, ['--experimental-transform-types', '--disable-warning=ExperimentalWarning', CLI, ...args], {
    env: { ...process.env, DEBUG: '', ...env }
  })
}

async function exitCode (child: ChildProcessWithoutNullStreams, timeout: number): Promise<number | null> {
  if (child.exitCode != null) {
    return child.exitCode
  }
  const [code] = await once(child, 'exit', { signal: AbortSignal.timeout(timeout) }) as [number | null]
  return code
}

async function firstLine (child: ChildProcessWithoutNullStreams, timeout: number): Promise<string> {
  let text = ''
  const signal = AbortSignal.timeout(timeout)
  for await (const chunk of child.stdout.iterator({ destroyOnReturn: false })) {
    text += String(chunk)
    if (text.includes('\n')) {
      return text.slice(0, text.indexOf('\n'))
    }
    signal.throwIfAborted()
  }
  throw new Error(`stdout ended before a line: ${text}`)
}

describe('ringcdn-relay command', function () {
  this.timeout(60_000)

  const children: ChildProcessWithoutNullStreams[] = []
  after(() => {
    for (const child of children) {
      if (child.exitCode == null) {
        child.kill('SIGKILL')
      }
    }
  })

  it('prints one JSON line, serves /health, and exits 0 on SIGTERM', async () => {
    const child = startCli(['--port', '0'], { RINGCDN_RELAY_HTTP_PORT: '0' })
    children.push(child)
    let stderr = ''
    child.stderr.on('data', (d) => { stderr += String(d) })
    const line = await firstLine(child, START_TIMEOUT)
    const info = JSON.parse(line)
    expect(Object.keys(info).sort()).to.deep.equal(['http', 'multiaddrs', 'peerId'])
    expect(info.multiaddrs).to.have.lengthOf.at.least(1)
    expect(info.multiaddrs[0]).to.match(new RegExp(`/ws/p2p/${info.peerId}$`))
    const health = await (await fetch(`${info.http}/health`, { signal: AbortSignal.timeout(5_000) })).json()
    expect(health).to.include({ status: 'ok', peerId: info.peerId, members: 0 })
    const metrics = await (await fetch(`${info.http}/metrics`, { signal: AbortSignal.timeout(5_000) })).text()
    expect(metrics).to.include('ringcdn_relay_reservations 0')
    expect(metrics).to.include('process_resident_memory_bytes')

    child.kill('SIGTERM')
    expect(await exitCode(child, 15_000)).to.equal(0)
    expect(stderr).to.include('SIGTERM, stopping')
  })

  it('exits 2 with a clear message on a bad flag', async () => {
    const child = startCli(['--max-connections', 'lots'])
    children.push(child)
    let stderr = ''
    child.stderr.on('data', (d) => { stderr += String(d) })
    expect(await exitCode(child, START_TIMEOUT)).to.equal(2)
    expect(stderr).to.include('--max-connections must be a whole number')
  })

  it('exits 2 on a bad environment value', async () => {
    const child = startCli([], { RINGCDN_RELAY_PORT: '99999' })
    children.push(child)
    expect(await exitCode(child, START_TIMEOUT)).to.equal(2)
  })
})
