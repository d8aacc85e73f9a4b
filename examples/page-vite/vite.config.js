// Vite's settings for this page. ringcdn needs none of the usual libp2p-in-Vite
// settings (node built-in polyfills, `define: { global: … }`, optimizeDeps
// excludes): `ringcdn/browser` resolves to the package's prebuilt browser
// bundle, one ES module with its dependencies inside, made for browsers and
// free of Node built-ins. What is left is the page's own code.
import { defineConfig } from 'vite'

export default defineConfig({
  build: {
    // main.js awaits at its top level. Vite 7 and 8 allow that by default;
    // Vite 5 and 6 target es2020 and stop with "Top-level await is not
    // available in the configured target environment". The ringcdn bundle
    // itself needs Chrome 116, Firefox 124 or Safari 17.4 (WebRTC data
    // channels, AbortSignal.any), all of which run es2022.
    target: 'es2022',
    // the page's chunk holds ringcdn: ~686 kB minified, ~194 kB gzip. Vite
    // warns above 500 kB; this says the size is expected
    chunkSizeWarningLimit: 800
  }
})
