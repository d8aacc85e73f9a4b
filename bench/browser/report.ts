/**
 * Turns a browser benchmark run (bench/browser/harness.ts) into figures: the
 * per-size latency table (ringcdn against the plain origin fetch started with
 * it), churn offload from the origin's own counters, joins, ring correctness,
 * and issue 20's bars B1–B4 as PASS/FAIL with the measured values. Also the
 * HTML page: latency CDFs and ring correctness over time, inline SVG, no
 * external assets. Pure functions of the result: rerun on a saved JSON.
 */
import type { BrowserBenchResult, FetchRecord, RingSample } from './harness.ts'

/** Nearest-rank percentile; NaN for no values */
export function percentile (values: number[], p: number): number {
  if (values.length === 0) {
    return NaN
  }
  const sorted = [...values].sort((a, b) => a - b)
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(p * sorted.length) - 1))]
}

export interface Cell {
  delayMs: number
  size: number
  n: number
  cdn: { p50: number, p95: number }
  origin: { p50: number, p95: number }
  sources: Record<string, number>
  failures: number
  hopsP50: number
  lookupP95Ms: number
}

export interface Bar {
  name: string
  pass: boolean | null
  measured: string
}

export interface Summary {
  cells: Cell[]
  churn?: {
    fetches: number
    sources: Record<string, number>
    failures: number
    over5s: number
    cdn: { p50: number, p95: number }
    origin: { p50: number, p95: number }
    /** Bytes fetches got from peers (their records) */
    peerBytes: number
    /** Bytes and requests the origin served to ringcdn (its counters) */
    originBytes: number
    originRequests: number
    peerFetches: number
    offloadBytes: number
    offloadRequests: number
    /** Fetches by pages that had not joined when they began, and how many of those reached a peer */
    unjoinedFetches: number
    unjoinedFromPeers: number
    lookupFailures: number
    minCorrect: number
  }
  joins: { initial: JoinStats, churn: JoinStats }
  ringTrueAfterJoinSec?: number
  ringTrueAfterChurnSec?: number
  membersRingTrueAfterJoinSec?: number
  membersRingTrueAfterChurnSec?: number
  pagesAtEnd: { webrtcP50: number, webrtcMax: number, heapMiBP50: number, heapMiBMax: number, unreachable: number }
  b4: { over: number, failed: number, worstExcessMs: number, fetches: number }
  /** The fetches B4 counts against (worst first, at most 10): where they ended and what their lookup did, to say why */
  b4Worst: Array<Pick<FetchRecord, 'phase' | 'role' | 'size' | 'page' | 'joined' | 'at' | 'source' | 'cdnMs' | 'originMs' | 'hops' | 'lookupMs' | 'lookupError' | 'error'>>
  /** Why ringcdn fetches failed, by error */
  errors: Record<string, number>
  /** Why lookups failed, by error name */
  lookupErrors: Record<string, number>
  bars: Bar[]
}

export interface JoinStats {
  pages: number
  joined: number
  /** Pages that left (churn) before joining: not counted as failures to join */
  leftBeforeJoining: number
  p50Ms: number
  p95Ms: number
  maxMs: number
  /** Pages that never joined, by why their `whenJoined` rejected (error name), with the median ms it took to give up */
  gaveUp: Record<string, { pages: number, p50Ms: number }>
}

function countBy (fetches: FetchRecord[]): Record<string, number> {
  const out: Record<string, number> = {}
  for (const f of fetches) {
    const key = f.source ?? 'failed'
    out[key] = (out[key] ?? 0) + 1
  }
  return out
}

function tally (names: string[]): Record<string, number> {
  const out: Record<string, number> = {}
  for (const name of names) {
    out[name] = (out[name] ?? 0) + 1
  }
  return out
}

function joinStats (result: BrowserBenchResult, churn: boolean): JoinStats {
  const pages = result.pages.filter(p => p.churn === churn && p.peerId != null)
  const times = pages.filter(p => p.joined && p.joinMs != null).map(p => p.joinMs as number)
  return {
    pages: pages.length,
    joined: pages.filter(p => p.joined).length,
    leftBeforeJoining: pages.filter(p => !p.joined && p.leftAt != null).length,
    p50Ms: percentile(times, 0.5),
    p95Ms: percentile(times, 0.95),
    maxMs: times.length === 0 ? NaN : Math.max(...times),
    gaveUp: Object.fromEntries([...new Set(pages.filter(p => !p.joined && p.joinError != null).map(p => (p.joinError ?? '').split(':')[0]))].map(name => {
      const failed = pages.filter(p => !p.joined && (p.joinError ?? '').split(':')[0] === name)
      return [name, { pages: failed.length, p50Ms: percentile(failed.filter(p => p.joinErrorMs != null).map(p => p.joinErrorMs as number), 0.5) }]
    }))
  }
}

const ms = (n: number): string => Number.isNaN(n) ? '–' : Math.round(n).toLocaleString('en-US')
const pct = (n: number): string => Number.isNaN(n) ? '–' : `${(n * 100).toFixed(1)} %`
const kb = (n: number): string => n >= 1_000_000 ? `${n / 1_000_000} MB` : `${n / 1000} KB`

export function summarise (result: BrowserBenchResult): Summary {
  const cells: Cell[] = []
  const sized = result.fetches.filter(f => f.phase === 'sizes')
  for (const delayMs of [...new Set(sized.map(f => f.delayMs))]) {
    for (const size of [...new Set(sized.map(f => f.size))]) {
      const fs = sized.filter(f => f.delayMs === delayMs && f.size === size)
      if (fs.length === 0) {
        continue
      }
      const hops = fs.filter(f => f.hops != null).map(f => f.hops as number)
      cells.push({
        delayMs,
        size,
        n: fs.length,
        cdn: { p50: percentile(fs.map(f => f.cdnMs), 0.5), p95: percentile(fs.map(f => f.cdnMs), 0.95) },
        origin: { p50: percentile(fs.map(f => f.originMs), 0.5), p95: percentile(fs.map(f => f.originMs), 0.95) },
        sources: countBy(fs),
        failures: fs.filter(f => f.error != null).length,
        hopsP50: percentile(hops, 0.5),
        lookupP95Ms: percentile(fs.filter(f => f.lookupMs != null).map(f => f.lookupMs as number), 0.95)
      })
    }
  }

  let churn: Summary['churn']
  const zipf = result.fetches.filter(f => f.phase === 'churn')
  if (zipf.length > 0 && result.churnOrigin != null) {
    const peer = zipf.filter(f => f.source === 'peer')
    const peerBytes = peer.reduce((sum, f) => sum + f.bytes, 0)
    const originBytes = result.churnOrigin.cdn.bytes
    const originRequests = result.churnOrigin.cdn.requests
    const unjoined = zipf.filter(f => !f.joined)
    const churnSamples = result.ring.filter(s => s.phase === 'churn' && s.pages > 0)
    churn = {
      fetches: zipf.length,
      sources: countBy(zipf),
      failures: zipf.filter(f => f.error != null).length,
      over5s: zipf.filter(f => f.cdnMs > 5_000).length,
      cdn: { p50: percentile(zipf.map(f => f.cdnMs), 0.5), p95: percentile(zipf.map(f => f.cdnMs), 0.95) },
      origin: { p50: percentile(zipf.map(f => f.originMs), 0.5), p95: percentile(zipf.map(f => f.originMs), 0.95) },
      peerBytes,
      originBytes,
      originRequests,
      peerFetches: peer.length,
      offloadBytes: peerBytes / Math.max(1, peerBytes + originBytes),
      offloadRequests: peer.length / Math.max(1, peer.length + originRequests),
      unjoinedFetches: unjoined.length,
      unjoinedFromPeers: unjoined.filter(f => f.source === 'peer').length,
      lookupFailures: zipf.filter(f => f.lookupError != null).length,
      minCorrect: churnSamples.length === 0 ? NaN : Math.min(...churnSamples.map(s => s.correct / s.pages))
    }
  }

  const open = result.pages.filter(p => p.leftAt == null && p.peerId != null)
  const webrtc = open.filter(p => p.webrtc != null).map(p => p.webrtc as number)
  const heap = open.filter(p => p.heapMiB != null).map(p => p.heapMiB as number)

  // B4: each fetch against its own origin fetch; a ringcdn failure where the origin answered counts too
  const paired = result.fetches.filter(f => f.originError == null)
  const over = paired.filter(f => f.error == null && f.cdnMs > f.originMs + 1_000)
  const failed = paired.filter(f => f.error != null)
  const worst = paired.filter(f => f.error == null).reduce((max, f) => Math.max(max, f.cdnMs - f.originMs), -Infinity)

  const summary: Summary = {
    cells,
    churn,
    joins: { initial: joinStats(result, false), churn: joinStats(result, true) },
    ringTrueAfterJoinSec: result.ringTrueAfterJoinSec,
    ringTrueAfterChurnSec: result.ringTrueAfterChurnSec,
    membersRingTrueAfterJoinSec: result.membersRingTrueAfterJoinSec,
    membersRingTrueAfterChurnSec: result.membersRingTrueAfterChurnSec,
    pagesAtEnd: {
      webrtcP50: percentile(webrtc, 0.5),
      webrtcMax: webrtc.length === 0 ? NaN : Math.max(...webrtc),
      heapMiBP50: percentile(heap, 0.5),
      heapMiBMax: heap.length === 0 ? NaN : Math.max(...heap),
      unreachable: open.filter(p => p.webrtcAddrs === 0).length
    },
    b4: { over: over.length, failed: failed.length, worstExcessMs: Number.isFinite(worst) ? worst : NaN, fetches: paired.length },
    b4Worst: [...failed, ...over.sort((a, b) => (b.cdnMs - b.originMs) - (a.cdnMs - a.originMs))].slice(0, 10).map(f => ({
      phase: f.phase, role: f.role, size: f.size, page: f.page, joined: f.joined, at: f.at, source: f.source, cdnMs: f.cdnMs, originMs: f.originMs, hops: f.hops, lookupMs: f.lookupMs, lookupError: f.lookupError, error: f.error
    })),
    errors: tally(result.fetches.filter(f => f.error != null).map(f => (f.error ?? '').split(':')[0])),
    lookupErrors: tally(result.fetches.filter(f => f.lookupError != null).map(f => f.lookupError ?? '')),
    bars: []
  }
  summary.bars = bars(result, summary)
  return summary
}

function bars (result: BrowserBenchResult, s: Summary): Bar[] {
  const out: Bar[] = []

  // B1 at 50 ms: p50 ≤ 1.0×, p95 ≤ 1.5× the origin's; at 0 ms: p95 ≤ origin p95 + 300 ms
  const at50 = s.cells.filter(c => c.delayMs === 50)
  const at0 = s.cells.filter(c => c.delayMs === 0)
  const b1: string[] = []
  let b1pass: boolean | null = null
  const and = (ok: boolean): void => { b1pass = (b1pass ?? true) && ok }
  for (const c of at50) {
    const r50 = c.cdn.p50 / c.origin.p50
    const r95 = c.cdn.p95 / c.origin.p95
    and(r50 <= 1 && r95 <= 1.5)
    b1.push(`50 ms ${kb(c.size)}: p50 ${r50.toFixed(2)}× p95 ${r95.toFixed(2)}×`)
  }
  for (const c of at0) {
    const extra = c.cdn.p95 - c.origin.p95
    and(extra <= 300)
    b1.push(`0 ms ${kb(c.size)}: p95 +${Math.round(extra)} ms`)
  }
  if (at50.length === 0) {
    b1.push('50 ms not measured')
  }
  if (at0.length === 0) {
    b1.push('0 ms not measured')
  }
  out.push({ name: 'B1 never slower (p50 ≤ 1.0×, p95 ≤ 1.5× origin at 50 ms; p95 ≤ origin + 300 ms at 0 ms)', pass: b1pass, measured: b1.join('; ') })

  out.push({
    name: 'B2 offload ≥ 80 % of network bytes from peers under churn',
    pass: s.churn == null ? null : s.churn.offloadBytes >= 0.8,
    measured: s.churn == null
      ? 'churn not run'
      : `${pct(s.churn.offloadBytes)} of bytes (${(s.churn.peerBytes / 1e6).toFixed(1)} MB peers, ${(s.churn.originBytes / 1e6).toFixed(1)} MB origin); ${pct(s.churn.offloadRequests)} of requests (${s.churn.peerFetches} peer, ${s.churn.originRequests} origin)`
  })

  const bound = result.options.pages <= 24 ? 5_000 : 10_000
  const { initial, churn } = s.joins
  const allJoined = initial.joined === initial.pages && churn.joined + churn.leftBeforeJoining === churn.pages
  const ringOk = s.ringTrueAfterJoinSec != null && s.ringTrueAfterJoinSec <= 30
  out.push({
    name: `B3 joins p95 ≤ ${bound / 1000} s at ${result.options.pages} pages, every page joins, ring true ≤ 30 s after the last join`,
    pass: initial.p95Ms <= bound && allJoined && ringOk,
    measured: `p95 ${ms(initial.p95Ms)} ms (p50 ${ms(initial.p50Ms)}, max ${ms(initial.maxMs)}); joined ${initial.joined}/${initial.pages} initial, ` +
      `${churn.joined}/${churn.pages} churn arrivals (${churn.leftBeforeJoining} left first; their p95 ${ms(churn.p95Ms)} ms); ` +
      `ring true ${s.ringTrueAfterJoinSec == null ? `not within ${result.options.ringWaitMs / 1000} s` : `${s.ringTrueAfterJoinSec} s`} after the last join` +
      (s.churn == null ? '' : `, ${s.ringTrueAfterChurnSec == null ? `not within ${result.options.ringWaitMs / 1000} s` : `${s.ringTrueAfterChurnSec} s`} after churn's last join`)
  })

  out.push({
    name: 'B4 no fetch longer than its origin fetch + 1 s',
    pass: s.b4.over === 0 && s.b4.failed === 0,
    measured: `${s.b4.over} of ${s.b4.fetches} over, ${s.b4.failed} failed where the origin answered; worst +${ms(s.b4.worstExcessMs)} ms`
  })
  return out
}

/** The printed report */
export function formatTable (result: BrowserBenchResult, s: Summary): string {
  const lines: string[] = []
  const o = result.options
  lines.push(`ringcdn browser benchmark: ${o.pages} pages in ${o.processes} Chromium processes, origin cap ${o.kbps > 0 ? `${o.kbps} kbit/s` : 'none'}, ${result.durationSec} s`)
  lines.push(`load before: ${result.load.before}`)
  lines.push(`load after:  ${result.load.after}`)
  lines.push('')
  lines.push('sizes (every fetch of an asset, first included; ms, ringcdn vs a plain origin fetch started with it)')
  lines.push('| delay | size | n | ringcdn p50 / p95 | origin p50 / p95 | p50 × | p95 × | local/peer/origin/failed | hops p50 | lookup p95 |')
  lines.push('|---|---|---|---|---|---|---|---|---|---|')
  for (const c of s.cells) {
    const src = `${c.sources.local ?? 0}/${c.sources.peer ?? 0}/${c.sources.origin ?? 0}/${c.sources.failed ?? 0}`
    lines.push(`| ${c.delayMs} ms | ${kb(c.size)} | ${c.n} | ${ms(c.cdn.p50)} / ${ms(c.cdn.p95)} | ${ms(c.origin.p50)} / ${ms(c.origin.p95)} | ${(c.cdn.p50 / c.origin.p50).toFixed(2)} | ${(c.cdn.p95 / c.origin.p95).toFixed(2)} | ${src} | ${Number.isNaN(c.hopsP50) ? '–' : c.hopsP50} | ${ms(c.lookupP95Ms)} |`)
  }
  if (s.churn != null) {
    const c = s.churn
    lines.push('')
    lines.push(`churn (Zipf α ${o.zipfAlpha} over ${o.zipfAssets} assets, a page out and one in every ${o.churnEverySec} s, ${o.durationSec} s)`)
    lines.push(`  fetches ${c.fetches}: ${Object.entries(c.sources).map(([k, v]) => `${k} ${v}`).join(', ')}; over 5 s: ${c.over5s}; lookups failed: ${c.lookupFailures}`)
    lines.push(`  ringcdn p50 / p95 ${ms(c.cdn.p50)} / ${ms(c.cdn.p95)} ms vs origin ${ms(c.origin.p50)} / ${ms(c.origin.p95)} ms`)
    lines.push(`  offload: ${pct(c.offloadBytes)} of bytes, ${pct(c.offloadRequests)} of requests (origin counters: ${c.originRequests} requests, ${(c.originBytes / 1e6).toFixed(2)} MB)`)
    lines.push(`  fetches by pages not yet joined: ${c.unjoinedFetches} (${c.unjoinedFromPeers} from peers); lowest share of pages with both neighbours right: ${pct(c.minCorrect)}`)
  }
  lines.push('')
  const j = s.joins
  lines.push(`joins: initial ${j.initial.joined}/${j.initial.pages}, p50 / p95 / max ${ms(j.initial.p50Ms)} / ${ms(j.initial.p95Ms)} / ${ms(j.initial.maxMs)} ms; churn arrivals ${j.churn.joined}/${j.churn.pages}, p50 / p95 ${ms(j.churn.p50Ms)} / ${ms(j.churn.p95Ms)} ms`)
  for (const [group, stats] of Object.entries(j)) {
    for (const [name, failed] of Object.entries(stats.gaveUp)) {
      lines.push(`  ${group} pages that never joined: ${failed.pages} gave up with ${name} (median ${ms(failed.p50Ms)} ms after starting)`)
    }
  }
  const members = (sec: number | undefined): string => sec == null ? 'not within the wait' : `${sec} s`
  lines.push(`ring: true ${members(s.ringTrueAfterJoinSec)} after the last join, ${members(s.ringTrueAfterChurnSec)} after churn; the joined pages' own ring: ${members(s.membersRingTrueAfterJoinSec)} after the last join, ${members(s.membersRingTrueAfterChurnSec)} after churn`)
  lines.push(`pages at the end: WebRTC connections p50 ${s.pagesAtEnd.webrtcP50}, max ${s.pagesAtEnd.webrtcMax}; JS heap p50 ${s.pagesAtEnd.heapMiBP50} MiB, max ${s.pagesAtEnd.heapMiBMax} MiB; without a relay reservation (no page can dial them): ${s.pagesAtEnd.unreachable}`)
  lines.push(`failed fetches by error: ${JSON.stringify(s.errors)}; failed lookups by error: ${JSON.stringify(s.lookupErrors)}`)
  if (s.b4Worst.length > 0) {
    lines.push('fetches over their origin fetch + 1 s (worst first): phase/role size page joined? source ringcdn vs origin ms, lookup')
    for (const f of s.b4Worst) {
      lines.push(`  ${f.phase}/${f.role} ${kb(f.size)} p${f.page}${f.joined ? '' : ' (not joined)'} at ${f.at} s: ${f.source ?? f.error} ${ms(f.cdnMs)} vs ${ms(f.originMs)} ms, lookup ${f.lookupError ?? `${f.hops ?? '?'} hops ${ms(f.lookupMs ?? NaN)} ms`}`)
    }
  }
  lines.push('')
  for (const bar of s.bars) {
    lines.push(`${bar.pass === null ? 'N/A ' : bar.pass ? 'PASS' : 'FAIL'} ${bar.name}: ${bar.measured}`)
  }
  return lines.join('\n')
}

function escape (text: string): string {
  return text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;')
}

const COLOURS = ['#c0392b', '#2471a3', '#e67e22', '#5dade2', '#7d3c98', '#48c9b0']

/** A CDF of latencies per series, log-scaled x axis */
function cdfSvg (series: Array<{ label: string, values: number[], dashed?: boolean }>): string {
  const width = 860
  const height = 320
  // the legend sits in the right margin, clear of the curves
  const pad = { l: 50, r: 230, t: 10, b: 40 }
  const all = series.flatMap(s => s.values).filter(v => v > 0)
  if (all.length === 0) {
    return '<p>no fetches</p>'
  }
  const lo = Math.max(1, Math.min(...all))
  const hi = Math.max(...all)
  const x = (v: number): number => pad.l + (Math.log10(Math.max(v, lo)) - Math.log10(lo)) / Math.max(1e-9, Math.log10(hi) - Math.log10(lo)) * (width - pad.l - pad.r)
  const y = (p: number): number => height - pad.b - p * (height - pad.t - pad.b)
  const parts: string[] = []
  for (let decade = Math.pow(10, Math.floor(Math.log10(lo))); decade <= hi * 10; decade *= 10) {
    for (const tick of [decade, 2 * decade, 5 * decade]) {
      if (tick >= lo && tick <= hi) {
        parts.push(`<line x1="${x(tick)}" x2="${x(tick)}" y1="${y(0)}" y2="${y(1)}" stroke="${tick === decade ? '#ccc' : '#eee'}"/><text x="${x(tick)}" y="${height - pad.b + 15}" font-size="11" text-anchor="middle">${tick.toLocaleString('en-US')}</text>`)
      }
    }
  }
  for (const p of [0, 0.5, 0.95, 1]) {
    parts.push(`<line x1="${pad.l}" x2="${width - pad.r}" y1="${y(p)}" y2="${y(p)}" stroke="#eee"/><text x="${pad.l - 5}" y="${y(p) + 4}" font-size="11" text-anchor="end">${p}</text>`)
  }
  series.forEach((s, i) => {
    const sorted = [...s.values].sort((a, b) => a - b)
    const points = sorted.map((v, k) => `${x(v).toFixed(1)},${y((k + 1) / sorted.length).toFixed(1)}`)
    const colour = COLOURS[Math.floor(i / 2) % COLOURS.length]
    parts.push(`<polyline fill="none" stroke="${colour}" stroke-width="1.5" ${s.dashed === true ? 'stroke-dasharray="5,3"' : ''} points="${points.join(' ')}"/>`)
    parts.push(`<text x="${width - pad.r + 15}" y="${pad.t + 12 + i * 14}" font-size="11" fill="${colour}">${s.dashed === true ? '- - ' : '—— '}${escape(s.label)} (n=${s.values.length})</text>`)
  })
  parts.push(`<text x="${(width - pad.r + pad.l) / 2}" y="${height - 5}" font-size="11" text-anchor="middle">ms to the last byte (log scale)</text>`)
  return `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}">${parts.join('')}</svg>`
}

/** Ring correctness over time: share of pages with both neighbours right, share joined; churn events ticked */
function ringSvg (result: BrowserBenchResult): string {
  const width = 860
  const height = 240
  const pad = { l: 50, r: 230, t: 10, b: 40 }
  const samples = result.ring.filter(s => s.pages > 0)
  if (samples.length === 0) {
    return '<p>no ring samples</p>'
  }
  const end = Math.max(result.durationSec, ...samples.map(s => s.at))
  const x = (t: number): number => pad.l + t / end * (width - pad.l - pad.r)
  const y = (p: number): number => height - pad.b - p * (height - pad.t - pad.b)
  const parts: string[] = []
  for (const p of [0, 0.5, 1]) {
    parts.push(`<line x1="${pad.l}" x2="${width - pad.r}" y1="${y(p)}" y2="${y(p)}" stroke="#eee"/><text x="${pad.l - 5}" y="${y(p) + 4}" font-size="11" text-anchor="end">${p * 100} %</text>`)
  }
  for (let t = 0; t <= end; t += 60) {
    parts.push(`<text x="${x(t)}" y="${height - pad.b + 15}" font-size="11" text-anchor="middle">${t} s</text>`)
  }
  for (const e of result.churnEvents) {
    parts.push(`<line x1="${x(e.at)}" x2="${x(e.at)}" y1="${y(0)}" y2="${y(1)}" stroke="#f5cba7"/>`)
  }
  const line = (values: Array<[number, number]>, colour: string): string =>
    `<polyline fill="none" stroke="${colour}" stroke-width="1.5" points="${values.map(([t, p]) => `${x(t).toFixed(1)},${y(p).toFixed(1)}`).join(' ')}"/>`
  parts.push(line(samples.map(s => [s.at, s.correct / s.pages]), '#2471a3'))
  parts.push(line(samples.map(s => [s.at, s.joined / s.pages]), '#27ae60'))
  parts.push(line(samples.filter(s => s.joined > 0 && s.membersCorrect != null).map(s => [s.at, s.membersCorrect / s.joined]), '#aab7b8'))
  const legend = (row: number, colour: string, text: string): string => `<text x="${width - pad.r + 15}" y="${pad.t + 12 + row * 14}" font-size="11" fill="${colour}">${text}</text>`
  parts.push(legend(0, '#2471a3', '—— pages with both neighbours right'))
  parts.push(legend(1, '#27ae60', '—— pages joined'))
  parts.push(legend(2, '#aab7b8', '—— right among joined pages'))
  parts.push(legend(3, '#e59866', '| a page left, one arrived'))
  // phase names staggered on the floor of the plot, so neighbouring phases do not overwrite each other
  ;[...new Set(samples.map(s => s.phase))].forEach((phase, k) => {
    const first = samples.find(s => s.phase === phase) as RingSample
    parts.push(`<text x="${x(first.at)}" y="${y(0) - 4 - (k % 3) * 12}" font-size="10" fill="#888">▸${escape(phase)}</text>`)
  })
  parts.push(`<text x="${(width - pad.r + pad.l) / 2}" y="${height - 5}" font-size="11" text-anchor="middle">seconds since the run began</text>`)
  return `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}">${parts.join('')}</svg>`
}

/** The report page: the table, the bars, CDFs per origin delay and for churn, ring correctness over time */
export function renderHtml (result: BrowserBenchResult, s: Summary, command: string): string {
  const sections: string[] = []
  const sized = result.fetches.filter(f => f.phase === 'sizes')
  for (const delayMs of [...new Set(sized.map(f => f.delayMs))]) {
    const series = [...new Set(sized.map(f => f.size))].flatMap(size => {
      const fs = sized.filter(f => f.delayMs === delayMs && f.size === size)
      return [
        { label: `ringcdn ${kb(size)}`, values: fs.map(f => f.cdnMs) },
        { label: `origin ${kb(size)}`, values: fs.map(f => f.originMs), dashed: true }
      ]
    })
    sections.push(`<h2>Latency CDF, origin delay ${delayMs} ms</h2>${cdfSvg(series)}`)
  }
  const churn = result.fetches.filter(f => f.phase === 'churn')
  if (churn.length > 0) {
    sections.push(`<h2>Latency CDF under churn (Zipf mix)</h2>${cdfSvg([
      { label: 'ringcdn', values: churn.map(f => f.cdnMs) },
      { label: 'origin', values: churn.map(f => f.originMs), dashed: true }
    ])}`)
  }
  sections.push(`<h2>Ring correctness over time</h2>${ringSvg(result)}`)
  return `<!doctype html>
<html><head><meta charset="utf-8"><title>ringcdn browser benchmark</title>
<style>body{font-family:system-ui,sans-serif;max-width:60rem;margin:1rem auto;padding:0 1rem}pre{background:#f6f6f6;padding:.5rem;overflow-x:auto;font-size:12px}.pass{color:#1e8449}.fail{color:#c0392b}</style>
</head><body>
<h1>ringcdn browser benchmark</h1>
<p>${escape(result.startedAt)} · <code>${escape(command)}</code></p>
<ul>${s.bars.map(b => `<li class="${b.pass === true ? 'pass' : b.pass === false ? 'fail' : ''}"><b>${b.pass === null ? 'N/A' : b.pass ? 'PASS' : 'FAIL'}</b> ${escape(b.name)}: ${escape(b.measured)}</li>`).join('')}</ul>
${sections.join('\n')}
<h2>Table</h2>
<pre>${escape(formatTable(result, s))}</pre>
</body></html>
`
}
