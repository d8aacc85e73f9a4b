/**
 * The real world behind the `Clock` and `Random` seams, for everything that
 * runs outside the simulator: wall-clock time and timers, `Math.random`
 */
import type { Clock, Random } from '../overlay/seams.ts'

export const wallClock: Clock = {
  now: () => Date.now(),
  setTimer: (fn, ms) => {
    // a negative or fractional delay is "now"; timers take whole milliseconds
    const timer = setTimeout(fn, Math.max(0, ms))
    return { cancel: () => { clearTimeout(timer) } }
  }
}

export const mathRandom: Random = { next: () => Math.random() }
