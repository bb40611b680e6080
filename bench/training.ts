// Local training throughput of every model family, measured side by side in one run:
// TF.js on the WebAssembly backend (with Concord's gradient kernels, model/kernels/), TF.js
// on its CPU backend, and PyTorch on one CPU thread for the same architecture and batch
// size (bench/pytorch_train.py; Debian's python3-torch — `apt-get install python3-torch` —
// the column is skipped, saying so, when no Python with torch is found). Inputs are random
// examples of the right shape: throughput does not depend on their values. Also DP-SGD
// (per-example clipping) against plain SGD on WASM, the price of sample-level privacy.
// Goal (issue 11): every family at ≥ 0.5 of PyTorch's CPU throughput.

import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import * as tf from '@tensorflow/tfjs';
import { initBackend } from '../src/model/backend.js';
import { buildModel, initialParameters } from '../src/model/build.js';
import { familyOf } from '../src/model/families/index.js';
import { trainLocal } from '../src/model/train.js';
import { ModelSpecSchema, type ModelSpec } from '../src/protocol/messages.js';
import { printTable } from './table.js';

const ARCHITECTURES: { label: string; spec: ModelSpec }[] = [
  { label: 'mlp 784-128-10', spec: ModelSpecSchema.parse({ family: 'mlp', inputShape: [784], hidden: [128], classes: 10 }) },
  {
    label: 'cnn 2×(conv5 + pool) + dense 64',
    spec: ModelSpecSchema.parse({ family: 'cnn', inputShape: [28, 28, 1], conv: [{ filters: 8, kernelSize: 5, pool: 2 }, { filters: 16, kernelSize: 5, pool: 2 }], dense: [64], classes: 10 }),
  },
  { label: 'text conv1d (200 tokens)', spec: ModelSpecSchema.parse({ family: 'text', vocabSize: 20_000, sequenceLength: 200, embeddingDim: 32, encoder: { type: 'conv1d', filters: 64, kernelSize: 5 }, classes: 2 }) },
  { label: 'text lstm (100 tokens)', spec: ModelSpecSchema.parse({ family: 'text', vocabSize: 20_000, sequenceLength: 100, embeddingDim: 32, encoder: { type: 'lstm', units: 32 }, classes: 2 }) },
  { label: 'text gru (100 tokens)', spec: ModelSpecSchema.parse({ family: 'text', vocabSize: 20_000, sequenceLength: 100, embeddingDim: 32, encoder: { type: 'gru', units: 32 }, classes: 2 }) },
  { label: 'mf 2,000 items × 16 factors', spec: ModelSpecSchema.parse({ family: 'mf', items: 2000, factors: 16, ratingRange: [1, 5] }) },
  { label: 'transformer (64 tokens, d 32)', spec: ModelSpecSchema.parse({ family: 'transformer', vocabSize: 8000, sequenceLength: 64, embeddingDim: 32, heads: 2, layers: 1, feedForward: 64, dropout: 0.1, classes: 2 }) },
];

const BATCH = 32;
// TF.js' CPU backend computes UnsortedSegmentSum (the gradient of an embedding lookup) as one
// masked sum over every token per vocabulary entry: O(vocabulary × tokens), more than five
// minutes for one batch of these text models. Their CPU column is left out, saying why.
// Matrix factorisation trains in plain JavaScript whatever the backend: one column says it all.
const CPU_UNUSABLE = (spec: ModelSpec) => spec.family === 'text' || spec.family === 'transformer' || spec.family === 'mf';

/** Users in the matrix-factorisation rows. */
const MF_USERS = 1000;

/** Random examples of the spec's input: features in [0, 1), ids in [2, vocabulary), or (user, item) pairs rated 1–5. */
function examples(spec: ModelSpec, n: number): { x: Float32Array; y: Int32Array; inputShape: number[]; classes: number } {
  if (spec.family === 'mf') {
    const x = Float32Array.from({ length: 2 * n }, (_, i) => Math.floor(Math.random() * (i % 2 === 0 ? MF_USERS : spec.items)));
    return { x, y: Int32Array.from({ length: n }, () => 1 + Math.floor(Math.random() * 5)), inputShape: [2], classes: 6 };
  }
  const shape = spec.family === 'text' || spec.family === 'transformer' ? [spec.sequenceLength] : spec.family === 'mlp' || spec.family === 'cnn' ? [...spec.inputShape] : [2];
  const size = shape.reduce((a, b) => a * b, 1);
  const vocabulary = 'vocabSize' in spec ? spec.vocabSize : 0;
  const x = Float32Array.from({ length: n * size }, () => (vocabulary ? 2 + Math.floor(Math.random() * (vocabulary - 2)) : Math.random()));
  const classes = 'classes' in spec ? spec.classes : 2;
  return { x, y: Int32Array.from({ length: n }, () => Math.floor(Math.random() * classes)), inputShape: shape, classes };
}

/** Samples per second of a family that trains with a learner of its own (plain JavaScript, on any backend). */
async function learnerThroughput(spec: ModelSpec, seconds: number): Promise<number> {
  const learner = familyOf(spec).learner!(spec);
  const data = examples(spec, BATCH * 64);
  const config = { epochs: 1, batchSize: BATCH, learningRate: 0.01, optimizer: 'sgd' as const, proximalMu: 0, seed: 0 };
  let global = initialParameters(spec, 0);
  global = (await learner.train(global, data, config)).parameters;
  let samples = 0;
  const start = process.hrtime.bigint();
  let elapsed = 0;
  while (elapsed < seconds) {
    global = (await learner.train(global, data, config)).parameters;
    samples += data.y.length;
    elapsed = Number(process.hrtime.bigint() - start) / 1e9;
  }
  return samples / elapsed;
}

/** Samples per second of local training, over at least `seconds` after a warm-up epoch. */
async function tfjsThroughput(spec: ModelSpec, seconds: number, dp = false): Promise<number> {
  if (familyOf(spec).learner) return learnerThroughput(spec, seconds);
  const model = buildModel(spec, 0);
  try {
    const data = examples(spec, BATCH * 4);
    const config = { epochs: 1, batchSize: BATCH, learningRate: 0.01, optimizer: 'sgd' as const, proximalMu: 0, seed: 0 };
    const options = dp ? { dpSgd: { clippingNorm: 1, noiseMultiplier: 1 } } : {};
    await trainLocal(model, data, config, options);
    let samples = 0;
    const start = process.hrtime.bigint();
    let elapsed = 0;
    while (elapsed < seconds) {
      await trainLocal(model, data, config, options);
      samples += data.y.length;
      elapsed = Number(process.hrtime.bigint() - start) / 1e9;
    }
    return samples / elapsed;
  } finally {
    model.dispose();
  }
}

/** A Python that can import torch: $CONCORD_PYTHON, else Debian's, else the one on PATH. */
function pythonWithTorch(): string | null {
  for (const python of [process.env.CONCORD_PYTHON, '/usr/bin/python3', 'python3'].filter((p): p is string => Boolean(p))) {
    if (spawnSync(python, ['-c', 'import torch'], { stdio: 'ignore' }).status === 0) return python;
  }
  return null;
}

export async function benchTraining(options: { quick?: boolean } = {}): Promise<void> {
  const seconds = options.quick ? 1.5 : 4;
  const python = pythonWithTorch();
  let torch: number[] | null = null;
  if (python) {
    process.stderr.write(`training: PyTorch (${python}), ${ARCHITECTURES.length} models\n`);
    const run = spawnSync(python, [fileURLToPath(new URL('./pytorch_train.py', import.meta.url))], { input: JSON.stringify({ specs: ARCHITECTURES.map((a) => a.spec), batch: BATCH, seconds }), encoding: 'utf8' });
    if (run.status === 0) torch = JSON.parse(run.stdout) as number[];
    else console.log(`PyTorch run failed (${run.status}): ${run.stderr.slice(-300)}`);
  }
  const rows: string[][] = [];
  for (const [i, a] of ARCHITECTURES.entries()) {
    process.stderr.write(`training: ${a.label} (${i + 1}/${ARCHITECTURES.length})\n`);
    await initBackend('wasm');
    const wasm = await tfjsThroughput(a.spec, seconds);
    const dpRefused = familyOf(a.spec).support(a.spec).dpSgd !== true;
    const dp = dpRefused ? null : await tfjsThroughput(a.spec, seconds / 2, true);
    let cpu: number | null = null;
    if (!CPU_UNUSABLE(a.spec)) {
      await initBackend('cpu');
      cpu = await tfjsThroughput(a.spec, seconds / 2);
    }
    const pt = torch?.[i];
    rows.push([
      a.label,
      wasm.toFixed(0),
      cpu === null ? 'n/a*' : cpu.toFixed(0),
      pt === undefined ? 'skipped' : pt.toFixed(0),
      cpu === null ? '-' : (wasm / cpu).toFixed(1),
      pt === undefined ? '-' : (wasm / pt).toFixed(2),
      dp === null ? 'refused' : dp.toFixed(0),
      dp === null ? '-' : (dp / wasm).toFixed(2),
    ]);
  }
  await initBackend('wasm');
  printTable(`Local training throughput, samples/s (batch ${BATCH}, SGD, one thread each; ${tf.memory().numTensors} tensors left)`, ['model', 'TF.js wasm', 'TF.js cpu', 'PyTorch 1 thread', 'wasm / cpu', 'wasm / PyTorch', 'wasm DP-SGD', 'DP-SGD / SGD'], rows);
  console.log('* the CPU backend\'s embedding gradient (UnsortedSegmentSum) is O(vocabulary × tokens): over 5 minutes a batch here;');
  console.log('  mf trains with its own learner in plain JavaScript (per-rating SGD, Koren et al. 2009) on every backend, against PyTorch\'s batched SGD of the same factorisation.');
  if (!torch) console.log(python ? 'PyTorch column failed (see above).' : 'PyTorch column skipped: no Python with torch found (install Debian\'s python3-torch, or set CONCORD_PYTHON).');
}
