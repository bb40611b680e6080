// Renders a run report from a stored run (plan, client-level DP charges, kept updates,
// energy metrics) and opens it in headless Chromium: every chart must actually draw, the
// page must ask for nothing over the network, and a screenshot lands in
// test-results/report.png for a person to look at.

import assert from 'node:assert/strict';
import { mkdir, writeFile } from 'node:fs/promises';
import { after, before, describe, it } from 'node:test';
import { chromium, type Browser } from 'playwright-core';
import { collectRunReport } from '../coordinator/run-report.js';
import { RunConfigSchema } from '../protocol/messages.js';
import { makeParameters, type Parameters } from '../protocol/tensors.js';
import { SqliteStorage } from '../storage/sqlite.js';
import type { MemberRoundMetrics, MemberUpdate, Storage } from '../storage/storage.js';
import { renderRunReport } from './html.js';
import { niceTicks } from './svg.js';

const SPECS = [
  { name: 'dense/kernel', shape: [2, 2] },
  { name: 'dense/bias', shape: [2] },
];
const NAMES = ['hospital-a', 'hospital-b', 'lab-c', 'noisy-d'];
const TARGET = 3;
const mean = (p: Parameters) => p.data.reduce((s, v) => s + v, 0) / p.data.length;
/** A stand-in for validation accuracy: 1 at the target weights, falling off with distance. */
const accuracyOf = (p: Parameters) => 1 / (1 + Math.abs(mean(p) - TARGET));
const accuracy = async (_config: unknown, p: Parameters) => accuracyOf(p);

async function storedRun(storage: Storage, options: { secure: boolean }): Promise<string> {
  const members = [];
  for (const [i, name] of NAMES.entries()) {
    members.push(await storage.addMember({ name, publicKey: `key-${options.secure ? 's' : 'p'}-${i}`, dataset: { name: 'mnist-like', numExamples: 100 * (i + 1), numHoldout: 25, inputShape: [784], classes: 10 } }));
  }
  const config = RunConfigSchema.parse({
    name: options.secure ? 'secure-demo' : 'report-demo',
    model: { family: 'mlp', inputShape: [2], classes: 2 },
    rounds: 6,
    secureAggregation: options.secure,
    plan: { resources: { members: NAMES.map((name, i) => ({ name, capacity: 100 * (i + 1), efficiency: 0.5 + i / 10, carbonIntensity: 100 + 150 * i, powerWatts: 40, unitsPerHour: 1000 })) }, objective: 'max-compute' },
    differentialPrivacy: { level: 'client', mode: options.secure ? 'distributed' : 'central', noiseMultiplier: 1.1, clippingNorm: 1, budget: { epsilon: 8, delta: 1e-5 } },
  });
  let global = makeParameters(SPECS);
  const run = await storage.createRun(config, global);
  for (let round = 1; round <= 6; round++) {
    const updates: MemberUpdate[] = members.map((m, i) => {
      // Honest members step towards the target, each a different distance; the last one away from it.
      const step = i === 3 ? -0.6 : 0.25 + 0.15 * i;
      return { memberId: m.memberId, numExamples: 100 * (i + 1), parameters: makeParameters(SPECS, global.data.map((v) => v + step * (TARGET - v) * 0.5 + (i === 3 ? -0.3 : 0))) };
    });
    const total = updates.reduce((s, u) => s + u.numExamples, 0);
    const next = makeParameters(SPECS, global.data.map((_, k) => updates.reduce((s, u) => s + (u.numExamples / total) * u.parameters.data[k]!, 0)));
    const rows: MemberRoundMetrics[] = members.flatMap((m, i): MemberRoundMetrics[] => [
      {
        memberId: m.memberId,
        phase: 'train',
        numExamples: 100 * (i + 1),
        loss: null,
        metrics: { plannedUnits: 100 * (i + 1), examplesProcessed: 100 * (i + 1) + (i === 1 ? 10 : 0), energyJoules: 40 * (1 + i) * 3, energySource: 0, carbonIntensity: 100 + 150 * i, trainSeconds: 3 * (1 + i) },
        bytesIn: 20_000,
        bytesOut: 20_000,
        seconds: 3 * (1 + i) + 0.2,
      },
      { memberId: m.memberId, phase: 'evaluate', numExamples: 25, loss: 1, metrics: { accuracy: Math.min(1, accuracyOf(next) - 0.05 * i + 0.02 * round) }, bytesIn: 100, bytesOut: 20_000, seconds: 0.1 },
    ]);
    await storage.saveRound({
      runId: run.runId,
      round,
      parameters: next,
      strategyState: null,
      trainMetrics: { loss: 1 / round },
      evalLoss: 1 / round,
      evalMetrics: { accuracy: 0.5 + round / 20 },
      serverEval: { loss: 1 / round, metrics: { accuracy: accuracyOf(next) } },
      participants: members.map((m) => m.memberId),
      failures: [],
      members: rows,
      attempts: 1,
      startedAt: 1_700_000_000_000 + round * 10_000,
      completedAt: 1_700_000_005_000 + round * 10_000,
      privacyCharges: members.map((m) => ({ memberId: m.memberId, datasetId: `${m.name}/mnist-like`, samplingRate: 1, noiseMultiplier: 1.1, steps: 1 })),
      ...(options.secure ? {} : { updates }),
    });
    global = next;
  }
  await storage.setRunStatus(run.runId, 'completed');
  return run.runId;
}

let browser: Browser | undefined;
before(async () => {
  browser = await chromium.launch({ executablePath: '/usr/bin/chromium', args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking'] });
});
after(async () => {
  await browser?.close();
});

interface DrawnChart {
  label: string;
  marks: number;
}

async function render(html: string, screenshot?: string, width = 960): Promise<{ charts: DrawnChart[]; requests: string[]; headings: string[]; overflow: number }> {
  const page = await browser!.newPage({ viewport: { width, height: 900 } });
  const requests: string[] = [];
  page.on('request', (r) => requests.push(r.url()));
  try {
    await page.setContent(html, { waitUntil: 'load' });
    const charts = await page.$$eval('svg.chart', (svgs) =>
      svgs.map((svg) => ({
        label: svg.getAttribute('aria-label') ?? '',
        // Drawn marks: bars, lines and dots with a visible size.
        marks: Array.from(svg.querySelectorAll('rect.bar, path, circle')).filter((e) => {
          const box = (e as SVGGraphicsElement).getBBox();
          return box.width > 0 || box.height > 0;
        }).length,
      })),
    );
    const headings = await page.$$eval('h2', (hs) => hs.map((h) => h.textContent ?? ''));
    if (screenshot) await page.screenshot({ path: screenshot, fullPage: true });
    const overflow = await page.evaluate(() => document.scrollingElement!.scrollWidth - window.innerWidth);
    return { charts, requests, headings, overflow };
  } finally {
    await page.close();
  }
}

describe('the HTML run report', () => {
  it('draws every chart of a planned, DP-accounted run with contributions, offline', async () => {
    const storage = new SqliteStorage(':memory:');
    await storage.migrate();
    try {
      const runId = await storedRun(storage, { secure: false });
      const report = await collectRunReport(storage, runId, { accuracy, contributions: { method: 'exact', rewardPool: 1000 } });
      assert.equal(report.contributions!.available, true);
      // The member that pulls away from the target is valued lowest and gets no share.
      const values = report.contributions!.values!;
      assert.equal(Object.entries(values).sort((a, b) => a[1] - b[1])[0]![0], 'noisy-d');
      assert.equal(report.contributions!.shares!.shares['noisy-d'], 0);
      assert.equal(report.plan!.total.actual - report.plan!.total.planned, 60);
      assert.equal(report.privacy.length, 4);
      assert.ok(report.privacy[0]!.points[5]!.epsilon > report.privacy[0]!.points[0]!.epsilon);

      const html = renderRunReport(report);
      assert.doesNotMatch(html, /<script|https?:\/\/(?!www\.w3\.org\/2000\/svg)/);
      await mkdir('test-results', { recursive: true });
      await writeFile('test-results/report.html', html);
      const { charts, requests, headings } = await render(html, 'test-results/report.png');
      assert.deepEqual(headings, ['Accuracy per round', 'Plan and execution', 'Privacy spent', 'Contributions and benefit sharing', 'Energy and CO₂']);
      assert.equal(charts.length, 8, charts.map((c) => c.label).join(' | '));
      for (const chart of charts) assert.ok(chart.marks > 0, `chart "${chart.label}" draws nothing`);
      assert.deepEqual(requests.filter((u) => !u.startsWith('about:') && !u.startsWith('data:')), []);
      // On a phone the page fits: tables scroll inside their box, charts shrink.
      const phone = await render(html, 'test-results/report-390.png', 390);
      assert.ok(phone.overflow <= 0, `the report scrolls sideways at 390 px by ${phone.overflow} px`);
    } finally {
      await storage.close();
    }
  });

  it('shows 95 % intervals, pairs it cannot tell apart, CO2 ranges, and one colour per member in every chart', async () => {
    const storage = new SqliteStorage(':memory:');
    await storage.migrate();
    try {
      const runId = await storedRun(storage, { secure: false });
      const report = await collectRunReport(storage, runId, { accuracy, contributions: { method: 'exact' } });
      const values = report.contributions!.values!;
      // The fields the valuation adds where it estimates uncertainty (optional in the report's type).
      const uncertainty = Object.fromEntries(Object.entries(values).map(([n, v]) => [n, { standardError: 0.01, low: v - 0.02, high: v + 0.03 }]));
      const withIntervals = { ...report, contributions: { ...report.contributions!, uncertainty, indistinguishable: [['hospital-a', 'lab-c']] as [string, string][] } };
      const footprint = { ...report.footprint, total: { ...report.footprint.total, co2GramsLow: 0.5, co2GramsHigh: 9.5 } };
      const html = renderRunReport({ ...withIntervals, footprint });
      assert.match(html, /Error bars: 95 % intervals/);
      assert.match(html, /Not distinguishable at this precision: hospital-a and lab-c/);
      assert.match(html, /<th>95 % interval<\/th>/);
      assert.match(html, /\(0\.50 g–9\.50 g\)/);
      const page = await browser!.newPage({ viewport: { width: 960, height: 900 } });
      try {
        await page.setContent(html, { waitUntil: 'load' });
        assert.equal(await page.locator('path.error-bar').count(), NAMES.length, 'one interval per member');
        // Each member's colour is the same in the accuracy chart's legend and the contribution bars.
        const legend = await page.$$eval('svg.chart .legend-item', (items) => Object.fromEntries(items.map((g) => [g.textContent ?? '', g.querySelector('line')!.getAttribute('stroke')])));
        const bars = await page.$$eval('svg.chart rect.bar', (rects) => rects.map((r) => [r.querySelector('title')!.textContent ?? '', r.getAttribute('fill')] as const));
        for (const name of NAMES) {
          const bar = bars.find(([title]) => title.startsWith(`φ · ${name}:`));
          assert.ok(bar, `a contribution bar for ${name}`);
          assert.equal(bar[1], legend[name], `${name} has one colour`);
        }
      } finally {
        await page.close();
      }
    } finally {
      await storage.close();
    }
  });

  it('a secure run says why contributions are unavailable and still shows what is known', async () => {
    const storage = new SqliteStorage(':memory:');
    await storage.migrate();
    try {
      const runId = await storedRun(storage, { secure: true });
      const report = await collectRunReport(storage, runId, { accuracy, contributions: {} });
      assert.equal(report.contributions!.available, false);
      assert.match(report.contributions!.reason!, /secure aggregation/);
      assert.deepEqual(report.contributions!.participation.map((p) => [p.name, p.rounds, p.examples]), NAMES.map((n, i) => [n, 6, 600 * (i + 1)]));
      const { charts } = await render(renderRunReport(report));
      assert.ok(charts.some((c) => /examples contributed/.test(c.label)));
      for (const chart of charts) assert.ok(chart.marks > 0, `chart "${chart.label}" draws nothing`);
    } finally {
      await storage.close();
    }
  });
});

describe('chart axes', () => {
  it('picks round tick values', () => {
    assert.deepEqual(niceTicks(0.12, 0.87).ticks, [0, 0.2, 0.4, 0.6, 0.8, 1]);
    assert.deepEqual(niceTicks(-3, 7).ticks, [-4, -2, 0, 2, 4, 6, 8]);
    assert.deepEqual(niceTicks(5, 5).ticks, [4.4, 4.6, 4.8, 5, 5.2, 5.4, 5.6]);
  });
});
