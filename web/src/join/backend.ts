// The TensorFlow.js backend the page trains with: WebGL when the browser has it, else
// WebAssembly (several times faster than the CPU backend on dense layers), else the pure-JS
// CPU backend. `/join?backend=wasm` (or webgl, cpu) tries only that one, for tests and for
// people debugging a browser.
import * as tf from '@tensorflow/tfjs';

export const BACKENDS = ['webgl', 'wasm', 'cpu'] as const;
export type BackendName = (typeof BACKENDS)[number];

/**
 * Where the web build puts the WASM backend's binaries (web/vite.config.ts, plugin
 * concord:tfjs-wasm-binaries). The directory names the package version: the coordinator
 * caches assets as immutable, and binaries must match the JS glue bundled with them.
 */
export const wasmBinariesDir = (version: string): string => `/assets/tfjs-wasm/${version}/`;

/** The backend `?backend=` asks for, or null when the URL names none. */
export function requestedBackend(search: string = globalThis.location?.search ?? ''): string | null {
  const value = new URLSearchParams(search).get('backend');
  return value === null || value === '' ? null : value;
}

/** Registers the WASM backend and points it at the binaries the coordinator serves. */
async function prepareWasm(): Promise<void> {
  // Loaded on demand: pages that get WebGL never download the WASM backend's glue code.
  const wasm = await import('@tensorflow/tfjs-backend-wasm');
  wasm.setWasmPaths(wasmBinariesDir(wasm.version_wasm));
  // The threaded-SIMD binary needs SharedArrayBuffer, which browsers only give pages with
  // cross-origin isolation (COOP/COEP headers) — the coordinator sets none. The backend's own
  // probe finds no SharedArrayBuffer then, but saying so here keeps a browser that exposes
  // one anyway from loading the threaded binary and failing to start its workers.
  if (globalThis.crossOriginIsolated !== true) tf.env().set('WASM_HAS_MULTITHREAD_SUPPORT', false);
}

/** Switches TF.js to `name`; false when this browser cannot run it (TF.js logs why to the console). */
async function tryBackend(name: BackendName): Promise<boolean> {
  try {
    if (name === 'wasm') await prepareWasm();
    if (!(await tf.setBackend(name))) return false;
    await tf.ready();
    if (name === 'wasm') {
      // The gradients TF.js' WASM backend lacks (convolutions, embeddings), the same modules
      // Node members register: without them a CNN or text model cannot train here.
      const { registerWasmGradientKernels } = await import('../../../src/model/kernels/index.js');
      registerWasmGradientKernels();
    }
    return true;
  } catch {
    return false;
  }
}

/**
 * Picks the backend and returns its name. With `requested` (by default `?backend=` of the
 * page's URL) only that backend is tried; if it cannot run here the page trains on the CPU
 * backend and the returned text says so, for the page's log.
 */
export async function pickBackend(requested: string | null = requestedBackend()): Promise<string> {
  if (requested === null) {
    for (const name of BACKENDS) {
      if (await tryBackend(name)) return name;
    }
    return tf.getBackend();
  }
  const known = (BACKENDS as readonly string[]).includes(requested);
  if (known && (await tryBackend(requested as BackendName))) return requested;
  await tf.setBackend('cpu');
  const why = known ? `but ${requested} is unavailable in this browser: the browser console says why` : `which names no backend: expected one of ${BACKENDS.join(', ')}`;
  return `cpu (?backend=${requested} was asked for, ${why})`;
}
