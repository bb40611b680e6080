// The TensorFlow.js backend the page trains with: WebGL when the browser has it, else the
// CPU backend (headless browsers without a GPU). The WASM backend is not bundled here: it
// would need its .wasm files served next to the page for little gain on these small models.
import * as tf from '@tensorflow/tfjs';

export async function pickBackend(): Promise<string> {
  for (const name of ['webgl', 'cpu']) {
    try {
      if (await tf.setBackend(name)) {
        await tf.ready();
        return name;
      }
    } catch {
      // this backend is not available here; try the next
    }
  }
  return tf.getBackend();
}
