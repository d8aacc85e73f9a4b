import { expect } from 'aegir/chai'
import fc from 'fast-check'
import { joinOrder } from '../../src/overlay/join-order.ts'
import { RingRequest } from '../../src/overlay/messages.ts'
import { distance, RING_SIZE } from '../../src/overlay/ring-id.ts'
import { observeRequests, SimRing } from './sim-ring.ts'
import type { Address } from '../../src/overlay/seams.ts'

const id = fc.bigInt({ min: 0n, max: RING_SIZE - 1n })

describe('join order: the contact nearest the joiner\'s place first', () => {
  it('puts the contacts with known ids in clockwise order from the joiner, the others after in their order', () => {
    fc.assert(fc.property(id, fc.uniqueArray(fc.tuple(fc.string({ minLength: 1, maxLength: 6 }), fc.option(id, { nil: undefined })), { selector: ([a]) => a, maxLength: 12 }), (self, contacts) => {
      const ids = new Map(contacts)
      const ordered = joinOrder(self, contacts.map(([a]) => a), (a) => ids.get(a))
      expect([...ordered].sort()).to.deep.equal(contacts.map(([a]) => a).sort())
      const known = ordered.filter(a => ids.get(a) != null)
      const unknown = ordered.filter(a => ids.get(a) == null)
      expect(ordered).to.deep.equal([...known, ...unknown])
      expect(unknown).to.deep.equal(contacts.map(([a]) => a).filter(a => ids.get(a) == null))
      for (let i = 1; i < known.length; i++) {
        const before = ids.get(known[i - 1]) as bigint
        const after = ids.get(known[i]) as bigint
        expect(distance(self, before) <= distance(self, after), `${known[i - 1]} before ${known[i]}`).to.equal(true)
      }
    }))
  })

  it('keeps the given order without ids', () => {
    expect(joinOrder(5n, ['c', 'a', 'b'])).to.deep.equal(['c', 'a', 'b'])
  })

  for (const withIds of [true, false]) {
    it(`asks ${withIds ? 'the joiner\'s successor' : 'the first contact'} first when the ring node ${withIds ? 'knows' : 'does not know'} the contacts' ids`, async () => {
      const ring = new SimRing({ seed: 'join-order' })
      const members = await ring.build(['m10', 'm20', 'm30', 'm40'], [10n << 248n, 20n << 248n, 30n << 248n, 40n << 248n])
      const asked: Address[] = []
      const ids = new Map(members.map(m => [m.self.address, m.self.id]))
      const joiner = ring.add('j', 25n << 248n, withIds ? { idOf: (a) => ids.get(a) } : {}, observeRequests((to, req) => {
        if (req.type === RingRequest.Type.ROUTE) {
          asked.push(to)
        }
      }))
      // the successor of 25 is m30, last in the list the joiner is handed
      await ring.join(joiner, 'm40', 'm10', 'm20', 'm30')
      expect(asked[0]).to.equal(withIds ? 'm30' : 'm40')
      expect(joiner.successors[0].address).to.equal('m30')
    })
  }
})
