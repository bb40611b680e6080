// The agreement and plan approval across real processes: a coordinator started with
// --agreement, two member nodes started with their data owners' keys (--owner-key), and a
// third name outside the agreement that cannot enroll; a researcher submits a plan with the
// CLI, both owners approve it with their own keys, and the run it starts trains to the end.

import assert from 'node:assert/strict';
import type { ChildProcess } from 'node:child_process';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { it } from 'node:test';
import { generateIdentity, saveIdentity } from '../src/governance/identity.js';
import { concord, concordRun, exited, freePort, until, waitForEvent, lastJson, processScope } from './support/processes.js';

const TOKEN = 'op-agreement-test';
const { children, tempDir } = processScope();

const json = lastJson;

it('enforces the agreement and trains on a plan both owners approved', { timeout: 240_000 }, async () => {
  const dir = await tempDir('concord-agreement-');
  const owners = { 'org-a': generateIdentity(), 'org-b': generateIdentity() };
  for (const [name, identity] of Object.entries(owners)) await saveIdentity(join(dir, `${name}.owner.json`), identity);
  const agreementFile = join(dir, 'agreement.yaml');
  await writeFile(
    agreementFile,
    [
      'version: 1',
      'consortium: process-test',
      'members:',
      ...Object.entries(owners).map(([name, o]) => `  - { name: ${name}, jurisdiction: DE, publicKey: ${o.publicKey}, datasets: [{ id: ${name}-data, description: digits }] }`),
      'purposes: [digit-recognition]',
      'allowedStrategies: [fedavg]',
      'allowedModelFamilies: [mlp]',
      'minContributors: 2',
      'secureAggregation: optional',
      'differentialPrivacy: { required: false }',
      'residency: { org-a: model-updates, org-b: model-updates }',
      'approvals: { plansNeed: all-data-owners }',
      'amendments: { signaturesRequired: all }',
      '',
    ].join('\n'),
  );
  const port = await freePort();
  const coordinator = concord(['coordinator', '--port', String(port), '--db', join(dir, 'c.sqlite'), '--operator-token', TOKEN, '--agreement', agreementFile, '--json']);
  children.push(coordinator);
  const url = (await waitForEvent(coordinator, 'listening')).url as string;
  const conn = ['--coordinator', url, '--token', TOKEN, '--json'];

  const node = (name: string, ownerKey: string): ChildProcess => {
    const child = concord(['node', '--coordinator', url, '--name', name, '--data', `mnist:member=${name === 'org-a' ? 0 : 1},members=20,partition=iid,seed=3,test=100`, '--state-dir', join(dir, 'nodes'), '--owner-key', ownerKey, '--json']);
    children.push(child);
    return child;
  };
  // Outside the agreement: its enrollment is refused, which stops the node.
  const outsider = node('org-x', owners['org-a'].publicKey);
  let outsiderLog = '';
  outsider.stderr!.on('data', (d: Buffer) => (outsiderLog += d.toString()));
  outsider.stdout!.on('data', (d: Buffer) => (outsiderLog += d.toString()));
  assert.equal(await exited(outsider), 77); // EX_NOPERM
  assert.match(outsiderLog, /org-x is not a member of process-test/);

  node('org-a', owners['org-a'].publicKey);
  node('org-b', join(dir, 'org-b.owner.json'));
  const api = async <T>(path: string): Promise<T> => (await (await fetch(url + path, { headers: { authorization: `Bearer ${TOKEN}` } })).json()) as T;
  await until(async () => (await api<{ members: { online: boolean }[] }>('/v1/members')).members.filter((m) => m.online).length === 2, 90_000, 'both members online');

  const planFile = join(dir, 'plan.json');
  await writeFile(
    planFile,
    JSON.stringify({
      title: 'digits',
      researcher: 'ana',
      purpose: 'digit-recognition',
      datasets: ['org-a-data', 'org-b-data'],
      config: { model: { family: 'mlp', inputShape: [784], hidden: [], classes: 10 }, rounds: 1, roundDeadlineSeconds: 60, train: { epochs: 1, batchSize: 32, learningRate: 0.05 } },
    }),
  );
  const submitted = await concordRun(['plans', 'submit', '--file', planFile, ...conn]);
  assert.equal(submitted.code, 0, submitted.stdout + submitted.stderr);
  const planId = json(submitted.stdout).planId as string;

  const early = await concordRun(['plans', 'start', planId, ...conn]);
  assert.equal(early.code, 77); // EX_NOPERM: not yet approved
  assert.deepEqual((json(early.stdout).error as { details: { waitingFor: string[] } }).details.waitingFor, ['org-a', 'org-b']);

  for (const name of ['org-a', 'org-b']) {
    const approved = await concordRun(['plans', 'approve', planId, '--identity', join(dir, `${name}.owner.json`), '--member', name, ...conn]);
    assert.equal(approved.code, 0, approved.stdout + approved.stderr);
  }
  const started = await concordRun(['plans', 'start', planId, ...conn]);
  assert.equal(started.code, 0, started.stdout + started.stderr);
  const runId = json(started.stdout).runId as string;
  const run = await until(async () => {
    const { run: r } = await api<{ run: { status: string } }>(`/v1/runs/${runId}`);
    return r.status !== 'running' && r.status !== 'pending' ? r : undefined;
  }, 150_000, 'the run to end');
  assert.equal(run.status, 'completed');
  const { rounds } = await api<{ rounds: { round: number }[] }>(`/v1/runs/${runId}`);
  assert.equal(rounds.length, 1);
  const { entries } = await api<{ entries: { kind: string; actor: string }[] }>('/v1/audit');
  const approvals = entries.filter((e) => e.kind === 'plan.approved').map((e) => e.actor);
  assert.deepEqual(approvals, ['org-a', 'org-b']);

  coordinator.kill('SIGTERM');
  await exited(coordinator);
});
