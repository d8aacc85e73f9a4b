/**
 * @packageDocumentation
 *
 * ringcdn in a service worker: the site's assets reach every element of the
 * page (`<img>`, `<video>`, `<script>`, CSS `url()`) through the ring without
 * changing the page's markup.
 *
 * ```ts
 * // sw.js
 * import { ringCdnServiceWorker } from 'ringcdn/service-worker'
 * ringCdnServiceWorker({ allow: ['/assets/', /\.m4s$/] })
 *
 * // in the page, next to createRingCdn()
 * import { serveServiceWorker } from 'ringcdn'
 * navigator.serviceWorker.register('/sw.js')
 * serveServiceWorker(cdn)
 * ```
 *
 * Theory of operation: WebRTC does not exist in service workers, so the libp2p
 * node lives in a page. Each page that runs `serveServiceWorker` registers as
 * a *provider*: it sends the worker one end of a `MessageChannel`. For a
 * same-origin GET on the allow-list the worker picks a live provider (the
 * requesting tab if it provides, otherwise the newest), sends it the request
 * with a fresh reply port, and answers with the verified bytes it gets back.
 * The provider acknowledges at once; no acknowledgement within `timeoutMs`
 * (a frozen or closed tab, no provider at all) and the request goes to the
 * network, and the silent provider is dropped. Tabs that closed are dropped
 * before each pick (`clients.matchAll`). A worker that was stopped and
 * restarted has lost its providers: it asks every tab to register again
 * (`hello`) and waits for one briefly, within the same deadline.
 *
 * Integrity: the element's `integrity=` attribute arrives as
 * `request.integrity` and becomes the trusted digest of the ring fetch. Bytes
 * that do not match it fail the request as a network error, as the browser's
 * own check would (`Response.error()`), rather than being fetched again.
 *
 * The provider's own origin fetch for an asset it was asked for comes back
 * through this worker; it is recognised (same tab, same URL, request in
 * flight) and goes to the network, so there is no loop.
 */

/** Time for a provider to acknowledge a request before it goes to the network, ms */
export const SERVICE_WORKER_TIMEOUT_MS = 3_000

/** Time for an acknowledged request's answer, ms (the ring fetch has its own deadlines; this bounds a tab that died) */
export const SERVICE_WORKER_RESPONSE_TIMEOUT_MS = 60_000

/** Longest wait for a provider to register after asking the tabs (`hello`), ms; within `timeoutMs` */
export const PROVIDER_DISCOVERY_MS = 500

/** How often a provider working on a request is checked to be still open, ms */
export const PROVIDER_CHECK_MS = 1_000

/** Version of the messages between worker and provider pages */
export const SERVICE_WORKER_PROTOCOL_VERSION = 1

/**
 * Which requests go through the ring: a string starting with `/` is a path
 * prefix, any other string a URL prefix, a RegExp is tested against the
 * path (with the query), a function decides itself
 */
export type AllowRule = string | RegExp | ((url: URL, request: Request) => boolean)

export interface RingCdnServiceWorkerInit {
  /**
   * Same-origin GET requests matching any rule are asked of a provider page;
   * everything else is left to the browser
   *
   * @default [] (nothing is intercepted)
   */
  allow?: AllowRule[]
  /** @default SERVICE_WORKER_TIMEOUT_MS (3 s) */
  timeoutMs?: number
  /** @default SERVICE_WORKER_RESPONSE_TIMEOUT_MS (60 s) */
  responseTimeoutMs?: number
  /** @default PROVIDER_DISCOVERY_MS (500 ms) */
  discoveryMs?: number
  /**
   * Activate at once and take control of open tabs (`skipWaiting`,
   * `clients.claim`), so the first visit already uses the ring
   *
   * @default true
   */
  claim?: boolean
  /**
   * The worker's global scope (`self`, a `ServiceWorkerGlobalScope`).
   *
   * Typed as `EventTarget` on purpose: `ServiceWorkerGlobalScope` exists only
   * in TypeScript's `WebWorker` lib, which cannot be combined with `DOM`, so
   * naming it here made this declaration file fail to check (with
   * `skipLibCheck: false`) in a site's program that also holds page code.
   *
   * @default self
   */
  scope?: EventTarget
}

/** Counters of the worker since it (re)started */
export interface ServiceWorkerStats {
  /** Requests answered by a provider */
  answered: number
  /** Allow-listed requests that went to the network (no provider, no answer in time, provider error) */
  fallbacks: number
  /** Requests failed because the bytes did not match their integrity */
  integrityFailures: number
  /** Providers registered now */
  providers: number
}

export interface RingCdnServiceWorker {
  stats(): ServiceWorkerStats
}

/** Page → worker: register as a provider (with a port), or withdraw */
export interface ProvideMessage {
  ringcdn: 'provide' | 'withdraw'
  version: number
}

/** Worker → pages: providers, please register (the worker restarted) */
export interface HelloMessage {
  ringcdn: 'hello'
  version: number
}

/** Worker → provider: fetch this, answer on the port sent along */
export interface FetchRequestMessage {
  ringcdn: 'fetch'
  url: string
  /** `request.integrity`; empty when the request has none */
  integrity: string
  /** The request's `Range` header, if any */
  range?: string
}

/** Provider → worker, on the reply port */
export type FetchReplyMessage =
  | { ringcdn: 'accepted' }
  | { ringcdn: 'response', status: number, statusText: string, headers: Array<[string, string]>, body: ArrayBuffer | null }
  | { ringcdn: 'error', name: string, message: string }

interface Provider {
  id: string
  port: MessagePort
  /** Registration order: the newest provider is preferred */
  seq: number
}

/** Statuses whose responses have no body */
const NULL_BODY_STATUSES = new Set([101, 103, 204, 205, 304])

/**
 * Installs the fetch and message handlers. Call it once, synchronously, at
 * the top level of the worker script (the browser only dispatches events to
 * handlers added then).
 */
export function ringCdnServiceWorker (init: RingCdnServiceWorkerInit = {}): RingCdnServiceWorker {
  const scope = (init.scope ?? globalThis) as unknown as ServiceWorkerGlobalScope
  const rules = init.allow ?? []
  const timeoutMs = init.timeoutMs ?? SERVICE_WORKER_TIMEOUT_MS
  const responseTimeoutMs = init.responseTimeoutMs ?? SERVICE_WORKER_RESPONSE_TIMEOUT_MS
  const discoveryMs = init.discoveryMs ?? PROVIDER_DISCOVERY_MS
  const providers = new Map<string, Provider>()
  /** `${providerId} ${url}` of requests a provider is working on: its own fetch of that URL must go to the network */
  const inflight = new Map<string, number>()
  const counters = { answered: 0, fallbacks: 0, integrityFailures: 0 }
  let seq = 0
  let discovery: PromiseWithResolvers<void> | undefined

  if (init.claim ?? true) {
    scope.addEventListener('install', () => { void scope.skipWaiting() })
    scope.addEventListener('activate', (event) => { event.waitUntil(scope.clients.claim()) })
  }

  scope.addEventListener('message', (event: ExtendableMessageEvent) => {
    const data = event.data as Partial<ProvideMessage> | null
    const source = event.source
    if (data == null || typeof data !== 'object' || source == null || !('id' in source) || data.version !== SERVICE_WORKER_PROTOCOL_VERSION) {
      return
    }
    if (data.ringcdn === 'provide' && event.ports[0] != null) {
      providers.get(source.id)?.port.close()
      providers.set(source.id, { id: source.id, port: event.ports[0], seq: seq++ })
      discovery?.resolve()
    } else if (data.ringcdn === 'withdraw') {
      drop(source.id)
    }
  })

  scope.addEventListener('fetch', (event: FetchEvent) => {
    const request = event.request
    if (request.method !== 'GET') {
      return
    }
    let url: URL
    try {
      url = new URL(request.url)
    } catch {
      return
    }
    if (url.origin !== scope.location.origin || !allowed(rules, url, request)) {
      return
    }
    if (inflight.has(`${event.clientId} ${url.href}`)) {
      // the provider fetching this very asset from the origin for us
      return
    }
    event.respondWith(answer(event, url))
  })

  function drop (id: string): void {
    providers.get(id)?.port.close()
    providers.delete(id)
  }

  async function answer (event: FetchEvent, url: URL): Promise<Response> {
    const deadline = Date.now() + timeoutMs
    const request = event.request
    let outcome: Outcome
    try {
      const provider = await pickProvider(event.clientId, deadline)
      outcome = provider == null ? { kind: 'fallback' } : await ask(provider, request, url, deadline)
    } catch {
      outcome = { kind: 'fallback' }
    }
    switch (outcome.kind) {
      case 'response':
        counters.answered++
        return outcome.response
      case 'integrity':
        counters.integrityFailures++
        return Response.error()
      case 'fallback':
        counters.fallbacks++
        return fetch(request)
      default:
        return assertNever(outcome)
    }
  }

  /** A live provider: the requesting tab if it provides, otherwise the newest; asks the tabs when none is known */
  async function pickProvider (clientId: string, deadline: number): Promise<Provider | undefined> {
    const live = await scope.clients.matchAll({ type: 'window', includeUncontrolled: true })
    const liveIds = new Set(live.map(c => c.id))
    for (const id of [...providers.keys()]) {
      if (!liveIds.has(id)) {
        drop(id)
      }
    }
    if (providers.size === 0 && live.length > 0) {
      // after a restart the worker knows nobody: providers answer `hello` by registering again
      discovery ??= Promise.withResolvers()
      const waiting = discovery
      const hello: HelloMessage = { ringcdn: 'hello', version: SERVICE_WORKER_PROTOCOL_VERSION }
      live.forEach(client => { client.postMessage(hello) })
      await within(waiting.promise, Math.min(discoveryMs, deadline - Date.now()))
      if (discovery === waiting) {
        discovery = undefined
      }
    }
    const own = providers.get(clientId)
    if (own != null) {
      return own
    }
    let newest: Provider | undefined
    for (const p of providers.values()) {
      if (newest == null || p.seq > newest.seq) {
        newest = p
      }
    }
    return newest
  }

  async function ask (provider: Provider, request: Request, url: URL, deadline: number): Promise<Outcome> {
    const channel = new MessageChannel()
    const reply = channel.port1
    const accepted = Promise.withResolvers<void>()
    const done = Promise.withResolvers<FetchReplyMessage>()
    reply.onmessage = (event: MessageEvent<FetchReplyMessage>) => {
      const data = event.data
      if (data?.ringcdn === 'accepted') {
        accepted.resolve()
      } else if (data?.ringcdn === 'response' || data?.ringcdn === 'error') {
        accepted.resolve()
        done.resolve(data)
      }
    }
    // where MessagePort has a close event, a tab that dies mid-answer ends the wait at once
    reply.addEventListener('close', () => {
      accepted.reject(new Error('provider gone'))
      done.reject(new Error('provider gone'))
    })
    accepted.promise.catch(() => {})
    done.promise.catch(() => {})

    const key = `${provider.id} ${url.href}`
    inflight.set(key, (inflight.get(key) ?? 0) + 1)
    let alive: ReturnType<typeof setInterval> | undefined
    try {
      const message: FetchRequestMessage = { ringcdn: 'fetch', url: url.href, integrity: request.integrity ?? '' }
      const range = request.headers.get('range')
      if (range != null) {
        message.range = range
      }
      provider.port.postMessage(message, [channel.port2])
      if (!await within(accepted.promise, deadline - Date.now())) {
        // frozen, closed or not a provider any more: do not wait for it again
        drop(provider.id)
        return { kind: 'fallback' }
      }
      // a tab closed mid-answer sends nothing more: notice it rather than wait out responseTimeoutMs
      alive = setInterval(() => {
        scope.clients.get(provider.id).then(client => {
          if (client == null) {
            drop(provider.id)
            done.reject(new Error('provider gone'))
          }
        }, () => {})
      }, PROVIDER_CHECK_MS)
      const data = await withTimeout(done.promise, responseTimeoutMs)
      if (data == null || data.ringcdn !== 'response') {
        return data?.ringcdn === 'error' && data.name === 'IntegrityError' ? { kind: 'integrity' } : { kind: 'fallback' }
      }
      const body = NULL_BODY_STATUSES.has(data.status) ? null : data.body
      return { kind: 'response', response: new Response(body, { status: data.status, statusText: data.statusText, headers: data.headers }) }
    } finally {
      clearInterval(alive)
      const n = (inflight.get(key) ?? 1) - 1
      if (n === 0) {
        inflight.delete(key)
      } else {
        inflight.set(key, n)
      }
      reply.close()
    }
  }

  return {
    stats: () => ({ ...counters, providers: providers.size })
  }
}

type Outcome =
  | { kind: 'response', response: Response }
  | { kind: 'integrity' }
  | { kind: 'fallback' }

function allowed (rules: AllowRule[], url: URL, request: Request): boolean {
  const path = url.pathname + url.search
  return rules.some(rule => {
    if (typeof rule === 'string') {
      return rule.startsWith('/') ? url.pathname.startsWith(rule) : url.href.startsWith(rule)
    }
    if (rule instanceof RegExp) {
      rule.lastIndex = 0
      return rule.test(path)
    }
    return typeof rule === 'function' && rule(url, request)
  })
}

/** Whether `promise` resolved within `ms` */
async function within (promise: Promise<unknown>, ms: number): Promise<boolean> {
  if (ms <= 0) {
    return false
  }
  try {
    return await withTimeout(promise.then(() => true), ms) ?? false
  } catch {
    return false
  }
}

/** The promise's value, or undefined after `ms` */
async function withTimeout <T> (promise: Promise<T>, ms: number): Promise<T | undefined> {
  let timer: ReturnType<typeof setTimeout> | undefined
  try {
    return await Promise.race([promise, new Promise<undefined>(resolve => { timer = setTimeout(() => { resolve(undefined) }, ms) })])
  } finally {
    clearTimeout(timer)
  }
}

function assertNever (x: never): never {
  throw new Error(`unexpected ${JSON.stringify(x)}`)
}
