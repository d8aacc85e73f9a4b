/**
 * One named error class per CDN failure. Callers match on `.name`. Most of
 * them never reach the caller of `fetch`: a failed lookup or transfer ends in
 * an origin fetch, and only the origin's own failures (`OriginFetchError`, an
 * `IntegrityError` from the origin) are reported.
 */

/** Where bytes that failed verification came from */
export type IntegritySource = 'peer' | 'origin'

/** Bytes did not match the trusted SHA-256 digest */
export class IntegrityError extends Error {
  static name = 'IntegrityError'
  name = 'IntegrityError'
  /** Who sent the bad bytes */
  readonly source: IntegritySource

  constructor (message: string, source: IntegritySource, options?: ErrorOptions) {
    super(message, options)
    this.source = source
  }
}

/** The origin could not be reached, or its body broke off (not an HTTP error status: those are returned as responses) */
export class OriginFetchError extends Error {
  static name = 'OriginFetchError'
  name = 'OriginFetchError'
}

/** The ring lookup for a key did not answer within its deadline */
export class LookupTimeoutError extends Error {
  static name = 'LookupTimeoutError'
  name = 'LookupTimeoutError'
}

/** The home node knows no holder of the key (or every holder failed) */
export class NoHolderError extends Error {
  static name = 'NoHolderError'
  name = 'NoHolderError'
}

/** A directory message reached a node that is not the key's home (an announce is refused, not passed on) */
export class NotHomeError extends Error {
  static name = 'NotHomeError'
  name = 'NotHomeError'
}

/** A holder refused because it has too many uploads in progress */
export class HolderBusyError extends Error {
  static name = 'HolderBusyError'
  name = 'HolderBusyError'
}

/** A holder does not hold the object (any more), or not the version asked for */
export class NotHeldError extends Error {
  static name = 'NotHeldError'
  name = 'NotHeldError'
}

/** A holder refused the transfer (e.g. over a relayed connection) */
export class TransferRefusedError extends Error {
  static name = 'TransferRefusedError'
  name = 'TransferRefusedError'
}

/** A transfer broke off: the holder went away, stalled past its deadline or broke the protocol */
export class TransferError extends Error {
  static name = 'TransferError'
  name = 'TransferError'
}

/** Only a limited (relayed) connection to the holder exists; content never travels over relays */
export class LimitedConnectionError extends Error {
  static name = 'LimitedConnectionError'
  name = 'LimitedConnectionError'
}

/** An object is larger than `maxObjectBytes` */
export class ObjectSizeError extends Error {
  static name = 'ObjectSizeError'
  name = 'ObjectSizeError'
}

/** An SRI `integrity` string, manifest or digest header could not be parsed */
export class InvalidDigestError extends Error {
  static name = 'InvalidDigestError'
  name = 'InvalidDigestError'
}

/** The site manifest could not be loaded or is malformed */
export class ManifestError extends Error {
  static name = 'ManifestError'
  name = 'ManifestError'
}

/** The CDN service is not started (or is stopping) */
export class NotStartedError extends Error {
  static name = 'NotStartedError'
  name = 'NotStartedError'
}
