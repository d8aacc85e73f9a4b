/**
 * Records the demo's short video once, as HLS-style segments: there is no
 * ffmpeg on these machines, so Chromium draws an animation on a canvas and
 * its MediaRecorder encodes it (WebM/VP8). Each segment is its own recording,
 * a self-contained WebM file, so the page can append them one after another
 * to a MediaSource in `sequence` mode (and any one of them plays alone).
 *
 * The output is committed (demo/assets/video/); run this only to remake it:
 *
 * ```sh
 * node --experimental-transform-types --disable-warning=ExperimentalWarning demo/tools/record-video.ts
 * ```
 */
import { mkdir, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { launchChromium, openPage } from '../../test/browser/chromium.ts'

/** Segments in the playlist */
const SEGMENTS = 4
/** Length of one segment, ms */
const SEGMENT_MS = 2_000
/** Frame size, pixels */
const WIDTH = 480
const HEIGHT = 270
/** Encoder target; keeps the committed files small (≈ 60 KB a segment) */
const BITS_PER_SECOND = 250_000

const OUT = join(import.meta.dirname, '..', 'assets', 'video')

interface Recorded { segments: string[], mimeType: string }

const browser = await launchChromium()
try {
  // a blank page is enough: the recording needs a document, not a server
  const page = await openPage(browser, 'about:blank')
  const recorded = await page.evaluate(async ({ segments, segmentMs, width, height, bitsPerSecond }) => {
    const canvas = document.createElement('canvas')
    canvas.width = width
    canvas.height = height
    document.body.append(canvas)
    const ctx = canvas.getContext('2d')
    if (ctx == null) {
      throw new Error('no 2d canvas')
    }
    const totalMs = segments * segmentMs
    let start = performance.now()
    // the animation: a ring of nodes with a lookup travelling round it, and a clock
    const draw = (): void => {
      const t = Math.min(performance.now() - start, totalMs)
      const phase = t / totalMs
      ctx.fillStyle = '#10141c'
      ctx.fillRect(0, 0, width, height)
      const cx = width / 2
      const cy = height / 2
      const r = height * 0.36
      ctx.strokeStyle = '#3a4660'
      ctx.lineWidth = 2
      ctx.beginPath()
      ctx.arc(cx, cy, r, 0, Math.PI * 2)
      ctx.stroke()
      for (let i = 0; i < 12; i++) {
        const a = i / 12 * Math.PI * 2 - Math.PI / 2
        ctx.fillStyle = `hsl(${i * 30}, 70%, 60%)`
        ctx.beginPath()
        ctx.arc(cx + r * Math.cos(a), cy + r * Math.sin(a), 7, 0, Math.PI * 2)
        ctx.fill()
      }
      const a = phase * Math.PI * 4 - Math.PI / 2
      ctx.fillStyle = '#ffd166'
      ctx.beginPath()
      ctx.arc(cx + r * Math.cos(a), cy + r * Math.sin(a), 11, 0, Math.PI * 2)
      ctx.fill()
      ctx.fillStyle = '#e8ecf4'
      ctx.font = 'bold 28px sans-serif'
      ctx.textAlign = 'center'
      ctx.fillText('ringcdn', cx, cy - 4)
      ctx.font = '18px monospace'
      ctx.fillText(`${(t / 1000).toFixed(2)} s`, cx, cy + 24)
      ctx.font = '14px monospace'
      ctx.textAlign = 'left'
      ctx.fillText(`segment ${Math.min(segments - 1, Math.floor(t / segmentMs))}`, 12, height - 12)
    }
    const timer = setInterval(draw, 1000 / 30)
    const mimeType = 'video/webm;codecs=vp8'
    const stream = canvas.captureStream(30)
    const out: string[] = []
    start = performance.now()
    for (let i = 0; i < segments; i++) {
      const recorder = new MediaRecorder(stream, { mimeType, videoBitsPerSecond: bitsPerSecond })
      const parts: Blob[] = []
      recorder.ondataavailable = (event) => { parts.push(event.data) }
      const stopped = new Promise(resolve => { recorder.onstop = resolve })
      recorder.start()
      await new Promise(resolve => setTimeout(resolve, segmentMs))
      recorder.stop()
      await stopped
      const bytes = new Uint8Array(await new Blob(parts).arrayBuffer())
      let binary = ''
      bytes.forEach(b => { binary += String.fromCharCode(b) })
      out.push(btoa(binary))
    }
    clearInterval(timer)
    return { segments: out, mimeType }
  }, { segments: SEGMENTS, segmentMs: SEGMENT_MS, width: WIDTH, height: HEIGHT, bitsPerSecond: BITS_PER_SECOND }, { timeout: SEGMENTS * SEGMENT_MS + 30_000 }) as Recorded

  await mkdir(OUT, { recursive: true })
  const lines = ['#EXTM3U', '#EXT-X-VERSION:7', `#EXT-X-TARGETDURATION:${Math.ceil(SEGMENT_MS / 1000)}`, '#EXT-X-PLAYLIST-TYPE:VOD', '#EXT-X-MEDIA-SEQUENCE:0']
  for (let i = 0; i < recorded.segments.length; i++) {
    const name = `segment-${String(i).padStart(3, '0')}.webm`
    const bytes = Buffer.from(recorded.segments[i], 'base64')
    await writeFile(join(OUT, name), bytes)
    lines.push(`#EXTINF:${(SEGMENT_MS / 1000).toFixed(3)},`, name)
    process.stdout.write(`${name}: ${bytes.byteLength} bytes\n`)
  }
  lines.push('#EXT-X-ENDLIST', '')
  await writeFile(join(OUT, 'playlist.m3u8'), lines.join('\n'))
  process.stdout.write(`playlist.m3u8 (${recorded.mimeType})\n`)
} finally {
  await browser.close()
}
