import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { ErrorCode, type ConcordError } from '../protocol/errors.js';
import { validateAgreement, type Agreement } from './agreement.js';
import { generateIdentity } from './identity.js';
import { approvePlan, assertApprovedLocally, checkPlan, parsePlan, planHash, planStatus, verifyApproval, type PlanInput } from './plans.js';

const owners = { a: generateIdentity(), b: generateIdentity(), c: generateIdentity() };
const T0 = 1_700_000_000_000;

function agreement(plansNeed: 'all-data-owners' | number = 'all-data-owners'): Agreement {
  return validateAgreement({
    version: 1,
    consortium: 'demo',
    members: [
      { name: 'hospital-a', jurisdiction: 'DE', publicKey: owners.a.publicKey, datasets: [{ id: 'ward-a', description: 'a' }] },
      { name: 'hospital-b', jurisdiction: 'FR', publicKey: owners.b.publicKey, datasets: [{ id: 'ward-b', description: 'b' }] },
      { name: 'lab-c', jurisdiction: 'US', publicKey: owners.c.publicKey, datasets: [{ id: 'cohort-c', description: 'c' }] },
    ],
    purposes: ['risk'],
    allowedStrategies: ['fedavg'],
    allowedModelFamilies: ['mlp'],
    minContributors: 2,
    secureAggregation: 'optional',
    differentialPrivacy: { required: false, budgets: { 'ward-a': { epsilon: 1, delta: 1e-5 } } },
    residency: { 'hospital-a': 'model-updates', 'hospital-b': 'model-updates', 'lab-c': 'model-updates' },
    approvals: { plansNeed },
    amendments: { signaturesRequired: 'all' },
  });
}

const planInput: PlanInput = {
  title: 'Cardiac risk MLP',
  researcher: 'dr-lee',
  purpose: 'risk',
  datasets: ['ward-a', 'ward-b'],
  config: { model: { family: 'mlp', inputShape: [4], classes: 2 }, rounds: 5 },
  privacy: { secureAggregation: false, differentialPrivacy: { epsilon: 0.5, delta: 1e-6 } },
  createdAt: T0,
};
const plan = parsePlan(planInput);
const byA = { member: 'hospital-a', identity: owners.a };
const byB = { member: 'hospital-b', identity: owners.b };
const byC = { member: 'lab-c', identity: owners.c };

describe('plans', () => {
  it('hashes the normalized plan, so spelled-out defaults do not change it', () => {
    assert.match(planHash(plan), /^[0-9a-f]{64}$/);
    assert.equal(planHash(planInput), planHash(plan));
    assert.notEqual(planHash({ ...planInput, config: { ...planInput.config, rounds: 6 } }), planHash(plan));
    assert.throws(() => parsePlan({ ...planInput, datasets: [] }), (e: ConcordError) => e.code === ErrorCode.INVALID_ARGUMENT && e.details.field === 'datasets');
  });

  it('signs approvals that verify only for this plan and this owner', () => {
    const approval = approvePlan(plan, byA, { now: T0 + 1 });
    assert.deepEqual({ ...approval, signature: '' }, { planHash: planHash(plan), member: 'hospital-a', decision: 'approve', reason: null, at: T0 + 1, signature: '' });
    assert.equal(verifyApproval(plan, approval, owners.a.publicKey), true);
    assert.equal(verifyApproval(plan, approval, owners.b.publicKey), false);
    assert.equal(verifyApproval({ ...planInput, config: { ...planInput.config, rounds: 1 } }, approval, owners.a.publicKey), false);
    assert.equal(verifyApproval(plan, { ...approval, decision: 'reject' }, owners.a.publicKey), false);
  });

  it('is approved under all-data-owners only when every owner of a used dataset approves', () => {
    const rule = agreement();
    const a = approvePlan(plan, byA, { now: T0 });
    let status = planStatus(plan, [a], rule);
    assert.equal(status.state, 'pending');
    assert.deepEqual(status.waitingFor, ['hospital-b']);
    assert.equal(status.needed, 2);
    status = planStatus(plan, [a, approvePlan(plan, byB, { now: T0 })], rule);
    assert.equal(status.state, 'approved');
    assert.deepEqual(status.approvedBy, ['hospital-a', 'hospital-b']);
  });

  it('is rejected when an owner rejects; a later decision replaces an earlier one', () => {
    const rule = agreement();
    const rejection = approvePlan(plan, byB, { decision: 'reject', reason: 'too many rounds', now: T0 });
    const status = planStatus(plan, [approvePlan(plan, byA, { now: T0 }), rejection], rule);
    assert.equal(status.state, 'rejected');
    assert.deepEqual(status.rejectedBy, [{ member: 'hospital-b', reason: 'too many rounds' }]);
    const changedMind = approvePlan(plan, byB, { now: T0 + 10 });
    assert.equal(planStatus(plan, [approvePlan(plan, byA, { now: T0 }), rejection, changedMind], rule).state, 'approved');
  });

  it('counts approvals under a numeric rule and ignores forged, foreign and non-owners\' ones', () => {
    const rule = agreement(2);
    const forged = { ...approvePlan(plan, byC, { now: T0 }), member: 'hospital-b' };
    const other = approvePlan({ ...planInput, title: 'other' }, byB, { now: T0 });
    let status = planStatus(plan, [approvePlan(plan, byA, { now: T0 }), forged, other, approvePlan(plan, byC, { now: T0 })], rule);
    assert.equal(status.state, 'pending');
    assert.deepEqual(status.approvedBy, ['hospital-a']);
    assert.deepEqual(status.ignored.map((i) => i.member), ['hospital-b', 'hospital-b', 'lab-c']);
    assert.match(status.ignored[0]!.reason, /signature does not verify/);
    assert.match(status.ignored[1]!.reason, /another plan/);
    // lab-c owns neither ward-a nor ward-b: its approval is not one of the two the plan needs.
    assert.match(status.ignored[2]!.reason, /owns none of the datasets the plan uses/);
    status = planStatus(plan, [approvePlan(plan, byB, { now: T0 }), approvePlan(plan, byA, { now: T0 })], rule);
    assert.equal(status.state, 'approved');
    assert.deepEqual([status.approvedBy.length, status.needed], [2, 2]);
  });

  it('is checked against the agreement like a run', () => {
    assert.deepEqual(checkPlan(plan, agreement()), []);
    const greedy = parsePlan({ ...planInput, purpose: 'ads', datasets: ['ward-a'], privacy: { differentialPrivacy: { epsilon: 3, delta: 1e-6 } } });
    assert.deepEqual(checkPlan(greedy, agreement()).map((v) => v.clause), ['purposes', 'minContributors', 'differentialPrivacy.budgets.ward-a']);
  });
});

describe('assertApprovedLocally', () => {
  it('passes only for this plan, approved and signed by the node\'s own owner', () => {
    assertApprovedLocally(plan, approvePlan(plan, byA, { now: T0 }), owners.a.publicKey, { member: 'hospital-a' });
    const reason = (r: string) => (e: ConcordError) => e.code === ErrorCode.FORBIDDEN && e.details.reason === r;
    assert.throws(() => assertApprovedLocally(plan, undefined, owners.a.publicKey), reason('missing'));
    // The coordinator relays B's valid approval to A's node: A's node does not accept it.
    assert.throws(() => assertApprovedLocally(plan, approvePlan(plan, byB, { now: T0 }), owners.a.publicKey), reason('bad-signature'));
    assert.throws(() => assertApprovedLocally(plan, approvePlan(plan, byA, { now: T0 }), owners.a.publicKey, { member: 'lab-c' }), reason('other-member'));
    const changed = { ...planInput, config: { ...planInput.config, rounds: 500 } };
    assert.throws(() => assertApprovedLocally(changed, approvePlan(plan, byA, { now: T0 }), owners.a.publicKey), reason('other-plan'));
    assert.throws(
      () => assertApprovedLocally(plan, approvePlan(plan, byA, { decision: 'reject', reason: 'no', now: T0 }), owners.a.publicKey),
      (e: ConcordError) => reason('rejected')(e) && e.message.endsWith(': no'),
    );
  });
});
