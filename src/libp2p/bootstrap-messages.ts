import { decodeMessage, encodeMessage, enumeration, MaxLengthError, message, streamMessage } from 'protons-runtime'
import { alloc as uint8ArrayAlloc } from 'uint8arrays/alloc'
import type { Codec, DecodeOptions } from 'protons-runtime'
import type { Uint8ArrayList } from 'uint8arraylist'

export interface BootstrapRequest {
  namespace: string
  addrs: Uint8Array<ArrayBuffer>[]
  member: boolean
  limit: number
}

export namespace BootstrapRequest {
  let _codec: Codec<BootstrapRequest>

  export const codec = (): Codec<BootstrapRequest> => {
    if (_codec == null) {
      _codec = message<BootstrapRequest>((obj, w, opts = {}) => {
        if (opts.lengthDelimited !== false) {
          w.fork()
        }

        if ((obj.namespace != null && obj.namespace !== '')) {
          w.uint32(10)
          w.string(obj.namespace)
        }

        if (obj.addrs != null && obj.addrs.length > 0) {
          for (const value of obj.addrs) {
            w.uint32(18)
            w.bytes(value)
          }
        }

        if ((obj.member != null && obj.member !== false)) {
          w.uint32(24)
          w.bool(obj.member)
        }

        if ((obj.limit != null && obj.limit !== 0)) {
          w.uint32(32)
          w.uint32(obj.limit)
        }

        if (opts.lengthDelimited !== false) {
          w.ldelim()
        }
      }, (reader, length, opts = {}) => {
        const obj: any = {
          namespace: '',
          addrs: [],
          member: false,
          limit: 0
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
              if (opts.limits?.addrs != null && obj.addrs.length === opts.limits.addrs) {
                throw new MaxLengthError('Decode error - repeated field "addrs" had too many elements')
              }

              obj.addrs.push(reader.bytes())
              break
            }
            case 3: {
              obj.member = reader.bool()
              break
            }
            case 4: {
              obj.limit = reader.uint32()
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
            case 3: {
              yield {
                field: `${prefix}.member`,
                value: reader.bool()
              }
              break
            }
            case 4: {
              yield {
                field: `${prefix}.limit`,
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

  export interface BootstrapRequestNamespaceFieldEvent {
    field: '$.namespace'
    value: string
  }

  export interface BootstrapRequestAddrsFieldEvent {
    field: '$.addrs[]'
    index: number
    value: Uint8Array<ArrayBuffer>
  }

  export interface BootstrapRequestMemberFieldEvent {
    field: '$.member'
    value: boolean
  }

  export interface BootstrapRequestLimitFieldEvent {
    field: '$.limit'
    value: number
  }

  export function encode (obj: Partial<BootstrapRequest>): Uint8Array<ArrayBuffer> {
    return encodeMessage(obj, BootstrapRequest.codec())
  }

  export function decode (buf: Uint8Array | Uint8ArrayList, opts?: DecodeOptions<BootstrapRequest>): BootstrapRequest {
    return decodeMessage(buf, BootstrapRequest.codec(), opts)
  }

  export function stream (buf: Uint8Array | Uint8ArrayList, opts?: DecodeOptions<BootstrapRequest>): Generator<BootstrapRequestNamespaceFieldEvent | BootstrapRequestAddrsFieldEvent | BootstrapRequestMemberFieldEvent | BootstrapRequestLimitFieldEvent> {
    return streamMessage(buf, BootstrapRequest.codec(), opts)
  }
}

export interface BootstrapPeer {
  peer: Uint8Array<ArrayBuffer>
  addrs: Uint8Array<ArrayBuffer>[]
}

export namespace BootstrapPeer {
  let _codec: Codec<BootstrapPeer>

  export const codec = (): Codec<BootstrapPeer> => {
    if (_codec == null) {
      _codec = message<BootstrapPeer>((obj, w, opts = {}) => {
        if (opts.lengthDelimited !== false) {
          w.fork()
        }

        if ((obj.peer != null && obj.peer.byteLength > 0)) {
          w.uint32(10)
          w.bytes(obj.peer)
        }

        if (obj.addrs != null && obj.addrs.length > 0) {
          for (const value of obj.addrs) {
            w.uint32(18)
            w.bytes(value)
          }
        }

        if (opts.lengthDelimited !== false) {
          w.ldelim()
        }
      }, (reader, length, opts = {}) => {
        const obj: any = {
          peer: uint8ArrayAlloc(0),
          addrs: []
        }

        const end = length == null ? reader.len : reader.pos + length

        while (reader.pos < end) {
          const tag = reader.uint32()

          switch (tag >>> 3) {
            case 1: {
              obj.peer = reader.bytes()
              break
            }
            case 2: {
              if (opts.limits?.addrs != null && obj.addrs.length === opts.limits.addrs) {
                throw new MaxLengthError('Decode error - repeated field "addrs" had too many elements')
              }

              obj.addrs.push(reader.bytes())
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
                field: `${prefix}.peer`,
                value: reader.bytes()
              }
              break
            }
            case 2: {
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

  export interface BootstrapPeerPeerFieldEvent {
    field: '$.peer'
    value: Uint8Array<ArrayBuffer>
  }

  export interface BootstrapPeerAddrsFieldEvent {
    field: '$.addrs[]'
    index: number
    value: Uint8Array<ArrayBuffer>
  }

  export function encode (obj: Partial<BootstrapPeer>): Uint8Array<ArrayBuffer> {
    return encodeMessage(obj, BootstrapPeer.codec())
  }

  export function decode (buf: Uint8Array | Uint8ArrayList, opts?: DecodeOptions<BootstrapPeer>): BootstrapPeer {
    return decodeMessage(buf, BootstrapPeer.codec(), opts)
  }

  export function stream (buf: Uint8Array | Uint8ArrayList, opts?: DecodeOptions<BootstrapPeer>): Generator<BootstrapPeerPeerFieldEvent | BootstrapPeerAddrsFieldEvent> {
    return streamMessage(buf, BootstrapPeer.codec(), opts)
  }
}

export interface BootstrapResponse {
  status: BootstrapResponse.Status
  members: BootstrapPeer[]
  registered: boolean
  message: string
}

export namespace BootstrapResponse {
  export enum Status {
    UNSPECIFIED = 'UNSPECIFIED',
    OK = 'OK',
    FOUND = 'FOUND',
    INVALID_REQUEST = 'INVALID_REQUEST',
    UNAVAILABLE = 'UNAVAILABLE',
    WAIT = 'WAIT'
  }

  enum __StatusValues {
    UNSPECIFIED = 0,
    OK = 1,
    FOUND = 2,
    INVALID_REQUEST = 3,
    UNAVAILABLE = 4,
    WAIT = 5
  }

  export namespace Status {
    export const codec = (): Codec<Status> => {
      return enumeration<Status>(__StatusValues)
    }
  }

  let _codec: Codec<BootstrapResponse>

  export const codec = (): Codec<BootstrapResponse> => {
    if (_codec == null) {
      _codec = message<BootstrapResponse>((obj, w, opts = {}) => {
        if (opts.lengthDelimited !== false) {
          w.fork()
        }

        if (obj.status != null && __StatusValues[obj.status] !== 0) {
          w.uint32(8)
          BootstrapResponse.Status.codec().encode(obj.status, w)
        }

        if (obj.members != null && obj.members.length > 0) {
          for (const value of obj.members) {
            w.uint32(18)
            BootstrapPeer.codec().encode(value, w)
          }
        }

        if ((obj.registered != null && obj.registered !== false)) {
          w.uint32(24)
          w.bool(obj.registered)
        }

        if ((obj.message != null && obj.message !== '')) {
          w.uint32(34)
          w.string(obj.message)
        }

        if (opts.lengthDelimited !== false) {
          w.ldelim()
        }
      }, (reader, length, opts = {}) => {
        const obj: any = {
          status: Status.UNSPECIFIED,
          members: [],
          registered: false,
          message: ''
        }

        const end = length == null ? reader.len : reader.pos + length

        while (reader.pos < end) {
          const tag = reader.uint32()

          switch (tag >>> 3) {
            case 1: {
              obj.status = BootstrapResponse.Status.codec().decode(reader)
              break
            }
            case 2: {
              if (opts.limits?.members != null && obj.members.length === opts.limits.members) {
                throw new MaxLengthError('Decode error - repeated field "members" had too many elements')
              }

              obj.members.push(BootstrapPeer.codec().decode(reader, reader.uint32(), {
                limits: opts.limits?.members$
              }))
              break
            }
            case 3: {
              obj.registered = reader.bool()
              break
            }
            case 4: {
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
          members: 0
        }

        const end = length == null ? reader.len : reader.pos + length

        while (reader.pos < end) {
          const tag = reader.uint32()

          switch (tag >>> 3) {
            case 1: {
              yield {
                field: `${prefix}.status`,
                value: BootstrapResponse.Status.codec().decode(reader)
              }
              break
            }
            case 2: {
              if (opts.limits?.members != null && obj.members === opts.limits.members) {
                throw new MaxLengthError('Streaming decode error - repeated field "members" had too many elements')
              }

              for (const evt of BootstrapPeer.codec().stream(reader, reader.uint32(), `${prefix}.members[]`, {
                limits: opts.limits?.members$
              })) {
                yield {
                  ...evt,
                  index: obj.members
                }
              }

              obj.members++

              break
            }
            case 3: {
              yield {
                field: `${prefix}.registered`,
                value: reader.bool()
              }
              break
            }
            case 4: {
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

  export interface BootstrapResponseStatusFieldEvent {
    field: '$.status'
    value: BootstrapResponse.Status
  }

  export interface BootstrapResponseMembersPeerFieldEvent {
    field: '$.members[].peer'
    value: Uint8Array<ArrayBuffer>
    index: number
  }

  export interface BootstrapResponseMembersAddrsFieldEvent {
    field: '$.members[].addrs[]'
    index: number
    value: Uint8Array<ArrayBuffer>
  }

  export interface BootstrapResponseRegisteredFieldEvent {
    field: '$.registered'
    value: boolean
  }

  export interface BootstrapResponseMessageFieldEvent {
    field: '$.message'
    value: string
  }

  export function encode (obj: Partial<BootstrapResponse>): Uint8Array<ArrayBuffer> {
    return encodeMessage(obj, BootstrapResponse.codec())
  }

  export function decode (buf: Uint8Array | Uint8ArrayList, opts?: DecodeOptions<BootstrapResponse>): BootstrapResponse {
    return decodeMessage(buf, BootstrapResponse.codec(), opts)
  }

  export function stream (buf: Uint8Array | Uint8ArrayList, opts?: DecodeOptions<BootstrapResponse>): Generator<BootstrapResponseStatusFieldEvent | BootstrapResponseMembersPeerFieldEvent | BootstrapResponseMembersAddrsFieldEvent | BootstrapResponseRegisteredFieldEvent | BootstrapResponseMessageFieldEvent> {
    return streamMessage(buf, BootstrapResponse.codec(), opts)
  }
}
