import { decodeMessage, encodeMessage, enumeration, MaxLengthError, message, streamMessage } from 'protons-runtime'
import { alloc as uint8ArrayAlloc } from 'uint8arrays/alloc'
import type { Codec, DecodeOptions } from 'protons-runtime'
import type { Uint8ArrayList } from 'uint8arraylist'

export interface WirePeer {
  id: Uint8Array<ArrayBuffer>
  address: string
  hints: Uint8Array<ArrayBuffer>[]
}

export namespace WirePeer {
  let _codec: Codec<WirePeer>

  export const codec = (): Codec<WirePeer> => {
    if (_codec == null) {
      _codec = message<WirePeer>((obj, w, opts = {}) => {
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

  export interface WirePeerIdFieldEvent {
    field: '$.id'
    value: Uint8Array<ArrayBuffer>
  }

  export interface WirePeerAddressFieldEvent {
    field: '$.address'
    value: string
  }

  export interface WirePeerHintsFieldEvent {
    field: '$.hints[]'
    index: number
    value: Uint8Array<ArrayBuffer>
  }

  export function encode (obj: Partial<WirePeer>): Uint8Array<ArrayBuffer> {
    return encodeMessage(obj, WirePeer.codec())
  }

  export function decode (buf: Uint8Array | Uint8ArrayList, opts?: DecodeOptions<WirePeer>): WirePeer {
    return decodeMessage(buf, WirePeer.codec(), opts)
  }

  export function stream (buf: Uint8Array | Uint8ArrayList, opts?: DecodeOptions<WirePeer>): Generator<WirePeerIdFieldEvent | WirePeerAddressFieldEvent | WirePeerHintsFieldEvent> {
    return streamMessage(buf, WirePeer.codec(), opts)
  }
}

export interface RouteRequest {
  key: Uint8Array<ArrayBuffer>
  hopsLeft: number
  budgetMs: number
  hops: number
  final: boolean
  maintenance: boolean
  app?: Uint8Array<ArrayBuffer>
  origin?: WirePeer
  avoid: string[]
}

export namespace RouteRequest {
  let _codec: Codec<RouteRequest>

  export const codec = (): Codec<RouteRequest> => {
    if (_codec == null) {
      _codec = message<RouteRequest>((obj, w, opts = {}) => {
        if (opts.lengthDelimited !== false) {
          w.fork()
        }

        if ((obj.key != null && obj.key.byteLength > 0)) {
          w.uint32(10)
          w.bytes(obj.key)
        }

        if ((obj.hopsLeft != null && obj.hopsLeft !== 0)) {
          w.uint32(16)
          w.uint32(obj.hopsLeft)
        }

        if ((obj.budgetMs != null && obj.budgetMs !== 0)) {
          w.uint32(24)
          w.uint32(obj.budgetMs)
        }

        if ((obj.hops != null && obj.hops !== 0)) {
          w.uint32(32)
          w.uint32(obj.hops)
        }

        if ((obj.final != null && obj.final !== false)) {
          w.uint32(40)
          w.bool(obj.final)
        }

        if ((obj.maintenance != null && obj.maintenance !== false)) {
          w.uint32(48)
          w.bool(obj.maintenance)
        }

        if (obj.app != null) {
          w.uint32(58)
          w.bytes(obj.app)
        }

        if (obj.origin != null) {
          w.uint32(66)
          WirePeer.codec().encode(obj.origin, w)
        }

        if (obj.avoid != null && obj.avoid.length > 0) {
          for (const value of obj.avoid) {
            w.uint32(74)
            w.string(value)
          }
        }

        if (opts.lengthDelimited !== false) {
          w.ldelim()
        }
      }, (reader, length, opts = {}) => {
        const obj: any = {
          key: uint8ArrayAlloc(0),
          hopsLeft: 0,
          budgetMs: 0,
          hops: 0,
          final: false,
          maintenance: false,
          avoid: []
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
              obj.hopsLeft = reader.uint32()
              break
            }
            case 3: {
              obj.budgetMs = reader.uint32()
              break
            }
            case 4: {
              obj.hops = reader.uint32()
              break
            }
            case 5: {
              obj.final = reader.bool()
              break
            }
            case 6: {
              obj.maintenance = reader.bool()
              break
            }
            case 7: {
              obj.app = reader.bytes()
              break
            }
            case 8: {
              obj.origin = WirePeer.codec().decode(reader, reader.uint32(), {
                limits: opts.limits?.origin
              })
              break
            }
            case 9: {
              if (opts.limits?.avoid != null && obj.avoid.length === opts.limits.avoid) {
                throw new MaxLengthError('Decode error - repeated field "avoid" had too many elements')
              }

              obj.avoid.push(reader.string())
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
          avoid: 0
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
              yield {
                field: `${prefix}.hopsLeft`,
                value: reader.uint32()
              }
              break
            }
            case 3: {
              yield {
                field: `${prefix}.budgetMs`,
                value: reader.uint32()
              }
              break
            }
            case 4: {
              yield {
                field: `${prefix}.hops`,
                value: reader.uint32()
              }
              break
            }
            case 5: {
              yield {
                field: `${prefix}.final`,
                value: reader.bool()
              }
              break
            }
            case 6: {
              yield {
                field: `${prefix}.maintenance`,
                value: reader.bool()
              }
              break
            }
            case 7: {
              yield {
                field: `${prefix}.app`,
                value: reader.bytes()
              }
              break
            }
            case 8: {
              yield * WirePeer.codec().stream(reader, reader.uint32(), `${prefix}.origin`, {
                limits: opts.limits?.origin
              })

              break
            }
            case 9: {
              if (opts.limits?.avoid != null && obj.avoid === opts.limits.avoid) {
                throw new MaxLengthError('Streaming decode error - repeated field "avoid" had too many elements')
              }

              yield {
                field: `${prefix}.avoid[]`,
                index: obj.avoid,
                value: reader.string()
              }

              obj.avoid++

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

  export interface RouteRequestKeyFieldEvent {
    field: '$.key'
    value: Uint8Array<ArrayBuffer>
  }

  export interface RouteRequestHopsLeftFieldEvent {
    field: '$.hopsLeft'
    value: number
  }

  export interface RouteRequestBudgetMsFieldEvent {
    field: '$.budgetMs'
    value: number
  }

  export interface RouteRequestHopsFieldEvent {
    field: '$.hops'
    value: number
  }

  export interface RouteRequestFinalFieldEvent {
    field: '$.final'
    value: boolean
  }

  export interface RouteRequestMaintenanceFieldEvent {
    field: '$.maintenance'
    value: boolean
  }

  export interface RouteRequestAppFieldEvent {
    field: '$.app'
    value: Uint8Array<ArrayBuffer>
  }

  export interface RouteRequestOriginIdFieldEvent {
    field: '$.origin.id'
    value: Uint8Array<ArrayBuffer>
  }

  export interface RouteRequestOriginAddressFieldEvent {
    field: '$.origin.address'
    value: string
  }

  export interface RouteRequestOriginHintsFieldEvent {
    field: '$.origin.hints[]'
    index: number
    value: Uint8Array<ArrayBuffer>
  }

  export interface RouteRequestAvoidFieldEvent {
    field: '$.avoid[]'
    index: number
    value: string
  }

  export function encode (obj: Partial<RouteRequest>): Uint8Array<ArrayBuffer> {
    return encodeMessage(obj, RouteRequest.codec())
  }

  export function decode (buf: Uint8Array | Uint8ArrayList, opts?: DecodeOptions<RouteRequest>): RouteRequest {
    return decodeMessage(buf, RouteRequest.codec(), opts)
  }

  export function stream (buf: Uint8Array | Uint8ArrayList, opts?: DecodeOptions<RouteRequest>): Generator<RouteRequestKeyFieldEvent | RouteRequestHopsLeftFieldEvent | RouteRequestBudgetMsFieldEvent | RouteRequestHopsFieldEvent | RouteRequestFinalFieldEvent | RouteRequestMaintenanceFieldEvent | RouteRequestAppFieldEvent | RouteRequestOriginIdFieldEvent | RouteRequestOriginAddressFieldEvent | RouteRequestOriginHintsFieldEvent | RouteRequestAvoidFieldEvent> {
    return streamMessage(buf, RouteRequest.codec(), opts)
  }
}

export interface RouteResponse {
  owner?: WirePeer
  hops: number
  app?: Uint8Array<ArrayBuffer>
}

export namespace RouteResponse {
  let _codec: Codec<RouteResponse>

  export const codec = (): Codec<RouteResponse> => {
    if (_codec == null) {
      _codec = message<RouteResponse>((obj, w, opts = {}) => {
        if (opts.lengthDelimited !== false) {
          w.fork()
        }

        if (obj.owner != null) {
          w.uint32(10)
          WirePeer.codec().encode(obj.owner, w)
        }

        if ((obj.hops != null && obj.hops !== 0)) {
          w.uint32(16)
          w.uint32(obj.hops)
        }

        if (obj.app != null) {
          w.uint32(26)
          w.bytes(obj.app)
        }

        if (opts.lengthDelimited !== false) {
          w.ldelim()
        }
      }, (reader, length, opts = {}) => {
        const obj: any = {
          hops: 0
        }

        const end = length == null ? reader.len : reader.pos + length

        while (reader.pos < end) {
          const tag = reader.uint32()

          switch (tag >>> 3) {
            case 1: {
              obj.owner = WirePeer.codec().decode(reader, reader.uint32(), {
                limits: opts.limits?.owner
              })
              break
            }
            case 2: {
              obj.hops = reader.uint32()
              break
            }
            case 3: {
              obj.app = reader.bytes()
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
              yield * WirePeer.codec().stream(reader, reader.uint32(), `${prefix}.owner`, {
                limits: opts.limits?.owner
              })

              break
            }
            case 2: {
              yield {
                field: `${prefix}.hops`,
                value: reader.uint32()
              }
              break
            }
            case 3: {
              yield {
                field: `${prefix}.app`,
                value: reader.bytes()
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

  export interface RouteResponseOwnerIdFieldEvent {
    field: '$.owner.id'
    value: Uint8Array<ArrayBuffer>
  }

  export interface RouteResponseOwnerAddressFieldEvent {
    field: '$.owner.address'
    value: string
  }

  export interface RouteResponseOwnerHintsFieldEvent {
    field: '$.owner.hints[]'
    index: number
    value: Uint8Array<ArrayBuffer>
  }

  export interface RouteResponseHopsFieldEvent {
    field: '$.hops'
    value: number
  }

  export interface RouteResponseAppFieldEvent {
    field: '$.app'
    value: Uint8Array<ArrayBuffer>
  }

  export function encode (obj: Partial<RouteResponse>): Uint8Array<ArrayBuffer> {
    return encodeMessage(obj, RouteResponse.codec())
  }

  export function decode (buf: Uint8Array | Uint8ArrayList, opts?: DecodeOptions<RouteResponse>): RouteResponse {
    return decodeMessage(buf, RouteResponse.codec(), opts)
  }

  export function stream (buf: Uint8Array | Uint8ArrayList, opts?: DecodeOptions<RouteResponse>): Generator<RouteResponseOwnerIdFieldEvent | RouteResponseOwnerAddressFieldEvent | RouteResponseOwnerHintsFieldEvent | RouteResponseHopsFieldEvent | RouteResponseAppFieldEvent> {
    return streamMessage(buf, RouteResponse.codec(), opts)
  }
}

export interface StabilizeRequest {
  sender?: WirePeer
  wantFingers: boolean
  nextRoundMs?: number
}

export namespace StabilizeRequest {
  let _codec: Codec<StabilizeRequest>

  export const codec = (): Codec<StabilizeRequest> => {
    if (_codec == null) {
      _codec = message<StabilizeRequest>((obj, w, opts = {}) => {
        if (opts.lengthDelimited !== false) {
          w.fork()
        }

        if (obj.sender != null) {
          w.uint32(10)
          WirePeer.codec().encode(obj.sender, w)
        }

        if ((obj.wantFingers != null && obj.wantFingers !== false)) {
          w.uint32(16)
          w.bool(obj.wantFingers)
        }

        if (obj.nextRoundMs != null) {
          w.uint32(24)
          w.uint32(obj.nextRoundMs)
        }

        if (opts.lengthDelimited !== false) {
          w.ldelim()
        }
      }, (reader, length, opts = {}) => {
        const obj: any = {
          wantFingers: false
        }

        const end = length == null ? reader.len : reader.pos + length

        while (reader.pos < end) {
          const tag = reader.uint32()

          switch (tag >>> 3) {
            case 1: {
              obj.sender = WirePeer.codec().decode(reader, reader.uint32(), {
                limits: opts.limits?.sender
              })
              break
            }
            case 2: {
              obj.wantFingers = reader.bool()
              break
            }
            case 3: {
              obj.nextRoundMs = reader.uint32()
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
              yield * WirePeer.codec().stream(reader, reader.uint32(), `${prefix}.sender`, {
                limits: opts.limits?.sender
              })

              break
            }
            case 2: {
              yield {
                field: `${prefix}.wantFingers`,
                value: reader.bool()
              }
              break
            }
            case 3: {
              yield {
                field: `${prefix}.nextRoundMs`,
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

  export interface StabilizeRequestSenderIdFieldEvent {
    field: '$.sender.id'
    value: Uint8Array<ArrayBuffer>
  }

  export interface StabilizeRequestSenderAddressFieldEvent {
    field: '$.sender.address'
    value: string
  }

  export interface StabilizeRequestSenderHintsFieldEvent {
    field: '$.sender.hints[]'
    index: number
    value: Uint8Array<ArrayBuffer>
  }

  export interface StabilizeRequestWantFingersFieldEvent {
    field: '$.wantFingers'
    value: boolean
  }

  export interface StabilizeRequestNextRoundMsFieldEvent {
    field: '$.nextRoundMs'
    value: number
  }

  export function encode (obj: Partial<StabilizeRequest>): Uint8Array<ArrayBuffer> {
    return encodeMessage(obj, StabilizeRequest.codec())
  }

  export function decode (buf: Uint8Array | Uint8ArrayList, opts?: DecodeOptions<StabilizeRequest>): StabilizeRequest {
    return decodeMessage(buf, StabilizeRequest.codec(), opts)
  }

  export function stream (buf: Uint8Array | Uint8ArrayList, opts?: DecodeOptions<StabilizeRequest>): Generator<StabilizeRequestSenderIdFieldEvent | StabilizeRequestSenderAddressFieldEvent | StabilizeRequestSenderHintsFieldEvent | StabilizeRequestWantFingersFieldEvent | StabilizeRequestNextRoundMsFieldEvent> {
    return streamMessage(buf, StabilizeRequest.codec(), opts)
  }
}

export interface StabilizeResponse {
  predecessor?: WirePeer
  successors: WirePeer[]
  fingers: WirePeer[]
}

export namespace StabilizeResponse {
  let _codec: Codec<StabilizeResponse>

  export const codec = (): Codec<StabilizeResponse> => {
    if (_codec == null) {
      _codec = message<StabilizeResponse>((obj, w, opts = {}) => {
        if (opts.lengthDelimited !== false) {
          w.fork()
        }

        if (obj.predecessor != null) {
          w.uint32(10)
          WirePeer.codec().encode(obj.predecessor, w)
        }

        if (obj.successors != null && obj.successors.length > 0) {
          for (const value of obj.successors) {
            w.uint32(18)
            WirePeer.codec().encode(value, w)
          }
        }

        if (obj.fingers != null && obj.fingers.length > 0) {
          for (const value of obj.fingers) {
            w.uint32(26)
            WirePeer.codec().encode(value, w)
          }
        }

        if (opts.lengthDelimited !== false) {
          w.ldelim()
        }
      }, (reader, length, opts = {}) => {
        const obj: any = {
          successors: [],
          fingers: []
        }

        const end = length == null ? reader.len : reader.pos + length

        while (reader.pos < end) {
          const tag = reader.uint32()

          switch (tag >>> 3) {
            case 1: {
              obj.predecessor = WirePeer.codec().decode(reader, reader.uint32(), {
                limits: opts.limits?.predecessor
              })
              break
            }
            case 2: {
              if (opts.limits?.successors != null && obj.successors.length === opts.limits.successors) {
                throw new MaxLengthError('Decode error - repeated field "successors" had too many elements')
              }

              obj.successors.push(WirePeer.codec().decode(reader, reader.uint32(), {
                limits: opts.limits?.successors$
              }))
              break
            }
            case 3: {
              if (opts.limits?.fingers != null && obj.fingers.length === opts.limits.fingers) {
                throw new MaxLengthError('Decode error - repeated field "fingers" had too many elements')
              }

              obj.fingers.push(WirePeer.codec().decode(reader, reader.uint32(), {
                limits: opts.limits?.fingers$
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
          successors: 0,
          fingers: 0
        }

        const end = length == null ? reader.len : reader.pos + length

        while (reader.pos < end) {
          const tag = reader.uint32()

          switch (tag >>> 3) {
            case 1: {
              yield * WirePeer.codec().stream(reader, reader.uint32(), `${prefix}.predecessor`, {
                limits: opts.limits?.predecessor
              })

              break
            }
            case 2: {
              if (opts.limits?.successors != null && obj.successors === opts.limits.successors) {
                throw new MaxLengthError('Streaming decode error - repeated field "successors" had too many elements')
              }

              for (const evt of WirePeer.codec().stream(reader, reader.uint32(), `${prefix}.successors[]`, {
                limits: opts.limits?.successors$
              })) {
                yield {
                  ...evt,
                  index: obj.successors
                }
              }

              obj.successors++

              break
            }
            case 3: {
              if (opts.limits?.fingers != null && obj.fingers === opts.limits.fingers) {
                throw new MaxLengthError('Streaming decode error - repeated field "fingers" had too many elements')
              }

              for (const evt of WirePeer.codec().stream(reader, reader.uint32(), `${prefix}.fingers[]`, {
                limits: opts.limits?.fingers$
              })) {
                yield {
                  ...evt,
                  index: obj.fingers
                }
              }

              obj.fingers++

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

  export interface StabilizeResponsePredecessorIdFieldEvent {
    field: '$.predecessor.id'
    value: Uint8Array<ArrayBuffer>
  }

  export interface StabilizeResponsePredecessorAddressFieldEvent {
    field: '$.predecessor.address'
    value: string
  }

  export interface StabilizeResponsePredecessorHintsFieldEvent {
    field: '$.predecessor.hints[]'
    index: number
    value: Uint8Array<ArrayBuffer>
  }

  export interface StabilizeResponseSuccessorsIdFieldEvent {
    field: '$.successors[].id'
    value: Uint8Array<ArrayBuffer>
    index: number
  }

  export interface StabilizeResponseSuccessorsAddressFieldEvent {
    field: '$.successors[].address'
    value: string
    index: number
  }

  export interface StabilizeResponseSuccessorsHintsFieldEvent {
    field: '$.successors[].hints[]'
    index: number
    value: Uint8Array<ArrayBuffer>
  }

  export interface StabilizeResponseFingersIdFieldEvent {
    field: '$.fingers[].id'
    value: Uint8Array<ArrayBuffer>
    index: number
  }

  export interface StabilizeResponseFingersAddressFieldEvent {
    field: '$.fingers[].address'
    value: string
    index: number
  }

  export interface StabilizeResponseFingersHintsFieldEvent {
    field: '$.fingers[].hints[]'
    index: number
    value: Uint8Array<ArrayBuffer>
  }

  export function encode (obj: Partial<StabilizeResponse>): Uint8Array<ArrayBuffer> {
    return encodeMessage(obj, StabilizeResponse.codec())
  }

  export function decode (buf: Uint8Array | Uint8ArrayList, opts?: DecodeOptions<StabilizeResponse>): StabilizeResponse {
    return decodeMessage(buf, StabilizeResponse.codec(), opts)
  }

  export function stream (buf: Uint8Array | Uint8ArrayList, opts?: DecodeOptions<StabilizeResponse>): Generator<StabilizeResponsePredecessorIdFieldEvent | StabilizeResponsePredecessorAddressFieldEvent | StabilizeResponsePredecessorHintsFieldEvent | StabilizeResponseSuccessorsIdFieldEvent | StabilizeResponseSuccessorsAddressFieldEvent | StabilizeResponseSuccessorsHintsFieldEvent | StabilizeResponseFingersIdFieldEvent | StabilizeResponseFingersAddressFieldEvent | StabilizeResponseFingersHintsFieldEvent> {
    return streamMessage(buf, StabilizeResponse.codec(), opts)
  }
}

export interface LeaveRequest {
  sender?: WirePeer
  predecessor?: WirePeer
  successors: WirePeer[]
  app?: Uint8Array<ArrayBuffer>
}

export namespace LeaveRequest {
  let _codec: Codec<LeaveRequest>

  export const codec = (): Codec<LeaveRequest> => {
    if (_codec == null) {
      _codec = message<LeaveRequest>((obj, w, opts = {}) => {
        if (opts.lengthDelimited !== false) {
          w.fork()
        }

        if (obj.sender != null) {
          w.uint32(10)
          WirePeer.codec().encode(obj.sender, w)
        }

        if (obj.predecessor != null) {
          w.uint32(18)
          WirePeer.codec().encode(obj.predecessor, w)
        }

        if (obj.successors != null && obj.successors.length > 0) {
          for (const value of obj.successors) {
            w.uint32(26)
            WirePeer.codec().encode(value, w)
          }
        }

        if (obj.app != null) {
          w.uint32(34)
          w.bytes(obj.app)
        }

        if (opts.lengthDelimited !== false) {
          w.ldelim()
        }
      }, (reader, length, opts = {}) => {
        const obj: any = {
          successors: []
        }

        const end = length == null ? reader.len : reader.pos + length

        while (reader.pos < end) {
          const tag = reader.uint32()

          switch (tag >>> 3) {
            case 1: {
              obj.sender = WirePeer.codec().decode(reader, reader.uint32(), {
                limits: opts.limits?.sender
              })
              break
            }
            case 2: {
              obj.predecessor = WirePeer.codec().decode(reader, reader.uint32(), {
                limits: opts.limits?.predecessor
              })
              break
            }
            case 3: {
              if (opts.limits?.successors != null && obj.successors.length === opts.limits.successors) {
                throw new MaxLengthError('Decode error - repeated field "successors" had too many elements')
              }

              obj.successors.push(WirePeer.codec().decode(reader, reader.uint32(), {
                limits: opts.limits?.successors$
              }))
              break
            }
            case 4: {
              obj.app = reader.bytes()
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
          successors: 0
        }

        const end = length == null ? reader.len : reader.pos + length

        while (reader.pos < end) {
          const tag = reader.uint32()

          switch (tag >>> 3) {
            case 1: {
              yield * WirePeer.codec().stream(reader, reader.uint32(), `${prefix}.sender`, {
                limits: opts.limits?.sender
              })

              break
            }
            case 2: {
              yield * WirePeer.codec().stream(reader, reader.uint32(), `${prefix}.predecessor`, {
                limits: opts.limits?.predecessor
              })

              break
            }
            case 3: {
              if (opts.limits?.successors != null && obj.successors === opts.limits.successors) {
                throw new MaxLengthError('Streaming decode error - repeated field "successors" had too many elements')
              }

              for (const evt of WirePeer.codec().stream(reader, reader.uint32(), `${prefix}.successors[]`, {
                limits: opts.limits?.successors$
              })) {
                yield {
                  ...evt,
                  index: obj.successors
                }
              }

              obj.successors++

              break
            }
            case 4: {
              yield {
                field: `${prefix}.app`,
                value: reader.bytes()
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

  export interface LeaveRequestSenderIdFieldEvent {
    field: '$.sender.id'
    value: Uint8Array<ArrayBuffer>
  }

  export interface LeaveRequestSenderAddressFieldEvent {
    field: '$.sender.address'
    value: string
  }

  export interface LeaveRequestSenderHintsFieldEvent {
    field: '$.sender.hints[]'
    index: number
    value: Uint8Array<ArrayBuffer>
  }

  export interface LeaveRequestPredecessorIdFieldEvent {
    field: '$.predecessor.id'
    value: Uint8Array<ArrayBuffer>
  }

  export interface LeaveRequestPredecessorAddressFieldEvent {
    field: '$.predecessor.address'
    value: string
  }

  export interface LeaveRequestPredecessorHintsFieldEvent {
    field: '$.predecessor.hints[]'
    index: number
    value: Uint8Array<ArrayBuffer>
  }

  export interface LeaveRequestSuccessorsIdFieldEvent {
    field: '$.successors[].id'
    value: Uint8Array<ArrayBuffer>
    index: number
  }

  export interface LeaveRequestSuccessorsAddressFieldEvent {
    field: '$.successors[].address'
    value: string
    index: number
  }

  export interface LeaveRequestSuccessorsHintsFieldEvent {
    field: '$.successors[].hints[]'
    index: number
    value: Uint8Array<ArrayBuffer>
  }

  export interface LeaveRequestAppFieldEvent {
    field: '$.app'
    value: Uint8Array<ArrayBuffer>
  }

  export function encode (obj: Partial<LeaveRequest>): Uint8Array<ArrayBuffer> {
    return encodeMessage(obj, LeaveRequest.codec())
  }

  export function decode (buf: Uint8Array | Uint8ArrayList, opts?: DecodeOptions<LeaveRequest>): LeaveRequest {
    return decodeMessage(buf, LeaveRequest.codec(), opts)
  }

  export function stream (buf: Uint8Array | Uint8ArrayList, opts?: DecodeOptions<LeaveRequest>): Generator<LeaveRequestSenderIdFieldEvent | LeaveRequestSenderAddressFieldEvent | LeaveRequestSenderHintsFieldEvent | LeaveRequestPredecessorIdFieldEvent | LeaveRequestPredecessorAddressFieldEvent | LeaveRequestPredecessorHintsFieldEvent | LeaveRequestSuccessorsIdFieldEvent | LeaveRequestSuccessorsAddressFieldEvent | LeaveRequestSuccessorsHintsFieldEvent | LeaveRequestAppFieldEvent> {
    return streamMessage(buf, LeaveRequest.codec(), opts)
  }
}

export interface AppRequest {
  payload: Uint8Array<ArrayBuffer>
}

export namespace AppRequest {
  let _codec: Codec<AppRequest>

  export const codec = (): Codec<AppRequest> => {
    if (_codec == null) {
      _codec = message<AppRequest>((obj, w, opts = {}) => {
        if (opts.lengthDelimited !== false) {
          w.fork()
        }

        if ((obj.payload != null && obj.payload.byteLength > 0)) {
          w.uint32(10)
          w.bytes(obj.payload)
        }

        if (opts.lengthDelimited !== false) {
          w.ldelim()
        }
      }, (reader, length, opts = {}) => {
        const obj: any = {
          payload: uint8ArrayAlloc(0)
        }

        const end = length == null ? reader.len : reader.pos + length

        while (reader.pos < end) {
          const tag = reader.uint32()

          switch (tag >>> 3) {
            case 1: {
              obj.payload = reader.bytes()
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
                field: `${prefix}.payload`,
                value: reader.bytes()
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

  export interface AppRequestPayloadFieldEvent {
    field: '$.payload'
    value: Uint8Array<ArrayBuffer>
  }

  export function encode (obj: Partial<AppRequest>): Uint8Array<ArrayBuffer> {
    return encodeMessage(obj, AppRequest.codec())
  }

  export function decode (buf: Uint8Array | Uint8ArrayList, opts?: DecodeOptions<AppRequest>): AppRequest {
    return decodeMessage(buf, AppRequest.codec(), opts)
  }

  export function stream (buf: Uint8Array | Uint8ArrayList, opts?: DecodeOptions<AppRequest>): Generator<AppRequestPayloadFieldEvent> {
    return streamMessage(buf, AppRequest.codec(), opts)
  }
}

export interface RingRequest {
  type: RingRequest.Type
  namespace: string
  route?: RouteRequest
  stabilize?: StabilizeRequest
  leave?: LeaveRequest
  app?: AppRequest
}

export namespace RingRequest {
  export enum Type {
    UNKNOWN = 'UNKNOWN',
    ROUTE = 'ROUTE',
    STABILIZE = 'STABILIZE',
    LEAVE = 'LEAVE',
    APP = 'APP',
    PROBE = 'PROBE',
    NUDGE = 'NUDGE'
  }

  enum __TypeValues {
    UNKNOWN = 0,
    ROUTE = 1,
    STABILIZE = 2,
    LEAVE = 3,
    APP = 4,
    PROBE = 5,
    NUDGE = 6
  }

  export namespace Type {
    export const codec = (): Codec<Type> => {
      return enumeration<Type>(__TypeValues)
    }
  }

  let _codec: Codec<RingRequest>

  export const codec = (): Codec<RingRequest> => {
    if (_codec == null) {
      _codec = message<RingRequest>((obj, w, opts = {}) => {
        if (opts.lengthDelimited !== false) {
          w.fork()
        }

        if (obj.type != null && __TypeValues[obj.type] !== 0) {
          w.uint32(8)
          RingRequest.Type.codec().encode(obj.type, w)
        }

        if ((obj.namespace != null && obj.namespace !== '')) {
          w.uint32(18)
          w.string(obj.namespace)
        }

        if (obj.route != null) {
          w.uint32(26)
          RouteRequest.codec().encode(obj.route, w)
        }

        if (obj.stabilize != null) {
          w.uint32(34)
          StabilizeRequest.codec().encode(obj.stabilize, w)
        }

        if (obj.leave != null) {
          w.uint32(42)
          LeaveRequest.codec().encode(obj.leave, w)
        }

        if (obj.app != null) {
          w.uint32(50)
          AppRequest.codec().encode(obj.app, w)
        }

        if (opts.lengthDelimited !== false) {
          w.ldelim()
        }
      }, (reader, length, opts = {}) => {
        const obj: any = {
          type: Type.UNKNOWN,
          namespace: ''
        }

        const end = length == null ? reader.len : reader.pos + length

        while (reader.pos < end) {
          const tag = reader.uint32()

          switch (tag >>> 3) {
            case 1: {
              obj.type = RingRequest.Type.codec().decode(reader)
              break
            }
            case 2: {
              obj.namespace = reader.string()
              break
            }
            case 3: {
              obj.route = RouteRequest.codec().decode(reader, reader.uint32(), {
                limits: opts.limits?.route
              })
              break
            }
            case 4: {
              obj.stabilize = StabilizeRequest.codec().decode(reader, reader.uint32(), {
                limits: opts.limits?.stabilize
              })
              break
            }
            case 5: {
              obj.leave = LeaveRequest.codec().decode(reader, reader.uint32(), {
                limits: opts.limits?.leave
              })
              break
            }
            case 6: {
              obj.app = AppRequest.codec().decode(reader, reader.uint32(), {
                limits: opts.limits?.app
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
        const end = length == null ? reader.len : reader.pos + length

        while (reader.pos < end) {
          const tag = reader.uint32()

          switch (tag >>> 3) {
            case 1: {
              yield {
                field: `${prefix}.type`,
                value: RingRequest.Type.codec().decode(reader)
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
              yield * RouteRequest.codec().stream(reader, reader.uint32(), `${prefix}.route`, {
                limits: opts.limits?.route
              })

              break
            }
            case 4: {
              yield * StabilizeRequest.codec().stream(reader, reader.uint32(), `${prefix}.stabilize`, {
                limits: opts.limits?.stabilize
              })

              break
            }
            case 5: {
              yield * LeaveRequest.codec().stream(reader, reader.uint32(), `${prefix}.leave`, {
                limits: opts.limits?.leave
              })

              break
            }
            case 6: {
              yield * AppRequest.codec().stream(reader, reader.uint32(), `${prefix}.app`, {
                limits: opts.limits?.app
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

  export interface RingRequestTypeFieldEvent {
    field: '$.type'
    value: RingRequest.Type
  }

  export interface RingRequestNamespaceFieldEvent {
    field: '$.namespace'
    value: string
  }

  export interface RingRequestRouteKeyFieldEvent {
    field: '$.route.key'
    value: Uint8Array<ArrayBuffer>
  }

  export interface RingRequestRouteHopsLeftFieldEvent {
    field: '$.route.hopsLeft'
    value: number
  }

  export interface RingRequestRouteBudgetMsFieldEvent {
    field: '$.route.budgetMs'
    value: number
  }

  export interface RingRequestRouteHopsFieldEvent {
    field: '$.route.hops'
    value: number
  }

  export interface RingRequestRouteFinalFieldEvent {
    field: '$.route.final'
    value: boolean
  }

  export interface RingRequestRouteMaintenanceFieldEvent {
    field: '$.route.maintenance'
    value: boolean
  }

  export interface RingRequestRouteAppFieldEvent {
    field: '$.route.app'
    value: Uint8Array<ArrayBuffer>
  }

  export interface RingRequestRouteOriginIdFieldEvent {
    field: '$.route.origin.id'
    value: Uint8Array<ArrayBuffer>
  }

  export interface RingRequestRouteOriginAddressFieldEvent {
    field: '$.route.origin.address'
    value: string
  }

  export interface RingRequestRouteOriginHintsFieldEvent {
    field: '$.route.origin.hints[]'
    index: number
    value: Uint8Array<ArrayBuffer>
  }

  export interface RingRequestRouteAvoidFieldEvent {
    field: '$.route.avoid[]'
    index: number
    value: string
  }

  export interface RingRequestStabilizeSenderIdFieldEvent {
    field: '$.stabilize.sender.id'
    value: Uint8Array<ArrayBuffer>
  }

  export interface RingRequestStabilizeSenderAddressFieldEvent {
    field: '$.stabilize.sender.address'
    value: string
  }

  export interface RingRequestStabilizeSenderHintsFieldEvent {
    field: '$.stabilize.sender.hints[]'
    index: number
    value: Uint8Array<ArrayBuffer>
  }

  export interface RingRequestStabilizeWantFingersFieldEvent {
    field: '$.stabilize.wantFingers'
    value: boolean
  }

  export interface RingRequestStabilizeNextRoundMsFieldEvent {
    field: '$.stabilize.nextRoundMs'
    value: number
  }

  export interface RingRequestLeaveSenderIdFieldEvent {
    field: '$.leave.sender.id'
    value: Uint8Array<ArrayBuffer>
  }

  export interface RingRequestLeaveSenderAddressFieldEvent {
    field: '$.leave.sender.address'
    value: string
  }

  export interface RingRequestLeaveSenderHintsFieldEvent {
    field: '$.leave.sender.hints[]'
    index: number
    value: Uint8Array<ArrayBuffer>
  }

  export interface RingRequestLeavePredecessorIdFieldEvent {
    field: '$.leave.predecessor.id'
    value: Uint8Array<ArrayBuffer>
  }

  export interface RingRequestLeavePredecessorAddressFieldEvent {
    field: '$.leave.predecessor.address'
    value: string
  }

  export interface RingRequestLeavePredecessorHintsFieldEvent {
    field: '$.leave.predecessor.hints[]'
    index: number
    value: Uint8Array<ArrayBuffer>
  }

  export interface RingRequestLeaveSuccessorsIdFieldEvent {
    field: '$.leave.successors[].id'
    value: Uint8Array<ArrayBuffer>
    index: number
  }

  export interface RingRequestLeaveSuccessorsAddressFieldEvent {
    field: '$.leave.successors[].address'
    value: string
    index: number
  }

  export interface RingRequestLeaveSuccessorsHintsFieldEvent {
    field: '$.leave.successors[].hints[]'
    index: number
    value: Uint8Array<ArrayBuffer>
  }

  export interface RingRequestLeaveAppFieldEvent {
    field: '$.leave.app'
    value: Uint8Array<ArrayBuffer>
  }

  export interface RingRequestAppPayloadFieldEvent {
    field: '$.app.payload'
    value: Uint8Array<ArrayBuffer>
  }

  export function encode (obj: Partial<RingRequest>): Uint8Array<ArrayBuffer> {
    return encodeMessage(obj, RingRequest.codec())
  }

  export function decode (buf: Uint8Array | Uint8ArrayList, opts?: DecodeOptions<RingRequest>): RingRequest {
    return decodeMessage(buf, RingRequest.codec(), opts)
  }

  export function stream (buf: Uint8Array | Uint8ArrayList, opts?: DecodeOptions<RingRequest>): Generator<RingRequestTypeFieldEvent | RingRequestNamespaceFieldEvent | RingRequestRouteKeyFieldEvent | RingRequestRouteHopsLeftFieldEvent | RingRequestRouteBudgetMsFieldEvent | RingRequestRouteHopsFieldEvent | RingRequestRouteFinalFieldEvent | RingRequestRouteMaintenanceFieldEvent | RingRequestRouteAppFieldEvent | RingRequestRouteOriginIdFieldEvent | RingRequestRouteOriginAddressFieldEvent | RingRequestRouteOriginHintsFieldEvent | RingRequestRouteAvoidFieldEvent | RingRequestStabilizeSenderIdFieldEvent | RingRequestStabilizeSenderAddressFieldEvent | RingRequestStabilizeSenderHintsFieldEvent | RingRequestStabilizeWantFingersFieldEvent | RingRequestStabilizeNextRoundMsFieldEvent | RingRequestLeaveSenderIdFieldEvent | RingRequestLeaveSenderAddressFieldEvent | RingRequestLeaveSenderHintsFieldEvent | RingRequestLeavePredecessorIdFieldEvent | RingRequestLeavePredecessorAddressFieldEvent | RingRequestLeavePredecessorHintsFieldEvent | RingRequestLeaveSuccessorsIdFieldEvent | RingRequestLeaveSuccessorsAddressFieldEvent | RingRequestLeaveSuccessorsHintsFieldEvent | RingRequestLeaveAppFieldEvent | RingRequestAppPayloadFieldEvent> {
    return streamMessage(buf, RingRequest.codec(), opts)
  }
}

export interface RingResponse {
  error: number
  message: string
  route?: RouteResponse
  stabilize?: StabilizeResponse
  app?: Uint8Array<ArrayBuffer>
}

export namespace RingResponse {
  let _codec: Codec<RingResponse>

  export const codec = (): Codec<RingResponse> => {
    if (_codec == null) {
      _codec = message<RingResponse>((obj, w, opts = {}) => {
        if (opts.lengthDelimited !== false) {
          w.fork()
        }

        if ((obj.error != null && obj.error !== 0)) {
          w.uint32(8)
          w.uint32(obj.error)
        }

        if ((obj.message != null && obj.message !== '')) {
          w.uint32(18)
          w.string(obj.message)
        }

        if (obj.route != null) {
          w.uint32(26)
          RouteResponse.codec().encode(obj.route, w)
        }

        if (obj.stabilize != null) {
          w.uint32(34)
          StabilizeResponse.codec().encode(obj.stabilize, w)
        }

        if (obj.app != null) {
          w.uint32(42)
          w.bytes(obj.app)
        }

        if (opts.lengthDelimited !== false) {
          w.ldelim()
        }
      }, (reader, length, opts = {}) => {
        const obj: any = {
          error: 0,
          message: ''
        }

        const end = length == null ? reader.len : reader.pos + length

        while (reader.pos < end) {
          const tag = reader.uint32()

          switch (tag >>> 3) {
            case 1: {
              obj.error = reader.uint32()
              break
            }
            case 2: {
              obj.message = reader.string()
              break
            }
            case 3: {
              obj.route = RouteResponse.codec().decode(reader, reader.uint32(), {
                limits: opts.limits?.route
              })
              break
            }
            case 4: {
              obj.stabilize = StabilizeResponse.codec().decode(reader, reader.uint32(), {
                limits: opts.limits?.stabilize
              })
              break
            }
            case 5: {
              obj.app = reader.bytes()
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
                field: `${prefix}.error`,
                value: reader.uint32()
              }
              break
            }
            case 2: {
              yield {
                field: `${prefix}.message`,
                value: reader.string()
              }
              break
            }
            case 3: {
              yield * RouteResponse.codec().stream(reader, reader.uint32(), `${prefix}.route`, {
                limits: opts.limits?.route
              })

              break
            }
            case 4: {
              yield * StabilizeResponse.codec().stream(reader, reader.uint32(), `${prefix}.stabilize`, {
                limits: opts.limits?.stabilize
              })

              break
            }
            case 5: {
              yield {
                field: `${prefix}.app`,
                value: reader.bytes()
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

  export interface RingResponseErrorFieldEvent {
    field: '$.error'
    value: number
  }

  export interface RingResponseMessageFieldEvent {
    field: '$.message'
    value: string
  }

  export interface RingResponseRouteOwnerIdFieldEvent {
    field: '$.route.owner.id'
    value: Uint8Array<ArrayBuffer>
  }

  export interface RingResponseRouteOwnerAddressFieldEvent {
    field: '$.route.owner.address'
    value: string
  }

  export interface RingResponseRouteOwnerHintsFieldEvent {
    field: '$.route.owner.hints[]'
    index: number
    value: Uint8Array<ArrayBuffer>
  }

  export interface RingResponseRouteHopsFieldEvent {
    field: '$.route.hops'
    value: number
  }

  export interface RingResponseRouteAppFieldEvent {
    field: '$.route.app'
    value: Uint8Array<ArrayBuffer>
  }

  export interface RingResponseStabilizePredecessorIdFieldEvent {
    field: '$.stabilize.predecessor.id'
    value: Uint8Array<ArrayBuffer>
  }

  export interface RingResponseStabilizePredecessorAddressFieldEvent {
    field: '$.stabilize.predecessor.address'
    value: string
  }

  export interface RingResponseStabilizePredecessorHintsFieldEvent {
    field: '$.stabilize.predecessor.hints[]'
    index: number
    value: Uint8Array<ArrayBuffer>
  }

  export interface RingResponseStabilizeSuccessorsIdFieldEvent {
    field: '$.stabilize.successors[].id'
    value: Uint8Array<ArrayBuffer>
    index: number
  }

  export interface RingResponseStabilizeSuccessorsAddressFieldEvent {
    field: '$.stabilize.successors[].address'
    value: string
    index: number
  }

  export interface RingResponseStabilizeSuccessorsHintsFieldEvent {
    field: '$.stabilize.successors[].hints[]'
    index: number
    value: Uint8Array<ArrayBuffer>
  }

  export interface RingResponseStabilizeFingersIdFieldEvent {
    field: '$.stabilize.fingers[].id'
    value: Uint8Array<ArrayBuffer>
    index: number
  }

  export interface RingResponseStabilizeFingersAddressFieldEvent {
    field: '$.stabilize.fingers[].address'
    value: string
    index: number
  }

  export interface RingResponseStabilizeFingersHintsFieldEvent {
    field: '$.stabilize.fingers[].hints[]'
    index: number
    value: Uint8Array<ArrayBuffer>
  }

  export interface RingResponseAppFieldEvent {
    field: '$.app'
    value: Uint8Array<ArrayBuffer>
  }

  export function encode (obj: Partial<RingResponse>): Uint8Array<ArrayBuffer> {
    return encodeMessage(obj, RingResponse.codec())
  }

  export function decode (buf: Uint8Array | Uint8ArrayList, opts?: DecodeOptions<RingResponse>): RingResponse {
    return decodeMessage(buf, RingResponse.codec(), opts)
  }

  export function stream (buf: Uint8Array | Uint8ArrayList, opts?: DecodeOptions<RingResponse>): Generator<RingResponseErrorFieldEvent | RingResponseMessageFieldEvent | RingResponseRouteOwnerIdFieldEvent | RingResponseRouteOwnerAddressFieldEvent | RingResponseRouteOwnerHintsFieldEvent | RingResponseRouteHopsFieldEvent | RingResponseRouteAppFieldEvent | RingResponseStabilizePredecessorIdFieldEvent | RingResponseStabilizePredecessorAddressFieldEvent | RingResponseStabilizePredecessorHintsFieldEvent | RingResponseStabilizeSuccessorsIdFieldEvent | RingResponseStabilizeSuccessorsAddressFieldEvent | RingResponseStabilizeSuccessorsHintsFieldEvent | RingResponseStabilizeFingersIdFieldEvent | RingResponseStabilizeFingersAddressFieldEvent | RingResponseStabilizeFingersHintsFieldEvent | RingResponseAppFieldEvent> {
    return streamMessage(buf, RingResponse.codec(), opts)
  }
}
