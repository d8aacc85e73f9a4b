/**
 * Page side of P6 (`bench/p6-webrtc.ts`), loaded next to the e2e test page
 * (`globalThis.e2e`). Two measurements a ringcdn fetch is compared with:
 *
 * - a raw RTCDataChannel between the same two pages (signalled by the
 * benchmark process, non-trickle ICE): one side sends N bytes in messages of
 * `MESSAGE_BYTES` with `bufferedAmount` back-pressure, the other times from
 * its request to the last byte. This is the ceiling: no noise, no muxer, no
 * lookup, no hashing.
 * - libp2p WebRTC connection set-up: hang up on a peer and dial its
 * `/p2p-circuit/webrtc` address again (relayed signalling + ICE + DTLS +
 * noise), timed in the page (`redials` of the e2e test page).
 */
/** Message size of the raw channel unless the benchmark asks for another: `@libp2p/webrtc`'s default `maxMessageSize` */
const MESSAGE_BYTES = 16_384
/** Bound on one libp2p dial, ms */
const DIAL_TIMEOUT_MS = 10_000
/** Pause sending above this many buffered bytes */
const HIGH_WATER = 1_048_576
/** Resume below this */
const LOW_WATER = 262_144

let pc: RTCPeerConnection | undefined
let channel: RTCDataChannel | undefined
let channelOpen: Promise<RTCDataChannel> | undefined

async function gathered (conn: RTCPeerConnection): Promise<void> {
  if (conn.iceGatheringState === 'complete') {
    return
  }
  await new Promise<void>(resolve => {
    conn.addEventListener('icegatheringstatechange', () => {
      if (conn.iceGatheringState === 'complete') {
        resolve()
      }
    })
  })
}

function opened (dc: RTCDataChannel): Promise<RTCDataChannel> {
  dc.binaryType = 'arraybuffer'
  if (dc.readyState === 'open') {
    return Promise.resolve(dc)
  }
  return new Promise((resolve, reject) => {
    dc.addEventListener('open', () => { resolve(dc) }, { once: true })
    dc.addEventListener('error', () => { reject(new Error('data channel failed')) }, { once: true })
  })
}

/** Serves `bytes` of a fixed pattern to whoever sends a request (`<byte count> <message size>`) on the channel */
function serve (dc: RTCDataChannel): void {
  dc.bufferedAmountLowThreshold = LOW_WATER
  dc.addEventListener('message', (evt) => {
    const [total, size] = new TextDecoder().decode(evt.data as ArrayBuffer).split(' ').map(Number)
    const messageBytes = size > 0 ? size : MESSAGE_BYTES
    const message = new Uint8Array(messageBytes).fill(7)
    let sent = 0
    const pump = (): void => {
      while (sent < total) {
        if (dc.bufferedAmount > HIGH_WATER) {
          dc.addEventListener('bufferedamountlow', pump, { once: true })
          return
        }
        const n = Math.min(messageBytes, total - sent)
        dc.send(n === messageBytes ? message : message.subarray(0, n))
        sent += n
      }
    }
    pump()
  })
}

const p6 = {
  /** Offerer: creates the connection and channel, returns the complete offer SDP */
  async rawOffer (): Promise<string> {
    pc = new RTCPeerConnection({ iceServers: [] })
    channel = pc.createDataChannel('p6', { ordered: true })
    channelOpen = opened(channel)
    await pc.setLocalDescription(await pc.createOffer())
    await gathered(pc)
    return pc.localDescription?.sdp ?? ''
  },

  /** Answerer: takes the offer, serves on the channel, returns the complete answer SDP */
  async rawAnswer (offer: string): Promise<string> {
    pc = new RTCPeerConnection({ iceServers: [] })
    channelOpen = new Promise(resolve => {
      pc?.addEventListener('datachannel', (evt) => {
        channel = evt.channel
        serve(evt.channel)
        resolve(opened(evt.channel))
      }, { once: true })
    })
    await pc.setRemoteDescription({ type: 'offer', sdp: offer })
    await pc.setLocalDescription(await pc.createAnswer())
    await gathered(pc)
    return pc.localDescription?.sdp ?? ''
  },

  async rawAccept (answer: string): Promise<void> {
    await pc?.setRemoteDescription({ type: 'answer', sdp: answer })
    await channelOpen
  },

  /** Offerer: asks for `total` bytes (in messages of `messageBytes`) and times their arrival, ms */
  async rawReceive (total: number, messageBytes: number = MESSAGE_BYTES): Promise<number> {
    const dc = await (channelOpen as Promise<RTCDataChannel>)
    let received = 0
    const started = performance.now()
    await new Promise<void>(resolve => {
      const onMessage = (evt: MessageEvent): void => {
        received += (evt.data as ArrayBuffer).byteLength
        if (received >= total) {
          dc.removeEventListener('message', onMessage)
          resolve()
        }
      }
      dc.addEventListener('message', onMessage)
      dc.send(new TextEncoder().encode(`${total} ${messageBytes}`))
    })
    return performance.now() - started
  },

  rawClose (): void {
    channel?.close()
    pc?.close()
    pc = undefined
    channel = undefined
  },

  /**
   * A ringcdn fetch timed in the page: request to last body byte, ms. `phases`
   * splits it by the CDN's own events (ms from the start): the lookup's
   * answer, the transfer's end (verified and stored), the response, the last
   * body byte read back from the store.
   */
  async timedFetch (url: string, integrity: string): Promise<{ ms: number, source: string | null, bytes: number, phases: Record<string, number> }> {
    const cdn = (globalThis as any).e2e.page()
    const phases: Record<string, number> = {}
    const started = performance.now()
    const onLookup = (): void => { phases.lookup = performance.now() - started }
    const onTransfer = (): void => { phases.stored = performance.now() - started }
    cdn.addEventListener('lookup', onLookup)
    cdn.addEventListener('transfer', onTransfer)
    try {
      const res: Response = await cdn.fetch(url, { integrity, signal: AbortSignal.timeout(60_000) })
      phases.response = performance.now() - started
      const body = await res.arrayBuffer()
      return { ms: performance.now() - started, source: res.headers.get('ringcdn-source'), bytes: body.byteLength, phases }
    } finally {
      cdn.removeEventListener('lookup', onLookup)
      cdn.removeEventListener('transfer', onTransfer)
    }
  },

  /** `rounds` fresh libp2p WebRTC connections to `addr`, each timed from dial to open, ms (`redials` of the e2e test page) */
  async dialTimes (addr: string, rounds: number): Promise<{ times: number[], failures: string[] }> {
    return (globalThis as any).e2e.redials(addr, rounds, DIAL_TIMEOUT_MS)
  }
}

;(globalThis as any).p6 = p6
