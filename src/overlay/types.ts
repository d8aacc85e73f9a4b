/**
 * The types a RingNode's users see: what it is built from, the application
 * riding on it, and what its lookups take and give back.
 */

import type { RingRequest, RingResponse } from './messages.ts'
import type { Address, Clock, Log, Peer, Random, Rpc } from './seams.ts'

export interface RingNodeComponents {
  clock: Clock
  random: Random
  rpc: Rpc<RingRequest, RingResponse>
  log?: Log
}

/**
 * The application riding on the ring (the CDN's holder directory). Every
 * hook is optional.
 */
export interface RingApplication {
  /** This node owns `key`: answer the payload a lookup carried to it */
  deliver?(key: bigint, payload: Uint8Array, from: Address): Promise<Uint8Array<ArrayBuffer> | undefined>
  /**
   * Our predecessor `owner` owns `key` but swallowed or lied about a lookup
   * for it: answer the payload from what we keep for it (a replica), or not
   * at all. Without this, such a lookup's answer carries no application answer
   */
  answerFor?(key: bigint, payload: Uint8Array, owner: Peer): Promise<Uint8Array<ArrayBuffer> | undefined>
  /** A direct (not routed) message from another node */
  message?(from: Address, payload: Uint8Array): Promise<Uint8Array<ArrayBuffer> | undefined>
  /** Leaving gracefully: the state to hand to the successor, which becomes home for our keys */
  handoverOnLeave?(): Uint8Array<ArrayBuffer> | undefined
  /** A leaving predecessor handed its state to us */
  receiveHandover?(from: Peer, payload: Uint8Array): void
  /**
   * The predecessor changed. When a node joined between the old predecessor
   * and us, keys in `(previous, current]` now belong to it
   */
  predecessorChanged?(previous: Peer | undefined, current: Peer | undefined): void
}

/** A node's routing state as `RingNode.resume` takes it */
export interface RoutingSnapshot {
  predecessor?: Peer
  /** Nearest first; at least one */
  successors: Peer[]
  /** Finger `index` is the successor of `fingerStart(self, index, fingerBits)` */
  fingers?: Array<{ index: number, peer: Peer }>
}

export interface JoinOptions {
  signal?: AbortSignal
  /** The ring answered the join's lookup of our own id: `owner` is to be our successor */
  onRouted?(owner: Peer): void
}

export interface LookupOptions {
  /** Payload delivered to the key's owner's application */
  app?: Uint8Array<ArrayBuffer>
  /** Ring upkeep rather than an application lookup (metered apart) */
  maintenance?: boolean
  /** @default the node's lookupTimeoutMs */
  timeout?: number
  /**
   * Peers the caller found lying about this key (e.g. a home whose answer
   * failed the caller's own check): the walk routes around them, and if one
   * owns the key its successor answers in its name (see `route`). At most
   * `MAX_AVOIDED_HOPS` are sent
   */
  avoid?: Address[]
  signal?: AbortSignal
  /**
   * Asks the owner the walk named, directly, whether it still owns the key
   * before the lookup resolves: an answer that crossed a join or a departure
   * near the key on its way back along the path is corrected (one more round
   * trip). Ignored for lookups that carry `app` (it would be delivered twice).
   *
   * @default false
   */
  confirm?: boolean
}

export interface LookupResult {
  owner: Peer
  hops: number
  /** The owner application's answer to `options.app` */
  app?: Uint8Array<ArrayBuffer>
}
