// The cooperation agreement in force and plan approval over real HTTP: runs that break the
// agreement are refused naming each clause (and the refusal is audited), names outside it
// cannot enroll, amendments need the signatures the current version names, plans start
// only once approved per the agreement, and member nodes configured with their owner's key
// train on the approved plan.

import assert from 'node:assert/strict';
import { afterEach, describe, it } from 'node:test';
import { signAgreement, validateAgreement, type Agreement } from '../src/governance/agreement.js';
import type { AuditEntry } from '../src/governance/audit.js';
import { generateIdentity, type Identity } from '../src/governance/identity.js';
import { approvePlan, planHash, type PlanInput } from '../src/governance/plans.js';
import { withOwnerApproval } from '../src/node/approval-guard.js';
import { CoordinatorClient } from '../src/node/client.js';
import { ErrorCode } from '../src/protocol/errors.js';
import { RunConfigSchema, type TaskHeader } from '../src/protocol/messages.js';
import { makeParameters } from '../src/protocol/tensors.js';
import { OPERATOR, SPECS, addMember, plus, startHarness, waitForRun, type Harness } from './support/harness.js';
import { roundTrainConfig } from '../src/strategies/common.js';

let h: Harness | undefined;
afterEach(async () => {
  await h?.close();
  h = undefined;
});

const owners: Record<string, Identity> = { a: generateIdentity(), b: generateIdentity(), c: generateIdentity() };
const dataset = { name: 'synthetic', numExamples: 10, numHoldout: 10, inputShape: [2], classes: 2 };

function agreement(overrides: Record<string, unknown> = {}): Agreement {
  return validateAgreement({
    version: 1,
    consortium: 'test-consortium',
    members: ['a', 'b', 'c'].map((name) => ({ name, jurisdiction: 'DE', publicKey: owners[name]!.publicKey, datasets: [{ id: `data-${name}`, description: `${name}'s data` }] })),
    purposes: ['research'],
    allowedStrategies: ['fedavg'],
    allowedModelFamilies: ['mlp'],
    minContributors: 2,
    secureAggregation: 'optional',
    differentialPrivacy: { required: false },
    residency: { a: 'model-updates', b: 'model-updates', c: 'model-updates' },
    approvals: { plansNeed: 'all-data-owners' },
    amendments: { signaturesRequired: ['a', 'b'] },
    ...overrides,
  });
}

interface ErrorBody {
  error: { code: string; message: string; details: Record<string, unknown> };
}

async function api<T>(path: string, init: { body?: unknown; token?: string } = {}): Promise<{ status: number; body: T & ErrorBody }> {
  const res = await fetch(h!.url + path, {
    method: init.body === undefined ? 'GET' : 'POST',
    headers: { authorization: `Bearer ${init.token ?? OPERATOR}`, ...(init.body !== undefined ? { 'content-type': 'application/json' } : {}) },
    ...(init.body !== undefined ? { body: JSON.stringify(init.body) } : {}),
  });
  return { status: res.status, body: (await res.json()) as T & ErrorBody };
}

const auditLog = async () => (await api<{ entries: AuditEntry[] }>('/v1/audit')).body.entries;

const config = (overrides: Record<string, unknown> = {}) =>
  RunConfigSchema.parse({
    model: { family: 'mlp', inputShape: [2], hidden: [], classes: 2 },
    rounds: 1,
    minAvailableMembers: 2,
    minTrainMembers: 2,
    roundDeadlineSeconds: 5,
    purpose: 'research',
    ...overrides,
  });

/** The clauses a plain run breaks besides the one every plain run breaks (it needs an approved plan). */
const clauses = (body: ErrorBody) => {
  const all = (body.error.details.violations as { clause: string }[]).map((v) => v.clause);
  assert.equal(all[0], 'approvals.plansNeed', 'a run without a plan is refused under any agreement');
  return all.slice(1);
};

describe('the agreement in force', () => {
  it('refuses runs that break it, naming every violated clause, and audits the refusal', async () => {
    const dp = { level: 'client', noiseMultiplier: 1, clippingNorm: 1, budget: { epsilon: 1, delta: 1e-5 } };
    h = await startHarness({
      agreement: agreement({
        secureAggregation: 'required',
        differentialPrivacy: { required: true, budgets: { 'data-a': { epsilon: 8, delta: 1e-5 }, 'data-b': { epsilon: 8, delta: 1e-5 }, 'data-c': { epsilon: 8, delta: 1e-5 } } },
      }),
    });
    await new CoordinatorClient(h.url).enroll('a', dataset);
    await new CoordinatorClient(h.url).enroll('b', dataset);
    const good = { secureAggregation: true, differentialPrivacy: dp };

    const refused = async (overrides: Record<string, unknown>) => {
      const r = await api('/v1/runs', { body: config({ ...good, ...overrides }) });
      assert.equal(r.status, 403, JSON.stringify(r.body));
      assert.equal(r.body.error.code, ErrorCode.FORBIDDEN);
      return r.body;
    };
    assert.deepEqual(clauses(await refused({ strategy: { name: 'fedavgm' } })), ['allowedStrategies']);
    const few = await refused({ minTrainMembers: 1 });
    assert.deepEqual(clauses(few), ['minContributors']);
    assert.match(few.error.message, /minContributors: config.minTrainMembers is 1/);
    assert.deepEqual(clauses(await refused({ secureAggregation: false })), ['secureAggregation']);
    assert.deepEqual(clauses(await refused({ differentialPrivacy: undefined })), ['differentialPrivacy']);
    assert.deepEqual(clauses(await refused({ purpose: 'marketing' })), ['purposes']);
    // Over the dataset budget of 8.
    assert.deepEqual(clauses(await refused({ differentialPrivacy: { ...dp, budget: { epsilon: 9, delta: 1e-5 } } })), ['differentialPrivacy.budgets.data-a', 'differentialPrivacy.budgets.data-b']);

    const entries = (await auditLog()).filter((e) => e.kind === 'run.refused');
    assert.equal(entries.length, 6);
    assert.deepEqual((entries[0]!.data as { clauses: string[] }).clauses, ['approvals.plansNeed', 'allowedStrategies']);
    assert.match((entries[0]!.data as { violations: string[] }).violations[0]!, /^approvals\.plansNeed: runs need a training plan approved by the owners of every dataset it uses; submit one with "concord plans submit"/);
    assert.equal((await h.storage.listRuns()).length, 0);
  });

  it('refuses to enroll a name the agreement does not list', async () => {
    h = await startHarness({ agreement: agreement() });
    await assert.rejects(new CoordinatorClient(h.url).enroll('mallory', dataset), (error: { code: string; details: Record<string, unknown> }) => {
      assert.equal(error.code, ErrorCode.FORBIDDEN);
      assert.equal(error.details.reason, 'not-in-agreement');
      return true;
    });
    await new CoordinatorClient(h.url).enroll('a', dataset);
    const refusals = (await auditLog()).filter((e) => e.kind === 'enrollment.refused');
    assert.deepEqual(refusals.map((e) => e.subject), ['mallory']);
  });

  it('takes an amendment only with the signatures the current version requires', async () => {
    h = await startHarness({ agreement: agreement() });
    const next = { ...agreement(), version: 2, purposes: ['research', 'benchmarking'] };
    const onlyA = await api('/v1/agreement', { body: { agreement: next, signatures: [signAgreement(next, 'a', owners.a!)] } });
    assert.equal(onlyA.status, 403);
    assert.deepEqual(onlyA.body.error.details.missing, ['b']);
    assert.match(onlyA.body.error.message, /lacks valid signatures from: b/);
    // b's signature made with c's key does not count.
    const forged = await api('/v1/agreement', { body: { agreement: next, signatures: [signAgreement(next, 'a', owners.a!), signAgreement(next, 'b', owners.c!)] } });
    assert.equal(forged.status, 403);
    assert.deepEqual(forged.body.error.details.invalid, ['b']);

    const ok = await api<{ version: number; signers: string[] }>('/v1/agreement', { body: { agreement: next, signatures: [signAgreement(next, 'a', owners.a!), signAgreement(next, 'b', owners.b!)] } });
    assert.equal(ok.status, 200, JSON.stringify(ok.body));
    assert.deepEqual([ok.body.version, ok.body.signers], [2, ['a', 'b']]);
    const shown = await api<{ agreement: Agreement; history: { version: number; signers: string[] }[] }>('/v1/agreement');
    assert.equal(shown.body.agreement.version, 2);
    assert.deepEqual(shown.body.history.map((v) => [v.version, v.signers]), [[1, []], [2, ['a', 'b']]]);
    assert.deepEqual((await auditLog()).filter((e) => e.kind.startsWith('agreement.')).map((e) => e.kind), ['agreement.adopted', 'agreement.amendment-refused', 'agreement.amendment-refused', 'agreement.amended']);
  });
});

describe('training plans', () => {
  it('starts a plan only once every data owner approved it, and owner-keyed members train on it', async () => {
    h = await startHarness({ agreement: agreement() });
    const seen: TaskHeader[] = [];
    const guard = (member: string) => (handler: Parameters<typeof withOwnerApproval>[0]) => withOwnerApproval(handler, { ownerKey: owners[member]!.publicKey, member });
    const logA = addMember(h, 'a', 10, (g, task) => (seen.push(task), plus(1)(g)), guard('a'));
    const logB = addMember(h, 'b', 10, plus(3), guard('b'));
    const plan: PlanInput = { title: 'risk model', researcher: 'ana', purpose: 'research', datasets: ['data-a', 'data-b'], config: config(), createdAt: 1_700_000_000_000 };

    const submitted = await api<{ planId: string; planHash: string; status: { state: string } }>('/v1/plans', { body: plan });
    assert.equal(submitted.status, 200, JSON.stringify(submitted.body));
    assert.equal(submitted.body.planHash, planHash(plan));
    assert.equal(submitted.body.status.state, 'pending');
    const { planId } = submitted.body;

    const early = await api(`/v1/plans/${planId}/start`, { body: {} });
    assert.equal(early.status, 403);
    assert.deepEqual(early.body.error.details.waitingFor, ['a', 'b']);

    // A decision signed by the wrong owner is refused.
    const forged = await api(`/v1/plans/${planId}/approvals`, { body: approvePlan(plan, { member: 'b', identity: owners.c! }) });
    assert.equal(forged.status, 401);
    await api(`/v1/plans/${planId}/approvals`, { body: approvePlan(plan, { member: 'a', identity: owners.a! }) });
    const half = await api(`/v1/plans/${planId}/start`, { body: {} });
    assert.deepEqual(half.body.error.details.waitingFor, ['b']);
    assert.match(half.body.error.message, /still waiting for b \(1 of 2 approvals\)/);
    const both = await api<{ status: { state: string } }>(`/v1/plans/${planId}/approvals`, { body: approvePlan(plan, { member: 'b', identity: owners.b! }) });
    assert.equal(both.body.status.state, 'approved');

    const started = await api<{ runId: string }>(`/v1/plans/${planId}/start`, { body: {} });
    assert.equal(started.status, 200, JSON.stringify(started.body));
    assert.equal(await waitForRun(h, started.body.runId), 'completed');
    assert.ok(logA.accepted >= 1 && logB.accepted >= 1);
    assert.equal(seen[0]!.approval?.member, 'a');
    assert.equal(planHash(seen[0]!.plan as PlanInput), planHash(plan));
    // Both updates averaged with equal example counts: (0 + 1)·½ + (0 + 3)·½ = 2 everywhere.
    const model = (await h.storage.getCheckpoint(started.body.runId, 1))!.parameters;
    assert.deepEqual([...model.data], new Array(6).fill(2));
    const run = await h.storage.getRun(started.body.runId);
    assert.equal(run?.config.planId, planId);
    const kinds = (await auditLog()).map((e) => e.kind);
    assert.ok(['plan.submitted', 'plan.approval-refused', 'plan.approved', 'run.started'].every((k) => kinds.includes(k)), kinds.join(','));
  });

  it('a member with its owner key declines, over the wire, a forged approval and a plan changed after approval', async () => {
    h = await startHarness({ agreement: agreement() });
    const log = addMember(h, 'a', 10, plus(1), (handler) => withOwnerApproval(handler, { ownerKey: owners.a!.publicKey, member: 'a' }));
    while (h.coordinator.board.available().length === 0) await new Promise((r) => setTimeout(r, 20));
    const memberId = h.coordinator.board.available()[0]!.memberId;
    const plan: PlanInput = { title: 'risk model', researcher: 'ana', purpose: 'research', datasets: ['data-a', 'data-b'], config: config(), createdAt: 1 };
    const changed = { ...plan, config: config({ rounds: 50 }) };
    // What a lying coordinator would send: tasks the board delivers as they are.
    const lie = (p: PlanInput, approval: ReturnType<typeof approvePlan>) => ({
      memberId,
      kind: 'train' as const,
      runId: 'run_lie',
      round: 1,
      model: config().model,
      config: roundTrainConfig({ config: config(), serverRound: 1 }),
      parameters: makeParameters(SPECS),
      plan: p as Record<string, unknown>,
      approval,
    });
    const out = await h.coordinator.board.sendAndReceive(
      [lie(plan, approvePlan(plan, { member: 'a', identity: owners.c! })), lie(changed, approvePlan(plan, { member: 'a', identity: owners.a! }))],
      { deadline: Date.now() + 5000, signal: new AbortController().signal },
    );
    assert.equal(out.replies.length, 0);
    assert.equal(out.failures.length, 2);
    assert.match(out.failures.map((f) => f.reason).join('\n'), /not signed by this node's data owner/);
    assert.match(out.failures.map((f) => f.reason).join('\n'), /was the plan changed after approval/);
    assert.equal(log.accepted, 0);
  });
});
