/**
 * What the parts of a RingNode share: its settings and seams, its view of
 * peer liveness, its routing table and its client. RingNode builds one and
 * hands it to each part; a part reaches another part only through the
 * callbacks it is built with, never through the node.
 */

import type { Liveness } from './liveness.ts'
import type { RingClient } from './ring-client.ts'
import type { RoutingTable } from './routing-table.ts'
import type { Address, Clock, Log, Peer, Random } from './seams.ts'
import type { RingSettings } from './settings.ts'
import type { RingApplication } from './types.ts'

export interface RingContext {
  readonly self: Peer
  readonly settings: RingSettings
  readonly clock: Clock
  readonly random: Random
  readonly log: Log
  readonly liveness: Liveness
  readonly table: RoutingTable
  readonly client: RingClient
  /** The application's hooks as they are now (it may be set after the node was built) */
  application(): RingApplication
  /** Whether the node is a ring member (leaving included) */
  isMember(): boolean
  /** Addresses of members to rejoin or check placement through */
  bootstrap(): Address[]
  /** A peer failed a direct request: dead for a while, and gone from every role */
  fail(peer: Peer, why?: string): void
}
