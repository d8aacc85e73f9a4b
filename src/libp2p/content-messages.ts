import { decodeMessage, encodeMessage, enumeration, MaxLengthError, message, streamMessage } from 'protons-runtime'
import { alloc as uint8ArrayAlloc } from 'uint8arrays/alloc'
import type { Codec, DecodeOptions } from 'protons-runtime'
import type { Uint8ArrayList } from 'uint8arraylist'

export interface ContentRequest {
  key: Uint8Array<ArrayBuffer>
  digest: Uint8Array<ArrayBuffer>
  window: number
  maxSize: number
}

export namespace ContentRequest {
  let _codec: Codec<ContentRequest>

  export const codec = (): Codec<ContentRequest> => {
    if (_codec == null) {
      _codec = message<ContentRequest>((obj, w, opts = {}) => {
        if (opts.lengthDelimited !== false) {
          w.fork()
        }

        if ((obj.key != null && obj.key.byteLength > 0)) {
          w.uint32(10)
          w.bytes(obj.key)
        }

        if ((obj.digest != null && obj.digest.byteLength > 0)) {
          w.uint32(18)
          w.bytes(obj.digest)
        }

        if ((obj.window != null && obj.window !== 0)) {
          w.uint32(24)
          w.uint32(obj.window)
        }

        if ((obj.maxSize != null && obj.maxSize !== 0)) {
          w.uint32(32)
          w.uint64Number(obj.maxSize)
        }

        if (opts.lengthDelimited !== false) {
          w.ldelim()
        }
      }, (reader, length, opts = {}) => {
        const obj: any = {
          key: uint8ArrayAlloc(0),
          digest: uint8ArrayAlloc(0),
          window: 0,
          maxSize: 0
        }

        const end = length == null ? reader.len : reader.pos + length

        while (reader.pos < end) {
          const tag = reader.uint32()

          switch (tag >>> 3) {
            case 1: {
              obj.key = reader.bytes()
              break
            }
            case 2: {
              obj.digest = reader.bytes()
              break
            }
            case 3: {
              obj.window = reader.uint32()
              break
            }
            case 4: {
              obj.maxSize = reader.uint64Number()
              break
            }
            default: {
              reader.skipType(tag & 7)
              break
            }
          }
        }

        return obj
      }, function * (reader, length, prefix, opts = {}) {
        const end = length == null ? reader.len : reader.pos + length

        while (reader.pos < end) {
          const tag = reader.uint32()

          switch (tag >>> 3) {
            case 1: {
              yield {
                field: `${prefix}.key`,
                value: reader.bytes()
              }
              break
            }
            case 2: {
              yield {
                field: `${prefix}.digest`,
                value: reader.bytes()
              }
              break
            }
            case 3: {
              yield {
                field: `${prefix}.window`,
                value: reader.uint32()
              }
              break
            }
            case 4: {
              yield {
                field: `${prefix}.maxSize`,
                value: reader.uint64Number()
              }
              break
            }
            default: {
              reader.skipType(tag & 7)
              break
            }
          }
        }
      })
    }

    return _codec
  }

  export interface ContentRequestKeyFieldEvent {
    field: '$.key'
    value: Uint8Array<ArrayBuffer>
  }

  export interface ContentRequestDigestFieldEvent {
    field: '$.digest'
    value: Uint8Array<ArrayBuffer>
  }

  export interface ContentRequestWindowFieldEvent {
    field: '$.window'
    value: number
  }

  export interface ContentRequestMaxSizeFieldEvent {
    field: '$.maxSize'
    value: number
  }

  export function encode (obj: Partial<ContentRequest>): Uint8Array<ArrayBuffer> {
    return encodeMessage(obj, ContentRequest.codec())
  }

  export function decode (buf: Uint8Array | Uint8ArrayList, opts?: DecodeOptions<ContentRequest>): ContentRequest {
    return decodeMessage(buf, ContentRequest.codec(), opts)
  }

  export function stream (buf: Uint8Array | Uint8ArrayList, opts?: DecodeOptions<ContentRequest>): Generator<ContentRequestKeyFieldEvent | ContentRequestDigestFieldEvent | ContentRequestWindowFieldEvent | ContentRequestMaxSizeFieldEvent> {
    return streamMessage(buf, ContentRequest.codec(), opts)
  }
}

export interface ContentMeta {
  status: ContentMeta.Status
  size: number
  chunkSize: number
  chunkDigests: Uint8Array<ArrayBuffer>[]
  digest: Uint8Array<ArrayBuffer>
  contentType: string
  message: string
}

export namespace ContentMeta {
  export enum Status {
    OK = 'OK',
    NOT_FOUND = 'NOT_FOUND',
    BUSY = 'BUSY',
    REFUSED = 'REFUSED',
    TOO_LARGE = 'TOO_LARGE'
  }

  enum __StatusValues {
    OK = 0,
    NOT_FOUND = 1,
    BUSY = 2,
    REFUSED = 3,
    TOO_LARGE = 4
  }

  export namespace Status {
    export const codec = (): Codec<Status> => {
      return enumeration<Status>(__StatusValues)
    }
  }

  let _codec: Codec<ContentMeta>

  export const codec = (): Codec<ContentMeta> => {
    if (_codec == null) {
      _codec = message<ContentMeta>((obj, w, opts = {}) => {
        if (opts.lengthDelimited !== false) {
          w.fork()
        }

        if (obj.status != null && __StatusValues[obj.status] !== 0) {
          w.uint32(8)
          ContentMeta.Status.codec().encode(obj.status, w)
        }

        if ((obj.size != null && obj.size !== 0)) {
          w.uint32(16)
          w.uint64Number(obj.size)
        }

        if ((obj.chunkSize != null && obj.chunkSize !== 0)) {
          w.uint32(24)
          w.uint32(obj.chunkSize)
        }

        if (obj.chunkDigests != null && obj.chunkDigests.length > 0) {
          for (const value of obj.chunkDigests) {
            w.uint32(34)
            w.bytes(value)
          }
        }

        if ((obj.digest != null && obj.digest.byteLength > 0)) {
          w.uint32(42)
          w.bytes(obj.digest)
        }

        if ((obj.contentType != null && obj.contentType !== '')) {
          w.uint32(50)
          w.string(obj.contentType)
        }

        if ((obj.message != null && obj.message !== '')) {
          w.uint32(58)
          w.string(obj.message)
        }

        if (opts.lengthDelimited !== false) {
          w.ldelim()
        }
      }, (reader, length, opts = {}) => {
        const obj: any = {
          status: Status.OK,
          size: 0,
          chunkSize: 0,
          chunkDigests: [],
          digest: uint8ArrayAlloc(0),
          contentType: '',
          message: ''
        }

        const end = length == null ? reader.len : reader.pos + length

        while (reader.pos < end) {
          const tag = reader.uint32()

          switch (tag >>> 3) {
            case 1: {
              obj.status = ContentMeta.Status.codec().decode(reader)
              break
            }
            case 2: {
              obj.size = reader.uint64Number()
              break
            }
            case 3: {
              obj.chunkSize = reader.uint32()
              break
            }
            case 4: {
              if (opts.limits?.chunkDigests != null && obj.chunkDigests.length === opts.limits.chunkDigests) {
                throw new MaxLengthError('Decode error - repeated field "chunkDigests" had too many elements')
              }

              obj.chunkDigests.push(reader.bytes())
              break
            }
            case 5: {
              obj.digest = reader.bytes()
              break
            }
            case 6: {
              obj.contentType = reader.string()
              break
            }
            case 7: {
              obj.message = reader.string()
              break
            }
            default: {
              reader.skipType(tag & 7)
              break
            }
          }
        }

        return obj
      }, function * (reader, length, prefix, opts = {}) {
        const obj = {
          chunkDigests: 0
        }

        const end = length == null ? reader.len : reader.pos + length

        while (reader.pos < end) {
          const tag = reader.uint32()

          switch (tag >>> 3) {
            case 1: {
              yield {
                field: `${prefix}.status`,
                value: ContentMeta.Status.codec().decode(reader)
              }
              break
            }
            case 2: {
              yield {
                field: `${prefix}.size`,
                value: reader.uint64Number()
              }
              break
            }
            case 3: {
              yield {
                field: `${prefix}.chunkSize`,
                value: reader.uint32()
              }
              break
            }
            case 4: {
              if (opts.limits?.chunkDigests != null && obj.chunkDigests === opts.limits.chunkDigests) {
                throw new MaxLengthError('Streaming decode error - repeated field "chunkDigests" had too many elements')
              }

              yield {
                field: `${prefix}.chunkDigests[]`,
                index: obj.chunkDigests,
                value: reader.bytes()
              }

              obj.chunkDigests++

              break
            }
            case 5: {
              yield {
                field: `${prefix}.digest`,
                value: reader.bytes()
              }
              break
            }
            case 6: {
              yield {
                field: `${prefix}.contentType`,
                value: reader.string()
              }
              break
            }
            case 7: {
              yield {
                field: `${prefix}.message`,
                value: reader.string()
              }
              break
            }
            default: {
              reader.skipType(tag & 7)
              break
            }
          }
        }
      })
    }

    return _codec
  }

  export interface ContentMetaStatusFieldEvent {
    field: '$.status'
    value: ContentMeta.Status
  }

  export interface ContentMetaSizeFieldEvent {
    field: '$.size'
    value: number
  }

  export interface ContentMetaChunkSizeFieldEvent {
    field: '$.chunkSize'
    value: number
  }

  export interface ContentMetaChunkDigestsFieldEvent {
    field: '$.chunkDigests[]'
    index: number
    value: Uint8Array<ArrayBuffer>
  }

  export interface ContentMetaDigestFieldEvent {
    field: '$.digest'
    value: Uint8Array<ArrayBuffer>
  }

  export interface ContentMetaContentTypeFieldEvent {
    field: '$.contentType'
    value: string
  }

  export interface ContentMetaMessageFieldEvent {
    field: '$.message'
    value: string
  }

  export function encode (obj: Partial<ContentMeta>): Uint8Array<ArrayBuffer> {
    return encodeMessage(obj, ContentMeta.codec())
  }

  export function decode (buf: Uint8Array | Uint8ArrayList, opts?: DecodeOptions<ContentMeta>): ContentMeta {
    return decodeMessage(buf, ContentMeta.codec(), opts)
  }

  export function stream (buf: Uint8Array | Uint8ArrayList, opts?: DecodeOptions<ContentMeta>): Generator<ContentMetaStatusFieldEvent | ContentMetaSizeFieldEvent | ContentMetaChunkSizeFieldEvent | ContentMetaChunkDigestsFieldEvent | ContentMetaDigestFieldEvent | ContentMetaContentTypeFieldEvent | ContentMetaMessageFieldEvent> {
    return streamMessage(buf, ContentMeta.codec(), opts)
  }
}

export interface ContentCredit {
  chunks: number
}

export namespace ContentCredit {
  let _codec: Codec<ContentCredit>

  export const codec = (): Codec<ContentCredit> => {
    if (_codec == null) {
      _codec = message<ContentCredit>((obj, w, opts = {}) => {
        if (opts.lengthDelimited !== false) {
          w.fork()
        }

        if ((obj.chunks != null && obj.chunks !== 0)) {
          w.uint32(8)
          w.uint32(obj.chunks)
        }

        if (opts.lengthDelimited !== false) {
          w.ldelim()
        }
      }, (reader, length, opts = {}) => {
        const obj: any = {
          chunks: 0
        }

        const end = length == null ? reader.len : reader.pos + length

        while (reader.pos < end) {
          const tag = reader.uint32()

          switch (tag >>> 3) {
            case 1: {
              obj.chunks = reader.uint32()
              break
            }
            default: {
              reader.skipType(tag & 7)
              break
            }
          }
        }

        return obj
      }, function * (reader, length, prefix, opts = {}) {
        const end = length == null ? reader.len : reader.pos + length

        while (reader.pos < end) {
          const tag = reader.uint32()

          switch (tag >>> 3) {
            case 1: {
              yield {
                field: `${prefix}.chunks`,
                value: reader.uint32()
              }
              break
            }
            default: {
              reader.skipType(tag & 7)
              break
            }
          }
        }
      })
    }

    return _codec
  }

  export interface ContentCreditChunksFieldEvent {
    field: '$.chunks'
    value: number
  }

  export function encode (obj: Partial<ContentCredit>): Uint8Array<ArrayBuffer> {
    return encodeMessage(obj, ContentCredit.codec())
  }

  export function decode (buf: Uint8Array | Uint8ArrayList, opts?: DecodeOptions<ContentCredit>): ContentCredit {
    return decodeMessage(buf, ContentCredit.codec(), opts)
  }

  export function stream (buf: Uint8Array | Uint8ArrayList, opts?: DecodeOptions<ContentCredit>): Generator<ContentCreditChunksFieldEvent> {
    return streamMessage(buf, ContentCredit.codec(), opts)
  }
}
