/**
 * Trusted digests in their three spellings: SRI (`integrity=`), RFC 9530
 * headers, and the store's hex; and the hashing that checks them.
 */
import { createHash } from 'node:crypto'
import { expect } from 'aegir/chai'
import { Sha256Stream, digestFromHeaders, parseDigestHeader, parseSri, sha256Hex, toDigestHeader, toSri } from '../../src/cdn/integrity.ts'

const bytes = new TextEncoder().encode('console.log("hello")\n')
const hex = createHash('sha256').update(bytes).digest('hex')
const b64 = createHash('sha256').update(bytes).digest('base64')

describe('fetch integrity: digests', () => {
  it('reads the sha256 token of an SRI string and ignores other algorithms', () => {
    expect(parseSri(`sha256-${b64}`)).to.equal(hex)
    expect(parseSri(`sha384-AAAA sha256-${b64}?ct=application/javascript`)).to.equal(hex)
    expect(parseSri('sha512-AAAA')).to.be.undefined()
    expect(parseSri(`  sha256-${b64}  sha256-${b64} `)).to.equal(hex)
  })

  it('refuses malformed or contradictory sha256 tokens', () => {
    expect(() => parseSri('sha256-not*base64')).to.throw().with.property('name', 'InvalidDigestError')
    expect(() => parseSri('sha256-AAAA')).to.throw().with.property('name', 'InvalidDigestError')
    const other = createHash('sha256').update('x').digest('base64')
    expect(() => parseSri(`sha256-${b64} sha256-${other}`)).to.throw().with.property('name', 'InvalidDigestError')
  })

  it('round-trips hex through SRI and RFC 9530 spellings', () => {
    expect(toSri(hex)).to.equal(`sha256-${b64}`)
    expect(parseSri(toSri(hex))).to.equal(hex)
    expect(toDigestHeader(hex)).to.equal(`sha-256=:${b64}:`)
    expect(parseDigestHeader(toDigestHeader(hex))).to.equal(hex)
  })

  it('reads the sha-256 member of an RFC 9530 dictionary', () => {
    expect(parseDigestHeader(`sha-512=:AAAA:, sha-256=:${b64}:`)).to.equal(hex)
    expect(parseDigestHeader(`SHA-256 = :${b64}:`)).to.equal(hex)
    expect(parseDigestHeader('sha-512=:AAAA:')).to.be.undefined()
    expect(parseDigestHeader('sha-256=:garbage')).to.be.undefined()
    expect(parseDigestHeader(null)).to.be.undefined()
  })

  it('trusts digest headers only for bytes fetch hands over unchanged', () => {
    expect(digestFromHeaders(new Headers({ 'repr-digest': `sha-256=:${b64}:` }))).to.equal(hex)
    expect(digestFromHeaders(new Headers({ 'content-digest': `sha-256=:${b64}:` }))).to.equal(hex)
    // Repr-Digest wins over Content-Digest
    const other = createHash('sha256').update('x').digest('base64')
    expect(digestFromHeaders(new Headers({ 'repr-digest': `sha-256=:${b64}:`, 'content-digest': `sha-256=:${other}:` }))).to.equal(hex)
    // fetch decodes gzip, the header digests the coded bytes
    expect(digestFromHeaders(new Headers({ 'repr-digest': `sha-256=:${b64}:`, 'content-encoding': 'gzip' }))).to.be.undefined()
    expect(digestFromHeaders(new Headers({ 'repr-digest': `sha-256=:${b64}:`, 'content-encoding': 'identity' }))).to.equal(hex)
  })

  it('hashes whole objects and streams to the same digest', async () => {
    expect(await sha256Hex(bytes)).to.equal(hex)
    const stream = new Sha256Stream()
    stream.update(bytes.subarray(0, 5))
    stream.update(bytes.subarray(5))
    expect(stream.bytes).to.equal(bytes.byteLength)
    expect(stream.digest()).to.equal(hex)
  })
})
