// The conformance suite every model family runs: a manifest with stable names whose size is
// the analytic parameter count, initial weights that are the same in every process, training
// that lowers the loss, DP-SGD or a clear refusal, and an export that plain
// @tensorflow/tfjs (in a process with no Concord code) loads and predicts with identically.

import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { after, before, describe, it } from 'node:test';
import * as tf from '@tensorflow/tfjs';
import { seededRandom } from '../../core/random.js';
import type { Dataset } from '../../data/dataset.js';
import { ModelSpecSchema, type ModelSpec } from '../../protocol/messages.js';
import { totalSize } from '../../protocol/tensors.js';
import { initBackend } from '../backend.js';
import { buildModel, initialParameters, parameterSpecs } from '../build.js';
import { exportTfjsModel } from '../export.js';
import { evaluate, trainLocal } from '../train.js';
import { getParameters } from '../weights.js';
import { familyOf, feed } from './index.js';

interface Sample {
  spec: ModelSpec;
  /** Epochs the training check gives it (attention learns more slowly from so few examples). Default 8. */
  epochs?: number;
  /** Learnable data that fits the spec: the label is a function of the input. */
  data: (n: number, seed: number) => Dataset;
}

/** Images whose label is the quadrant holding the brightest blob. */
function quadrantImages(height: number, width: number, channels: number) {
  return (n: number, seed: number): Dataset => {
    const random = seededRandom(seed);
    const size = height * width * channels;
    const x = new Float32Array(n * size);
    const y = new Int32Array(n);
    for (let i = 0; i < n; i++) {
      const label = i % 4;
      y[i] = label;
      for (let p = 0; p < size; p++) x[i * size + p] = 0.2 * random();
      const top = label < 2 ? 0 : Math.floor(height / 2);
      const left = label % 2 === 0 ? 0 : Math.floor(width / 2);
      for (let r = top; r < top + Math.floor(height / 2); r++) for (let c = left; c < left + Math.floor(width / 2); c++) x[i * size + (r * width + c) * channels] = 1;
    }
    return { x, y, inputShape: [height, width, channels], classes: 4 };
  };
}

/** Token sequences whose label says which of four marker tokens occurs; position 0 holds [CLS] (1). */
function markedSequences(length: number, vocab: number) {
  return (n: number, seed: number): Dataset => {
    const random = seededRandom(seed);
    const x = new Float32Array(n * length);
    const y = new Int32Array(n);
    for (let i = 0; i < n; i++) {
      const label = i % 4;
      y[i] = label;
      x[i * length] = 1;
      for (let t = 1; t < length; t++) x[i * length + t] = 6 + Math.floor(random() * (vocab - 6));
      x[i * length + 1 + Math.floor(random() * (length - 1))] = 2 + label;
    }
    return { x, y, inputShape: [length], classes: 4 };
  };
}

// The samples build tfjs models (the layers family's topologies), so the backend comes first.
await initBackend('wasm');

/** A topology as plain tfjs writes it (model.toJSON), for the layers family. */
function topology(model: tf.LayersModel): Record<string, unknown> {
  const json = model.toJSON(null, false) as unknown as Record<string, unknown>;
  model.dispose();
  return json;
}

const sequentialTopology = () =>
  topology(
    tf.sequential({
      layers: [
        tf.layers.conv2d({ inputShape: [8, 8, 1], filters: 4, kernelSize: 3, activation: 'relu', name: 'team_conv' }),
        tf.layers.maxPooling2d({ poolSize: 2, name: 'team_pool' }),
        tf.layers.flatten({ name: 'team_flatten' }),
        tf.layers.dense({ units: 4, activation: 'softmax', name: 'team_classifier' }),
      ],
    }),
  );

function functionalTopology(): Record<string, unknown> {
  const input = tf.input({ shape: [8, 8, 1], name: 'pixels' });
  const flat = tf.layers.flatten({ name: 'flat' }).apply(input) as tf.SymbolicTensor;
  const a = tf.layers.dense({ units: 8, activation: 'relu', name: 'branch_a' }).apply(flat) as tf.SymbolicTensor;
  const b = tf.layers.dense({ units: 8, activation: 'tanh', name: 'branch_b' }).apply(flat) as tf.SymbolicTensor;
  const joined = tf.layers.concatenate({ name: 'joined' }).apply([a, b]) as tf.SymbolicTensor;
  const out = tf.layers.dense({ units: 4, activation: 'softmax', name: 'probabilities' }).apply(joined) as tf.SymbolicTensor;
  return topology(tf.model({ inputs: input, outputs: out }));
}

export const SAMPLES: Sample[] = [
  { spec: ModelSpecSchema.parse({ family: 'mlp', inputShape: [8, 8, 1], hidden: [16, 8], classes: 4, dropout: 0.1, batchNorm: true, l2: 1e-4 }), data: quadrantImages(8, 8, 1) },
  {
    spec: ModelSpecSchema.parse({ family: 'cnn', inputShape: [8, 8, 1], conv: [{ filters: 4, kernelSize: 3, pool: 2 }, { filters: 6, kernelSize: 3, padding: 'valid', dropout: 0.1 }], dense: [8], dropout: 0.1, classes: 4 }),
    data: quadrantImages(8, 8, 1),
  },
  { spec: ModelSpecSchema.parse({ family: 'text', vocabSize: 40, sequenceLength: 12, embeddingDim: 8, encoder: { type: 'conv1d', filters: 8, kernelSize: 3 }, dense: [8], dropout: 0.1, classes: 4 }), data: markedSequences(12, 40) },
  { spec: ModelSpecSchema.parse({ family: 'text', vocabSize: 40, sequenceLength: 8, embeddingDim: 6, encoder: { type: 'lstm', units: 6 }, classes: 4 }), data: markedSequences(8, 40) },
  { spec: ModelSpecSchema.parse({ family: 'text', vocabSize: 40, sequenceLength: 8, embeddingDim: 6, encoder: { type: 'gru', units: 6 }, classes: 4 }), data: markedSequences(8, 40) },
  { spec: ModelSpecSchema.parse({ family: 'layers', modelTopology: sequentialTopology() }), data: quadrantImages(8, 8, 1) },
  { spec: ModelSpecSchema.parse({ family: 'layers', modelTopology: functionalTopology() }), data: quadrantImages(8, 8, 1) },
  { spec: ModelSpecSchema.parse({ family: 'transformer', vocabSize: 40, sequenceLength: 8, embeddingDim: 8, heads: 2, layers: 1, feedForward: 16, dropout: 0.1, classes: 4 }), data: markedSequences(8, 40), epochs: 40 },
];

const sha = (data: Float32Array): string => createHash('sha256').update(new Uint8Array(data.buffer, data.byteOffset, data.byteLength)).digest('hex');

before(async () => {
  await initBackend('wasm');
});

let dir = '';
before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'concord-families-'));
});
after(async () => {
  await rm(dir, { recursive: true, force: true });
});

/** Runs a script in a fresh Node process and returns its stdout. */
function node(args: string[], input?: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, args, { stdio: ['pipe', 'pipe', 'pipe'], cwd: process.cwd() });
    let out = '';
    let err = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    child.stderr.on('data', (d: Buffer) => (err += d.toString()));
    child.once('exit', (code) => (code === 0 ? resolve(out) : reject(new Error(`exit ${code}: ${err}`))));
    child.stdin.end(input ?? '');
  });
}

describe('every model family', () => {
  it('initial weights are the same in another process (manifest names and values)', async () => {
    const script = join(dir, 'initial.mts');
    await writeFile(
      script,
      `import { initialParameters } from ${JSON.stringify(new URL('../build.js', import.meta.url).href.replace(/\.js$/, '.ts'))};
       import { createHash } from 'node:crypto';
       const specs = JSON.parse(await new Promise((r) => { let s = ''; process.stdin.on('data', (d) => (s += d)); process.stdin.on('end', () => r(s)); }));
       const out = specs.map((spec) => { const p = initialParameters(spec, 5); return { names: p.specs.map((s) => s.name), sha: createHash('sha256').update(new Uint8Array(p.data.buffer)).digest('hex') }; });
       process.stdout.write(JSON.stringify(out));`,
    );
    const remote = JSON.parse(await node(['--import', 'tsx', script], JSON.stringify(SAMPLES.map((s) => s.spec)))) as { names: string[]; sha: string }[];
    SAMPLES.forEach((sample, i) => {
      const local = initialParameters(sample.spec, 5);
      assert.deepEqual(remote[i]!.names, local.specs.map((s) => s.name), sample.spec.family);
      assert.equal(remote[i]!.sha, sha(local.data), `${sample.spec.family}: the same initial values in both processes`);
      assert.notEqual(sha(initialParameters(sample.spec, 6).data), sha(local.data), 'another seed, other values');
    });
  });

  for (const sample of SAMPLES) {
    const family = sample.spec.family;
    describe(family, () => {
      it('manifest: stable, unsuffixed names; its size is the analytic parameter count', () => {
        const specs = parameterSpecs(sample.spec);
        assert.equal(totalSize(specs), familyOf(sample.spec).parameterCount(sample.spec));
        const a = buildModel(sample.spec, 1);
        const b = buildModel(sample.spec, 1);
        try {
          for (const m of [a, b]) assert.deepEqual(m.weights.map((w) => w.originalName), specs.map((s) => s.name));
          assert.ok(specs.every((s) => /^[a-z_0-9]+\/[a-z_]+$/.test(s.name)), specs.map((s) => s.name).join(', '));
        } finally {
          a.dispose();
          b.dispose();
        }
      });

      it('trains: the loss falls and holdout accuracy beats chance', async () => {
        const model = buildModel(sample.spec, 2);
        try {
          const train = sample.data(96, 1);
          const test = sample.data(48, 2);
          const before = await evaluate(model, test);
          await trainLocal(model, train, { epochs: sample.epochs ?? 8, batchSize: 16, learningRate: 0.01, optimizer: 'adam', proximalMu: 0, seed: 3 });
          const after = await evaluate(model, test);
          assert.ok(after.loss < before.loss, `${family}: loss ${before.loss} → ${after.loss}`);
          assert.ok(after.accuracy > 0.5, `${family}: accuracy ${after.accuracy} (chance 0.25)`);
        } finally {
          model.dispose();
        }
      });

      it('DP-SGD: trains with every example clipped, or is refused with the reason', async () => {
        const support = familyOf(sample.spec).support(sample.spec).dpSgd;
        if (support !== true) {
          assert.match(support.reason, /\w{10,}/, 'a reason a person can read');
          return;
        }
        const model = buildModel(sample.spec, 2);
        try {
          const result = await trainLocal(model, sample.data(32, 1), { epochs: 1, batchSize: 8, learningRate: 0.1, optimizer: 'sgd', proximalMu: 0, seed: 0 }, { dpSgd: { clippingNorm: 1, noiseMultiplier: 1 } });
          assert.equal(result.dpSteps, 4);
          assert.ok(getParameters(model).data.every(Number.isFinite));
        } finally {
          model.dispose();
        }
      });

      it('exports a model that plain @tensorflow/tfjs loads, in a process without Concord, and predicts identically', async () => {
        const out = join(dir, `export-${family}`);
        const parameters = initialParameters(sample.spec, 7);
        await exportTfjsModel(sample.spec, parameters, out);
        const server = await serve(out);
        const examples = sample.data(5, 9);
        // The model's inputs as its family feeds them (a transformer also takes the positions).
        const inputs = tf.tidy(() => [feed(sample.spec, tf.tensor(examples.x, [5, ...examples.inputShape]))].flat().map((t) => ({ shape: t.shape, values: Array.from(t.dataSync()) })));
        try {
          const script = join(dir, `load-${family}.mjs`);
          await writeFile(
            script,
            `import * as tf from ${JSON.stringify(pathToFileURL(createRequire(import.meta.url).resolve('@tensorflow/tfjs')).href)};
             await tf.setBackend('cpu');
             const model = await tf.loadLayersModel(${JSON.stringify(`${server.url}/model.json`)});
             const inputs = ${JSON.stringify(inputs)}.map((t) => tf.tensor(t.values, t.shape));
             process.stdout.write(JSON.stringify(Array.from(model.predict(inputs.length === 1 ? inputs[0] : inputs).dataSync())));`,
          );
          const loaded = JSON.parse(await node([script])) as number[];
          // The same weights here, on the CPU backend too, for a like-for-like comparison.
          await tf.setBackend('cpu');
          const reference = buildModel(sample.spec, 7);
          const want = tf.tidy(() => Array.from((reference.predict(feed(sample.spec, tf.tensor(examples.x, [5, ...examples.inputShape]))) as tf.Tensor).dataSync()));
          reference.dispose();
          await initBackend('wasm');
          assert.equal(loaded.length, want.length);
          loaded.forEach((v, i) => assert.ok(Math.abs(v - want[i]!) < 1e-5, `${family}: prediction ${i}: ${v} vs ${want[i]}`));
          const json = JSON.parse(await readFile(join(out, 'model.json'), 'utf8')) as { weightsManifest: { weights: { name: string }[] }[] };
          assert.deepEqual(json.weightsManifest[0]!.weights.map((w) => w.name), parameterSpecs(sample.spec).map((s) => s.name));
        } finally {
          await server.close();
        }
      });
    });
  }
});

describe('the layers family', () => {
  it('refuses unsupported layers and non-classifier heads at compile time, naming the layer', () => {
    const json = sequentialTopology() as { config: { layers: { class_name: string; config: Record<string, unknown> }[] } };
    json.config.layers.splice(1, 0, { class_name: 'Conv3D', config: { name: 'team_volume' } });
    json.config.layers.at(-1)!.config.activation = 'sigmoid';
    const spec = ModelSpecSchema.parse({ family: 'layers', modelTopology: json });
    const problems = familyOf(spec).check!(spec);
    assert.deepEqual(problems.map((p) => p.path), ['model.modelTopology.config.layers[1]', 'model.modelTopology.config.layers[4]']);
    assert.match(problems[0]!.message, /layer "team_volume" is a Conv3D, which Concord cannot train; supported layers: InputLayer, Dense/);
    assert.match(problems[1]!.message, /the last layer must be a Dense layer with activation "softmax".*"sigmoid"/);
    const wrapped = ModelSpecSchema.parse({ family: 'layers', modelTopology: { modelTopology: sequentialTopology() } });
    assert.deepEqual(familyOf(wrapped).check!(wrapped), [], 'a whole model.json is read for its topology');
  });

  it('keeps the team\'s layer names as weight names; the classifier becomes the logits layer', () => {
    const spec = ModelSpecSchema.parse({ family: 'layers', modelTopology: sequentialTopology() });
    assert.deepEqual(parameterSpecs(spec).map((s) => s.name), ['team_conv/kernel', 'team_conv/bias', 'output/kernel', 'output/bias']);
  });
});

/** Serves `root` read-only on 127.0.0.1 at an ephemeral port. */
async function serve(root: string): Promise<{ url: string; close: () => Promise<void> }> {
  const server = createServer(async (req, res) => {
    try {
      const body = await readFile(join(root, new URL(req.url ?? '/', 'http://x').pathname.replace(/^\/+/, '')));
      res.writeHead(200, { 'content-type': req.url?.endsWith('.json') ? 'application/json' : 'application/octet-stream' }).end(body);
    } catch {
      res.writeHead(404).end();
    }
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return { url: `http://127.0.0.1:${port}`, close: () => new Promise((resolve) => server.close(() => resolve())) };
}
