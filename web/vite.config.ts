// Builds the dashboard into web/dist (`vite build web`), which the coordinator serves at
// `/` (src/coordinator/dashboard-routes.ts). JSX is compiled for Preact by esbuild itself.
import { defineConfig } from 'vite';

// Two pages: the dashboard (index.html) and the browser member at /join (join.html).
const page = (file: string): string => decodeURIComponent(new URL(file, import.meta.url).pathname);

export default defineConfig({
  base: '/',
  esbuild: { jsx: 'automatic', jsxImportSource: 'preact' },
  // The join page bundles TensorFlow.js (~1 MB), loaded only by members that open /join.
  build: { outDir: 'dist', emptyOutDir: true, chunkSizeWarningLimit: 1500, rollupOptions: { input: { index: page('./index.html'), join: page('./join.html') } } },
  logLevel: 'warn',
});
