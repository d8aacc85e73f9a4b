/**
 * The site manifest: format version 1 (`src/cdn/manifest.ts`), URL
 * normalisation of its entries, and loading it from the origin.
 */
import { createHash } from 'node:crypto'
import { expect } from 'aegir/chai'
import { Manifest, loadManifest } from '../../src/cdn/manifest.ts'
import { startOrigin } from '../fixtures/origin-server.ts'

const sriOf = (text: string): string => `sha256-${createHash('sha256').update(text).digest('base64')}`
const hexOf = (text: string): string => createHash('sha256').update(text).digest('hex')

describe('fetch manifest', () => {
  it('maps normalised asset URLs to digests, short and long form', () => {
    const manifest = new Manifest({
      ringcdn: 1,
      base: 'https://example.com/',
      assets: {
        '/js/app.js': sriOf('app'),
        'https://cdn.example.com/video.mp4': { integrity: sriOf('video'), size: 123 },
        '/only-sha512.css': 'sha512-AAAA'
      }
    })
    expect(manifest.size).to.equal(2)
    expect(manifest.get('https://EXAMPLE.com:443/a/../js/app.js#top')).to.deep.equal({ digest: hexOf('app') })
    expect(manifest.get('https://cdn.example.com/video.mp4')).to.deep.equal({ digest: hexOf('video'), size: 123 })
    expect(manifest.get('https://example.com/only-sha512.css')).to.be.undefined()
    expect(manifest.get('not a url')).to.be.undefined()
  })

  it('resolves relative URLs against the base given in code when the document has none', () => {
    const manifest = new Manifest({ ringcdn: 1, assets: { 'img/logo.png': sriOf('logo') } }, 'https://example.com/site/')
    expect(manifest.get('https://example.com/site/img/logo.png')?.digest).to.equal(hexOf('logo'))
  })

  it('refuses malformed documents with ManifestError', () => {
    const bad: unknown[] = [
      null,
      [],
      { assets: {} },
      { ringcdn: 2, assets: {} },
      { ringcdn: 1 },
      { ringcdn: 1, assets: { '/a.js': 42 } },
      { ringcdn: 1, assets: { '/a.js': { integrity: sriOf('a'), size: -1 } } },
      { ringcdn: 1, assets: { '/a.js': 'sha256-AAAA' } },
      { ringcdn: 1, base: 'https://example.com/', assets: { 'ftp://example.com/a.js': sriOf('a') } }
    ]
    for (const doc of bad) {
      expect(() => new Manifest(doc, 'https://example.com/'), JSON.stringify(doc)).to.throw().with.property('name', 'ManifestError')
    }
  })

  it('loads a manifest from its URL, relative entries resolving against it', async () => {
    const origin = await startOrigin()
    try {
      origin.set('/static/ringcdn-manifest.json', {
        body: new TextEncoder().encode(JSON.stringify({ ringcdn: 1, assets: { 'app.js': sriOf('app') } })),
        contentType: 'application/json'
      })
      const manifest = await loadManifest(origin.url('/static/ringcdn-manifest.json'))
      expect(manifest.get(origin.url('/static/app.js'))?.digest).to.equal(hexOf('app'))
      await expect(loadManifest(origin.url('/missing.json'))).to.eventually.be.rejected.with.property('name', 'ManifestError')
    } finally {
      await origin.close()
    }
  })
})
