import { sha256 } from '@noble/hashes/sha2.js'
import { expect } from 'aegir/chai'
import fc from 'fast-check'
import { InvalidUrlError, keyForUrl, nodeIdFromBytes, normaliseUrl } from '../src/keys.ts'
import { idFromBytes, RING_SIZE } from '../src/overlay/ring-id.ts'

function invalid (fn: () => unknown): InvalidUrlError {
  try {
    fn()
  } catch (err: any) {
    expect(err).to.be.an.instanceOf(InvalidUrlError)
    expect(err.name).to.equal('InvalidUrlError')
    return err
  }
  throw new Error('expected an InvalidUrlError')
}

describe('keys', () => {
  describe('normaliseUrl', () => {
    const cases: Array<[string, string, string]> = [
      ['lower-cases the scheme and host', 'HTTPS://CDN.Example.COM/Assets/App.JS', 'https://cdn.example.com/Assets/App.JS'],
      ['drops the default https port', 'https://example.com:443/a.css', 'https://example.com/a.css'],
      ['drops the default http port', 'http://example.com:80/a.css', 'http://example.com/a.css'],
      ['keeps a non-default port', 'https://example.com:8443/a.css', 'https://example.com:8443/a.css'],
      ['drops the fragment', 'https://example.com/a.css#section-2', 'https://example.com/a.css'],
      ['drops an empty fragment', 'https://example.com/a.css#', 'https://example.com/a.css'],
      ['resolves dot segments', 'https://example.com/a/./b/../c/d.js', 'https://example.com/a/c/d.js'],
      ['resolves dot segments above the root', 'https://example.com/../../x.js', 'https://example.com/x.js'],
      ['adds the root path to a bare origin', 'https://example.com', 'https://example.com/'],
      ['keeps the query in its order', 'https://example.com/a.js?z=1&a=2&m=3', 'https://example.com/a.js?z=1&a=2&m=3'],
      ['keeps the query and drops the fragment after it', 'https://example.com/a.js?v=2#top', 'https://example.com/a.js?v=2'],
      ['percent-encodes spaces in the path', 'https://example.com/my file.js', 'https://example.com/my%20file.js'],
      ['converts an internationalised host to punycode', 'https://bücher.example/a.js', 'https://xn--bcher-kva.example/a.js']
    ]
    for (const [name, input, output] of cases) {
      it(name, () => {
        expect(normaliseUrl(input)).to.equal(output)
      })
    }

    it('resolves a relative URL against its base', () => {
      expect(normaliseUrl('../img/logo.png', 'https://example.com/css/site.css')).to.equal('https://example.com/img/logo.png')
      expect(normaliseUrl('/app.js?v=1', 'https://example.com/deep/page.html')).to.equal('https://example.com/app.js?v=1')
      expect(normaliseUrl('//other.example/x.js', 'https://example.com/')).to.equal('https://other.example/x.js')
    })

    it('accepts URL objects as input and base', () => {
      expect(normaliseUrl(new URL('HTTPS://Example.com:443/a#b'))).to.equal('https://example.com/a')
      expect(normaliseUrl('b.js', new URL('https://example.com/dir/'))).to.equal('https://example.com/dir/b.js')
    })

    it('gives the same spelling again when normalising its own output', () => {
      const url = fc.webUrl({ withQueryParameters: true, withFragments: true })
      fc.assert(fc.property(url, u => {
        const once = normaliseUrl(u)
        expect(normaliseUrl(once)).to.equal(once)
        expect(once).to.not.include('#')
      }), { numRuns: 300 })
    })

    // eslint-disable-next-line no-script-url -- an input to refuse, never run
    const schemes = ['ftp://example.com/a.js', 'file:///etc/passwd', 'data:text/plain,hello', 'javascript:alert(1)', 'ws://example.com/socket', 'blob:https://example.com/uuid']
    for (const url of schemes) {
      it(`refuses the non-http(s) URL ${url}`, () => {
        expect(invalid(() => normaliseUrl(url)).message).to.include('http(s)')
      })
    }

    for (const url of ['', 'not a url', 'https://', 'http://exa mple.com/', '/relative/without/base', 'https://[::1/']) {
      it(`refuses ${JSON.stringify(url)}`, () => {
        invalid(() => normaliseUrl(url))
      })
    }

    it('refuses a relative URL whose base is not http(s)', () => {
      invalid(() => normaliseUrl('a.js', 'file:///srv/'))
    })

    it('drops an empty query', () => {
      expect(normaliseUrl('https://example.com/a.js?')).to.equal('https://example.com/a.js')
      expect(normaliseUrl('https://example.com/a.js?#x')).to.equal('https://example.com/a.js')
    })

    it('gives RFC 3986 equivalent percent-encodings the same spelling', () => {
      expect(normaliseUrl('https://example.com/%7ea.js')).to.equal(normaliseUrl('https://example.com/~a.js'))
      expect(normaliseUrl('https://example.com/%7ea.js')).to.equal(normaliseUrl('https://example.com/%7Ea.js'))
    })
  })

  describe('keyForUrl', () => {
    it('is SHA-256 of the normalised URL', () => {
      const expected = idFromBytes(sha256(new TextEncoder().encode('https://example.com/a.js')))
      expect(keyForUrl('https://example.com/a.js')).to.equal(expected)
    })

    it('gives equivalent spellings of one URL the same key', () => {
      const key = keyForUrl('https://example.com/lib/app.js?v=3')
      for (const spelling of [
        'HTTPS://EXAMPLE.COM/lib/app.js?v=3',
        'https://example.com:443/lib/app.js?v=3',
        'https://example.com/lib/./x/../app.js?v=3',
        'https://example.com/lib/app.js?v=3#main'
      ]) {
        expect(keyForUrl(spelling), spelling).to.equal(key)
      }
      expect(keyForUrl('app.js?v=3', 'https://example.com/lib/index.html')).to.equal(key)
    })

    it('gives different URLs different keys', () => {
      const urls = [
        'https://example.com/lib/app.js',
        'http://example.com/lib/app.js',
        'https://example.com/lib/App.js',
        'https://example.com/lib/app.js?v=3',
        'https://example.com/lib/app.js?v=4',
        'https://example.com/lib/app.js?a=1&b=2',
        'https://example.com/lib/app.js?b=2&a=1',
        'https://example.com:8443/lib/app.js',
        'https://cdn.example.com/lib/app.js'
      ]
      const keys = new Set(urls.map(u => keyForUrl(u)))
      expect(keys.size).to.equal(urls.length)
    })

    it('is a 256-bit ring position that does not change between calls', () => {
      fc.assert(fc.property(fc.webUrl({ withQueryParameters: true }), u => {
        const key = keyForUrl(u)
        expect(key >= 0n && key < RING_SIZE).to.equal(true)
        expect(keyForUrl(u)).to.equal(key)
        expect(keyForUrl(normaliseUrl(u))).to.equal(key)
      }), { numRuns: 200 })
    })

    it('refuses what normaliseUrl refuses', () => {
      invalid(() => keyForUrl('ftp://example.com/a.js'))
      invalid(() => keyForUrl('nonsense'))
    })
  })

  describe('nodeIdFromBytes', () => {
    it('is SHA-256 of the peer id bytes', () => {
      const bytes = new Uint8Array([0, 36, 8, 1, 18, 32, 7, 7])
      expect(nodeIdFromBytes(bytes)).to.equal(idFromBytes(sha256(bytes)))
      expect(nodeIdFromBytes(new Uint8Array([1]))).to.not.equal(nodeIdFromBytes(new Uint8Array([2])))
    })
  })
})
