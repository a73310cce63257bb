// Builds dashboard/dist, which host/build.rs puts into the weir binary.
// Preact's JSX through esbuild (no framework plugin needed).
import { defineConfig } from "vite";

export default defineConfig({
  base: "/",
  esbuild: { jsx: "automatic", jsxImportSource: "preact" },
  build: {
    outDir: "dist",
    emptyOutDir: true,
    // Readable output: no minified bundle in the binary that its source
    // here does not explain (the sources are in src/ and node_modules).
    minify: false,
    sourcemap: false,
    // One script and one stylesheet: nothing inline (the page's
    // Content-Security-Policy allows only its own files).
    modulePreload: { polyfill: false },
    assetsInlineLimit: 0,
  },
});
