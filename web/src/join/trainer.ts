// Local training in the page with TensorFlow.js: the model the task describes
// (src/model/build.ts), the round's global weights, a few epochs of minibatch SGD or Adam
// on the member's own rows. Only the new weights and summary metrics come out.

import * as tf from '@tensorflow/tfjs';
import { buildModel } from '../../../src/model/build.js';
import type { TaskHeader } from '../../../src/protocol/messages.js';
import type { Parameters } from '../../../src/protocol/tensors.js';
import type { LocalData } from './local-data.js';

/** WebGL when the browser has it, else the CPU backend (headless browsers without a GPU). */
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

/**
 * Loads `global` into `model` by position: the run's manifest names the tensors, the
 * model built here may name them differently, but shapes must agree one for one.
 */
function load(model: tf.LayersModel, global: Parameters): void {
  const weights = model.getWeights();
  if (weights.length !== global.specs.length) throw new Error(`the run's model has ${global.specs.length} tensors, the model built here ${weights.length}`);
  let offset = 0;
  const tensors = global.specs.map((spec, i) => {
    const shape = weights[i]!.shape;
    if (shape.join() !== spec.shape.join()) throw new Error(`tensor ${spec.name} has shape [${spec.shape.join(', ')}], expected [${shape.join(', ')}]`);
    const n = spec.shape.reduce((a, b) => a * b, 1);
    const t = tf.tensor(global.data.subarray(offset, offset + n), spec.shape, 'float32');
    offset += n;
    return t;
  });
  model.setWeights(tensors);
  tf.dispose(tensors);
}

function read(model: tf.LayersModel, like: Parameters): Parameters {
  const data = new Float32Array(like.data.length);
  let offset = 0;
  for (const w of model.getWeights()) {
    const values = w.dataSync();
    data.set(values, offset);
    offset += values.length;
  }
  return { specs: like.specs, data };
}

function tensors(data: LocalData, from: number, to: number): { xs: tf.Tensor2D; ys: tf.Tensor1D } {
  return {
    xs: tf.tensor2d(data.x.subarray(from * data.features, to * data.features), [to - from, data.features]),
    ys: tf.tensor1d(data.y.subarray(from, to), 'float32'),
  };
}

export async function trainTask(
  data: LocalData,
  task: TaskHeader,
  global: Parameters,
  onEpoch: (epoch: number, loss: number) => void,
): Promise<{ parameters: Parameters; numExamples: number; metrics: Record<string, number> }> {
  const model = buildModel(task.model, 0);
  try {
    load(model, global);
    const optimizer = task.config.optimizer === 'adam' ? tf.train.adam(task.config.learningRate) : tf.train.sgd(task.config.learningRate);
    model.compile({ optimizer, loss: 'sparseCategoricalCrossentropy', metrics: ['accuracy'] });
    const { xs, ys } = tensors(data, 0, data.train);
    const started = performance.now();
    let steps = 0;
    const history = await model.fit(xs, ys, {
      epochs: task.config.epochs,
      batchSize: task.config.batchSize,
      shuffle: true,
      verbose: 0,
      callbacks: {
        onEpochEnd: (epoch, logs) => onEpoch(epoch, Number(logs?.loss ?? NaN)),
        // A resource plan may cap the work; stop after the allotted minibatch steps.
        onBatchEnd: () => {
          steps++;
          if (task.config.maxSteps !== undefined && steps >= task.config.maxSteps) model.stopTraining = true;
        },
      },
    });
    tf.dispose([xs, ys]);
    const last = (key: string): number => Number(history.history[key]?.at(-1) ?? 0);
    return {
      parameters: read(model, global),
      numExamples: data.train,
      metrics: { loss: last('loss'), accuracy: last('acc') || last('accuracy'), trainSeconds: (performance.now() - started) / 1000, examplesProcessed: Math.min(steps * task.config.batchSize, data.train * task.config.epochs) },
    };
  } finally {
    model.dispose();
  }
}

export async function evaluateTask(data: LocalData, task: TaskHeader, global: Parameters): Promise<{ numExamples: number; metrics: Record<string, number> }> {
  const model = buildModel(task.model, 0);
  try {
    load(model, global);
    model.compile({ optimizer: 'sgd', loss: 'sparseCategoricalCrossentropy', metrics: ['accuracy'] });
    const { xs, ys } = tensors(data, data.train, data.y.length);
    const out = model.evaluate(xs, ys) as tf.Scalar[];
    const [loss, accuracy] = await Promise.all(out.map((t) => t.data()));
    tf.dispose([xs, ys, ...out]);
    return { numExamples: data.y.length - data.train, metrics: { loss: loss![0]!, accuracy: accuracy![0]! } };
  } finally {
    model.dispose();
  }
}
