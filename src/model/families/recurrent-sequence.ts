// An LSTM or GRU layer's whole sequence as one differentiable op, for the backends where a
// tensor lives in host memory (wasm, cpu). TF.js runs a recurrent layer as a dozen kernels
// per time step forward and about twice that backward: some 10,000 kernel launches per
// batch of a 100-token text model, each costing more than the arithmetic it does. Here the
// input projection x·W + b is one matMul for all steps, each step's recurrent products
// (h·U forward, dz·Uᵀ backward) are matMuls, and the gates, the state update and their
// derivatives are plain loops over the step's values; the weight gradients are matMuls
// over all steps at the end (backpropagation through time, Graves 2012, ch. 4). No library
// offers this for TF.js' WASM backend.
//
// The layer stays a standard Keras LSTM or GRU (same weights, config and export): only its
// `call` is routed here (fused-layers.ts), when the configuration is the one computed below
// (tanh and sigmoid, bias, no dropout, no mask or initial state, last output only).

import * as tf from '@tensorflow/tfjs';
import type { FusedCall } from './fused-layers.js';

const sigmoid = (z: number): number => 1 / (1 + Math.exp(-z));

/** a · b (or a · bᵀ) with a given as host values: one kernel, read back. */
function hostMatMul(a: Float32Array, rows: number, b: tf.Tensor2D, transposeB: boolean): Float32Array {
  const product = tf.tidy(() => tf.matMul(tf.tensor2d(a, [rows, a.length / rows]), b, false, transposeB));
  const values = product.dataSync() as Float32Array;
  product.dispose();
  return values;
}

/** x·W + b for every step at once, [B·T, G] as host values. */
function inputProjection(x: tf.Tensor3D, kernel: tf.Tensor2D, bias: tf.Tensor1D): Float32Array {
  const [B, T, E] = x.shape;
  const projected = tf.tidy(() => tf.add(tf.matMul(tf.reshape(x, [B * T, E]), kernel), bias));
  const values = projected.dataSync() as Float32Array;
  projected.dispose();
  return values;
}

/**
 * The gradients for x, W, U and b from dz, the pre-activation gradients of every step
 * ([B·T, G], in [B, T, ·] order): dx = dz·Wᵀ, dW = xᵀ·dz, db = Σ dz, and dU from
 * `recurrentGradient` (which depends on the cell).
 */
function sequenceGradients(dz: Float32Array, x: tf.Tensor3D, kernel: tf.Tensor2D, recurrentGradient: (dZ: tf.Tensor2D) => tf.Tensor): tf.Tensor[] {
  const [B, T, E] = x.shape;
  return tf.tidy(() => {
    const dZ = tf.tensor2d(dz, [B * T, dz.length / (B * T)]);
    return [tf.reshape(tf.matMul(dZ, kernel, false, true), [B, T, E]), tf.matMul(tf.reshape(x, [B * T, E]), dZ, true, false), recurrentGradient(dZ), tf.sum(dZ, 0)];
  });
}

/**
 * The last hidden state of an LSTM (gates i, f, g, o in Keras' order; sigmoid gates, tanh
 * cell) over x [batch, time, features], from zero states, with its gradient with respect to
 * x, the kernel W [features, 4H], the recurrent kernel U [H, 4H] and the bias [4H].
 */
export const lstmLastOutput = tf.customGrad(((x: tf.Tensor3D, kernel: tf.Tensor2D, recurrent: tf.Tensor2D, bias: tf.Tensor1D, save: tf.GradSaveFunc) => {
  const [B, T] = x.shape;
  const H = recurrent.shape[0];
  const G = 4 * H;
  const xw = inputProjection(x, kernel, bias);
  // Per (example, step), in [B, T, ·] order: the activated gates, tanh of the new cell, and
  // the previous states (the weight gradients need h_{t−1}; the forget gate's needs c_{t−1}).
  const gates = new Float32Array(B * T * G);
  const tanhCell = new Float32Array(B * T * H);
  const hPrevious = new Float32Array(B * T * H);
  const cPrevious = new Float32Array(B * T * H);
  const h = new Float32Array(B * H);
  const c = new Float32Array(B * H);
  for (let t = 0; t < T; t++) {
    const recurrentPart = t > 0 ? hostMatMul(h, B, recurrent, false) : null;
    for (let b = 0; b < B; b++) {
      const row = b * T + t;
      const z = row * G;
      const s = row * H;
      const state = b * H;
      const r = b * G;
      hPrevious.set(h.subarray(state, state + H), s);
      cPrevious.set(c.subarray(state, state + H), s);
      for (let j = 0; j < H; j++) {
        const i = sigmoid(xw[z + j]! + (recurrentPart ? recurrentPart[r + j]! : 0));
        const f = sigmoid(xw[z + H + j]! + (recurrentPart ? recurrentPart[r + H + j]! : 0));
        const g = Math.tanh(xw[z + 2 * H + j]! + (recurrentPart ? recurrentPart[r + 2 * H + j]! : 0));
        const o = sigmoid(xw[z + 3 * H + j]! + (recurrentPart ? recurrentPart[r + 3 * H + j]! : 0));
        const cell = f * c[state + j]! + i * g;
        const tc = Math.tanh(cell);
        gates[z + j] = i;
        gates[z + H + j] = f;
        gates[z + 2 * H + j] = g;
        gates[z + 3 * H + j] = o;
        tanhCell[s + j] = tc;
        c[state + j] = cell;
        h[state + j] = o * tc;
      }
    }
  }
  save([x, kernel, recurrent]);
  const value = tf.tensor2d(h, [B, H]);
  const gradFunc = (dy: tf.Tensor2D, saved: tf.Tensor[]): tf.Tensor[] => {
    const [xs, w, u] = saved as [tf.Tensor3D, tf.Tensor2D, tf.Tensor2D];
    let dh: Float32Array = Float32Array.from(dy.dataSync() as Float32Array);
    const dc = new Float32Array(B * H);
    const dz = new Float32Array(B * T * G);
    const dzStep = new Float32Array(B * G);
    for (let t = T - 1; t >= 0; t--) {
      for (let b = 0; b < B; b++) {
        const row = b * T + t;
        const z = row * G;
        const s = row * H;
        const state = b * H;
        const step = b * G;
        for (let j = 0; j < H; j++) {
          const i = gates[z + j]!;
          const f = gates[z + H + j]!;
          const g = gates[z + 2 * H + j]!;
          const o = gates[z + 3 * H + j]!;
          const tc = tanhCell[s + j]!;
          const dhj = dh[state + j]!;
          const dcj = dc[state + j]! + dhj * o * (1 - tc * tc);
          dc[state + j] = dcj * f;
          const di = dcj * g * i * (1 - i);
          const df = dcj * cPrevious[s + j]! * f * (1 - f);
          const dg = dcj * i * (1 - g * g);
          const dO = dhj * tc * o * (1 - o);
          dz[z + j] = dzStep[step + j] = di;
          dz[z + H + j] = dzStep[step + H + j] = df;
          dz[z + 2 * H + j] = dzStep[step + 2 * H + j] = dg;
          dz[z + 3 * H + j] = dzStep[step + 3 * H + j] = dO;
        }
      }
      if (t > 0) dh = hostMatMul(dzStep, B, u, true);
    }
    return sequenceGradients(dz, xs, w, (dZ) => tf.matMul(tf.tensor2d(hPrevious, [B * T, H]), dZ, true, false));
  };
  return { value, gradFunc };
}) as unknown as Parameters<typeof tf.customGrad>[0]) as unknown as (x: tf.Tensor3D, kernel: tf.Tensor2D, recurrent: tf.Tensor2D, bias: tf.Tensor1D) => tf.Tensor2D;

/**
 * The last hidden state of a GRU (Keras' reset-before variant, as TF.js builds it: gates z,
 * r, candidate h̃ = tanh(x·W_h + (r ⊙ h)·U_h + b_h), h = z ⊙ h_prev + (1 − z) ⊙ h̃) over x
 * [batch, time, features] from a zero state, with its gradients with respect to x, the
 * kernel W [features, 3H], the recurrent kernel U [H, 3H] and the bias [3H].
 */
export const gruLastOutput = tf.customGrad(((x: tf.Tensor3D, kernel: tf.Tensor2D, recurrent: tf.Tensor2D, bias: tf.Tensor1D, save: tf.GradSaveFunc) => {
  const [B, T] = x.shape;
  const H = recurrent.shape[0];
  const G = 3 * H;
  const [gatesKernel, candidateKernel] = tf.split(recurrent, [2 * H, H], 1) as [tf.Tensor2D, tf.Tensor2D];
  const xw = inputProjection(x, kernel, bias);
  // Per (example, step), in [B, T, ·] order: z, r and h̃; h_{t−1}; and r ⊙ h_{t−1}.
  const gates = new Float32Array(B * T * G);
  const hPrevious = new Float32Array(B * T * H);
  const resetPrevious = new Float32Array(B * T * H);
  const h = new Float32Array(B * H);
  const rh = new Float32Array(B * H);
  for (let t = 0; t < T; t++) {
    const inner = t > 0 ? hostMatMul(h, B, gatesKernel, false) : null;
    for (let b = 0; b < B; b++) {
      const row = b * T + t;
      const z = row * G;
      const state = b * H;
      const r = b * 2 * H;
      hPrevious.set(h.subarray(state, state + H), row * H);
      for (let j = 0; j < H; j++) {
        const zj = sigmoid(xw[z + j]! + (inner ? inner[r + j]! : 0));
        const rj = sigmoid(xw[z + H + j]! + (inner ? inner[r + H + j]! : 0));
        gates[z + j] = zj;
        gates[z + H + j] = rj;
        rh[state + j] = rj * h[state + j]!;
      }
    }
    const candidate = t > 0 ? hostMatMul(rh, B, candidateKernel, false) : null;
    for (let b = 0; b < B; b++) {
      const row = b * T + t;
      const z = row * G;
      const state = b * H;
      resetPrevious.set(rh.subarray(state, state + H), row * H);
      for (let j = 0; j < H; j++) {
        const hh = Math.tanh(xw[z + 2 * H + j]! + (candidate ? candidate[state + j]! : 0));
        const zj = gates[z + j]!;
        gates[z + 2 * H + j] = hh;
        h[state + j] = zj * h[state + j]! + (1 - zj) * hh;
      }
    }
  }
  save([x, kernel, gatesKernel, candidateKernel]);
  const value = tf.tensor2d(h, [B, H]);
  const gradFunc = (dy: tf.Tensor2D, saved: tf.Tensor[]): tf.Tensor[] => {
    const [xs, w, u1, u2] = saved as [tf.Tensor3D, tf.Tensor2D, tf.Tensor2D, tf.Tensor2D];
    const dh = Float32Array.from(dy.dataSync() as Float32Array);
    const dz = new Float32Array(B * T * G);
    const dCandidate = new Float32Array(B * H);
    const dGates = new Float32Array(B * 2 * H);
    for (let t = T - 1; t >= 0; t--) {
      for (let b = 0; b < B; b++) {
        const row = b * T + t;
        const z = row * G;
        const s = row * H;
        const state = b * H;
        for (let j = 0; j < H; j++) {
          const zj = gates[z + j]!;
          const hh = gates[z + 2 * H + j]!;
          const dhj = dh[state + j]!;
          const da = dhj * (1 - zj) * (1 - hh * hh);
          dz[z + 2 * H + j] = dCandidate[state + j] = da;
          // ∂h/∂z, kept in place until r's part is known.
          dz[z + j] = dhj * (hPrevious[s + j]! - hh) * zj * (1 - zj);
          dh[state + j] = dhj * zj;
        }
      }
      // d(r ⊙ h_{t−1}) = da · U_hᵀ gives r's gradient and part of h_{t−1}'s.
      const dReset = t > 0 ? hostMatMul(dCandidate, B, u2, true) : null;
      for (let b = 0; b < B; b++) {
        const row = b * T + t;
        const z = row * G;
        const s = row * H;
        const state = b * H;
        for (let j = 0; j < H; j++) {
          const rj = gates[z + H + j]!;
          const drh = dReset ? dReset[state + j]! : 0;
          const dr = drh * hPrevious[s + j]! * rj * (1 - rj);
          dz[z + H + j] = dr;
          dGates[b * 2 * H + j] = dz[z + j]!;
          dGates[b * 2 * H + H + j] = dr;
          dh[state + j] = dh[state + j]! + drh * rj;
        }
      }
      if (t > 0) {
        const viaGates = hostMatMul(dGates, B, u1, true);
        for (let k = 0; k < B * H; k++) dh[k] = dh[k]! + viaGates[k]!;
      }
    }
    return sequenceGradients(dz, xs, w, (dZ) => {
      const [dGates, dCandidate] = tf.split(dZ, [2 * H, H], 1);
      return tf.concat([tf.matMul(tf.tensor2d(hPrevious, [B * T, H]), dGates!, true, false), tf.matMul(tf.tensor2d(resetPrevious, [B * T, H]), dCandidate!, true, false)], 1);
    });
  };
  return { value, gradFunc };
}) as unknown as Parameters<typeof tf.customGrad>[0]) as unknown as (x: tf.Tensor3D, kernel: tf.Tensor2D, recurrent: tf.Tensor2D, bias: tf.Tensor1D) => tf.Tensor2D;

type SequenceOp = typeof lstmLastOutput;

interface RecurrentLayer {
  cell: { kernel: { read(): tf.Tensor }; recurrentKernel: { read(): tf.Tensor }; bias: { read(): tf.Tensor } | null; dropout: number; recurrentDropout: number };
  getConfig(): tf.serialization.ConfigDict;
}

/** The fused call of an LSTM or GRU layer (fused-layers.ts), when its configuration is the one `op` computes. */
function fusedRecurrentCall(op: SequenceOp): FusedCall {
  return (layer) => {
    const { cell } = layer as unknown as RecurrentLayer;
    const config = layer.getConfig();
    const fusable = config['activation'] === 'tanh' && config['recurrentActivation'] === 'sigmoid' && config['useBias'] === true
      && !config['returnSequences'] && !config['returnState'] && !config['goBackwards'] && !config['stateful'] && !config['resetAfter']
      && !(cell.dropout > 0) && !(cell.recurrentDropout > 0);
    if (!fusable) return undefined;
    return (x, kwargs) => (kwargs['mask'] || kwargs['initialState'] || x.rank !== 3 ? undefined
      : op(x as tf.Tensor3D, cell.kernel.read() as tf.Tensor2D, cell.recurrentKernel.read() as tf.Tensor2D, cell.bias!.read() as tf.Tensor1D));
  };
}

export const fusedLstmCall = fusedRecurrentCall(lstmLastOutput);
export const fusedGruCall = fusedRecurrentCall(gruLastOutput);
