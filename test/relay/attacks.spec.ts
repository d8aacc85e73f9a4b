/**
 * The relay attacks of issue 16 against a real relay and real libp2p clients
 * on loopback (distinct 127/8 source addresses, see `source-ip.ts`): each
 * attack is refused or bounded, honest pages still join, and the state the
 * attack left goes once it ends. Every wait has a deadline; nothing asserts
 * how long something took.
 */
import { noise } from '@chainsafe/libp2p-noise'
import { yamux } from '@chainsafe/libp2p-yamux'
import { identify } from '@libp2p/identify'
import { webSockets } from '@libp2p/websockets'
import { multiaddr } from '@multiformats/multiaddr'
import { expect } from 'aegir/chai'
import { createLibp2p } from 'libp2p'
import { createRelay } from '../../relay/relay.ts'
import { queryBootstrap } from '../../src/libp2p/bootstrap-client.ts'
import { waitForRing } from '../libp2p/cdn-fixtures.ts'
import { waitFor } from '../libp2p/fixtures.ts'
import { asCdnNodes, createPage, stopPages } from './fixtures.ts'
import { fromIp, installSourceIps } from './source-ip.ts'
import type { Page } from './fixtures.ts'
import type { MemberRegistryInit } from '../../relay/members.ts'
import type { Relay, RelayLimits } from '../../relay/relay.ts'
import type { BootstrapAnswer } from '../../src/libp2p/bootstrap-client.ts'
import type { Connection, Libp2p } from '@libp2p/interface'

const ATTACKER_IP = '127.0.0.66'
const JOIN_DEADLINE_MS = 60_000

interface Client {
  node: Libp2p
  connection: Connection
}

/** What a bootstrap answer or refusal says, in a word */
function outcome (answer: BootstrapAnswer | Error): string {
  if (answer instanceof Error) {
    return /the relay refused: ([a-z-]+):/.exec(answer.message)?.[1] ?? answer.name
  }
  return answer.type
}

// a root hook, as in relay.spec.ts: node-datachannel's native threads would hold the process open
after(async () => {
  const { cleanup } = await import('node-datachannel')
  cleanup()
})

describe('relay: attacks of issue 16 on loopback', function () {
  this.timeout(180_000)
  // before any raw WebSocket is opened: they too must come from their own address
  installSourceIps()

  let relay: Relay
  const clients: Libp2p[] = []
  const pages: Page[] = []

  async function startRelay (members: MemberRegistryInit = {}, limits: RelayLimits = {}): Promise<Relay> {
    relay = await createRelay({
      port: 0,
      httpPort: 0,
      processMetrics: false,
      limits: { inboundConnectionThreshold: 10_000, ...limits },
      members: { sweepIntervalMs: 200, ...members }
    })
    return relay
  }

  /** A bare libp2p client (no WebRTC, no ring) connected to the relay from `ip` */
  async function client (ip: string): Promise<Client> {
    const node = await createLibp2p({
      transports: [webSockets()],
      connectionEncrypters: [noise()],
      streamMuxers: [yamux()],
      connectionMonitor: { enabled: false },
      services: { identify: identify() }
    })
    clients.push(node)
    const connection = await node.dial(multiaddr(fromIp(relay.multiaddrs[0], ip)), { signal: AbortSignal.timeout(10_000) })
    return { node, connection }
  }

  async function ask (c: Client, namespace: string, member: boolean, addrs: string[] = []): Promise<BootstrapAnswer | Error> {
    return queryBootstrap(c.connection, { namespace, member, addrs: addrs.map(a => multiaddr(a)) }).catch((err: Error) => err)
  }

  async function page (namespace: string, ip: string): Promise<Page> {
    const p = await createPage(fromIp(relay.multiaddrs[0], ip), { namespace })
    pages.push(p)
    return p
  }

  async function joined (...joiners: Page[]): Promise<void> {
    await Promise.all(joiners.map(async p => p.services.cdn.whenJoined({ signal: AbortSignal.timeout(JOIN_DEADLINE_MS) })))
  }

  afterEach(async () => {
    await stopPages(pages.splice(0))
    await Promise.all(clients.splice(0).map(async c => c.stop()))
    await relay?.stop()
  })

  it('founder squatting: re-asking does not renew the grant; the site\'s pages form their ring', async () => {
    await startRelay({ founderGraceMs: 1_000, foundingPenaltyMs: 5_000 })
    const namespace = 'https://squat.example'
    const squatter = await client(ATTACKER_IP)
    const answers: string[] = []
    const stop = new AbortController()
    // asks for the namespace every 300 ms, as the measured attack did every 4 s; bounded
    const squatting = (async () => {
      for (let i = 0; i < 500 && !stop.signal.aborted; i++) {
        answers.push(outcome(await ask(squatter, namespace, false)))
        await new Promise(resolve => setTimeout(resolve, 300))
      }
    })()
    await waitFor(() => answers.length > 0, 10_000, 'the squatter\'s first answer')
    expect(answers[0]).to.equal('found')

    const honest = [await page(namespace, '127.0.0.1'), await page(namespace, '127.0.0.2'), await page(namespace, '127.0.0.3')]
    await joined(...honest)
    await waitForRing(asCdnNodes(honest), JOIN_DEADLINE_MS)
    await waitFor(() => relay.registry.members(namespace).length === 3, 10_000, 'the honest pages to register')
    await waitFor(() => answers.includes('members'), 10_000, 'the squatter to be handed the honest members')
    stop.abort()
    await squatting

    // told to found only until its first grant lapsed: refused or handed members after
    const lastFound = answers.lastIndexOf('found')
    const firstOther = answers.findIndex(a => a !== 'found')
    expect(firstOther).to.be.greaterThan(0)
    expect(lastFound).to.be.lessThan(firstOther)
    expect(answers.slice(firstOther)).to.satisfy((rest: string[]) => rest.every(a => a === 'founding-refused' || a === 'members' || a === 'wait'))
    expect(relay.registry.members(namespace).map(m => m.peer)).to.not.include(squatter.node.peerId.toString())

    // the squatter leaves: its penalty and per-IP records go
    await squatter.node.stop()
    await waitFor(() => relay.registry.stats().penalties === 0 && relay.stats().memberIps === 3, 20_000, 'the squatter\'s records to expire')
  })

  it('founder squatting: pages wait out a grant that is never used, without joining through it, then found one ring', async () => {
    // the relay's clock stands still until the test moves it: the squatter's grant cannot lapse before a
    // page has been told to wait for it, however slowly the pages start
    let now = 0
    await startRelay({ founderGraceMs: 2_000, now: () => now })
    const namespace = 'https://squat-wait.example'
    const squatter = await client(ATTACKER_IP)
    expect(outcome(await ask(squatter, namespace, false))).to.equal('found')

    const first = await page(namespace, '127.0.0.1')
    await waitFor(() => relay.stats().founderWaits >= 2, 30_000, 'the page to be told to wait for the squatter, twice')
    expect(first.services.cdn.joined).to.equal(false)
    // nobody was handed the squatter to join through
    expect(relay.registry.members(namespace)).to.deep.equal([])

    now += 2_000
    const second = await page(namespace, '127.0.0.2')
    await joined(first, second)
    await waitForRing(asCdnNodes([first, second]), JOIN_DEADLINE_MS)
    expect(relay.registry.members(namespace).map(m => m.peer).sort()).to.deep.equal([first, second].map(p => p.peerId.toString()).sort())
    expect(relay.stats().founded).to.equal(2)
    // the page's own account of its join: told to wait, then founded
    const join = first.services.cdn.getStats().join
    expect(join.waits).to.be.at.least(2)
    expect(join.answeredMs).to.be.a('number')
    expect(join.joinedMs).to.be.at.least(join.answeredMs ?? Infinity)
  })

  it('Sybils of one IP: listed up to a cap, a bounded share of samples, third-party addresses dropped; honest joins work', async () => {
    await startRelay({ maxMembersPerIpPerNamespace: 10 })
    const namespace = 'https://sybil.example'
    const honest = [await page(namespace, '127.0.0.1')]
    await joined(honest[0])
    honest.push(await page(namespace, '127.0.0.2'), await page(namespace, '127.0.0.3'), await page(namespace, '127.0.0.4'))
    await joined(...honest)
    await waitFor(() => relay.registry.members(namespace).length === 4, 10_000, 'the honest pages to register')

    const sybils = await Promise.all(Array.from({ length: 40 }, async () => client(ATTACKER_IP)))
    const registered = await Promise.all(sybils.map(async s => {
      const id = s.node.peerId.toString()
      // a black hole on its own address (kept), a third party's host with and without /p2p (dropped)
      return ask(s, namespace, true, [`/ip4/${ATTACKER_IP}/tcp/9/ws/p2p/${id}`, `/ip4/203.0.113.9/tcp/80/ws/p2p/${id}`, '/ip4/203.0.113.9/tcp/80/ws'])
    }))
    expect(registered.every(r => !(r instanceof Error) && r.type === 'members')).to.be.true()
    const listed = relay.registry.members(namespace)
    expect(listed.filter(m => m.ip === ATTACKER_IP)).to.have.lengthOf(10)
    expect(relay.stats().droppedAddrs).to.be.at.least(80)
    for (const member of listed.filter(m => m.ip === ATTACKER_IP)) {
      expect(member.addrs.map(a => multiaddr(a).toString())).to.deep.equal([`/ip4/${ATTACKER_IP}/tcp/9/ws/p2p/${member.peer}`])
    }

    // what a joiner is handed: at most 2 of the Sybils' address per answer
    const joiner = await client('127.0.0.9')
    const sybilIds = new Set(sybils.map(s => s.node.peerId.toString()))
    for (let i = 0; i < 30; i++) {
      const answer = await ask(joiner, namespace, false)
      if (answer instanceof Error || answer.type !== 'members') {
        throw new Error(`expected members, got ${outcome(answer)}`)
      }
      expect(answer.members.filter(m => sybilIds.has(m.peer)).length).to.be.at.most(2)
      expect(answer.members.length).to.be.at.least(3)
    }

    // an honest page joins and the ring stays the true ring
    const late = await page(namespace, '127.0.0.5')
    await joined(late)
    await waitForRing(asCdnNodes([...honest, late]), JOIN_DEADLINE_MS)

    await Promise.all(sybils.map(async s => s.node.stop()))
    await waitFor(() => relay.registry.members(namespace).length === 5, 20_000, 'the Sybils to be dropped')
  })

  it('namespace exhaustion: one IP holds a bounded number of namespaces; a new site\'s pages join', async () => {
    await startRelay({ maxNamespaces: 12, maxNamespacesPerIp: 4 })
    const attackers = await Promise.all(Array.from({ length: 10 }, async () => client(ATTACKER_IP)))
    const answers = await Promise.all(attackers.flatMap((a, i) => [0, 1, 2, 3].map(async n => ask(a, `https://fill-${i}-${n}.example`, true))))
    expect(answers.filter(a => !(a instanceof Error) && a.type === 'members' && a.registered)).to.have.lengthOf(4)
    expect(relay.stats().namespaces).to.equal(4)
    // nor can it found a fresh one
    expect(outcome(await ask(attackers[0], 'https://fresh.example', false))).to.equal('ip-namespaces')

    const site = [await page('https://new.example', '127.0.0.1')]
    await joined(site[0])
    site.push(await page('https://new.example', '127.0.0.2'))
    await joined(site[1])
    await waitForRing(asCdnNodes(site), JOIN_DEADLINE_MS)
  })

  it('serves only configured namespaces when given', async () => {
    await startRelay({ namespaces: ['https://ok.example'] })
    const c = await client('127.0.0.9')
    expect(outcome(await ask(c, 'https://other.example', false))).to.equal('namespace-not-served')
    expect(outcome(await ask(c, 'https://other.example', true))).to.equal('namespace-not-served')
    const p = await page('https://ok.example', '127.0.0.1')
    await joined(p)
    await waitFor(() => relay.registry.members('https://ok.example').length === 1, 10_000, 'the page to register')
    expect(relay.stats().namespaces).to.equal(1)

    // a page of another site is told why, and what to change
    const other = await createPage(fromIp(relay.multiaddrs[0], '127.0.0.2'), { namespace: 'https://other.example', joinRetries: 1 })
    pages.push(other)
    const err = await other.services.cdn.whenJoined({ signal: AbortSignal.timeout(JOIN_DEADLINE_MS) }).then(() => undefined, (err: any) => err)
    expect(err?.name).to.equal('JoinFailedError')
    expect(err?.message).to.include('namespace-not-served').and.include('`namespace` option')
    expect(err?.cause?.name).to.equal('BootstrapRefusedError')
  })

  it('websockets that never start noise: bounded per IP, an honest page joins, and they go once closed', async () => {
    await startRelay({}, { maxPendingConnectionsPerIp: 8, maxConnectionsPerIp: 32 })
    const port = multiaddr(relay.multiaddrs[0]).getComponents().find(c => c.name === 'tcp')?.value
    const sockets: WebSocket[] = []
    const opened = { count: 0 }
    let maxPending = 0
    const onOpen = (): void => { opened.count++ }
    // the attacker's own handshakes in flight (the honest page's are not its)
    const watch = setInterval(() => { maxPending = Math.max(maxPending, relay.connectionGuard.connections(ATTACKER_IP).pending) }, 5)
    try {
      for (let i = 0; i < 100; i++) {
        const socket = new WebSocket(`ws://src-${ATTACKER_IP.replaceAll('.', '-')}.localhost:${port}`)
        socket.addEventListener('open', onOpen)
        socket.addEventListener('error', () => {})
        sockets.push(socket)
      }
      await waitFor(() => relay.stats().refusedConnections > 0, 20_000, 'the relay to refuse past the per-IP limit')

      const p = await page('https://flood.example', '127.0.0.1')
      await joined(p)
      expect(maxPending).to.be.at.most(8)
      expect(opened.count).to.be.at.least(8)
    } finally {
      clearInterval(watch)
      for (const socket of sockets) {
        socket.close()
      }
    }
    // only the honest page's address is left
    await waitFor(() => relay.stats().connectionIps === 1 && relay.stats().pendingConnections === 0, 30_000, 'the flood\'s connections to go')
  })
})
