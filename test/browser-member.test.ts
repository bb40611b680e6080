// The zero-install browser member (/join) in a real Chromium: it enrolls under open
// enrollment with a WebCrypto Ed25519 key, trains on its demo shard with TensorFlow.js and
// is counted in a FedAvg run's aggregates next to two Node members. Every request the page
// makes is recorded to show that only protocol messages left it, never its data.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { chromium, type Browser, type Page } from 'playwright-core';
import { decodeFrame } from '../src/protocol/frame.js';
import { totalSize } from '../src/protocol/tensors.js';
import { demoShard, parseCsv, schemaMismatch } from '../web/src/join/local-data.js';
import { addMember, plus, SPECS, startHarness, startRun, waitForRun, type Harness } from './support/harness.js';

let h: Harness;
let browser: Browser;
let page: Page;
let memberId: string;

before(async () => {
  const build = spawnSync(process.execPath, ['scripts/build-web.mjs'], { stdio: 'inherit' });
  assert.equal(build.status, 0, 'the web pages must build');
  h = await startHarness({ openEnrollment: true });
  browser = await chromium.launch({ executablePath: '/usr/bin/chromium', args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking'] });
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

test('a browser member takes part in rounds and sends only protocol messages', async () => {
  addMember(h, 'north-clinic', 100, plus(0.1));
  addMember(h, 'south-hospital', 200, plus(0.2));
  page = await browser.newPage();
  const sent: Sent[] = [];
  page.on('request', (r) => sent.push({ method: r.method(), url: new URL(r.url()), contentType: r.headers()['content-type'] ?? '', body: r.postDataBuffer() }));

  await page.goto(`${h.url}/join`);
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
      assert.ok(path === '/join' || path.startsWith('/assets/') || path === '/v1/tasks/next', `unexpected GET ${path}`);
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

test('the browser member declines a differentially private run, and the round goes on without it', async () => {
  const runId = await startRun(h, {
    name: 'private-without-browser',
    rounds: 1,
    minAvailableMembers: 3,
    minTrainMembers: 2,
    roundDeadlineSeconds: 30,
    train: { epochs: 1, batchSize: 32, learningRate: 0.1 },
    differentialPrivacy: { level: 'sample', noiseMultiplier: 1, clippingNorm: 1, budget: { epsilon: 8, delta: 1e-5 } },
  });
  assert.equal(await waitForRun(h, runId, 60_000), 'completed');
  const [round] = await h.storage.listRounds(runId);
  assert.ok(!round!.participants.includes(memberId));
  assert.equal(round!.participants.length, 2);
  await page.getByText(/declined: the browser member does not support differential privacy yet/).first().waitFor({ timeout: 10_000 });
  await page.close();
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

test('without open enrollment the page needs an invitation and says so', async () => {
  const closed = await startHarness({ openEnrollment: false });
  try {
    const other = await browser.newPage();
    await other.goto(`${closed.url}/join`);
    await other.getByTestId('demo-shard').click();
    await other.getByTestId('member-name').fill('uninvited-lab');
    await other.getByTestId('join').click();
    assert.match((await other.getByRole('alert').textContent({ timeout: 15_000 }))!, /^enrollment failed: .*invitation/i);
    assert.equal((await closed.storage.listMembers()).length, 0);
    await other.close();
  } finally {
    await closed.close();
  }
});
