/**
 * The ring's protocol on the simulated network: the library's own codec, the
 * library's id binding, and the traffic classes the results count
 * (maintenance, lookups, directory).
 */
import { createHash } from 'node:crypto'
import { decodeRingRequest, decodeRingResponse, encodeRingRequest, encodeRingResponse } from '../src/overlay/codec.ts'
import { checkRequestIds, checkResponseIds } from '../src/overlay/id-binding.ts'
import { RingRequest } from '../src/overlay/messages.ts'
import type { SimProtocol } from './network/protocol.ts'
import type { RingResponse } from '../src/overlay/messages.ts'

/**
 * A simulated page's ring id is SHA-256 of its name, as a libp2p page's is of
 * its peer id; every peer record a page decodes is checked against it, as
 * the library checks it (`src/overlay/id-binding.ts`)
 */
const simIds = new Map<string, Uint8Array>()
export function simRingIdOf (address: string): Uint8Array {
  let id = simIds.get(address)
  if (id == null) {
    id = createHash('sha256').update(address).digest()
    simIds.set(address, id)
  }
  return id
}

export const ringProtocol: SimProtocol<RingRequest, RingResponse> = {
  name: 'ring',
  encodeRequest: encodeRingRequest,
  decodeRequest: (bytes) => {
    const req = decodeRingRequest(bytes)
    checkRequestIds(req, simRingIdOf)
    return req
  },
  encodeResponse: encodeRingResponse,
  decodeResponse: (bytes) => {
    const res = decodeRingResponse(bytes)
    checkResponseIds(res, simRingIdOf)
    return res
  },
  classify: (req) => {
    switch (req.type) {
      case RingRequest.Type.ROUTE: return req.route?.maintenance === true ? 'maintenance' : 'lookup'
      case RingRequest.Type.APP: return 'directory'
      default: return 'maintenance'
    }
  }
}
