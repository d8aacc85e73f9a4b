/**
 * The demo page: starts ringcdn, loads the site's assets through it and
 * shows, live, this page's ring, each lookup, where each asset came from and
 * the traffic of this page and of the origin.
 *
 * The server inlines the relay addresses and the asset list
 * (`#ringcdn-demo-config`, `DemoPageConfig` in server.ts). Tests read
 * `globalThis.ringcdnDemo` and the DOM's `data-` attributes.
 */
import { peerIdFromString } from '@libp2p/peer-id'
import { createRingCdn, serveServiceWorker } from '../src/browser.ts'
import { keyForUrl, nodeIdFromBytes } from '../src/keys.ts'
import { renderRing, shortPeer } from './ring-view.ts'
import { parsePlaylist, playSegments } from './video.ts'
import type { Role, RingPictureNode } from './ring-view.ts'
import type { DemoPageConfig, OriginStats } from './server.ts'
import type { FetchSource, HolderFailureDetail, LookupEventDetail, RingCdnPage, RingCdnStats, RingView, TransferEventDetail } from '../src/browser.ts'

/** How long the page waits to join the ring before loading assets anyway (they then come from the origin), ms */
const JOIN_WAIT_MS = 10_000
/** Longest wait for the service worker to take control of the page, ms (then the page fetches itself) */
const SW_WAIT_MS = 5_000
/**
 * After joining, how long the page waits for its ring neighbours to settle
 * (a predecessor, which means the old home of our keys has heard of us and
 * handed their holder lists over) before fetching, ms
 */
const SETTLE_WAIT_MS = 3_000
/**
 * Ring maintenance of the demo's pages, faster than the library's defaults
 * (5 s): with a handful of pages it costs little, and the ring view converges
 * while you watch
 */
const DEMO_RING_TUNING = { stabilizeIntervalMs: 1_000, fixFingersIntervalMs: 2_000 }
/**
 * How long the peer path may run before the origin is raced in, ms. The
 * demo's origin is on this machine, faster than any peer for a large object
 * (the multi-MB panorama): with the library's 3 s margin the origin would win
 * exactly the transfers the demo exists to show. A site's real origin is far
 * away; keep the default there.
 */
const DEMO_ORIGIN_MARGIN_MS = 30_000
/** Retries of an asset that could not be fetched */
const FETCH_RETRIES = 2
/** Pause before retrying an asset, ms */
const RETRY_DELAY_MS = 1_000
/** Assets fetched at once */
const CONCURRENCY = 3
/** How often the view refreshes from `getStats()` / `getRing()`, ms */
const REFRESH_MS = 1_000
/** How often the origin's counters are polled, ms */
const ORIGIN_POLL_MS = 2_000
/** A node seen once (as home, holder, neighbour) stays on the ring view this long, ms */
const SEEN_TTL_MS = 60_000
/** Lookups listed */
const MAX_LOOKUPS = 14

export interface AssetState {
  path: string
  kind: DemoPageConfig['assets'][number]['kind']
  size: number
  status: 'pending' | 'loading' | 'done' | 'error'
  source?: FetchSource
  /** The peer that sent it, for `source: 'peer'` */
  peer?: string
  /** Tries so far (more than one after a failure) */
  attempts: number
  /**
   * Why the newest ring lookup for it found nobody to ask (lookup failed,
   * or the home node listed no holder); unset when it found holders
   */
  ringMiss?: string
  /** Why the holders this page asked for it did not deliver, newest last */
  holderFailures?: string[]
  ms?: number
  error?: string
}

/** What tests (and curious people in the console) can read */
export interface DemoHandle {
  cdn?: RingCdnPage
  peerId?: string
  /** Set once every asset has settled (loaded or failed) */
  done: boolean
  /** How long joining the ring took, ms (undefined: not joined before the assets were loaded) */
  joinMs?: number
  /** Why the page did not join before loading the assets */
  joinError?: string
  /**
   * The page's asset requests are plain `fetch()`es that the site's service
   * worker answers through this tab's node (false: the page calls
   * `cdn.fetch` itself; `?sw=0` chooses that)
   */
  viaServiceWorker: boolean
  assets: Record<string, AssetState>
  lookups: LookupEventDetail[]
  /** Peer ids drawn on the ring view now */
  ringPeers(): string[]
  /** Loads every asset again (e.g. after the origin stopped serving) */
  reload(): Promise<void>
}

const config = JSON.parse(document.getElementById('ringcdn-demo-config')?.textContent ?? '{}') as DemoPageConfig
const $ = <T extends Element = HTMLElement>(selector: string): T => {
  const found = document.querySelector<T>(selector)
  if (found == null) {
    throw new Error(`missing ${selector}`)
  }
  return found
}

const assets: Record<string, AssetState> = Object.fromEntries(config.assets.map(a => [a.path, { path: a.path, kind: a.kind, size: a.size, status: 'pending', attempts: 0 }]))
const lookups: LookupEventDetail[] = []
/** Peers met other than through the ring view (homes, holders), with when */
const seen = new Map<string, number>()
/** Ring positions of peer ids, computed once each */
const positions = new Map<string, string>()
let lastLookup: { key: string, home: string } | undefined
let drawnPeers: string[] = []
let cdn: RingCdnPage | undefined

const handle: DemoHandle = {
  done: false,
  viaServiceWorker: false,
  assets,
  lookups,
  ringPeers: () => [...drawnPeers],
  reload: async () => { await loadAll() }
}
;(globalThis as unknown as { ringcdnDemo: DemoHandle }).ringcdnDemo = handle

// ---- formatting -------------------------------------------------------------

function bytes (n: number): string {
  if (n < 1024) {
    return `${n} B`
  }
  if (n < 1024 * 1024) {
    return `${(n / 1024).toFixed(1)} KiB`
  }
  return `${(n / 1024 / 1024).toFixed(2)} MiB`
}

function percent (part: number, whole: number): string {
  return whole === 0 ? '–' : `${Math.round(part / whole * 100)} %`
}

function pathOf (url: string): string {
  try {
    return new URL(url).pathname
  } catch {
    return url
  }
}

function setStatus (text: string, kind: 'joined' | 'error' | '' = ''): void {
  const status = $('#status')
  status.textContent = text
  status.className = `status ${kind}`
}

function fillList (dl: Element, rows: Array<[string, string, string?]>): void {
  dl.replaceChildren(...rows.flatMap(([label, value, cls]) => {
    const dt = document.createElement('dt')
    dt.textContent = label
    const dd = document.createElement('dd')
    dd.textContent = value
    if (cls != null) {
      dd.className = cls
    }
    return [dt, dd]
  }))
}

function cell (text: string, cls?: string): HTMLTableCellElement {
  const td = document.createElement('td')
  td.textContent = text
  if (cls != null) {
    td.className = cls
  }
  return td
}

// ---- the ring ---------------------------------------------------------------

function positionOf (peer: string): string | undefined {
  let id = positions.get(peer)
  if (id == null) {
    try {
      id = nodeIdFromBytes(peerIdFromString(peer).toMultihash().bytes).toString(16).padStart(64, '0')
    } catch {
      return undefined
    }
    positions.set(peer, id)
  }
  return id
}

function noteSeen (peer: string | undefined): void {
  if (peer != null && peer !== config.relayPeerId) {
    seen.set(peer, Date.now())
  }
}

const assetKeys = config.assets.map(a => ({ id: keyForUrl(a.path, location.href).toString(16).padStart(64, '0'), label: a.path }))

/** What each peer is to this page now: the ring view's roles, then peers seen lately */
function currentRoles (view: RingView | undefined): Map<string, Role> {
  const roles = new Map<string, Role>()
  const give = (peer: string | undefined, role: Role): void => {
    if (peer != null && !roles.has(peer)) {
      roles.set(peer, role)
    }
  }
  give(view?.self?.peer, 'self')
  give(view?.predecessor?.peer, 'predecessor')
  view?.successors.forEach(s => { give(s.peer, 'successor') })
  view?.fingers.forEach(f => { give(f.peer, 'finger') })
  const now = Date.now()
  for (const [peer, at] of seen) {
    if (now - at > SEEN_TTL_MS) {
      seen.delete(peer)
    } else {
      give(peer, 'seen')
    }
  }
  // neighbours stay "seen" for a while after they drop out of the view
  for (const [peer, role] of roles) {
    if (role !== 'self' && role !== 'seen') {
      seen.set(peer, now)
    }
  }
  return roles
}

function ringCaption (view: RingView | undefined, nodes: number): string {
  if (view?.joined === true) {
    return `${nodes} ${nodes === 1 ? 'node' : 'nodes'} seen`
  }
  return cdn?.peerToPeer === false ? 'no WebRTC' : 'joining…'
}

function drawRing (): void {
  const view = cdn?.getRing()
  const roles = currentRoles(view)
  const nodes: RingPictureNode[] = []
  for (const [peer, role] of roles) {
    const id = positionOf(peer)
    if (id != null) {
      nodes.push({ peer, id, role })
    }
  }
  drawnPeers = nodes.map(n => n.peer)
  const live = nodes.filter(n => n.role !== 'seen').length
  $('#ring-count').textContent = view?.joined === true ? `${live} node${live === 1 ? '' : 's'} in view` : 'not joined'
  renderRing($<SVGSVGElement>('#ring'), {
    nodes,
    keys: assetKeys,
    lookup: lastLookup,
    caption: ringCaption(view, nodes.length)
  })
}

// ---- tables and counters ----------------------------------------------------

/** Where an asset came from (local / peer and which / origin), or how far it got */
function sourceBadge (a: AssetState): HTMLElement {
  const badge = document.createElement('span')
  badge.className = 'badge pending'
  badge.textContent = a.attempts > 1 ? `${a.status} (try ${a.attempts})` : a.status
  if (a.status === 'done') {
    badge.className = `badge ${a.source ?? 'origin'}`
    badge.textContent = a.peer == null ? a.source ?? '' : `${a.source ?? ''} ${shortPeer(a.peer)}`
    badge.title = [a.attempts > 1 ? `after ${a.attempts} tries (${a.error ?? ''})` : '', ...(a.holderFailures ?? [])].filter(Boolean).join('; ')
  } else if (a.status === 'error') {
    badge.className = 'badge error'
    badge.textContent = 'failed'
    badge.title = [a.error, a.ringMiss].filter(Boolean).join('; ')
  }
  return badge
}

function drawAssets (): void {
  const rows = Object.values(assets).map(a => {
    const tr = document.createElement('tr')
    tr.dataset.path = a.path
    tr.dataset.status = a.status
    if (a.source != null) {
      tr.dataset.source = a.source
    }
    const from = document.createElement('td')
    from.append(sourceBadge(a))
    tr.append(cell(a.path.replace('/assets/', '')), cell(bytes(a.size)), from, cell(a.ms == null ? '' : `${a.ms} ms`))
    return tr
  })
  $('#assets tbody').replaceChildren(...rows)
}

function drawLookups (): void {
  const self = cdn?.peerId
  $('#lookups tbody').replaceChildren(...lookups.map(l => {
    const tr = document.createElement('tr')
    const asset = cell(pathOf(l.url).replace('/assets/', ''))
    const time = cell(`${Math.round(l.durationMs)} ms`)
    if (l.error != null) {
      tr.append(asset, cell('', 'error'), cell(l.error, 'error'), cell(''), time)
    } else {
      tr.append(asset, cell(String(l.hops ?? '')), cell(l.home === self ? 'me' : shortPeer(l.home ?? '')), cell(String(l.holders)), time)
    }
    return tr
  }))
}

function drawPageStats (stats: RingCdnStats): void {
  const received = stats.bytesFromPeers + stats.bytesFromOrigin
  fillList($('#page-stats'), [
    ['offload', percent(stats.bytesFromPeers, received), 'big'],
    ['fetches', String(stats.requests)],
    ['local / peer / origin', `${stats.fromLocal} / ${stats.fromPeers} / ${stats.fromOrigin}`],
    ['down from peers', bytes(stats.bytesFromPeers)],
    ['down from origin', bytes(stats.bytesFromOrigin)],
    ['up to peers', `${bytes(stats.bytesUploaded)} (${stats.uploads})`],
    ['lookups', `${stats.lookups}${stats.lookupFailures > 0 ? ` (${stats.lookupFailures} failed)` : ''}`],
    ['mean hops', stats.meanHops.toFixed(2)],
    ['connections', `${stats.connections.open} (${stats.connections.kept} kept)`]
  ])
}

interface OriginStatsAnswer extends OriginStats {
  relay?: { members?: number, connections?: number }
}

async function pollOrigin (): Promise<void> {
  try {
    const res = await fetch('/__ringcdn/origin-stats', { cache: 'no-store', signal: AbortSignal.timeout(ORIGIN_POLL_MS) })
    const stats = await res.json() as OriginStatsAnswer
    fillList($('#origin-stats'), [
      ['asset requests', String(stats.assetRequests)],
      ['asset bytes', bytes(stats.assetBytes)],
      ['all requests', String(stats.requests)],
      ['all bytes', bytes(stats.bytes)],
      ['ring members (relay)', String(stats.relay?.members ?? '–')],
      ['serving assets', stats.servingAssets ? 'yes' : 'no (503)']
    ])
    const button = $<HTMLButtonElement>('#origin-toggle')
    button.disabled = false
    button.dataset.serving = stats.servingAssets ? '1' : '0'
    button.textContent = stats.servingAssets ? 'stop serving assets' : 'serve assets again'
    button.classList.toggle('off', !stats.servingAssets)
  } catch {
    // the origin is momentarily unreachable: keep the last figures
  }
}

async function toggleOrigin (): Promise<void> {
  const button = $<HTMLButtonElement>('#origin-toggle')
  const serving = button.dataset.serving === '1' ? '0' : '1'
  await fetch(`/__ringcdn/origin-assets?serving=${serving}`, { method: 'POST' }).catch(() => {})
  await pollOrigin()
}

let redrawQueued = false
function redraw (): void {
  if (redrawQueued) {
    return
  }
  redrawQueued = true
  requestAnimationFrame(() => {
    redrawQueued = false
    drawRing()
    drawAssets()
    drawLookups()
    if (cdn != null) {
      drawPageStats(cdn.getStats())
    }
  })
}

// ---- loading the site's assets ---------------------------------------------

/**
 * One try at an asset: a plain fetch the service worker hands to our node, or
 * `cdn.fetch` directly, or (no node) the network; HTTP errors reject
 */
async function fetchOnce (path: string): Promise<Response> {
  const res = handle.viaServiceWorker || cdn == null ? await fetch(path, { cache: 'no-store' }) : await cdn.fetch(path)
  if (!res.ok) {
    await res.body?.cancel().catch(() => {})
    throw new Error(`HTTP ${res.status}`)
  }
  return res
}

/**
 * Fetches an asset and records where it came from. A failure is retried
 * (FETCH_RETRIES): with the origin switched off, an asset can only come from
 * peers, and a lookup that failed while the ring was still settling (or
 * before the page joined it) may succeed a moment later.
 */
async function fetchAsset (path: string): Promise<Response> {
  const state = assets[path]
  state.status = 'loading'
  state.error = undefined
  state.peer = undefined
  state.attempts = 0
  redraw()
  const started = performance.now()
  try {
    for (;;) {
      state.attempts++
      try {
        const res = await fetchOnce(path)
        state.status = 'done'
        state.source = (res.headers.get('ringcdn-source') ?? 'origin') as FetchSource
        return res
      } catch (err: any) {
        state.error = `${err.name ?? 'Error'}: ${err.message}`
        if (state.attempts > FETCH_RETRIES) {
          state.status = 'error'
          throw err
        }
        redraw()
        await new Promise(resolve => setTimeout(resolve, RETRY_DELAY_MS))
        if (cdn?.peerToPeer === true && !cdn.getRing().joined) {
          // not a ring member yet, so the failure came from the origin: give the join a chance
          await cdn.whenJoined({ signal: AbortSignal.timeout(JOIN_WAIT_MS) }).catch(() => {})
        }
      }
    }
  } finally {
    state.ms = Math.round(performance.now() - started)
    redraw()
  }
}

async function showImage (path: string, img: HTMLImageElement): Promise<void> {
  const blob = await (await fetchAsset(path)).blob()
  const old = img.src
  img.src = URL.createObjectURL(blob)
  if (old.startsWith('blob:')) {
    URL.revokeObjectURL(old)
  }
}

async function loadImages (): Promise<void> {
  const gallery = $('#gallery')
  const queue = config.assets.filter(a => a.kind === 'image' || a.kind === 'file')
  const worker = async (): Promise<void> => {
    for (let next = queue.shift(); next != null; next = queue.shift()) {
      const path = next.path
      let img: HTMLImageElement
      if (next.kind === 'file') {
        img = $<HTMLImageElement>('#panorama')
      } else {
        img = gallery.querySelector<HTMLImageElement>(`img[data-path="${path}"]`) ?? document.createElement('img')
        img.dataset.path = path
        img.alt = path
        gallery.append(img)
      }
      await showImage(path, img).catch(() => {})
      if (next.kind === 'file') {
        $('#panorama-caption').textContent = `${path} · ${bytes(next.size)} · ${assets[path].source ?? 'failed'}`
      }
    }
  }
  await Promise.all(Array.from({ length: CONCURRENCY }, worker))
}

async function loadVideo (): Promise<void> {
  const playlist = config.assets.find(a => a.kind === 'playlist')
  if (playlist == null) {
    return
  }
  try {
    const text = await (await fetchAsset(playlist.path)).text()
    const segments = parsePlaylist(text, new URL(playlist.path, location.href).href)
    await playSegments($<HTMLVideoElement>('#video'), segments, async (url) => new Uint8Array(await (await fetchAsset(new URL(url).pathname)).arrayBuffer()))
  } catch {
    // the failed asset is marked in the table
  }
}

async function loadAll (): Promise<void> {
  handle.done = false
  await Promise.all([loadImages(), loadVideo()])
  handle.done = true
  redraw()
}

// ---- start ------------------------------------------------------------------

function onLookup (event: CustomEvent<LookupEventDetail>): void {
  const state = assets[pathOf(event.detail.url)]
  if (state != null) {
    if (event.detail.error != null) {
      state.ringMiss = `lookup failed (${event.detail.error})`
    } else if (event.detail.holders === 0) {
      state.ringMiss = `home ${shortPeer(event.detail.home ?? '')} listed no holder`
    } else {
      state.ringMiss = undefined
    }
  }
  lookups.unshift(event.detail)
  lookups.splice(MAX_LOOKUPS)
  if (event.detail.home != null) {
    noteSeen(event.detail.home)
    lastLookup = { key: event.detail.key.padStart(64, '0'), home: event.detail.home }
  }
  redraw()
}

function onHolderFailure (event: CustomEvent<HolderFailureDetail>): void {
  const state = assets[pathOf(event.detail.url)]
  if (state != null) {
    state.holderFailures = [...(state.holderFailures ?? []), `${shortPeer(event.detail.peer)}: ${event.detail.error} ${event.detail.message}`]
  }
  redraw()
}

function onTransfer (event: CustomEvent<TransferEventDetail>): void {
  const detail = event.detail
  noteSeen(detail.peer)
  if (detail.direction === 'download' && detail.source === 'peer' && detail.url != null) {
    const state = assets[pathOf(detail.url)]
    if (state != null) {
      state.peer = detail.peer
    }
  }
  redraw()
}

/** Waits (bounded) until the page has a predecessor, unless it is alone: see SETTLE_WAIT_MS */
async function settle (page: RingCdnPage): Promise<void> {
  const deadline = performance.now() + SETTLE_WAIT_MS
  while (page.getRing().predecessor == null && page.getRing().successors.length > 0 && performance.now() < deadline) {
    await new Promise(resolve => setTimeout(resolve, 100))
  }
}

/**
 * Registers the site's service worker and offers it this tab's node. True
 * once the worker controls the page (it claims open tabs on activation), so
 * plain fetches of /assets/ go through ringcdn; bounded by SW_WAIT_MS.
 */
async function useServiceWorker (page: RingCdnPage): Promise<boolean> {
  if (!('serviceWorker' in navigator) || new URLSearchParams(location.search).get('sw') === '0') {
    return false
  }
  serveServiceWorker(page)
  const deadline = performance.now() + SW_WAIT_MS
  try {
    let timer: ReturnType<typeof setTimeout> | undefined
    await Promise.race([
      navigator.serviceWorker.register('/sw.js'),
      new Promise((resolve, reject) => { timer = setTimeout(() => { reject(new Error('service worker registration timed out')) }, SW_WAIT_MS) })
    ]).finally(() => { clearTimeout(timer) })
    while (navigator.serviceWorker.controller == null && performance.now() < deadline) {
      await new Promise(resolve => setTimeout(resolve, 50))
    }
  } catch {
    return false
  }
  return navigator.serviceWorker.controller != null
}

async function start (): Promise<void> {
  $('#origin-toggle').addEventListener('click', () => { void toggleOrigin() })
  drawAssets()
  drawRing()
  void pollOrigin()
  setInterval(() => { void pollOrigin() }, ORIGIN_POLL_MS)
  setInterval(redraw, REFRESH_MS)

  try {
    cdn = await createRingCdn({
      relay: config.relay,
      manifest: config.manifest,
      iceServers: config.iceServers,
      ring: DEMO_RING_TUNING,
      originMarginMs: DEMO_ORIGIN_MARGIN_MS,
      store: new URLSearchParams(location.search).get('store') === 'indexeddb' ? 'indexeddb' : 'memory'
    })
    handle.cdn = cdn
    handle.peerId = cdn.peerId
    cdn.addEventListener('lookup', onLookup)
    cdn.addEventListener('transfer', onTransfer)
    cdn.addEventListener('holder-failure', onHolderFailure)
    window.addEventListener('pagehide', () => { void cdn?.stop() })
    handle.viaServiceWorker = await useServiceWorker(cdn)
  } catch (err: any) {
    setStatus(`ringcdn did not start (${err.message}): assets come from the origin`, 'error')
  }

  if (cdn?.peerToPeer === true) {
    setStatus(`peer ${cdn.peerId ?? ''} · joining ${cdn.namespace}…`)
    try {
      const started = performance.now()
      await cdn.whenJoined({ signal: AbortSignal.timeout(JOIN_WAIT_MS) })
      handle.joinMs = Math.round(performance.now() - started)
      await settle(cdn)
      setStatus(`peer ${cdn.peerId ?? ''} · ring member of ${cdn.namespace}`, 'joined')
    } catch (err: any) {
      handle.joinError = `${err.name}: ${err.message}`
      setStatus(`peer ${cdn.peerId ?? ''} · not in the ring (${err.name}): assets come from the origin until it joins`, 'error')
      // joining may still succeed later; say so when it does
      cdn.whenJoined().then(() => { setStatus(`peer ${cdn?.peerId ?? ''} · ring member of ${cdn?.namespace ?? ''}`, 'joined') }, () => {})
    }
  } else if (cdn != null) {
    setStatus('this browser has no WebRTC: every asset comes from the origin', 'error')
  }
  redraw()
  await loadAll()
}

void start()
