// Writes a global model as a standard TensorFlow.js Layers model — model.json (topology
// plus weights manifest) and one weights.bin — that anyone can load with
// tf.loadLayersModel and no Concord code, in Node or in a browser.

import * as tf from '@tensorflow/tfjs';
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { ModelSpec } from '../protocol/messages.js';
import type { Parameters } from '../protocol/tensors.js';
import { buildModel } from './build.js';
import { setParameters } from './weights.js';

export const WEIGHTS_FILE = 'weights.bin';

/** Writes `dir`/model.json and `dir`/weights.bin; returns their paths. */
export async function exportTfjsModel(spec: ModelSpec, parameters: Parameters, dir: string): Promise<{ modelJson: string; weights: string }> {
  const model = buildModel(spec, 0);
  try {
    setParameters(model, parameters);
    let artifacts: tf.io.ModelArtifacts | undefined;
    await model.save(
      tf.io.withSaveHandler(async (a) => {
        artifacts = a;
        return { modelArtifactsInfo: tf.io.getModelArtifactsInfoForJSON(a) };
      }),
    );
    const { modelTopology, weightSpecs, weightData } = artifacts!;
    const bytes = new Uint8Array(weightData === undefined ? new ArrayBuffer(0) : tf.io.CompositeArrayBuffer.join(weightData));
    const modelJson = {
      format: 'layers-model',
      generatedBy: `TensorFlow.js tfjs-layers v${tf.version.tfjs}`,
      convertedBy: null,
      modelTopology,
      weightsManifest: [{ paths: [WEIGHTS_FILE], weights: weightSpecs ?? [] }],
    };
    await mkdir(dir, { recursive: true });
    const paths = { modelJson: join(dir, 'model.json'), weights: join(dir, WEIGHTS_FILE) };
    await writeFile(paths.weights, bytes);
    await writeFile(paths.modelJson, JSON.stringify(modelJson));
    return paths;
  } finally {
    model.dispose();
  }
}
