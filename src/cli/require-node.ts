/**
 * Side effect only: throws a `NodeVersionError` on a Node.js older than 22.
 * The library entry imports it first; ES modules evaluate their imports in
 * order, so this runs before any libp2p module can fail with a less helpful
 * error. Costs one property read; does nothing in browsers.
 */
import { NodeVersionError, nodeVersionProblem, runtimeVersions } from './node-version.ts'

const problem = nodeVersionProblem(runtimeVersions())
if (problem != null) {
  throw new NodeVersionError(problem)
}
