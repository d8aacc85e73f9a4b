/**
 * Interval math on the ring — the only place that knows about wrap-around.
 *
 * Theory of operation: positions are points on a circle. `(a, b)` is the set
 * of points met walking clockwise from `a` to `b`, both excluded; `(a, b]`
 * includes `b`. When `a == b` the walk goes all the way round: `(a, a)` is
 * every point except `a`, `(a, a]` is the whole ring. That convention is what
 * makes a ring of one node own every key and a ring of two split it.
 *
 * The functions only compare, so they work for any ring size; the tests check
 * them against a brute-force walk on a 6-bit ring.
 */

/** `x ∈ (a, b)` clockwise */
export function inOpen (x: bigint, a: bigint, b: bigint): boolean {
  if (a < b) {
    return a < x && x < b
  }
  if (a > b) {
    return x > a || x < b
  }
  return x !== a
}

/** `x ∈ (a, b]` clockwise */
export function inHalfOpen (x: bigint, a: bigint, b: bigint): boolean {
  return x === b || inOpen(x, a, b)
}
