/**
 * Whether this page uploads now: the upload policy, the page's signals
 * (`UploadSignalMonitor`, in `'auto'`) and the caller's own pause, in that
 * order. The CDN service asks it before serving, announcing or naming itself
 * as a holder.
 */
import { UploadSignalMonitor, parseUploadPolicy } from './upload-policy.ts'
import type { UploadDecision, UploadPolicy, UploadPolicyOptions } from './upload-policy.ts'
import type { Logger } from '@libp2p/interface'

export interface UploadGateInit {
  /** @default 'auto' */
  policy?: unknown
  /** Thresholds for the page's signals */
  options?: UploadPolicyOptions
  log: Logger
}

export class UploadGate {
  readonly policy: UploadPolicy
  private readonly options?: UploadPolicyOptions
  private readonly log: Logger
  private monitor?: UploadSignalMonitor
  /** Paused by `pause()`, whatever the policy says */
  private pausedByCaller = false

  /**
   * @throws {InvalidUploadPolicyError} the policy is not one of `'auto'`, `'always'`, `'never'`
   */
  constructor (init: UploadGateInit) {
    this.policy = parseUploadPolicy(init.policy)
    this.options = init.options
    this.log = init.log
  }

  /** Starts reading the page's signals */
  start (): void {
    this.monitor = new UploadSignalMonitor({
      ...this.options,
      policy: this.policy,
      onChange: (decision) => { this.log('uploads %s', decision.upload ? 'resumed' : `paused (${decision.reason})`) }
    })
    // the battery API answers asynchronously; until it does, its rule does not apply
    this.monitor.start().catch(err => { this.log('upload signals unavailable - %e', err) })
  }

  stop (): void {
    this.monitor?.stop()
    this.monitor = undefined
  }

  /** Why uploads are paused, or `{ upload: true }` */
  get state (): UploadDecision {
    if (this.policy === 'never') {
      return { upload: false, reason: 'never' }
    }
    if (this.pausedByCaller) {
      return { upload: false, reason: 'custom' }
    }
    return this.monitor?.decision ?? { upload: true }
  }

  /** Refuses uploads until `resume()` */
  pause (): void {
    this.pausedByCaller = true
  }

  /** Ends a `pause()`; the upload policy decides again */
  resume (): void {
    this.pausedByCaller = false
  }
}
