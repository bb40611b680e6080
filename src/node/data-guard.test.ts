import assert from 'node:assert/strict';
import { appendFile, readFile, writeFile } from 'node:fs/promises';
import { test } from 'node:test';
import { writeHospitals } from '../data/hospitals.js';
import type { TaskHeader } from '../protocol/messages.js';
import { makeParameters } from '../protocol/tensors.js';
import { withDataRevalidation } from './data-guard.js';
import { temporaryDirs } from '../core/temp-dirs.fixture.js';

const tempDir = temporaryDirs();

test('a node trains only on the data it validated and enrolled: a changed file declines the task, naming why', async () => {
  const { files } = await writeHospitals({ out: await tempDir('concord-data-guard-'), sites: 1 });
  const file = files[0]!;
  const global = makeParameters([{ name: 'w', shape: [1] }]);
  let trained = 0;
  const guarded = await withDataRevalidation({ train: async () => (trained++, { parameters: global, numExamples: 1, metrics: {} }), evaluate: async () => ({ numExamples: 1, metrics: { loss: 0 } }) }, file.spec);
  const task = {} as TaskHeader;
  await guarded.train(task, global);
  assert.equal(trained, 1);
  const original = await readFile(file.path, 'utf8');
  await appendFile(file.path, 's0-99999,61,female,never,27,130,5.1,5.1,300,false,low\n');
  await assert.rejects(guarded.train(task, global), /changed since this node validated and enrolled it; restart the node/);
  await writeFile(file.path, original.replace(/\n(s0-00000),\d+,/, '\n$1,abc,'));
  await assert.rejects(guarded.evaluate(task, global), /does not match data schema cardio-risk v1 \(1 problem\):\n.*row 1 \(line 2\), column "age": expected a number, found "abc"/);
  await writeFile(file.path, original);
  await guarded.evaluate(task, global);
  assert.equal(trained, 1);
});
