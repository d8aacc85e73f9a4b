/**
 * What the simulated network carries: a protocol's codec (every delivery goes
 * through it, so the simulator exercises the real codecs) and the trace of
 * every message.
 */
import type { Address } from '../../src/overlay/seams.ts'

/**
 * What happened to one message: delivered as a request or answer, `lost` to
 * random loss (reported when sent), or `dropped` because its receiver had
 * crashed or gone (reported when it arrived, or when sent into a known crash)
 */
export type SimTraceKind = 'request' | 'response' | 'lost' | 'dropped'

export type SimTrace = (kind: SimTraceKind, from: Address, to: Address, protocol: string, bytes: number) => void

/**
 * How one protocol's messages become bytes. Every delivery goes through these,
 * so the simulator exercises the real codecs.
 */
export interface SimProtocol<Req, Res> {
  /** Unique per network; a request reaches the handler registered under the same name */
  name: string
  encodeRequest(req: Req): Uint8Array
  decodeRequest(bytes: Uint8Array): Req
  encodeResponse(res: Res): Uint8Array
  decodeResponse(bytes: Uint8Array): Res
  /** The traffic class a request and its answer are counted under (default: the protocol name) */
  classify?(req: Req): string
  /**
   * Bytes a message stands for beyond its encoding (e.g. the content of an
   * object the simulation does not materialise), added to its transfer time
   * and byte accounting
   */
  virtualBytes?(msg: Req | Res): number
}
