/**
 * The report's inline SVG plots: line plots over time, the hop histogram,
 * their axes and ticks. Every number that reaches the SVG goes through
 * `coord()`, which turns anything non-finite into 0: a NaN in the data must
 * not make the browser drop a whole path.
 */
import { escapeHtml, finiteOr, formatInt, formatNumber, formatPercent, maxFinite } from './format.ts'
import type { SimResult } from '../result.ts'

const PLOT_WIDTH_PX = 960
const PLOT_HEIGHT_PX = 280
const MARGIN = { top: 20, right: 20, bottom: 46, left: 68 }
const TARGET_TICKS = 6
/** Draw a dot on every sample when there are few enough of them to tell apart */
const MAX_POINTS_WITH_MARKERS = 40
/** Above this many bars, label only every n-th one on the x axis */
const MAX_LABELLED_BARS = 30

export const COLOR = {
  line: '#2563eb',
  bar: '#3b82f6',
  ideal: '#6b7280',
  target: '#16a34a',
  failure: '#dc2626',
  warmup: '#f3f4f6',
  grid: '#e5e7eb',
  axis: '#9ca3af'
}

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

export function linePlot (spec: LinePlotSpec): string {
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

export function hopHistogramPlot (r: SimResult): string {
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

export function svg (id: string, title: string, parts: string[]): string {
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
export function niceFloor (v: number, span: number): number {
  const step = niceStep(Math.max(span, 1e-9) / TARGET_TICKS)
  return Number((Math.floor(v / step + 1e-9) * step).toPrecision(12))
}

/** `v` rounded up to a nice step for a range of about `span` */
export function niceCeil (v: number, span: number): number {
  const step = niceStep(Math.max(span, 1e-9) / TARGET_TICKS)
  return Number((Math.ceil(v / step - 1e-9) * step).toPrecision(12))
}

/** A percent tick with just enough decimals to tell neighbouring ticks apart */
export function percentTickFormat (v: number, step: number): string {
  const decimals = Math.max(0, Math.ceil(-Math.log10(step * 100) - 1e-9))
  return `${(v * 100).toFixed(decimals)}%`
}

function formatTick (v: number, step: number): string {
  const decimals = Math.max(0, Math.ceil(-Math.log10(step) - 1e-9))
  return v.toFixed(decimals)
}
