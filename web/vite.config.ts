// Builds the UI into the Python package (src/driftless/server/static/), where
// `driftless server` serves it: `pip install` brings the UI, no Node.js at run time.
import react from "@vitejs/plugin-react";
import { defineConfig } from "vite";

export default defineConfig({
  base: "/",
  plugins: [react()],
  build: {
    // Relative to this directory (Vite's root).
    outDir: "../src/driftless/server/static",
    emptyOutDir: true,
    sourcemap: false,
    // One chunk for the app, one for React: small enough to load at once.
    chunkSizeWarningLimit: 400,
  },
  server: {
    // `npm run dev` proxies the API to a `driftless server` on its default port.
    proxy: { "/api": "http://127.0.0.1:8080" },
  },
});
