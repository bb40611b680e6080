// Builds the dashboard into web/dist (`vite build web`), which the coordinator serves at
// `/` (src/coordinator/dashboard-routes.ts). JSX is compiled for Preact by esbuild itself.
import { defineConfig } from 'vite';

export default defineConfig({
  base: '/',
  esbuild: { jsx: 'automatic', jsxImportSource: 'preact' },
  build: { outDir: 'dist', emptyOutDir: true },
  logLevel: 'warn',
});
