// aegir's house lint config, plus the one architectural rule of this repo:
// nothing under src/overlay/, nor the CDN policy the simulator runs, reaches
// for ambient time, randomness, crypto, libp2p or the network. Those come in
// through the Clock, Random and Rpc seams (DESIGN §2), which is what lets the
// simulator run the production code deterministically in virtual time.
import aegir from 'aegir/eslint.config.js'

const ambient = 'src/overlay/ and the CDN policy the simulator runs are pure: use the injected Clock, Random or a seam instead'

/**
 * The CDN policy the simulator runs as it is (DESIGN §2): the fetch pipeline,
 * holdings, announcing, lookups, the avoid list and their seams
 */
const pureCdn = [
  'src/cdn/announcer.ts',
  'src/cdn/avoid-list.ts',
  'src/cdn/counters.ts',
  'src/cdn/deadline.ts',
  'src/cdn/fetch-pipeline.ts',
  'src/cdn/holdings.ts',
  'src/cdn/lookups.ts',
  'src/cdn/peer-phase.ts',
  'src/cdn/peer-race.ts',
  'src/cdn/share-waiters.ts',
  'src/cdn/seams.ts'
]

export default [
  ...aegir,
  {
    // test/package/app: a user's app, checked against the installed tarball by test/package/pack.spec.ts
    ignores: ['dist/**', 'node_modules/**', '.coverage/**', 'src/overlay/messages.ts', 'src/cdn/directory-messages.ts', 'test/package/app/**', 'examples/*/public/main.js']
  },
  {
    // examples/: programs a user copies, which report to their terminal
    files: ['examples/**/*.js'],
    rules: {
      'no-console': 'off'
    }
  },
  {
    files: ['src/overlay/**/*.ts', ...pureCdn],
    rules: {
      'no-restricted-imports': ['error', {
        patterns: [
          { group: ['libp2p', '@libp2p/*', '@chainsafe/*', 'node:*', 'crypto', 'fs', 'net', 'http', 'https', 'dgram'], message: ambient }
        ]
      }],
      'no-restricted-globals': ['error',
        { name: 'Date', message: ambient },
        { name: 'performance', message: ambient },
        { name: 'setTimeout', message: ambient },
        { name: 'setInterval', message: ambient },
        { name: 'setImmediate', message: ambient },
        { name: 'queueMicrotask', message: ambient },
        { name: 'crypto', message: ambient },
        { name: 'fetch', message: ambient },
        { name: 'WebSocket', message: ambient },
        { name: 'process', message: ambient }
      ],
      'no-restricted-properties': ['error',
        { object: 'Math', property: 'random', message: ambient },
        { object: 'AbortSignal', property: 'timeout', message: ambient },
        { object: 'globalThis', message: ambient }
      ]
    }
  }
]
