/**
 * The upload policy: the pure decision as a table, and the signal monitor
 * reading browser-shaped APIs (EventTargets standing in for `document`,
 * `navigator.connection` and the Battery API, which Node does not have; the
 * real ones are read in Chromium by test/sw).
 */
import { expect } from 'aegir/chai'
import { HIDDEN_UPLOADS, InvalidUploadPolicyError, MIN_BATTERY_LEVEL, UploadSignalMonitor, decideUploads, parseUploadPolicy } from '../src/upload-policy.ts'
import type { UploadDecision, UploadPolicy, UploadPolicyOptions, UploadSignals } from '../src/upload-policy.ts'

describe('upload policy', () => {
  describe('decideUploads', () => {
    const cases: Array<[string, UploadPolicy, UploadSignals, UploadPolicyOptions, UploadDecision]> = [
      ['uploads with no signal at all (Node)', 'auto', {}, {}, { upload: true }],
      ['uploads on a visible page on wifi with a full battery', 'auto', { visibility: 'visible', batteryLevel: 0.9, batteryCharging: false, saveData: false, connectionType: 'wifi' }, {}, { upload: true }],
      ['a hidden page serves within its background budget', 'auto', { visibility: 'hidden' }, {}, { upload: true, maxUploads: HIDDEN_UPLOADS }],
      ['a hidden page serves within a budget it was given', 'auto', { visibility: 'hidden', connectionType: 'wifi' }, { hiddenUploads: 3 }, { upload: true, maxUploads: 3 }],
      ['a budget of 0 pauses a hidden page', 'auto', { visibility: 'hidden' }, { hiddenUploads: 0 }, { upload: false, reason: 'hidden' }],
      ['a visible page has no background budget', 'auto', { visibility: 'visible' }, { hiddenUploads: 3 }, { upload: true }],
      ['uploads from a hidden page as from a visible one when told not to mind', 'auto', { visibility: 'hidden' }, { pauseWhenHidden: false, hiddenUploads: 0 }, { upload: true }],
      ['pauses on a low battery that is not charging', 'auto', { batteryLevel: 0.19, batteryCharging: false }, {}, { upload: false, reason: 'battery' }],
      ['uploads on a low battery that is charging', 'auto', { batteryLevel: 0.05, batteryCharging: true }, {}, { upload: true }],
      ['treats an unknown charging state on a low battery as discharging', 'auto', { batteryLevel: 0.1 }, {}, { upload: false, reason: 'battery' }],
      ['uploads at exactly the threshold', 'auto', { batteryLevel: MIN_BATTERY_LEVEL, batteryCharging: false }, {}, { upload: true }],
      ['uses a custom battery threshold', 'auto', { batteryLevel: 0.4, batteryCharging: false }, { minBatteryLevel: 0.5 }, { upload: false, reason: 'battery' }],
      ['a zero threshold disables the battery rule', 'auto', { batteryLevel: 0.01, batteryCharging: false }, { minBatteryLevel: 0 }, { upload: true }],
      ['pauses when the visitor asks to save data', 'auto', { saveData: true, connectionType: 'wifi' }, {}, { upload: false, reason: 'save-data' }],
      ['ignores save-data when told to', 'auto', { saveData: true }, { pauseOnSaveData: false }, { upload: true }],
      ['pauses on a cellular connection', 'auto', { connectionType: 'cellular' }, {}, { upload: false, reason: 'cellular' }],
      ['ignores cellular when told to', 'auto', { connectionType: 'cellular' }, { pauseOnCellular: false }, { upload: true }],
      ['a low battery pauses a hidden page entirely, not to the budget', 'auto', { visibility: 'hidden', batteryLevel: 0.01 }, {}, { upload: false, reason: 'battery' }],
      ['save-data pauses a hidden page entirely', 'auto', { visibility: 'hidden', saveData: true }, {}, { upload: false, reason: 'save-data' }],
      ['cellular pauses a hidden page entirely', 'auto', { visibility: 'hidden', connectionType: 'cellular' }, {}, { upload: false, reason: 'cellular' }],
      ['reports the first rule that pauses: hidden (budget 0) before battery', 'auto', { visibility: 'hidden', batteryLevel: 0.01 }, { hiddenUploads: 0 }, { upload: false, reason: 'hidden' }],
      ['always uploads whatever the signals', 'always', { visibility: 'hidden', batteryLevel: 0.01, saveData: true, connectionType: 'cellular' }, {}, { upload: true }],
      ['never uploads whatever the signals', 'never', { visibility: 'visible' }, {}, { upload: false, reason: 'never' }],
      ['the hook can pause a page the rules would let upload', 'auto', { visibility: 'visible' }, { decide: () => false }, { upload: false, reason: 'custom' }],
      ['the hook can overrule a pause', 'auto', { visibility: 'hidden' }, { hiddenUploads: 0, decide: (s, d) => !d.upload && s.visibility === 'hidden' }, { upload: true }],
      ['the hook keeps the background budget when it agrees', 'auto', { visibility: 'hidden' }, { decide: (s, d) => d.upload }, { upload: true, maxUploads: HIDDEN_UPLOADS }],
      ['the hook can pause a hidden page', 'auto', { visibility: 'hidden' }, { decide: () => false }, { upload: false, reason: 'custom' }],
      ['the hook keeps the rule\'s reason when it agrees with a pause', 'auto', { connectionType: 'cellular' }, { decide: () => false }, { upload: false, reason: 'cellular' }],
      ['the hook is not asked under "never"', 'never', {}, { decide: () => true }, { upload: false, reason: 'never' }]
    ]
    for (const [name, policy, signals, options, expected] of cases) {
      it(name, () => {
        expect(decideUploads(policy, signals, options)).to.deep.equal(expected)
      })
    }

    it('refuses an unknown policy name with a named error', () => {
      expect(() => decideUploads('sometimes' as UploadPolicy, {})).to.throw().with.property('name', 'InvalidUploadPolicyError')
      expect(() => parseUploadPolicy('Never')).to.throw(InvalidUploadPolicyError)
      expect(parseUploadPolicy(undefined)).to.equal('auto')
    })

    it('refuses a background budget that is not a whole number ≥ 0 with a named error', () => {
      for (const hiddenUploads of [-1, 1.5, Number.NaN, '2' as unknown as number]) {
        expect(() => decideUploads('auto', {}, { hiddenUploads })).to.throw().with.property('name', 'InvalidUploadPolicyError')
      }
    })
  })

  describe('UploadSignalMonitor', () => {
    /** A document, connection and battery as the browser shapes them */
    function sources (): { document: EventTarget & { visibilityState: string }, connection: EventTarget & { saveData: boolean, type: string }, battery: EventTarget & { level: number, charging: boolean } } {
      return {
        document: Object.assign(new EventTarget(), { visibilityState: 'visible' }),
        connection: Object.assign(new EventTarget(), { saveData: false, type: 'wifi' }),
        battery: Object.assign(new EventTarget(), { level: 1, charging: true })
      }
    }

    it('lets a Node process upload: no document, no battery, no connection API', async () => {
      const monitor = new UploadSignalMonitor()
      await monitor.start()
      expect(monitor.decision).to.deep.equal({ upload: true })
      monitor.stop()
    })

    it('follows visibility, battery and connection changes, reporting each change once', async () => {
      const s = sources()
      const changes: UploadDecision[] = []
      const monitor = new UploadSignalMonitor({
        sources: { document: s.document, navigator: { connection: s.connection, getBattery: async () => s.battery } },
        onChange: (d) => changes.push(d)
      })
      await monitor.start()
      expect(monitor.decision).to.deep.equal({ upload: true })
      expect(monitor.snapshot).to.include({ visibility: 'visible', batteryLevel: 1, batteryCharging: true, connectionType: 'wifi' })

      s.document.visibilityState = 'hidden'
      s.document.dispatchEvent(new Event('visibilitychange'))
      expect(monitor.decision).to.deep.equal({ upload: true, maxUploads: HIDDEN_UPLOADS })
      // the same decision again is not a change
      s.document.dispatchEvent(new Event('visibilitychange'))
      s.document.visibilityState = 'visible'
      s.document.dispatchEvent(new Event('visibilitychange'))

      s.battery.level = 0.1
      s.battery.dispatchEvent(new Event('levelchange'))
      expect(monitor.decision).to.deep.equal({ upload: true }, 'still charging')
      s.battery.charging = false
      s.battery.dispatchEvent(new Event('chargingchange'))
      expect(monitor.decision).to.deep.equal({ upload: false, reason: 'battery' })
      s.battery.charging = true
      s.battery.dispatchEvent(new Event('chargingchange'))

      s.connection.type = 'cellular'
      s.connection.dispatchEvent(new Event('change'))
      expect(monitor.decision).to.deep.equal({ upload: false, reason: 'cellular' })
      s.connection.saveData = true
      s.connection.dispatchEvent(new Event('change'))
      expect(monitor.decision).to.deep.equal({ upload: false, reason: 'save-data' })

      expect(changes).to.deep.equal([
        { upload: true, maxUploads: HIDDEN_UPLOADS },
        { upload: true },
        { upload: false, reason: 'battery' },
        { upload: true },
        { upload: false, reason: 'cellular' },
        { upload: false, reason: 'save-data' }
      ])

      monitor.stop()
      s.connection.saveData = false
      s.connection.type = 'wifi'
      s.connection.dispatchEvent(new Event('change'))
      expect(changes).to.have.lengthOf(6, 'a stopped monitor no longer listens')
    })

    it('reports a hidden page entering and leaving its background budget, and a budget of 0 as a pause', async () => {
      const s = sources()
      const changes: UploadDecision[] = []
      const paused: UploadDecision[] = []
      const monitor = new UploadSignalMonitor({ sources: { document: s.document }, hiddenUploads: 2, onChange: (d) => changes.push(d) })
      const pausing = new UploadSignalMonitor({ sources: { document: s.document }, hiddenUploads: 0, onChange: (d) => paused.push(d) })
      await Promise.all([monitor.start(), pausing.start()])
      for (const state of ['hidden', 'visible', 'hidden']) {
        s.document.visibilityState = state
        s.document.dispatchEvent(new Event('visibilitychange'))
      }
      expect(changes).to.deep.equal([{ upload: true, maxUploads: 2 }, { upload: true }, { upload: true, maxUploads: 2 }])
      expect(paused).to.deep.equal([{ upload: false, reason: 'hidden' }, { upload: true }, { upload: false, reason: 'hidden' }])
      monitor.stop()
      pausing.stop()
    })

    it('does without a Battery API that refuses', async () => {
      const s = sources()
      const monitor = new UploadSignalMonitor({
        sources: { document: s.document, navigator: { getBattery: async () => { throw new DOMException('not allowed', 'NotAllowedError') } } }
      })
      await monitor.start()
      expect(monitor.decision).to.deep.equal({ upload: true })
      expect(monitor.snapshot.batteryLevel).to.be.undefined()
      monitor.stop()
    })

    it('does not listen under "always" or "never"', async () => {
      const s = sources()
      s.document.visibilityState = 'hidden'
      const always = new UploadSignalMonitor({ policy: 'always', sources: { document: s.document } })
      const never = new UploadSignalMonitor({ policy: 'never', sources: { document: s.document } })
      await always.start()
      await never.start()
      expect(always.decision).to.deep.equal({ upload: true })
      expect(never.decision).to.deep.equal({ upload: false, reason: 'never' })
      always.stop()
      never.stop()
    })
  })
})
