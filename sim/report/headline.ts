/**
 * The headline metrics of a run, formatted for people: the report page's
 * table and cards, and the CLI's summary lines, so the two never disagree.
 */
import { formatDuration } from '../duration.ts'
import { formatBytes, formatInt, formatNumber, formatPercent, share } from './format.ts'
import type { SimResult } from '../result.ts'

/** DESIGN §7's bar for churn at scale: at least 99.9 % of lookups correct */
export const CORRECT_RATIO_TARGET = 0.999

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
    ...joinRows(r),
    {
      label: 'Run',
      value: `${formatInt(r.nodes)} nodes · ${formatDuration(Math.round(r.virtualSeconds) * 1000)} simulated in ${formatNumber(r.wallSeconds, 1)} s`,
      detail: `${formatInt(r.events)} events · peak RSS ${formatInt(r.peakRssMB)} MB`
    },
    ...hostileRows(r)
  ]
}

/** Join times (absent in results from before they were kept, and when no page joined through contacts) */
function joinRows (r: SimResult): HeadlineRow[] {
  const j = r.joins
  if (j == null || j.count + j.failed === 0) {
    return []
  }
  return [{
    label: 'Joins',
    value: `p50 ${formatInt(j.p50Ms)} ms · p95 ${formatInt(j.p95Ms)} ms`,
    detail: `${formatInt(j.count)} joined · ${formatInt(j.failed)} failed · max ${formatInt(j.maxMs)} ms`
  }]
}

/** The attack and the honest pages' fetches under it (absent without `--hostile-fraction`); the rows above are the honest pages' */
function hostileRows (r: SimResult): HeadlineRow[] {
  const h = r.hostile
  if (h == null) {
    return []
  }
  const did = h.behaviour === 'drop'
    ? `${formatInt(h.swallowed)} lookups swallowed`
    : `${formatInt(h.claimed)} lookups answered as owner · ${formatInt(h.forgedContent)} forged content answers`
  const { honest } = h
  return [
    {
      label: 'Hostile pages',
      value: `${formatPercent(h.fraction, 1)} ${h.behaviour}`,
      detail: `${formatInt(h.count)} of the initial ${formatInt(r.nodes)}, ${formatInt(h.created)} over the run · ${did} · lookups and fetches above are the honest pages'`
    },
    {
      label: 'Honest fetches',
      value: `p50 ${formatInt(honest.fetchLatencyMs.p50)} ms · p95 ${formatInt(honest.fetchLatencyMs.p95)} ms`,
      detail: `${formatInt(honest.fetchesFailed)} failed · ${formatInt(honest.fetchesUnfinished)} unfinished · ${formatInt(honest.fetchesFromHostile)} served by hostile pages · ${formatInt(honest.unverifiedStored)} unverified objects stored`,
      ok: honest.fetchesFailed === 0 && honest.fetchesUnfinished === 0 && honest.fetchesFromHostile === 0 && honest.unverifiedStored === 0
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
export function headlineCards (r: SimResult): HeadlineRow[] {
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
