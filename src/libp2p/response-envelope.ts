/**
 * The response frame of the stream RPC. The request frame is the bare encoded
 * request; the response needs one more bit of information, whether the remote
 * handler succeeded, so it is wrapped:
 *
 * ```
 * ok:    0x00 | encoded response
 * error: 0x01 | error code (uint32, big-endian) | UTF-8 message
 * ```
 *
 * A fixed byte header rather than a protobuf message of our own: it costs one
 * byte, and the response codec stays the caller's business.
 */
import { ErrorCode, InvalidMessageError } from '../overlay/errors.ts'

export const STATUS_OK = 0
export const STATUS_ERROR = 1

/** Bytes before the payload of an ok frame */
export const OK_HEADER_BYTES = 1

/** Bytes before the message of an error frame: status + uint32 code */
export const ERROR_HEADER_BYTES = 5

/**
 * Error messages are cut to this many bytes: they are diagnostics for the
 * requester, not a channel for large data
 */
export const MAX_ERROR_MESSAGE_BYTES = 512

/** The largest error frame `encodeError` produces */
export const MAX_ERROR_FRAME_BYTES = ERROR_HEADER_BYTES + MAX_ERROR_MESSAGE_BYTES

export type ResponseEnvelope =
  | { ok: true, body: Uint8Array }
  | { ok: false, code: number, message: string }

const encoder = new TextEncoder()
// not fatal: a message cut inside a multi-byte character still decodes
const decoder = new TextDecoder()

export function encodeOk (body: Uint8Array): Uint8Array {
  // one copy: a two-part Uint8ArrayList would avoid it, but the root
  // `uint8arraylist` and the one @libp2p/utils uses are different majors
  const frame = new Uint8Array(OK_HEADER_BYTES + body.byteLength)
  frame[0] = STATUS_OK
  frame.set(body, OK_HEADER_BYTES)
  return frame
}

export function encodeError (code: number, message: string): Uint8Array {
  const text = encoder.encode(message).subarray(0, MAX_ERROR_MESSAGE_BYTES)
  const frame = new Uint8Array(ERROR_HEADER_BYTES + text.byteLength)
  const view = new DataView(frame.buffer)
  frame[0] = STATUS_ERROR
  // codes are uint32 on the wire; anything outside that range is a local bug
  // that the requester still learns about as UNKNOWN
  view.setUint32(1, Number.isInteger(code) && code >= 0 && code <= 0xffff_ffff ? code : ErrorCode.UNKNOWN)
  frame.set(text, ERROR_HEADER_BYTES)
  return frame
}

/**
 * @throws {InvalidMessageError} when the frame is empty, truncated or has an unknown status
 */
export function decodeEnvelope (bytes: Uint8Array): ResponseEnvelope {
  if (bytes.byteLength === 0) {
    throw new InvalidMessageError('empty response frame')
  }

  switch (bytes[0]) {
    case STATUS_OK:
      return { ok: true, body: bytes.subarray(OK_HEADER_BYTES) }
    case STATUS_ERROR: {
      if (bytes.byteLength < ERROR_HEADER_BYTES) {
        throw new InvalidMessageError(`truncated error frame of ${bytes.byteLength} bytes`)
      }
      const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength)
      return {
        ok: false,
        code: view.getUint32(1),
        message: decoder.decode(bytes.subarray(ERROR_HEADER_BYTES))
      }
    }
    default:
      throw new InvalidMessageError(`unknown response status ${bytes[0]}`)
  }
}
