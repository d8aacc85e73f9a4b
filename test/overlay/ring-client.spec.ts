import { expect } from 'aegir/chai'
import { SimNetwork } from '../../sim/network/network.ts'
import { SeededRandom } from '../../sim/random.ts'
import { Scheduler } from '../../sim/scheduler.ts'
import { Liveness } from '../../src/overlay/liveness.ts'
import { RingRequest, RingResponse } from '../../src/overlay/messages.ts'
import { RingClient } from '../../src/overlay/ring-client.ts'
import { resolveSettings } from '../../src/overlay/settings.ts'
import { ringProtocol } from './sim-ring.ts'

/** Far beyond the moments the tests abort at: a request that ends at ABORT_AT was aborted, not timed out */
const REQUEST_TIMEOUT_MS = 10_000
const ABORT_AT = 1_000

describe('RingClient request scopes', () => {
  let scheduler: Scheduler
  let lifetime: AbortController
  let client: RingClient

  beforeEach(() => {
    scheduler = new Scheduler()
    const network = new SimNetwork(scheduler, new SeededRandom(1))
    // a peer that takes every request and never answers, and one that answers at once
    network.rpc('silent', ringProtocol).handle(async () => new Promise<RingResponse>(() => {}))
    network.rpc('answers', ringProtocol).handle(async () => ({ error: 0, message: '' }))
    const clock = scheduler.clock()
    const settings = resolveSettings({ self: { id: 1n, address: 'client' } })
    lifetime = new AbortController()
    client = new RingClient({
      rpc: network.rpc('client', ringProtocol),
      clock,
      settings,
      liveness: new Liveness(clock, settings),
      lifetime: () => lifetime.signal
    })
  })

  async function failure (p: Promise<unknown>): Promise<Error> {
    try {
      await scheduler.settle(p)
    } catch (err: any) {
      return err
    }
    throw new Error('expected the request to fail')
  }

  function probe (to: string, signal: AbortSignal): Promise<RingResponse> {
    return client.call(to, { type: RingRequest.Type.PROBE }, REQUEST_TIMEOUT_MS, signal)
  }

  it('aborts the requests still in flight when the scope ends, and leaves the answered ones answered', async () => {
    const scope = client.scope()
    const answered = probe('answers', scope.signal)
    const pending = probe('silent', scope.signal)
    await scheduler.settle(answered)
    scheduler.at(ABORT_AT, () => { scope.end(new Error('over')) })
    const err = await failure(pending)
    expect(err.name).to.equal('AbortError')
    expect(scheduler.now).to.equal(ABORT_AT)
  })

  it('aborts a scope\'s requests when the caller\'s own signal aborts', async () => {
    const caller = new AbortController()
    const scope = client.scope(caller.signal)
    const pending = probe('silent', scope.signal)
    scheduler.at(ABORT_AT, () => { caller.abort() })
    const err = await failure(pending)
    expect(err.name).to.equal('AbortError')
    expect(scheduler.now).to.equal(ABORT_AT)
    scope.end(new Error('over'))
  })

  it('aborts every open scope\'s requests when the node stops, and fails at once in a scope begun after', async () => {
    const first = client.scope()
    const second = client.scope(new AbortController().signal)
    const pending = [probe('silent', first.signal), probe('silent', second.signal)]
    // both reject at once; the second is looked at once the first is
    pending.forEach(p => { p.catch(() => {}) })
    scheduler.at(ABORT_AT, () => { lifetime.abort() })
    for (const p of pending) {
      expect((await failure(p)).name).to.equal('AbortError')
      expect(scheduler.now).to.equal(ABORT_AT)
    }
    const late = client.scope()
    expect(late.signal.aborted).to.equal(true)
    expect((await failure(probe('silent', late.signal))).name).to.equal('AbortError')
    expect(scheduler.now).to.equal(ABORT_AT)
  })

  it('ties the scopes of a restarted node to its new lifetime', async () => {
    client.scope().end(new Error('over'))
    lifetime.abort()
    lifetime = new AbortController()
    const scope = client.scope()
    expect(scope.signal.aborted).to.equal(false)
    const pending = probe('silent', scope.signal)
    scheduler.at(ABORT_AT, () => { lifetime.abort() })
    expect((await failure(pending)).name).to.equal('AbortError')
    expect(scheduler.now).to.equal(ABORT_AT)
  })

  it('still ends a request in a scope at its deadline', async () => {
    const scope = client.scope()
    const err = await failure(probe('silent', scope.signal))
    expect(err.name).to.equal('RpcTimeoutError')
    expect(scheduler.now).to.equal(REQUEST_TIMEOUT_MS)
    scope.end(new Error('over'))
  })
})
