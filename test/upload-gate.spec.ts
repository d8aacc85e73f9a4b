/**
 * The upload gate the CDN service asks: the content server's run-time cap
 * (`maxUploads`) and whether home copies may be made (`copiesAllowed`), as a
 * page becomes hidden and visible. The gate reads the page's signals from
 * `globalThis`, so a browser-shaped `document` stands in for the page's
 * while each test runs.
 */
import { defaultLogger } from '@libp2p/logger'
import { expect } from 'aegir/chai'
import { UploadGate } from '../src/upload-gate.ts'
import { HIDDEN_UPLOADS } from '../src/upload-policy.ts'

describe('upload gate', () => {
  const log = defaultLogger().forComponent('test:upload-gate')
  let page: EventTarget & { visibilityState: string }
  let gates: UploadGate[] = []

  function gate (init: Omit<ConstructorParameters<typeof UploadGate>[0], 'log'> = {}): UploadGate {
    const g = new UploadGate({ ...init, log })
    g.start()
    gates.push(g)
    return g
  }

  function show (state: 'hidden' | 'visible'): void {
    page.visibilityState = state
    page.dispatchEvent(new Event('visibilitychange'))
  }

  beforeEach(() => {
    page = Object.assign(new EventTarget(), { visibilityState: 'visible' })
    ;(globalThis as any).document = page
  })

  afterEach(() => {
    gates.forEach(g => { g.stop() })
    gates = []
    delete (globalThis as any).document
  })

  it('caps uploads to the background budget and stops home copies while the page is hidden', () => {
    const g = gate()
    expect([g.maxUploads, g.copiesAllowed]).to.deep.equal([undefined, true])
    show('hidden')
    expect(g.state).to.deep.equal({ upload: true, maxUploads: HIDDEN_UPLOADS })
    expect([g.maxUploads, g.copiesAllowed]).to.deep.equal([HIDDEN_UPLOADS, false])
    show('visible')
    expect([g.maxUploads, g.copiesAllowed]).to.deep.equal([undefined, true])
  })

  it('caps at 0 when paused, by a budget of 0 or by the caller, and lets no copy through', () => {
    const zero = gate({ options: { hiddenUploads: 0 } })
    const paused = gate()
    paused.pause()
    show('hidden')
    expect([zero.maxUploads, zero.copiesAllowed]).to.deep.equal([0, false])
    expect([paused.maxUploads, paused.copiesAllowed, paused.state]).to.deep.equal([0, false, { upload: false, reason: 'custom' }])
  })

  it('keeps no budget under "always", and refuses a bad budget with a named error', () => {
    const always = gate({ policy: 'always' })
    show('hidden')
    expect([always.maxUploads, always.copiesAllowed]).to.deep.equal([undefined, true])
    expect(() => new UploadGate({ options: { hiddenUploads: -1 }, log })).to.throw().with.property('name', 'InvalidUploadPolicyError')
  })
})
