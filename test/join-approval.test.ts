// The browser member's plan-approval check (web/src/join/approval.ts, WebCrypto) against the
// Node member's (src/node/approval-guard.ts, node:crypto): approvals made by the governance
// code are accepted by both, and every bad case is refused by both with the same reason and
// the same words.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { generateIdentity, type Identity } from '../src/governance/identity.js';
import { approvePlan, type PlanInput } from '../src/governance/plans.js';
import { assertTaskApproved } from '../src/node/approval-guard.js';
import { ErrorCode, isConcordError, type ConcordError } from '../src/protocol/errors.js';
import { RunConfigSchema, type TaskHeader } from '../src/protocol/messages.js';
import { ownerKeyBytes, verifyTaskApproval } from '../web/src/join/approval.js';

const owner = generateIdentity();
const stranger = generateIdentity();
const MEMBER = 'browser-lab';
const config = RunConfigSchema.parse({ model: { family: 'mlp', inputShape: [784], hidden: [32], classes: 10 }, rounds: 3 });
const plan: PlanInput = {
  title: 'digits',
  researcher: 'dr-who',
  purpose: 'handwriting research',
  datasets: ['lab-digits'],
  config,
  privacy: { secureAggregation: true },
  createdAt: 1_700_000_000_000,
};

function task(extra: Partial<TaskHeader>): TaskHeader {
  return { protocolVersion: 1, taskId: 't1', kind: 'train', runId: 'run_1', round: 1, deadline: 0, model: config.model, config: config.train, ...extra };
}

const approval = (by: Identity, options: { member?: string; decision?: 'approve' | 'reject'; reason?: string } = {}) =>
  approvePlan(plan, { member: options.member ?? MEMBER, identity: by }, { decision: options.decision ?? 'approve', ...(options.reason ? { reason: options.reason } : {}), now: 1_700_000_100_000 });

type Verdict = { accepted: true } | { accepted: false; error: ConcordError };

async function browserVerdict(t: TaskHeader, ownerKey = owner.publicKey, member = MEMBER): Promise<Verdict> {
  try {
    await verifyTaskApproval(t, ownerKey, member);
    return { accepted: true };
  } catch (error) {
    assert.ok(isConcordError(error), `the browser check throws a ConcordError, not ${String(error)}`);
    return { accepted: false, error };
  }
}

function nodeVerdict(t: TaskHeader, ownerKey = owner.publicKey, member = MEMBER): Verdict {
  try {
    assertTaskApproved(t, { ownerKey, member });
    return { accepted: true };
  } catch (error) {
    assert.ok(isConcordError(error));
    return { accepted: false, error };
  }
}

/** Both refuse, with FORBIDDEN, `reason`, a message matching `words`, and the same message. */
async function bothRefuse(t: TaskHeader, reason: string, words: RegExp): Promise<void> {
  const browser = await browserVerdict(t);
  const node = nodeVerdict(t);
  assert.equal(browser.accepted, false, `the browser refuses (${reason})`);
  assert.equal(node.accepted, false, `the Node guard refuses (${reason})`);
  if (browser.accepted || node.accepted) return;
  assert.equal(browser.error.code, ErrorCode.FORBIDDEN);
  assert.equal(browser.error.details.reason, reason, browser.error.message);
  assert.match(browser.error.message, words);
  assert.equal(node.error.code, ErrorCode.FORBIDDEN);
  assert.equal(node.error.details.reason, reason);
  assert.equal(browser.error.message, node.error.message, 'the same words as the Node member');
  assert.deepEqual(browser.error.details.expected, node.error.details.expected, 'the same plan hash');
}

describe('verifyTaskApproval (browser, WebCrypto) agrees with the Node approval guard', () => {
  it('accepts a plan approved by the owner for this member, as the Node guard does', async () => {
    const t = task({ plan: plan as Record<string, unknown>, approval: approval(owner) });
    assert.deepEqual(await browserVerdict(t), { accepted: true });
    assert.deepEqual(nodeVerdict(t), { accepted: true });
    // A plan spelled with its defaults filled in hashes the same, here as in Node.
    const spelledOut = { ...plan, privacy: { secureAggregation: true, differentialPrivacy: null } };
    const t2 = task({ kind: 'secagg', plan: spelledOut as Record<string, unknown>, approval: approval(owner) });
    assert.deepEqual(await browserVerdict(t2), { accepted: true });
    assert.deepEqual(nodeVerdict(t2), { accepted: true });
  });

  it('refuses a task without a plan', async () => {
    await bothRefuse(task({ approval: approval(owner) }), 'missing-plan', /the task carries no plan/);
  });

  it('refuses a plan without an approval', async () => {
    await bothRefuse(task({ plan: plan as Record<string, unknown> }), 'missing', /has no approval from this node's data owner/);
  });

  it('refuses an approval signed by another key', async () => {
    await bothRefuse(task({ plan: plan as Record<string, unknown>, approval: approval(stranger) }), 'bad-signature', /not signed by this node's data owner \(key [0-9a-f]{16}\)/);
    // A signature by the owner, with a field changed afterwards, fails the same way.
    const tampered = { ...approval(owner), at: 1_700_000_200_000 };
    await bothRefuse(task({ plan: plan as Record<string, unknown>, approval: tampered }), 'bad-signature', /not signed by this node's data owner/);
    const garbled = { ...approval(owner), signature: 'A'.repeat(85) };
    await bothRefuse(task({ plan: plan as Record<string, unknown>, approval: garbled }), 'bad-signature', /not signed/);
  });

  it('refuses an approval given for another member', async () => {
    await bothRefuse(task({ plan: plan as Record<string, unknown>, approval: approval(owner, { member: 'south-hospital' }) }), 'other-member', /given for member south-hospital, not for this node \(browser-lab\)/);
  });

  it("refuses the owner's rejection, with its reason", async () => {
    await bothRefuse(task({ plan: plan as Record<string, unknown>, approval: approval(owner, { decision: 'reject', reason: 'too many rounds' }) }), 'rejected', /rejected plan [0-9a-f]{12}…: too many rounds$/);
  });

  it('refuses a plan changed after approval', async () => {
    const changed = { ...plan, config: { ...config, rounds: 300 } };
    await bothRefuse(task({ plan: changed as Record<string, unknown>, approval: approval(owner) }), 'other-plan', /was the plan changed after approval\?/);
  });

  it('refuses a plan that is not a plan', async () => {
    const t = task({ plan: { title: 'p' }, approval: approval(owner) });
    const browser = await browserVerdict(t);
    const node = nodeVerdict(t);
    assert.ok(!browser.accepted && !node.accepted);
    assert.equal(browser.error.details.reason, 'invalid-plan');
    assert.equal(node.error.details.reason, 'invalid-plan');
    assert.equal(browser.error.message, node.error.message);
  });

  it('refuses a malformed approval the page received without a schema check', async () => {
    const t = task({ plan: plan as Record<string, unknown>, approval: { ...approval(owner), at: 'yesterday' } as unknown as TaskHeader['approval'] });
    const browser = await browserVerdict(t);
    assert.ok(!browser.accepted);
    assert.equal(browser.error.code, ErrorCode.FORBIDDEN);
    assert.equal(browser.error.details.reason, 'invalid-approval');
    assert.match(browser.error.message, /approval is malformed: at: /);
  });

  it("says when the owner key itself is not a key", async () => {
    await assert.rejects(verifyTaskApproval(task({ plan: plan as Record<string, unknown>, approval: approval(owner) }), 'not-a-key', MEMBER), (e) => isConcordError(e) && e.code === ErrorCode.INVALID_ARGUMENT && e.details.field === 'ownerKey');
    assert.equal(ownerKeyBytes(owner.publicKey).length, 32);
    // 43 characters whose last two bits are not zero spell no 32-byte key, as in identity.ts.
    assert.throws(() => ownerKeyBytes(owner.publicKey.slice(0, 42) + 'B'), /43 characters/);
  });
});
