import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { before, test } from 'node:test';
import * as tf from '@tensorflow/tfjs';
import { seededRandom } from '../core/random.js';
import type { ModelSpec } from '../protocol/messages.js';
import { initBackend } from './backend.js';
import { buildModel, initialParameters, parameterSpecs } from './build.js';
import { exportTfjsModel } from './export.js';
import { readModelFiles } from './model-files.js';
import { getParameters, setParameters } from './weights.js';

const spec: ModelSpec = { family: 'mlp', inputShape: [2, 3], hidden: [5], classes: 4, activation: 'tanh' };

before(async () => {
  await initBackend('wasm');
});

/** Serves `dir` read-only on 127.0.0.1 at an ephemeral port. */
async function serve(dir: string): Promise<{ url: string; close: () => Promise<void> }> {
  const server = createServer(async (req, res) => {
    try {
      const body = await readFile(join(dir, new URL(req.url ?? '/', 'http://x').pathname.replace(/^\/+/, '')));
      res.writeHead(200, { 'content-type': req.url?.endsWith('.json') ? 'application/json' : 'application/octet-stream' }).end(body);
    } catch {
      res.writeHead(404).end();
    }
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return { url: `http://127.0.0.1:${port}`, close: () => new Promise((resolve) => server.close(() => resolve())) };
}

test('exportTfjsModel: a standard Layers model that tf.loadLayersModel reads over HTTP and predicts identically', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'concord-export-'));
  const random = seededRandom(9);
  const parameters = initialParameters(spec, 1);
  parameters.data.forEach((_, i) => (parameters.data[i] = random() - 0.5));
  const original = buildModel(spec, 0);
  setParameters(original, parameters);
  const server = await serve(dir);
  let loaded: tf.LayersModel | undefined;
  try {
    const paths = await exportTfjsModel(spec, parameters, dir);
    assert.deepEqual(paths, { modelJson: join(dir, 'model.json'), weights: join(dir, 'weights.bin') });
    const json = JSON.parse(await readFile(paths.modelJson, 'utf8')) as { format: string; weightsManifest: { paths: string[]; weights: { name: string; shape: number[]; dtype: string }[] }[] };
    assert.equal(json.format, 'layers-model');
    assert.deepEqual(json.weightsManifest, [{ paths: ['weights.bin'], weights: parameterSpecs(spec).map((s) => ({ ...s, dtype: 'float32' })) }]);
    assert.equal((await readFile(paths.weights)).byteLength, parameters.data.length * 4);

    loaded = await tf.loadLayersModel(`${server.url}/model.json`);
    const input = tf.randomUniform([7, 2, 3], -1, 1, 'float32', 3);
    const [expected, actual] = [original.predict(input) as tf.Tensor, loaded.predict(input) as tf.Tensor];
    assert.deepEqual(actual.shape, [7, 4]);
    assert.deepEqual(await actual.data(), await expected.data());
    tf.dispose([input, expected, actual]);
    assert.deepEqual(getParameters(loaded), parameters);
    // The weight-only reader used by `concord fuse` sees the same parameters.
    assert.deepEqual((await readModelFiles(dir)).parameters, parameters);
  } finally {
    loaded?.dispose();
    original.dispose();
    await server.close();
    await rm(dir, { recursive: true, force: true });
  }
});

test('exportTfjsModel: parameters that do not fit the spec are refused before anything is written', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'concord-export-'));
  try {
    const wrong = initialParameters({ ...spec, hidden: [6] }, 0);
    await assert.rejects(exportTfjsModel(spec, wrong, join(dir, 'out')), { code: 'CONCORD_ERR_SHAPE_MISMATCH' });
    await assert.rejects(readFile(join(dir, 'out', 'model.json')), { code: 'ENOENT' });
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});
