/**
 * The package's own version, for `--version` of the command line programs.
 */
import { readFileSync } from 'node:fs'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'

const PACKAGE_NAME = 'ringcdn'

/**
 * The `version` of ringcdn's package.json, found by walking up from this
 * module: the file sits two levels up when run from source (`src/cli/`) and
 * three from the build (`dist/src/cli/`), and a bundler may move it again.
 *
 * @param from - a file URL inside the package (default: this module)
 */
export function packageVersion (from: string = import.meta.url): string {
  let dir = dirname(fileURLToPath(from))
  for (;;) {
    try {
      const pkg = JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8'))
      if (pkg.name === PACKAGE_NAME && typeof pkg.version === 'string') {
        return pkg.version
      }
    } catch {
      // no (readable) package.json here: keep walking up
    }
    const parent = dirname(dir)
    if (parent === dir) {
      throw new Error(`cannot find the package.json of ${PACKAGE_NAME} above ${fileURLToPath(from)}`)
    }
    dir = parent
  }
}
