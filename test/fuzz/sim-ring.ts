/**
 * A small ring in the simulator for the handler fuzz tests and the long fuzz
 * run: production `RingNode`s with a `DirectoryService` each, over
 * `SimNetwork` in virtual time, built the way `sim/page.ts` builds its
 * pages, plus one extra address (`FUZZER`) that talks to the members in raw
 * bytes.
 *
 * The fuzzer's endpoint registers the ring protocol's name with an identity
 * codec: what it sends reaches the members' real `RingRequest` decoder
 * untouched, and what they answer comes back as the encoded `RingResponse`.
 * It registers no handler, so a member that learns of it and calls it gets
 * `PeerUnreachableError`, like a peer that does not serve the protocol.
 */
import { createHash } from 'node:crypto'
import { SimNetwork } from '../../sim/network/network.ts'
import { Oracle } from '../../sim/oracle.ts'
import { SeededRandom } from '../../sim/random.ts'
import { Scheduler } from '../../sim/scheduler.ts'
import { DirectoryService } from '../../src/cdn/directory-service.ts'
import { RingRequest, RingResponse } from '../../src/overlay/messages.ts'
import { idFromBytes } from '../../src/overlay/ring-id.ts'
import { RingNode } from '../../src/overlay/ring-node.ts'
import { ringProtocol } from '../overlay/sim-ring.ts'
import type { SimProtocol } from '../../sim/network/protocol.ts'
import type { Peer, Rpc } from '../../src/overlay/seams.ts'

/** The namespace the fuzz ring serves; requests for any other get `WrongNamespaceError` */
export const FUZZ_NAMESPACE = 'ringcdn-fuzz'

/** The raw sender's address (a peer id-like string, like the simulator's) */
export const FUZZER = '12D3KooWfuzzer00000000000000000000000000000000000000'

/** Deadline of one raw request, virtual ms: longer than any lookup budget a member grants itself */
export const RAW_TIMEOUT_MS = 12_000

/** Virtual time after the last member joined before the ring counts as built */
const SETTLE_MS = 60_000

const ADDRESS_LENGTH = 52

export { ringProtocol }

/** Same protocol name, no codec: bytes in, bytes out */
const rawProtocol: SimProtocol<Uint8Array, Uint8Array> = {
  name: 'ring',
  encodeRequest: (bytes) => bytes,
  decodeRequest: (bytes) => bytes,
  encodeResponse: (bytes) => bytes,
  decodeResponse: (bytes) => bytes
}

export interface Member {
  peer: Peer
  ring: RingNode
  directory: DirectoryService
}

/**
 * What a raw request came back with:
 * - `answer`: the member's handler answered (`res.error` is its error code, 0 for success)
 * - `refused`: the network layer answered with an error before or around the
 * handler (the request did not decode, the handler threw) — `code` is the wire code
 * - `timeout`: no answer within the deadline
 * - `unreachable`: the address does not serve the protocol
 */
export type RawOutcome =
  | { kind: 'answer', res: RingResponse, code: number }
  | { kind: 'refused', code: number, message: string }
  | { kind: 'timeout' }
  | { kind: 'unreachable' }

export interface LookupCheck {
  correct: number
  wrong: number
  failed: number
  /** The first few wrong or failed lookups, for the failure message */
  problems: string[]
}

export function simAddress (n: number): string {
  const tail = n.toString(36)
  return '12D3KooW' + tail.padStart(ADDRESS_LENGTH - 8, '0')
}

export function simPeer (address: string): Peer {
  return { id: idFromBytes(createHash('sha256').update(address).digest()), address }
}

export interface FuzzRingInit {
  seed: number | string
  /** @default 8 */
  nodes?: number
}

export class FuzzRing {
  readonly scheduler: Scheduler
  readonly network: SimNetwork
  readonly oracle = new Oracle()
  readonly members: Member[] = []
  readonly random: SeededRandom
  /** The fuzzer as a ring peer (its real address and the id it would have) */
  readonly fuzzer: Peer = simPeer(FUZZER)
  private readonly raw: Rpc<Uint8Array, Uint8Array>

  private constructor (seed: number | string) {
    this.random = new SeededRandom(seed)
    this.scheduler = new Scheduler()
    this.network = new SimNetwork(this.scheduler, this.random.fork('network'))
    this.raw = this.network.rpc(FUZZER, rawProtocol)
  }

  /** Builds the ring: the first member creates it, the others join one by one, then it settles */
  static async create (init: FuzzRingInit): Promise<FuzzRing> {
    const ring = new FuzzRing(init.seed)
    const clock = ring.scheduler.clock()
    for (let i = 0; i < (init.nodes ?? 8); i++) {
      const peer = simPeer(simAddress(i))
      const random = ring.random.fork(`node:${peer.address}`)
      const node = new RingNode({ clock, random, rpc: ring.network.rpc(peer.address, ringProtocol) }, {
        self: peer,
        namespace: FUZZ_NAMESPACE,
        bootstrap: () => ring.members.map(m => m.peer.address).filter(a => a !== peer.address).slice(0, 3)
      })
      const directory = new DirectoryService({ ring: node, random })
      if (i === 0) {
        node.create()
      } else {
        await ring.scheduler.settle(node.join([ring.members[0].peer.address]), { maxTime: 60_000 })
      }
      ring.members.push({ peer, ring: node, directory })
      ring.oracle.add(peer)
    }
    await ring.advance(SETTLE_MS)
    return ring
  }

  member (address: string): Member {
    const m = this.members.find(m => m.peer.address === address)
    if (m == null) {
      throw new Error(`no member ${address}`)
    }
    return m
  }

  /** Runs virtual time forward */
  async advance (ms: number): Promise<void> {
    await this.scheduler.run({ until: this.scheduler.now + ms })
  }

  /** Every member's first successor and predecessor are the true ones */
  converged (): boolean {
    return this.members.every(m =>
      m.ring.successors[0]?.address === this.oracle.next(m.peer)?.address &&
      m.ring.predecessor?.address === this.oracle.previous(m.peer)?.address
    )
  }

  /** One line per member that is not converged: what it believes and what is true */
  describeViolations (): string[] {
    return this.members.filter(m =>
      m.ring.successors[0]?.address !== this.oracle.next(m.peer)?.address ||
      m.ring.predecessor?.address !== this.oracle.previous(m.peer)?.address
    ).map(m => `${m.peer.address.slice(-4)}: successor ${m.ring.successors[0]?.address.slice(-4)} (true ${this.oracle.next(m.peer)?.address.slice(-4)}), predecessor ${m.ring.predecessor?.address.slice(-4)} (true ${this.oracle.previous(m.peer)?.address.slice(-4)})`)
  }

  /** Sends raw bytes on the ring protocol from the fuzzer and runs virtual time until they are answered */
  async sendRaw (to: string, bytes: Uint8Array, timeout: number = RAW_TIMEOUT_MS): Promise<RawOutcome> {
    try {
      const answer = await this.scheduler.settle(this.raw.request(to, bytes, { timeout }), { maxTime: timeout + 1_000 })
      const res = RingResponse.decode(answer)
      return { kind: 'answer', res, code: res.error }
    } catch (err: any) {
      switch (err.name) {
        case 'RemoteError': return { kind: 'refused', code: err.code, message: err.message }
        case 'RpcTimeoutError': return { kind: 'timeout' }
        case 'PeerUnreachableError': return { kind: 'unreachable' }
        default: throw err
      }
    }
  }

  /**
   * Sends many raw requests at once and runs virtual time until every one is
   * settled; outcomes in the order given
   */
  async sendMany (items: Array<{ to: string, bytes: Uint8Array }>, timeout: number = RAW_TIMEOUT_MS): Promise<RawOutcome[]> {
    const pending = items.map(async ({ to, bytes }): Promise<RawOutcome> => {
      try {
        const res = RingResponse.decode(await this.raw.request(to, bytes, { timeout }))
        return { kind: 'answer', res, code: res.error }
      } catch (err: any) {
        switch (err.name) {
          case 'RemoteError': return { kind: 'refused', code: err.code, message: err.message }
          case 'RpcTimeoutError': return { kind: 'timeout' }
          case 'PeerUnreachableError': return { kind: 'unreachable' }
          default: throw err
        }
      }
    })
    return this.scheduler.settle(Promise.all(pending), { maxTime: timeout + 1_000 })
  }

  /** Encodes `req` (namespace defaults to the ring's) and sends it raw */
  async send (to: string, req: Partial<RingRequest>, timeout?: number): Promise<RawOutcome> {
    return this.sendRaw(to, RingRequest.encode({ namespace: FUZZ_NAMESPACE, type: RingRequest.Type.UNKNOWN, ...req }), timeout)
  }

  /** `count` lookups of random keys, each from a random member, judged against the oracle */
  async checkLookups (count: number, random: SeededRandom = this.random.fork(`check:${this.scheduler.now}`)): Promise<LookupCheck> {
    const check: LookupCheck = { correct: 0, wrong: 0, failed: 0, problems: [] }
    for (let i = 0; i < count; i++) {
      const from = this.members[random.int(this.members.length)]
      const key = idFromBytes(createHash('sha256').update(`check:${random.next()}`).digest())
      const truth = this.oracle.successor(key)?.address
      try {
        const res = await this.scheduler.settle(from.ring.lookup(key), { maxTime: 30_000 })
        if (res.owner.address === truth) {
          check.correct++
        } else {
          check.wrong++
          if (check.problems.length < 5) {
            check.problems.push(`from ${from.peer.address.slice(-4)}: owner ${res.owner.address.slice(-4)}, true ${truth?.slice(-4)}`)
          }
        }
      } catch (err: any) {
        check.failed++
        if (check.problems.length < 5) {
          check.problems.push(`from ${from.peer.address.slice(-4)}: ${err.name} ${err.message}`)
        }
      }
    }
    return check
  }

  /** The member that truly owns `key` */
  owner (key: bigint): Member {
    const owner = this.oracle.successor(key)
    if (owner == null) {
      throw new Error('empty ring')
    }
    return this.member(owner.address)
  }

  stop (): void {
    for (const m of this.members) {
      m.ring.stop()
    }
  }
}
