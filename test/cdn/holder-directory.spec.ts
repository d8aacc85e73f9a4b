import { expect } from 'aegir/chai'
import fc from 'fast-check'
import { SeededRandom } from '../../sim/random.ts'
import { HOLDERS_PER_ANSWER, HolderDirectory, MAX_HOLDERS_PER_KEY } from '../../src/cdn/holder-directory.ts'
import type { Peer } from '../../src/overlay/seams.ts'

function holder (n: number): Peer {
  return { id: BigInt(1000 + n), address: `h${n}` }
}

const addressesOf = (peers: readonly Peer[]): string[] => peers.map(p => p.address)

function checkLocateSample (count: number, perAnswer: number, except: number | null, seed: number): void {
  const dir = new HolderDirectory({ holdersPerAnswer: perAnswer, maxHoldersPerKey: 32 })
  for (let i = 0; i < count; i++) {
    dir.announce(7n, holder(i))
  }
  const exceptAddress = except != null ? `h${except}` : undefined
  const answer = addressesOf(dir.locate(7n, new SeededRandom(seed), exceptAddress))
  const eligible = addressesOf(dir.holders(7n)).filter(a => a !== exceptAddress)
  expect(answer).to.have.length(Math.min(perAnswer, eligible.length))
  expect(new Set(answer).size).to.equal(answer.length)
  for (const a of answer) {
    expect(eligible).to.include(a)
  }
}

describe('HolderDirectory', () => {
  it('lists the holders of a key most recent first, each once', () => {
    const dir = new HolderDirectory()
    dir.announce(1n, holder(1))
    dir.announce(1n, holder(2))
    dir.announce(1n, holder(3))
    dir.announce(1n, holder(1))
    expect(addressesOf(dir.holders(1n))).to.deep.equal(['h1', 'h3', 'h2'])
    expect(dir.holders(2n)).to.deep.equal([])
    expect(dir.size).to.equal(1)
  })

  it('keeps at most maxHoldersPerKey holders per key, dropping the least recent', () => {
    const dir = new HolderDirectory({ maxHoldersPerKey: 3 })
    for (let i = 0; i < 5; i++) {
      dir.announce(1n, holder(i))
    }
    expect(addressesOf(dir.holders(1n))).to.deep.equal(['h4', 'h3', 'h2'])
  })

  it('keeps MAX_HOLDERS_PER_KEY holders per key by default', () => {
    const dir = new HolderDirectory()
    for (let i = 0; i < MAX_HOLDERS_PER_KEY + 5; i++) {
      dir.announce(1n, holder(i))
    }
    expect(dir.holders(1n)).to.have.length(MAX_HOLDERS_PER_KEY)
  })

  it('evicts the least recently used key when it holds more than maxKeys', () => {
    const dir = new HolderDirectory({ maxKeys: 3 })
    const random = new SeededRandom(1)
    dir.announce(1n, holder(1))
    dir.announce(2n, holder(2))
    dir.announce(3n, holder(3))
    // a locate counts as a use: key 1 is now the most recent, key 2 the least
    dir.locate(1n, random)
    dir.announce(4n, holder(4))
    expect(dir.size).to.equal(3)
    expect(dir.holders(2n)).to.deep.equal([])
    expect(addressesOf(dir.holders(1n))).to.deep.equal(['h1'])
    // an announce counts as a use too
    dir.announce(3n, holder(5))
    dir.announce(5n, holder(6))
    expect(dir.holders(1n)).to.deep.equal([])
    expect(addressesOf(dir.holders(3n))).to.deep.equal(['h5', 'h3'])
  })

  describe('locate', () => {
    it('answers nothing for an unknown key', () => {
      expect(new HolderDirectory().locate(9n, new SeededRandom(1))).to.deep.equal([])
    })

    it('answers every holder when there are fewer than holdersPerAnswer', () => {
      const dir = new HolderDirectory({ holdersPerAnswer: 4 })
      dir.announce(1n, holder(1))
      dir.announce(1n, holder(2))
      expect(addressesOf(dir.locate(1n, new SeededRandom(1))).sort()).to.deep.equal(['h1', 'h2'])
    })

    it('samples at most holdersPerAnswer distinct holders of the key, never the one excepted', () => {
      fc.assert(fc.property(fc.integer({ min: 1, max: 20 }), fc.integer({ min: 1, max: 8 }), fc.option(fc.nat({ max: 25 })), fc.integer(), checkLocateSample), { numRuns: 500 })
    })

    it('answers HOLDERS_PER_ANSWER holders by default', () => {
      const dir = new HolderDirectory()
      for (let i = 0; i < 10; i++) {
        dir.announce(1n, holder(i))
      }
      expect(dir.locate(1n, new SeededRandom(1))).to.have.length(HOLDERS_PER_ANSWER)
    })

    it('spreads a popular key over all of its pooled holders across repeated answers', () => {
      const dir = new HolderDirectory({ holdersPerAnswer: 4, maxHoldersPerKey: 16, answerPool: 16 })
      for (let i = 0; i < 16; i++) {
        dir.announce(1n, holder(i))
      }
      const random = new SeededRandom('spread')
      const counts = new Map<string, number>()
      const ANSWERS = 400
      for (let i = 0; i < ANSWERS; i++) {
        for (const p of dir.locate(1n, random)) {
          counts.set(p.address, (counts.get(p.address) ?? 0) + 1)
        }
      }
      expect(counts.size).to.equal(16)
      // each holder is in 1/4 of the answers on average (100 of 400); nobody is the hot spot
      for (const [address, n] of counts) {
        expect(n, address).to.be.within(60, 140)
      }
      // and the most recent holder is not always first
      const firsts = new Set(Array.from({ length: 50 }, () => dir.locate(1n, random)[0].address))
      expect(firsts.size).to.be.greaterThan(8)
    })

    it('answers from the most recent holders only, so load moves on to newcomers', () => {
      const dir = new HolderDirectory({ holdersPerAnswer: 4, maxHoldersPerKey: 16, answerPool: 6 })
      for (let i = 0; i < 16; i++) {
        dir.announce(1n, holder(i))
      }
      const random = new SeededRandom('recent')
      const seen = new Set<string>()
      for (let i = 0; i < 200; i++) {
        for (const p of dir.locate(1n, random)) {
          seen.add(p.address)
        }
      }
      // the six most recent announcers are h15 … h10
      expect([...seen].sort()).to.deep.equal(['h10', 'h11', 'h12', 'h13', 'h14', 'h15'])
    })
  })

  describe('remove', () => {
    it('forgets one holder of a key, and the key with its last holder', () => {
      const dir = new HolderDirectory()
      dir.announce(1n, holder(1))
      dir.announce(1n, holder(2))
      dir.remove(1n, 'h1')
      expect(addressesOf(dir.holders(1n))).to.deep.equal(['h2'])
      dir.remove(1n, 'h9')
      expect(addressesOf(dir.holders(1n))).to.deep.equal(['h2'])
      dir.remove(1n, 'h2')
      expect(dir.size).to.equal(0)
      dir.remove(5n, 'h2')
      expect(dir.size).to.equal(0)
    })
  })

  describe('extract and merge', () => {
    it('removes and returns exactly the entries whose key matches', () => {
      const dir = new HolderDirectory()
      for (let k = 1n; k <= 6n; k++) {
        dir.announce(k, holder(Number(k)))
      }
      const out = dir.extract(k => k % 2n === 0n)
      expect(out.map(([k]) => k).sort()).to.deep.equal([2n, 4n, 6n])
      expect(out.find(([k]) => k === 4n)?.[1].map(p => p.address)).to.deep.equal(['h4'])
      expect(dir.size).to.equal(3)
      expect(dir.holders(2n)).to.deep.equal([])
      expect(addressesOf(dir.holders(3n))).to.deep.equal(['h3'])
    })

    it('selects the matching entries without removing them or changing their age', () => {
      const dir = new HolderDirectory({ maxKeys: 3 })
      for (let k = 1n; k <= 3n; k++) {
        dir.announce(k, holder(Number(k)))
      }
      const picked = dir.select(k => k === 1n)
      expect(picked.map(([k, holders]) => [k, addressesOf(holders)])).to.deep.equal([[1n, ['h1']]])
      // a copy: changing it leaves the directory alone
      picked[0][1].push(holder(9))
      expect(addressesOf(dir.holders(1n))).to.deep.equal(['h1'])
      // key 1 is still the oldest, so a fourth key evicts it
      dir.announce(4n, holder(4))
      expect(dir.holders(1n)).to.deep.equal([])
      expect(addressesOf(dir.holders(2n))).to.deep.equal(['h2'])
    })

    it('merges handed-over entries: known holders keep their place, new ones follow, within the bounds', () => {
      const dir = new HolderDirectory({ maxHoldersPerKey: 4 })
      dir.announce(1n, holder(1))
      dir.announce(1n, holder(2))
      dir.merge([[1n, [holder(1), holder(3), holder(4), holder(5)]], [2n, [holder(6)]]])
      expect(addressesOf(dir.holders(1n))).to.deep.equal(['h2', 'h1', 'h3', 'h4'])
      expect(addressesOf(dir.holders(2n))).to.deep.equal(['h6'])
    })

    it('lists a holder once even when the handed-over list repeats it', () => {
      const dir = new HolderDirectory()
      dir.merge([[1n, [holder(0), holder(1), holder(0)]]])
      expect(addressesOf(dir.holders(1n))).to.deep.equal(['h0', 'h1'])
    })

    it('evicts the least recently used keys when a merge brings too many', () => {
      const dir = new HolderDirectory({ maxKeys: 2 })
      dir.announce(1n, holder(1))
      dir.merge([[2n, [holder(2)]], [3n, [holder(3)]]])
      expect(dir.size).to.equal(2)
      expect(dir.holders(1n)).to.deep.equal([])
    })

    it('moves every entry from one directory to another unchanged', () => {
      const from = new HolderDirectory()
      const to = new HolderDirectory()
      for (let k = 1n; k <= 5n; k++) {
        for (let h = 0; h < 3; h++) {
          from.announce(k, holder(Number(k) * 10 + h))
        }
      }
      const before = [1n, 2n, 3n, 4n, 5n].map(k => addressesOf(from.holders(k)))
      to.merge(from.extract(() => true))
      expect(from.size).to.equal(0)
      expect([1n, 2n, 3n, 4n, 5n].map(k => addressesOf(to.holders(k)))).to.deep.equal(before)
    })
  })

  it('stays within its bounds and lists each holder once, whatever happens to it', () => {
    const op = fc.oneof(
      fc.record({ kind: fc.constant('announce' as const), key: fc.nat({ max: 9 }), h: fc.nat({ max: 12 }) }),
      fc.record({ kind: fc.constant('remove' as const), key: fc.nat({ max: 9 }), h: fc.nat({ max: 12 }) }),
      fc.record({ kind: fc.constant('locate' as const), key: fc.nat({ max: 9 }), h: fc.nat({ max: 12 }) }),
      fc.record({ kind: fc.constant('merge' as const), key: fc.nat({ max: 9 }), h: fc.nat({ max: 12 }) })
    )
    fc.assert(fc.property(fc.integer({ min: 1, max: 5 }), fc.integer({ min: 1, max: 5 }), fc.array(op, { maxLength: 80 }), (maxKeys, maxHolders, ops) => {
      const dir = new HolderDirectory({ maxKeys, maxHoldersPerKey: maxHolders, holdersPerAnswer: 2 })
      const random = new SeededRandom(1)
      for (const { kind, key, h } of ops) {
        const k = BigInt(key)
        switch (kind) {
          case 'announce': dir.announce(k, holder(h)); break
          case 'remove': dir.remove(k, `h${h}`); break
          case 'locate': expect(dir.locate(k, random).length).to.be.at.most(2); break
          case 'merge': dir.merge([[k, [holder(h), holder(h + 1)]]]); break
          default: throw new Error(`unknown operation ${String(kind)}`)
        }
        expect(dir.size).to.be.at.most(maxKeys)
        for (let x = 0n; x < 10n; x++) {
          const list = addressesOf(dir.holders(x))
          expect(list.length).to.be.at.most(maxHolders)
          expect(new Set(list).size).to.equal(list.length)
        }
      }
    }), { numRuns: 300 })
  })
})
