// The /join page as a visitor of the demo meets it, in a real Chromium: before any data is
// picked it says which consortium, run and model it is joining; Join says why it is
// disabled; the built-in demo data is real MNIST digits that fit the demo's model, and a
// visitor who picks them trains in the run and watches it on a chart. Screenshots at 1280
// and 390 px go to test-results/, and the page never scrolls sideways.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync } from 'node:fs';
import type { Browser, Page } from 'playwright-core';
import { makeParameters } from '../src/protocol/tensors.js';
import { buildWebPages, launchChromium } from './support/browser.js';
import { addMember, OPERATOR, plus, startHarness, startRun, waitForRun, type Harness } from './support/harness.js';

const SHOTS = 'test-results';
/** The demo's MNIST model as TF.js names a dense 784→10 network's tensors. */
const DIGIT_SPECS = [
  { name: 'output/kernel', shape: [784, 10] },
  { name: 'output/bias', shape: [10] },
];
let h: Harness;
let browser: Browser;

before(async () => {
  buildWebPages();
  mkdirSync(SHOTS, { recursive: true });
  h = await startHarness({ openEnrollment: true, initialParameters: async () => makeParameters(DIGIT_SPECS) });
  browser = await launchChromium();
});

after(async () => {
  await browser?.close();
  await h?.close();
});

const noSidewaysScroll = async (page: Page, what: string) => {
  const { scroll, inner } = await page.evaluate(() => ({ scroll: document.scrollingElement!.scrollWidth, inner: window.innerWidth }));
  assert.ok(scroll <= inner, `${what} scrolls sideways (${scroll} > ${inner})`);
};

test('a visitor sees what they join, why Join waits, and trains on the built-in digits', async () => {
  // Two Node members with digit-shaped data; the run waits for a third, the visitor.
  addMember(h, 'north', 100, plus(0.001), undefined, { dataset: { inputShape: [784], classes: 10 } });
  addMember(h, 'south', 100, plus(0.002), undefined, { dataset: { inputShape: [784], classes: 10 } });
  const runId = await startRun(h, {
    name: 'digits-demo',
    model: { family: 'mlp', inputShape: [784], hidden: [], classes: 10 },
    rounds: 3,
    minAvailableMembers: 3,
    minTrainMembers: 3,
    roundDeadlineSeconds: 60,
    train: { epochs: 1, batchSize: 32, learningRate: 0.1 },
  });

  for (const [width, height] of [[1280, 900], [390, 844]] as const) {
    const page = await browser.newPage({ viewport: { width, height } });
    await page.goto(`${h.url}/join`);
    // Before any data: the consortium, the run and the input its model takes.
    await page.getByTestId('joining-run').waitFor({ timeout: 15_000 });
    assert.match((await page.getByTestId('joining-run').textContent())!, /digits-demo.*running|digits-demo.*pending/);
    assert.match((await page.getByTestId('joining-run').textContent())!, /mlp784/);
    assert.match((await page.getByTestId('consortium').textContent())!, /local consortium/);
    // Join is disabled and says why.
    assert.equal(await page.getByTestId('join').isDisabled(), true);
    assert.match((await page.getByTestId('join-why').textContent())!, /Pick your data first/);
    assert.match((await page.getByTestId('demo-shard').textContent())!, /MNIST digits/);
    await page.screenshot({ path: `${SHOTS}/join-before-${width}.png`, fullPage: true });
    await noSidewaysScroll(page, `the join page at ${width} px`);
    if (width === 390) {
      await page.getByTestId('demo-shard').click();
      assert.match((await page.getByTestId('data-summary').textContent({ timeout: 15_000 }))!, /^MNIST digits \(600, built in\): 480 training rows, 120 holdout rows, 784 features, 10 classes$/);
      assert.match((await page.getByTestId('data-fits').textContent())!, /Fits run digits-demo/);
      assert.equal(await page.getByTestId('join').isDisabled(), false);
      await page.getByTestId('member-name').fill('visitor');
      await page.getByTestId('join').click();
      const memberId = (await page.getByTestId('member-id').textContent({ timeout: 15_000 }))!;
      assert.equal(await waitForRun(h, runId, 120_000), 'completed', JSON.stringify((await h.storage.getRun(runId))?.error));
      for (const round of await h.storage.listRounds(runId)) assert.ok(round.participants.includes(memberId), `round ${round.round} counts the visitor`);
      // Progress as a chart: one point per round the visitor evaluated.
      await page.waitForFunction(() => Number(document.querySelector('[data-testid=accuracy-chart]')?.getAttribute('data-points')) >= 3, null, { timeout: 15_000 });
      const evaluated = (await h.storage.listMemberMetrics(runId)).filter((m) => m.memberId === memberId && m.phase === 'evaluate');
      assert.ok(evaluated.at(-1)!.metrics.accuracy! > 0.3, `the digits train: holdout accuracy ${evaluated.at(-1)!.metrics.accuracy} after 3 rounds, far above 10 % guessing`);
      for (const [w, hh] of [[390, 844], [1280, 900]] as const) {
        await page.setViewportSize({ width: w, height: hh });
        await page.screenshot({ path: `${SHOTS}/join-training-${w}.png`, fullPage: true });
        await noSidewaysScroll(page, `the join page while training at ${w} px`);
      }
    }
    await page.close();
  }
});

test('an invitation link shows the invitation; a bad one says so', async () => {
  const res = await fetch(`${h.url}/v1/invitations`, { method: 'POST', headers: { authorization: `Bearer ${OPERATOR}`, 'content-type': 'application/json' }, body: '{}' });
  const { code } = (await res.json()) as { code: string };
  const page = await browser.newPage();
  await page.goto(`${h.url}/join?invitation=${encodeURIComponent(code)}`);
  assert.match((await page.getByTestId('joining').textContent({ timeout: 15_000 }))!, /invited, valid until/);
  assert.equal(await page.getByTestId('invitation').inputValue(), code);
  await page.goto(`${h.url}/join?invitation=not-a-code`);
  assert.match((await page.getByTestId('context-error').textContent({ timeout: 15_000 }))!, /unknown invitation code/);
  await page.close();
});

test('unknown built-in data named in the address is refused by name', async () => {
  const page = await browser.newPage();
  await page.goto(`${h.url}/join?shard=cats`);
  assert.equal(await page.getByTestId('demo-shard').isDisabled(), true);
  assert.match((await page.getByTestId('demo-why').textContent())!, /no built-in demo data "cats" \(\?shard= takes mnist or blobs\)/);
  await page.close();
});
