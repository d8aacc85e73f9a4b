/**
 * What the page bundle carries in place of `@libp2p/crypto`'s RSA, secp256k1
 * and ECDSA key modules (the build swaps them in, `scripts/build-browser.ts`).
 * Every identity a page meets is Ed25519: pages make Ed25519 keys, and the
 * relay makes one and refuses an identity file of another type. The curve
 * code for the other types was a twentieth of the page bundle (9.9 KiB of
 * gzip); a peer that presents another key type now fails its handshake with
 * libp2p's own `UnsupportedKeyTypeError`, as an unknown type always did.
 * Node, the relay and the simulator keep the full library.
 *
 * The names are the ones `@libp2p/crypto/dist/src/keys/index.js` imports
 * from those modules; the constants keep their values, so its checks of key
 * lengths and DER object ids route other types here and fail, and nothing
 * is called unless such a key turns up.
 */
import { UnsupportedKeyTypeError } from '@libp2p/interface'

function unsupported (): never {
  throw new UnsupportedKeyTypeError('ringcdn pages accept Ed25519 keys only')
}

// ecdsa/index.js, rsa/index.js
export const ECDSA_P_256_OID = '1.2.840.10045.3.1.7'
export const ECDSA_P_384_OID = '1.3.132.0.34'
export const ECDSA_P_521_OID = '1.3.132.0.35'
export const RSAES_PKCS1_V1_5_OID = '1.2.840.113549.1.1.1'
// secp256k1/index.js: its key lengths (an Ed25519 key is 32 bytes public, 64 private)
export const publicKeyLength = 33
export const privateKeyLength = 32

// ecdsa/ecdsa.js
export class ECDSAPrivateKey {
  constructor () {
    unsupported()
  }
}

// ecdsa/utils.js, rsa/der.js, rsa/utils.js, secp256k1/utils.js
export const generateECDSAKeyPair = unsupported
export const pkiMessageToECDSAPrivateKey = unsupported
export const pkiMessageToECDSAPublicKey = unsupported
export const unmarshalECDSAPrivateKey = unsupported
export const unmarshalECDSAPublicKey = unsupported
export const decodeDer = unsupported
export const pkcs1ToRSAPrivateKey = unsupported
export const pkixToRSAPublicKey = unsupported
export const generateRSAKeyPair = unsupported
export const pkcs1MessageToRSAPrivateKey = unsupported
export const pkixMessageToRSAPublicKey = unsupported
export const jwkToRSAPrivateKey = unsupported
export const generateSecp256k1KeyPair = unsupported
export const unmarshalSecp256k1PrivateKey = unsupported
export const unmarshalSecp256k1PublicKey = unsupported
