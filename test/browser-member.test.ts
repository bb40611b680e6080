// The zero-install browser member (/join) in a real Chromium: it enrolls under open
// enrollment with a WebCrypto Ed25519 key, trains on its demo shard with TensorFlow.js and
// is counted in rounds' aggregates next to two Node members — plain FedAvg, and SecAgg+
// rounds with DP-SGD or with client-level DP and FedProx. Every request the page makes is
// recorded to show that only protocol messages left it, never its data.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync } from 'node:fs';
import { type Browser, type Page } from 'playwright-core';
import { launchChromium, buildWebPages, TWO_FEATURE_SPECS, secureNodeMember } from './support/browser.js';
import { MASKED_VECTOR_TENSOR } from '../src/privacy/secagg/wire.js';
import { decodeFrame } from '../src/protocol/frame.js';
import { makeParameters, totalSize } from '../src/protocol/tensors.js';
import { RunConfigSchema } from '../src/protocol/messages.js';
import { PrivacyBudgetLedger } from '../src/privacy/dp/budget.js';
import { epsilonOf, sampleLevelCharge } from '../src/privacy/dp/charges.js';
import { demoShard, parseCsv } from '../web/src/join/local-data.js';
import { schemaMismatch } from '../web/src/join/data-fit.js';
import { addMember, OPERATOR, plus, startHarness, startRun, waitForRun, type Harness } from './support/harness.js';

const SPECS = TWO_FEATURE_SPECS;

let h: Harness;
let browser: Browser;
let page: Page;
let memberId: string;

before(async () => {
  buildWebPages();
  h = await startHarness({ openEnrollment: true, initialParameters: async () => makeParameters(SPECS) });
  browser = await launchChromium();
});

after(async () => {
  await browser?.close();
  await h?.close();
});

interface Sent {
  method: string;
  url: URL;
  contentType: string;
  body: Buffer | null;
}

const sent: Sent[] = [];

test('a browser member takes part in rounds and sends only protocol messages', async () => {
  secureNodeMember(h, 'north-clinic', 100, 0.1);
  secureNodeMember(h, 'south-hospital', 200, 0.2);
  page = await browser.newPage();
  page.on('request', (r) => sent.push({ method: r.method(), url: new URL(r.url()), contentType: r.headers()['content-type'] ?? '', body: r.postDataBuffer() }));

  await page.goto(`${h.url}/join?shard=blobs`);
  await page.getByTestId('demo-shard').click();
  assert.match((await page.getByTestId('data-summary').textContent())!, /192 training rows, 48 holdout rows, 2 features, 2 classes/);
  await page.getByTestId('member-name').fill('browser-lab');
  await page.getByTestId('join').click();
  memberId = (await page.getByTestId('member-id').textContent({ timeout: 15_000 }))!;
  assert.match(memberId, /^mem_/);

  const runId = await startRun(h, { name: 'with-a-browser', rounds: 2, minAvailableMembers: 3, minTrainMembers: 3, roundDeadlineSeconds: 30, train: { epochs: 2, batchSize: 32, learningRate: 0.1 } });
  assert.equal(await waitForRun(h, runId, 60_000), 'completed');
  const rounds = await h.storage.listRounds(runId);
  assert.equal(rounds.length, 2);
  for (const round of rounds) assert.ok(round.participants.includes(memberId), `round ${round.round} counts the browser member`);
  await page.waitForFunction(() => Number(document.querySelector('[data-testid=rounds-trained]')?.textContent) >= 2, null, { timeout: 10_000 });

  // Only the page, its assets and protocol messages, all to the coordinator.
  const shard = demoShard();
  const rows = Buffer.from(shard.x.buffer, shard.x.byteOffset, shard.x.byteLength);
  const modelBytes = totalSize(SPECS) * 4;
  const kinds = new Set<string>();
  for (const request of sent) {
    assert.equal(request.url.origin, h.url, `${request.url} goes to the coordinator only`);
    const path = request.url.pathname;
    if (request.method === 'GET') {
      assert.equal(request.body, null);
      assert.ok(path === '/join' || path.startsWith('/assets/') || path === '/v1/tasks/next' || path === '/v1/join/context', `unexpected GET ${path}`);
      kinds.add(path === '/v1/tasks/next' ? 'poll' : 'page');
      continue;
    }
    assert.equal(request.method, 'POST', `${request.method} ${path}`);
    const body = request.body!;
    // No example of the shard (its two float32 features) appears in any body, nor its values as text.
    for (let i = 0; i < shard.y.length; i++) assert.ok(body.indexOf(rows.subarray(i * 8, i * 8 + 8)) < 0, `${path} carries row ${i} of the shard`);
    for (const value of shard.x.subarray(0, 20)) assert.ok(!body.toString('latin1').includes(String(value).slice(0, 8)), `${path} carries a feature value as text`);
    if (path === '/v1/members/enroll') {
      const enroll = JSON.parse(body.toString('utf8')) as Record<string, unknown>;
      assert.deepEqual(Object.keys(enroll).sort(), ['dataset', 'name', 'protocolVersion', 'publicKey']);
      assert.deepEqual(enroll.dataset, { name: shard.name, numExamples: 192, numHoldout: 48, inputShape: [2], classes: 2 });
      kinds.add('enroll');
    } else if (path === '/v1/members/heartbeat') {
      assert.equal(body.toString('utf8'), '{}');
      kinds.add('heartbeat');
    } else if (/^\/v1\/tasks\/[^/]+\/decline$/.test(path)) {
      assert.deepEqual(Object.keys(JSON.parse(body.toString('utf8')) as object), ['reason']);
      kinds.add('decline');
    } else {
      assert.match(path, /^\/v1\/tasks\/[^/]+\/result$/);
      assert.equal(request.contentType, 'application/vnd.concord.frame');
      const frame = decodeFrame(new Uint8Array(body));
      const header = frame.header as Record<string, unknown>;
      for (const key of Object.keys(header)) assert.ok(['protocolVersion', 'taskId', 'kind', 'runId', 'round', 'numExamples', 'metrics', 'tensors'].includes(key), `result header field ${key}`);
      for (const value of Object.values(header.metrics as Record<string, unknown>)) assert.equal(typeof value, 'number');
      if (header.kind === 'train') {
        assert.deepEqual(frame.parameters!.specs, SPECS);
        assert.equal(frame.parameters!.data.byteLength, modelBytes, 'the payload is the model, not a byte more');
        kinds.add('train-result');
      } else {
        assert.equal(header.kind, 'evaluate');
        assert.equal(frame.parameters, undefined, 'an evaluation carries metrics only');
        kinds.add('evaluate-result');
      }
    }
  }
  assert.ok(['page', 'enroll', 'poll', 'train-result'].every((k) => kinds.has(k)), `saw ${[...kinds].join(', ')}`);
});

/**
 * The browser member's own update in a secure round, recovered from the aggregate: the Node
 * members add 0.1 (weight 100) and 0.2 (weight 200) to every weight, so what is left of the
 * weighted sum is the browser's w_b·Δ_b. Without the browser every entry would be 1/6.
 */
async function browserDelta(runId: string, round: number, browserWeight: number): Promise<Float32Array> {
  const before = round === 1 ? new Float32Array(totalSize(SPECS)) : (await h.storage.getCheckpoint(runId, round - 1))!.parameters.data;
  const after = (await h.storage.getCheckpoint(runId, round))!.parameters.data;
  const total = 100 + 200 + browserWeight;
  return after.map((v, i) => ((v - before[i]!) * total - 100 * 0.1 - 200 * 0.2) / browserWeight);
}

/** The masked vectors the page sent: uint32 ring elements only, one more than the model's size. */
function maskedResults(from: number): number {
  let count = 0;
  for (const request of sent.slice(from)) {
    if (request.method !== 'POST' || !/\/result$/.test(request.url.pathname)) continue;
    const frame = decodeFrame(new Uint8Array(request.body!));
    const header = frame.header as { kind: string; stage?: string; metrics?: Record<string, unknown> };
    assert.equal(header.kind, 'secagg', 'a secure run gets no plain training result');
    if (header.stage !== 'collectMaskedVectors') {
      assert.equal(frame.parameters, undefined, `${header.stage} carries keys or encrypted shares only`);
      continue;
    }
    assert.deepEqual(frame.parameters!.specs, [{ name: MASKED_VECTOR_TENSOR, shape: [totalSize(SPECS) + 1], dtype: 'uint32' }]);
    assert.deepEqual(header.metrics, {}, 'training metrics stay in the page under secure aggregation');
    count++;
  }
  return count;
}

test('with secure aggregation and DP-SGD the browser member is counted in the masked sum next to two Node members', async () => {
  const from = sent.length;
  const runId = await startRun(h, {
    name: 'secure-and-private',
    rounds: 2,
    minAvailableMembers: 3,
    minTrainMembers: 3,
    fractionEvaluate: 0,
    minEvaluateMembers: 0,
    roundDeadlineSeconds: 30,
    train: { epochs: 2, batchSize: 32, learningRate: 0.5 },
    secureAggregation: true,
    differentialPrivacy: { level: 'sample', noiseMultiplier: 1, clippingNorm: 1, budget: { epsilon: 50, delta: 1e-5 } },
  });
  assert.equal(await waitForRun(h, runId, 90_000), 'completed', JSON.stringify(await h.storage.getRun(runId)));
  const rounds = await h.storage.listRounds(runId);
  assert.equal(rounds.length, 2);
  for (const round of rounds) {
    assert.ok(round.participants.includes(memberId), `round ${round.round} counts the browser member`);
    assert.equal(round.participants.length, 3);
    const delta = await browserDelta(runId, round.round, 192);
    // DP-SGD moved the browser's weights (noise alone would too, but by ~σ·C/lot, not by 0.1–1):
    // its share of the sum is there and is not a copy of a Node member's constant delta.
    assert.ok(delta.some((d) => Math.abs(d) > 0.01), `round ${round.round}: the browser's update is in the sum (${[...delta].map((d) => d.toFixed(3))})`);
    assert.ok(delta.every((d) => Number.isFinite(d) && Math.abs(d) < 20), `round ${round.round}: a plausible update (${[...delta].map((d) => d.toFixed(3))})`);
  }
  // One masked vector per round (more if a busy machine made a round attempt start over).
  assert.ok(maskedResults(from) >= 2, 'a masked vector per round');
  await page.getByText(/round 2: masked update sent \(192 examples\)/).waitFor({ timeout: 10_000 });
  await page.getByText(`run ${runId}: secure aggregation (only a masked update leaves the page), DP-SGD (noise multiplier 1, clipping norm 1)`).waitFor({ timeout: 10_000 });
});

test('with secure aggregation, client-level DP and FedProx the browser member clips, noises and masks its update', async () => {
  const from = sent.length;
  const runId = await startRun(h, {
    name: 'secure-client-dp-fedprox',
    strategy: { name: 'fedprox', options: { mu: 0.1 } },
    rounds: 1,
    minAvailableMembers: 3,
    minTrainMembers: 3,
    fractionEvaluate: 0,
    minEvaluateMembers: 0,
    roundDeadlineSeconds: 30,
    train: { epochs: 2, batchSize: 32, learningRate: 0.5 },
    secureAggregation: true,
    differentialPrivacy: { level: 'client', mode: 'distributed', noiseMultiplier: 0.01, clippingNorm: 0.5, budget: { epsilon: 1e6, delta: 1e-5 } },
  });
  assert.equal(await waitForRun(h, runId, 90_000), 'completed', JSON.stringify(await h.storage.getRun(runId)));
  const [round] = await h.storage.listRounds(runId);
  assert.ok(round!.participants.includes(memberId), 'the round counts the browser member');
  assert.ok(maskedResults(from) >= 1);
  // Under distributed client DP every member has weight 1 and clips to C = 0.5 before adding
  // its noise share: Node members' constant deltas (norm 0.1·√6, 0.2·√6) stay below C, so
  // what is left of the sum, 3·Δθ − 0.1 − 0.2, is the browser's clipped and noised update.
  const after = (await h.storage.getCheckpoint(runId, 1))!.parameters.data;
  const initial = new Float32Array(totalSize(SPECS));
  const browser = after.map((v, i) => 3 * (v - initial[i]!) - 0.1 - 0.2);
  const norm = Math.hypot(...browser);
  // Two epochs at lr 0.5 move this model by a norm of about 1.5 (see the DP-SGD test), so
  // a norm at C means the page clipped; the noise (σ = 0.01·C per member) barely moves it.
  assert.ok(Math.abs(norm - 0.5) < 0.05, `the browser's update is in the sum, clipped to C = 0.5 (norm ${norm})`);
  await page.getByText(/^run .*: secure aggregation .*client-level DP \(update clipped to 0\.5, noise σ .* added here\), FedProx \(μ = 0\.1\)$/).waitFor({ timeout: 10_000 });

  // A round that started over logs a task id that is one long word (as on a loaded machine,
  // where a retried round's old task is refused): it wraps instead of widening the page.
  await page.evaluate(() => {
    const line = document.createElement('li');
    line.textContent = `round 1 train: result not accepted: CONCORD_ERR_STALE_ROUND: task run_${'x'.repeat(20)}.r1.secagg.${'f'.repeat(60)} is not open`;
    document.querySelector('[data-testid=log]')!.append(line);
  });
  // The page after these rounds, at laptop and phone width, for people to look at.
  mkdirSync('test-results', { recursive: true });
  for (const [width, height] of [[1280, 800], [390, 844]] as const) {
    await page.setViewportSize({ width, height });
    await page.screenshot({ path: `test-results/join-${width}.png`, fullPage: true });
    const overflow = await page.evaluate(() => document.documentElement.scrollWidth - document.documentElement.clientWidth);
    assert.equal(overflow, 0, `no sideways scrolling at ${width} px`);
  }
});

test('with its own privacy budget the browser member declines tasks without DP and tasks beyond its budget, and remembers what it spent', async () => {
  const train = RunConfigSchema.parse({ model: { family: 'mlp', inputShape: [2], hidden: [], classes: 2 }, rounds: 1, train: { epochs: 1, batchSize: 32, learningRate: 0.1 } }).train;
  const perRound = sampleLevelCharge(192, train, 1);
  const after = (rounds: number): number => epsilonOf(Array.from({ length: rounds }, () => perRound), 1e-5);
  // Its own budget fits one DP-SGD round; the coordinator's would allow many.
  const budget = (after(1) + after(2)) / 2;
  const careful = await browser.newPage();
  try {
    await careful.goto(`${h.url}/join?shard=blobs`);
    await careful.getByTestId('demo-shard').click();
    await careful.getByTestId('member-name').fill('careful-lab');
    await careful.getByTestId('privacy-budget').fill(String(budget));
    await careful.getByTestId('join').click();
    const carefulId = (await careful.getByTestId('member-id').textContent({ timeout: 15_000 }))!;
    const common = { minAvailableMembers: 4, minTrainMembers: 3, fractionEvaluate: 0, minEvaluateMembers: 0, roundDeadlineSeconds: 30, train: { epochs: 1, batchSize: 32, learningRate: 0.1 } };

    const plain = await startRun(h, { name: 'no-dp', rounds: 1, ...common });
    assert.equal(await waitForRun(h, plain, 60_000), 'completed', JSON.stringify((await h.storage.getRun(plain))?.error));
    assert.ok(!(await h.storage.listRounds(plain))[0]!.participants.includes(carefulId), 'no DP: it sat out');
    await careful.getByText(/declined: this member trains only under differential privacy \(budget ε=[\d.]+\); the task asks for none/).waitFor({ timeout: 10_000 });

    // The coordinator's budget is not what stops it (the client-DP run above spent much of the shared datasets').
    const dp = await startRun(h, { name: 'dp-sgd', rounds: 2, ...common, differentialPrivacy: { level: 'sample', noiseMultiplier: 1, clippingNorm: 1, budget: { epsilon: 1e6, delta: 1e-5 } } });
    assert.equal(await waitForRun(h, dp, 90_000), 'completed', JSON.stringify((await h.storage.getRun(dp))?.error));
    // It trains once (the log and its ledger say so below) and never beyond: at most one round counts it.
    const counted = (await h.storage.listRounds(dp)).filter((r) => r.participants.includes(carefulId));
    assert.ok(counted.length <= 1, `counted in rounds ${counted.map((r) => r.round).join(', ')}`);
    await careful.getByText(`privacy: careful-lab/demo shard (2 features, 2 classes) has now spent ε=${after(1).toFixed(3)} of ${budget} (δ=0.00001)`).waitFor({ timeout: 10_000 });
    await careful.getByText(new RegExp(`declined: .*this task would spend ε=${after(2).toFixed(3)} > budget`)).first().waitFor({ timeout: 10_000 });

    // The ledger is in IndexedDB: a reload keeps what was spent.
    const saved = await careful.evaluate(
      () =>
        new Promise<unknown>((resolve, reject) => {
          const open = indexedDB.open('concord-member', 1);
          open.onerror = () => reject(open.error);
          open.onsuccess = () => {
            const request = open.result.transaction('identity', 'readonly').objectStore('identity').get('ledger:careful-lab');
            request.onsuccess = () => resolve(request.result);
            request.onerror = () => reject(request.error);
          };
        }),
    );
    const ledger = PrivacyBudgetLedger.fromJSON(saved);
    assert.ok(Math.abs(ledger.spent('careful-lab/demo shard (2 features, 2 classes)').epsilon - after(1)) < 1e-9);
  } finally {
    await careful.close();
  }
});

test('a CSV shard is checked against the run\'s input schema with errors that say where', () => {
  const data = parseCsv('a,b,c,label\n1,2,3,0\n4,5,6,2\n7,8,9,1\n0,0,0,1\n1,1,1,0\n', 'clinic.csv');
  assert.equal(data.features, 3);
  assert.equal(data.classes, 3);
  assert.deepEqual([...data.y], [0, 2, 1, 1, 0]);
  assert.deepEqual([...data.x.subarray(3, 6)], [4, 5, 6]);
  assert.equal(data.train, 4);
  assert.equal(schemaMismatch(data, { family: 'mlp', inputShape: [3], hidden: [], classes: 3, activation: 'relu' }), null);
  assert.match(schemaMismatch(data, { family: 'mlp', inputShape: [2], hidden: [], classes: 3, activation: 'relu' })!, /takes 2 input features .* has 3/);
  assert.match(schemaMismatch(data, { family: 'mlp', inputShape: [3], hidden: [], classes: 2, activation: 'relu' })!, /2 classes .* labels up to 2/);
  assert.throws(() => parseCsv('a,label\n1,x\n', 'bad.csv'), /bad.csv, line 2, column "label": expected a number, found "x"/);
  assert.throws(() => parseCsv('a,label\n1,0.5\n', 'bad.csv'), /label "label" must be an integer/);
  assert.throws(() => parseCsv('a,label\n1\n', 'bad.csv'), /line 2: expected 2 values, found 1/);
  assert.throws(() => parseCsv('a,label\n', 'bad.csv'), /header row and at least one data row/);
});

test('without open enrollment the page needs an invitation, and with one it enrolls and is counted next to two Node members', async () => {
  const closed = await startHarness({ openEnrollment: false, initialParameters: async () => makeParameters(SPECS) });
  const invite = async (): Promise<string> => {
    const res = await fetch(`${closed.url}/v1/invitations`, { method: 'POST', headers: { authorization: `Bearer ${OPERATOR}`, 'content-type': 'application/json' }, body: '{}' });
    return ((await res.json()) as { code: string }).code;
  };
  try {
    const other = await browser.newPage();
    await other.goto(`${closed.url}/join?shard=blobs`);
    assert.match((await other.getByTestId('context-error').textContent({ timeout: 15_000 }))!, /only with an invitation/);
    await other.getByTestId('demo-shard').click();
    await other.getByTestId('data-summary').waitFor();
    await other.getByTestId('member-name').fill('invited-lab');
    // Join says why it cannot be pressed yet, rather than failing after the click.
    assert.equal(await other.getByTestId('join').isDisabled(), true);
    assert.match((await other.getByTestId('join-why').textContent())!, /only with an invitation/);
    assert.equal((await closed.storage.listMembers()).length, 0);

    addMember(closed, 'east-clinic', 100, plus(0.1), undefined, { invitation: await invite() });
    addMember(closed, 'west-hospital', 200, plus(0.2), undefined, { invitation: await invite() });
    await other.getByTestId('invitation').fill(await invite());
    await other.getByTestId('join').click();
    const invited = (await other.getByTestId('member-id').textContent({ timeout: 15_000 }))!;
    assert.match(invited, /^mem_/);
    const runId = await startRun(closed, { name: 'invited', rounds: 1, minAvailableMembers: 3, minTrainMembers: 3, roundDeadlineSeconds: 30, train: { epochs: 1, batchSize: 32, learningRate: 0.1 } });
    assert.equal(await waitForRun(closed, runId, 60_000), 'completed');
    const [round] = await closed.storage.listRounds(runId);
    assert.deepEqual(round!.participants.length, 3);
    assert.ok(round!.participants.includes(invited), 'the invited browser member is counted');
    await other.close();
  } finally {
    await closed.close();
  }
});
