/**
 * The origin's body split in two as it arrives: one branch for the caller,
 * one for the page's store, so the caller reads the bytes while they are
 * stored instead of after (a plain `fetch()` of the asset would have them as
 * soon). The whole body is hashed once, here, against the trusted digest,
 * and each branch ends only once it has checked out: a mismatch errors both
 * with `IntegrityError`, so the store commits nothing and the caller's
 * stream (whose last piece `heldBack` keeps until then) never completes.
 * The intake keeps the caller's last piece a little longer, until the store
 * has the object (or has failed to take it): a caller that has read the
 * whole body finds the object stored, as before the tee, and may stop the
 * node or let its fetch's signal go without losing it.
 *
 * Pacing: the origin is read at its own pace, as a plain `fetch()` would
 * read it; each branch queues what its reader has not taken yet. So a slow
 * caller, or one that never reads its body, cannot hold up storing (and the
 * announce that waits for it), and a slow store cannot hold up the caller.
 * The price is memory: a branch that falls behind holds up to the whole
 * body, which the intake only tees when it fits the store's bound. A branch
 * whose reader goes away (the caller cancels, the store refuses the object)
 * is dropped and the other goes on; the origin is released once both are
 * gone.
 */
import { IntegrityError } from './errors.ts'
import { Sha256Stream } from './integrity.ts'

export interface OriginTeeInit {
  /** The origin's body, piece by piece */
  body: AsyncGenerator<Uint8Array, void, undefined>
  /** The trusted digest the whole body must hash to, hex */
  digest: string
  /** For error messages */
  href: string
  /** Each piece as it arrives (counting) */
  onPiece?(piece: Uint8Array): void
  /** The body did not hash to `digest` (both branches error with it) */
  onMismatch?(err: IntegrityError): void
}

/** A branch of the tee: a queue its reader drains, that the pump fills */
class Branch {
  readonly stream: ReadableStream<Uint8Array>
  private controller!: ReadableStreamDefaultController<Uint8Array>
  /** Its reader went away */
  gone = false

  constructor () {
    this.stream = new ReadableStream<Uint8Array>({
      start: (controller) => { this.controller = controller },
      cancel: () => { this.gone = true }
    })
  }

  push (piece: Uint8Array): void {
    if (!this.gone) {
      this.controller.enqueue(piece)
    }
  }

  close (): void {
    if (!this.gone) {
      this.controller.close()
    }
  }

  error (err: Error): void {
    if (!this.gone) {
      this.controller.error(err)
    }
  }

  /** Its reader will not read (again): stop queueing, and let go of what is queued */
  drop (): void {
    if (!this.gone) {
      this.gone = true
      this.controller.error(new BranchDroppedError('the branch was dropped'))
    }
  }
}

/** A branch's reader went away before reading it to the end (never seen by a caller) */
class BranchDroppedError extends Error {
  static name = 'BranchDroppedError'
  name = 'BranchDroppedError'
}

export class OriginTee {
  /** The caller's branch; ends only after the whole body matched the digest */
  readonly caller: AsyncGenerator<Uint8Array, void, undefined>
  /** The store's branch; ends only after the whole body matched the digest */
  readonly store: AsyncGenerator<Uint8Array, void, undefined>
  /** Settles when the origin's body has been read and checked (or failed); never rejects */
  readonly done: Promise<void>
  private readonly callerBranch = new Branch()
  private readonly storeBranch = new Branch()
  private readonly branches = [this.callerBranch, this.storeBranch]

  constructor (init: OriginTeeInit) {
    this.caller = piecesOf(this.callerBranch.stream)
    this.store = piecesOf(this.storeBranch.stream)
    this.done = this.pump(init)
  }

  /**
   * The store will not read its branch (it failed or refused the object):
   * the caller's goes on alone (or, if the caller has gone too, the pump
   * lets go of the origin at its next piece)
   */
  dropStore (): void {
    this.storeBranch.drop()
  }

  private async pump (init: OriginTeeInit): Promise<void> {
    const whole = new Sha256Stream()
    try {
      for await (const piece of init.body) {
        whole.update(piece)
        init.onPiece?.(piece)
        // the caller's copy: what a caller does with its bytes cannot change what is stored
        if (!this.callerBranch.gone) {
          this.callerBranch.push(piece.slice())
        }
        this.storeBranch.push(piece)
        if (this.branches.every(b => b.gone)) {
          // nobody reads any more: stop taking the origin's bytes (leaving the loop cancels the body)
          return
        }
      }
      const actual = whole.digest()
      if (actual !== init.digest) {
        const err = new IntegrityError(`${init.href} from the origin hashes to ${actual}, not ${init.digest}`, 'origin')
        init.onMismatch?.(err)
        throw err
      }
      this.branches.forEach(b => { b.close() })
    } catch (err: any) {
      this.branches.forEach(b => { b.error(err) })
    }
  }
}

/** The chunks of a byte stream as a generator; stopping it early cancels the stream */
async function * piecesOf (stream: ReadableStream<Uint8Array>): AsyncGenerator<Uint8Array, void, undefined> {
  const reader = stream.getReader()
  let done = false
  try {
    while (true) {
      const next = await reader.read()
      if (next.done) {
        done = true
        return
      }
      yield next.value
    }
  } finally {
    if (!done) {
      reader.cancel().catch(() => {})
    }
    reader.releaseLock()
  }
}

/**
 * Yields `pieces`, keeping the last one back until `verify` has passed once
 * they have all arrived: a body that fails its check errors instead of
 * completing, so no caller ever holds a complete copy of bad bytes.
 * (`verify` may also wait for something the caller should see done first.)
 *
 * @throws {Error} whatever `verify` or `pieces` throws (`IntegrityError`, `OriginFetchError`, `AbortError`)
 */
export async function * heldBack (pieces: AsyncIterable<Uint8Array>, verify: () => void | Promise<void>): AsyncGenerator<Uint8Array, void, undefined> {
  let held: Uint8Array | undefined
  for await (const piece of pieces) {
    if (held != null) {
      yield held
    }
    held = piece
  }
  await verify()
  if (held != null) {
    yield held
  }
}
