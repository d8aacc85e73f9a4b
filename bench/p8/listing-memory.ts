/**
 * What a relay's member lists cost in memory when the site runs K relays
 * peered with each other (issue 17): every relay lists every member of a
 * namespace, its own pages (registered through the bootstrap protocol) and
 * its peers' (received over relay sync, `addRemote`). One `MemberRegistry`
 * (the relay's own) is filled with `PAGES / RELAYS` own members and
 * `PAGES · (RELAYS − 1) / RELAYS` listings from `RELAYS − 1` peers, each with
 * the `/p2p-circuit/webrtc` address a page registers and its own IP address
 * (pages are on different hosts), each made fresh as a relay decodes it; the
 * heap is measured after a full GC before and after each step. The connections and reservations (the bulk of
 * a relay's memory, `npm run bench:p8`) are not in it.
 *
 * `node --expose-gc --experimental-transform-types bench/p8/listing-memory.ts`;
 * environment PAGES (20000), RELAYS (4). Prints one JSON object.
 */
import { generateKeyPair } from '@libp2p/crypto/keys'
import { peerIdFromPrivateKey } from '@libp2p/peer-id'
import { multiaddr } from '@multiformats/multiaddr'
import { MemberRegistry } from '../../relay/members.ts'
import { nodeIdFromBytes } from '../../src/keys.ts'
import type { MemberEntry } from '../../relay/members.ts'

const PAGES = Number(process.env.PAGES ?? 20_000)
const RELAYS = Number(process.env.RELAYS ?? 4)
const NAMESPACE = 'https://bench.example'

const gc = (globalThis as { gc?(): void }).gc
if (gc == null) {
  process.stderr.write('run with node --expose-gc\n')
  process.exit(2)
}
const heap = (): number => {
  gc()
  gc()
  return process.memoryUsage().heapUsed
}

const relayIds = await Promise.all(Array.from({ length: RELAYS }, async () => peerIdFromPrivateKey(await generateKeyPair('Ed25519')).toString()))
/** Page `i`, made fresh (as a relay decodes it from the wire), so that its strings and bytes count */
async function page (i: number): Promise<MemberEntry & { ip: string }> {
  const peer = peerIdFromPrivateKey(await generateKeyPair('Ed25519'))
  const relay = relayIds[i % RELAYS]
  const addr = multiaddr(`/ip4/127.0.0.1/tcp/9090/ws/p2p/${relay}/p2p-circuit/webrtc/p2p/${peer.toString()}`)
  return { peer: peer.toString(), id: nodeIdFromBytes(peer.toMultihash().bytes), addrs: [addr.bytes.slice()], ip: `10.${(i >> 16) & 255}.${(i >> 8) & 255}.${i & 255}` }
}

const big = PAGES * 2
const registry = new MemberRegistry({
  maxMembers: big,
  maxMembersPerNamespace: big,
  onChange: () => {}
})
const empty = heap()
let own = 0
for (let i = 0; i < PAGES; i += RELAYS) {
  const answer = registry.ask(NAMESPACE, await page(i), { member: true, limit: 1 })
  if (answer.type === 'members' && answer.registered) {
    own++
  }
}
const afterOwn = heap()
let remote = 0
for (let i = 0; i < PAGES; i++) {
  if (i % RELAYS !== 0 && registry.addRemote(relayIds[i % RELAYS], NAMESPACE, await page(i))) {
    remote++
  }
}
const afterRemote = heap()
const kib = (bytes: number): number => Math.round(bytes / 1024 * 100) / 100
const stats = registry.stats()
process.stdout.write(JSON.stringify({
  pages: PAGES,
  relays: RELAYS,
  ownMembers: own,
  remoteListings: remote,
  listed: stats.members,
  heapOwnMiB: Math.round((afterOwn - empty) / 1024 / 1024 * 10) / 10,
  heapRemoteMiB: Math.round((afterRemote - afterOwn) / 1024 / 1024 * 10) / 10,
  kibPerOwnMember: kib((afterOwn - empty) / Math.max(1, own)),
  kibPerRemoteListing: kib((afterRemote - afterOwn) / Math.max(1, remote))
}, null, 2) + '\n')
