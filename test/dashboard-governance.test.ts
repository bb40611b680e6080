// The Governance page in a real browser (Debian's Chromium driven by playwright-core): a
// data owner loads their identity, the page signs an approval with WebCrypto Ed25519 over
// the bytes src/governance/approval-bytes.ts defines, and the coordinator records it — the
// plan then shows the member as approved and the audit log (API and Audit page) holds the
// entry. Screenshots of the plan page go to test-results/dashboard-governance-*.png.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync } from 'node:fs';
import { type Browser } from 'playwright-core';
import { buildWebPages, launchChromium } from './support/browser.js';
import { validateAgreement } from '../src/governance/agreement.js';
import type { AuditEntry } from '../src/governance/audit.js';
import { generateIdentity, type Identity } from '../src/governance/identity.js';
import { planHash, verifyApproval, type PlanApproval, type PlanInput } from '../src/governance/plans.js';
import { RunConfigSchema } from '../src/protocol/messages.js';
import { OPERATOR, startHarness, type Harness } from './support/harness.js';

const SHOTS = 'test-results';
const owners: Record<string, Identity> = { a: generateIdentity(), b: generateIdentity(), c: generateIdentity() };
const plan: PlanInput = {
  title: 'readmission risk',
  researcher: 'ana',
  purpose: 'research',
  datasets: ['data-a', 'data-b'],
  config: RunConfigSchema.parse({ model: { family: 'mlp', inputShape: [2], hidden: [], classes: 2 }, rounds: 3, minAvailableMembers: 2, minTrainMembers: 2, purpose: 'research' }),
  createdAt: 1_700_000_000_000,
};
let h: Harness;
let browser: Browser;
let planId: string;

async function api<T>(path: string, body?: unknown): Promise<T> {
  const res = await fetch(h.url + path, {
    method: body === undefined ? 'GET' : 'POST',
    headers: { authorization: `Bearer ${OPERATOR}`, ...(body !== undefined ? { 'content-type': 'application/json' } : {}) },
    ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
  });
  assert.equal(res.status, 200, `${path}: ${res.status}`);
  return (await res.json()) as T;
}

before(async () => {
  buildWebPages();
  mkdirSync(SHOTS, { recursive: true });
  h = await startHarness({
    agreement: validateAgreement({
      version: 1,
      consortium: 'rhine-health',
      members: ['a', 'b', 'c'].map((name, i) => ({ name, jurisdiction: ['DE', 'NL', 'FR'][i], publicKey: owners[name]!.publicKey, datasets: [{ id: `data-${name}`, description: `${name}'s records` }] })),
      purposes: ['research'],
      allowedStrategies: ['fedavg'],
      allowedModelFamilies: ['mlp'],
      minContributors: 2,
      secureAggregation: 'optional',
      differentialPrivacy: { required: false },
      residency: { a: 'model-updates', b: 'model-updates', c: 'aggregates' },
      approvals: { plansNeed: 'all-data-owners' },
      amendments: { signaturesRequired: ['a', 'b'] },
    }),
  });
  ({ planId } = await api<{ planId: string }>('/v1/plans', plan));
  browser = await launchChromium();
});

after(async () => {
  await browser?.close();
  await h?.close();
});

test('a data owner approves a plan with a signature made in the browser', async () => {
  const page = await browser.newPage({ viewport: { width: 1280, height: 800 } });
  await page.goto(`${h.url}/?token=${OPERATOR}#/governance/${planId}`);
  await page.locator('table[aria-label="Agreement members"]').waitFor();
  assert.equal(await page.locator('table[aria-label="Agreement members"] tbody tr').count(), 3);
  assert.equal(await page.getByTestId('plan-hash').textContent(), planHash(plan));
  await page.getByText('recomputed here').waitFor();

  const approve = page.getByRole('button', { name: 'Approve plan' });
  const reject = page.getByRole('button', { name: 'Reject plan' });
  assert.ok(await approve.isDisabled(), 'no key loaded: nothing to sign with');
  assert.match((await page.getByTestId('sign-blocker').textContent())!, /Load your identity/);

  // Another owner's key for member a is caught before anything is signed.
  await page.locator('#identity').fill(JSON.stringify(owners.c));
  await page.locator('#member').selectOption('a');
  assert.match((await page.getByTestId('sign-blocker').textContent())!, /not the data owner key the agreement lists for a/);
  assert.ok(await approve.isDisabled());

  // a's own identity: the member is picked from the key.
  await page.locator('#identity').fill(JSON.stringify(owners.a, null, 2));
  assert.equal(await page.locator('#member').inputValue(), 'a');
  assert.ok(await approve.isEnabled());
  await approve.click();
  await page.getByText('Approval signed for a and recorded.').waitFor();
  await page.getByText('Approved by: a (1 of 2 needed)').waitFor();
  await page.getByText('Still to approve: b').waitFor();
  assert.ok(await approve.isDisabled(), 'already approved');
  assert.ok(await reject.isEnabled(), 'a may still change its mind before the run starts');

  const record = await api<{ approvals: PlanApproval[]; status: { state: string; approvedBy: string[] } }>(`/v1/plans/${planId}`);
  assert.deepEqual(record.status.approvedBy, ['a']);
  assert.equal(record.status.state, 'pending');
  assert.equal(record.approvals.length, 1);
  assert.ok(verifyApproval(plan, record.approvals[0]!, owners.a!.publicKey), 'the browser signed the bytes the coordinator verifies');

  const { entries } = await api<{ entries: AuditEntry[] }>('/v1/audit');
  const approved = entries.filter((e) => e.kind === 'plan.approved');
  assert.equal(approved.length, 1);
  assert.equal(approved[0]!.actor, 'a');
  assert.equal(approved[0]!.subject, planId);
  assert.equal((approved[0]!.data as { signature: string }).signature, record.approvals[0]!.signature);

  for (const [width, height] of [[1280, 800], [390, 844]] as const) {
    await page.setViewportSize({ width, height });
    const overflow = await page.evaluate(() => document.documentElement.scrollWidth - document.documentElement.clientWidth);
    assert.equal(overflow, 0, `no sideways scrolling at ${width} px`);
    await page.screenshot({ path: `${SHOTS}/dashboard-governance-${width}.png`, fullPage: true });
  }

  await page.evaluate(() => (window.location.hash = '#/audit'));
  const row = page.locator('table[aria-label="Audit log entries"] tbody tr', { hasText: 'plan.approved' });
  await row.waitFor();
  assert.match((await row.textContent())!, new RegExp(`plan\\.approved.*${planId}`));
  // The approving member is named in the actor column.
  assert.equal(await row.locator('td').nth(4).textContent(), 'a');
  await page.close();
});

test('a key that is not one pair, or a signature the coordinator refuses, is reported and nothing is recorded', async () => {
  const page = await browser.newPage();
  await page.goto(`${h.url}/?token=${OPERATOR}#/governance/${planId}`);
  await page.locator('#identity').waitFor();
  const alert = page.locator('.owner [role=alert]');

  // b's public key with another owner's private key: the browser itself refuses the key.
  await page.locator('#identity').fill(JSON.stringify({ publicKey: owners.b!.publicKey, privateKey: owners.c!.privateKey }));
  assert.equal(await page.locator('#member').inputValue(), 'b');
  await page.getByRole('button', { name: 'Reject plan' }).click();
  await alert.waitFor();
  assert.match((await alert.textContent())!, /Could not sign in this browser: the key was refused/);

  // A decision altered on its way (its time changed after signing) fails the coordinator's check.
  await page.route('**/approvals', (route) => route.continue({ postData: JSON.stringify({ ...(route.request().postDataJSON() as object), at: 1 }) }));
  await page.locator('#identity').fill(JSON.stringify(owners.b));
  await page.getByRole('button', { name: 'Reject plan' }).click();
  await page.getByText(/refused the signature/).waitFor();
  assert.match((await alert.textContent())!, /The coordinator refused the signature: the decision is not signed by b's data owner/);
  assert.equal(await page.getByText('Rejection signed for b').count(), 0);

  const record = await api<{ status: { rejectedBy: unknown[]; approvedBy: string[] } }>(`/v1/plans/${planId}`);
  assert.deepEqual(record.status.rejectedBy, []);
  assert.deepEqual(record.status.approvedBy, ['a']);
  const { entries } = await api<{ entries: AuditEntry[] }>('/v1/audit');
  assert.deepEqual(entries.filter((e) => e.kind === 'plan.approval-refused').map((e) => [e.actor, e.subject]), [['b', planId]]);
  await page.close();
});
