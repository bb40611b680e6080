// The fused LSTM, GRU and Conv1D against TF.js' own layers with the same weights: the output
// and the gradients of a loss with respect to the input and every weight, on random shapes,
// on the WASM and CPU backends; and that a configuration they do not compute keeps TF.js' path.

import { before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs';
import { seededRandom } from '../../core/random.js';
import { initBackend } from '../backend.js';
import { buildModel } from '../build.js';
import { fuseLayer } from './fused-layers.js';

const random = seededRandom(7, 3);
const uniform = (n: number, scale: number) => Float32Array.from({ length: n }, () => (random() * 2 - 1) * scale);
const BACKENDS = ['wasm', 'cpu'] as const;

/** A layer under test: how to make it, its input shape, and what the loss sees of its output. */
interface Case {
  what: string;
  make: () => tf.layers.Layer;
  input: [number, number, number];
  /** Applied to the layer's output before the probe (global max pooling makes the conv gradient sparse). */
  head?: (y: tf.Tensor) => tf.Tensor;
  /** The input's values (default uniform in ±1.5). */
  values?: (n: number) => Float32Array;
}

/** Output and gradients (input, then every trainable weight) of Σ(head(output) ⊙ probe). */
function outputAndGradients(layer: tf.layers.Layer, c: Case, x: tf.Tensor, probe: tf.Tensor): Float32Array[] {
  const head = c.head ?? ((y: tf.Tensor) => y);
  return tf.tidy(() => {
    const weights = layer.trainableWeights.map((w) => w.read() as tf.Variable);
    const loss = (input: tf.Tensor) => tf.sum(tf.mul(head(layer.apply(input) as tf.Tensor), probe)) as tf.Scalar;
    const output = layer.apply(x) as tf.Tensor;
    const grads = weights.length > 0 ? tf.variableGrads(() => loss(x), weights).grads : {};
    const dx = tf.grad(loss)(x);
    return [output, dx, ...weights.map((w) => grads[w.name]!)].map((t) => (t.dataSync() as Float32Array).slice());
  });
}

/** The same layer twice, plain and fused, built with the same random weights. */
function pair(c: Case): { plain: tf.layers.Layer; fused: tf.layers.Layer } {
  const plain = c.make();
  const fused = fuseLayer(c.make());
  tf.tidy(() => {
    plain.apply(tf.zeros(c.input));
    fused.apply(tf.zeros(c.input));
  });
  const values = plain.getWeights().map((w) => tf.tensor(uniform(w.size, 0.6), w.shape));
  plain.setWeights(values);
  fused.setWeights(values);
  tf.dispose(values);
  return { plain, fused };
}

async function assertSame(c: Case, backend: (typeof BACKENDS)[number]): Promise<void> {
  await tf.setBackend(backend);
  const { plain, fused } = pair(c);
  assert.notEqual(fused.call, plain.call, `${c.what}: routed to the fused op`);
  const size = c.input.reduce((a, b) => a * b, 1);
  const x = tf.tensor(c.values ? c.values(size) : uniform(size, 1.5), c.input);
  const shape = (c.head ?? ((y: tf.Tensor) => y))(plain.apply(x) as tf.Tensor).shape;
  const probe = tf.tensor(uniform(shape.reduce((a, b) => a * b, 1), 1), shape);
  const before = tf.memory().numTensors;
  const expected = outputAndGradients(plain, c, x, probe);
  const actual = outputAndGradients(fused, c, x, probe);
  assert.equal(tf.memory().numTensors, before, `${c.what}: no tensor is left behind`);
  const names = ['output', 'd input', ...plain.trainableWeights.map((w) => `d ${w.originalName}`)];
  names.forEach((what, k) => {
    const e = expected[k]!;
    const a = actual[k]!;
    assert.equal(a.length, e.length, `${c.what} ${what} size`);
    const worst = e.reduce((m, v, i) => Math.max(m, Math.abs(v - a[i]!)), 0);
    const scale = Math.max(1, ...Array.from(e, Math.abs));
    assert.ok(worst <= 2e-5 * scale, `${c.what} on ${backend}, ${what}: differs by ${worst} (scale ${scale})`);
  });
  tf.dispose([x, probe]);
  plain.dispose();
  fused.dispose();
}

const recurrent = (kind: 'lstm' | 'gru', [batch, steps, features]: [number, number, number], units: number): Case => ({
  what: `${kind} ${batch}×${steps}×${features} → ${units}`,
  make: () => tf.layers[kind]({ units, recurrentActivation: 'sigmoid' }),
  input: [batch, steps, features],
});

const conv = (input: [number, number, number], filters: number, kernelSize: number, strides: number, padding: 'valid' | 'same', pooled: boolean): Case => ({
  what: `conv1d ${input.join('×')} k${kernelSize} s${strides} ${padding} → ${filters}${pooled ? ', max-pooled' : ''}`,
  make: () => tf.layers.conv1d({ filters, kernelSize, strides, padding, activation: 'relu' }),
  input,
  ...(pooled ? { head: (y: tf.Tensor) => tf.max(y, 1) } : {}),
});

before(async () => {
  await initBackend('wasm');
});

describe('fused layers', () => {
  for (const backend of BACKENDS) {
    it(`LSTM and GRU match TF.js' layers, output and every gradient, on ${backend}`, async () => {
      for (const kind of ['lstm', 'gru'] as const) {
        for (const [input, units] of [[[1, 2, 1], 1], [[3, 7, 5], 4], [[2, 20, 3], 9], [[5, 4, 8], 16]] as const) {
          await assertSame(recurrent(kind, [...input], units), backend);
        }
      }
    });

    it(`Conv1D with ReLU matches TF.js' layer, with a sparse gradient (max-pooled) and a dense one, on ${backend}`, async () => {
      const cases = [
        // Max-pooled over 26 to 38 positions: under 5 % of the gradient is nonzero (the sparse path).
        conv([2, 40, 3], 4, 3, 1, 'valid', true),
        conv([3, 30, 5], 6, 5, 1, 'valid', true),
        conv([2, 60, 4], 3, 4, 2, 'same', true),
        conv([1, 80, 2], 5, 2, 3, 'valid', true),
        // Few positions, or no pooling: the dense path.
        conv([2, 11, 4], 3, 4, 2, 'same', true),
        conv([2, 10, 3], 4, 3, 1, 'valid', false),
        conv([2, 13, 2], 3, 4, 2, 'same', false),
      ];
      for (const c of cases) await assertSame(c, backend);
    });

    it(`GlobalMaxPooling1D matches TF.js' layer, ties and NaN included, on ${backend}`, async () => {
      const cases: Case[] = [
        { what: 'global max pool', make: () => tf.layers.globalMaxPooling1d({}), input: [3, 17, 5] },
        // Values on a coarse grid: many ties, where dy must go to the first maximum.
        { what: 'global max pool with ties', make: () => tf.layers.globalMaxPooling1d({}), input: [2, 30, 4], values: (n) => Float32Array.from(uniform(n, 1), (v) => Math.round(v * 2) / 2) },
      ];
      for (const c of cases) await assertSame(c, backend);
      const { plain, fused } = pair(cases[0]!);
      const x = tf.tensor3d([1, 2, Number.NaN, 3, 0, -1], [1, 3, 2]);
      assert.deepEqual(Array.from((fused.apply(x) as tf.Tensor).dataSync()), Array.from((plain.apply(x) as tf.Tensor).dataSync()));
      tf.dispose(x);
    });
  }

  it('leave configurations they do not compute to TF.js', async () => {
    await tf.setBackend('wasm');
    const unfusable: [string, tf.layers.Layer][] = [];
    for (const kind of ['lstm', 'gru'] as const) {
      for (const config of [{ returnSequences: true }, { recurrentActivation: 'hardSigmoid' as const }, { dropout: 0.5 }, { useBias: false }]) {
        unfusable.push([`${kind} ${JSON.stringify(config)}`, tf.layers[kind]({ units: 3, recurrentActivation: 'sigmoid', ...config })]);
      }
    }
    for (const config of [{ activation: 'tanh' as const }, { dilationRate: 2 }, { padding: 'causal' as const }, { useBias: false }]) {
      unfusable.push([`conv1d ${JSON.stringify(config)}`, tf.layers.conv1d({ filters: 2, kernelSize: 3, activation: 'relu', ...config })]);
    }
    for (const [what, layer] of unfusable) {
      const original = layer.call;
      assert.equal(fuseLayer(layer).call, original, what);
    }
    // With an initial state the fused LSTM does not apply; TF.js' own path gives the answer.
    const c = recurrent('lstm', [2, 3, 2], 3);
    const { plain, fused } = pair(c);
    const x = tf.tensor3d(uniform(12, 1), c.input);
    const state = [tf.ones([2, 3]), tf.ones([2, 3])];
    const a = (fused.apply(x, { initialState: state }) as tf.Tensor).dataSync();
    const b = (plain.apply(x, { initialState: state }) as tf.Tensor).dataSync();
    assert.deepEqual(Array.from(a), Array.from(b));
    tf.dispose([x, ...state]);
  });

  it('are what buildModel gives the text family', () => {
    for (const encoder of [{ type: 'lstm', units: 3 }, { type: 'gru', units: 3 }, { type: 'conv1d', filters: 4, kernelSize: 3 }] as const) {
      const model = buildModel({ family: 'text', vocabSize: 50, sequenceLength: 6, embeddingDim: 4, encoder, dense: [], dropout: 0, classes: 2, l2: 0 }, 1);
      for (const name of encoder.type === 'conv1d' ? ['conv1d', 'max_pool'] : [encoder.type]) {
        const layer = model.getLayer(name);
        assert.notEqual(layer.call, Object.getPrototypeOf(layer).call, name);
      }
      model.dispose();
    }
  });
});
