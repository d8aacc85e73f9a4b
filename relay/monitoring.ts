/**
 * The relay's monitoring endpoints: `/health` (JSON) and `/metrics`
 * (Prometheus text, prom-client), on their own plain-HTTP port.
 */
import { createServer } from 'node:http'
import { Registry, Gauge, Counter, collectDefaultMetrics } from 'prom-client'
import type { RelayStats } from './relay.ts'
import type { Server } from 'node:http'

export function createMetrics (stats: () => RelayStats, processMetrics: boolean): Registry {
  // a registry per relay: several relays in one process (tests) must not share gauges
  const registry = new Registry()
  if (processMetrics) {
    collectDefaultMetrics({ register: registry })
  }
  const gauges: Array<[keyof RelayStats, string]> = [
    ['connections', 'Open libp2p connections'],
    ['reservations', 'Circuit relay reservations held'],
    ['namespaces', 'Namespaces with listed members'],
    ['members', 'Ring members listed over all namespaces'],
    ['founders', 'Pages founding a ring, not yet registered'],
    ['memberIps', 'IP addresses the member list keeps a record of'],
    ['connectionIps', 'IP addresses with a connection'],
    ['pendingConnections', 'Connections in their handshake'],
    ['localMembers', 'Ring members listed by pages connected to this relay'],
    ['remoteListings', 'Listings published by peer relays'],
    ['linkedRelays', 'Peer relays publishing to this relay now']
  ]
  for (const [field, help] of gauges) {
    // eslint-disable-next-line no-new
    new Gauge({ name: `ringcdn_relay_${field}`, help, registers: [registry], collect () { this.set(stats()[field]) } })
  }
  const counters: Array<[keyof RelayStats, string, string]> = [
    ['bootstrapRequests', 'ringcdn_relay_bootstrap_requests_total', 'Bootstrap requests served'],
    ['invalidBootstrapRequests', 'ringcdn_relay_bootstrap_invalid_requests_total', 'Bootstrap requests refused as invalid'],
    ['registrations', 'ringcdn_relay_registrations_total', 'Member registrations accepted'],
    ['founded', 'ringcdn_relay_rings_founded_total', 'Pages told to found a ring'],
    ['refusedRequests', 'ringcdn_relay_bootstrap_refused_total', 'Bootstrap requests refused (namespace not served, a cap)'],
    ['notListed', 'ringcdn_relay_not_listed_total', 'Member registrations answered but not listed (a cap)'],
    ['founderWaits', 'ringcdn_relay_founder_waits_total', 'Askers told to wait for a page founding their namespace to register'],
    ['droppedAddrs', 'ringcdn_relay_dropped_addrs_total', 'Registered addresses dropped as not the page\'s own'],
    ['refusedConnections', 'ringcdn_relay_refused_connections_total', 'Connections refused by the per-IP limits'],
    ['refusedReservations', 'ringcdn_relay_refused_reservations_total', 'Reservation requests refused by a full relay (the page was disconnected)'],
    ['arbitrations', 'ringcdn_relay_arbitrations_total', 'Founding questions sent to a namespace\'s arbiter relay'],
    ['arbitrationFailures', 'ringcdn_relay_arbitration_failures_total', 'Founding questions the arbiter did not answer in time (decided here)']
  ]
  for (const [field, name, help] of counters) {
    // eslint-disable-next-line no-new
    new Counter({
      name,
      help,
      registers: [registry],
      collect () {
        // counters only go up; the relay's own count is authoritative
        this.reset()
        this.inc(stats()[field])
      }
    })
  }
  return registry
}

export async function listenHttp (host: string, port: number, peerId: string, stats: () => RelayStats, metrics: Registry): Promise<Server> {
  const started = Date.now()
  const server = createServer((req, res) => {
    const path = (req.url ?? '/').split('?')[0]
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      res.writeHead(405, { allow: 'GET, HEAD' }).end()
      return
    }
    if (path === '/health') {
      const memory = process.memoryUsage()
      const body = JSON.stringify({
        status: 'ok',
        peerId,
        uptimeSeconds: Math.round((Date.now() - started) / 1000),
        ...stats(),
        rssBytes: memory.rss,
        heapUsedBytes: memory.heapUsed
      })
      res.writeHead(200, { 'content-type': 'application/json', 'cache-control': 'no-store' }).end(body)
      return
    }
    if (path === '/metrics') {
      metrics.metrics().then(body => {
        res.writeHead(200, { 'content-type': metrics.contentType }).end(body)
      }, (err: Error) => {
        res.writeHead(500, { 'content-type': 'text/plain' }).end(err.message)
      })
      return
    }
    res.writeHead(404, { 'content-type': 'text/plain' }).end('not found\n')
  })
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject)
    server.listen(port, host, () => {
      server.off('error', reject)
      resolve()
    })
  })
  return server
}
