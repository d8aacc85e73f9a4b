/**
 * Whether this page uploads now, and how much: the upload policy, the page's
 * signals (`UploadSignalMonitor`, in `'auto'`) and the caller's own pause, in
 * that order. The CDN service asks it before serving (the content server's
 * cap follows `maxUploads`, a hidden page's background budget), announcing,
 * naming itself as a holder or making a home copy.
 */
import { UploadSignalMonitor, parseHiddenUploads, parseUploadPolicy } from './upload-policy.ts'
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
   * @throws {InvalidUploadPolicyError} the policy is not one of `'auto'`, `'always'`, `'never'`, or `hiddenUploads` is not a whole number ≥ 0
   */
  constructor (init: UploadGateInit) {
    this.policy = parseUploadPolicy(init.policy)
    parseHiddenUploads(init.options?.hiddenUploads)
    this.options = init.options
    this.log = init.log
  }

  /** Starts reading the page's signals */
  start (): void {
    this.monitor = new UploadSignalMonitor({
      ...this.options,
      policy: this.policy,
      onChange: (decision) => { this.log('uploads %s', describe(decision)) }
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

  /**
   * Uploads this node may serve at once now beyond which requests are
   * answered BUSY (0 when paused); undefined: the node's own caps
   */
  get maxUploads (): number | undefined {
    const state = this.state
    return state.upload ? state.maxUploads : 0
  }

  /** Whether home copies (downloads for the ring's sake) may be made now: uploading, with no background budget */
  get copiesAllowed (): boolean {
    const state = this.state
    return state.upload && state.maxUploads == null
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

function describe (decision: UploadDecision): string {
  if (!decision.upload) {
    return `paused (${decision.reason})`
  }
  return decision.maxUploads == null ? 'resumed' : `limited to ${decision.maxUploads} at once (hidden)`
}
