/**
 * Vite build of the dashboard (docs/architecture.md §8, the Vue dashboard): `dashboard/` → `server/web-app/`, served by
 * the server at `/app/`. External module scripts only (the server's CSP allows no inline script);
 * assets under `/app/assets/` with content hashes.
 */
import { fileURLToPath } from 'node:url';
import vue from '@vitejs/plugin-vue';
import { defineConfig } from 'vite';

export default defineConfig({
  root: fileURLToPath(new URL('.', import.meta.url)),
  base: '/app/',
  plugins: [vue()],
  build: {
    outDir: fileURLToPath(new URL('../server/web-app/', import.meta.url)),
    emptyOutDir: true,
    // One bundle per library keeps the page's first load cacheable across our own releases.
    chunkSizeWarningLimit: 2000,
    modulePreload: { polyfill: false },
  },
});
