/**
 * The demo site's assets, made deterministically at start (same bytes, same
 * digests, every run and every machine) plus the committed video segments.
 *
 * - `/assets/img/tile-<n>.svg`: small vector images
 * - `/assets/img/orbit.png`: a small PNG
 * - `/assets/img/panorama.png`: a multi-MB PNG (a colour field with grain in
 * the low bits, so deflate cannot shrink it much and it stays a fair test of
 * peer transfer)
 * - `/assets/video/playlist.m3u8` + `segment-<n>.webm`: a short video as
 * HLS-style segments, recorded once with `demo/tools/record-video.ts`
 */
import { createHash } from 'node:crypto'
import { readFile, readdir } from 'node:fs/promises'
import { join } from 'node:path'
import { crc32, deflateSync } from 'node:zlib'

/** What kind of thing an asset is, for the page to show it */
export type AssetKind = 'image' | 'file' | 'playlist' | 'segment'

export interface DemoAsset {
  /** URL path on the origin */
  path: string
  kind: AssetKind
  contentType: string
  body: Uint8Array
  /** SHA-256 of `body` as base64 (the spelling of SRI and RFC 9530) */
  sha256: string
}

/** Where the committed video segments live */
export const VIDEO_DIR = join(import.meta.dirname, 'assets', 'video')

/** Small SVG tiles generated */
export const TILE_COUNT = 6

/** Size of the large PNG, pixels (≈ 3 MB encoded) */
export const PANORAMA_WIDTH = 1280
export const PANORAMA_HEIGHT = 800

/** A deterministic stream of 32-bit values (xorshift32) */
function xorshift (seed: number): () => number {
  let x = (seed * 2654435761) >>> 0 || 1
  return () => {
    x ^= x << 13
    x >>>= 0
    x ^= x >>> 17
    x ^= x << 5
    x >>>= 0
    return x
  }
}

function pngChunk (type: string, data: Uint8Array): Buffer {
  const head = Buffer.alloc(8)
  head.writeUInt32BE(data.byteLength, 0)
  head.write(type, 4, 'latin1')
  const crc = Buffer.alloc(4)
  crc.writeUInt32BE(crc32(Buffer.concat([head.subarray(4), data])) >>> 0, 0)
  return Buffer.concat([head, data, crc])
}

/** Encodes 8-bit RGB pixels (row-major) as a PNG, no filtering */
export function encodePng (width: number, height: number, rgb: Uint8Array): Uint8Array {
  const raw = Buffer.alloc((width * 3 + 1) * height)
  for (let y = 0; y < height; y++) {
    // each scanline starts with its filter type, 0 = none
    raw[y * (width * 3 + 1)] = 0
    raw.set(rgb.subarray(y * width * 3, (y + 1) * width * 3), y * (width * 3 + 1) + 1)
  }
  const ihdr = Buffer.alloc(13)
  ihdr.writeUInt32BE(width, 0)
  ihdr.writeUInt32BE(height, 4)
  ihdr[8] = 8 // bit depth
  ihdr[9] = 2 // colour type: RGB
  const signature = Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a])
  return Buffer.concat([
    signature,
    pngChunk('IHDR', ihdr),
    pngChunk('IDAT', deflateSync(raw, { level: 6 })),
    pngChunk('IEND', new Uint8Array())
  ])
}

/** A smooth colour field; `grain` random low bits per channel */
function colourField (width: number, height: number, seed: number, grain: number): Uint8Array {
  const next = xorshift(seed)
  const out = new Uint8Array(width * height * 3)
  const mask = (1 << grain) - 1
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      const u = x / width
      const v = y / height
      const i = (y * width + x) * 3
      const noise = next()
      out[i] = (128 + 127 * Math.sin(u * 6.3 + seed)) & ~mask | (noise & mask)
      out[i + 1] = (128 + 127 * Math.sin(v * 5.1 + u * 2.2 + seed * 2)) & ~mask | ((noise >>> 8) & mask)
      out[i + 2] = (128 + 127 * Math.cos((u - v) * 4.7 + seed * 3)) & ~mask | ((noise >>> 16) & mask)
    }
  }
  return out
}

/** A small SVG: a ring of `n` coloured nodes with chords, varied by seed */
function tileSvg (seed: number): string {
  const next = xorshift(seed + 100)
  const hue = (seed * 57) % 360
  const nodes = 5 + (next() % 8)
  const r = 38
  const points = Array.from({ length: nodes }, (_, i) => {
    const a = (i / nodes) * Math.PI * 2 - Math.PI / 2
    return [50 + r * Math.cos(a), 50 + r * Math.sin(a)].map(n => n.toFixed(2))
  })
  const chords = points.map((p, i) => {
    const q = points[(i + 1 + (next() % (nodes - 1))) % nodes]
    return `<line x1="${p[0]}" y1="${p[1]}" x2="${q[0]}" y2="${q[1]}"/>`
  }).join('')
  const dots = points.map(p => `<circle cx="${p[0]}" cy="${p[1]}" r="5"/>`).join('')
  return `<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 100 100" width="200" height="200">
<rect width="100" height="100" fill="hsl(${hue},45%,16%)"/>
<circle cx="50" cy="50" r="${r}" fill="none" stroke="hsl(${hue},40%,45%)" stroke-width="1.5"/>
<g stroke="hsl(${(hue + 40) % 360},70%,65%)" stroke-width="0.8" opacity="0.8">${chords}</g>
<g fill="hsl(${(hue + 180) % 360},80%,70%)">${dots}</g>
<text x="50" y="54" font-family="sans-serif" font-size="10" fill="#fff" text-anchor="middle">tile ${seed}</text>
</svg>
`
}

function asset (path: string, kind: AssetKind, contentType: string, body: Uint8Array): DemoAsset {
  return { path, kind, contentType, body, sha256: createHash('sha256').update(body).digest('base64') }
}

/** Every asset of the demo site, in the order the page loads them */
export async function makeAssets (): Promise<DemoAsset[]> {
  const assets: DemoAsset[] = []
  for (let i = 1; i <= TILE_COUNT; i++) {
    assets.push(asset(`/assets/img/tile-${i}.svg`, 'image', 'image/svg+xml', new TextEncoder().encode(tileSvg(i))))
  }
  assets.push(asset('/assets/img/orbit.png', 'image', 'image/png', encodePng(160, 160, colourField(160, 160, 7, 0))))
  assets.push(asset('/assets/img/panorama.png', 'file', 'image/png', encodePng(PANORAMA_WIDTH, PANORAMA_HEIGHT, colourField(PANORAMA_WIDTH, PANORAMA_HEIGHT, 3, 5))))

  const files = (await readdir(VIDEO_DIR)).sort()
  const playlist = files.find(f => f.endsWith('.m3u8'))
  if (playlist == null) {
    throw new Error(`no playlist in ${VIDEO_DIR}; remake it with demo/tools/record-video.ts`)
  }
  assets.push(asset(`/assets/video/${playlist}`, 'playlist', 'application/vnd.apple.mpegurl', await readFile(join(VIDEO_DIR, playlist))))
  for (const file of files.filter(f => f.endsWith('.webm'))) {
    assets.push(asset(`/assets/video/${file}`, 'segment', 'video/webm', await readFile(join(VIDEO_DIR, file))))
  }
  return assets
}
