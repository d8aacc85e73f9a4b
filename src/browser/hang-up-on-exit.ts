/**
 * A page that goes away (its tab closed, a navigation) leaves its WebRTC
 * connections open at its peers until their ICE consent checks fail, 15 s
 * or more later (`npm run bench:tab-close`, bench/RESULTS.md): until then
 * its ring neighbours route to it and its connections take places in their
 * budgets. Aborting every connection as the page hides tells each peer at
 * once: the peer's SCTP transport closes and its connection with it (the
 * page bundle's `close-with-sctp`), and its ring repairs around the page.
 *
 * `pagehide` is the last event a leaving page gets, and nothing asynchronous
 * is sure to run after it, so the hang-up is synchronous (`abort`, not
 * `close`). A page entering the back/forward cache (`persisted`) may come
 * back and keeps its connections.
 */
export class PageExitError extends Error {
  name = 'PageExitError'
}

export interface Abortable {
  abort(err: Error): void
}

/**
 * Aborts `connections()` when `target` (the page's window) fires a
 * `pagehide` that is not for the back/forward cache. Returns the function
 * that removes the listener.
 */
export function hangUpOnExit (target: EventTarget | undefined, connections: () => Abortable[]): () => void {
  if (target == null || typeof target.addEventListener !== 'function') {
    return () => {}
  }
  const onPageHide = (event: Event): void => {
    if ((event as Event & { persisted?: boolean }).persisted === true) {
      return
    }
    const err = new PageExitError('the page is going away')
    for (const connection of connections()) {
      connection.abort(err)
    }
  }
  target.addEventListener('pagehide', onPageHide)
  return () => { target.removeEventListener('pagehide', onPageHide) }
}
