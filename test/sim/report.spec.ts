import { expect } from 'aegir/chai'
import { escapeHtml } from '../../sim/report/format.ts'
import { headlineRows } from '../../sim/report/headline.ts'
import { renderReport } from '../../sim/report/page.ts'
import type { SimResult } from '../../sim/result.ts'

function fakeResult (overrides: Partial<SimResult> = {}): SimResult {
  const tSeconds = Array.from({ length: 31 }, (_, i) => i * 60)
  return {
    nodes: 1000,
    virtualSeconds: 1800,
    wallSeconds: 42.25,
    peakRssMB: 512,
    events: 12_345_678,
    lookups: { total: 200_000, correct: 199_900, wrong: 60, failed: 40 },
    hops: { mean: 4.93, p50: 5, p99: 9 },
    latencyMs: { p50: 312, p99: 1204 },
    fetches: { total: 90_000, fromPeers: 70_000, fromOrigin: 15_000, fromLocal: 5000 },
    offload: 0.8333,
    idealOffload: 0.91,
    maintenanceBytesPerNodePerSec: 412,
    upload: { maxOverMean: 3.42 },
    ring: { violations: 0 },
    options: { nodes: 1000, durationMs: 1_800_000, warmupMs: 300_000, seed: 7, massFailureAtMs: 1_200_000 },
    series: {
      tSeconds,
      correctRatio: tSeconds.map(t => t < 300 ? 0.97 : 0.9995),
      offload: tSeconds.map(t => 0.85 * (1 - Math.exp(-t / 400))),
      liveNodes: tSeconds.map(t => t < 1200 ? 1000 : 600)
    },
    hopHistogram: [0, 10, 200, 1200, 3000, 3800, 2500, 1100, 400, 120, 15],
    ...overrides
  }
}

const EMPTY_SERIES = { tSeconds: [], correctRatio: [], offload: [], liveNodes: [] }

/** The attribute values and text of every SVG in the page must be free of NaN/Infinity */
function expectNoNonFiniteInSvg (html: string): void {
  const svgs = html.match(/<svg[\s\S]*?<\/svg>/g) ?? []
  expect(svgs.length).to.be.greaterThan(0)
  for (const svg of svgs) {
    expect(svg).to.not.match(/NaN|Infinity|undefined/)
  }
}

describe('sim report', () => {
  it('is one self-contained HTML document with no scripts or external assets', () => {
    const html = renderReport(fakeResult())
    expect(html.startsWith('<!DOCTYPE html>')).to.equal(true)
    expect(html).to.match(/<html lang="en">[\s\S]*<head>[\s\S]*<\/head>[\s\S]*<body>[\s\S]*<\/body>\s*<\/html>\s*$/)
    expect(html).to.include('<meta charset="utf-8">')
    expect(html).to.include('<style>')
    expect(html).to.not.match(/<script|<link|<img|src=|href=|@import|url\((?!#)/)
    // every opened svg is closed
    expect((html.match(/<svg /g) ?? []).length).to.equal((html.match(/<\/svg>/g) ?? []).length)
  })

  it('draws the hop histogram, correct-ratio and offload plots', () => {
    const html = renderReport(fakeResult())
    for (const id of ['hops', 'correct-ratio', 'offload']) {
      expect(html).to.include(`data-plot="${id}"`)
    }
    const svg = (id: string): string => html.match(new RegExp(`<svg [^>]*data-plot="${id}"[\\s\\S]*?</svg>`))?.[0] ?? ''
    // one bar per non-empty hop bucket (0 hops had no lookups)
    expect((svg('hops').match(/<rect class="bar"/g) ?? []).length).to.equal(10)
    expect(svg('correct-ratio')).to.include('<polyline class="series"')
    expect(svg('offload')).to.include('<polyline class="series"')
    // the ideal offload is a dashed reference line, labelled
    expect(svg('offload')).to.match(/<line class="reference"[^>]*stroke-dasharray/)
    expect(svg('offload')).to.include('ideal 91.0%')
    // axes with tick labels and axis labels
    expect(svg('offload')).to.include('>100%<')
    expect(svg('offload')).to.include('time (min)')
    expect(svg('hops')).to.include('>hops<')
    // warm-up band and mass failure marker come from the options
    expect(svg('correct-ratio')).to.include('warm-up')
    expect(svg('correct-ratio')).to.include('mass failure')
  })

  it('zooms the correct-ratio axis to [0.99, 1] unless measured data goes lower', () => {
    const high = renderReport(fakeResult())
    const yLabels = (html: string): string[] => [...(html.match(/<svg [^>]*data-plot="correct-ratio"[\s\S]*?<\/svg>/)?.[0] ?? '').matchAll(/text-anchor="end">([\d.]+%)</g)].map(m => m[1])
    // the 0.97 during warm-up does not count
    expect(yLabels(high)[0]).to.equal('99.0%')
    expect(yLabels(high).at(-1)).to.equal('100.0%')
    const low = fakeResult()
    low.series = { ...low.series, correctRatio: low.series.correctRatio.map((v, i) => i === 20 ? 0.953 : v) }
    expect(yLabels(renderReport(low))[0]).to.equal('95%')
  })

  it('shows the headline numbers', () => {
    const html = renderReport(fakeResult())
    for (const text of ['99.950%', '83.3%', 'ideal 91.0%', 'p50 312 ms', 'p99 1,204 ms', 'mean 4.93', '412 B/node/s',
      '3.42×', '12,345,678 events', '1,000 nodes', '90,000', '77.8% from peers']) {
      expect(html).to.include(text)
    }
  })

  it('lists the options used', () => {
    const html = renderReport(fakeResult())
    expect(html).to.match(/<th scope="row">warmupMs<\/th><td>300000 \(5m\)<\/td>/)
    expect(html).to.match(/<th scope="row">seed<\/th><td>7<\/td>/)
  })

  it('escapes text that comes from the result', () => {
    const html = renderReport(fakeResult({ options: { jsonPath: '<script>alert("x")</script>', 'a&b': "it's" } }))
    expect(html).to.not.include('<script>')
    expect(html).to.include('&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;')
    expect(html).to.include('a&amp;b')
    expect(html).to.include('it&#39;s')
    expect(escapeHtml('<a href="x">\'&\'</a>')).to.equal('&lt;a href=&quot;x&quot;&gt;&#39;&amp;&#39;&lt;/a&gt;')
  })

  it('renders empty series and no lookups without NaN in the SVG', () => {
    const html = renderReport(fakeResult({
      lookups: { total: 0, correct: 0, wrong: 0, failed: 0 },
      series: EMPTY_SERIES,
      hopHistogram: [],
      options: {}
    }))
    expectNoNonFiniteInSvg(html)
    expect((html.match(/no samples/g) ?? []).length).to.be.at.least(3)
    expect(html).to.include('no lookups')
  })

  it('survives NaN, Infinity, a single sample and a zero-length run without NaN in the SVG', () => {
    const html = renderReport(fakeResult({
      virtualSeconds: 0,
      offload: NaN,
      idealOffload: Infinity,
      hops: { mean: NaN, p50: 0, p99: 0 },
      series: { tSeconds: [0], correctRatio: [NaN], offload: [0.5], liveNodes: [Infinity] },
      hopHistogram: [NaN, 3]
    }))
    expectNoNonFiniteInSvg(html)
    // the lone offload sample is still shown, as a dot
    expect(html.match(/<svg [^>]*data-plot="offload"[\s\S]*?<\/svg>/)?.[0]).to.include('<circle')
  })

  it('breaks the line at non-finite samples instead of drawing through them', () => {
    const r = fakeResult()
    r.series.offload[10] = NaN
    const svg = renderReport(r).match(/<svg [^>]*data-plot="offload"[\s\S]*?<\/svg>/)?.[0] ?? ''
    expect((svg.match(/<polyline class="series"/g) ?? []).length).to.equal(2)
  })

  it('renders the same bytes for the same result', () => {
    expect(renderReport(fakeResult())).to.equal(renderReport(fakeResult()))
  })

  it('flags the correctness target and ring violations in the headline rows', () => {
    expect(headlineRows(fakeResult()).find(r => r.label === 'Correct lookups')?.ok).to.equal(true)
    const bad = fakeResult({ lookups: { total: 1000, correct: 990, wrong: 10, failed: 0 }, ring: { violations: 2 } })
    expect(headlineRows(bad).find(r => r.label === 'Correct lookups')?.ok).to.equal(false)
    expect(headlineRows(bad).find(r => r.label === 'Ring violations')?.ok).to.equal(false)
  })
})
