/**
 * When a page serves other pages (uploads). A visitor's battery, data plan
 * and background tab are theirs: in `'auto'` a page stops uploading on a low
 * battery that is not charging, or on a metered (save-data or cellular)
 * connection, as far as the browser tells; while it is hidden (a background
 * tab) it keeps serving within a background budget, `hiddenUploads` uploads
 * at once (1 by default; 0 pauses it). Most of a site's visitors have it in a
 * background tab: if hidden pages refused, a second tab would get everything
 * from the origin. Downloads are never affected: a paused page still fetches
 * from peers.
 *
 * Two parts: `decideUploads` is a pure function of the policy, the signals
 * and the thresholds (unit-tested as a table); `UploadSignalMonitor` reads the
 * signals from the browser APIs where they exist (feature-detected: Node and
 * browsers without an API simply do not report that signal, which never
 * pauses) and reports each change of decision.
 */

/**
 * - `'auto'`: upload unless a signal says the visitor would not want it
 * - `'always'`: upload whatever the signals say
 * - `'never'`: consume only — never upload, and never announce this page as a holder
 */
export type UploadPolicy = 'auto' | 'always' | 'never'

/** Pause uploads on battery below this fraction (0..1) while not charging */
export const MIN_BATTERY_LEVEL = 0.2
/**
 * Uploads a hidden page serves at once (its background budget). One: a
 * background tab still answers the ring's requests for what it holds, one at
 * a time, at a fraction of a visible page's upload (8 at once)
 */
export const HIDDEN_UPLOADS = 1

/** What the browser says about the page's situation; a missing field is unknown */
export interface UploadSignals {
  /** `document.visibilityState` */
  visibility?: 'visible' | 'hidden' | string
  /** `navigator.getBattery()`: level 0..1 */
  batteryLevel?: number
  batteryCharging?: boolean
  /** `navigator.connection.saveData` */
  saveData?: boolean
  /** `navigator.connection.type` ('cellular', 'wifi', 'ethernet', …) */
  connectionType?: string
}

/** Why uploads are paused */
export type UploadPauseReason = 'never' | 'hidden' | 'battery' | 'save-data' | 'cellular' | 'custom'

/**
 * Whether to upload now. `maxUploads` (set while the page is hidden) is a
 * background budget: at most that many uploads at once, and no home copies
 * (downloads made for the ring's sake); without it the node's own caps hold.
 */
export type UploadDecision =
  | { upload: true, maxUploads?: number }
  | { upload: false, reason: UploadPauseReason }

export interface UploadPolicyOptions {
  /**
   * Pause uploads on battery below this fraction (0..1) while not charging;
   * 0 disables the battery rule
   *
   * @default MIN_BATTERY_LEVEL (0.2)
   */
  minBatteryLevel?: number
  /**
   * Hold a hidden page to its background budget (`hiddenUploads`); `false`
   * serves from a hidden page as from a visible one
   *
   * @default true
   */
  pauseWhenHidden?: boolean
  /**
   * Uploads a hidden page serves at once (and no home copies while hidden);
   * 0 pauses a hidden page's uploads altogether
   *
   * @default HIDDEN_UPLOADS (1)
   */
  hiddenUploads?: number
  /**
   * Pause uploads when the visitor asked to save data
   *
   * @default true
   */
  pauseOnSaveData?: boolean
  /**
   * Pause uploads on a cellular connection
   *
   * @default true
   */
  pauseOnCellular?: boolean
  /**
   * The last word in `'auto'`: gets the signals and the built-in decision,
   * returns whether to upload (e.g. `() => true` while a video plays)
   *
   * @default none (the built-in decision stands)
   */
  decide?(signals: UploadSignals, decision: UploadDecision): boolean
}

/** The policy name is not one of 'auto', 'always', 'never' */
export class InvalidUploadPolicyError extends Error {
  static name = 'InvalidUploadPolicyError'
  name = 'InvalidUploadPolicyError'
}

/** Checks a policy name from untyped input (page config) */
export function parseUploadPolicy (policy: unknown): UploadPolicy {
  if (policy == null) {
    return 'auto'
  }
  if (policy === 'auto' || policy === 'always' || policy === 'never') {
    return policy
  }
  throw new InvalidUploadPolicyError(`uploadPolicy must be 'auto', 'always' or 'never', not ${JSON.stringify(policy)}`)
}

/**
 * Whether to upload now: pure, so every rule is tested without a browser
 */
export function decideUploads (policy: UploadPolicy, signals: UploadSignals, options: UploadPolicyOptions = {}): UploadDecision {
  switch (policy) {
    case 'always':
      return { upload: true }
    case 'never':
      return { upload: false, reason: 'never' }
    case 'auto': {
      const decision = autoDecision(signals, options)
      if (options.decide == null) {
        return decision
      }
      const upload = options.decide(signals, decision)
      if (upload) {
        // agreeing with a budget keeps it; overruling a pause serves fully
        return decision.upload ? decision : { upload: true }
      }
      return { upload: false, reason: decision.upload ? 'custom' : decision.reason }
    }
    default:
      throw new InvalidUploadPolicyError(`unknown upload policy ${JSON.stringify(policy)}`)
  }
}

/** The background budget from untyped input: a whole number of uploads ≥ 0 */
export function parseHiddenUploads (value: unknown): number {
  if (value == null) {
    return HIDDEN_UPLOADS
  }
  if (typeof value !== 'number' || !Number.isInteger(value) || value < 0) {
    throw new InvalidUploadPolicyError(`hiddenUploads must be a whole number ≥ 0, not ${JSON.stringify(value)}`)
  }
  return value
}

function autoDecision (signals: UploadSignals, options: UploadPolicyOptions): UploadDecision {
  const hidden = (options.pauseWhenHidden ?? true) && signals.visibility === 'hidden'
  const hiddenUploads = parseHiddenUploads(options.hiddenUploads)
  if (hidden && hiddenUploads === 0) {
    return { upload: false, reason: 'hidden' }
  }
  const minLevel = options.minBatteryLevel ?? MIN_BATTERY_LEVEL
  // an unknown charging state on a low battery counts as discharging: the safe side for the visitor
  if (signals.batteryLevel != null && signals.batteryLevel < minLevel && signals.batteryCharging !== true) {
    return { upload: false, reason: 'battery' }
  }
  if ((options.pauseOnSaveData ?? true) && signals.saveData === true) {
    return { upload: false, reason: 'save-data' }
  }
  if ((options.pauseOnCellular ?? true) && signals.connectionType === 'cellular') {
    return { upload: false, reason: 'cellular' }
  }
  // the battery and data rules pause a hidden page too; only then does the budget apply
  return hidden ? { upload: true, maxUploads: hiddenUploads } : { upload: true }
}

/** The parts of a browser's globals the monitor reads; all optional */
export interface UploadSignalSources {
  document?: Pick<EventTarget, 'addEventListener' | 'removeEventListener'> & { visibilityState?: string }
  navigator?: {
    getBattery?(): Promise<BatteryLike>
    connection?: ConnectionLike
  }
}

interface BatteryLike extends Pick<EventTarget, 'addEventListener' | 'removeEventListener'> {
  level: number
  charging: boolean
}

interface ConnectionLike extends Pick<EventTarget, 'addEventListener' | 'removeEventListener'> {
  saveData?: boolean
  type?: string
}

export interface UploadSignalMonitorInit extends UploadPolicyOptions {
  /** @default 'auto' */
  policy?: UploadPolicy
  /**
   * Where the signals come from
   *
   * @default globalThis (`document`, `navigator`)
   */
  sources?: UploadSignalSources
  /** Called with every change of decision (not with the first one; read `decision`) */
  onChange?(decision: UploadDecision): void
}

/**
 * Reads the browser's signals and keeps `decision` current. In Node (no
 * `document`, no battery or connection API) nothing pauses uploads.
 */
export class UploadSignalMonitor {
  private readonly policy: UploadPolicy
  private readonly options: UploadPolicyOptions
  private readonly sources: UploadSignalSources
  private readonly onChange?: (decision: UploadDecision) => void
  private readonly signals: UploadSignals = {}
  private readonly cleanup: Array<() => void> = []
  private current: UploadDecision
  private stopped = true

  constructor (init: UploadSignalMonitorInit = {}) {
    const { policy, sources, onChange, ...options } = init
    this.policy = parseUploadPolicy(policy)
    this.options = options
    this.sources = sources ?? (globalThis as UploadSignalSources)
    this.onChange = onChange
    this.current = decideUploads(this.policy, this.signals, this.options)
    this.update = this.update.bind(this)
  }

  /** The decision now */
  get decision (): UploadDecision {
    return this.current
  }

  /** The signals as last read */
  get snapshot (): UploadSignals {
    return { ...this.signals }
  }

  /**
   * Starts listening. Resolves once the synchronous signals are read and the
   * battery (an async API) has answered or failed.
   */
  async start (): Promise<void> {
    if (!this.stopped) {
      return
    }
    this.stopped = false
    if (this.policy !== 'auto') {
      // 'always' and 'never' do not depend on any signal
      return
    }
    const doc = this.sources.document
    if (doc != null && typeof doc.addEventListener === 'function' && doc.visibilityState != null) {
      this.listen(doc, 'visibilitychange')
    }
    const connection = this.sources.navigator?.connection
    if (connection != null && typeof connection.addEventListener === 'function') {
      this.listen(connection, 'change')
    }
    this.update()
    const getBattery = this.sources.navigator?.getBattery
    if (typeof getBattery === 'function') {
      try {
        const battery = await getBattery.call(this.sources.navigator)
        if (this.stopped) {
          return
        }
        this.battery = battery
        this.listen(battery, 'levelchange')
        this.listen(battery, 'chargingchange')
        this.update()
      } catch {
        // the Battery API refused (permissions policy): the battery rule does not apply
      }
    }
  }

  stop (): void {
    this.stopped = true
    this.cleanup.splice(0).forEach(fn => { fn() })
    this.battery = undefined
  }

  private battery?: BatteryLike

  private listen (target: Pick<EventTarget, 'addEventListener' | 'removeEventListener'>, event: string): void {
    target.addEventListener(event, this.update)
    this.cleanup.push(() => { target.removeEventListener(event, this.update) })
  }

  /** Re-reads every signal and reports a changed decision */
  update (): void {
    if (this.stopped) {
      return
    }
    const doc = this.sources.document
    this.signals.visibility = doc?.visibilityState
    const connection = this.sources.navigator?.connection
    this.signals.saveData = connection?.saveData
    this.signals.connectionType = connection?.type
    if (this.battery != null) {
      this.signals.batteryLevel = this.battery.level
      this.signals.batteryCharging = this.battery.charging
    }
    const next = decideUploads(this.policy, this.signals, this.options)
    const changed = next.upload !== this.current.upload ||
      (!next.upload && !this.current.upload && next.reason !== this.current.reason) ||
      (next.upload && this.current.upload && next.maxUploads !== this.current.maxUploads)
    this.current = next
    if (changed) {
      this.onChange?.(next)
    }
  }
}
