/**
 * Deadlines on an injected `Clock`: an `AbortSignal` that the clock aborts,
 * so the same code times out in wall-clock time in a page and in virtual
 * time in the simulator (`AbortSignal.timeout` knows only the wall clock).
 */
import type { Clock } from '../overlay/seams.ts'

/** The reason a clock deadline aborts with: callers match on `.name` */
export class DeadlineExceededError extends Error {
  static readonly name = 'DeadlineExceededError'
  override readonly name = 'DeadlineExceededError'
}

export interface Deadline {
  signal: AbortSignal
  /** Stops the timer (call it when the guarded work is done) */
  clear(): void
}

/**
 * A signal aborted `ms` from now on `clock` (at once when `ms <= 0`), or
 * when `parent` aborts (with the parent's reason)
 */
export function clockDeadline (clock: Clock, ms: number, parent?: AbortSignal): Deadline {
  const controller = new AbortController()
  const onParent = (): void => { controller.abort(parent?.reason) }
  if (parent?.aborted === true) {
    controller.abort(parent.reason)
    return { signal: controller.signal, clear: () => {} }
  }
  parent?.addEventListener('abort', onParent, { once: true })
  const timer = clock.setTimer(() => {
    controller.abort(new DeadlineExceededError(`deadline of ${ms}ms passed`))
  }, Math.max(0, ms))
  return {
    signal: controller.signal,
    clear: () => {
      timer.cancel()
      parent?.removeEventListener('abort', onParent)
    }
  }
}

/** Resolves after `ms` on `clock`; rejects with the signal's reason when it aborts first */
export async function clockDelay (clock: Clock, ms: number, signal?: AbortSignal): Promise<void> {
  signal?.throwIfAborted()
  await new Promise<void>((resolve, reject) => {
    const onAbort = (): void => {
      timer.cancel()
      reject(signal?.reason)
    }
    const timer = clock.setTimer(() => {
      signal?.removeEventListener('abort', onAbort)
      resolve()
    }, ms)
    signal?.addEventListener('abort', onAbort, { once: true })
  })
}
