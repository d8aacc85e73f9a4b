/**
 * Renders a `SimResult` as one self-contained HTML page: inline CSS and inline SVG, no scripts, no
 * external assets, so the file can be attached to an issue or opened from CI artifacts as is.
 *
 * The page is a pure function of the result (no timestamps), so the same run gives the same bytes.
 * Every number that reaches the SVG goes through `coord()`, which turns anything non-finite into 0:
 * a NaN in the data must not make the browser drop a whole path.
 *
 * `headlineRows` is shared with the CLI's stdout summary so the two never disagree.
 */
import { formatDuration } from './duration.ts'
import type { SimResult } from './result.ts'

/** DESIGN §7's bar for churn at scale: at least 99.9 % of lookups correct */
export const CORRECT_RATIO_TARGET = 0.999
/** The correct-ratio plot shows at least [0.99, 1]; it zooms out only when the data goes lower */
const CORRECT_RATIO_PLOT_FLOOR = 0.99

const PLOT_WIDTH_PX = 960
const PLOT_HEIGHT_PX = 280
const MARGIN = { top: 20, right: 20, bottom: 46, left: 68 }
const TARGET_TICKS = 6
/** Draw a dot on every sample when there are few enough of them to tell apart */
const MAX_POINTS_WITH_MARKERS = 40
/** Above this many bars, label only every n-th one on the x axis */
const MAX_LABELLED_BARS = 30

const COLOR = {
  line: '#2563eb',
  bar: '#3b82f6',
  ideal: '#6b7280',
  target: '#16a34a',
  failure: '#dc2626',
  warmup: '#f3f4f6',
  grid: '#e5e7eb',
  axis: '#9ca3af'
}

export interface HeadlineRow {
  label: string
  value: string
  detail?: string
  /** true = meets its target, false = misses it, undefined = no target */
  ok?: boolean
}

/** Pure lookups judged when the owner answered rather than on arrival (absent without pure lookups) */
function atOwnerRows (lookups: SimResult['lookups']): HeadlineRow[] {
  const pure = lookups.pure ?? 0
  if (pure === 0 || lookups.correctAtOwner == null) {
    return []
  }
  return [{
    label: 'Correct at the owner',
    value: formatPercent(lookups.correctAtOwner / pure, 3),
    detail: `${formatInt(lookups.correctAtOwner)} of ${formatInt(pure)} pure lookups right when the owner answered (failed ones count as not)`
  }]
}

/** The headline metrics, formatted for people: the report's table and the CLI's summary lines */
export function headlineRows (r: SimResult): HeadlineRow[] {
  const { lookups, fetches } = r
  return [
    {
      label: 'Correct lookups',
      value: lookups.total > 0 ? formatPercent(lookups.correct / lookups.total, 3) : 'no lookups',
      detail: `${formatInt(lookups.correct)} of ${formatInt(lookups.total)} · ${formatInt(lookups.wrong)} wrong · ${formatInt(lookups.failed)} failed`,
      ok: lookups.total > 0 ? lookups.correct / lookups.total >= CORRECT_RATIO_TARGET : undefined
    },
    ...atOwnerRows(lookups),
    { label: 'Hops', value: `mean ${formatNumber(r.hops.mean, 2)} · p50 ${formatNumber(r.hops.p50, 0)} · p99 ${formatNumber(r.hops.p99, 0)}` },
    { label: 'Lookup latency', value: `p50 ${formatInt(r.latencyMs.p50)} ms · p99 ${formatInt(r.latencyMs.p99)} ms` },
    { label: 'Offload', value: formatPercent(r.offload, 1), detail: `ideal ${formatPercent(r.idealOffload, 1)}${originReasonsText(fetches.originReasons)}` },
    {
      label: 'Fetches',
      value: formatInt(fetches.total),
      detail: `${share(fetches.fromPeers, fetches.total)} from peers · ${share(fetches.fromOrigin, fetches.total)} from origin · ${share(fetches.fromLocal, fetches.total)} local`
    },
    { label: 'Maintenance traffic', value: `${formatBytes(r.maintenanceBytesPerNodePerSec)}/node/s`, detail: cdnTrafficText(r) },
    { label: 'Upload max/mean', value: `${formatNumber(r.upload.maxOverMean, 2)}×` },
    { label: 'Ring violations', value: formatInt(r.ring.violations), ok: r.ring.violations === 0 },
    {
      label: 'Run',
      value: `${formatInt(r.nodes)} nodes · ${formatDuration(Math.round(r.virtualSeconds) * 1000)} simulated in ${formatNumber(r.wallSeconds, 1)} s`,
      detail: `${formatInt(r.events)} events · peak RSS ${formatInt(r.peakRssMB)} MB`
    }
  ]
}

/** Why repeated requests went to the origin, largest cause first; empty when the run did not classify them */
function originReasonsText (reasons: Record<string, number> | undefined): string {
  const rows = Object.entries(reasons ?? {}).filter(([, n]) => n > 0).sort((a, b) => b[1] - a[1])
  return rows.length === 0 ? '' : ` · repeat requests from origin: ${rows.map(([k, n]) => `${k} ${formatInt(n)}`).join(', ')}`
}

/** The CDN's own traffic beside the ring's: directory messages and home-node copies */
function cdnTrafficText (r: SimResult): string | undefined {
  const parts: string[] = []
  if (r.directoryBytesPerNodePerSec != null) {
    parts.push(`directory ${formatBytes(r.directoryBytesPerNodePerSec)}/node/s`)
  }
  if (r.homeCopies != null && r.homeCopies.copies > 0) {
    parts.push(`home copies ${formatBytes(r.homeCopies.bytesPerNodePerSec)}/node/s (${formatInt(r.homeCopies.copies)}, ${formatPercent(r.homeCopies.overDelivered, 1)} of delivered bytes)`)
  }
  return parts.length > 0 ? parts.join(' · ') : undefined
}

/** The six numbers at the top of the page: short values that fit a card, details underneath */
function headlineCards (r: SimResult): HeadlineRow[] {
  const [correct, , , offload, , , , violations] = headlineRows(r)
  return [
    { ...correct, detail: `${formatInt(r.lookups.wrong)} wrong · ${formatInt(r.lookups.failed)} failed of ${formatInt(r.lookups.total)}` },
    { ...offload, detail: `ideal ${formatPercent(r.idealOffload, 1)}` },
    { label: 'Hops p50 / p99', value: `${formatNumber(r.hops.p50, 0)} / ${formatNumber(r.hops.p99, 0)}`, detail: `mean ${formatNumber(r.hops.mean, 2)}` },
    { label: 'Latency p50 / p99', value: `${formatInt(r.latencyMs.p50)} / ${formatInt(r.latencyMs.p99)} ms` },
    { label: 'Maintenance', value: `${formatBytes(r.maintenanceBytesPerNodePerSec)}/node/s`, detail: `upload max/mean ${formatNumber(r.upload.maxOverMean, 2)}×` },
    violations
  ]
}

/** The whole report page */
export function renderReport (result: SimResult): string {
  const r = result
  const warmupSeconds = optionSeconds(r.options, 'warmupMs')
  const failureSeconds = optionSeconds(r.options, 'massFailureAtMs')
  const timeDomain: [number, number] = [0, maxFinite(r.series.tSeconds, Math.max(1, finiteOr(r.virtualSeconds, 0)))]
  const events = { warmupSeconds, failureSeconds }

  // zoom on the measured part: the warm-up's ring-building dip would otherwise flatten everything after it
  const measured = r.series.correctRatio.filter((_, i) => warmupSeconds === undefined || r.series.tSeconds[i] >= warmupSeconds)
  const correctMin = Math.max(0, minFinite(measured, CORRECT_RATIO_PLOT_FLOOR))
  const correctFloor = Math.max(0, niceFloor(correctMin, 1 - correctMin))

  const hops = hopHistogramPlot(r)
  const correct = linePlot({
    id: 'correct-ratio',
    title: 'Correct lookups over time',
    xs: r.series.tSeconds,
    ys: r.series.correctRatio,
    xDomain: timeDomain,
    yDomain: [correctFloor, 1],
    yLabel: 'correct / judged lookups',
    yFormat: percentTickFormat,
    references: [{ y: CORRECT_RATIO_TARGET, color: COLOR.target, label: `target ${formatPercent(CORRECT_RATIO_TARGET, 1)}` }],
    ...events
  })
  const offload = linePlot({
    id: 'offload',
    title: 'Offload over time',
    xs: r.series.tSeconds,
    ys: r.series.offload,
    xDomain: timeDomain,
    yDomain: [0, 1],
    yLabel: 'bytes not from origin',
    yFormat: percentTickFormat,
    references: [{ y: r.idealOffload, color: COLOR.ideal, label: `ideal ${formatPercent(r.idealOffload, 1)}` }],
    ...events
  })
  const liveMax = maxFinite(r.series.liveNodes, Math.max(1, finiteOr(r.nodes, 1)))
  const live = linePlot({
    id: 'live-nodes',
    title: 'Live nodes over time',
    xs: r.series.tSeconds,
    ys: r.series.liveNodes,
    xDomain: timeDomain,
    yDomain: [0, niceCeil(liveMax * 1.05, liveMax)],
    yLabel: 'nodes',
    yFormat: v => formatInt(v),
    references: [],
    ...events
  })

  const rows = headlineRows(r)
  const cards = headlineCards(r).map(card => `
      <div class="card${okClass(card.ok)}"><div class="k">${escapeHtml(card.label)}</div><div class="v">${escapeHtml(card.value)}</div>${card.detail === undefined ? '' : `<div class="d">${escapeHtml(card.detail)}</div>`}</div>`).join('')
  const table = rows.map(row => `
        <tr><th scope="row">${escapeHtml(row.label)}</th><td class="${okClass(row.ok).trim()}">${escapeHtml(row.value)}</td><td class="d">${escapeHtml(row.detail ?? '')}</td></tr>`).join('')

  const title = `ringcdn simulation: ${formatInt(r.nodes)} nodes, ${formatDuration(Math.round(finiteOr(r.virtualSeconds, 0)) * 1000)}`
  return `<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>${escapeHtml(title)}</title>
<style>${STYLE}</style>
</head>
<body>
<main>
  <header>
    <h1>${escapeHtml(title)}</h1>
    <p class="sub">${escapeHtml(subtitle(r))}</p>
    <div class="cards">${cards}
    </div>
  </header>
  <section>
    <h2>Headline numbers</h2>
    <table class="headline">
      <tbody>${table}
      </tbody>
    </table>
  </section>
  <section>
    <h2>Hops per lookup</h2>
    ${hops}
  </section>
  <section>
    <h2>Correct lookups over time</h2>
    ${correct}
    <p class="note">Share of lookups in each sample interval whose answer was the true successor at answer time; failed lookups count as not correct.${legendNote(events)}</p>
  </section>
  <section>
    <h2>Offload over time</h2>
    ${offload}
    <p class="note">Share of the bytes fetched over the network that peers served rather than the origin, per sampling window (fetches answered from a page's own store count on neither side); the dashed line is the ideal offload for this workload.${legendNote(events)}</p>
  </section>
  <section>
    <h2>Live nodes over time</h2>
    ${live}
  </section>
  <section>
    <h2>Options</h2>
    <table class="options">
      <tbody>${optionRows(r.options)}
      </tbody>
    </table>
  </section>
</main>
</body>
</html>
`
}

/** Escapes text for HTML content and attribute values (single or double quoted) */
export function escapeHtml (text: string): string {
  return text.replace(/[&<>"']/g, c => HTML_ESCAPES[c])
}

const HTML_ESCAPES: Record<string, string> = { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' }

const STYLE = `
:root { color-scheme: light; --fg: #111827; --muted: #6b7280; --line: #e5e7eb; --ok: #15803d; --bad: #b91c1c; }
* { box-sizing: border-box; }
body { margin: 0; background: #f9fafb; color: var(--fg); font: 14px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, "Helvetica Neue", sans-serif; }
main { max-width: 1040px; margin: 0 auto; padding: 24px 20px 48px; }
h1 { font-size: 22px; margin: 0 0 4px; }
h2 { font-size: 15px; margin: 0 0 10px; }
.sub { color: var(--muted); margin: 0 0 16px; }
.cards { display: grid; grid-template-columns: repeat(3, 1fr); gap: 12px; }
@media (max-width: 720px) { .cards { grid-template-columns: 1fr; } }
.card { background: #fff; border: 1px solid var(--line); border-left: 4px solid #93c5fd; border-radius: 6px; padding: 10px 14px; }
.card.ok { border-left-color: var(--ok); }
.card.bad { border-left-color: var(--bad); }
.card .k { color: var(--muted); font-size: 11px; text-transform: uppercase; letter-spacing: .05em; }
.card .v { font-size: 20px; font-weight: 600; font-variant-numeric: tabular-nums; }
.card .d { color: var(--muted); font-size: 12px; }
section { background: #fff; border: 1px solid var(--line); border-radius: 6px; padding: 16px 18px; margin-top: 16px; }
table { border-collapse: collapse; width: 100%; }
th, td { text-align: left; padding: 5px 10px 5px 0; border-bottom: 1px solid var(--line); vertical-align: top; }
tr:last-child th, tr:last-child td { border-bottom: none; }
th { font-weight: 500; white-space: nowrap; width: 1%; padding-right: 24px; }
td { font-variant-numeric: tabular-nums; }
td.ok { color: var(--ok); font-weight: 600; }
td.bad { color: var(--bad); font-weight: 600; }
td.d { color: var(--muted); }
table.options td { font-family: ui-monospace, SFMono-Regular, Menlo, Consolas, monospace; font-size: 13px; }
table.options th { font-family: ui-monospace, SFMono-Regular, Menlo, Consolas, monospace; font-size: 13px; font-weight: 400; }
svg.plot { display: block; width: 100%; height: auto; }
svg.plot text { font-family: system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; font-size: 12px; fill: #4b5563; }
svg.plot text.axis-label { fill: #374151; font-size: 12px; }
svg.plot text.halo { paint-order: stroke; stroke: #fff; stroke-width: 4px; stroke-linejoin: round; }
svg.plot text.empty { font-size: 14px; fill: #9ca3af; }
.note { color: var(--muted); font-size: 12px; margin: 6px 0 0; }
`

function subtitle (r: SimResult): string {
  const parts = [`${formatInt(r.lookups.total)} judged lookups`, `${formatInt(r.fetches.total)} fetches`]
  if (r.options.seed !== undefined) {
    parts.unshift(`seed ${formatOption('seed', r.options.seed)}`)
  }
  const warmup = optionSeconds(r.options, 'warmupMs')
  if (warmup !== undefined) {
    parts.push(`metrics after a ${formatDuration(warmup * 1000)} warm-up`)
  }
  return parts.join(' · ')
}

function okClass (ok: boolean | undefined): string {
  if (ok === undefined) {
    return ''
  }
  return ok ? ' ok' : ' bad'
}

function legendNote (events: { warmupSeconds?: number, failureSeconds?: number }): string {
  const notes: string[] = []
  if (events.warmupSeconds !== undefined && events.warmupSeconds > 0) {
    notes.push(' The grey band is the warm-up, excluded from the headline numbers.')
  }
  if (events.failureSeconds !== undefined) {
    notes.push(' The red line marks the mass failure.')
  }
  return escapeHtml(notes.join(''))
}

function optionRows (options: Record<string, unknown>): string {
  const keys = Object.keys(options)
  if (keys.length === 0) {
    return '\n        <tr><td>(not recorded)</td></tr>'
  }
  return keys.map(key => `
        <tr><th scope="row">${escapeHtml(key)}</th><td>${escapeHtml(formatOption(key, options[key]))}</td></tr>`).join('')
}

function formatOption (key: string, value: unknown): string {
  if (typeof value === 'number' && key.endsWith('Ms') && Number.isFinite(value) && value >= 0) {
    return `${value} (${formatDuration(value)})`
  }
  if (typeof value === 'string') {
    return value
  }
  if (value === undefined) {
    return 'undefined'
  }
  return JSON.stringify(value) ?? String(value)
}

/** An option recorded in milliseconds, as seconds; undefined when absent or not a usable number */
function optionSeconds (options: Record<string, unknown>, key: string): number | undefined {
  const value = options[key]
  return typeof value === 'number' && Number.isFinite(value) && value >= 0 ? value / 1000 : undefined
}

// ---------------------------------------------------------------------------------------------------
// plots

interface Scale {
  (v: number): number
}

function linearScale (domain: [number, number], range: [number, number]): Scale {
  const [d0, d1] = domain
  const [r0, r1] = range
  const span = d1 - d0 === 0 ? 1 : d1 - d0
  return v => r0 + (v - d0) / span * (r1 - r0)
}

/** SVG coordinates with two decimals; never NaN or Infinity in the markup */
function coord (v: number): string {
  return Number.isFinite(v) ? String(Math.round(v * 100) / 100) : '0'
}

interface LinePlotSpec {
  id: string
  title: string
  xs: readonly number[]
  ys: readonly number[]
  xDomain: [number, number]
  yDomain: [number, number]
  yLabel: string
  yFormat(v: number, step: number): string
  references: Array<{ y: number, color: string, label: string }>
  warmupSeconds?: number
  failureSeconds?: number
}

function linePlot (spec: LinePlotSpec): string {
  const plotLeft = MARGIN.left
  const plotRight = PLOT_WIDTH_PX - MARGIN.right
  const plotTop = MARGIN.top
  const plotBottom = PLOT_HEIGHT_PX - MARGIN.bottom
  const time = timeAxis(spec.xDomain[1])
  const x = linearScale(spec.xDomain, [plotLeft, plotRight])
  const y = linearScale(spec.yDomain, [plotBottom, plotTop])
  const parts: string[] = []

  if (spec.warmupSeconds !== undefined && spec.warmupSeconds > 0) {
    const right = x(Math.min(spec.warmupSeconds, spec.xDomain[1]))
    parts.push(`<rect class="warmup" x="${coord(plotLeft)}" y="${coord(plotTop)}" width="${coord(right - plotLeft)}" height="${coord(plotBottom - plotTop)}" fill="${COLOR.warmup}"/>`)
    // event labels sit in the top margin, where the data cannot cover them
    parts.push(`<text x="${coord(plotLeft + 4)}" y="${coord(plotTop - 6)}">warm-up</text>`)
  }

  parts.push(yAxis(spec.yDomain, y, plotLeft, plotRight, spec.yFormat))
  parts.push(xTicks(time.ticks, v => x(v * time.unitSeconds), plotBottom, v => formatTick(v, time.step)))
  parts.push(axisLabels(`time (${time.unitName})`, spec.yLabel))

  // reference labels go on top of the series (see below), with a white halo to stay readable
  const references: string[] = []
  for (const ref of spec.references) {
    if (Number.isFinite(ref.y) && ref.y >= spec.yDomain[0] && ref.y <= spec.yDomain[1]) {
      const ry = y(ref.y)
      // label under the line when the line hugs the top, where the data usually is too
      const labelY = ry - plotTop < 24 ? ry + 15 : ry - 5
      parts.push(`<line class="reference" x1="${coord(plotLeft)}" x2="${coord(plotRight)}" y1="${coord(ry)}" y2="${coord(ry)}" stroke="${ref.color}" stroke-width="1.5" stroke-dasharray="6 4"/>`)
      references.push(`<text class="halo" x="${coord(plotLeft + 6)}" y="${coord(labelY)}" style="fill:${ref.color}">${escapeHtml(ref.label)}</text>`)
    }
  }

  if (spec.failureSeconds !== undefined && spec.failureSeconds <= spec.xDomain[1]) {
    const fx = x(spec.failureSeconds)
    parts.push(`<line class="failure" x1="${coord(fx)}" x2="${coord(fx)}" y1="${coord(plotTop)}" y2="${coord(plotBottom)}" stroke="${COLOR.failure}" stroke-width="1.5" stroke-dasharray="3 3"/>`)
    parts.push(`<text x="${coord(fx + 4)}" y="${coord(plotTop - 6)}" style="fill:${COLOR.failure}">mass failure</text>`)
  }

  // a non-finite sample (an interval with nothing to measure) breaks the line instead of faking a value
  const segments: Array<Array<[number, number]>> = [[]]
  const n = Math.min(spec.xs.length, spec.ys.length)
  let points = 0
  for (let i = 0; i < n; i++) {
    const xv = spec.xs[i]
    const yv = spec.ys[i]
    if (Number.isFinite(xv) && Number.isFinite(yv)) {
      segments[segments.length - 1].push([x(xv), y(yv)])
      points++
    } else if (segments[segments.length - 1].length > 0) {
      segments.push([])
    }
  }
  // the series is clipped to the plot area: values outside the zoomed y domain run off the edge
  const clipId = `clip-${spec.id}`
  parts.push(`<clipPath id="${escapeHtml(clipId)}"><rect x="${coord(plotLeft)}" y="${coord(plotTop - 3)}" width="${coord(plotRight - plotLeft)}" height="${coord(plotBottom - plotTop + 6)}"/></clipPath>`)
  const series: string[] = []
  for (const segment of segments) {
    if (segment.length > 1) {
      series.push(`<polyline class="series" fill="none" stroke="${COLOR.line}" stroke-width="2" stroke-linejoin="round" points="${segment.map(([px, py]) => `${coord(px)},${coord(py)}`).join(' ')}"/>`)
    }
    if (segment.length === 1 || points <= MAX_POINTS_WITH_MARKERS) {
      for (const [px, py] of segment) {
        series.push(`<circle cx="${coord(px)}" cy="${coord(py)}" r="2.5" fill="${COLOR.line}"/>`)
      }
    }
  }
  parts.push(`<g clip-path="url(#${escapeHtml(clipId)})">${series.join('')}</g>`, ...references)
  if (points === 0) {
    parts.push(emptyNote())
  }

  return svg(spec.id, spec.title, parts)
}

function hopHistogramPlot (r: SimResult): string {
  const plotLeft = MARGIN.left
  const plotRight = PLOT_WIDTH_PX - MARGIN.right
  const plotTop = MARGIN.top
  const plotBottom = PLOT_HEIGHT_PX - MARGIN.bottom
  const counts = r.hopHistogram.map(c => Number.isFinite(c) && c > 0 ? c : 0)
  // trailing empty buckets only squeeze the bars
  let bars = counts.length
  while (bars > 0 && counts[bars - 1] === 0) {
    bars--
  }
  const total = counts.reduce((a, b) => a + b, 0)
  const shares = counts.slice(0, bars).map(c => total > 0 ? c / total : 0)
  const maxShare = maxFinite(shares, 0)
  const yDomain: [number, number] = [0, maxShare > 0 ? niceCeil(maxShare, maxShare) : 1]
  const y = linearScale(yDomain, [plotBottom, plotTop])
  const slots = Math.max(bars, 1)
  const slot = (plotRight - plotLeft) / slots
  const barWidth = Math.max(1, slot * 0.72)
  const parts: string[] = []

  parts.push(yAxis(yDomain, y, plotLeft, plotRight, percentTickFormat))
  const labelEvery = Math.ceil(bars / MAX_LABELLED_BARS)
  const tickValues = Array.from({ length: bars }, (_, h) => h).filter(h => h % labelEvery === 0)
  parts.push(xTicks(tickValues, h => plotLeft + slot * (h + 0.5), plotBottom, h => String(h)))
  parts.push(axisLabels('hops', 'share of answered lookups'))

  for (let h = 0; h < bars; h++) {
    if (counts[h] === 0) {
      continue
    }
    const top = y(shares[h])
    const left = plotLeft + slot * h + (slot - barWidth) / 2
    parts.push(`<rect class="bar" x="${coord(left)}" y="${coord(top)}" width="${coord(barWidth)}" height="${coord(plotBottom - top)}" fill="${COLOR.bar}"><title>${h} hops: ${escapeHtml(formatInt(counts[h]))} lookups (${escapeHtml(formatPercent(shares[h], 2))})</title></rect>`)
    if (bars <= MAX_LABELLED_BARS / 2) {
      parts.push(`<text x="${coord(left + barWidth / 2)}" y="${coord(top - 4)}" text-anchor="middle">${escapeHtml(formatPercent(shares[h], 1))}</text>`)
    }
  }
  if (total === 0) {
    parts.push(emptyNote())
  } else {
    parts.push(`<text x="${coord(plotRight)}" y="${coord(plotTop - 6)}" text-anchor="end">${escapeHtml(`mean ${formatNumber(r.hops.mean, 2)} · p50 ${formatNumber(r.hops.p50, 0)} · p99 ${formatNumber(r.hops.p99, 0)}`)}</text>`)
  }
  return svg('hops', 'Hops per lookup', parts)
}

function svg (id: string, title: string, parts: string[]): string {
  return `<svg class="plot" data-plot="${escapeHtml(id)}" xmlns="http://www.w3.org/2000/svg" viewBox="0 0 ${PLOT_WIDTH_PX} ${PLOT_HEIGHT_PX}" role="img" aria-label="${escapeHtml(title)}">
      <title>${escapeHtml(title)}</title>
      ${parts.join('\n      ')}
    </svg>`
}

function emptyNote (): string {
  const cx = (MARGIN.left + PLOT_WIDTH_PX - MARGIN.right) / 2
  const cy = (MARGIN.top + PLOT_HEIGHT_PX - MARGIN.bottom) / 2
  return `<text class="empty" x="${coord(cx)}" y="${coord(cy)}" text-anchor="middle">no samples</text>`
}

/** Horizontal grid lines with labels on the left, plus the axis line itself */
function yAxis (domain: [number, number], y: Scale, left: number, right: number, format: (v: number, step: number) => string): string {
  const { ticks, step } = niceTicks(domain[0], domain[1], TARGET_TICKS)
  const lines = ticks.map(v => {
    const py = coord(y(v))
    return `<line x1="${coord(left)}" x2="${coord(right)}" y1="${py}" y2="${py}" stroke="${COLOR.grid}"/><text x="${coord(left - 8)}" y="${py}" dy="0.32em" text-anchor="end">${escapeHtml(format(v, step))}</text>`
  })
  lines.push(`<line x1="${coord(left)}" x2="${coord(left)}" y1="${coord(MARGIN.top)}" y2="${coord(PLOT_HEIGHT_PX - MARGIN.bottom)}" stroke="${COLOR.axis}"/>`)
  return lines.join('\n      ')
}

/** The x axis line with tick marks and labels under it */
function xTicks (values: readonly number[], x: (v: number) => number, bottom: number, format: (v: number) => string): string {
  const lines = [`<line x1="${coord(MARGIN.left)}" x2="${coord(PLOT_WIDTH_PX - MARGIN.right)}" y1="${coord(bottom)}" y2="${coord(bottom)}" stroke="${COLOR.axis}"/>`]
  for (const v of values) {
    const px = coord(x(v))
    lines.push(`<line x1="${px}" x2="${px}" y1="${coord(bottom)}" y2="${coord(bottom + 5)}" stroke="${COLOR.axis}"/><text x="${px}" y="${coord(bottom + 18)}" text-anchor="middle">${escapeHtml(format(v))}</text>`)
  }
  return lines.join('\n      ')
}

function axisLabels (xLabel: string, yLabel: string): string {
  const plotMidX = (MARGIN.left + PLOT_WIDTH_PX - MARGIN.right) / 2
  const plotMidY = (MARGIN.top + PLOT_HEIGHT_PX - MARGIN.bottom) / 2
  return `<text class="axis-label" x="${coord(plotMidX)}" y="${coord(PLOT_HEIGHT_PX - 8)}" text-anchor="middle">${escapeHtml(xLabel)}</text>` +
    `<text class="axis-label" transform="translate(16 ${coord(plotMidY)}) rotate(-90)" text-anchor="middle">${escapeHtml(yLabel)}</text>`
}

/** A time axis reads in the first unit whose range covers the run: 3 minutes in seconds, 3 hours in minutes */
const TIME_UNITS = [
  { unitName: 's', unitSeconds: 1, upToSeconds: 180 },
  { unitName: 'min', unitSeconds: 60, upToSeconds: 3 * 3600 },
  { unitName: 'h', unitSeconds: 3600, upToSeconds: Infinity }
]

/** Picks the unit a time axis reads best in, and nice ticks in that unit */
function timeAxis (maxSeconds: number): { unitName: string, unitSeconds: number, ticks: number[], step: number } {
  const unit = TIME_UNITS.find(u => maxSeconds <= u.upToSeconds) ?? TIME_UNITS[TIME_UNITS.length - 1]
  const { ticks, step } = niceTicks(0, maxSeconds / unit.unitSeconds, TARGET_TICKS)
  return { unitName: unit.unitName, unitSeconds: unit.unitSeconds, ticks, step }
}

/** Ticks at 1, 2 or 5 × 10^k covering [lo, hi], about `target` of them */
function niceTicks (lo: number, hi: number, target: number): { ticks: number[], step: number } {
  if (!Number.isFinite(lo) || !Number.isFinite(hi) || hi <= lo) {
    return { ticks: [finiteOr(lo, 0)], step: 1 }
  }
  const step = niceStep((hi - lo) / target)
  const ticks: number[] = []
  const first = Math.ceil(lo / step - 1e-9)
  for (let i = first; i * step <= hi + step * 1e-9; i++) {
    ticks.push(Number((i * step).toPrecision(12)))
  }
  return { ticks, step }
}

const NICE_STEPS = [1, 2, 5, 10]

function niceStep (raw: number): number {
  const magnitude = Math.pow(10, Math.floor(Math.log10(raw)))
  const normalized = raw / magnitude
  const nice = NICE_STEPS.find(n => normalized <= n) ?? 10
  return nice * magnitude
}

/** `v` rounded down to a nice step for a range of about `span` */
function niceFloor (v: number, span: number): number {
  const step = niceStep(Math.max(span, 1e-9) / TARGET_TICKS)
  return Number((Math.floor(v / step + 1e-9) * step).toPrecision(12))
}

/** `v` rounded up to a nice step for a range of about `span` */
function niceCeil (v: number, span: number): number {
  const step = niceStep(Math.max(span, 1e-9) / TARGET_TICKS)
  return Number((Math.ceil(v / step - 1e-9) * step).toPrecision(12))
}

/** A percent tick with just enough decimals to tell neighbouring ticks apart */
function percentTickFormat (v: number, step: number): string {
  const decimals = Math.max(0, Math.ceil(-Math.log10(step * 100) - 1e-9))
  return `${(v * 100).toFixed(decimals)}%`
}

function formatTick (v: number, step: number): string {
  const decimals = Math.max(0, Math.ceil(-Math.log10(step) - 1e-9))
  return v.toFixed(decimals)
}

// ---------------------------------------------------------------------------------------------------
// number formatting: fixed locale so reports do not depend on the machine

const NOT_A_NUMBER = '–'

/** Smallest finite value of `values` and `start`; a loop, since spreading 10^5 samples into Math.min overflows the stack */
function minFinite (values: readonly number[], start: number): number {
  let min = start
  for (const v of values) {
    if (Number.isFinite(v) && v < min) {
      min = v
    }
  }
  return min
}

/** Largest finite value of `values` and `start` */
function maxFinite (values: readonly number[], start: number): number {
  let max = start
  for (const v of values) {
    if (Number.isFinite(v) && v > max) {
      max = v
    }
  }
  return max
}

function finiteOr (v: number, fallback: number): number {
  return Number.isFinite(v) ? v : fallback
}

function formatInt (v: number): string {
  return Number.isFinite(v) ? Math.round(v).toLocaleString('en-US') : NOT_A_NUMBER
}

function formatNumber (v: number, decimals: number): string {
  return Number.isFinite(v) ? v.toLocaleString('en-US', { minimumFractionDigits: decimals, maximumFractionDigits: decimals }) : NOT_A_NUMBER
}

function formatPercent (fraction: number, decimals: number): string {
  return Number.isFinite(fraction) ? `${(fraction * 100).toFixed(decimals)}%` : NOT_A_NUMBER
}

function share (part: number, total: number): string {
  return total > 0 ? formatPercent(part / total, 1) : NOT_A_NUMBER
}

const KIB = 1024
const MIB = 1024 * 1024

function formatBytes (bytes: number): string {
  if (!Number.isFinite(bytes)) {
    return NOT_A_NUMBER
  }
  if (bytes < 10 * KIB) {
    return `${formatInt(bytes)} B`
  }
  if (bytes < 10 * MIB) {
    return `${formatNumber(bytes / KIB, 1)} KiB`
  }
  return `${formatNumber(bytes / MIB, 1)} MiB`
}
