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
    // @libp2p/webrtc: imported by src/browser.ts only, which ships as the prebuilt bundle
    // (dist/browser/ringcdn.js), so it is a devDependency: as a dependency it pulled react-native
    // (~175 MB, through react-native-webrtc) into every app that installs ringcdn
    ignore: ['node', 'aegir', 'protons', '@libp2p/webrtc']
  }
}
