// A member given several coordinator URLs (replicas) moves on from one it cannot reach to
// the next, and takes part from there.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { CoordinatorClient } from '../src/node/client.js';
import { runMember } from '../src/node/member.js';
import { makeParameters } from '../src/protocol/tensors.js';
import { addMember, plus, startHarness, startRun, waitForRun } from './support/harness.js';
import { freePort } from './support/processes.js';

test('a member with a dead replica first in its list enrolls with the next and trains', async (t) => {
  const h = await startHarness();
  t.after(() => h.close());
  addMember(h, 'steady', 10, plus(1));
  const dead = `http://127.0.0.1:${await freePort()}`;
  const client = new CoordinatorClient(`${dead},${h.url}`);
  assert.deepEqual(client.urls, [dead, h.url]);
  const abort = new AbortController();
  h.members.push(abort);
  const lines: string[] = [];
  let trained = 0;
  void runMember({
    client,
    name: 'roaming',
    dataset: { name: 'synthetic', numExamples: 10, numHoldout: 10, inputShape: [2], classes: 2 },
    handler: {
      async train(_task, global) {
        trained++;
        return { parameters: makeParameters(global.specs, global.data.map((v) => v + 3)), numExamples: 10, metrics: { loss: 1 } };
      },
      async evaluate() {
        return { numExamples: 10, metrics: { loss: 1, accuracy: 0.5 } };
      },
    },
    signal: abort.signal,
    pollMs: 1000,
    heartbeatMs: 200,
    backoffMs: { initial: 10, max: 100 },
    log: (line) => lines.push(line),
  });
  const runId = await startRun(h, { rounds: 2 });
  assert.equal(await waitForRun(h, runId), 'completed');
  assert.equal(trained, 2, 'the roaming member trained in both rounds');
  assert.equal(client.url, h.url);
  assert.ok(lines.some((l) => l === `moving to coordinator ${h.url}`), lines.join('\n'));
});
