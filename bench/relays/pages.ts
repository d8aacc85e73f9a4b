/**
 * One page process of `bench:relays`: Node pages (websockets + circuit relay
 * + WebRTC, one relay at a time through `RelayKeeper`, as `createRingCdn`
 * pages; `createMultiRelayPage`) that the benchmark creates, reads and asks
 * for lookups over the IPC channel (`protocol.ts`). Several of these carry
 * the pages so that no one event loop starves its pages (one process did not
 * carry 64 on 2 cores: bench/RESULTS.md).
 *
 * Started with `fork()`, its options as JSON in argv[2]
 * (`PageProcessOptions`). Exits when its parent disconnects (the benchmark
 * died), so it never outlives a run, and after answering `stop`.
 */
import { createMultiRelayPage, relayOf } from '../../test/relay/fixtures.ts'
import { PageExistsError, UnknownPageError } from './protocol.ts'
import type { PageAnswers, PageProcessMessage, PageProcessOptions, PageRequest, PageRequestMessage, PageState } from './protocol.ts'
import type { RingCdnInit } from '../../src/ring-cdn.ts'
import type { MultiRelayPage } from '../../test/relay/fixtures.ts'

const options: PageProcessOptions = JSON.parse(process.argv[2] ?? '{}')
/** `default`: the library's 5 s rounds, with 2 s hop deadlines for a loaded machine; `fast`: the tests' 250 ms rounds */
const RING_INIT: RingCdnInit = options.ring === 'fast' ? {} : { ring: { stabilizeIntervalMs: 5_000, fixFingersIntervalMs: 5_000, hopTimeoutMs: 2_000 } }

const pages = new Map<number, MultiRelayPage>()

function assertNever (value: never): never {
  throw new Error(`unknown page request ${JSON.stringify(value)}`)
}

/** Resolves once the message is handed to the channel, so that an answer is not lost to an exit */
async function send (message: PageProcessMessage): Promise<void> {
  await new Promise<void>(resolve => {
    if (process.send == null || !process.connected) {
      resolve()
      return
    }
    process.send(message, undefined, {}, () => { resolve() })
  })
}

function state (index: number, page: MultiRelayPage): PageState {
  const cdn = page.node.services.cdn
  const ring = cdn.ring
  const id = (n: bigint | undefined): string | undefined => n == null ? undefined : n.toString()
  return {
    index,
    peerId: page.node.peerId.toString(),
    joined: cdn.getRing().joined,
    nodeId: id(cdn.nodeId),
    successor: id(ring?.successors[0]?.id),
    predecessor: id(ring?.predecessor?.id),
    relay: relayOf(page.node)
  }
}

function page (index: number): MultiRelayPage {
  const found = pages.get(index)
  if (found == null) {
    throw new UnknownPageError(`page ${index} is not in page process ${process.pid}`)
  }
  return found
}

/** Stops the pages one at a time: stopping dozens at once makes yamux throw from a stream its peer closed */
async function stopPages (): Promise<void> {
  for (const p of pages.values()) {
    await p.stop().catch(() => {})
  }
  pages.clear()
  // node-datachannel's native threads would hold the process open otherwise
  const { cleanup } = await import('node-datachannel')
  cleanup()
}

async function handle (request: PageRequest): Promise<PageAnswers[PageRequest['type']]> {
  switch (request.type) {
    case 'create': {
      if (pages.has(request.index)) {
        throw new PageExistsError(`page ${request.index} already exists in page process ${process.pid}`)
      }
      const created = await createMultiRelayPage(options.relays, { namespace: options.namespace, ...RING_INIT })
      pages.set(request.index, created)
      return { peerId: created.node.peerId.toString() }
    }
    case 'states':
      return [...pages].map(([index, p]) => state(index, p))
    case 'lookup': {
      const res = await page(request.index).node.services.cdn.locate(BigInt(request.key), { timeout: request.timeoutMs })
      return { home: res.home, hops: res.hops }
    }
    case 'stop':
      await stopPages()
      return null
    default:
      return assertNever(request)
  }
}

async function answer (request: PageRequestMessage): Promise<void> {
  try {
    const value = await handle(request)
    await send({ id: request.id, ok: true, value })
  } catch (err: any) {
    await send({ id: request.id, ok: false, name: err?.name ?? 'Error', message: err?.message ?? String(err) })
  }
  if (request.type === 'stop') {
    process.exit(0)
  }
}

// the benchmark died (or let go of this process): its pages have nobody to measure them
process.on('disconnect', () => { process.exit(0) })
process.on('message', (request: PageRequestMessage) => { void answer(request) })
await send({ type: 'ready' })
