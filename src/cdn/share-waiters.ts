/**
 * A holder serves each requester only a few transfers at once
 * (`MAX_UPLOADS_PER_PEER`) and answers BUSY beyond that. A page that loads
 * many assets at once, with one page holding them all, fills that share with
 * its own downloads; sending the rest to the origin would give away offload
 * for nothing, since the share frees as soon as one of them ends. So a fetch
 * that would go past our share (or was refused for it) waits for one of our
 * downloads from that holder to end and then asks, while the origin is
 * fetched beside it (the first verified answer wins). Each download that
 * ends wakes the fetch that has waited longest, one at a time: waking them
 * all would only draw as many BUSY answers again.
 */

/**
 * Uploads a holder serves one requester at once (the content server's
 * default): one peer asking for everything at once must leave slots for the
 * others. A page does not ask a holder for more than this at once: it waits
 * for its share without the BUSY round trip
 */
export const MAX_UPLOADS_PER_PEER = 2

/**
 * Times one fetch waits for its share of a holder (full by our count, or
 * refused busy while our other downloads from it ran); past that a refusal
 * counts as any other, so a holder that answers BUSY to everything cannot
 * hold a fetch back for long
 */
export const MAX_SHARE_WAITS = 3

export class ShareWaiters {
  private readonly waiting = new Map<string, Array<() => void>>()

  /** Calls `wake` once one of our downloads from `holder` ends, unless cancelled first; returns the cancel */
  wait (holder: string, wake: () => void): () => void {
    const queue = this.waiting.get(holder) ?? []
    queue.push(wake)
    this.waiting.set(holder, queue)
    return () => {
      const at = queue.indexOf(wake)
      if (at >= 0) {
        queue.splice(at, 1)
      }
      if (queue.length === 0 && this.waiting.get(holder) === queue) {
        this.waiting.delete(holder)
      }
    }
  }

  /** One of our downloads from `holder` ended: the longest-waiting fetch asks again */
  freed (holder: string): void {
    const queue = this.waiting.get(holder)
    const wake = queue?.shift()
    if (queue?.length === 0) {
      this.waiting.delete(holder)
    }
    wake?.()
  }
}
