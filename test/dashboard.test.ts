// The dashboard in a real browser (Debian's Chromium driven by playwright-core): while a
// run is live the run page's round count and accuracy chart advance without a reload;
// during the first round it shows who is training instead of empty charts, and its Stop
// button stops the run; then every page is photographed at laptop and phone width into
// test-results/, and none of them scrolls sideways at 390 px.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync } from 'node:fs';
import { type Browser, type Page } from 'playwright-core';
import { buildWebPages, launchChromium } from './support/browser.js';
import { addMember, OPERATOR, plus, startHarness, startRun, waitForRun, type Harness } from './support/harness.js';

const SHOTS = 'test-results';
let h: Harness;
let browser: Browser;

before(async () => {
  buildWebPages();
  mkdirSync(SHOTS, { recursive: true });
  // A validation score that rises with the model's sum, so the run page can value contributions.
  h = await startHarness({ validationAccuracy: async (_config, parameters) => Math.min(0.98, 0.4 + 0.02 * parameters.data.reduce((s, v) => s + v, 0)) });
  browser = await launchChromium();
});

after(async () => {
  await browser?.close();
  await h?.close();
});

/** Members that take ~400 ms a round and whose holdout accuracy rises with the model's sum. */
function slowMembers(names: string[]): void {
  for (const [i, name] of names.entries()) {
    addMember(h, name, 100 * (i + 1), async (global) => {
      await new Promise((r) => setTimeout(r, 400));
      return plus(0.1 * (i + 1))(global);
    }, (handler) => ({
      ...handler,
      async evaluate(task, global) {
        const outcome = await handler.evaluate(task, global);
        const sum = global.data.reduce((s, v) => s + v, 0);
        return { ...outcome, metrics: { ...outcome.metrics, accuracy: Math.min(0.98, 0.4 + 0.02 * sum + 0.03 * i) } };
      },
    }));
  }
}

const roundShown = async (page: Page) => Number((await page.getByTestId('round-count').textContent())!.match(/^(\d+) of/)![1]);
const pointsShown = async (page: Page) => Number(await page.locator('figure.chart').first().getAttribute('data-points'));
/** The round count and the chart's points read in one go: a round may complete between two separate reads. */
const roundAndPoints = (page: Page) =>
  page.evaluate(() => ({
    round: Number(document.querySelector('[data-testid=round-count]')?.textContent?.match(/^(\d+) of/)?.[1]),
    points: Number(document.querySelector('figure.chart')?.getAttribute('data-points')),
  }));

test('the run page follows a live run without reloading', async () => {
  slowMembers(['north-clinic', 'south-hospital', 'east-lab']);
  const runId = await startRun(h, { name: 'live-dashboard', rounds: 8, minAvailableMembers: 3, minTrainMembers: 3 });
  const page = await browser.newPage({ viewport: { width: 1280, height: 800 } });
  let loads = 0;
  page.on('load', () => loads++);
  await page.goto(`${h.url}/?token=${OPERATOR}#/runs/${runId}`);
  await page.getByTestId('round-count').waitFor();
  assert.ok(!page.url().includes(OPERATOR), 'the token is taken off the address');

  await page.waitForFunction(() => /^[1-9]\d* of/.test(document.querySelector('[data-testid=round-count]')?.textContent ?? ''), null, { timeout: 20_000 });
  const { round: firstRound, points: firstPoints } = await roundAndPoints(page);
  assert.equal(firstPoints, firstRound, 'one chart point per completed round');
  await page.waitForFunction(
    (n) => Number(document.querySelector('[data-testid=round-count]')?.textContent?.match(/^(\d+) of/)?.[1]) > n,
    firstRound,
    { timeout: 20_000 },
  );
  const laterRound = await roundShown(page);
  assert.ok(laterRound > firstRound);
  assert.ok((await pointsShown(page)) > firstPoints, 'the accuracy chart has more points');
  assert.equal(loads, 1, 'the page was never reloaded');

  assert.equal(await waitForRun(h, runId), 'completed');
  await page.waitForFunction(() => document.querySelector('[data-testid=round-count]')?.textContent === '8 of 8 rounds done', null, { timeout: 10_000 });
  // A finished run looks finished: its badge, final numbers, no live round, no spinner.
  await page.locator('h1 .badge.completed').waitFor();
  assert.equal(await page.getByTestId('live-round').count(), 0);
  assert.equal(await page.locator('.spinner').count(), 0);
  assert.match((await page.getByTestId('final-accuracy').textContent())!, /^\d+\.\d%$/);
  assert.match((await page.getByTestId('best-accuracy').textContent())!, /^\d+\.\d%$/);
  assert.match((await page.getByTestId('baseline').textContent())!, /none/);
  assert.equal(await page.getByRole('button', { name: 'Stop run' }).count(), 0, 'a finished run cannot be stopped');
  // Hovering a chart shows the values of that round.
  const over = page.locator('figure.chart').first().locator('.u-over');
  const box = (await over.boundingBox())!;
  await over.hover({ position: { x: box.width * 0.5, y: box.height * 0.5 } });
  const tip = page.locator('figure.chart').first().locator('.chart-tip');
  await tip.waitFor({ state: 'visible' });
  assert.match((await tip.textContent())!, /^round \d+federated holdout: \d+\.\d%$/);
  // Export downloads the last round's model; Report opens the run's HTML report.
  const [download] = await Promise.all([page.waitForEvent('download'), page.getByRole('button', { name: 'Export model' }).click()]);
  assert.equal(download.suggestedFilename(), `${runId}-round8.concord`);
  const [report] = await Promise.all([page.context().waitForEvent('page'), page.getByRole('button', { name: 'Report' }).click()]);
  await report.waitForFunction(() => document.querySelector('h1')?.textContent?.startsWith('Run live-dashboard'), null, { timeout: 20_000 });
  assert.match((await report.locator('.cards').textContent())!, /final accuracy/);
  await report.close();
  assert.equal(await page.locator('table[aria-label="Round timeline"] tbody tr').count(), 8);
  // The model as members build it: family and size at a glance, its layers on demand.
  const model = page.getByTestId('model-summary');
  assert.equal(await model.locator('summary').textContent(), 'Model: mlp · 6 parameters · 2 layers');
  assert.equal(await page.locator('table[aria-label="Model layers"]').isVisible(), false);
  await model.locator('summary').click();
  assert.deepEqual(await page.locator('table[aria-label="Model layers"] tbody tr').allTextContents(), ['outputDense26', 'softmaxActivation20']);
  await page.close();
});

test('each main page renders at laptop and phone width', async () => {
  const [run] = await h.storage.listRuns();
  // A run with differential privacy, so the Privacy page has budgets to draw.
  const dpRun = await startRun(h, {
    name: 'private-dashboard',
    rounds: 2,
    minAvailableMembers: 3,
    minTrainMembers: 3,
    train: { epochs: 1, batchSize: 32, learningRate: 0.1 },
    differentialPrivacy: { level: 'sample', noiseMultiplier: 1, clippingNorm: 1, budget: { epsilon: 8, delta: 1e-5 } },
  });
  assert.equal(await waitForRun(h, dpRun), 'completed');
  const [member] = await h.storage.listMembers();
  const pages = { overview: '#/', member: `#/members/${member!.memberId}`, runs: '#/runs', run: `#/runs/${run!.runId}`, privacy: '#/privacy', audit: '#/audit' };
  for (const [width, height] of [[1280, 800], [390, 844]] as const) {
    const page = await browser.newPage({ viewport: { width, height } });
    await page.goto(`${h.url}/?token=${OPERATOR}`);
    for (const [name, hash] of Object.entries(pages)) {
      await page.evaluate((h) => (window.location.hash = h), hash);
      await page.locator('main section h1').waitFor();
      await page.waitForFunction(() => !document.querySelector('main [role=status]')?.textContent?.includes('Loading'));
      if (name === 'run') {
        await page.getByTestId('model-summary').locator('summary').click();
        // Contributions of a finished run, each member's bar in its own colour.
        await page.locator('ul.value-bars li').first().waitFor({ timeout: 20_000 });
        assert.equal(await page.locator('ul.value-bars li').count(), 3);
      }
      await page.screenshot({ path: `${SHOTS}/dashboard-${name}-${width}.png`, fullPage: true });
      const wide = await page.evaluate(() => ({ scroll: document.scrollingElement!.scrollWidth, inner: window.innerWidth }));
      assert.ok(wide.scroll <= wide.inner, `the ${name} page scrolls sideways at ${width} px (${wide.scroll} > ${wide.inner})`);
    }
    assert.equal(await page.locator('table[aria-label="Members"] tbody tr').count(), 0, 'the last page shown is the audit log');
    await page.evaluate(() => (window.location.hash = '#/privacy'));
    await page.locator('ul.bars').waitFor();
    assert.equal(await page.locator('ul.bars li').count(), 3, 'one budget bar per member dataset');
    // A bar turns amber from 80 % of its budget and red once it is spent.
    for (const bar of await page.locator('ul.bars li').all()) {
      const used = Number((await bar.locator('.bar-value').textContent())!.match(/\((\d+) %\)/)![1]);
      const level = await bar.locator('.bar-fill').getAttribute('data-level');
      assert.equal(level, used >= 100 ? 'over' : used >= 80 ? 'near' : 'ok', `${used} % of the budget`);
    }
    // The navigation fits on a phone: every link inside the viewport.
    for (const link of await page.locator('nav a').all()) {
      const box = (await link.boundingBox())!;
      assert.ok(box.x >= 0 && box.x + box.width <= width, `nav link at ${box.x}+${box.width} fits ${width} px`);
    }
    await page.evaluate(() => (window.location.hash = '#/'));
    await page.locator('table[aria-label="Members"]').waitFor();
    assert.equal(await page.locator('table[aria-label="Members"] tbody tr').count(), 3);
    const overflow = await page.evaluate(() => document.documentElement.scrollWidth - document.documentElement.clientWidth);
    assert.equal(overflow, 0, `no sideways scrolling at ${width} px`);
    await page.close();
  }
});

test('the first round is shown in progress and the Stop button stops a running run', async () => {
  // A slow fourth member holds the first round open long enough to watch it.
  let release = () => {};
  const held = new Promise<void>((r) => (release = r));
  addMember(h, 'west-slow', 100, async (global) => {
    await held;
    return plus(0.1)(global);
  });
  const runId = await startRun(h, { name: 'stoppable', rounds: 12, minAvailableMembers: 4, minTrainMembers: 4 });
  const baseline = await fetch(`${h.url}/v1/runs/${runId}/baseline`, {
    method: 'POST',
    headers: { authorization: `Bearer ${OPERATOR}`, 'content-type': 'application/json' },
    body: JSON.stringify({ metric: 'accuracy', value: 0.97, description: 'the same model on the pooled data of all members, 3 epochs', epochs: 3 }),
  });
  assert.equal(baseline.status, 200);
  const refused = await fetch(`${h.url}/v1/runs/${runId}/stop`, { method: 'POST', headers: { authorization: `Bearer ${OPERATOR}`, 'content-type': 'application/json' }, body: JSON.stringify({ why: 'typo' }) });
  assert.equal(refused.status, 400, 'an unknown key in a stop request is refused');
  assert.match(await refused.text(), /why/);

  for (const [width, height] of [[1280, 900], [390, 844]] as const) {
    const page = await browser.newPage({ viewport: { width, height } });
    await page.goto(`${h.url}/?token=${OPERATOR}#/runs/${runId}`);
    const live = page.getByTestId('live-round');
    await live.waitFor();
    // Who is training and who has reported, instead of "Round 0" over empty charts.
    await page.waitForFunction(() => document.querySelector('[data-testid=live-round] .badge.reported') && document.querySelector('[data-testid=live-round] .badge.working'), null, { timeout: 20_000 });
    assert.match((await live.locator('h2').textContent())!, /^Round 1 of 12 in progress/);
    assert.match((await live.locator('li', { hasText: 'west-slow' }).textContent())!, /training/);
    assert.equal(await page.locator('figure.chart').count(), 0, 'no empty charts during the first round');
    assert.match((await page.getByTestId('no-rounds').textContent())!, /first round completes/);
    assert.match((await page.getByTestId('baseline').textContent())!, /97\.0%/);
    assert.match((await page.getByTestId('run-config').textContent())!, /fedavg.*learning rate/s);
    await page.screenshot({ path: `${SHOTS}/dashboard-run-live-${width}.png`, fullPage: true });
    const wide = await page.evaluate(() => document.scrollingElement!.scrollWidth - window.innerWidth);
    assert.ok(wide <= 0, `the live run page scrolls sideways at ${width} px`);
    if (width === 390) {
      page.once('dialog', (dialog) => void dialog.accept('enough for the test'));
      await page.getByRole('button', { name: 'Stop run' }).click();
      await page.locator('h1 .badge.stopped').waitFor({ timeout: 15_000 });
      assert.equal(await page.getByTestId('live-round').count(), 0, 'a stopped run shows no live round');
      assert.match((await page.locator('.stopped-reason').textContent())!, /Stopped: stopped by operator: enough for the test/);
      await page.screenshot({ path: `${SHOTS}/dashboard-run-stopped-${width}.png`, fullPage: true });
    }
    await page.close();
  }
  const run = await h.storage.getRun(runId);
  assert.equal(run!.status, 'stopped');
  assert.equal(run!.error, 'stopped by operator: enough for the test');
  const stopped = (await h.storage.listAudit()).filter((e) => e.kind === 'run.stopped' && e.subject === runId);
  assert.equal(stopped.length, 1);
  assert.equal((stopped[0]!.data as { message: string }).message, 'run stopped by operator');
  // The runs list names why a run ended early.
  for (const [width, height] of [[1280, 800], [390, 844]] as const) {
    const page = await browser.newPage({ viewport: { width, height } });
    await page.goto(`${h.url}/?token=${OPERATOR}#/runs`);
    const row = page.locator('table[aria-label="Runs"] tbody tr', { hasText: 'stoppable' });
    await row.waitFor();
    assert.match((await row.locator('td.reason').textContent())!, /stopped by operator: enough for the test/);
    await page.screenshot({ path: `${SHOTS}/dashboard-runs-stopped-${width}.png`, fullPage: true });
    await page.close();
  }
  release();
  await h.coordinator.idle();
  assert.equal((await h.storage.listEvents(runId)).filter((e) => e.kind === 'round-retry').length, 0, 'stopping is not a failed round');
});

test('the audit page shows a verified chain', async () => {
  const page = await browser.newPage();
  await page.goto(`${h.url}/?token=${OPERATOR}#/audit`);
  await page.locator('.verified').waitFor();
  assert.match((await page.locator('.verified').textContent())!, /Chain verified: \d+ signed/);
  await page.close();
});

test('the stream needs a token and static files stay inside web/dist', async () => {
  const refused = await fetch(`${h.url}/v1/events/stream`);
  assert.equal(refused.status, 401);
  const wrong = await fetch(`${h.url}/v1/events/stream?token=nope`);
  assert.equal(wrong.status, 401);
  for (const path of ['/assets/..%2f..%2fpackage.json', '/assets/../../package.json', '/assets/%2e%2e/%2e%2e/package.json']) {
    const response = await fetch(`${h.url}${path}`);
    assert.notEqual(response.status, 200, path);
  }
  const index = await fetch(`${h.url}/`);
  assert.equal(index.status, 200);
  assert.match(index.headers.get('content-type')!, /^text\/html/);
});
