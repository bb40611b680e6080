import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { validateAgreement, type Agreement } from '../governance/agreement.js';
import { generateIdentity } from '../governance/identity.js';
import { approvalSigningBytes } from '../governance/approval-bytes.js';
import { sign } from '../governance/identity.js';
import { approveQuery, queryApprovalStatus, queryHash, queriesNeed } from './approval.js';
import { parseQuery } from './query.js';

const owners = { a: generateIdentity(), b: generateIdentity(), c: generateIdentity() };

function agreement(approvals: Record<string, unknown>, analytics?: Record<string, unknown>): Agreement {
  return validateAgreement({
    version: 1,
    consortium: 'approval-test',
    members: Object.entries(owners).map(([name, o]) => ({ name, jurisdiction: 'DE', publicKey: o.publicKey, datasets: [{ id: `${name}-data`, description: 'records' }] })),
    purposes: ['research'],
    allowedStrategies: ['fedavg'],
    allowedModelFamilies: ['mlp'],
    minContributors: 1,
    secureAggregation: 'optional',
    differentialPrivacy: { required: false },
    residency: { a: 'model-updates', b: 'model-updates', c: 'model-updates' },
    approvals,
    amendments: { signaturesRequired: 'all' },
    ...(analytics ? { analytics } : {}),
  });
}

const query = parseQuery({ type: 'mean', field: 'glucose' });
const approve = (name: keyof typeof owners, options: { decision?: 'approve' | 'reject'; now?: number; q?: unknown } = {}) => approveQuery(options.q ?? query, { member: name, identity: owners[name] }, options);

describe('query approvals', () => {
  it('hash the normalized query: defaults spelled out or not, the same hash; any change, another', () => {
    assert.equal(queryHash({ type: 'mean', field: 'glucose' }), queryHash({ type: 'mean', field: 'glucose', secureAggregation: true }));
    assert.notEqual(queryHash({ type: 'mean', field: 'glucose' }), queryHash({ type: 'mean', field: 'glucose', minCount: 20 }));
    assert.throws(() => queryHash({ type: 'mean', feild: 'glucose' }), /feild/);
  });

  it('default to the agreement\'s rule for plans, and follow analytics.queriesNeed where it is set', () => {
    assert.equal(queriesNeed(agreement({ plansNeed: 'all-data-owners' })), 'all-data-owners');
    assert.equal(queriesNeed(agreement({ plansNeed: 'all-data-owners' }, { queriesNeed: 2 })), 2);
    assert.equal(queriesNeed(agreement({ plansNeed: 2 }, { queriesNeed: 'none' })), 'none');
    assert.throws(() => agreement({ plansNeed: 1 }, { queriesNeed: 'some' }), /analytics\.queriesNeed.*expected "none", "all-data-owners" or a number/);
  });

  it('under all-data-owners: pending until every member holding the data approved; a rejection rejects', () => {
    const rules = agreement({ plansNeed: 'all-data-owners' });
    const none = queryApprovalStatus(query, [], rules, ['a', 'b', 'c']);
    assert.equal(none.state, 'pending');
    assert.deepEqual(none.waitingFor, ['a', 'b', 'c']);
    const two = queryApprovalStatus(query, [approve('a'), approve('b')], rules, ['a', 'b', 'c']);
    assert.deepEqual([two.state, two.approvedBy, two.waitingFor], ['pending', ['a', 'b'], ['c']]);
    assert.equal(queryApprovalStatus(query, [approve('a'), approve('b'), approve('c')], rules, ['a', 'b', 'c']).state, 'approved');
    // Only members who would contribute decide: with c offline, a and b suffice.
    assert.equal(queryApprovalStatus(query, [approve('a'), approve('b')], rules, ['a', 'b']).state, 'approved');
    const rejected = queryApprovalStatus(query, [approve('a'), approve('b'), approve('c', { decision: 'reject' })], rules, ['a', 'b', 'c']);
    assert.equal(rejected.state, 'rejected');
    assert.deepEqual(rejected.rejectedBy.map((r) => r.member), ['c']);
  });

  it('under a number: enough approvals suffice, and only the approving members contribute', () => {
    const status = queryApprovalStatus(query, [approve('a'), approve('c')], agreement({ plansNeed: 1 }, { queriesNeed: 2 }), ['a', 'b', 'c']);
    assert.equal(status.state, 'approved');
    assert.deepEqual(status.approvedBy, ['a', 'c']);
  });

  it('ignore forged, foreign, other-query and plan-domain signatures, saying why', () => {
    const rules = agreement({ plansNeed: 'all-data-owners' });
    const forged = approveQuery(query, { member: 'a', identity: owners.b });
    const otherQuery = approve('b', { q: { type: 'mean', field: 'age' } });
    // The same five fields signed as a plan approval are not a query approval (separate signing domains).
    const unsigned = { planHash: queryHash(query), member: 'c', decision: 'approve' as const, reason: null, at: 1 };
    const planDomain = { queryHash: unsigned.planHash, member: 'c', decision: 'approve' as const, reason: null, at: 1, signature: sign(owners.c.privateKey, approvalSigningBytes(unsigned)) };
    const outsider = { ...approve('a'), member: 'z' };
    const status = queryApprovalStatus(query, [forged, otherQuery, planDomain, outsider], rules, ['a', 'b', 'c']);
    assert.equal(status.state, 'pending');
    assert.deepEqual(status.approvedBy, []);
    assert.deepEqual(
      status.ignored.map((i) => `${i.member}: ${i.reason}`),
      ['a: signature does not verify with the key in the agreement', `b: approval is for another query (${queryHash({ type: 'mean', field: 'age' }).slice(0, 12)}…)`, 'c: signature does not verify with the key in the agreement', 'z: not a member of the agreement'],
    );
  });

  it("need nothing under 'none': every member holding the data may contribute", () => {
    const status = queryApprovalStatus(query, [], agreement({ plansNeed: 1 }, { queriesNeed: 'none' }), ['b', 'a']);
    assert.deepEqual([status.state, status.approvedBy], ['approved', ['a', 'b']]);
  });
});
