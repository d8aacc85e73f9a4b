/**
 * The seams between the pure ring core and the world. Everything under
 * `src/overlay/` reaches time, randomness and peers only through these
 * interfaces, so the same code runs over libp2p streams in production and over
 * the in-process network with virtual time in the simulator.
 */

/**
 * How the transport reaches a node. Opaque to the overlay: a peer id string
 * over libp2p, a simulated node name in the simulator.
 */
export type Address = string

/**
 * A ring member as other nodes see it
 */
export interface Peer {
  /** 256-bit ring position */
  id: bigint
  /** How to reach it */
  address: Address
  /**
   * Transport dialing hints (e.g. multiaddr bytes over libp2p), carried
   * through the overlay untouched so a node learned from another's successor
   * list can be dialled
   */
  hints?: Uint8Array[]
}

/**
 * A cancellable one-shot timer
 */
export interface Timer {
  cancel(): void
}

/**
 * Time, injected. Production uses wall-clock time, the simulator virtual time.
 */
export interface Clock {
  /** Milliseconds since an arbitrary epoch */
  now(): number
  /** Run `fn` once after `ms` milliseconds of this clock's time */
  setTimer(fn: () => void, ms: number): Timer
}

/**
 * Randomness, injected. The simulator hands every node its own seeded stream.
 */
export interface Random {
  /** Uniform in [0, 1) */
  next(): number
}

export interface RpcOptions {
  /**
   * Deadline for the whole request in milliseconds of the adapter's clock.
   * Every request has one: a remote that never answers rejects with
   * `RpcTimeoutError` after this long.
   */
  timeout: number
  /** Rejects with `AbortError` when aborted */
  signal?: AbortSignal
}

export interface RpcHandlerOptions {
  /** Aborted when the request can no longer be answered (stream reset, node stopping) */
  signal?: AbortSignal
}

/**
 * Request/response messaging between nodes. Adapters: libp2p streams
 * (`src/libp2p/`) and the simulated network (`sim/`); both pass one compliance
 * suite.
 *
 * `request` rejects with `RpcTimeoutError`, `PeerUnreachableError`,
 * `RemoteError` (the remote handler failed), `InvalidMessageError` (the answer
 * did not decode) or `AbortError`.
 */
export interface Rpc<Req, Res> {
  request(to: Address, req: Req, options: RpcOptions): Promise<Res>
  /**
   * Whether the transport holds a live connection to `to` that requests can
   * use right now: evidence that the peer is up without sending a message.
   * Adapters without connections (the simulator) leave it out.
   */
  isConnected?(to: Address): boolean
  /**
   * Starts setting up a connection to `to` in the background when there is
   * none, so that a later request need not wait for one. Never throws; a
   * failure shows in the next request. Adapters whose connections cost
   * nothing leave it out.
   */
  connect?(to: Address): void
  /**
   * Whether a connection to `to` is being set up now (a request to it waits
   * on the set-up, not on the peer): a timeout meanwhile says nothing of the
   * peer. Adapters whose connections cost nothing leave it out.
   */
  connecting?(to: Address): boolean
  /** Sets the single handler for inbound requests; a handler that throws makes the caller's request reject */
  handle(handler: (from: Address, req: Req, options: RpcHandlerOptions) => Promise<Res>): void
}

/**
 * Debug logging, shaped like the libp2p component logger so production passes
 * `components.logger.forComponent('ringcdn:ring')` straight in
 */
export interface Log {
  (formatter: string, ...args: any[]): void
  error(formatter: string, ...args: any[]): void
  trace(formatter: string, ...args: any[]): void
  enabled: boolean
}

function noop (): void {}

/** A logger that discards everything (the default, and the simulator's) */
export const silentLog: Log = Object.assign(noop, { error: noop, trace: noop, enabled: false })
