/**
 * The page side of service-worker mode (see `src/service-worker.ts`): the
 * page that holds the libp2p node answers its service worker's requests with
 * verified bytes from the ring.
 *
 * ```ts
 * const cdn = await createRingCdn({ relay })
 * const provider = serveServiceWorker(cdn)
 * ```
 *
 * Ranges (video seeking): a single byte range is answered 206 from the
 * verified object; a range outside it 416 (`Content-Range: bytes *\/size`);
 * a syntactically broken byte range 416 too. Several ranges, or another unit,
 * are answered 200 with the whole object, which RFC 9110 allows. The whole
 * object is read even for a range, because an object streamed from the
 * origin is only verified once its last byte has arrived.
 */
import { SERVICE_WORKER_PROTOCOL_VERSION } from './service-worker.ts'
import type { RingCdnFetchOptions } from './ring-cdn.ts'
import type { FetchReplyMessage, FetchRequestMessage, HelloMessage, ProvideMessage } from './service-worker.ts'

/** What the bridge needs of the CDN: `RingCdn`, or the page object of `createRingCdn` */
export interface ServiceWorkerCdn {
  fetch(url: string, options?: RingCdnFetchOptions): Promise<Response>
}

export interface ServeServiceWorkerOptions {
  /**
   * The page's service worker container
   *
   * @default navigator.serviceWorker
   */
  container?: ServiceWorkerContainer
}

export interface ServiceWorkerProvider {
  /** false when the browser has no service workers */
  readonly supported: boolean
  /** Requests answered so far (with bytes, a status or an error) */
  readonly requests: number
  /** Times this page registered with a worker (again after a worker restart or a new worker) */
  readonly registrations: number
  /** Resolves once the page has registered with an active worker */
  readonly registered: Promise<void>
  /** Withdraws: the worker stops asking this page */
  stop(): void
}

/** A single byte range, inclusive */
export interface ByteRange {
  start: number
  end: number
}

/**
 * What to do with a `Range` header for an object of `size` bytes:
 * `'full'` (no range, several ranges, or not a byte range: send 200),
 * `'unsatisfiable'` (send 416), or the range to send 206
 */
export function parseRange (header: string | null | undefined, size: number): ByteRange | 'full' | 'unsatisfiable' {
  if (header == null) {
    return 'full'
  }
  const match = /^\s*bytes\s*=\s*(.*)$/i.exec(header)
  if (match == null) {
    // another range unit: RFC 9110 §14.2 says ignore it
    return 'full'
  }
  const specs = match[1].split(',')
  if (specs.length !== 1) {
    return 'full'
  }
  const spec = /^\s*(\d*)\s*-\s*(\d*)\s*$/.exec(specs[0])
  if (spec == null || (spec[1] === '' && spec[2] === '') || size <= 0) {
    return 'unsatisfiable'
  }
  if (spec[1] === '') {
    // suffix range: the last n bytes
    const n = Number(spec[2])
    return n === 0 ? 'unsatisfiable' : { start: Math.max(0, size - n), end: size - 1 }
  }
  const start = Number(spec[1])
  const end = spec[2] === '' ? size - 1 : Math.min(Number(spec[2]), size - 1)
  if (start >= size || (spec[2] !== '' && Number(spec[2]) < start)) {
    return 'unsatisfiable'
  }
  return { start, end }
}

/**
 * Registers this page with the service worker as a provider of ring fetches.
 * Registers again when the worker asks (it restarted) or another worker
 * takes control. Without service workers it does nothing.
 */
export function serveServiceWorker (cdn: ServiceWorkerCdn, options: ServeServiceWorkerOptions = {}): ServiceWorkerProvider {
  const container = options.container ?? (globalThis.navigator as Navigator | undefined)?.serviceWorker
  let requests = 0
  let registrations = 0
  let port: MessagePort | undefined
  let worker: ServiceWorker | undefined
  let stopped = false
  const registered = Promise.withResolvers<void>()
  registered.promise.catch(() => {})

  if (container == null) {
    registered.reject(new Error('this browser has no service workers'))
    return { supported: false, requests: 0, registrations: 0, registered: registered.promise, stop: () => {} }
  }

  const register = (to: ServiceWorker): void => {
    if (stopped) {
      return
    }
    port?.close()
    const channel = new MessageChannel()
    port = channel.port1
    port.onmessage = (event: MessageEvent<FetchRequestMessage>) => {
      const reply = event.ports[0]
      if (event.data?.ringcdn !== 'fetch' || reply == null) {
        return
      }
      requests++
      void serve(cdn, event.data, reply)
    }
    worker = to
    const message: ProvideMessage = { ringcdn: 'provide', version: SERVICE_WORKER_PROTOCOL_VERSION }
    to.postMessage(message, [channel.port2])
    registrations++
    registered.resolve()
  }

  const onMessage = (event: MessageEvent<HelloMessage>): void => {
    if (event.data?.ringcdn === 'hello' && event.source != null && 'postMessage' in event.source) {
      register(event.source as ServiceWorker)
    }
  }
  const onControllerChange = (): void => {
    if (container.controller != null) {
      register(container.controller)
    }
  }
  container.addEventListener('message', onMessage)
  container.addEventListener('controllerchange', onControllerChange)
  // messages from the worker are queued until this (or the end of parsing)
  container.startMessages()
  container.ready.then(registration => {
    const active = container.controller ?? registration.active
    if (active != null && worker == null) {
      register(active)
    }
  }, (err) => { registered.reject(err) })

  return {
    supported: true,
    get requests () { return requests },
    get registrations () { return registrations },
    registered: registered.promise,
    stop: () => {
      if (stopped) {
        return
      }
      stopped = true
      container.removeEventListener('message', onMessage)
      container.removeEventListener('controllerchange', onControllerChange)
      const message: ProvideMessage = { ringcdn: 'withdraw', version: SERVICE_WORKER_PROTOCOL_VERSION }
      worker?.postMessage(message)
      port?.close()
    }
  }
}

/** One request from the worker: acknowledge at once, then fetch through the ring and answer */
async function serve (cdn: ServiceWorkerCdn, req: FetchRequestMessage, reply: MessagePort): Promise<void> {
  const send = (message: FetchReplyMessage, transfer: Transferable[] = []): void => { reply.postMessage(message, transfer) }
  try {
    send({ ringcdn: 'accepted' })
    const res = await cdn.fetch(req.url, req.integrity === '' ? {} : { integrity: req.integrity })
    const answer = await toReply(res, req.range)
    send(answer, answer.body == null ? [] : [answer.body])
  } catch (err: any) {
    send({ ringcdn: 'error', name: String(err?.name ?? 'Error'), message: String(err?.message ?? err) })
  } finally {
    reply.close()
  }
}

async function toReply (res: Response, range: string | undefined): Promise<FetchReplyMessage & { ringcdn: 'response' }> {
  const headers = new Headers(res.headers)
  // the whole body, verified: the ring fetch errors the body rather than complete it with bad bytes
  const body = res.body == null ? null : await res.arrayBuffer()
  if (res.status !== 200 || body == null) {
    return { ringcdn: 'response', status: res.status, statusText: res.statusText, headers: [...headers], body }
  }
  headers.set('accept-ranges', 'bytes')
  const wanted = parseRange(range, body.byteLength)
  if (wanted === 'full') {
    return { ringcdn: 'response', status: 200, statusText: 'OK', headers: [...headers], body }
  }
  if (wanted === 'unsatisfiable') {
    headers.set('content-range', `bytes */${body.byteLength}`)
    headers.set('content-length', '0')
    return { ringcdn: 'response', status: 416, statusText: 'Range Not Satisfiable', headers: [...headers], body: new ArrayBuffer(0) }
  }
  headers.set('content-range', `bytes ${wanted.start}-${wanted.end}/${body.byteLength}`)
  headers.set('content-length', String(wanted.end - wanted.start + 1))
  return { ringcdn: 'response', status: 206, statusText: 'Partial Content', headers: [...headers], body: body.slice(wanted.start, wanted.end + 1) }
}
