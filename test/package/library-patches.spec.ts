/**
 * The page bundle's patches to library modules (`scripts/build-browser.ts`,
 * `LIBRARY_PATCHES`): each fits the installed module exactly once, a module
 * that changed fails the build with `LibraryPatchError`, and a bundle built
 * with the page's build options carries them. What they fix is tested in
 * real Chromium (test/browser/webrtc-dials.spec.ts).
 */
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join, resolve } from 'node:path'
import { expect } from 'aegir/chai'
import { build } from 'esbuild'
import { applyPatch, browserBuildOptions, LIBRARY_PATCHES } from '../../scripts/build-browser.ts'
import type { LibraryPatch } from '../../scripts/build-browser.ts'

/** Every installed file a patch's module pattern matches (the patched libraries are all libp2p's) */
function modulesOf (patch: LibraryPatch): string[] {
  return readdirSync(resolve('node_modules/@libp2p'), { recursive: true, encoding: 'utf8' })
    .map(file => resolve('node_modules/@libp2p', file))
    .filter(file => patch.module.test(file))
}

describe('the page bundle\'s library patches', function () {
  this.timeout(60_000)

  for (const patch of LIBRARY_PATCHES) {
    it(`${patch.name} fits the installed module once`, () => {
      const files = modulesOf(patch)
      expect(files, patch.module.source).to.have.lengthOf(1)
      const source = readFileSync(files[0], 'utf8')
      const patched = applyPatch(patch, source)
      expect(patched).to.include(patch.replacement)
      expect(patched.length).to.be.below(source.length + patch.replacement.length)
    })

    it(`${patch.name} refuses a module without its anchors, or with one twice`, () => {
      const source = readFileSync(modulesOf(patch)[0], 'utf8')
      expect(() => applyPatch(patch, source.replace(patch.from, '/* changed */'))).to.throw().with.property('name', 'LibraryPatchError')
      expect(() => applyPatch(patch, `${source}\n${patch.from}\n${patch.to}\n${patch.end}`)).to.throw().with.property('name', 'LibraryPatchError')
    })
  }

  it('are in a bundle built with the page\'s build options', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'ringcdn-patches-'))
    try {
      const entry = join(dir, 'entry.ts')
      writeFileSync(entry, `export { webRTC } from '${resolve('node_modules/@libp2p/webrtc/dist/src/index.js')}'\n`)
      const outfile = join(dir, 'webrtc.js')
      await build({ ...browserBuildOptions(entry, outfile), sourcemap: false })
      const bundle = readFileSync(outfile, 'utf8')
      expect(bundle).to.include('init channel settled')
      expect(bundle).to.include('the remote closed the SCTP transport')
    } finally {
      rmSync(dir, { recursive: true, force: true })
    }
  })
})
