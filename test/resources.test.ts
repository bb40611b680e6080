// Members declare their own compute with `concord resources set` (signed with their node's
// key); the operator reads the declarations as a resources document, plans with HiGHS, and a
// run whose plan names no resources is planned with the declarations.

import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, it } from 'node:test';
import { generateIdentity, saveIdentity } from '../src/governance/identity.js';
import { CoordinatorClient } from '../src/node/client.js';
import { OPERATOR, startHarness, startRun, type Harness } from './support/harness.js';
import { concordRun } from './support/processes.js';

let h: Harness | undefined;
let dir = '';
after(async () => {
  await h?.close();
  if (dir) await rm(dir, { recursive: true, force: true });
});

const dataset = { name: 'records', numExamples: 10, numHoldout: 2, inputShape: [2], classes: 2 };

it('members declare resources, signed; plans use the declarations (the seed example: C = 200)', { timeout: 120_000 }, async () => {
  h = await startHarness();
  dir = await mkdtemp(join(tmpdir(), 'concord-resources-'));
  // Two member nodes as `concord node` leaves them on disk: an identity and an enrollment.
  for (const name of ['A', 'B']) {
    const identity = generateIdentity();
    await saveIdentity(join(dir, `${name}.identity.json`), identity);
    const { memberId } = await new CoordinatorClient(h.url, { identity }).enroll(name, dataset);
    await writeFile(join(dir, `${name}.json`), JSON.stringify({ memberId, publicKey: identity.publicKey }));
  }
  const set = (name: string, ...args: string[]) => concordRun(['resources', 'set', '--coordinator', h!.url, '--name', name, '--state-dir', dir, '--json', ...args]);
  let r = await set('A', '--capacity', '100', '--efficiency', '0.8');
  assert.equal(r.code, 0, r.stderr + r.stdout);
  r = await set('B', '--capacity', '200', '--efficiency', '0.6', '--carbon-intensity', '700');
  assert.equal(r.code, 0, r.stderr + r.stdout);
  // Bad declarations are refused with the field named.
  r = await set('B', '--capacity', '200', '--efficiency', '1.5');
  assert.equal(r.code, 65); // EX_DATAERR
  assert.equal(JSON.parse(r.stdout).error.details.field, 'efficiency');
  // Only the member itself can declare: another key under B's id is refused.
  const impostor = new CoordinatorClient(h.url, { credentials: { memberId: (await h.storage.getMemberByName('B'))!.memberId } });
  await assert.rejects(impostor.declareResources({ capacity: 1e9, efficiency: 1 }), /signature/);

  const shown = await concordRun(['resources', 'show', '--coordinator', h.url, '--token', OPERATOR, '--json']);
  assert.equal(shown.code, 0, shown.stderr);
  const document = JSON.parse(shown.stdout) as { members: { name: string; capacity: number; efficiency: number; carbonIntensity?: number }[] };
  assert.deepEqual(document.members.map((m) => [m.name, m.capacity, m.efficiency]), [['A', 100, 0.8], ['B', 200, 0.6]]);
  await writeFile(join(dir, 'resources.json'), shown.stdout);
  const plan = await concordRun(['plan', '--resources', join(dir, 'resources.json'), '--json']);
  const solved = JSON.parse(plan.stdout) as { objective: number; allocation: { units: number }[] };
  assert.equal(solved.objective, 200);
  assert.deepEqual(solved.allocation.map((a) => a.units), [100, 200]);

  // A run planned without its own resources takes the declarations, and keeps them.
  const runId = await startRun(h, { rounds: 1, plan: { objective: 'max-compute' } });
  const run = await h.storage.getRun(runId);
  assert.deepEqual((run!.config.plan!.resources as { members: { name: string }[] }).members.map((m) => m.name), ['A', 'B']);
});
