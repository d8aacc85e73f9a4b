/**
 * libp2p nodes for the benchmarks: TCP on 127.0.0.1 or `@libp2p/memory`,
 * noise, yamux, identify, connection monitor off (as in the tests).
 */
import { noise } from '@chainsafe/libp2p-noise'
import { yamux } from '@chainsafe/libp2p-yamux'
import { identify } from '@libp2p/identify'
import { memory } from '@libp2p/memory'
import { tcp } from '@libp2p/tcp'
import { createLibp2p } from 'libp2p'
import { ringCdn } from '../src/ring-cdn.ts'
import type { RingCdn, RingCdnInit } from '../src/ring-cdn.ts'
import type { Libp2p } from '@libp2p/interface'

export type CdnNode = Libp2p<{ cdn: RingCdn }>

/** Bare stream throughput probe of the transfer benchmark */
export const RAW_PROTOCOL = '/ringcdn-bench/raw/1.0.0'

let memoryAddresses = 0

export async function createCdnNode (transport: 'tcp' | 'memory', init: RingCdnInit, options: { latencyMs?: number } = {}): Promise<CdnNode> {
  return createLibp2p({
    addresses: {
      listen: [transport === 'memory' ? `/memory/bench-${process.pid}-${memoryAddresses++}` : '/ip4/127.0.0.1/tcp/0']
    },
    transports: [transport === 'memory' ? memory({ latency: options.latencyMs ?? 0 }) : tcp()],
    connectionEncrypters: [noise()],
    streamMuxers: [yamux({ maxEarlyStreams: 256 })],
    connectionMonitor: { enabled: false },
    connectionManager: { maxConnections: 1_000, inboundConnectionThreshold: 1_000, maxIncomingPendingConnections: 1_000 },
    services: {
      identify: identify(),
      cdn: ringCdn(init)
    }
  })
}

/** Reads a response body to the end without keeping it, returning its length */
export async function drain (res: Response): Promise<number> {
  let bytes = 0
  const reader = res.body?.getReader()
  if (reader == null) {
    return bytes
  }
  while (true) {
    const { done, value } = await reader.read()
    if (done) {
      return bytes
    }
    bytes += value.byteLength
  }
}

/** Samples this process's memory every `intervalMs` until stopped; reports peaks above the start */
export function sampleMemory (intervalMs: number = 10): () => { peakRssMiB: number, peakHeapMiB: number, peakArrayBuffersMiB: number } {
  const start = process.memoryUsage()
  let rss = start.rss
  let heap = start.heapUsed
  let arrayBuffers = start.arrayBuffers
  const sample = (): void => {
    const m = process.memoryUsage()
    rss = Math.max(rss, m.rss)
    heap = Math.max(heap, m.heapUsed)
    arrayBuffers = Math.max(arrayBuffers, m.arrayBuffers)
  }
  const timer = setInterval(sample, intervalMs)
  return () => {
    sample()
    clearInterval(timer)
    const mib = (n: number): number => Math.round(n / 1024 / 1024 * 10) / 10
    return { peakRssMiB: mib(rss - start.rss), peakHeapMiB: mib(heap - start.heapUsed), peakArrayBuffersMiB: mib(arrayBuffers - start.arrayBuffers) }
  }
}

export function median (values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b)
  return sorted[Math.floor(sorted.length / 2)]
}

export function percentile (values: number[], p: number): number {
  const sorted = [...values].sort((a, b) => a - b)
  return sorted[Math.min(sorted.length - 1, Math.ceil(p * sorted.length) - 1)]
}
