/**
 * A relay in a process of its own, for `relay.ts`: the attack bench measures
 * the relay's resident memory, which a relay sharing the bench's process
 * (pages, attackers) would blur. Started with `fork()`; its options come as
 * JSON in argv[2]; it sends `{ type: 'ready', … }` once listening and answers
 * `{ type: 'memory', gc }` with its memory and stats (after a full GC when
 * asked and run with --expose-gc). Exits when its parent disconnects.
 */
import { createRelay } from '../../relay/relay.ts'
import type { RelayOptions } from '../../relay/relay.ts'

const options: RelayOptions = JSON.parse(process.argv[2] ?? '{}')
const relay = await createRelay({ port: 0, httpPort: 0, ...options })

process.on('message', (message: { type: string, gc?: boolean }) => {
  if (message.type !== 'memory') {
    return
  }
  const gc = (globalThis as { gc?(): void }).gc
  if (message.gc === true && gc != null) {
    gc()
    gc()
  }
  const memory = process.memoryUsage()
  process.send?.({ type: 'memory', rss: memory.rss, heapUsed: memory.heapUsed, heapTotal: memory.heapTotal, external: memory.external, arrayBuffers: memory.arrayBuffers, gc: message.gc === true && gc != null, stats: relay.stats() })
})
process.on('disconnect', () => {
  relay.stop().finally(() => process.exit(0))
})
process.send?.({ type: 'ready', peerId: relay.peerId, multiaddrs: relay.multiaddrs })
