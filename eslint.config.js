// aegir's house lint config, plus the one architectural rule of this repo:
// nothing under src/overlay/ reaches for ambient time, randomness, crypto,
// libp2p or the network. Those come in through the Clock, Random and Rpc
// seams (DESIGN §2), which is what lets the simulator run the production
// ring code deterministically in virtual time.
import aegir from 'aegir/eslint.config.js'

const ambient = 'src/overlay/ is pure: use the injected Clock, Random or Rpc seam instead'

export default [
  ...aegir,
  {
    // test/package/app: a user's app, checked against the installed tarball by test/package/pack.spec.ts
    ignores: ['dist/**', 'node_modules/**', '.coverage/**', 'src/overlay/messages.ts', 'src/cdn/directory-messages.ts', 'test/package/app/**']
  },
  {
    files: ['src/overlay/**/*.ts'],
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
