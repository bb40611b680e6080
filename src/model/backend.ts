// Chooses the TensorFlow.js backend for Node processes. WebAssembly (with SIMD) trains the
// small models of a consortium several times faster than the pure-JS 'cpu' backend and
// needs no native build; if it cannot start, training still works on 'cpu'. Node cannot
// run the multi-threaded WASM build (no cross-origin-isolated SharedArrayBuffer workers),
// so the single-threaded SIMD binary is what runs.

import * as tf from '@tensorflow/tfjs';
import { setWasmPaths } from '@tensorflow/tfjs-backend-wasm';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { registerWasmGradientKernels } from './kernels/index.js';

export type BackendName = 'wasm' | 'cpu';

export interface BackendOptions {
  /** Where a fallback to 'cpu' is reported. Default console.warn. */
  warn?: (line: string) => void;
}

/** Directory that holds the tfjs-backend-wasm .wasm binaries, with a trailing slash as setWasmPaths expects. */
function wasmDirectory(): string {
  const require = createRequire(import.meta.url);
  return join(dirname(require.resolve('@tensorflow/tfjs-backend-wasm/package.json')), 'dist') + '/';
}

// Set on import: the paths must be known before anything initialises a backend, and any
// TF.js call (not only initBackend) may do that.
setWasmPaths(wasmDirectory());

/**
 * Makes `preferred` (default: $CONCORD_TFJS_BACKEND, else 'wasm') the active backend and
 * returns the one actually in use. Calling it again is cheap; asking for another backend switches.
 */
export async function initBackend(preferred?: BackendName, options: BackendOptions = {}): Promise<BackendName> {
  const wanted = preferred ?? backendFromEnvironment();
  const warn = options.warn ?? console.warn;
  if (wanted === 'wasm') {
    if (tf.engine().backendName === 'wasm') {
      registerWasmGradientKernels();
      return 'wasm';
    }
    try {
      if (await tf.setBackend('wasm')) {
        registerWasmGradientKernels();
        return 'wasm';
      }
      warn('TensorFlow.js: the WASM backend did not start; training on the slower cpu backend');
    } catch (error) {
      warn(`TensorFlow.js: the WASM backend failed (${error instanceof Error ? error.message : String(error)}); training on the slower cpu backend`);
    }
  }
  if (tf.engine().backendName === 'cpu') return 'cpu';
  await tf.setBackend('cpu');
  return 'cpu';
}

function backendFromEnvironment(): BackendName {
  const value = process.env['CONCORD_TFJS_BACKEND'];
  return value === 'cpu' ? 'cpu' : 'wasm';
}
