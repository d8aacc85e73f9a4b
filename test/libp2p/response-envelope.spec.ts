import { expect } from 'aegir/chai'
import { MAX_ERROR_MESSAGE_BYTES, decodeEnvelope, encodeError, encodeOk } from '../../src/libp2p/response-envelope.ts'
import { ErrorCode } from '../../src/overlay/errors.ts'

describe('response envelope', function () {
  it('round-trips an answer, empty or not', () => {
    for (const body of [new Uint8Array(0), Uint8Array.of(0, 1, 2, 255)]) {
      const envelope = decodeEnvelope(encodeOk(body))
      expect(envelope.ok).to.equal(true)
      expect(envelope.ok && [...envelope.body]).to.deep.equal([...body])
    }
  })

  it('round-trips an error code and message', () => {
    expect(decodeEnvelope(encodeError(ErrorCode.HOP_LIMIT, 'out of hops · ☃'))).to.deep.equal({
      ok: false,
      code: ErrorCode.HOP_LIMIT,
      message: 'out of hops · ☃'
    })
    expect(decodeEnvelope(encodeError(0xffff_ffff, ''))).to.deep.equal({ ok: false, code: 0xffff_ffff, message: '' })
  })

  it('sends codes that do not fit a uint32 as UNKNOWN', () => {
    for (const code of [-1, 1.5, 2 ** 32, Number.NaN]) {
      expect(decodeEnvelope(encodeError(code, 'x'))).to.include({ ok: false, code: ErrorCode.UNKNOWN })
    }
  })

  it('cuts long error messages to MAX_ERROR_MESSAGE_BYTES', () => {
    const envelope = decodeEnvelope(encodeError(ErrorCode.UNKNOWN, '€'.repeat(MAX_ERROR_MESSAGE_BYTES)))
    expect(envelope.ok).to.equal(false)
    expect(new TextEncoder().encode(envelope.ok ? '' : envelope.message).byteLength).to.be.at.most(MAX_ERROR_MESSAGE_BYTES + 3)
  })

  it('refuses empty, truncated and unknown frames with InvalidMessageError', () => {
    for (const frame of [new Uint8Array(0), Uint8Array.of(1, 0, 0), Uint8Array.of(2, 1, 2), Uint8Array.of(0xff)]) {
      expect(() => decodeEnvelope(frame)).to.throw().with.property('name', 'InvalidMessageError')
    }
  })
})
