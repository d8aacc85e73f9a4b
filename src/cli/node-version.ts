/**
 * Which Node.js ringcdn runs on, and the message for an older one.
 *
 * libp2p 3 calls `Promise.withResolvers` (Node 22+): on Node 20 the relay
 * died with "Promise.withResolvers is not a function" and a user's app with a
 * `TypeError` on its first stream, neither of which says "upgrade Node". The
 * entry points check this first, before libp2p is loaded (see
 * `require-node.ts` and `require-node-cli.ts`).
 */

/** Oldest Node.js major version ringcdn runs on; matches `engines.node` in package.json */
export const MIN_NODE_MAJOR = 22

/** ringcdn was loaded by a Node.js older than {@link MIN_NODE_MAJOR} */
export class NodeVersionError extends Error {
  static name = 'NodeVersionError'
  name = 'NodeVersionError'
}

/**
 * The problem with running on this runtime, or `undefined` when there is
 * none. Only Node.js itself is judged: browsers (no `process`), and Bun and
 * Deno (which report a Node version they emulate) are left alone.
 *
 * @param versions - `process.versions` of the runtime
 */
export function nodeVersionProblem (versions: Record<string, string | undefined> | undefined): string | undefined {
  const node = versions?.node
  if (node == null || versions?.bun != null || versions?.deno != null) {
    return undefined
  }
  const major = Number.parseInt(node, 10)
  if (!Number.isFinite(major) || major >= MIN_NODE_MAJOR) {
    return undefined
  }
  return `ringcdn needs Node.js ${MIN_NODE_MAJOR} or later; this is Node.js ${node}. Install Node.js ${MIN_NODE_MAJOR}+ (e.g. the current LTS) and try again.`
}

/** `process.versions` if this is a Node-like runtime */
export function runtimeVersions (): Record<string, string | undefined> | undefined {
  // a browser or a bundler's page has no `process`; reading it must not throw there
  return (globalThis as { process?: { versions?: Record<string, string | undefined> } }).process?.versions
}
