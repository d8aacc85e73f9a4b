import { execFileSync } from 'node:child_process'
import { readFileSync } from 'node:fs'
import { dirname, join } from 'node:path'
import { expect } from 'aegir/chai'
import { SAME_CODE } from '../../scripts/build-browser.ts'

/** Every installed copy of package `name`, as [version, directory] */
function installed (name: string): Array<[string, string]> {
  const out = execFileSync('find', ['node_modules', '-path', `*node_modules/${name}/package.json`, '-not', '-path', '*/test/*'], { encoding: 'utf8' })
  return out.split('\n').filter(line => line !== '').map(file => [JSON.parse(readFileSync(file, 'utf8')).version, dirname(file)])
}

/** A file's code without its comments and blank lines */
function code (file: string): string {
  return readFileSync(file, 'utf8')
    .replace(/\/\*[\s\S]*?\*\//g, '')
    .replace(/^\s*\/\/.*$/gm, '')
    .split('\n').map(line => line.trimEnd()).filter(line => line !== '').join('\n')
}

describe('package versions the page bundle keeps one copy of', () => {
  for (const [from, to] of Object.entries(SAME_CODE)) {
    it(`${from} has the same code as ${to}`, () => {
      const name = from.slice(0, from.lastIndexOf('@'))
      const copies = installed(name)
      const source = copies.find(([version]) => `${name}@${version}` === from)
      const target = copies.find(([version]) => version === to)
      expect(target, `${name}@${to} is installed`).to.not.equal(undefined)
      if (source == null) {
        // not installed (any more): the entry merges nothing
        return
      }
      const main = join('dist', 'src', 'index.js')
      expect(code(join(source[1], main))).to.equal(code(join(target?.[1] ?? '', main)))
    })
  }
})
