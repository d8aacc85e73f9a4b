/**
 * One named error class per failure. Callers match on `.name`; failures that
 * cross the wire travel as a numeric `ErrorCode` and are rebuilt on the other
 * side by `errorFromCode`.
 */

export const ErrorCode = {
  UNKNOWN: 1,
  HOP_LIMIT: 2,
  LOOKUP_FAILED: 3,
  INVALID_MESSAGE: 4,
  WRONG_NAMESPACE: 5,
  NOT_MEMBER: 6,
  BUSY: 7
} as const

export type ErrorCodeValue = typeof ErrorCode[keyof typeof ErrorCode]

/** A request got no answer within its deadline */
export class RpcTimeoutError extends Error {
  static name = 'RpcTimeoutError'
  name = 'RpcTimeoutError'
}

/** The remote could not be reached at all (gone, refused, connection failed) */
export class PeerUnreachableError extends Error {
  static name = 'PeerUnreachableError'
  name = 'PeerUnreachableError'
}

/** The remote received the request but its handler failed */
export class RemoteError extends Error {
  static name = 'RemoteError'
  name = 'RemoteError'
  readonly code: number

  constructor (message: string, code: number = ErrorCode.UNKNOWN) {
    super(message)
    this.code = code
  }
}

/** A message failed to decode or broke the protocol's rules */
export class InvalidMessageError extends Error {
  static name = 'InvalidMessageError'
  name = 'InvalidMessageError'
  readonly code = ErrorCode.INVALID_MESSAGE
}

/** A message was for another ring (namespace) */
export class WrongNamespaceError extends Error {
  static name = 'WrongNamespaceError'
  name = 'WrongNamespaceError'
  readonly code = ErrorCode.WRONG_NAMESPACE
}

/** A routed request ran out of hops before reaching the key's owner */
export class HopLimitError extends Error {
  static name = 'HopLimitError'
  name = 'HopLimitError'
  readonly code = ErrorCode.HOP_LIMIT
}

/** Every candidate next hop failed, or the deadline passed, before the owner answered */
export class LookupFailedError extends Error {
  static name = 'LookupFailedError'
  name = 'LookupFailedError'
  readonly code = ErrorCode.LOOKUP_FAILED
}

/** The node is not (or no longer) a ring member: not joined, or stopped */
export class NotMemberError extends Error {
  static name = 'NotMemberError'
  name = 'NotMemberError'
  readonly code = ErrorCode.NOT_MEMBER
}

/** The remote is serving as many of our requests as it allows one peer; try another */
export class PeerBusyError extends Error {
  static name = 'PeerBusyError'
  name = 'PeerBusyError'
  readonly code = ErrorCode.BUSY
}

/** The operation was aborted through its `signal` */
export class AbortError extends Error {
  static name = 'AbortError'
  name = 'AbortError'

  constructor (message: string = 'The operation was aborted') {
    super(message)
  }
}

/**
 * Turns a failure into the numeric code that travels on the wire
 */
export function codeOf (err: unknown): number {
  const code = (err as { code?: unknown })?.code
  return typeof code === 'number' ? code : ErrorCode.UNKNOWN
}

/** A node could not join: no bootstrap contact answered */
export class JoinFailedError extends Error {
  static name = 'JoinFailedError'
  name = 'JoinFailedError'
}

/** A local call's arguments make no sense (never crosses the wire) */
export class InvalidParametersError extends Error {
  static name = 'InvalidParametersError'
  name = 'InvalidParametersError'
}

/**
 * Rebuilds the named error for a code received on the wire
 */
export function errorFromCode (code: number, message: string): Error {
  switch (code) {
    case ErrorCode.HOP_LIMIT: return new HopLimitError(message)
    case ErrorCode.LOOKUP_FAILED: return new LookupFailedError(message)
    case ErrorCode.INVALID_MESSAGE: return new InvalidMessageError(message)
    case ErrorCode.WRONG_NAMESPACE: return new WrongNamespaceError(message)
    case ErrorCode.NOT_MEMBER: return new NotMemberError(message)
    case ErrorCode.BUSY: return new PeerBusyError(message)
    default: return new RemoteError(message, code)
  }
}
