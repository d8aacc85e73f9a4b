/**
 * A small simulated ring for behaviour tests: production `RingNode`s over
 * `SimNetwork` in virtual time, plus the ground truth (the sorted live set)
 * to judge them against. Tests drive time only through the scheduler.
 */

import { SimNetwork } from '../../sim/network/network.ts'
import { SeededRandom } from '../../sim/random.ts'
import { Scheduler } from '../../sim/scheduler.ts'
import { nodeIdFromBytes } from '../../src/keys.ts'
import { decodeRingRequest, decodeRingResponse, encodeRingRequest, encodeRingResponse } from '../../src/overlay/codec.ts'
import { RingRequest } from '../../src/overlay/messages.ts'
import { compareIds } from '../../src/overlay/ring-id.ts'
import { RingNode } from '../../src/overlay/ring-node.ts'
import type { SimNetworkInit } from '../../sim/network/network.ts'
import type { SimProtocol } from '../../sim/network/protocol.ts'
import type { RingResponse } from '../../src/overlay/messages.ts'
import type { RingNodeInit, RoutingSnapshot } from '../../src/overlay/ring-node.ts'
import type { Address, Clock, Peer, Rpc } from '../../src/overlay/seams.ts'

/**
 * The ring protocol as the simulator carries it, for every test harness:
 * through the production codec, with its decode limits
 */
export const ringProtocol: SimProtocol<RingRequest, RingResponse> = {
  name: 'ring',
  encodeRequest: encodeRingRequest,
  decodeRequest: decodeRingRequest,
  encodeResponse: encodeRingResponse,
  decodeResponse: decodeRingResponse,
  classify: (req) => {
    switch (req.type) {
      case RingRequest.Type.ROUTE: return req.route?.maintenance === true ? 'maintenance' : 'lookup'
      case RingRequest.Type.APP: return 'directory'
      default: return 'maintenance'
    }
  }
}

/** Stabilize period the behaviour tests use, virtual ms */
export const TEST_STABILIZE_MS = 1_000
/** Fix-fingers period the behaviour tests use, virtual ms */
export const TEST_FIX_FINGERS_MS = 1_000

export interface SimRingInit {
  seed?: number | string
  network?: SimNetworkInit
  /** Applied to every node unless the node's own init overrides it */
  node?: Partial<RingNodeInit>
}

export class SimRing {
  readonly scheduler = new Scheduler()
  readonly network: SimNetwork
  readonly random: SeededRandom
  /** Every node ever made, by address */
  readonly nodes = new Map<Address, RingNode>()
  /** Addresses of the nodes that count as ring members for the truth */
  private readonly live = new Set<Address>()
  private readonly defaults: Partial<RingNodeInit>

  constructor (init: SimRingInit = {}) {
    this.random = new SeededRandom(init.seed ?? 1)
    this.network = new SimNetwork(this.scheduler, this.random.fork('network'), init.network)
    this.defaults = { stabilizeIntervalMs: TEST_STABILIZE_MS, fixFingersIntervalMs: TEST_FIX_FINGERS_MS, ...init.node }
  }

  get now (): number {
    return this.scheduler.now
  }

  /** A node at `id` (default: SHA-256 of its address), not yet part of any ring */
  add (address: Address, id?: bigint, init: Partial<RingNodeInit> = {}, wrapRpc?: (rpc: Rpc<RingRequest, RingResponse>) => Rpc<RingRequest, RingResponse>, wrapClock?: (clock: Clock) => Clock): RingNode {
    const self: Peer = { id: id ?? nodeIdFromBytes(new TextEncoder().encode(address)), address }
    const rpc = this.network.rpc(address, ringProtocol)
    const clock = this.scheduler.clock()
    const node = new RingNode({
      clock: wrapClock?.(clock) ?? clock,
      random: this.random.fork(`node:${address}`),
      rpc: wrapRpc?.(rpc) ?? rpc
    }, { ...this.defaults, ...init, self })
    // heard only when the network models it (`connectionLossMs`)
    this.network.onConnectionLost(address, (lost) => { node.connectionLost(lost) })
    this.nodes.set(address, node)
    return node
  }

  /** A raw endpoint on the same network, for hand-made requests */
  rawRpc (address: Address): Rpc<RingRequest, RingResponse> {
    return this.network.rpc(address, ringProtocol)
  }

  /** Starts a new ring with `node` as its only member */
  create (node: RingNode): void {
    node.create()
    this.live.add(node.self.address)
  }

  /** Makes `node` a member with the given routing state (`RingNode.resume`) and counts it as one */
  resume (node: RingNode, snapshot: RoutingSnapshot): void {
    node.resume(snapshot)
    this.live.add(node.self.address)
  }

  /** Joins `node` through the first of `contacts` that answers and counts it as a member once joined */
  async join (node: RingNode, ...contacts: Array<RingNode | Address>): Promise<void> {
    await this.scheduler.settle(node.join(contacts.map(c => typeof c === 'string' ? c : c.self.address)))
    this.live.add(node.self.address)
  }

  /** Joins every node of `nodes` at once through `contact`; resolves when all have joined */
  async joinAll (nodes: RingNode[], contact: RingNode): Promise<void> {
    await this.scheduler.settle(Promise.all(nodes.map(async node => {
      await node.join([contact.self.address])
      this.live.add(node.self.address)
    })))
  }

  /**
   * A ring of `addresses`, made one node at a time: each joins through up to
   * three random earlier members (tried in order)
   */
  async build (addresses: Address[], ids?: bigint[], init: Partial<RingNodeInit> = {}): Promise<RingNode[]> {
    const pick = this.random.fork('contacts')
    const made: RingNode[] = []
    for (let i = 0; i < addresses.length; i++) {
      const node = this.add(addresses[i], ids?.[i], init)
      if (made.length === 0) {
        this.create(node)
      } else {
        const contacts = [...new Set(Array.from({ length: 3 }, () => made[pick.int(made.length)]))]
        await this.join(node, ...contacts)
      }
      made.push(node)
    }
    return made
  }

  /** The node vanishes: its code stops and the network black-holes it */
  crash (node: RingNode): void {
    node.stop()
    this.network.crash(node.self.address)
    this.live.delete(node.self.address)
  }

  /** The node's code stops but its address still answers (with refusals) */
  stop (node: RingNode): void {
    node.stop()
    this.live.delete(node.self.address)
  }

  /** Graceful departure; resolves when `leave()` has */
  async leave (node: RingNode): Promise<void> {
    this.live.delete(node.self.address)
    await this.scheduler.settle(node.leave())
    this.network.leave(node.self.address)
  }

  /** Lets `ms` of virtual time pass */
  async run (ms: number): Promise<void> {
    await this.scheduler.run({ until: this.scheduler.now + ms })
  }

  /** Drives `p` to completion in virtual time */
  async settle<T> (p: Promise<T>): Promise<T> {
    return this.scheduler.settle(p)
  }

  /** Live members, sorted by id */
  members (): RingNode[] {
    return [...this.live].map(a => this.nodes.get(a) as RingNode).sort((a, b) => compareIds(a.self.id, b.self.id))
  }

  /** The true owner of `key`: the first live member at or after it, wrapping */
  owner (key: bigint): RingNode {
    const sorted = this.members()
    return sorted.find(n => n.self.id >= key) ?? sorted[0]
  }

  /** The true successor of a member */
  successorOf (node: RingNode): RingNode {
    const sorted = this.members()
    const i = sorted.findIndex(n => n.self.address === node.self.address)
    return sorted[(i + 1) % sorted.length]
  }

  /** The true predecessor of a member */
  predecessorOf (node: RingNode): RingNode {
    const sorted = this.members()
    const i = sorted.findIndex(n => n.self.address === node.self.address)
    return sorted[(i - 1 + sorted.length) % sorted.length]
  }

  /** Members whose first successor or predecessor is not the true one, as readable strings */
  violations (): string[] {
    const out: string[] = []
    for (const node of this.members()) {
      const succ = this.successorOf(node).self.address
      const pred = this.predecessorOf(node).self.address
      if (node.successors[0]?.address !== succ) {
        out.push(`${node.self.address}: successor ${node.successors[0]?.address} should be ${succ}`)
      }
      if (node.predecessor?.address !== pred) {
        out.push(`${node.self.address}: predecessor ${node.predecessor?.address} should be ${pred}`)
      }
    }
    return out
  }

  /** Runs stabilize rounds until the ring is right or `maxMs` passed; returns the time it took */
  async converge (maxMs: number, stepMs: number = TEST_STABILIZE_MS): Promise<number> {
    const start = this.now
    while (this.violations().length > 0 && this.now - start < maxMs) {
      await this.run(stepMs)
    }
    return this.now - start
  }

  /**
   * Looks up every key from every node in `from`, all at once, and judges the
   * answers against the truth at the time they arrive
   */
  async lookups (from: RingNode[], keys: bigint[]): Promise<LookupTally> {
    const tally: LookupTally = { total: 0, correct: 0, wrong: [], failed: [], maxHops: 0 }
    const all = from.flatMap(node => keys.map(async key => {
      tally.total++
      try {
        const res = await node.lookup(key)
        tally.maxHops = Math.max(tally.maxHops, res.hops)
        const owner = this.owner(key).self.address
        if (res.owner.address === owner) {
          tally.correct++
        } else {
          tally.wrong.push(`${node.self.address} → ${key.toString(16).slice(0, 8)}: ${res.owner.address}, owner is ${owner}`)
        }
      } catch (err: any) {
        tally.failed.push(`${node.self.address} → ${key.toString(16).slice(0, 8)}: ${err.name} ${err.message}`)
      }
    }))
    await this.settle(Promise.all(all))
    return tally
  }

  /** Stops every node so that no timers keep the scheduler busy */
  stopAll (): void {
    for (const node of this.nodes.values()) {
      node.stop()
    }
  }
}

export interface LookupTally {
  total: number
  correct: number
  /** Answers naming the wrong owner, readable */
  wrong: string[]
  /** Lookups that rejected, readable */
  failed: string[]
  maxHops: number
}

/** Addresses `n0 … n(count-1)` */
export function addresses (count: number, prefix: string = 'n'): Address[] {
  return Array.from({ length: count }, (_, i) => `${prefix}${i}`)
}

/** `count` uniformly random 256-bit keys from a seeded stream */
export function randomKeys (count: number, seed: number | string = 'keys'): bigint[] {
  const r = new SeededRandom(seed)
  return Array.from({ length: count }, () => {
    let x = 0n
    for (let i = 0; i < 8; i++) {
      x = (x << 32n) | BigInt(r.uint32())
    }
    return x
  })
}

/** A `wrapRpc` for `SimRing.add` that shows `seen` every request the node sends, before it goes out */
export function observeRequests (seen: (to: Address, req: RingRequest, timeout: number) => void): (rpc: Rpc<RingRequest, RingResponse>) => Rpc<RingRequest, RingResponse> {
  return rpc => ({
    request: async (to, req, options) => {
      seen(to, req, options.timeout)
      return rpc.request(to, req, options)
    },
    handle: (handler) => { rpc.handle(handler) }
  })
}
