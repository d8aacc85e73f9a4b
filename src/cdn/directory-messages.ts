import { decodeMessage, encodeMessage, enumeration, MaxLengthError, message, streamMessage } from 'protons-runtime'
import { alloc as uint8ArrayAlloc } from 'uint8arrays/alloc'
import type { Codec, DecodeOptions } from 'protons-runtime'
import type { Uint8ArrayList } from 'uint8arraylist'

export interface Holder {
  id: Uint8Array<ArrayBuffer>
  address: string
  hints: Uint8Array<ArrayBuffer>[]
}

export namespace Holder {
  let _codec: Codec<Holder>

  export const codec = (): Codec<Holder> => {
    if (_codec == null) {
      _codec = message<Holder>((obj, w, opts = {}) => {
        if (opts.lengthDelimited !== false) {
          w.fork()
        }

        if ((obj.id != null && obj.id.byteLength > 0)) {
          w.uint32(10)
          w.bytes(obj.id)
        }

        if ((obj.address != null && obj.address !== '')) {
          w.uint32(18)
          w.string(obj.address)
        }

        if (obj.hints != null && obj.hints.length > 0) {
          for (const value of obj.hints) {
            w.uint32(26)
            w.bytes(value)
          }
        }

        if (opts.lengthDelimited !== false) {
          w.ldelim()
        }
      }, (reader, length, opts = {}) => {
        const obj: any = {
          id: uint8ArrayAlloc(0),
          address: '',
          hints: []
        }

        const end = length == null ? reader.len : reader.pos + length

        while (reader.pos < end) {
          const tag = reader.uint32()

          switch (tag >>> 3) {
            case 1: {
              obj.id = reader.bytes()
              break
            }
            case 2: {
              obj.address = reader.string()
              break
            }
            case 3: {
              if (opts.limits?.hints != null && obj.hints.length === opts.limits.hints) {
                throw new MaxLengthError('Decode error - repeated field "hints" had too many elements')
              }

              obj.hints.push(reader.bytes())
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
          hints: 0
        }

        const end = length == null ? reader.len : reader.pos + length

        while (reader.pos < end) {
          const tag = reader.uint32()

          switch (tag >>> 3) {
            case 1: {
              yield {
                field: `${prefix}.id`,
                value: reader.bytes()
              }
              break
            }
            case 2: {
              yield {
                field: `${prefix}.address`,
                value: reader.string()
              }
              break
            }
            case 3: {
              if (opts.limits?.hints != null && obj.hints === opts.limits.hints) {
                throw new MaxLengthError('Streaming decode error - repeated field "hints" had too many elements')
              }

              yield {
                field: `${prefix}.hints[]`,
                index: obj.hints,
                value: reader.bytes()
              }

              obj.hints++

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

  export interface HolderIdFieldEvent {
    field: '$.id'
    value: Uint8Array<ArrayBuffer>
  }

  export interface HolderAddressFieldEvent {
    field: '$.address'
    value: string
  }

  export interface HolderHintsFieldEvent {
    field: '$.hints[]'
    index: number
    value: Uint8Array<ArrayBuffer>
  }

  export function encode (obj: Partial<Holder>): Uint8Array<ArrayBuffer> {
    return encodeMessage(obj, Holder.codec())
  }

  export function decode (buf: Uint8Array | Uint8ArrayList, opts?: DecodeOptions<Holder>): Holder {
    return decodeMessage(buf, Holder.codec(), opts)
  }

  export function stream (buf: Uint8Array | Uint8ArrayList, opts?: DecodeOptions<Holder>): Generator<HolderIdFieldEvent | HolderAddressFieldEvent | HolderHintsFieldEvent> {
    return streamMessage(buf, Holder.codec(), opts)
  }
}

export interface DirectoryEntry {
  key: Uint8Array<ArrayBuffer>
  holders: Holder[]
}

export namespace DirectoryEntry {
  let _codec: Codec<DirectoryEntry>

  export const codec = (): Codec<DirectoryEntry> => {
    if (_codec == null) {
      _codec = message<DirectoryEntry>((obj, w, opts = {}) => {
        if (opts.lengthDelimited !== false) {
          w.fork()
        }

        if ((obj.key != null && obj.key.byteLength > 0)) {
          w.uint32(10)
          w.bytes(obj.key)
        }

        if (obj.holders != null && obj.holders.length > 0) {
          for (const value of obj.holders) {
            w.uint32(18)
            Holder.codec().encode(value, w)
          }
        }

        if (opts.lengthDelimited !== false) {
          w.ldelim()
        }
      }, (reader, length, opts = {}) => {
        const obj: any = {
          key: uint8ArrayAlloc(0),
          holders: []
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
              if (opts.limits?.holders != null && obj.holders.length === opts.limits.holders) {
                throw new MaxLengthError('Decode error - repeated field "holders" had too many elements')
              }

              obj.holders.push(Holder.codec().decode(reader, reader.uint32(), {
                limits: opts.limits?.holders$
              }))
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
          holders: 0
        }

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
              if (opts.limits?.holders != null && obj.holders === opts.limits.holders) {
                throw new MaxLengthError('Streaming decode error - repeated field "holders" had too many elements')
              }

              for (const evt of Holder.codec().stream(reader, reader.uint32(), `${prefix}.holders[]`, {
                limits: opts.limits?.holders$
              })) {
                yield {
                  ...evt,
                  index: obj.holders
                }
              }

              obj.holders++

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

  export interface DirectoryEntryKeyFieldEvent {
    field: '$.key'
    value: Uint8Array<ArrayBuffer>
  }

  export interface DirectoryEntryHoldersIdFieldEvent {
    field: '$.holders[].id'
    value: Uint8Array<ArrayBuffer>
    index: number
  }

  export interface DirectoryEntryHoldersAddressFieldEvent {
    field: '$.holders[].address'
    value: string
    index: number
  }

  export interface DirectoryEntryHoldersHintsFieldEvent {
    field: '$.holders[].hints[]'
    index: number
    value: Uint8Array<ArrayBuffer>
  }

  export function encode (obj: Partial<DirectoryEntry>): Uint8Array<ArrayBuffer> {
    return encodeMessage(obj, DirectoryEntry.codec())
  }

  export function decode (buf: Uint8Array | Uint8ArrayList, opts?: DecodeOptions<DirectoryEntry>): DirectoryEntry {
    return decodeMessage(buf, DirectoryEntry.codec(), opts)
  }

  export function stream (buf: Uint8Array | Uint8ArrayList, opts?: DecodeOptions<DirectoryEntry>): Generator<DirectoryEntryKeyFieldEvent | DirectoryEntryHoldersIdFieldEvent | DirectoryEntryHoldersAddressFieldEvent | DirectoryEntryHoldersHintsFieldEvent> {
    return streamMessage(buf, DirectoryEntry.codec(), opts)
  }
}

export interface DirectoryRequest {
  type: DirectoryRequest.Type
  key: Uint8Array<ArrayBuffer>
  gone: string[]
  entries: DirectoryEntry[]
  holder?: Holder
}

export namespace DirectoryRequest {
  export enum Type {
    UNKNOWN = 'UNKNOWN',
    LOCATE = 'LOCATE',
    ANNOUNCE = 'ANNOUNCE',
    HANDOVER = 'HANDOVER',
    REPLICATE = 'REPLICATE'
  }

  enum __TypeValues {
    UNKNOWN = 0,
    LOCATE = 1,
    ANNOUNCE = 2,
    HANDOVER = 3,
    REPLICATE = 4
  }

  export namespace Type {
    export const codec = (): Codec<Type> => {
      return enumeration<Type>(__TypeValues)
    }
  }

  let _codec: Codec<DirectoryRequest>

  export const codec = (): Codec<DirectoryRequest> => {
    if (_codec == null) {
      _codec = message<DirectoryRequest>((obj, w, opts = {}) => {
        if (opts.lengthDelimited !== false) {
          w.fork()
        }

        if (obj.type != null && __TypeValues[obj.type] !== 0) {
          w.uint32(8)
          DirectoryRequest.Type.codec().encode(obj.type, w)
        }

        if ((obj.key != null && obj.key.byteLength > 0)) {
          w.uint32(18)
          w.bytes(obj.key)
        }

        if (obj.gone != null && obj.gone.length > 0) {
          for (const value of obj.gone) {
            w.uint32(26)
            w.string(value)
          }
        }

        if (obj.entries != null && obj.entries.length > 0) {
          for (const value of obj.entries) {
            w.uint32(34)
            DirectoryEntry.codec().encode(value, w)
          }
        }

        if (obj.holder != null) {
          w.uint32(42)
          Holder.codec().encode(obj.holder, w)
        }

        if (opts.lengthDelimited !== false) {
          w.ldelim()
        }
      }, (reader, length, opts = {}) => {
        const obj: any = {
          type: Type.UNKNOWN,
          key: uint8ArrayAlloc(0),
          gone: [],
          entries: []
        }

        const end = length == null ? reader.len : reader.pos + length

        while (reader.pos < end) {
          const tag = reader.uint32()

          switch (tag >>> 3) {
            case 1: {
              obj.type = DirectoryRequest.Type.codec().decode(reader)
              break
            }
            case 2: {
              obj.key = reader.bytes()
              break
            }
            case 3: {
              if (opts.limits?.gone != null && obj.gone.length === opts.limits.gone) {
                throw new MaxLengthError('Decode error - repeated field "gone" had too many elements')
              }

              obj.gone.push(reader.string())
              break
            }
            case 4: {
              if (opts.limits?.entries != null && obj.entries.length === opts.limits.entries) {
                throw new MaxLengthError('Decode error - repeated field "entries" had too many elements')
              }

              obj.entries.push(DirectoryEntry.codec().decode(reader, reader.uint32(), {
                limits: opts.limits?.entries$
              }))
              break
            }
            case 5: {
              obj.holder = Holder.codec().decode(reader, reader.uint32(), {
                limits: opts.limits?.holder
              })
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
          gone: 0,
          entries: 0
        }

        const end = length == null ? reader.len : reader.pos + length

        while (reader.pos < end) {
          const tag = reader.uint32()

          switch (tag >>> 3) {
            case 1: {
              yield {
                field: `${prefix}.type`,
                value: DirectoryRequest.Type.codec().decode(reader)
              }
              break
            }
            case 2: {
              yield {
                field: `${prefix}.key`,
                value: reader.bytes()
              }
              break
            }
            case 3: {
              if (opts.limits?.gone != null && obj.gone === opts.limits.gone) {
                throw new MaxLengthError('Streaming decode error - repeated field "gone" had too many elements')
              }

              yield {
                field: `${prefix}.gone[]`,
                index: obj.gone,
                value: reader.string()
              }

              obj.gone++

              break
            }
            case 4: {
              if (opts.limits?.entries != null && obj.entries === opts.limits.entries) {
                throw new MaxLengthError('Streaming decode error - repeated field "entries" had too many elements')
              }

              for (const evt of DirectoryEntry.codec().stream(reader, reader.uint32(), `${prefix}.entries[]`, {
                limits: opts.limits?.entries$
              })) {
                yield {
                  ...evt,
                  index: obj.entries
                }
              }

              obj.entries++

              break
            }
            case 5: {
              yield * Holder.codec().stream(reader, reader.uint32(), `${prefix}.holder`, {
                limits: opts.limits?.holder
              })

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

  export interface DirectoryRequestTypeFieldEvent {
    field: '$.type'
    value: DirectoryRequest.Type
  }

  export interface DirectoryRequestKeyFieldEvent {
    field: '$.key'
    value: Uint8Array<ArrayBuffer>
  }

  export interface DirectoryRequestGoneFieldEvent {
    field: '$.gone[]'
    index: number
    value: string
  }

  export interface DirectoryRequestEntriesKeyFieldEvent {
    field: '$.entries[].key'
    value: Uint8Array<ArrayBuffer>
    index: number
  }

  export interface DirectoryRequestEntriesHoldersIdFieldEvent {
    field: '$.entries[].holders[].id'
    value: Uint8Array<ArrayBuffer>
    index: number
  }

  export interface DirectoryRequestEntriesHoldersAddressFieldEvent {
    field: '$.entries[].holders[].address'
    value: string
    index: number
  }

  export interface DirectoryRequestEntriesHoldersHintsFieldEvent {
    field: '$.entries[].holders[].hints[]'
    index: number
    value: Uint8Array<ArrayBuffer>
  }

  export interface DirectoryRequestHolderIdFieldEvent {
    field: '$.holder.id'
    value: Uint8Array<ArrayBuffer>
  }

  export interface DirectoryRequestHolderAddressFieldEvent {
    field: '$.holder.address'
    value: string
  }

  export interface DirectoryRequestHolderHintsFieldEvent {
    field: '$.holder.hints[]'
    index: number
    value: Uint8Array<ArrayBuffer>
  }

  export function encode (obj: Partial<DirectoryRequest>): Uint8Array<ArrayBuffer> {
    return encodeMessage(obj, DirectoryRequest.codec())
  }

  export function decode (buf: Uint8Array | Uint8ArrayList, opts?: DecodeOptions<DirectoryRequest>): DirectoryRequest {
    return decodeMessage(buf, DirectoryRequest.codec(), opts)
  }

  export function stream (buf: Uint8Array | Uint8ArrayList, opts?: DecodeOptions<DirectoryRequest>): Generator<DirectoryRequestTypeFieldEvent | DirectoryRequestKeyFieldEvent | DirectoryRequestGoneFieldEvent | DirectoryRequestEntriesKeyFieldEvent | DirectoryRequestEntriesHoldersIdFieldEvent | DirectoryRequestEntriesHoldersAddressFieldEvent | DirectoryRequestEntriesHoldersHintsFieldEvent | DirectoryRequestHolderIdFieldEvent | DirectoryRequestHolderAddressFieldEvent | DirectoryRequestHolderHintsFieldEvent> {
    return streamMessage(buf, DirectoryRequest.codec(), opts)
  }
}

export interface DirectoryResponse {
  holders: Holder[]
}

export namespace DirectoryResponse {
  let _codec: Codec<DirectoryResponse>

  export const codec = (): Codec<DirectoryResponse> => {
    if (_codec == null) {
      _codec = message<DirectoryResponse>((obj, w, opts = {}) => {
        if (opts.lengthDelimited !== false) {
          w.fork()
        }

        if (obj.holders != null && obj.holders.length > 0) {
          for (const value of obj.holders) {
            w.uint32(10)
            Holder.codec().encode(value, w)
          }
        }

        if (opts.lengthDelimited !== false) {
          w.ldelim()
        }
      }, (reader, length, opts = {}) => {
        const obj: any = {
          holders: []
        }

        const end = length == null ? reader.len : reader.pos + length

        while (reader.pos < end) {
          const tag = reader.uint32()

          switch (tag >>> 3) {
            case 1: {
              if (opts.limits?.holders != null && obj.holders.length === opts.limits.holders) {
                throw new MaxLengthError('Decode error - repeated field "holders" had too many elements')
              }

              obj.holders.push(Holder.codec().decode(reader, reader.uint32(), {
                limits: opts.limits?.holders$
              }))
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
          holders: 0
        }

        const end = length == null ? reader.len : reader.pos + length

        while (reader.pos < end) {
          const tag = reader.uint32()

          switch (tag >>> 3) {
            case 1: {
              if (opts.limits?.holders != null && obj.holders === opts.limits.holders) {
                throw new MaxLengthError('Streaming decode error - repeated field "holders" had too many elements')
              }

              for (const evt of Holder.codec().stream(reader, reader.uint32(), `${prefix}.holders[]`, {
                limits: opts.limits?.holders$
              })) {
                yield {
                  ...evt,
                  index: obj.holders
                }
              }

              obj.holders++

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

  export interface DirectoryResponseHoldersIdFieldEvent {
    field: '$.holders[].id'
    value: Uint8Array<ArrayBuffer>
    index: number
  }

  export interface DirectoryResponseHoldersAddressFieldEvent {
    field: '$.holders[].address'
    value: string
    index: number
  }

  export interface DirectoryResponseHoldersHintsFieldEvent {
    field: '$.holders[].hints[]'
    index: number
    value: Uint8Array<ArrayBuffer>
  }

  export function encode (obj: Partial<DirectoryResponse>): Uint8Array<ArrayBuffer> {
    return encodeMessage(obj, DirectoryResponse.codec())
  }

  export function decode (buf: Uint8Array | Uint8ArrayList, opts?: DecodeOptions<DirectoryResponse>): DirectoryResponse {
    return decodeMessage(buf, DirectoryResponse.codec(), opts)
  }

  export function stream (buf: Uint8Array | Uint8ArrayList, opts?: DecodeOptions<DirectoryResponse>): Generator<DirectoryResponseHoldersIdFieldEvent | DirectoryResponseHoldersAddressFieldEvent | DirectoryResponseHoldersHintsFieldEvent> {
    return streamMessage(buf, DirectoryResponse.codec(), opts)
  }
}
