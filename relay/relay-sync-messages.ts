import { decodeMessage, encodeMessage, enumeration, MaxLengthError, message, streamMessage } from 'protons-runtime'
import { alloc as uint8ArrayAlloc } from 'uint8arrays/alloc'
import type { Codec, DecodeOptions } from 'protons-runtime'
import type { Uint8ArrayList } from 'uint8arraylist'

export interface RelayListing {
  kind: RelayListing.Kind
  namespace: string
  peer: Uint8Array<ArrayBuffer>
  addrs: Uint8Array<ArrayBuffer>[]
  ip: string
  graceMs: number
}

export namespace RelayListing {
  export enum Kind {
    MEMBER = 'MEMBER',
    GONE = 'GONE',
    FOUNDER = 'FOUNDER',
    FOUNDER_GONE = 'FOUNDER_GONE'
  }

  enum __KindValues {
    MEMBER = 0,
    GONE = 1,
    FOUNDER = 2,
    FOUNDER_GONE = 3
  }

  export namespace Kind {
    export const codec = (): Codec<Kind> => {
      return enumeration<Kind>(__KindValues)
    }
  }

  let _codec: Codec<RelayListing>

  export const codec = (): Codec<RelayListing> => {
    if (_codec == null) {
      _codec = message<RelayListing>((obj, w, opts = {}) => {
        if (opts.lengthDelimited !== false) {
          w.fork()
        }

        if (obj.kind != null && __KindValues[obj.kind] !== 0) {
          w.uint32(8)
          RelayListing.Kind.codec().encode(obj.kind, w)
        }

        if ((obj.namespace != null && obj.namespace !== '')) {
          w.uint32(18)
          w.string(obj.namespace)
        }

        if ((obj.peer != null && obj.peer.byteLength > 0)) {
          w.uint32(26)
          w.bytes(obj.peer)
        }

        if (obj.addrs != null && obj.addrs.length > 0) {
          for (const value of obj.addrs) {
            w.uint32(34)
            w.bytes(value)
          }
        }

        if ((obj.ip != null && obj.ip !== '')) {
          w.uint32(42)
          w.string(obj.ip)
        }

        if ((obj.graceMs != null && obj.graceMs !== 0)) {
          w.uint32(48)
          w.uint32(obj.graceMs)
        }

        if (opts.lengthDelimited !== false) {
          w.ldelim()
        }
      }, (reader, length, opts = {}) => {
        const obj: any = {
          kind: Kind.MEMBER,
          namespace: '',
          peer: uint8ArrayAlloc(0),
          addrs: [],
          ip: '',
          graceMs: 0
        }

        const end = length == null ? reader.len : reader.pos + length

        while (reader.pos < end) {
          const tag = reader.uint32()

          switch (tag >>> 3) {
            case 1: {
              obj.kind = RelayListing.Kind.codec().decode(reader)
              break
            }
            case 2: {
              obj.namespace = reader.string()
              break
            }
            case 3: {
              obj.peer = reader.bytes()
              break
            }
            case 4: {
              if (opts.limits?.addrs != null && obj.addrs.length === opts.limits.addrs) {
                throw new MaxLengthError('Decode error - repeated field "addrs" had too many elements')
              }

              obj.addrs.push(reader.bytes())
              break
            }
            case 5: {
              obj.ip = reader.string()
              break
            }
            case 6: {
              obj.graceMs = reader.uint32()
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
          addrs: 0
        }

        const end = length == null ? reader.len : reader.pos + length

        while (reader.pos < end) {
          const tag = reader.uint32()

          switch (tag >>> 3) {
            case 1: {
              yield {
                field: `${prefix}.kind`,
                value: RelayListing.Kind.codec().decode(reader)
              }
              break
            }
            case 2: {
              yield {
                field: `${prefix}.namespace`,
                value: reader.string()
              }
              break
            }
            case 3: {
              yield {
                field: `${prefix}.peer`,
                value: reader.bytes()
              }
              break
            }
            case 4: {
              if (opts.limits?.addrs != null && obj.addrs === opts.limits.addrs) {
                throw new MaxLengthError('Streaming decode error - repeated field "addrs" had too many elements')
              }

              yield {
                field: `${prefix}.addrs[]`,
                index: obj.addrs,
                value: reader.bytes()
              }

              obj.addrs++

              break
            }
            case 5: {
              yield {
                field: `${prefix}.ip`,
                value: reader.string()
              }
              break
            }
            case 6: {
              yield {
                field: `${prefix}.graceMs`,
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

  export interface RelayListingKindFieldEvent {
    field: '$.kind'
    value: RelayListing.Kind
  }

  export interface RelayListingNamespaceFieldEvent {
    field: '$.namespace'
    value: string
  }

  export interface RelayListingPeerFieldEvent {
    field: '$.peer'
    value: Uint8Array<ArrayBuffer>
  }

  export interface RelayListingAddrsFieldEvent {
    field: '$.addrs[]'
    index: number
    value: Uint8Array<ArrayBuffer>
  }

  export interface RelayListingIpFieldEvent {
    field: '$.ip'
    value: string
  }

  export interface RelayListingGraceMsFieldEvent {
    field: '$.graceMs'
    value: number
  }

  export function encode (obj: Partial<RelayListing>): Uint8Array<ArrayBuffer> {
    return encodeMessage(obj, RelayListing.codec())
  }

  export function decode (buf: Uint8Array | Uint8ArrayList, opts?: DecodeOptions<RelayListing>): RelayListing {
    return decodeMessage(buf, RelayListing.codec(), opts)
  }

  export function stream (buf: Uint8Array | Uint8ArrayList, opts?: DecodeOptions<RelayListing>): Generator<RelayListingKindFieldEvent | RelayListingNamespaceFieldEvent | RelayListingPeerFieldEvent | RelayListingAddrsFieldEvent | RelayListingIpFieldEvent | RelayListingGraceMsFieldEvent> {
    return streamMessage(buf, RelayListing.codec(), opts)
  }
}

export interface RelaySyncFrame {
  listings: RelayListing[]
  reset: boolean
}

export namespace RelaySyncFrame {
  let _codec: Codec<RelaySyncFrame>

  export const codec = (): Codec<RelaySyncFrame> => {
    if (_codec == null) {
      _codec = message<RelaySyncFrame>((obj, w, opts = {}) => {
        if (opts.lengthDelimited !== false) {
          w.fork()
        }

        if (obj.listings != null && obj.listings.length > 0) {
          for (const value of obj.listings) {
            w.uint32(10)
            RelayListing.codec().encode(value, w)
          }
        }

        if ((obj.reset != null && obj.reset !== false)) {
          w.uint32(16)
          w.bool(obj.reset)
        }

        if (opts.lengthDelimited !== false) {
          w.ldelim()
        }
      }, (reader, length, opts = {}) => {
        const obj: any = {
          listings: [],
          reset: false
        }

        const end = length == null ? reader.len : reader.pos + length

        while (reader.pos < end) {
          const tag = reader.uint32()

          switch (tag >>> 3) {
            case 1: {
              if (opts.limits?.listings != null && obj.listings.length === opts.limits.listings) {
                throw new MaxLengthError('Decode error - repeated field "listings" had too many elements')
              }

              obj.listings.push(RelayListing.codec().decode(reader, reader.uint32(), {
                limits: opts.limits?.listings$
              }))
              break
            }
            case 2: {
              obj.reset = reader.bool()
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
          listings: 0
        }

        const end = length == null ? reader.len : reader.pos + length

        while (reader.pos < end) {
          const tag = reader.uint32()

          switch (tag >>> 3) {
            case 1: {
              if (opts.limits?.listings != null && obj.listings === opts.limits.listings) {
                throw new MaxLengthError('Streaming decode error - repeated field "listings" had too many elements')
              }

              for (const evt of RelayListing.codec().stream(reader, reader.uint32(), `${prefix}.listings[]`, {
                limits: opts.limits?.listings$
              })) {
                yield {
                  ...evt,
                  index: obj.listings
                }
              }

              obj.listings++

              break
            }
            case 2: {
              yield {
                field: `${prefix}.reset`,
                value: reader.bool()
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

  export interface RelaySyncFrameListingsKindFieldEvent {
    field: '$.listings[].kind'
    value: RelayListing.Kind
    index: number
  }

  export interface RelaySyncFrameListingsNamespaceFieldEvent {
    field: '$.listings[].namespace'
    value: string
    index: number
  }

  export interface RelaySyncFrameListingsPeerFieldEvent {
    field: '$.listings[].peer'
    value: Uint8Array<ArrayBuffer>
    index: number
  }

  export interface RelaySyncFrameListingsAddrsFieldEvent {
    field: '$.listings[].addrs[]'
    index: number
    value: Uint8Array<ArrayBuffer>
  }

  export interface RelaySyncFrameListingsIpFieldEvent {
    field: '$.listings[].ip'
    value: string
    index: number
  }

  export interface RelaySyncFrameListingsGraceMsFieldEvent {
    field: '$.listings[].graceMs'
    value: number
    index: number
  }

  export interface RelaySyncFrameResetFieldEvent {
    field: '$.reset'
    value: boolean
  }

  export function encode (obj: Partial<RelaySyncFrame>): Uint8Array<ArrayBuffer> {
    return encodeMessage(obj, RelaySyncFrame.codec())
  }

  export function decode (buf: Uint8Array | Uint8ArrayList, opts?: DecodeOptions<RelaySyncFrame>): RelaySyncFrame {
    return decodeMessage(buf, RelaySyncFrame.codec(), opts)
  }

  export function stream (buf: Uint8Array | Uint8ArrayList, opts?: DecodeOptions<RelaySyncFrame>): Generator<RelaySyncFrameListingsKindFieldEvent | RelaySyncFrameListingsNamespaceFieldEvent | RelaySyncFrameListingsPeerFieldEvent | RelaySyncFrameListingsAddrsFieldEvent | RelaySyncFrameListingsIpFieldEvent | RelaySyncFrameListingsGraceMsFieldEvent | RelaySyncFrameResetFieldEvent> {
    return streamMessage(buf, RelaySyncFrame.codec(), opts)
  }
}

export interface FoundRequest {
  namespace: string
  peer: Uint8Array<ArrayBuffer>
  addrs: Uint8Array<ArrayBuffer>[]
  ip: string
}

export namespace FoundRequest {
  let _codec: Codec<FoundRequest>

  export const codec = (): Codec<FoundRequest> => {
    if (_codec == null) {
      _codec = message<FoundRequest>((obj, w, opts = {}) => {
        if (opts.lengthDelimited !== false) {
          w.fork()
        }

        if ((obj.namespace != null && obj.namespace !== '')) {
          w.uint32(10)
          w.string(obj.namespace)
        }

        if ((obj.peer != null && obj.peer.byteLength > 0)) {
          w.uint32(18)
          w.bytes(obj.peer)
        }

        if (obj.addrs != null && obj.addrs.length > 0) {
          for (const value of obj.addrs) {
            w.uint32(26)
            w.bytes(value)
          }
        }

        if ((obj.ip != null && obj.ip !== '')) {
          w.uint32(34)
          w.string(obj.ip)
        }

        if (opts.lengthDelimited !== false) {
          w.ldelim()
        }
      }, (reader, length, opts = {}) => {
        const obj: any = {
          namespace: '',
          peer: uint8ArrayAlloc(0),
          addrs: [],
          ip: ''
        }

        const end = length == null ? reader.len : reader.pos + length

        while (reader.pos < end) {
          const tag = reader.uint32()

          switch (tag >>> 3) {
            case 1: {
              obj.namespace = reader.string()
              break
            }
            case 2: {
              obj.peer = reader.bytes()
              break
            }
            case 3: {
              if (opts.limits?.addrs != null && obj.addrs.length === opts.limits.addrs) {
                throw new MaxLengthError('Decode error - repeated field "addrs" had too many elements')
              }

              obj.addrs.push(reader.bytes())
              break
            }
            case 4: {
              obj.ip = reader.string()
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
          addrs: 0
        }

        const end = length == null ? reader.len : reader.pos + length

        while (reader.pos < end) {
          const tag = reader.uint32()

          switch (tag >>> 3) {
            case 1: {
              yield {
                field: `${prefix}.namespace`,
                value: reader.string()
              }
              break
            }
            case 2: {
              yield {
                field: `${prefix}.peer`,
                value: reader.bytes()
              }
              break
            }
            case 3: {
              if (opts.limits?.addrs != null && obj.addrs === opts.limits.addrs) {
                throw new MaxLengthError('Streaming decode error - repeated field "addrs" had too many elements')
              }

              yield {
                field: `${prefix}.addrs[]`,
                index: obj.addrs,
                value: reader.bytes()
              }

              obj.addrs++

              break
            }
            case 4: {
              yield {
                field: `${prefix}.ip`,
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

  export interface FoundRequestNamespaceFieldEvent {
    field: '$.namespace'
    value: string
  }

  export interface FoundRequestPeerFieldEvent {
    field: '$.peer'
    value: Uint8Array<ArrayBuffer>
  }

  export interface FoundRequestAddrsFieldEvent {
    field: '$.addrs[]'
    index: number
    value: Uint8Array<ArrayBuffer>
  }

  export interface FoundRequestIpFieldEvent {
    field: '$.ip'
    value: string
  }

  export function encode (obj: Partial<FoundRequest>): Uint8Array<ArrayBuffer> {
    return encodeMessage(obj, FoundRequest.codec())
  }

  export function decode (buf: Uint8Array | Uint8ArrayList, opts?: DecodeOptions<FoundRequest>): FoundRequest {
    return decodeMessage(buf, FoundRequest.codec(), opts)
  }

  export function stream (buf: Uint8Array | Uint8ArrayList, opts?: DecodeOptions<FoundRequest>): Generator<FoundRequestNamespaceFieldEvent | FoundRequestPeerFieldEvent | FoundRequestAddrsFieldEvent | FoundRequestIpFieldEvent> {
    return streamMessage(buf, FoundRequest.codec(), opts)
  }
}
