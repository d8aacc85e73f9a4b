/**
 * What a page's globals say about it (`location`, `document`), read without
 * assuming a browser: in Node and workers each answers "unknown"
 */

/** The page's origin (the default ring namespace), if it has a real one */
export function pageOrigin (): string | undefined {
  const origin = (globalThis as { location?: { origin?: string } }).location?.origin
  return origin != null && origin !== 'null' ? origin : undefined
}

/** The page's address (the base of relative asset URLs) */
export function pageHref (): string | undefined {
  return (globalThis as { location?: { href?: string } }).location?.href
}

/** Whether this is a hidden page (a background tab); false outside a browser */
export function pageHidden (): boolean {
  return (globalThis as { document?: { visibilityState?: string } }).document?.visibilityState === 'hidden'
}
