/**
 * The IPC between `bench:relays` and its page processes (`pages.ts`). The
 * benchmark sends `{ id, ...PageRequest }`; the page process answers each with
 * `{ id, ok: true, value }` (`value` as `PageAnswers` says for the request's
 * type) or `{ id, ok: false, name, message }` (the error it met, by name).
 * A page process sends `{ type: 'ready' }` once it listens, since a message
 * that arrives before its listener is lost. Ring ids travel as decimal
 * strings: the channel serializes JSON, which has no bigint.
 */

/** Given to a page process as JSON in argv[2] */
export interface PageProcessOptions {
  /** The relays' websocket multiaddrs, with `/p2p/<id>` */
  relays: string[]
  namespace: string
  /** `default`: the library's ring maintenance with deadlines for a loaded machine; `fast`: the tests' */
  ring: 'default' | 'fast'
}

export type PageRequest =
  /** Create page `index` (indices are global: the benchmark's page number) */
  | { type: 'create', index: number }
  /** The state of every page of this process */
  | { type: 'states' }
  /** Page `index` looks up `key` (decimal) with its own deadline `timeoutMs` */
  | { type: 'lookup', index: number, key: string, timeoutMs: number }
  /** Stop every page; the process exits once it has answered */
  | { type: 'stop' }

/** What a page shows of itself: enough to judge the ring and the relays from outside */
export interface PageState {
  index: number
  peerId: string
  joined: boolean
  /** Ring ids, decimal */
  nodeId?: string
  successor?: string
  predecessor?: string
  /** Peer id of the relay it holds its reservation on */
  relay?: string
}

export interface LookupAnswer {
  /** Peer id of the home node the ring answered */
  home: string
  hops: number
}

export interface PageAnswers {
  create: { peerId: string }
  states: PageState[]
  lookup: LookupAnswer
  stop: null
}

export type PageRequestMessage = { id: number } & PageRequest

export type PageReply =
  | { id: number, ok: true, value: unknown }
  | { id: number, ok: false, name: string, message: string }

export type PageProcessMessage = PageReply | { type: 'ready' }

/** A request to a page process got no answer within its deadline */
export class PageRequestTimeoutError extends Error {
  static name = 'PageRequestTimeoutError'
  name = 'PageRequestTimeoutError'
}

/** A page process exited while a request to it was pending, or before one was sent */
export class PageProcessExitedError extends Error {
  static name = 'PageProcessExitedError'
  name = 'PageProcessExitedError'
}

/** A page process did not say it was ready within its deadline */
export class PageProcessStartTimeoutError extends Error {
  static name = 'PageProcessStartTimeoutError'
  name = 'PageProcessStartTimeoutError'
}

/** A request named a page this process does not hold */
export class UnknownPageError extends Error {
  static name = 'UnknownPageError'
  name = 'UnknownPageError'
}

/** `create` named a page this process already holds */
export class PageExistsError extends Error {
  static name = 'PageExistsError'
  name = 'PageExistsError'
}
