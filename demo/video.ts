/**
 * Plays the demo's HLS-style video: a playlist of self-contained WebM
 * segments, each fetched through ringcdn and appended to a MediaSource in
 * `sequence` mode (each segment's timestamps start at zero; sequence mode
 * lays them end to end). Browsers without MediaSource show the first segment.
 * A segment that cannot be fetched is skipped.
 */

/** The codec the segments were recorded with (demo/tools/record-video.ts) */
export const SEGMENT_TYPE = 'video/webm; codecs="vp8"'

/** The segment URLs a playlist lists, resolved against the playlist's URL */
export function parsePlaylist (text: string, playlistUrl: string): string[] {
  if (!text.startsWith('#EXTM3U')) {
    throw new Error('not an HLS playlist (no #EXTM3U)')
  }
  return text.split('\n')
    .map(line => line.trim())
    .filter(line => line !== '' && !line.startsWith('#'))
    .map(line => new URL(line, playlistUrl).href)
}

/**
 * Plays segments in `video` as they arrive from `loadSegment` (called in
 * playlist order, one at a time)
 */
export async function playSegments (video: HTMLVideoElement, segments: string[], loadSegment: (url: string) => Promise<Uint8Array>): Promise<void> {
  if (globalThis.MediaSource == null || !MediaSource.isTypeSupported(SEGMENT_TYPE)) {
    const first = await loadSegment(segments[0])
    video.src = URL.createObjectURL(new Blob([first as Uint8Array<ArrayBuffer>], { type: 'video/webm' }))
    return
  }
  const source = new MediaSource()
  video.src = URL.createObjectURL(source)
  await new Promise(resolve => { source.addEventListener('sourceopen', resolve, { once: true }) })
  const buffer = source.addSourceBuffer(SEGMENT_TYPE)
  buffer.mode = 'sequence'
  for (const url of segments) {
    let bytes: Uint8Array
    try {
      bytes = await loadSegment(url)
    } catch {
      // a segment that could not be had leaves a gap; the ones after it still play
      continue
    }
    await new Promise<void>((resolve, reject) => {
      buffer.addEventListener('updateend', () => { resolve() }, { once: true })
      buffer.addEventListener('error', () => { reject(new Error(`could not append ${url}`)) }, { once: true })
      buffer.appendBuffer(bytes as Uint8Array<ArrayBuffer>)
    })
    if (video.paused) {
      // muted video may autoplay; a refusal is harmless, the controls stay usable
      video.play().catch(() => {})
    }
  }
  source.endOfStream()
}
