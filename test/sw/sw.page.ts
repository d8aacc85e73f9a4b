/**
 * Page side of the service-worker tests, exposed as `globalThis.swTest` for
 * `page.evaluate`: registers the worker, starts a real libp2p node with the
 * ringcdn service (no bootstrap: a one-node ring, which fetches from the
 * origin and then answers from its store) and serves the worker with it.
 */
import { noise } from '@chainsafe/libp2p-noise'
import { yamux } from '@chainsafe/libp2p-yamux'
import { webSockets } from '@libp2p/websockets'
import { createLibp2p } from 'libp2p'
import { ringCdn } from '../../src/ring-cdn.ts'
import { serveServiceWorker } from '../../src/service-worker-bridge.ts'
import { SERVICE_WORKER_PROTOCOL_VERSION } from '../../src/service-worker.ts'
import { UploadSignalMonitor } from '../../src/upload-policy.ts'
import type { RingCdn } from '../../src/ring-cdn.ts'
import type { ServiceWorkerProvider } from '../../src/service-worker-bridge.ts'
import type { UploadDecision, UploadSignals } from '../../src/upload-policy.ts'

export interface GetResult {
  status: number
  source: string | null
  contentRange: string | null
  length: number
  /** The body's bytes (small test assets only) */
  bytes: number[]
  error?: string
}

let cdn: RingCdn | undefined
let provider: ServiceWorkerProvider | undefined

/** Rejects after `ms`: every wait in the page is bounded */
async function bounded <T> (promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined
  try {
    return await Promise.race([promise, new Promise<never>((resolve, reject) => { timer = setTimeout(() => { reject(new Error(`${what} took over ${ms} ms`)) }, ms) })])
  } finally {
    clearTimeout(timer)
  }
}

const api = {
  /** Registers the worker and waits until it controls this page */
  async register (script: string): Promise<void> {
    const container = navigator.serviceWorker
    await bounded(container.register(script), 10_000, 'registering the worker')
    await bounded(container.ready, 10_000, 'the worker to activate')
    if (container.controller == null) {
      await bounded(new Promise(resolve => { container.addEventListener('controllerchange', resolve, { once: true }) }), 10_000, 'the worker to take control')
    }
  },

  /** A one-node ring in this page, serving the worker */
  async provide (): Promise<string> {
    const node = await createLibp2p({
      transports: [webSockets()],
      connectionEncrypters: [noise()],
      streamMuxers: [yamux()],
      services: { cdn: ringCdn({ namespace: location.origin }) }
    })
    cdn = node.services.cdn
    await bounded(cdn.whenJoined(), 10_000, 'the ring to start')
    provider = serveServiceWorker(cdn)
    await bounded(provider.registered, 10_000, 'registering as provider')
    return node.peerId.toString()
  },

  /**
   * Registers a provider that never answers: a frozen tab (`accept` false),
   * or one that acknowledges and then hangs (`accept` true)
   */
  async provideStuck (accept: boolean): Promise<void> {
    const registration = await bounded(navigator.serviceWorker.ready, 10_000, 'the worker')
    const channel = new MessageChannel()
    ;(globalThis as any).stuckRequests = 0
    channel.port1.onmessage = (event) => {
      (globalThis as any).stuckRequests++
      if (accept) {
        event.ports[0]?.postMessage({ ringcdn: 'accepted' })
        // keep the reply port open: no answer, no close
        ;(globalThis as any).stuckReply = event.ports[0]
      }
    }
    // keep the port referenced so it is not collected (and closed) while the test runs
    ;(globalThis as any).stuckPort = channel.port1
    registration.active?.postMessage({ ringcdn: 'provide', version: SERVICE_WORKER_PROTOCOL_VERSION }, [channel.port2])
  },

  /** The upload policy's reading of this real page, and the node's state */
  async uploadSignals (): Promise<{ decision: UploadDecision, snapshot: UploadSignals, node?: UploadDecision, apis: { battery: boolean, connection: boolean } }> {
    const monitor = new UploadSignalMonitor()
    await bounded(monitor.start(), 5_000, 'reading the upload signals')
    monitor.stop()
    const nav = navigator as any
    return { decision: monitor.decision, snapshot: monitor.snapshot, node: cdn?.uploadState, apis: { battery: typeof nav.getBattery === 'function', connection: nav.connection != null } }
  },

  stats (): { requests: number, fromOrigin: number, fromLocal: number, integrityFailures: number, served: number, registrations: number } {
    const s = cdn?.getStats()
    return { requests: s?.requests ?? 0, fromOrigin: s?.fromOrigin ?? 0, fromLocal: s?.fromLocal ?? 0, integrityFailures: s?.integrityFailures ?? 0, served: provider?.requests ?? 0, registrations: provider?.registrations ?? 0 }
  },

  async get (url: string, headers: Record<string, string> = {}, integrity?: string): Promise<GetResult> {
    try {
      const res = await bounded(fetch(url, { headers, integrity }), 20_000, `GET ${url}`)
      const body = new Uint8Array(await res.arrayBuffer())
      return { status: res.status, source: res.headers.get('ringcdn-source'), contentRange: res.headers.get('content-range'), length: body.byteLength, bytes: [...body] }
    } catch (err: any) {
      return { status: 0, source: null, contentRange: null, length: 0, bytes: [], error: `${err.name}: ${err.message}` }
    }
  },

  /** Loads a script element; 'load' or 'error' as the browser decides */
  async script (src: string, integrity?: string): Promise<'load' | 'error'> {
    const el = document.createElement('script')
    el.src = src
    if (integrity != null) {
      el.integrity = integrity
    }
    const outcome = new Promise<'load' | 'error'>(resolve => {
      el.onload = () => { resolve('load') }
      el.onerror = () => { resolve('error') }
    })
    document.head.appendChild(el)
    return bounded(outcome, 20_000, `loading ${src}`)
  }
}

export type SwTestApi = typeof api
;(globalThis as any).swTest = api
