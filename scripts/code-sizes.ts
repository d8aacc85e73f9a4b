/**
 * Files and classes too big for a newcomer to live in: every TypeScript file
 * under the given folders (default src, sim, relay) over a line budget, and
 * every class over a method budget (methods, accessors, the constructor and
 * arrow-function fields all count). Exits 1 when anything is over.
 *
 * `npm run check:sizes -- [--lines 500] [--methods 25] [DIR...]`
 */
import { readdirSync, readFileSync } from 'node:fs'
import { join } from 'node:path'
import { parseArgs } from 'node:util'
import ts from 'typescript'

const { values, positionals } = parseArgs({
  allowPositionals: true,
  options: { lines: { type: 'string', default: '500' }, methods: { type: 'string', default: '25' } }
})
const maxLines = Number(values.lines)
const maxMethods = Number(values.methods)
const dirs = positionals.length > 0 ? positionals : ['src', 'sim', 'relay']

function * tsFiles (dir: string): Generator<string> {
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name)
    if (entry.isDirectory()) {
      yield * tsFiles(path)
    } else if (entry.name.endsWith('.ts')) {
      yield path
    }
  }
}

function isMethod (member: ts.ClassElement): boolean {
  return ts.isMethodDeclaration(member) || ts.isGetAccessorDeclaration(member) || ts.isSetAccessorDeclaration(member) ||
    ts.isConstructorDeclaration(member) || (ts.isPropertyDeclaration(member) && member.initializer != null && ts.isArrowFunction(member.initializer))
}

/** Every class in `node` with its method count */
function classSizes (node: ts.Node, out: Array<[string, number]> = []): Array<[string, number]> {
  if (ts.isClassDeclaration(node) || ts.isClassExpression(node)) {
    out.push([node.name?.text ?? '(anonymous class)', node.members.filter(isMethod).length])
  }
  ts.forEachChild(node, child => { classSizes(child, out) })
  return out
}

const GENERATED = /^import \{[^}]*\bdecodeMessage\b[^}]*\bmessage\b[^}]*\} from 'protons-runtime'/m

let over = 0
for (const dir of dirs) {
  for (const file of tsFiles(dir)) {
    const text = readFileSync(file, 'utf8')
    const lines = text.split('\n').length - (text.endsWith('\n') ? 1 : 0)
    // generated code (protons' codecs from the .proto files) is read by nobody
    const generated = GENERATED.test(text)
    if (lines > maxLines && !generated) {
      over++
      process.stdout.write(`${lines} lines\t${file}\n`)
    }
    for (const [name, methods] of classSizes(ts.createSourceFile(file, text, ts.ScriptTarget.Latest, true))) {
      if (methods > maxMethods) {
        over++
        process.stdout.write(`${methods} methods\t${file} ${name}\n`)
      }
    }
  }
}
process.exitCode = over > 0 ? 1 : 0
