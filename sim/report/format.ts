/**
 * Numbers and text as the report prints them: a fixed locale, so reports do
 * not depend on the machine, and a dash for anything not a number.
 */

/** Escapes text for HTML content and attribute values (single or double quoted) */
export function escapeHtml (text: string): string {
  return text.replace(/[&<>"']/g, c => HTML_ESCAPES[c])
}

const HTML_ESCAPES: Record<string, string> = { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' }

const NOT_A_NUMBER = '–'

/** Smallest finite value of `values` and `start`; a loop, since spreading 10^5 samples into Math.min overflows the stack */
export function minFinite (values: readonly number[], start: number): number {
  let min = start
  for (const v of values) {
    if (Number.isFinite(v) && v < min) {
      min = v
    }
  }
  return min
}

/** Largest finite value of `values` and `start` */
export function maxFinite (values: readonly number[], start: number): number {
  let max = start
  for (const v of values) {
    if (Number.isFinite(v) && v > max) {
      max = v
    }
  }
  return max
}

export function finiteOr (v: number, fallback: number): number {
  return Number.isFinite(v) ? v : fallback
}

export function formatInt (v: number): string {
  return Number.isFinite(v) ? Math.round(v).toLocaleString('en-US') : NOT_A_NUMBER
}

export function formatNumber (v: number, decimals: number): string {
  return Number.isFinite(v) ? v.toLocaleString('en-US', { minimumFractionDigits: decimals, maximumFractionDigits: decimals }) : NOT_A_NUMBER
}

export function formatPercent (fraction: number, decimals: number): string {
  return Number.isFinite(fraction) ? `${(fraction * 100).toFixed(decimals)}%` : NOT_A_NUMBER
}

export function share (part: number, total: number): string {
  return total > 0 ? formatPercent(part / total, 1) : NOT_A_NUMBER
}

const KIB = 1024
const MIB = 1024 * 1024

export function formatBytes (bytes: number): string {
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
