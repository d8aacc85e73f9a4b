/**
 * The simulator's discrete-event scheduler: virtual time for 10^5 nodes.
 *
 * Theory of operation
 *
 * Events are ordered by `(time, seq)`, where `seq` is an insertion counter:
 * two events at the same virtual time run in the order they were scheduled
 * (FIFO), so the order depends only on what was scheduled, never on data
 * structure layout: same inputs, same trace. The structure that gives this
 * order cheaply is a bucket per distinct time (an array of events in insertion
 * order, so `seq` is implicit) plus a binary min-heap of the distinct times.
 * Scheduling is a map lookup and an array push; the heap only sees a new
 * time. A simulation with integer-millisecond delays has a few thousand
 * distinct pending times for millions of events, so this beats one heap entry
 * per event (and its cache misses) several times over.
 *
 * Time only moves forward and only inside `run()`: it jumps straight to the
 * next event's time. Virtual milliseconds may be fractional, but the network
 * rounds delivery times to whole milliseconds so that many events share an
 * instant (see "settling" below for why that is cheaper).
 *
 * Settling: production code is async. An event that resolves a promise starts
 * a chain of microtasks (the awaiting caller resumes, sends the next request,
 * ...) that must finish at the same virtual time, exactly as it would finish
 * "immediately" on a real clock. So after running every event of one instant,
 * the run loop awaits one `setImmediate` macrotask: the host runs every
 * queued microtask, including the ones those microtasks queue, before any
 * macrotask. Settled code may schedule more events at the current instant, so
 * the loop re-checks the heap before advancing `now`. The cost is one
 * macrotask per distinct instant, not per event.
 *
 * Cancellation is lazy: `cancel()` clears the event's callback and the event
 * stays in its bucket until that time comes. RPC deadlines are scheduled for
 * almost every request and cancelled by almost every answer, so a bucket whose
 * events are all cancelled lets go of them at once (the empty bucket and its
 * time are dropped when that time surfaces).
 *
 * A callback that throws stops the run: `run()` rejects with a
 * `SimEventError` that carries the virtual time, the event's number
 * and the original error as `cause`. Later events stay pending, so a test can
 * inspect the state or call `run()` again. Pass `onError` to log and carry on
 * instead. Rejections inside async code started by an event are the host's
 * business (unhandled rejections), as they would be in production.
 */
import type { Clock, Timer } from '../src/overlay/seams.ts'

/** How often `run()` reports progress by default, in virtual milliseconds */
export const PROGRESS_EVERY_MS = 10_000

/** Granularity of `Clock` timers by default, in milliseconds: setTimeout's */
export const CLOCK_RESOLUTION_MS = 1

export interface SchedulerInit {
  /**
   * Timers set through `clock()` fire on a multiple of this many virtual
   * milliseconds (rounded up, never early), the way setTimeout has millisecond
   * resolution. Production code jitters its timers with `Random`, so without
   * rounding every timer of 10^5 nodes would be an instant of its own, and each
   * instant costs a macrotask to settle. 0 keeps exact times. `at()`,
   * `after()` and `schedule()` are never rounded.
   *
   * @default 1
   */
  clockResolutionMs?: number
}

/** A scheduled callback; `cancel()` is idempotent and a no-op once it has run */
export interface SimTimer extends Timer {
  /** The virtual time it is (or was) due at */
  readonly time: number
}

export interface RunOptions {
  /** Stop once the next event is later than this virtual time, leaving `now` at `until` */
  until?: number
  /**
   * Stop as soon as this returns true. Checked once per virtual instant, after
   * that instant's microtasks have settled (and once before the first event)
   */
  stopWhen?(): boolean
  /** Called with the current virtual time roughly every `progressEveryMs` of virtual time */
  onProgress?(now: number): void
  /**
   * Virtual milliseconds between `onProgress` calls
   *
   * @default 10_000
   */
  progressEveryMs?: number
  /**
   * Called with the error instead of stopping the run when an event's callback
   * throws. Without it the run rejects with the `SimEventError`.
   */
  onError?(err: SimEventError): void
}

export interface SettleOptions {
  /** Give up after this many virtual milliseconds (default: only when no events are left) */
  maxTime?: number
}

/** An event's callback threw; `cause` is what it threw */
export class SimEventError extends Error {
  static name = 'SimEventError'
  name = 'SimEventError'
  /** Virtual time of the failed event */
  readonly time: number
  /** The failed event's position among all events executed (the scheduler's `events` count at the time) */
  readonly event: number

  constructor (time: number, event: number, cause: unknown) {
    super(`simulator event #${event} at t=${time} ms threw: ${(cause as Error)?.message ?? String(cause)}`, { cause })
    this.time = time
    this.event = event
  }
}

/** `settle()` gave up: the promise could not settle (no events left) or did not within `maxTime` */
export class SimStalledError extends Error {
  static name = 'SimStalledError'
  name = 'SimStalledError'
}

/** The events due at one virtual time, in the order they were scheduled */
class Bucket {
  readonly time: number
  readonly owner: Scheduler
  events: SimEvent[] = []
  /** Events neither run nor cancelled */
  live = 0
  /** Being executed: events scheduled for this time meanwhile join the end of it */
  running = false

  constructor (owner: Scheduler, time: number) {
    this.owner = owner
    this.time = time
  }
}

/**
 * One scheduled callback. It is also the `SimTimer` handed back to the
 * caller, so scheduling allocates one small object besides the caller's callback.
 */
class SimEvent implements SimTimer {
  /** `undefined` once run or cancelled */
  fn: ((arg: any) => void) | undefined
  arg: unknown
  readonly bucket: Bucket

  constructor (bucket: Bucket, fn: (arg: any) => void, arg: unknown) {
    this.bucket = bucket
    this.fn = fn
    this.arg = arg
  }

  get time (): number {
    return this.bucket.time
  }

  cancel (): void {
    if (this.fn !== undefined) {
      this.fn = undefined
      this.arg = undefined
      this.bucket.owner.cancelled(this.bucket)
    }
  }
}

/** Runs every queued microtask (and the microtasks they queue) before resolving */
async function settleMicrotasks (): Promise<void> {
  await new Promise<void>(resolve => { setImmediate(resolve) })
}

export class Scheduler {
  /** Min-heap of the times that have a bucket, one entry each */
  private readonly times: number[] = []
  private readonly buckets = new Map<number, Bucket>()
  private time = 0
  private executed = 0
  private live = 0
  private running = false
  private readonly clockView: Clock

  constructor (init: SchedulerInit = {}) {
    const resolution = init.clockResolutionMs ?? CLOCK_RESOLUTION_MS
    this.clockView = {
      now: () => this.time,
      setTimer: resolution > 0
        ? (fn, ms) => this.schedule(Math.ceil((this.time + (ms > 0 ? ms : 0)) / resolution) * resolution, fn, undefined)
        : (fn, ms) => this.after(ms, fn)
    }
  }

  /** Current virtual time in milliseconds; starts at 0 */
  get now (): number {
    return this.time
  }

  /** Events executed so far (cancelled ones not counted) */
  get events (): number {
    return this.executed
  }

  /** Events scheduled and neither run nor cancelled */
  get pending (): number {
    return this.live
  }

  /**
   * A `Clock` reading this scheduler's virtual time; one shared object, safe to
   * hand to every node. Its timers are rounded up to `clockResolutionMs`.
   */
  clock (): Clock {
    return this.clockView
  }

  /** Runs `fn` at virtual time `time` (not before `now`) */
  at (time: number, fn: () => void): SimTimer {
    return this.schedule(time, fn, undefined)
  }

  /** Runs `fn` after `ms` virtual milliseconds; negative delays count as 0 */
  after (ms: number, fn: () => void): SimTimer {
    return this.schedule(this.time + (ms > 0 ? ms : 0), fn, undefined)
  }

  /**
   * Runs `fn(arg)` at virtual time `time`. Same as `at()`, but lets hot paths
   * pass a shared function and a record instead of allocating a closure per event.
   */
  schedule<A> (time: number, fn: (arg: A) => void, arg: A): SimTimer {
    let bucket = this.buckets.get(time)
    if (bucket === undefined) {
      if (!(time >= this.time) || time === Infinity) {
        throw new RangeError(`cannot schedule an event at t=${time} ms: now is ${this.time} ms and times must be finite`)
      }
      bucket = new Bucket(this, time)
      this.buckets.set(time, bucket)
      this.pushTime(time)
    }
    const event = new SimEvent(bucket, fn, arg)
    bucket.events.push(event)
    bucket.live++
    this.live++
    return event
  }

  /**
   * Executes events in `(time, seq)` order, settling microtasks after each
   * virtual instant, until `until`, until `stopWhen()` holds, or until no
   * events are left.
   */
  async run (options: RunOptions = {}): Promise<void> {
    await this.loop(options, true)
  }

  /**
   * Runs the scheduler until `p` settles and returns its outcome. Rejects with
   * `SimStalledError` instead of hanging when no events are left that could
   * settle it, or when `maxTime` virtual milliseconds pass first.
   */
  async settle<T> (p: Promise<T>, options: SettleOptions = {}): Promise<T> {
    let settled = false
    const tracked = p.then(
      value => { settled = true; return value },
      err => { settled = true; throw err }
    )
    // the outcome is delivered below; this only keeps an early rejection from counting as unhandled
    tracked.catch(() => {})
    const start = this.time
    const until = options.maxTime === undefined ? Infinity : start + options.maxTime
    await this.loop({ until, stopWhen: () => settled }, false)
    if (!settled) {
      throw new SimStalledError(this.live === 0
        ? `the promise cannot settle: no events left at t=${this.time} ms`
        : `the promise did not settle within ${options.maxTime} virtual ms (t=${start}..${this.time} ms, ${this.live} events pending)`)
    }
    return tracked
  }

  /**
   * Called by an event's `cancel()`
   *
   * @internal
   */
  cancelled (bucket: Bucket): void {
    this.live--
    if (--bucket.live === 0 && !bucket.running) {
      // nothing left to run at this time: free the dead events now rather than when the time comes. The
      // bucket itself stays, so that scheduling at this time again does not add the time to the heap twice
      bucket.events = []
    }
  }

  private async loop (options: RunOptions, advanceToUntil: boolean): Promise<void> {
    if (this.running) {
      throw new Error('the scheduler is already running')
    }
    this.running = true
    const until = options.until ?? Infinity
    const { stopWhen, onProgress, onError } = options
    const progressEveryMs = options.progressEveryMs ?? PROGRESS_EVERY_MS
    let nextProgress = this.time + progressEveryMs
    try {
      // async code started outside the scheduler (a test's first request) settles at the current instant
      await settleMicrotasks()
      while (stopWhen?.() !== true) {
        const bucket = this.peek()
        if (bucket === undefined || bucket.time > until) {
          if (advanceToUntil && until !== Infinity && until > this.time) {
            this.time = until
          }
          return
        }
        this.time = bucket.time
        this.runBucket(bucket, onError)
        await settleMicrotasks()
        if (onProgress !== undefined && this.time >= nextProgress) {
          onProgress(this.time)
          nextProgress = this.time + progressEveryMs
        }
      }
    } finally {
      this.running = false
    }
  }

  /** The bucket of the earliest time with live events, dropping empty buckets and stale times */
  private peek (): Bucket | undefined {
    const times = this.times
    while (times.length > 0) {
      const time = times[0]
      const bucket = this.buckets.get(time)
      if (bucket !== undefined) {
        if (bucket.live > 0) {
          return bucket
        }
        this.buckets.delete(time)
      }
      this.popTime()
    }
    return undefined
  }

  /** Runs every live event of `bucket`, including ones added to it meanwhile */
  private runBucket (bucket: Bucket, onError: RunOptions['onError']): void {
    const events = bucket.events
    bucket.running = true
    let i = 0
    try {
      for (; i < events.length; i++) {
        const event = events[i]
        const fn = event.fn
        if (fn === undefined) {
          continue
        }
        const arg = event.arg
        event.fn = undefined
        event.arg = undefined
        bucket.live--
        this.live--
        this.executed++
        try {
          fn(arg)
        } catch (cause) {
          const err = new SimEventError(bucket.time, this.executed, cause)
          if (onError === undefined) {
            throw err
          }
          onError(err)
        }
      }
    } catch (err) {
      // keep the events after the failed one for the next run
      bucket.events = events.slice(i + 1)
      bucket.running = false
      throw err
    }
    bucket.running = false
    this.buckets.delete(bucket.time)
    this.popTime()
  }

  private pushTime (time: number): void {
    const times = this.times
    let i = times.length
    times.push(time)
    while (i > 0) {
      const parent = (i - 1) >>> 1
      const p = times[parent]
      if (p <= time) {
        break
      }
      times[i] = p
      i = parent
    }
    times[i] = time
  }

  private popTime (): void {
    const times = this.times
    const last = times.pop() as number
    const n = times.length
    if (n === 0) {
      return
    }
    const half = n >>> 1
    let i = 0
    while (i < half) {
      let child = 2 * i + 1
      let c = times[child]
      const right = child + 1
      if (right < n && times[right] < c) {
        child = right
        c = times[right]
      }
      if (last <= c) {
        break
      }
      times[i] = c
      i = child
    }
    times[i] = last
  }
}
