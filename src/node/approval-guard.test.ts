import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { generateIdentity } from '../governance/identity.js';
import { approvePlan, type PlanInput } from '../governance/plans.js';
import { ErrorCode, isConcordError } from '../protocol/errors.js';
import { RunConfigSchema, type TaskHeader } from '../protocol/messages.js';
import { makeParameters } from '../protocol/tensors.js';
import { withOwnerApproval } from './approval-guard.js';
import type { TaskHandler } from './member.js';

const owner = generateIdentity();
const other = generateIdentity();
const config = RunConfigSchema.parse({ model: { family: 'mlp', inputShape: [2], hidden: [], classes: 2 }, rounds: 1 });
const plan: PlanInput = { title: 'p', researcher: 'r', purpose: 'research', datasets: ['d'], config, createdAt: 1 };
const global = makeParameters([{ name: 'w', shape: [1] }]);

function guarded() {
  const trained: TaskHeader[] = [];
  const inner: TaskHandler = {
    async train(task, g) {
      trained.push(task);
      return { parameters: g, numExamples: 1, metrics: { loss: 0 } };
    },
    async evaluate() {
      return { numExamples: 1, metrics: { loss: 0 } };
    },
  };
  return { trained, handler: withOwnerApproval(inner, { ownerKey: owner.publicKey, member: 'a' }) };
}

function task(extra: Partial<TaskHeader>): TaskHeader {
  return { protocolVersion: 1, taskId: 't', kind: 'train', runId: 'r', round: 1, deadline: 0, model: config.model, config: config.train, ...extra };
}

async function declines(extra: Partial<TaskHeader>, reason: string): Promise<void> {
  const { trained, handler } = guarded();
  await assert.rejects(handler.train(task(extra), global), (error) => {
    assert.ok(isConcordError(error));
    assert.equal(error.code, ErrorCode.FORBIDDEN);
    assert.equal(error.details.reason, reason, error.message);
    return true;
  });
  assert.equal(trained.length, 0);
}

describe('withOwnerApproval', () => {
  it('trains on a plan its own owner approved for this member', async () => {
    const { trained, handler } = guarded();
    await handler.train(task({ plan: plan as Record<string, unknown>, approval: approvePlan(plan, { member: 'a', identity: owner }) }), global);
    assert.equal(trained.length, 1);
  });

  it('declines a task without a plan, without an approval, with a forged one, for a changed plan, for another member or a rejection', async () => {
    await declines({}, 'missing-plan');
    await declines({ plan: plan as Record<string, unknown> }, 'missing');
    await declines({ plan: plan as Record<string, unknown>, approval: approvePlan(plan, { member: 'a', identity: other }) }, 'bad-signature');
    const changed = { ...plan, purpose: 'something else' };
    await declines({ plan: changed as Record<string, unknown>, approval: approvePlan(plan, { member: 'a', identity: owner }) }, 'other-plan');
    await declines({ plan: plan as Record<string, unknown>, approval: approvePlan(plan, { member: 'b', identity: owner }) }, 'other-member');
    await declines({ plan: plan as Record<string, unknown>, approval: approvePlan(plan, { member: 'a', identity: owner }, { decision: 'reject' }) }, 'rejected');
    await declines({ plan: { title: 1 } }, 'invalid-plan');
  });

  it('refuses a malformed owner key at start', () => {
    assert.throws(() => withOwnerApproval(guarded().handler, { ownerKey: 'not-a-key', member: 'a' }), (e) => isConcordError(e) && e.details.field === '--owner-key');
  });
});
