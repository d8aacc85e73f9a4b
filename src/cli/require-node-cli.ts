/**
 * Side effect only: on a Node.js older than 22, prints which version is needed
 * and exits 1. Each command line program (`ringcdn`, `ringcdn-relay`, the
 * simulator) imports it first, so this runs before libp2p loads and the user
 * sees one line, not a stack trace from deep inside a dependency.
 */
import { nodeVersionProblem, runtimeVersions } from './node-version.ts'

const problem = nodeVersionProblem(runtimeVersions())
if (problem != null) {
  process.stderr.write(`${problem}\n`)
  process.exit(1)
}
