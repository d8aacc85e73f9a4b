/**
 * Identities for the relay processes a benchmark starts: a fresh Ed25519 key
 * per relay written to a key file the relay CLI reads (`--identity`), a free
 * loopback port, and the websocket address pages dial.
 */
import { writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { generateKeyPair, privateKeyToProtobuf } from '@libp2p/crypto/keys'
import { peerIdFromPrivateKey } from '@libp2p/peer-id'
import { freePort } from '../test/relay/fixtures.ts'
import type { ChildProcess } from 'node:child_process'

export interface RelayProcess {
  index: number
  peerId: string
  addr: string
  port: number
  keyFile: string
  child?: ChildProcess
  http?: string
  pid?: number
}

/** `count` relay identities with their key files in `dir` (mode 0600) */
export async function relayIdentities (count: number, dir: string): Promise<RelayProcess[]> {
  const relays: RelayProcess[] = []
  for (let i = 0; i < count; i++) {
    const key = await generateKeyPair('Ed25519')
    const keyFile = join(dir, `relay-${i}.key`)
    writeFileSync(keyFile, privateKeyToProtobuf(key), { mode: 0o600 })
    const port = await freePort()
    const peerId = peerIdFromPrivateKey(key).toString()
    relays.push({ index: i, peerId, port, keyFile, addr: `/ip4/127.0.0.1/tcp/${port}/ws/p2p/${peerId}` })
  }
  return relays
}
