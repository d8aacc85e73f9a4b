/**
 * `hangUpOnExit` (src/browser/hang-up-on-exit.ts) on a real `EventTarget`:
 * a page that goes away aborts its connections synchronously, one that
 * enters the back/forward cache keeps them. That a peer then notices at
 * once is tested in Chromium (test/browser/webrtc-dials.spec.ts).
 */
import { expect } from 'aegir/chai'
import { hangUpOnExit } from '../../src/browser/hang-up-on-exit.ts'

/** A connection that records why it was aborted */
function recorder (): { abort(err: Error): void, errors: Error[] } {
  const errors: Error[] = []
  return { abort: (err: Error) => { errors.push(err) }, errors }
}

function pageHide (persisted: boolean): Event {
  return Object.assign(new Event('pagehide'), { persisted })
}

describe('hangUpOnExit', () => {
  it('aborts every connection with PageExitError as the page goes away, before the event returns', () => {
    const window = new EventTarget()
    const connections = [recorder(), recorder()]
    hangUpOnExit(window, () => connections)
    window.dispatchEvent(pageHide(false))
    for (const c of connections) {
      expect(c.errors.map(e => e.name)).to.deep.equal(['PageExitError'])
    }
  })

  it('keeps the connections of a page entering the back/forward cache', () => {
    const window = new EventTarget()
    const connection = recorder()
    hangUpOnExit(window, () => [connection])
    window.dispatchEvent(pageHide(true))
    expect(connection.errors).to.be.empty()
  })

  it('stops listening once removed, and does nothing without a window', () => {
    const window = new EventTarget()
    const connection = recorder()
    hangUpOnExit(window, () => [connection])()
    window.dispatchEvent(pageHide(false))
    expect(connection.errors).to.be.empty()
    expect(() => { hangUpOnExit(undefined, () => [connection])() }).to.not.throw()
  })
})
