/**
 * Renders a `SimResult` as one self-contained HTML page: inline CSS and inline SVG, no scripts, no
 * external assets, so the file can be attached to an issue or opened from CI artifacts as is.
 *
 * The page is a pure function of the result (no timestamps), so the same run gives the same bytes.
 * Every number that reaches the SVG goes through `coord()`, which turns anything non-finite into 0:
 * a NaN in the data must not make the browser drop a whole path.
 *
 * The headline numbers (`headline.ts`), the plots (`plots.ts`) and number
 * formatting (`format.ts`) are their own files; `headlineRows` is shared with the CLI's stdout summary so the two never disagree.
 */
import { formatDuration } from '../duration.ts'
import { escapeHtml, finiteOr, formatInt, formatPercent, maxFinite, minFinite } from './format.ts'
import { CORRECT_RATIO_TARGET, headlineCards, headlineRows } from './headline.ts'
import { COLOR, hopHistogramPlot, linePlot, niceCeil, niceFloor, percentTickFormat } from './plots.ts'
import type { SimResult } from '../result.ts'

/** The correct-ratio plot shows at least [0.99, 1]; it zooms out only when the data goes lower */
const CORRECT_RATIO_PLOT_FLOOR = 0.99

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
