import { expect } from 'aegir/chai'
import { splitProfile } from '../../sim/bench/cost-split.ts'
import type { CpuProfile } from '../../sim/bench/cost-split.ts'

const ROOT = '/repo'

/** A profile from a tree of frames: [functionName, url, selfMicroseconds, children] */
type Frame = [string, string, number, Frame[]?]

function profileOf (tree: Frame): CpuProfile {
  const profile: CpuProfile = { nodes: [], samples: [], timeDeltas: [] }
  let next = 1
  const add = ([functionName, url, self, children = []]: Frame): number => {
    const id = next++
    const node = { id, callFrame: { functionName, url }, children: [] as number[] }
    profile.nodes.push(node)
    node.children = children.map(add)
    if (self > 0) {
      profile.samples.push(id)
      profile.timeDeltas.push(self)
    }
    return id
  }
  add(tree)
  return profile
}

describe('sim cost split', () => {
  it('charges each sample to the innermost frame of ours or a dependency, Node internals to their caller', () => {
    const split = splitProfile(profileOf(['(root)', '', 0, [
      ['(garbage collector)', '', 70],
      ['(idle)', '', 5],
      ['(program)', '', 6],
      ['processImmediate', 'node:internal/timers', 8],
      ['loop', `file://${ROOT}/sim/scheduler.ts`, 10, [
        ['onRequestArrives', `file://${ROOT}/sim/network/delivery.ts`, 20, [
          ['onRequest', `file://${ROOT}/src/overlay/ring-node.ts`, 30, [
            ['encode', `file://${ROOT}/node_modules/protons-runtime/dist/src/encode.js`, 40, [
              ['allocUnsafe', 'node:buffer', 50]
            ]],
            ['peerToWire', `file://${ROOT}/src/overlay/wire.ts`, 60],
            ['has', 'node:internal/something', 1]
          ]],
          ['onRequest', `file://${ROOT}/src/cdn/directory-service.ts`, 2]
        ]],
        ['pRetry', `file://${ROOT}/node_modules/p-retry/index.js`, 3]
      ]],
      ['startConverged', `file://${ROOT}/sim/simulation.ts`, 4, [
        ['resume', `file://${ROOT}/src/overlay/ring-node.ts`, 100, [
          ['encode', `file://${ROOT}/node_modules/protons-runtime/dist/src/encode.js`, 200]
        ]]
      ]]
    ]]))
    expect(split).to.deep.equal({
      ring: 31,
      codec: 150,
      simulator: 30,
      cdn: 2,
      gc: 70,
      runtime: 19,
      other: 3,
      setup: 304
    })
  })

  it('charges repeated samples of one frame every time', () => {
    const profile = profileOf(['(root)', '', 0, [['onRequest', `file://${ROOT}/src/overlay/ring-node.ts`, 5]]])
    profile.samples.push(profile.samples[0], profile.samples[0])
    profile.timeDeltas.push(7, 9)
    expect(splitProfile(profile).ring).to.equal(21)
  })
})
