/**
 * CPU time of a process tree from Linux's /proc, per process and per thread:
 * `utime + stime` of `/proc/<pid>/stat` and `/proc/<pid>/task/<tid>/stat`, in
 * clock ticks (`getconf CLK_TCK`, 100 on Linux). A Chromium's cost is its
 * whole tree (browser, zygote, renderers, GPU, network and other utility
 * processes), so two snapshots of the tree taken a window apart give what it
 * spent in that window whatever load the machine is under: CPU time, not a
 * share of a core.
 */
import { execFileSync } from 'node:child_process'
import { readFileSync, readdirSync } from 'node:fs'

/** Ticks per second of /proc's CPU times */
export const CLOCK_TICKS = (() => {
  try {
    return Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8', timeout: 5_000 }).trim()) || 100
  } catch {
    return 100
  }
})()

export interface ThreadTimes {
  tid: number
  /** The thread's name (`comm`, at most 15 characters: Chromium's `CrRendererMain`, `Chrome_ChildIOT`, `WebRTC_Network`) */
  name: string
  /** utime + stime, ms */
  cpuMs: number
}

export interface ProcessTimes {
  pid: number
  ppid: number
  /** Chromium's process type from `--type=` (`browser` without one; `utility:<sub-type>` for utility processes) */
  type: string
  /** utime + stime of the whole process (all its threads, live and exited), ms */
  cpuMs: number
  threads: ThreadTimes[]
}

/** Parses a `stat` line: `comm` sits in parentheses and may hold spaces */
function parseStat (text: string): { comm: string, ppid: number, cpuMs: number } | undefined {
  const open = text.indexOf('(')
  const close = text.lastIndexOf(')')
  if (open < 0 || close < open) {
    return undefined
  }
  // fields after comm, from field 3 (state): ppid is field 4, utime 14, stime 15
  const rest = text.slice(close + 2).split(' ')
  const ticks = Number(rest[11]) + Number(rest[12])
  return { comm: text.slice(open + 1, close), ppid: Number(rest[1]), cpuMs: ticks * 1000 / CLOCK_TICKS }
}

function read (path: string): string | undefined {
  try {
    return readFileSync(path, 'utf8')
  } catch {
    // the process or thread ended between listing and reading
    return undefined
  }
}

/** Chromium's process type from its command line */
export function processType (cmdline: string[]): string {
  const type = cmdline.find(a => a.startsWith('--type='))?.slice('--type='.length)
  if (type == null) {
    return 'browser'
  }
  if (type === 'utility') {
    const sub = cmdline.find(a => a.startsWith('--utility-sub-type='))?.slice('--utility-sub-type='.length)
    return `utility:${sub?.replace(/\.mojom\..*$/, '') ?? '?'}`
  }
  return type
}

/** Parent of every live process, from one pass over /proc */
function parents (): Map<number, number> {
  const out = new Map<number, number>()
  for (const entry of readdirSync('/proc')) {
    const pid = Number(entry)
    if (!Number.isInteger(pid)) {
      continue
    }
    const stat = read(`/proc/${pid}/stat`)
    const parsed = stat == null ? undefined : parseStat(stat)
    if (parsed != null) {
      out.set(pid, parsed.ppid)
    }
  }
  return out
}

/** `root` and all its descendants alive now */
export function processTree (root: number): number[] {
  const parentOf = parents()
  const tree = new Set([root])
  let grew = true
  while (grew) {
    grew = false
    for (const [pid, ppid] of parentOf) {
      if (!tree.has(pid) && tree.has(ppid)) {
        tree.add(pid)
        grew = true
      }
    }
  }
  return [...tree].filter(pid => parentOf.has(pid))
}

/** Children of `pid` alive now */
export function childrenOf (pid: number): number[] {
  return [...parents()].filter(([, ppid]) => ppid === pid).map(([child]) => child)
}

/** CPU times of `root`'s tree now */
export function snapshotTree (root: number): ProcessTimes[] {
  const out: ProcessTimes[] = []
  for (const pid of processTree(root)) {
    const stat = read(`/proc/${pid}/stat`)
    const parsed = stat == null ? undefined : parseStat(stat)
    if (parsed == null) {
      continue
    }
    // a Chromium child rewrites its command line into one space-separated string (setproctitle)
    const cmdline = (read(`/proc/${pid}/cmdline`) ?? '').split(/[\0 ]/)
    const threads: ThreadTimes[] = []
    let tids: string[] = []
    try {
      tids = readdirSync(`/proc/${pid}/task`)
    } catch {
      // the process ended after it was listed
    }
    for (const tid of tids) {
      const t = read(`/proc/${pid}/task/${tid}/stat`)
      const thread = t == null ? undefined : parseStat(t)
      if (thread != null) {
        // every Chromium process's main thread is named after the binary: name it for what it is
        threads.push({ tid: Number(tid), name: Number(tid) === pid ? '(main)' : thread.comm, cpuMs: thread.cpuMs })
      }
    }
    out.push({ pid, ppid: parsed.ppid, type: processType(cmdline), cpuMs: parsed.cpuMs, threads })
  }
  return out
}

export interface TreeDelta {
  /** CPU spent by the tree in the window, ms (processes that started or ended inside it count only from/to what was seen) */
  totalMs: number
  /** By process type */
  byType: Record<string, number>
  /** By process type and thread name, e.g. `renderer/CrRendererMain` */
  byThread: Record<string, number>
  /** Processes of each type at the end of the window */
  processes: Record<string, number>
}

/** What the tree spent between two snapshots */
export function treeDelta (before: ProcessTimes[], after: ProcessTimes[]): TreeDelta {
  const out: TreeDelta = { totalMs: 0, byType: {}, byThread: {}, processes: {} }
  const add = (record: Record<string, number>, key: string, ms: number): void => { record[key] = (record[key] ?? 0) + ms }
  const earlier = new Map(before.map(p => [p.pid, p]))
  for (const p of after) {
    const was = earlier.get(p.pid)
    add(out.processes, p.type, 1)
    const ms = p.cpuMs - (was?.cpuMs ?? 0)
    out.totalMs += ms
    add(out.byType, p.type, ms)
    const threadsBefore = new Map((was?.threads ?? []).map(t => [t.tid, t]))
    let threadsMs = 0
    for (const t of p.threads) {
      const d = t.cpuMs - (threadsBefore.get(t.tid)?.cpuMs ?? 0)
      threadsMs += d
      // pooled threads carry numbers or truncated names; one name per kind of thread
      add(out.byThread, `${p.type}/${t.name.replace(/\d+$/, '')}`, d)
    }
    // threads that ended inside the window: counted in the process, not in any live thread
    if (Math.abs(ms - threadsMs) >= 1) {
      add(out.byThread, `${p.type}/(ended threads)`, ms - threadsMs)
    }
  }
  return out
}
