/** @type {import('aegir').PartialOptions} */
export default {
  build: {
    bundle: false
  },
  test: {
    // real-time tests (libp2p, browsers) bound every wait themselves; this is the backstop
    timeout: 60_000
  },
  dependencyCheck: {
    ignore: ['node', 'aegir', 'protons']
  }
}
