// The UI is built into static files that tailtraced embeds (query/ui_assets.h). `base: './'`:
// every asset URL is relative, resolved against the <base href> that the daemon writes into
// index.html, so the same build works under any query.base_path.
import { defineConfig } from 'vitest/config';

export default defineConfig({
  base: './',
  esbuild: { jsx: 'automatic', jsxImportSource: 'preact' },
  build: {
    outDir: 'dist',
    assetsDir: 'assets',
    sourcemap: false,
    chunkSizeWarningLimit: 600,
  },
  server: {
    // `npm run dev` against a local tailtraced: the API and the UI on one origin.
    proxy: { '/api': 'http://127.0.0.1:16686' },
  },
  test: {
    include: ['test/**/*.test.ts'],
    environment: 'node',
  },
});
