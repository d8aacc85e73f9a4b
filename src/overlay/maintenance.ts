/**
 * Maintenance scheduling: repeating tasks on the injected `Clock`, each
 * with a random first phase (nodes that start together do not fall into
 * lock-step) and a jittered period. A task never overlaps itself: its next
 * run is scheduled only when the current one ends.
 */

import type { Clock, Log, Random, Timer } from './seams.ts'

export interface RepeatingTask {
  /** Mean time between the end of one run and the start of the next, ms */
  intervalMs: number
  run(): Promise<void>
}

export interface MaintenanceInit {
  clock: Clock
  random: Random
  log: Log
  /** Periods vary by ± half this fraction */
  jitter: number
  /** Tasks run only while this holds (a member); checked before each run and each reschedule */
  active(): boolean
}

interface Scheduled {
  task: RepeatingTask
  timer?: Timer
}

export class Maintenance {
  private readonly clock: Clock
  private readonly random: Random
  private readonly log: Log
  private readonly jitter: number
  private readonly active: () => boolean
  private readonly tasks: Scheduled[]

  constructor (init: MaintenanceInit, tasks: RepeatingTask[]) {
    this.clock = init.clock
    this.random = init.random
    this.log = init.log
    this.jitter = init.jitter
    this.active = init.active
    this.tasks = tasks.map(task => ({ task }))
  }

  start (): void {
    for (const scheduled of this.tasks) {
      // a random first phase spreads the rounds of nodes that start together
      this.schedule(scheduled, scheduled.task.intervalMs * this.random.next())
    }
  }

  stop (): void {
    for (const scheduled of this.tasks) {
      scheduled.timer?.cancel()
      scheduled.timer = undefined
    }
  }

  private schedule (scheduled: Scheduled, delayMs: number): void {
    scheduled.timer = this.clock.setTimer(() => {
      scheduled.timer = undefined
      if (!this.active()) {
        return
      }
      scheduled.task.run()
        .catch(err => { this.log.error('maintenance failed: %s', err.message) })
        .finally(() => {
          if (this.active()) {
            this.schedule(scheduled, scheduled.task.intervalMs * (1 + this.jitter * (this.random.next() - 0.5)))
          }
        })
    }, delayMs)
  }
}
