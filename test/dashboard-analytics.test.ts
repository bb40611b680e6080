// The dashboard's analytics page in Chromium, at a desktop (1280 px) and a phone (390 px)
// width: every query listed, histograms, the Kaplan–Meier curve and the correlation heat-map
// drawn as SVG inside the page's width, suppressed cells named, DP releases labelled with ε.

import { mkdirSync } from 'node:fs';
import assert from 'node:assert/strict';
import { after, before, it } from 'node:test';
import type { Browser } from 'playwright-core';
import { createCoordinator, type Coordinator } from '../src/coordinator/server.js';
import { hospitalSchema, writeHospitals } from '../src/data/hospitals.js';
import { loadMemberData } from '../src/data/spec.js';
import { withAnalytics } from '../src/node/analytics-handler.js';
import { CoordinatorClient } from '../src/node/client.js';
import { runMember } from '../src/node/member.js';
import { nodePrimitives } from '../src/privacy/secagg/primitives-node.js';
import { makeParameters } from '../src/protocol/tensors.js';
import { SqliteStorage } from '../src/storage/sqlite.js';
import { buildWebPages, launchChromium } from './support/browser.js';
import { temporaryDirs } from '../src/core/temp-dirs.fixture.js';

const tempDir = temporaryDirs();

const OPERATOR = 'dashboard-analytics-operator';
let browser: Browser;
let coordinator: Coordinator;
let storage: SqliteStorage;
let url: string;
const aborts: AbortController[] = [];

const QUERIES = [
  { type: 'histogram', name: 'age distribution', field: 'age', bins: { edges: [18, 25, 30, 40, 50, 60, 70, 80, 90, 110] } },
  { type: 'survival', name: 'event-free survival', time: 'followup', event: 'event', bins: { low: 0, high: 1800, count: 6 } },
  { type: 'correlation', name: 'risk factor correlations', fields: ['age', 'systolic_bp', 'glucose', 'cholesterol'] },
  { type: 'contingency', name: 'sex by smoking', fields: ['sex', 'smoker'] },
  { type: 'mean', name: 'mean glucose, DP', field: 'glucose', privacy: { epsilon: 1, delta: 1e-6 } },
];

before(async () => {
  buildWebPages();
  browser = await launchChromium();
  storage = new SqliteStorage(':memory:');
  await storage.migrate();
  coordinator = await createCoordinator({ storage, operatorToken: OPERATOR, initialParameters: async () => makeParameters([{ name: 'w', shape: [1] }]), maxPollMs: 1000, analytics: { schema: hospitalSchema(), budget: { epsilon: 4, delta: 1e-5 } } });
  url = await coordinator.listen(0, '127.0.0.1');
  const { files } = await writeHospitals({ out: await tempDir('concord-dash-analytics-'), sites: 3 });
  for (const [i, f] of files.entries()) {
    const abort = new AbortController();
    aborts.push(abort);
    const client = new CoordinatorClient(url);
    const refuse = async (): Promise<never> => {
      throw new Error('analytics only');
    };
    void runMember({ client, name: `hospital-${i}`, dataset: (await loadMemberData(f.spec)).descriptor, handler: withAnalytics({ train: refuse, evaluate: refuse }, { data: f.spec, memberId: () => client.credentials?.memberId, primitives: nodePrimitives }), signal: abort.signal, pollMs: 1000, heartbeatMs: 1000 });
  }
  while (coordinator.board.available().length < 3) await new Promise((r) => setTimeout(r, 100));
  for (const q of QUERIES) {
    const res = await coordinator.app.inject({ method: 'POST', url: '/v1/analytics', headers: { authorization: `Bearer ${OPERATOR}` }, payload: q });
    assert.equal((res.json() as { query: { status: string } }).query.status, 'completed', res.body);
  }
});

after(async () => {
  for (const a of aborts) a.abort();
  await browser?.close();
  await coordinator?.close();
  await storage?.close();
});

for (const width of [1280, 390]) {
  it(`shows every query with its chart at ${width} px, inside the page`, { timeout: 60_000 }, async () => {
    const page = await browser.newPage({ viewport: { width, height: 900 } });
    await page.goto(`${url}/?token=${OPERATOR}#/analytics`);
    await page.locator('.analytics-query').nth(QUERIES.length - 1).waitFor();
    assert.equal(await page.locator('.analytics-query').count(), QUERIES.length);
    assert.equal(await page.locator('.analytics-chart svg').count(), 3, 'histogram, survival curve and heat-map');
    assert.equal(await page.locator('.analytics-chart table.contingency').count(), 1);
    assert.equal(await page.evaluate(() => document.documentElement.scrollWidth <= window.innerWidth), true, 'no horizontal scrolling');
    // For people to look at, as the other dashboard pages are (test-results/).
    mkdirSync('test-results', { recursive: true });
    await page.screenshot({ path: `test-results/dashboard-analytics-${width}.png`, fullPage: true });
    for (const box of await page.locator('.analytics-chart svg').all()) {
      const b = (await box.boundingBox())!;
      assert.ok(b.width > 200 && b.x + b.width <= width, `a chart of ${b.width} px at ${b.x} fits ${width} px`);
    }
    const histogram = page.locator('.analytics-query', { has: page.locator('h2', { hasText: 'age distribution' }) });
    assert.match((await histogram.getAttribute('aria-label'))!, /9 values, [1-9] suppressed/);
    assert.match(await page.locator('.analytics-query', { has: page.locator('h2', { hasText: 'mean glucose, DP' }) }).innerText(), /DP ε 1, δ 0\.000001/);
    assert.equal(await page.locator('svg.heatmap rect[fill^="rgb"]').count() >= 16, true);
    await page.close();
  });
}
