// Builds the TensorFlow.js model a ModelSpec describes, through its family (families/).
// Every process (coordinator, member, exporter, browser) must get the same weight names
// and, from the same seed, the same initial weights: families name their layers, and the
// weights come from Concord's own seeded generator (families/initial-weights.ts) rather
// than from TF.js internals.
//
// The logits come out of the layer named `output`; a weightless `softmax` layer follows, so
// exported models predict probabilities while training takes the logits for a numerically
// stable cross-entropy (logitsModel).

import * as tf from '@tensorflow/tfjs';
import type { ModelSpec } from '../protocol/messages.js';
import type { Parameters, TensorSpec } from '../protocol/tensors.js';
import { LOGITS_LAYER, familyOf } from './families/index.js';
import { initialWeights } from './families/initial-weights.js';
import { fuseLayers } from './families/fused-layers.js';
import { setParameters, weightSpecs } from './weights.js';

export { LOGITS_LAYER } from './families/index.js';
export { glorotUniform } from './families/initial-weights.js';

const manifests = new Map<string, TensorSpec[]>();

/** The model's weight manifest in model.weights order, with stable names. */
export function parameterSpecs(spec: ModelSpec): TensorSpec[] {
  const key = JSON.stringify(spec);
  let specs = manifests.get(key);
  if (!specs) {
    const model = familyOf(spec).build(spec);
    try {
      specs = weightSpecs(model);
    } finally {
      model.dispose();
    }
    manifests.set(key, specs);
  }
  return specs.map((s) => ({ name: s.name, shape: [...s.shape] }));
}

/** Initial weights from `seed`. */
export function initialParameters(spec: ModelSpec, seed = 0): Parameters {
  return initialWeights(parameterSpecs(spec), seed);
}

const specsOfModels = new WeakMap<tf.LayersModel, ModelSpec>();

/** The spec's model with initial weights from `seed`; its LSTM, GRU and Conv1D layers run as fused ops where they can (families/fused-layers.ts). */
export function buildModel(spec: ModelSpec, seed = 0): tf.LayersModel {
  const model = fuseLayers(familyOf(spec).build(spec));
  setParameters(model, initialWeights(weightSpecs(model), seed));
  specsOfModels.set(model, spec);
  return model;
}

/** The spec a model was built from (training asks it how batches become inputs, and for weight decay). */
export function specOf(model: tf.LayersModel): ModelSpec | undefined {
  return specsOfModels.get(model);
}

const logitModels = new WeakMap<tf.LayersModel, tf.LayersModel>();

/** The same layers and weights with the logits as output: what training and evaluation apply. */
export function logitsModel(model: tf.LayersModel): tf.LayersModel {
  let logits = logitModels.get(model);
  if (!logits) {
    logits = tf.model({ inputs: model.inputs, outputs: model.getLayer(LOGITS_LAYER).output as tf.SymbolicTensor, name: `${model.name}_logits` });
    logitModels.set(model, logits);
  }
  return logits;
}
