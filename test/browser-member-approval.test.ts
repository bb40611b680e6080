// The browser member with its data owner's key (the page's "Data owner's public key"): in
// a consortium under an agreement it declines a run that carries no plan, and trains — in a
// secure-aggregation round, on every stage of which it checks the owner's signature — only
// in the run started from a plan the owner approved. The key comes from the page, never from
// the coordinator, so the check holds against a coordinator that lies (web/src/join/approval.ts;
// its refusals are compared with the Node guard's one by one in join-approval.test.ts).
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { type Browser, type Page } from 'playwright-core';
import { launchChromium, buildWebPages, TWO_FEATURE_SPECS, secureNodeMember } from './support/browser.js';
import { validateAgreement } from '../src/governance/agreement.js';
import { generateIdentity, type Identity } from '../src/governance/identity.js';
import { approvePlan, type PlanInput } from '../src/governance/plans.js';
import { RunConfigSchema } from '../src/protocol/messages.js';
import { makeParameters } from '../src/protocol/tensors.js';
import { OPERATOR, startHarness, waitForRun, type Harness } from './support/harness.js';

const SPECS = TWO_FEATURE_SPECS;
const NAMES = ['north', 'south', 'browser-lab'] as const;
const owners: Record<string, Identity> = Object.fromEntries(NAMES.map((n) => [n, generateIdentity()]));

let h: Harness;
let browser: Browser;
let page: Page;
let memberId: string;

async function api<T>(path: string, body: unknown): Promise<T> {
  const res = await fetch(h.url + path, { method: 'POST', headers: { authorization: `Bearer ${OPERATOR}`, 'content-type': 'application/json' }, body: JSON.stringify(body) });
  const json = (await res.json()) as T;
  assert.equal(res.status, 200, `${path}: ${JSON.stringify(json)}`);
  return json;
}

before(async () => {
  buildWebPages();
  h = await startHarness({
    openEnrollment: true,
    initialParameters: async () => makeParameters(SPECS),
    agreement: validateAgreement({
      version: 1,
      consortium: 'lakeside',
      members: NAMES.map((name) => ({ name, jurisdiction: 'CH', publicKey: owners[name]!.publicKey, datasets: [{ id: `data-${name}`, description: `${name}'s records` }] })),
      purposes: ['research'],
      allowedStrategies: ['fedavg'],
      allowedModelFamilies: ['mlp'],
      minContributors: 2,
      secureAggregation: 'optional',
      differentialPrivacy: { required: false },
      residency: Object.fromEntries(NAMES.map((n) => [n, 'model-updates'])),
      approvals: { plansNeed: 'all-data-owners' },
      amendments: { signaturesRequired: ['north'] },
    }),
  });
  secureNodeMember(h, 'north', 100, 0.1);
  secureNodeMember(h, 'south', 200, 0.2);
  browser = await launchChromium();
  page = await browser.newPage();
  await page.goto(`${h.url}/join?shard=blobs`);
  await page.getByTestId('demo-shard').click();
  await page.getByTestId('member-name').fill('browser-lab');
  await page.getByTestId('owner-key').fill(owners['browser-lab']!.publicKey);
  await page.getByTestId('join').click();
  memberId = (await page.getByTestId('member-id').textContent({ timeout: 15_000 }))!;
});

after(async () => {
  await browser?.close();
  await h?.close();
});

test('the page refuses a malformed owner key before enrolling', async () => {
  const other = await browser.newPage();
  try {
    await other.goto(`${h.url}/join?shard=blobs`);
    await other.getByTestId('demo-shard').click();
    await other.getByTestId('owner-key').fill('not-a-key');
    await other.getByTestId('join').click();
    assert.match((await other.getByRole('alert').textContent({ timeout: 5_000 }))!, /public key must be a raw Ed25519 public key in base64url, 43 characters/);
    assert.equal(await other.getByTestId('member-id').count(), 0, 'nothing was enrolled');
  } finally {
    await other.close();
  }
});

test('with its owner key set, the browser member declines a run without an approved plan', async () => {
  // This coordinator refuses such a run (the agreement needs approved plans); a coordinator
  // that does not check is played by storing the run directly and driving it.
  const config = RunConfigSchema.parse({ model: { family: 'mlp', inputShape: [2], hidden: [], classes: 2 }, name: 'no-plan', rounds: 1, purpose: 'research', minAvailableMembers: 3, minTrainMembers: 2, fractionEvaluate: 0, minEvaluateMembers: 0, roundDeadlineSeconds: 30 });
  const refused = await fetch(`${h.url}/v1/runs`, { method: 'POST', headers: { authorization: `Bearer ${OPERATOR}`, 'content-type': 'application/json' }, body: JSON.stringify(config) });
  assert.equal(refused.status, 403);
  assert.match(((await refused.json()) as { error: { message: string } }).error.message, /approvals\.plansNeed: runs need a training plan/);
  const run = await h.storage.createRun(config, makeParameters(SPECS));
  h.coordinator.startRun(run);
  const runId = run.runId;
  assert.equal(await waitForRun(h, runId, 60_000), 'completed');
  const [round] = await h.storage.listRounds(runId);
  assert.ok(!round!.participants.includes(memberId), 'the browser did not train');
  assert.equal(round!.participants.length, 2);
  await page.getByText(/declined: this node trains only on training plans its data owner approved; the task carries no plan/).first().waitFor({ timeout: 10_000 });
});

test('it trains in a secure round started from a plan its owner approved', async () => {
  const plan: PlanInput = {
    title: 'two-blob classifier',
    researcher: 'ana',
    purpose: 'research',
    datasets: NAMES.map((n) => `data-${n}`),
    privacy: { secureAggregation: true },
    config: RunConfigSchema.parse({
      model: { family: 'mlp', inputShape: [2], hidden: [], classes: 2 },
      rounds: 1,
      minAvailableMembers: 3,
      minTrainMembers: 3,
      fractionEvaluate: 0,
      minEvaluateMembers: 0,
      roundDeadlineSeconds: 30,
      train: { epochs: 1, batchSize: 32, learningRate: 0.5 },
      purpose: 'research',
    }),
    createdAt: Date.now(),
  };
  const { planId } = await api<{ planId: string }>('/v1/plans', plan);
  for (const name of NAMES) await api(`/v1/plans/${planId}/approvals`, approvePlan(plan, { member: name, identity: owners[name]! }));
  const { runId } = await api<{ runId: string }>(`/v1/plans/${planId}/start`, {});
  assert.equal(await waitForRun(h, runId, 90_000), 'completed', JSON.stringify(await h.storage.getRun(runId)));
  const [round] = await h.storage.listRounds(runId);
  assert.ok(round!.participants.includes(memberId), 'the round counts the browser member');
  assert.equal(round!.participants.length, 3);
  await page.getByText(/round 1: masked update sent \(192 examples\)/).waitFor({ timeout: 10_000 });
});
