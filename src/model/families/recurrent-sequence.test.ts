// The fused LSTM and GRU against TF.js' own layers with the same weights: the output and the
// gradients of a loss with respect to the input and every weight, on random shapes, on the
// WASM and CPU backends; and that a configuration they do not compute keeps TF.js' path.

import { before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs';
import { seededRandom } from '../../core/random.js';
import { initBackend } from '../backend.js';
import { buildModel } from '../build.js';
import { fuseRecurrent } from './recurrent-sequence.js';

const random = seededRandom(7, 3);
const uniform = (n: number, scale: number) => Float32Array.from({ length: n }, () => (random() * 2 - 1) * scale);

interface Case { batch: number; steps: number; features: number; units: number }

/** Output and gradients (input, kernel, recurrent kernel, bias) of Σ(output ⊙ probe) through `layer`. */
function outputAndGradients(layer: tf.layers.Layer, x: tf.Tensor3D, probe: tf.Tensor2D): Float32Array[] {
  return tf.tidy(() => {
    const weights = layer.trainableWeights.map((w) => w.read() as tf.Variable);
    const output = layer.apply(x) as tf.Tensor2D;
    const { grads } = tf.variableGrads(() => tf.sum(tf.mul(layer.apply(x) as tf.Tensor, probe)) as tf.Scalar, weights);
    const dx = tf.grad((input: tf.Tensor) => tf.sum(tf.mul(layer.apply(input) as tf.Tensor, probe)))(x);
    return [output, dx, ...weights.map((w) => grads[w.name]!)].map((t) => (t.dataSync() as Float32Array).slice());
  });
}

type Kind = 'lstm' | 'gru';

function layers(kind: Kind, c: Case): { plain: tf.layers.Layer; fused: tf.layers.Layer } {
  const args = { units: c.units, recurrentActivation: 'sigmoid' as const };
  const plain = tf.layers[kind](args);
  const fused = fuseRecurrent(tf.layers[kind](args));
  tf.tidy(() => {
    plain.apply(tf.zeros([c.batch, c.steps, c.features]));
    fused.apply(tf.zeros([c.batch, c.steps, c.features]));
  });
  const values = plain.getWeights().map((w) => tf.tensor(uniform(w.size, 0.6), w.shape));
  plain.setWeights(values);
  fused.setWeights(values);
  tf.dispose(values);
  return { plain, fused };
}

before(async () => {
  await initBackend('wasm');
});

describe('fused LSTM and GRU sequences', () => {
  for (const [kind, backend] of [['lstm', 'wasm'], ['lstm', 'cpu'], ['gru', 'wasm'], ['gru', 'cpu']] as const) {
    it(`match TF.js' ${kind.toUpperCase()} layer, output and every gradient, on ${backend}`, async () => {
      await tf.setBackend(backend);
      const cases: Case[] = [
        { batch: 1, steps: 2, features: 1, units: 1 },
        { batch: 3, steps: 7, features: 5, units: 4 },
        { batch: 2, steps: 20, features: 3, units: 9 },
        { batch: 5, steps: 4, features: 8, units: 16 },
      ];
      for (const c of cases) {
        const { plain, fused } = layers(kind, c);
        const x = tf.tensor3d(uniform(c.batch * c.steps * c.features, 1.5), [c.batch, c.steps, c.features]);
        const probe = tf.tensor2d(uniform(c.batch * c.units, 1), [c.batch, c.units]);
        const before = tf.memory().numTensors;
        const expected = outputAndGradients(plain, x, probe);
        const actual = outputAndGradients(fused, x, probe);
        assert.equal(tf.memory().numTensors, before, 'no tensor is left behind');
        ['output', 'd input', 'd kernel', 'd recurrent kernel', 'd bias'].forEach((what, k) => {
          const e = expected[k]!;
          const a = actual[k]!;
          assert.equal(a.length, e.length, `${what} size`);
          const worst = e.reduce((m, v, i) => Math.max(m, Math.abs(v - a[i]!)), 0);
          const scale = Math.max(1, ...Array.from(e, Math.abs));
          assert.ok(worst <= 2e-5 * scale, `${JSON.stringify(c)} ${what}: differs by ${worst} (scale ${scale})`);
        });
        tf.dispose([x, probe]);
        plain.dispose();
        fused.dispose();
      }
    });
  }

  it('leave configurations they do not compute to TF.js (returned sequences, hard-sigmoid gates, dropout, no bias)', async () => {
    await tf.setBackend('wasm');
    const c = { batch: 2, steps: 3, features: 2, units: 3 };
    for (const kind of ['lstm', 'gru'] as const) {
      for (const config of [{ returnSequences: true }, { recurrentActivation: 'hardSigmoid' as const }, { dropout: 0.5 }, { useBias: false }]) {
        const layer = tf.layers[kind]({ units: c.units, recurrentActivation: 'sigmoid', ...config });
        const original = layer.call;
        assert.equal(fuseRecurrent(layer).call, original, `${kind} ${JSON.stringify(config)}`);
      }
    }
    const { plain, fused } = layers('lstm', c);
    assert.notEqual(fused.call, plain.call, 'the fusable configuration is routed');
    const x = tf.tensor3d(uniform(c.batch * c.steps * c.features, 1), [c.batch, c.steps, c.features]);
    // With an initial state the fused op does not apply; TF.js' own path gives the answer.
    const state = [tf.ones([c.batch, c.units]), tf.ones([c.batch, c.units])];
    const a = (fused.apply(x, { initialState: state }) as tf.Tensor).dataSync();
    const b = (plain.apply(x, { initialState: state }) as tf.Tensor).dataSync();
    assert.deepEqual(Array.from(a), Array.from(b));
    tf.dispose([x, ...state]);
  });

  it('are what buildModel gives the text family', () => {
    for (const type of ['lstm', 'gru'] as const) {
      const model = buildModel({ family: 'text', vocabSize: 50, sequenceLength: 6, embeddingDim: 4, encoder: { type, units: 3 }, dense: [], dropout: 0, classes: 2, l2: 0 }, 1);
      const layer = model.getLayer(type);
      assert.notEqual(layer.call, Object.getPrototypeOf(layer).call, type);
      model.dispose();
    }
  });
});
