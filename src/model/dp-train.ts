// Sample-level differential privacy inside a member's local training: DP-SGD (Abadi et al.
// 2016, "Deep Learning with Differential Privacy", arXiv 1607.00133). Every step draws a
// Poisson lot (each example independently with probability q = batchSize/n), clips each
// example's gradient over all trainable weights to L2 norm C, sums, adds N(0, (zC)²) per
// coordinate from the OS CSPRNG, divides by the expected lot size L = qn and takes an
// optimizer step. The RDP accountant (privacy/rdp.ts) turns (q, z, steps) into ε.
//
// Per-example gradients are never materialised. For a Dense layer with inputs A (B × d_in)
// and output-gradients Δ (B × d_out) of the summed loss, example i's kernel gradient is the
// outer product a_i δ_iᵀ, whose squared norm is ‖a_i‖²‖δ_i‖², and its bias gradient is δ_i
// (Goodfellow 2015, "Efficient per-example gradient computations", arXiv 1510.01799; the
// "ghost norm" of Li et al. 2021, arXiv 2110.05679). The MLP's backward pass is written out
// (δ_L = softmax(z_L) − onehot(y), δ_l = (δ_{l+1} W_{l+1}ᵀ) ⊙ act′(z_l)), so one forward and
// one backward pass give every example's norm, hence its clip factor c_i; the clipped sum is
// then Aᵀ diag(c) Δ and Σ_i c_i δ_i per layer — the cost of ordinary minibatch training.
//
// Lots are sampled with the same CSPRNG as the noise, not from config.seed: the coordinator
// chooses the seed, so seeded lots would tell it who was in each lot, and the amplification
// by subsampling that the accountant credits assumes that is secret. An empty lot still
// releases a noisy step (skipping it would reveal that no one was drawn), and the divisor is
// the expected L, never the realised lot size, which depends on who was drawn.
//
// Models that are not a plain stack of Dense layers (convolutions, embeddings, recurrent
// layers, attention, dropout) take the general path: each example of the lot is its own
// microbatch of one (as TF Privacy does with num_microbatches = lot size), its gradient over
// all trainable weights computed by autodiff, clipped and added. That costs a forward and
// backward pass per example rather than per lot; the result is the same clipped sum.
//
// FedProx is supported: the proximal gradient μ(w − w_global) does not depend on the data, so
// it is added after the noise without changing the guarantee; Adam likewise only
// post-processes privatized gradients. Not covered by the guarantee: the loss and accuracy
// returned in `metrics`, computed on the member's raw training examples — a member that
// must keep its records private should not report them.

import * as tf from '@tensorflow/tfjs';
import type { Random } from '../core/random.js';
import type { Dataset } from '../data/dataset.js';
import { featureSize } from '../data/dataset.js';
import { checkClippingNorm } from '../privacy/dp/clip.js';
import { addGaussianNoise, secureRandom } from '../privacy/dp/gaussian.js';
import { ConcordError, ErrorCode } from '../protocol/errors.js';
import type { TrainConfig } from '../protocol/messages.js';
import { type Parameters, assertSameSpecs, sizeOf } from '../protocol/tensors.js';
import { LOGITS_LAYER } from './build.js';
import { checkCompatible, logits } from './forward.js';
import type { TrainOptions, TrainResult } from './train.js';
import { weightSpecs } from './weights.js';

export interface DpSgdOptions {
  /** C, the L2 bound on each example's gradient over all trainable weights. */
  clippingNorm: number;
  /** z: the noise on each lot's clipped sum has standard deviation zC per coordinate. */
  noiseMultiplier: number;
  /** Uniform source for lot sampling and noise. Default: the OS CSPRNG. Inject a seeded source in tests only: it voids the guarantee. */
  random?: Random;
}

export interface DpTrainResult extends TrainResult {
  /** Noisy steps taken: the accountant's `steps`. */
  dpSteps: number;
  /** q, the probability that an example is in a given lot: the accountant's `samplingRate`. */
  dpSamplingRate: number;
}

export type DenseActivation = 'linear' | 'relu' | 'tanh' | 'sigmoid';

/** One Dense layer of an MLP, with the model's own weight variables. */
export interface DenseLayer {
  name: string;
  kernel: tf.Variable;
  bias: tf.Variable | undefined;
  activation: DenseActivation;
}

export interface ClippedGradientSum {
  /** Σ_i c_i g_i, one tensor per variable in `layerVariables` order. */
  sums: tf.Tensor[];
  /** ‖g_i‖₂ before clipping, one per example. */
  norms: tf.Tensor1D;
  /** Σ_i cross-entropy_i. */
  lossSum: tf.Scalar;
  /** Number of examples whose arg-max logit is the label. */
  hits: tf.Scalar;
}

const ACTIVATIONS: readonly string[] = ['linear', 'relu', 'tanh', 'sigmoid'];

/** How long training may hold the event loop before it yields, so a member keeps answering its coordinator. */
const YIELD_EVERY_MS = 100;

const yieldToEventLoop = (): Promise<void> => new Promise((resolve) => (typeof setImmediate === 'function' ? setImmediate(resolve) : setTimeout(resolve, 0)));

function invalid(field: string, expected: string, received: unknown, message: string): ConcordError {
  return new ConcordError(ErrorCode.INVALID_ARGUMENT, message, { details: { field, expected, received } });
}

/**
 * The Dense layers up to and including the logits layer. Only Flatten and Dense layers may
 * come before it: per-example norms are exact for these and nothing else.
 */
export function denseLayers(model: tf.LayersModel): DenseLayer[] {
  const layers: DenseLayer[] = [];
  for (const layer of model.layers) {
    const kind = layer.getClassName();
    if (kind === 'Flatten' || kind === 'InputLayer') continue;
    if (kind !== 'Dense') {
      throw invalid('model', 'an MLP of Dense layers (buildModel)', kind, `DP-SGD supports Dense layers only; layer "${layer.name}" is a ${kind}`);
    }
    const config = layer.getConfig() as { activation?: string; useBias?: boolean };
    const activation = config.activation ?? 'linear';
    if (!ACTIVATIONS.includes(activation)) {
      throw invalid(`model.layers.${layer.name}.activation`, ACTIVATIONS.join(', '), activation, `DP-SGD supports the activations ${ACTIVATIONS.join(', ')}; layer "${layer.name}" uses ${activation}`);
    }
    const [kernel, bias] = layer.trainableWeights.map((w) => w.read() as tf.Variable);
    if (!kernel) throw invalid(`model.layers.${layer.name}.trainable`, 'a trainable layer', 'frozen', `DP-SGD trains every Dense layer; layer "${layer.name}" is frozen`);
    layers.push({ name: layer.name, kernel: kernel!, bias: config.useBias === false ? undefined : bias, activation: activation as DenseActivation });
    if (layer.name === LOGITS_LAYER) return layers;
  }
  throw invalid('model', `a layer named ${LOGITS_LAYER}`, undefined, `the model has no "${LOGITS_LAYER}" layer; build it with buildModel`);
}

/** The Dense layers of a plain Dense stack (the fast path), or null for any other model. */
export function plainDenseLayers(model: tf.LayersModel): DenseLayer[] | null {
  try {
    return denseLayers(model);
  } catch (error) {
    if (error instanceof ConcordError && error.code === ErrorCode.INVALID_ARGUMENT) return null;
    throw error;
  }
}

/** The variables DP-SGD trains, in model.trainableWeights order (kernel, bias of each layer). */
export function layerVariables(layers: readonly DenseLayer[]): tf.Variable[] {
  return layers.flatMap((l) => (l.bias ? [l.kernel, l.bias] : [l.kernel]));
}

function activate(z: tf.Tensor2D, activation: DenseActivation): tf.Tensor2D {
  switch (activation) {
    case 'linear':
      return z;
    case 'relu':
      return tf.relu(z);
    case 'tanh':
      return tf.tanh(z);
    case 'sigmoid':
      return tf.sigmoid(z);
  }
}

/** act′(z), written with the activation a = act(z) where that is cheaper. */
function derivative(z: tf.Tensor2D, a: tf.Tensor2D, activation: DenseActivation): tf.Tensor2D | undefined {
  switch (activation) {
    case 'linear':
      return undefined;
    case 'relu':
      return tf.step(z);
    case 'tanh':
      return tf.sub(1, tf.square(a)) as tf.Tensor2D;
    case 'sigmoid':
      return tf.mul(a, tf.sub(1, a)) as tf.Tensor2D;
  }
}

/**
 * One lot's clipped gradient sum Σ_i min(1, C/‖g_i‖)·g_i of the cross-entropy over the
 * layers' variables, with the per-example norms, summed loss and hit count. `x` is B × d_in
 * (flat features), `y` the B int32 labels. Pure tensor function: call it inside tf.tidy or
 * dispose what it returns.
 */
export function clippedGradientSum(layers: readonly DenseLayer[], x: tf.Tensor2D, y: tf.Tensor1D, clippingNorm: number): ClippedGradientSum {
  return tf.tidy(() => {
    const inputs: tf.Tensor2D[] = [];
    const preActivations: tf.Tensor2D[] = [];
    const activations: tf.Tensor2D[] = [];
    let a = x;
    for (const layer of layers) {
      inputs.push(a);
      let z: tf.Tensor2D = tf.matMul(a, layer.kernel as tf.Tensor2D);
      if (layer.bias) z = tf.add(z, layer.bias) as tf.Tensor2D;
      preActivations.push(z);
      a = activate(z, layer.activation);
      activations.push(a);
    }
    const logits = a;
    const classes = logits.shape[1];
    const onehot = tf.oneHot(y, classes);
    const logProbabilities = tf.logSoftmax(logits);
    const lossSum = tf.neg(tf.sum(tf.mul(onehot, logProbabilities))) as tf.Scalar;
    const hits = tf.sum(tf.cast(tf.equal(tf.argMax(logits, 1), y), 'float32')) as tf.Scalar;

    // Backward pass of Σ_i loss_i; row i of every Δ belongs to example i alone.
    const deltas: tf.Tensor2D[] = new Array(layers.length);
    let delta = tf.sub(tf.exp(logProbabilities), onehot) as tf.Tensor2D;
    const last = layers[layers.length - 1]!;
    const lastDerivative = derivative(preActivations[layers.length - 1]!, logits, last.activation);
    if (lastDerivative) delta = tf.mul(delta, lastDerivative) as tf.Tensor2D;
    for (let l = layers.length - 1; l >= 0; l--) {
      deltas[l] = delta;
      if (l === 0) break;
      delta = tf.matMul(delta, layers[l]!.kernel as tf.Tensor2D, false, true);
      const d = derivative(preActivations[l - 1]!, activations[l - 1]!, layers[l - 1]!.activation);
      if (d) delta = tf.mul(delta, d) as tf.Tensor2D;
    }

    // ‖g_i‖² = Σ_l (‖a_i‖² + [bias]) · ‖δ_i‖²: the bias acts as one more input fixed at 1.
    let squaredNorms: tf.Tensor1D = tf.zeros([x.shape[0]]);
    layers.forEach((layer, l) => {
      const inputSquares = tf.sum(tf.square(inputs[l]!), 1);
      const deltaSquares = tf.sum(tf.square(deltas[l]!), 1);
      squaredNorms = tf.add(squaredNorms, tf.mul(layer.bias ? tf.add(inputSquares, 1) : inputSquares, deltaSquares));
    });
    const norms = tf.sqrt(squaredNorms);
    // C / max(‖g‖, C) = min(1, C/‖g‖), and 1 for a zero gradient.
    const factors = tf.div(clippingNorm, tf.maximum(norms, clippingNorm)).reshape([-1, 1]);

    const sums: tf.Tensor[] = [];
    layers.forEach((layer, l) => {
      const scaled = tf.mul(deltas[l]!, factors) as tf.Tensor2D;
      sums.push(tf.matMul(inputs[l]!, scaled, true, false));
      if (layer.bias) sums.push(tf.sum(scaled, 0));
    });
    return { sums, norms, lossSum, hits };
  });
}

/**
 * The same clipped sum for any model, one example at a time: g_i by autodiff of example i's
 * cross-entropy over `variables`, scaled by min(1, C/‖g_i‖). `x` holds the lot's examples
 * ([B, ...inputShape]); `loss` maps a batch of them and their labels to the summed loss.
 */
export function microbatchClippedSum(variables: readonly tf.Variable[], x: tf.Tensor, y: tf.Tensor1D, clippingNorm: number, forward: (x: tf.Tensor) => tf.Tensor2D): ClippedGradientSum {
  const count = x.shape[0]!;
  let sums: tf.Tensor[] = variables.map((v) => tf.zerosLike(v));
  let lossSum: tf.Scalar = tf.scalar(0);
  let hits: tf.Scalar = tf.scalar(0);
  const norms: tf.Scalar[] = [];
  for (let i = 0; i < count; i++) {
    // Kept out of variableGrads' scope (which would dispose it), so disposed here once summed.
    let hit: tf.Scalar | undefined;
    const next = tf.tidy(() => {
      const xi = tf.slice(x, [i], [1]);
      const yi = tf.slice(y, [i], [1]);
      const { value, grads } = tf.variableGrads(() => {
        const z = forward(xi);
        hit = tf.keep(tf.sum(tf.cast(tf.equal(tf.argMax(z, 1), yi), 'float32')) as tf.Scalar);
        return tf.neg(tf.sum(tf.mul(tf.oneHot(yi, z.shape[1]), tf.logSoftmax(z)))) as tf.Scalar;
      }, variables as tf.Variable[]);
      const gradients = variables.map((v) => grads[v.name]!);
      const norm = tf.sqrt(tf.addN(gradients.map((g) => tf.sum(tf.square(g))))) as tf.Scalar;
      const factor = tf.div(clippingNorm, tf.maximum(norm, clippingNorm));
      return {
        sums: sums.map((s, k) => tf.add(s, tf.mul(gradients[k]!, factor))),
        lossSum: tf.add(lossSum, value) as tf.Scalar,
        hits: tf.add(hits, hit!) as tf.Scalar,
        norm,
      };
    });
    tf.dispose([...sums, lossSum, hits, hit!]);
    ({ sums, lossSum, hits } = next);
    norms.push(next.norm);
  }
  const stacked = norms.length > 0 ? tf.stack(norms) : tf.zeros([0]);
  tf.dispose(norms);
  return { sums, norms: stacked as tf.Tensor1D, lossSum, hits };
}

/**
 * A Poisson lot: each of the n indices independently with probability q, ascending. Gaps
 * between drawn indices are geometric, so it costs about qn uniforms rather than n.
 */
export function poissonLot(n: number, q: number, random: Random): Int32Array {
  if (q >= 1) return Int32Array.from({ length: n }, (_, i) => i);
  const drawn: number[] = [];
  if (q <= 0) return Int32Array.from(drawn);
  const logMiss = Math.log1p(-q);
  for (let i = -1; ; ) {
    // 1 − u lies in (0, 1], so the logarithm is finite; P(gap ≥ k) = (1 − q)^k.
    i += 1 + Math.floor(Math.log(1 - random()) / logMiss);
    if (i >= n) return Int32Array.from(drawn);
    drawn.push(i);
  }
}

function checkDpOptions(dp: DpSgdOptions): void {
  if (dp === null || typeof dp !== 'object') throw invalid('dpSgd', 'an object with clippingNorm and noiseMultiplier', dp, 'dpSgd must be an object with clippingNorm and noiseMultiplier');
  checkClippingNorm(dp.clippingNorm, 'dpSgd.clippingNorm');
  const z = dp.noiseMultiplier;
  if (typeof z !== 'number' || !Number.isFinite(z) || z < 0) {
    throw invalid('dpSgd.noiseMultiplier', 'a finite number >= 0', z, `dpSgd.noiseMultiplier is ${String(z)}; expected a finite number >= 0`);
  }
}

function checkData(model: tf.LayersModel, data: Dataset, layers: readonly DenseLayer[] | null): { inputShape: number[] } {
  if (!layers) return { inputShape: checkCompatible(model, data).inputShape };
  const features = layers[0]!.kernel.shape[0]!;
  const classes = layers[layers.length - 1]!.kernel.shape[1]!;
  if (featureSize(data) !== features) {
    throw new ConcordError(ErrorCode.SHAPE_MISMATCH, `the data has ${featureSize(data)} features per example but the model takes ${features}`, {
      details: { field: 'data.inputShape', expected: model.inputs[0]?.shape.slice(1), received: data.inputShape },
    });
  }
  if (data.x.length !== data.y.length * features) {
    throw new ConcordError(ErrorCode.SHAPE_MISMATCH, `the data has ${data.y.length} labels but ${data.x.length / features} examples`, {
      details: { field: 'data.x', expected: data.y.length * features, received: data.x.length },
    });
  }
  for (let i = 0; i < data.y.length; i++) {
    const label = data.y[i]!;
    if (!(label >= 0 && label < classes)) throw invalid(`data.y[${i}]`, `0..${classes - 1}`, label, `example ${i} has label ${label} but the model has ${classes} classes`);
  }
  return { inputShape: [features] };
}

/** The global weights as constants aligned with `variables`. */
function anchorTensors(model: tf.LayersModel, variables: readonly tf.Variable[], global: Parameters): tf.Tensor[] {
  assertSameSpecs(weightSpecs(model), global.specs, 'globalParameters');
  const byVariable = new Map<string, string>(model.trainableWeights.map((w) => [(w.read() as tf.Variable).name, w.originalName]));
  const offsets = new Map<string, number>();
  let offset = 0;
  for (const s of global.specs) {
    offsets.set(s.name, offset);
    offset += sizeOf(s.shape);
  }
  return variables.map((v) => {
    const at = offsets.get(byVariable.get(v.name)!)!;
    return tf.tensor(global.data.subarray(at, at + v.size), v.shape, 'float32');
  });
}

/** N(0, σ²) per coordinate, one tensor per variable. σ = 0 gives undefined: nothing to add. */
function noiseTensors(variables: readonly tf.Variable[], stddev: number, random: Random): tf.Tensor[] | undefined {
  if (stddev === 0) return undefined;
  const noise = addGaussianNoise(new Float32Array(variables.reduce((s, v) => s + v.size, 0)), stddev, random);
  let offset = 0;
  return variables.map((v) => {
    const t = tf.tensor(noise.subarray(offset, offset + v.size), v.shape, 'float32');
    offset += v.size;
    return t;
  });
}

/**
 * Local training with DP-SGD: config.epochs × ⌈n / batchSize⌉ noisy steps on Poisson lots of
 * expected size min(batchSize, n), with config.optimizer and config.learningRate, FedProx
 * when config.proximalMu > 0 (needs options.globalParameters). `metrics` are the mean
 * cross-entropy and accuracy over the examples drawn in the last epoch (before each step).
 */
export async function trainDpSgd(model: tf.LayersModel, data: Dataset, config: TrainConfig, dp: DpSgdOptions, options: TrainOptions = {}): Promise<DpTrainResult> {
  checkDpOptions(dp);
  // The fast path for plain Dense stacks; every other model, one example at a time.
  const layers = plainDenseLayers(model);
  const { inputShape } = checkData(model, data, layers);
  const n = data.y.length;
  if (n === 0) return { numExamples: 0, metrics: { loss: 0, accuracy: 0 }, dpSteps: 0, dpSamplingRate: 0 };
  const variables = layers ? layerVariables(layers) : model.trainableWeights.map((w) => w.read() as tf.Variable);
  const lotSumOf = (xb: tf.Tensor, yb: tf.Tensor1D): ClippedGradientSum =>
    layers ? clippedGradientSum(layers, tf.reshape(xb, [xb.shape[0]!, -1]) as tf.Tensor2D, yb, dp.clippingNorm) : microbatchClippedSum(variables, xb, yb, dp.clippingNorm, (xi) => logits(model, xi, true));
  const mu = config.proximalMu ?? 0;
  let anchors: tf.Tensor[] = [];
  if (mu > 0) {
    if (!options.globalParameters) {
      throw invalid('globalParameters', "the round's global model", undefined, 'FedProx (proximalMu > 0) needs the global parameters');
    }
    anchors = anchorTensors(model, variables, options.globalParameters);
  }

  const random = dp.random ?? secureRandom;
  const expectedLot = Math.min(config.batchSize, n);
  const q = expectedLot / n;
  const stepsPerEpoch = Math.ceil(n / config.batchSize);
  const stddev = dp.noiseMultiplier * dp.clippingNorm;
  const x = tf.tensor(data.x, [n, ...inputShape]);
  const y = tf.tensor1d(data.y, 'int32');
  const optimizer = config.optimizer === 'adam' ? tf.train.adam(config.learningRate) : tf.train.sgd(config.learningRate);
  let metrics = { loss: 0, accuracy: 0 };
  let steps = 0;
  let lastYield = Date.now();
  try {
    for (let epoch = 0; epoch < config.epochs; epoch++) {
      let lossSum = tf.scalar(0);
      let hitSum = tf.scalar(0);
      let seen = 0;
      for (let step = 0; step < stepsPerEpoch; step++) {
        const lot = poissonLot(n, q, random);
        seen += lot.length;
        const noise = noiseTensors(variables, stddev, random);
        const [gradients, nextLoss, nextHits] = tf.tidy(() => {
          let sums: tf.Tensor[];
          let loss = lossSum;
          let hits = hitSum;
          if (lot.length > 0) {
            const index = tf.tensor1d(lot, 'int32');
            const lotSum = lotSumOf(tf.gather(x, index), tf.gather(y, index) as tf.Tensor1D);
            sums = lotSum.sums;
            loss = tf.add(lossSum, lotSum.lossSum);
            hits = tf.add(hitSum, lotSum.hits);
          } else {
            sums = variables.map((v) => tf.zerosLike(v));
          }
          const named = variables.map((v, i) => {
            let g = tf.div(noise ? tf.add(sums[i]!, noise[i]!) : sums[i]!, expectedLot);
            if (mu > 0) g = tf.add(g, tf.mul(mu, tf.sub(v, anchors[i]!)));
            return { name: v.name, tensor: g };
          });
          return [named, loss, hits] as const;
        });
        optimizer.applyGradients(gradients);
        tf.dispose([...gradients.map((g) => g.tensor), ...(noise ?? [])]);
        if (nextLoss !== lossSum) {
          tf.dispose([lossSum, hitSum]);
          lossSum = nextLoss as tf.Scalar;
          hitSum = nextHits as tf.Scalar;
        }
        steps++;
        if (Date.now() - lastYield > YIELD_EVERY_MS) {
          await yieldToEventLoop();
          lastYield = Date.now();
        }
      }
      const [loss, correct] = await Promise.all([lossSum.data(), hitSum.data()]);
      tf.dispose([lossSum, hitSum]);
      metrics = seen === 0 ? { loss: 0, accuracy: 0 } : { loss: loss[0]! / seen, accuracy: correct[0]! / seen };
      options.onEpoch?.(epoch, metrics.loss, metrics.accuracy);
    }
  } finally {
    tf.dispose([x, y, ...anchors]);
    optimizer.dispose();
  }
  return { numExamples: n, metrics, dpSteps: steps, dpSamplingRate: q };
}
