// The three-hospital case end to end (src/demo/hospital-study.ts): naive reading of the sites'
// files trains to about the majority class; the same federated run with the consortium
// schema and harmonised preprocessing comes within 1 point of centralised training on the
// pooled, correctly harmonised data. Plus the harmonisation's guards.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { hospitalStudy } from '../src/demo/hospital-study.js';
import { writeHospitals } from '../src/data/hospitals.js';
import { loadMemberData } from '../src/data/spec.js';
import { createTfjsHandler } from '../src/node/tfjs-handler.js';
import { createCoordinator } from '../src/coordinator/server.js';
import { initialParameters } from '../src/model/build.js';
import { SqliteStorage } from '../src/storage/sqlite.js';
import { PROTOCOL_VERSION, type TaskHeader } from '../src/protocol/messages.js';
import { temporaryDirs } from '../src/core/temp-dirs.fixture.js';

const tempDir = temporaryDirs();

test('before harmonisation about the majority class; after it within 1 point of centralised training', { timeout: 300_000 }, async () => {
  const lines: string[] = [];
  const r = await hospitalStudy({ dir: await tempDir('concord-study-'), log: (l) => lines.push(l) });
  assert.ok(r.before < r.majority + 0.06, `naive federated accuracy ${r.before} should be near the majority share ${r.majority}`);
  assert.ok(r.after >= r.centralized - 0.01, `harmonised federated ${r.after} vs centralised ${r.centralized}`);
  assert.ok(r.centralized > r.majority + 0.2, `the task is learnable: centralised ${r.centralized}`);
  process.stdout.write(`# hospital study: ${JSON.stringify(r)}\n`);
});

test('a member with missing values refuses to train without the run’s preprocessing; a coordinator without a schema refuses harmonise', async () => {
  const { files } = await writeHospitals({ out: await tempDir('concord-study-'), sites: 2 });
  const data = await loadMemberData(files[1]!.spec);
  const handler = createTfjsHandler(data);
  const model = { family: 'mlp', inputShape: [12], hidden: [], classes: 2 } as const;
  const task = { protocolVersion: PROTOCOL_VERSION, taskId: 't', kind: 'train', runId: 'r', round: 1, deadline: 0, model, config: { epochs: 1, batchSize: 32, learningRate: 0.1, optimizer: 'sgd', proximalMu: 0, seed: 0 } } as unknown as TaskHeader;
  await assert.rejects(handler.train(task, initialParameters(model as never, 0)), /missing values, which train only with the run’s harmonised preprocessing/);

  const storage = new SqliteStorage(':memory:');
  await storage.migrate();
  const coordinator = await createCoordinator({ storage, operatorToken: 'op', initialParameters: async (c) => initialParameters(c.model, 0) });
  const res = await coordinator.app.inject({ method: 'POST', url: '/v1/runs', headers: { authorization: 'Bearer op' }, payload: { name: 'h', model, rounds: 1, harmonise: {} } });
  assert.equal(res.statusCode, 400);
  assert.match(res.body, /harmonised preprocessing needs the consortium data schema/);
  await coordinator.close();
  await storage.close();
});
