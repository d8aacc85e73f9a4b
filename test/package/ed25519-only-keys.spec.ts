/**
 * The page bundle's key functions (`scripts/build-browser.ts`
 * `ed25519KeysOnly`): built with the page's build options, Ed25519 keys and
 * peer ids work as in the full library, other key types fail with
 * `UnsupportedKeyTypeError`, and their curve code is not in the bundle.
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join, resolve } from 'node:path'
import { pathToFileURL } from 'node:url'
import { generateKeyPair, privateKeyToProtobuf, publicKeyToProtobuf } from '@libp2p/crypto/keys'
import { expect } from 'aegir/chai'
import { build } from 'esbuild'
import { browserBuildOptions } from '../../scripts/build-browser.ts'

describe('the page bundle accepts Ed25519 keys only', function () {
  this.timeout(60_000)
  const dir = mkdtempSync(join(tmpdir(), 'ringcdn-keys-'))
  let keys: {
    publicKeyFromProtobuf(buf: Uint8Array): { type: string, verify(data: Uint8Array, sig: Uint8Array): boolean | Promise<boolean> }
    privateKeyFromProtobuf(buf: Uint8Array): { type: string }
    generateKeyPair(type: string): Promise<{ type: string }>
  }
  let bundle: string

  before(async () => {
    const entry = join(dir, 'entry.ts')
    writeFileSync(entry, `export { generateKeyPair, publicKeyFromProtobuf, privateKeyFromProtobuf } from '${resolve('node_modules/@libp2p/crypto/dist/src/keys/index.js')}'\n`)
    const outfile = join(dir, 'keys.mjs')
    await build({ ...browserBuildOptions(entry, outfile), sourcemap: false })
    bundle = readFileSync(outfile, 'utf8')
    keys = await import(pathToFileURL(outfile).href)
  })

  after(() => {
    rmSync(dir, { recursive: true, force: true })
  })

  it('reads, makes and verifies Ed25519 keys as the full library does', async () => {
    const key = await generateKeyPair('Ed25519')
    const data = new TextEncoder().encode('ringcdn')
    const sig = await key.sign(data)
    const publicKey = keys.publicKeyFromProtobuf(publicKeyToProtobuf(key.publicKey))
    expect(publicKey.type).to.equal('Ed25519')
    expect(await publicKey.verify(data, sig)).to.equal(true)
    expect(keys.privateKeyFromProtobuf(privateKeyToProtobuf(key)).type).to.equal('Ed25519')
    expect((await keys.generateKeyPair('Ed25519')).type).to.equal('Ed25519')
  })

  it('refuses secp256k1, ECDSA and RSA keys with UnsupportedKeyTypeError', async () => {
    const paged = keys
    for (const type of ['secp256k1', 'ECDSA'] as const) {
      const key = await generateKeyPair(type)
      const publicBytes = publicKeyToProtobuf(key.publicKey)
      const privateBytes = privateKeyToProtobuf(key)
      expect(() => paged.publicKeyFromProtobuf(publicBytes), type).to.throw().with.property('name', 'UnsupportedKeyTypeError')
      expect(() => paged.privateKeyFromProtobuf(privateBytes), type).to.throw().with.property('name', 'UnsupportedKeyTypeError')
      await expect(paged.generateKeyPair(type), type).to.eventually.be.rejected.with.property('name', 'UnsupportedKeyTypeError')
    }
    const rsa = await generateKeyPair('RSA', 1024)
    expect(() => keys.publicKeyFromProtobuf(publicKeyToProtobuf(rsa.publicKey))).to.throw().with.property('name', 'UnsupportedKeyTypeError')
    // the curve code of those types is not bundled (the order of secp256k1's group, as noble writes it)
    expect(bundle.toLowerCase()).to.not.include('baaedce6af48a03bbfd25e8cd0364141')
    expect(bundle).to.include('ringcdn pages accept Ed25519 keys only')
  })
})
