// Runs the ringcdn relay from your own code (`ringcdn/relay`): the same relay
// as the `ringcdn-relay` command, started and stopped by your program. Prints
// one JSON line with the addresses pages and Node peers bootstrap from.
//
//   RINGCDN_RELAY_PORT=9090 RINGCDN_RELAY_HTTP_PORT=9091 node relay.js
import { createRelay } from 'ringcdn/relay'

const relay = await createRelay({
  host: process.env.RINGCDN_RELAY_HOST ?? '127.0.0.1', // '0.0.0.0' to accept other machines
  port: Number(process.env.RINGCDN_RELAY_PORT ?? 9090), // websockets (wss with `cert` and `key`)
  httpPort: Number(process.env.RINGCDN_RELAY_HTTP_PORT ?? 9091) // GET /health and /metrics
})

console.log(JSON.stringify({ peerId: relay.peerId, multiaddrs: relay.multiaddrs, http: relay.httpUrl }))

// every few seconds, what the relay is doing (the same numbers /health serves)
const timer = setInterval(() => {
  const { connections, reservations, namespaces, members } = relay.stats()
  console.error(`connections ${connections}, reservations ${reservations}, namespaces ${namespaces}, members ${members}`)
}, 10_000)

for (const signal of ['SIGINT', 'SIGTERM']) {
  process.once(signal, () => {
    clearInterval(timer)
    relay.stop().then(() => { process.exit(0) }, (err) => {
      console.error(err)
      process.exit(1)
    })
  })
}
