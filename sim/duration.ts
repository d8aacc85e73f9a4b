/**
 * Durations as people type them on the simulator's command line (`90`, `90s`,
 * `1.5m`, `1h30m`) and as the simulator prints them back.
 */

export const SECOND_MS = 1000
export const MINUTE_MS = 60 * SECOND_MS
export const HOUR_MS = 60 * MINUTE_MS

/** Unsigned decimal, as typed by people: `3`, `0.5`, `.5`, `1e3`; no hex, no Infinity, no sign */
export const NUMBER = /^(\d+\.?\d*|\.\d+)(e[+-]?\d+)?$/i
const DURATION = /^((\d+\.?\d*|\.\d+)(ms|s|m|h))+$/
const DURATION_PART = /(\d+\.?\d*|\.\d+)(ms|s|m|h)/g
const UNIT_MS: Record<string, number> = { ms: 1, s: SECOND_MS, m: MINUTE_MS, h: HOUR_MS }

/**
 * Parses a duration: a plain number is seconds; otherwise one or more number+unit parts with units
 * ms, s, m, h (`90s`, `1.5m`, `1h30m`). Returns whole milliseconds, or undefined when malformed.
 */
export function parseDuration (text: string): number | undefined {
  if (NUMBER.test(text)) {
    return Math.round(Number(text) * SECOND_MS)
  }
  if (!DURATION.test(text)) {
    return undefined
  }
  let ms = 0
  for (const [, amount, unit] of text.matchAll(DURATION_PART)) {
    ms += Number(amount) * UNIT_MS[unit]
  }
  return Math.round(ms)
}

/** Formats milliseconds the way `parseDuration` reads them back: `30m`, `1h30m`, `2.5s`, `250ms`, `0s` */
export function formatDuration (ms: number): string {
  if (!Number.isFinite(ms) || ms < 0) {
    return String(ms)
  }
  if (ms === 0) {
    return '0s'
  }
  if (ms < SECOND_MS) {
    return `${ms}ms`
  }
  const hours = Math.floor(ms / HOUR_MS)
  const minutes = Math.floor((ms % HOUR_MS) / MINUTE_MS)
  const seconds = (ms % MINUTE_MS) / SECOND_MS
  let out = ''
  if (hours > 0) {
    out += `${hours}h`
  }
  if (minutes > 0) {
    out += `${minutes}m`
  }
  if (seconds > 0) {
    out += `${seconds}s`
  }
  return out
}
