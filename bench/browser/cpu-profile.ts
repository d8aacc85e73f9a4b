/**
 * Reads DevTools CPU profiles (`Profiler.stop()` over CDP) of pages running
 * the minified page bundle: frames inside the bundle are mapped back to their
 * source file and name through the bundle's source map, then self time is
 * summed by function and by package (the innermost bundled frame on the
 * stack, so a browser built-in such as `createDataChannel` counts for the
 * library that called it).
 */

export interface ProfileNode {
  id: number
  callFrame: { functionName: string, url: string, lineNumber: number, columnNumber: number }
  children?: number[]
}

export interface CpuProfile {
  nodes: ProfileNode[]
  startTime: number
  endTime: number
  samples?: number[]
  timeDeltas?: number[]
}

export interface SourceMap {
  sources: string[]
  names: string[]
  mappings: string
}

/** One mapping segment: generated column, source index, original line, original column, name index (-1: none) */
type Segment = [number, number, number, number, number]

const BASE64 = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/'

/** Decodes a source map's VLQ mappings into segments per generated line */
export function decodeMappings (mappings: string): Segment[][] {
  const digit = new Map([...BASE64].map((c, i) => [c, i]))
  const lines: Segment[][] = []
  let source = 0
  let line = 0
  let column = 0
  let name = 0
  for (const text of mappings.split(';')) {
    const segments: Segment[] = []
    let generated = 0
    for (const part of text.split(',')) {
      if (part === '') {
        continue
      }
      const values: number[] = []
      let value = 0
      let shift = 0
      for (const c of part) {
        const d = digit.get(c) ?? 0
        value += (d & 31) << shift
        if ((d & 32) !== 0) {
          shift += 5
        } else {
          values.push((value & 1) === 1 ? -(value >>> 1) : value >>> 1)
          value = 0
          shift = 0
        }
      }
      generated += values[0]
      if (values.length >= 4) {
        source += values[1]
        line += values[2]
        column += values[3]
        if (values.length >= 5) {
          name += values[4]
        }
        segments.push([generated, source, line, column, values.length >= 5 ? name : -1])
      }
    }
    lines.push(segments)
  }
  return lines
}

export interface Original {
  /** Source path, from `node_modules/…` or the repository root */
  source: string
  /** 1-based */
  line: number
  name?: string
}

/** Maps generated positions (0-based line and column) of one bundle back to its sources */
export class BundleMap {
  private readonly lines: Segment[][]
  private readonly map: SourceMap

  constructor (map: SourceMap) {
    this.map = map
    this.lines = decodeMappings(map.mappings)
  }

  lookup (line: number, column: number): Original | undefined {
    const segments = this.lines[line]
    if (segments == null || segments.length === 0) {
      return undefined
    }
    // last segment at or before the column
    let lo = 0
    let hi = segments.length - 1
    if (segments[0][0] > column) {
      return undefined
    }
    while (lo < hi) {
      const mid = (lo + hi + 1) >> 1
      if (segments[mid][0] <= column) {
        lo = mid
      } else {
        hi = mid - 1
      }
    }
    const [, source, origLine, , name] = segments[lo]
    return { source: shortSource(this.map.sources[source] ?? '?'), line: origLine + 1, name: name >= 0 ? this.map.names[name] : undefined }
  }
}

function shortSource (source: string): string {
  const at = source.lastIndexOf('node_modules/')
  return at >= 0 ? source.slice(at) : source.replace(/^(\.\.\/)+/, '')
}

/** `@scope/name` or `name` of a path under node_modules, else the repository folder (`src/libp2p`) */
export function packageOf (source: string): string {
  const match = /^node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(source)
  if (match != null) {
    return match[1]
  }
  const parts = source.split('/')
  return parts.length > 2 ? parts.slice(0, 2).join('/') : parts[0]
}

export interface ProfileSummary {
  /** Sampled time of all profiles, ms */
  totalMs: number
  /** Sampled time not idle, ms */
  busyMs: number
  /** Self time by function (`name source:line`, or a built-in's name), ms, largest first */
  byFunction: Array<{ frame: string, ms: number }>
  /** Self time by package of the innermost bundled frame, ms, largest first */
  byPackage: Array<{ package: string, ms: number }>
}

/** Sums self time over `profiles`; frames of `bundleUrl` go through `map` */
export function summariseProfiles (profiles: CpuProfile[], bundleUrl: (url: string) => boolean, map?: BundleMap): ProfileSummary {
  const byFunction = new Map<string, number>()
  const byPackage = new Map<string, number>()
  let totalMs = 0
  let busyMs = 0
  const add = (m: Map<string, number>, key: string, ms: number): void => { m.set(key, (m.get(key) ?? 0) + ms) }

  for (const profile of profiles) {
    const nodes = new Map(profile.nodes.map(n => [n.id, n]))
    const parent = new Map<number, number>()
    for (const n of profile.nodes) {
      for (const c of n.children ?? []) {
        parent.set(c, n.id)
      }
    }
    const frameName = new Map<number, { frame: string, pkg?: string }>()
    const describe = (id: number): { frame: string, pkg?: string } => {
      const known = frameName.get(id)
      if (known != null) {
        return known
      }
      const { functionName, url, lineNumber, columnNumber } = nodes.get(id)?.callFrame ?? { functionName: '?', url: '', lineNumber: 0, columnNumber: 0 }
      let out: { frame: string, pkg?: string }
      if (url !== '' && bundleUrl(url) && map != null) {
        const original = map.lookup(lineNumber, columnNumber)
        out = original == null
          ? { frame: `${functionName === '' ? '(anonymous)' : functionName} ringcdn.js`, pkg: '(bundle, unmapped)' }
          : { frame: `${original.name ?? (functionName === '' ? '(anonymous)' : functionName)} ${original.source}:${original.line}`, pkg: packageOf(original.source) }
      } else if (url !== '') {
        // the benchmark's own page scripts (counting wrappers) belong to whoever called them
        out = { frame: `${functionName === '' ? '(anonymous)' : functionName} ${url.replace(/^.*\//, '')}:${lineNumber + 1}` }
      } else {
        out = { frame: functionName === '' ? '(anonymous)' : functionName }
      }
      frameName.set(id, out)
      return out
    }
    /** The package of the innermost frame on the stack that has one */
    const packageFor = (id: number): string => {
      let at: number | undefined = id
      while (at != null) {
        const pkg = describe(at).pkg
        if (pkg != null) {
          return pkg
        }
        at = parent.get(at)
      }
      return `(${describe(id).frame})`
    }

    const samples = profile.samples ?? []
    const deltas = profile.timeDeltas ?? []
    for (let i = 0; i < samples.length; i++) {
      // a sample's time is the gap to the next one
      const ms = (deltas[i + 1] ?? 0) / 1000
      const { frame } = describe(samples[i])
      totalMs += ms
      if (frame === '(idle)') {
        continue
      }
      busyMs += ms
      add(byFunction, frame, ms)
      add(byPackage, packageFor(samples[i]), ms)
    }
  }

  const sorted = <K extends string>(m: Map<string, number>, key: K): Array<Record<K, string> & { ms: number }> =>
    [...m].sort((a, b) => b[1] - a[1]).map(([k, ms]) => ({ [key]: k, ms: Math.round(ms * 10) / 10 }) as any)
  return { totalMs, busyMs, byFunction: sorted(byFunction, 'frame'), byPackage: sorted(byPackage, 'package') }
}
