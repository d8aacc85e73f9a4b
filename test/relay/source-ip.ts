/**
 * Clients on distinct loopback IP addresses, so per-IP limits can be tested
 * (and attacked) on one machine: every loopback test client would otherwise
 * be 127.0.0.1. Node's WebSocket (which `@libp2p/websockets` dials with) goes
 * through undici's global dispatcher; the one installed here connects a host
 * named `src-127-0-0-N.localhost` to 127.0.0.1 from the source address
 * 127.0.0.N (Linux routes all of 127/8 to the loopback interface). Other
 * hosts connect as before.
 */
import { multiaddr } from '@multiformats/multiaddr'
import { Agent, buildConnector, setGlobalDispatcher } from 'undici'

const SOURCE_HOST = /^src-(127)-(\d{1,3})-(\d{1,3})-(\d{1,3})\.localhost$/
let installed = false

/** Installs the dispatcher (once per process) */
export function installSourceIps (): void {
  if (installed) {
    return
  }
  installed = true
  const connect = buildConnector({})
  setGlobalDispatcher(new Agent({
    connect: (options, callback) => {
      const match = SOURCE_HOST.exec(options.hostname)
      if (match == null) {
        connect(options, callback)
        return
      }
      connect({ ...options, hostname: '127.0.0.1', localAddress: match.slice(1).join('.') } as any, callback)
    }
  }))
}

/**
 * The address of a relay at `/ip4/127.0.0.1/tcp/<port>/ws/p2p/<id>` that a
 * client dials from loopback address `ip` (127.x.y.z)
 */
export function fromIp (relayAddr: string, ip: string): string {
  installSourceIps()
  const components = multiaddr(relayAddr).getComponents()
  if (components[0]?.name !== 'ip4' || components[0].value !== '127.0.0.1' || !ip.startsWith('127.')) {
    throw new TypeError(`fromIp needs a relay on 127.0.0.1 and a 127/8 source, got ${relayAddr} and ${ip}`)
  }
  const host = `src-${ip.replaceAll('.', '-')}.localhost`
  return multiaddr([{ code: 54, name: 'dns4', value: host }, ...components.slice(1)] as any).toString()
}
