/**
 * A hostile ring member in a process of its own, for `ring.ts --hostile-process`:
 * with every node in the bench's process, a flooder's own CPU slows the honest
 * nodes beside it, which a real attacker's machine would not. Started with
 * `fork()`; its options come as JSON in argv[2] (`HostileNodeOptions`). It
 * joins the ring over TCP and sends `{ type: 'joined', nodeId, peerId }` (or
 * `{ type: 'error', name, message }` and exits), then on command runs the
 * bench's flood (`floods.ts`): `flood` starts the lookup flood (answer
 * `flooding`), `stop` ends it (answer `stopped` with its counts), `announce`
 * runs the announce flood once through (answer `announced` with its counts),
 * `exit` stops the node and exits.
 *
 * It exits when its parent disconnects (the parent died) and after
 * `lifetimeMs` whatever happens, so it never outlives a bench run.
 */
import { createCdnNode } from '../nodes.ts'
import { announceFlood, startLookupFlood } from './floods.ts'
import type { AnnounceCounts, LookupFlood } from './floods.ts'
import type { ManifestDocument } from '../../src/cdn/manifest.ts'
import type { RingTuning } from '../../src/cdn/ring-cdn-init.ts'
import type { CdnNode } from '../nodes.ts'

export interface HostileNodeOptions {
  bootstrap: string[]
  manifest: ManifestDocument
  ring: RingTuning
  joinTimeoutMs: number
  lifetimeMs: number
}

export type HostileCommand =
  | { type: 'flood' }
  | { type: 'stop' }
  | { type: 'announce', ids: string[], target: { id: string, peer: string } }
  | { type: 'exit' }

/** Bound on stopping the node before exiting anyway, ms */
const STOP_TIMEOUT_MS = 5_000

const options: HostileNodeOptions = JSON.parse(process.argv[2] ?? '{}')
let node: CdnNode | undefined
let flood: LookupFlood | undefined

/** Resolves once the message is handed to the IPC channel, so that an error is not lost to an exit */
async function send (message: Record<string, unknown>): Promise<void> {
  await new Promise<void>(resolve => {
    if (process.send == null || !process.connected) {
      resolve()
      return
    }
    process.send(message, undefined, {}, () => { resolve() })
  })
}

async function exit (code: number): Promise<never> {
  const stopping = Promise.all([flood?.stop(), node?.stop()])
  await Promise.race([stopping.catch(() => {}), new Promise(resolve => setTimeout(resolve, STOP_TIMEOUT_MS).unref())])
  process.exit(code)
}

setTimeout(() => { process.exit(3) }, options.lifetimeMs).unref()
process.on('disconnect', () => { void exit(0) })

process.on('message', (command: HostileCommand) => {
  const cdn = node?.services.cdn
  if (cdn == null) {
    return
  }
  switch (command.type) {
    case 'flood':
      flood ??= startLookupFlood(cdn)
      void send({ type: 'flooding' })
      break
    case 'stop':
      void (flood?.stop() ?? Promise.resolve({ lookups: 0, answered: 0, failed: 0 })).then(async counts => { await send({ type: 'stopped', counts }) })
      break
    case 'announce': {
      const counts: AnnounceCounts = { sent: 0, answered: 0, refused: 0 }
      const target = { id: BigInt(command.target.id), peer: command.target.peer }
      void announceFlood(cdn, command.ids.map(id => BigInt(id)), target, counts).then(
        async () => { await send({ type: 'announced', counts }) },
        async (err: Error) => { await send({ type: 'error', name: err.name, message: `announce flood: ${err.message}` }) }
      )
      break
    }
    case 'exit':
      void exit(0)
      break
    default:
      break
  }
})

try {
  node = await createCdnNode('tcp', { ring: options.ring, bootstrap: options.bootstrap, manifest: options.manifest, joinRetries: 8, joinRetryDelayMs: 200 })
  await node.services.cdn.whenJoined({ signal: AbortSignal.timeout(options.joinTimeoutMs) })
  await send({ type: 'joined', nodeId: String(node.services.cdn.nodeId), peerId: node.peerId.toString() })
} catch (err: any) {
  const timedOut = err?.name === 'TimeoutError' || err?.name === 'AbortError'
  await send({
    type: 'error',
    name: timedOut ? 'HostileJoinTimeoutError' : (err?.name ?? 'Error'),
    message: timedOut ? `the hostile node did not join within ${options.joinTimeoutMs} ms` : `the hostile node did not join: ${err?.message ?? String(err)}`
  })
  await exit(1)
}
