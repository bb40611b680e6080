// Builds the TensorFlow.js model a ModelSpec describes. Every process (coordinator,
// member, exporter) must get the same layer and weight names and, from the same seed, the
// same initial weights, so names are explicit (`dense_1/kernel`, …, `output/bias`) and the
// Glorot-uniform initialisation (Glorot & Bengio 2010) is drawn from Concord's own seeded
// generator rather than from TF.js internals.
//
// The last Dense layer (`output`) produces logits and a separate weightless `softmax`
// layer turns them into probabilities: exported models predict probabilities, while
// training takes the logits for a numerically stable cross-entropy.

import * as tf from '@tensorflow/tfjs';
import { seededRandom, type Random } from '../core/random.js';
import type { ModelSpec } from '../protocol/messages.js';
import { type Parameters, type TensorSpec, sizeOf } from '../protocol/tensors.js';
import { setParameters } from './weights.js';

/** Name of the logits layer; the model's last layer is the weightless softmax after it. */
export const LOGITS_LAYER = 'output';

interface DenseShape {
  name: string;
  inputs: number;
  units: number;
}

function denseLayers(spec: ModelSpec): DenseShape[] {
  const widths = [sizeOf(spec.inputShape), ...spec.hidden, spec.classes];
  return widths.slice(1).map((units, i) => ({
    name: i === widths.length - 2 ? LOGITS_LAYER : `dense_${i + 1}`,
    inputs: widths[i]!,
    units,
  }));
}

/** The model's weight manifest in model.weights order: kernel then bias of each Dense layer. */
export function parameterSpecs(spec: ModelSpec): TensorSpec[] {
  return denseLayers(spec).flatMap((l) => [
    { name: `${l.name}/kernel`, shape: [l.inputs, l.units] },
    { name: `${l.name}/bias`, shape: [l.units] },
  ]);
}

/** U(−l, l) with l = √(6 / (fanIn + fanOut)). */
export function glorotUniform(fanIn: number, fanOut: number, random: Random): Float32Array {
  const limit = Math.sqrt(6 / (fanIn + fanOut));
  const values = new Float32Array(fanIn * fanOut);
  for (let i = 0; i < values.length; i++) values[i] = (2 * random() - 1) * limit;
  return values;
}

/** Initial weights from `seed`: Glorot-uniform kernels (one stream per layer), zero biases. */
export function initialParameters(spec: ModelSpec, seed = 0): Parameters {
  const specs = parameterSpecs(spec);
  const data = new Float32Array(specs.reduce((s, t) => s + sizeOf(t.shape), 0));
  let offset = 0;
  denseLayers(spec).forEach((l, i) => {
    data.set(glorotUniform(l.inputs, l.units, seededRandom(seed, 0x6106, i)), offset);
    offset += l.inputs * l.units + l.units;
  });
  return { specs, data };
}

export function buildModel(spec: ModelSpec, seed = 0): tf.Sequential {
  const model = tf.sequential({ name: 'concord_mlp' });
  const flat = spec.inputShape.length > 1;
  if (flat) model.add(tf.layers.flatten({ name: 'flatten', inputShape: spec.inputShape }));
  const activation = spec.activation ?? 'relu';
  denseLayers(spec).forEach((l, i) => {
    model.add(
      tf.layers.dense({
        name: l.name,
        units: l.units,
        activation: l.name === LOGITS_LAYER ? 'linear' : activation,
        kernelInitializer: 'zeros',
        biasInitializer: 'zeros',
        ...(i === 0 && !flat ? { inputShape: spec.inputShape } : {}),
      }),
    );
  });
  model.add(tf.layers.activation({ name: 'softmax', activation: 'softmax' }));

  setParameters(model, initialParameters(spec, seed));
  return model;
}
