import { readFileSync } from 'node:fs'
import { expect } from 'aegir/chai'
import { withoutStreamingDecoders } from '../../scripts/build-browser.ts'

describe('the page bundle without protons streaming decoders', () => {
  for (const file of ['src/overlay/messages.ts', 'src/cdn/directory-messages.ts', 'src/libp2p/content-messages.ts', 'src/libp2p/bootstrap-messages.ts']) {
    it(`replaces every streaming decoder of ${file} and nothing else`, () => {
      const source = readFileSync(file, 'utf8')
      const decoders = source.split('function * (reader, length, prefix, opts = {})').length - 1
      expect(decoders).to.be.greaterThan(0)
      const stripped = withoutStreamingDecoders(source)
      expect(stripped).to.not.include('yield')
      expect(stripped.split('streaming decode is not in the page bundle').length - 1).to.equal(decoders)
      // the whole-frame decoders and encoders stay as generated
      expect(stripped.split('const end = length == null ? reader.len : reader.pos + length').length - 1).to.equal(decoders)
      expect(stripped.split('if (opts.lengthDelimited !== false)').length).to.equal(source.split('if (opts.lengthDelimited !== false)').length)
    })
  }
})
