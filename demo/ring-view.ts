/**
 * Draws one page's view of the ring as SVG: nodes at their ring positions
 * (12 o'clock is 0, clockwise), coloured by what they are to this page, the
 * asset keys as ticks, chords from this page to its neighbours and fingers,
 * and the last lookup from its key to the home node that answered.
 *
 * Plain DOM: the picture is small (tens of nodes), so it is redrawn whole.
 */

/** What a node is to this page, most important first */
export type Role = 'self' | 'predecessor' | 'successor' | 'finger' | 'seen'

export interface RingPictureNode {
  /** libp2p peer id */
  peer: string
  /** Ring position, 64 hex digits */
  id: string
  role: Role
}

export interface RingPictureKey {
  /** Ring position of the asset's key, 64 hex digits */
  id: string
  label: string
}

export interface RingPicture {
  nodes: RingPictureNode[]
  keys: RingPictureKey[]
  /** The newest lookup: its key and the home node's peer id */
  lookup?: { key: string, home: string }
  caption: string
}

const SVG = 'http://www.w3.org/2000/svg'
/** Radius of the ring in the 400 × 400 view box */
const RADIUS = 140
/** Leading hex digits used for a position: 48 bits, more than a screen resolves */
const POSITION_DIGITS = 12

/** Where a ring position sits on the circle */
function point (id: string, radius: number = RADIUS): { x: number, y: number } {
  const fraction = parseInt(id.slice(0, POSITION_DIGITS), 16) / 16 ** POSITION_DIGITS
  const angle = fraction * Math.PI * 2 - Math.PI / 2
  return { x: radius * Math.cos(angle), y: radius * Math.sin(angle) }
}

function el<K extends keyof SVGElementTagNameMap> (name: K, attrs: Record<string, string | number>, text?: string): SVGElementTagNameMap[K] {
  const node = document.createElementNS(SVG, name)
  for (const [key, value] of Object.entries(attrs)) {
    node.setAttribute(key, String(value))
  }
  if (text != null) {
    node.textContent = text
  }
  return node
}

/** The last characters of a peer id: enough to tell a handful of pages apart */
export function shortPeer (peer: string): string {
  return `…${peer.slice(-6)}`
}

export function renderRing (svg: SVGSVGElement, picture: RingPicture): void {
  const parts: SVGElement[] = [el('circle', { class: 'circle', r: RADIUS, cx: 0, cy: 0 })]

  for (const key of picture.keys) {
    const inner = point(key.id, RADIUS - 6)
    const outer = point(key.id, RADIUS + 6)
    const tick = el('line', { class: `key${picture.lookup?.key === key.id ? ' hit' : ''}`, x1: inner.x, y1: inner.y, x2: outer.x, y2: outer.y })
    tick.append(el('title', {}, key.label))
    parts.push(tick)
  }

  const self = picture.nodes.find(n => n.role === 'self')
  if (self != null) {
    const from = point(self.id)
    for (const node of picture.nodes) {
      if (node.role === 'self' || node.role === 'seen') {
        continue
      }
      const to = point(node.id)
      parts.push(el('line', { class: `chord ${node.role}`, x1: from.x, y1: from.y, x2: to.x, y2: to.y }))
    }
  }

  const home = picture.lookup == null ? undefined : picture.nodes.find(n => n.peer === picture.lookup?.home)
  if (picture.lookup != null && home != null) {
    const from = point(picture.lookup.key)
    const to = point(home.id)
    parts.push(el('line', { class: 'chord lookup', x1: from.x, y1: from.y, x2: to.x, y2: to.y }))
  }

  // seen nodes first, so the nodes that matter are drawn on top
  const order: Role[] = ['seen', 'finger', 'successor', 'predecessor', 'self']
  const nodes = [...picture.nodes].sort((a, b) => order.indexOf(a.role) - order.indexOf(b.role))
  for (const node of nodes) {
    const at = point(node.id)
    const label = point(node.id, RADIUS + 26)
    const group = el('g', { 'data-peer': node.peer, 'data-role': node.role })
    const dot = el('circle', { class: `node ${node.role}`, cx: at.x, cy: at.y, r: node.role === 'self' ? 10 : 7 })
    dot.append(el('title', {}, `${node.role}: ${node.peer}`))
    group.append(dot, el('text', { x: label.x, y: label.y + 4, 'text-anchor': 'middle' }, node.role === 'self' ? 'me' : shortPeer(node.peer)))
    parts.push(group)
  }

  parts.push(el('text', { class: 'center', x: 0, y: 4, 'text-anchor': 'middle' }, picture.caption))
  svg.replaceChildren(...parts)
}
