// The browser member on TensorFlow.js's WebAssembly backend, in a real Chromium: with
// `/join?backend=wasm` the page loads the SIMD binary the coordinator serves from the web
// build (not the threaded one, which needs cross-origin isolation the coordinator does not
// set), trains on it and is counted in a round next to two Node members. A backend name
// the page does not know leaves it on the CPU backend, and its log says so.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { type Browser } from 'playwright-core';
import { launchChromium, buildWebPages, TWO_FEATURE_SPECS } from './support/browser.js';
import { decodeFrame } from '../src/protocol/frame.js';
import { makeParameters } from '../src/protocol/tensors.js';
import { addMember, plus, startHarness, startRun, waitForRun, type Harness } from './support/harness.js';

// The run's model as TF.js builds it for an MLP without hidden layers (src/model/build.ts).
const SPECS = TWO_FEATURE_SPECS;
const WASM_DIR = '/assets/tfjs-wasm/4.22.0/';

let h: Harness;
let browser: Browser;

before(async () => {
  buildWebPages();
  h = await startHarness({ openEnrollment: true, initialParameters: async () => makeParameters(SPECS) });
  browser = await launchChromium();
});

after(async () => {
  await browser?.close();
  await h?.close();
});

test('with ?backend=wasm the browser member trains on the SIMD WebAssembly backend and is counted in a round', async () => {
  addMember(h, 'north-clinic', 100, plus(0.1));
  addMember(h, 'south-hospital', 200, plus(0.2));
  const page = await browser.newPage();
  const binaries: { path: string; status: number; contentType: string }[] = [];
  page.on('response', (r) => {
    const url = new URL(r.url());
    if (url.pathname.endsWith('.wasm')) binaries.push({ path: url.pathname, status: r.status(), contentType: r.headers()['content-type'] ?? '' });
  });
  const trainSeconds: number[] = [];
  page.on('request', (r) => {
    if (r.method() !== 'POST' || !/\/v1\/tasks\/[^/]+\/result$/.test(new URL(r.url()).pathname)) return;
    const header = decodeFrame(new Uint8Array(r.postDataBuffer()!)).header as { kind: string; metrics?: Record<string, number> };
    if (header.kind === 'train' && header.metrics?.trainSeconds !== undefined) trainSeconds.push(header.metrics.trainSeconds);
  });

  await page.goto(`${h.url}/join?backend=wasm&shard=blobs`);
  await page.getByTestId('demo-shard').click();
  await page.getByTestId('member-name').fill('wasm-lab');
  await page.getByTestId('join').click();
  const memberId = (await page.getByTestId('member-id').textContent({ timeout: 15_000 }))!;
  assert.match(memberId, /^mem_/);
  const enrolled = (await page.getByTestId('log').getByText(/TensorFlow\.js backend:/).textContent({ timeout: 15_000 }))!;
  assert.match(enrolled, /TensorFlow\.js backend: wasm($|;)/, enrolled);

  assert.equal(await page.evaluate(() => crossOriginIsolated), false, 'the coordinator sets no COOP/COEP headers');
  assert.deepEqual(binaries, [{ path: `${WASM_DIR}tfjs-backend-wasm-simd.wasm`, status: 200, contentType: 'application/wasm' }], 'one binary, SIMD without threads');

  const runId = await startRun(h, { name: 'on-wasm', rounds: 1, minAvailableMembers: 3, minTrainMembers: 3, roundDeadlineSeconds: 30, train: { epochs: 2, batchSize: 32, learningRate: 0.1 } });
  assert.equal(await waitForRun(h, runId, 30_000), 'completed', JSON.stringify(await h.storage.getRun(runId)));
  const [round] = await h.storage.listRounds(runId);
  assert.ok(round!.participants.includes(memberId), 'the round counts the browser member');
  assert.equal(round!.participants.length, 3);
  assert.equal(trainSeconds.length, 1, 'the page sent one training result');
  console.log(`the browser member trained on wasm in ${trainSeconds[0]} s`);
  await page.close();

  // Every binary the build emits is served to a browser that may need it, as WASM, for good.
  for (const binary of ['tfjs-backend-wasm.wasm', 'tfjs-backend-wasm-simd.wasm', 'tfjs-backend-wasm-threaded-simd.wasm']) {
    const res = await fetch(`${h.url}${WASM_DIR}${binary}`);
    assert.equal(res.status, 200, binary);
    assert.equal(res.headers.get('content-type'), 'application/wasm', binary);
    assert.equal(res.headers.get('cache-control'), 'public, max-age=31536000, immutable', binary);
    assert.ok(WebAssembly.validate(new Uint8Array(await res.arrayBuffer())), `${binary} is a WebAssembly module`);
  }
});

test('a backend name the page does not know leaves it on the CPU backend, and its log says so', async () => {
  const page = await browser.newPage();
  await page.goto(`${h.url}/join?backend=webgpu&shard=blobs`);
  await page.getByTestId('demo-shard').click();
  await page.getByTestId('member-name').fill('unknown-backend-lab');
  await page.getByTestId('join').click();
  const enrolled = (await page.getByTestId('log').getByText(/TensorFlow\.js backend:/).textContent({ timeout: 15_000 }))!;
  assert.match(enrolled, /TensorFlow\.js backend: cpu \(\?backend=webgpu was asked for, which names no backend: expected one of webgl, wasm, cpu\)/, enrolled);
  await page.close();
});
