// Secure aggregation with real member processes killed by SIGKILL at every stage: five member
// node processes (test/support/secure-member.ts) against a coordinator in this process. A
// member killed on receiving collectMaskedVectors (after sharing its keys) and one killed on
// receiving unmask (after masking) leave the survivors' exact aggregate; members killed at
// setup, at shareKeys and after masking leave too few shares, and the round fails naming the
// shortfall.

import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { after, afterEach, describe, it } from 'node:test';
import { quantizationErrorBound } from '../src/privacy/secagg/quantize.js';
import { makeParameters, type TensorSpec } from '../src/protocol/tensors.js';
import { FedAvg } from '../src/strategies/fedavg.js';
import { type SecureHarness, startSecureHarness, startSecureRun, waitForMembers, waitForRun } from './support/secure-harness.js';
import { type SecureMemberSettings, syntheticDelta } from './support/secure-member.js';

const SCRIPT = fileURLToPath(new URL('./support/secure-member.ts', import.meta.url));
const SPECS: TensorSpec[] = [{ name: 'dense/kernel', shape: [16, 16] }];
const P = 256;
const INITIAL = Float32Array.from({ length: P }, (_, i) => Math.sin(i) / 2);
const WEIGHTS = [10, 20, 30, 40, 50];

const children: ChildProcess[] = [];
let h: SecureHarness | undefined;

afterEach(async () => {
  for (const c of children.splice(0)) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
  await h?.close();
  h = undefined;
});
after(() => {
  for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
});

/** Five member processes; `fate[k]` says where member k kills itself. */
async function startMembers(url: string, fate: Partial<Pick<SecureMemberSettings, 'dieOn' | 'dieAfter'>>[]): Promise<Map<string, ChildProcess>> {
  const byName = new Map<string, ChildProcess>();
  WEIGHTS.forEach((numExamples, k) => {
    const settings: SecureMemberSettings = { url, name: `proc-${k}`, numExamples, seed: k + 1, ...fate[k] };
    const child = spawn(process.execPath, ['--import', 'tsx', SCRIPT], { stdio: ['ignore', 'ignore', 'pipe'], env: { ...process.env, CONCORD_SECURE_MEMBER: JSON.stringify(settings) } });
    children.push(child);
    byName.set(settings.name, child);
  });
  return byName;
}

const exitSignal = (child: ChildProcess): Promise<NodeJS.Signals | null> =>
  child.exitCode !== null || child.signalCode !== null ? Promise.resolve(child.signalCode) : new Promise((resolve) => child.once('exit', (_code, signal) => resolve(signal)));

describe('secure aggregation with member processes killed at each stage', () => {
  it('killed at collectMaskedVectors and at unmask: the round completes with the survivors’ aggregate', { timeout: 60_000 }, async () => {
    h = await startSecureHarness({ specs: SPECS, initial: INITIAL });
    const procs = await startMembers(h.url, [{}, { dieOn: 'collectMaskedVectors' }, { dieOn: 'unmask' }, {}, {}]);
    await waitForMembers(h, 5, 45_000);
    const runId = await startSecureRun(h, { minAvailableMembers: 5, minTrainMembers: 3, maxRoundAttempts: 1, roundDeadlineSeconds: 30 });
    assert.equal(await waitForRun(h, runId, 45_000), 'completed', (await h.storage.getRun(runId))?.error ?? '');
    assert.equal(await exitSignal(procs.get('proc-1')!), 'SIGKILL');
    assert.equal(await exitSignal(procs.get('proc-2')!), 'SIGKILL');

    const names = new Map((await h.storage.listMembers()).map((m) => [m.memberId, m.name]));
    const [round] = await h.storage.listRounds(runId);
    // proc-2 sent its masked vector before dying: it is in the sum, its self-mask rebuilt from shares.
    assert.deepEqual(round!.participants.map((id) => names.get(id)).sort(), ['proc-0', 'proc-2', 'proc-3', 'proc-4']);
    assert.deepEqual(round!.failures.map((f) => names.get(f.memberId)), ['proc-1']);
    assert.match(round!.failures[0]!.reason, /^secure aggregation collectMaskedVectors: went silent while working/);

    const global = makeParameters(SPECS, INITIAL);
    const survivors = [0, 2, 3, 4];
    const results = survivors.map((k) => {
      const delta = syntheticDelta(k + 1, P);
      return { memberId: `proc-${k}`, parameters: makeParameters(SPECS, INITIAL.map((v, i) => v + delta[i]!)), numExamples: WEIGHTS[k]!, metrics: {} };
    });
    const expected = new FedAvg().aggregateTrain(1, global, results, [])!.parameters.data;
    const bound = quantizationErrorBound({ members: 5, clippingRange: 8, bits: 29, maxWeight: 50, totalWeight: 10 + 30 + 40 + 50 });
    const secure = (await h.storage.getCheckpoint(runId, 1))!.parameters.data;
    for (let i = 0; i < P; i++) {
      assert.ok(Math.abs(secure[i]! - expected[i]!) <= bound + 2 ** -22 * Math.abs(expected[i]!), `coordinate ${i}: ${secure[i]} vs ${expected[i]}`);
    }
  });

  it('killed at setup, at shareKeys and after masking: the round fails naming the shortfall', { timeout: 60_000 }, async () => {
    h = await startSecureHarness({ specs: SPECS, initial: INITIAL });
    const procs = await startMembers(h.url, [{}, { dieOn: 'setup' }, { dieOn: 'shareKeys' }, { dieAfter: 'collectMaskedVectors' }, {}]);
    await waitForMembers(h, 5, 45_000);
    const runId = await startSecureRun(h, { minAvailableMembers: 5, minTrainMembers: 3, maxRoundAttempts: 1, roundDeadlineSeconds: 30 });
    assert.equal(await waitForRun(h, runId, 45_000), 'failed');
    for (const k of [1, 2, 3]) assert.equal(await exitSignal(procs.get(`proc-${k}`)!), 'SIGKILL');

    // k = 4, t = 3. Three members mask (proc-0, proc-3, proc-4); proc-3 dies before unmask, so each
    // self-mask has only two holders left to answer.
    const run = await h.storage.getRun(runId);
    assert.match(run!.error!, /^round 1 failed 1 times; last: secure aggregation failed after unmask: member \S+'s self-mask needs 3 shares, only 2 survivors hold one \(and 2 more secrets short\); the round cannot be unmasked/);
    const names = new Map((await h.storage.listMembers()).map((m) => [m.memberId, m.name]));
    for (const [name, stage] of [['proc-1', 'setup'], ['proc-2', 'shareKeys'], ['proc-3', 'unmask']]) {
      const id = [...names].find(([, n]) => n === name)![0];
      assert.match(run!.error!, new RegExp(`${id}: secure aggregation ${stage}: `), `${name} is named as dropped at ${stage}`);
    }
    assert.deepEqual(await h.storage.listRounds(runId), []);
  });
});
