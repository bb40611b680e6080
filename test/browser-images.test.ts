// A folder of labelled images as the browser member's data, in a real Chromium: PNG files of
// real MNIST digits in class subfolders are picked with the page's folder input, decoded in
// the page, and become rows whose pixels are the digits' own; badly laid-out folders are
// refused with errors that name the folder or file at fault; and a folder that `concord data
// images` wrote trains in an MNIST-shaped run.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import ts from 'typescript';
import { type Browser, type Page } from 'playwright-core';
import { launchChromium, buildWebPages } from './support/browser.js';
import { loadMnist, MNIST_PIXELS } from '../src/data/mnist.js';
import type { LocalData } from '../web/src/join/local-data.js';
import { schemaMismatch } from '../web/src/join/data-fit.js';
import { makeParameters } from '../src/protocol/tensors.js';
import { addMember, plus, startHarness, startRun, waitForRun, type Harness } from './support/harness.js';
import { encodePng } from '../src/data/png.js';
import { decodeFrame } from '../src/protocol/frame.js';
import { ModelSpecSchema } from '../src/protocol/messages.js';
import { initialParameters } from '../src/model/build.js';

const PER_CLASS = 12;
const CLASSES = [0, 1, 2];
/** Where the page fetches web/src/join modules, transpiled, to run the loader on the files it was given. */
const UNDER_TEST = '/__under-test__/';

let h: Harness;
let browser: Browser;
let page: Page;
let root: string;

function write(path: string, bytes: Uint8Array | string): void {
  mkdirSync(dirname(join(root, path)), { recursive: true });
  writeFileSync(join(root, path), bytes);
}

/** The first PER_CLASS digits of each class, as the bytes written to the PNG files. */
function digits(): { label: number; bytes: Uint8Array }[] {
  const mnist = loadMnist();
  const out: { label: number; bytes: Uint8Array }[] = [];
  for (const label of CLASSES) {
    const rows = [...mnist.y.keys()].filter((i) => mnist.y[i] === label).slice(0, PER_CLASS);
    for (const row of rows) out.push({ label, bytes: Uint8Array.from(mnist.x.subarray(row * MNIST_PIXELS, (row + 1) * MNIST_PIXELS), (v) => Math.round(v * 255)) });
  }
  return out;
}

before(async () => {
  buildWebPages();
  root = mkdtempSync(join(tmpdir(), 'concord-images-'));
  const counters = new Map<number, number>();
  for (const { label, bytes } of digits()) {
    const n = counters.get(label) ?? 0;
    counters.set(label, n + 1);
    write(`digits/${label}/img_${String(n).padStart(2, '0')}.png`, encodePng(28, 28, 1, bytes));
  }
  // What operating systems leave behind is skipped, not refused.
  write('digits/.DS_Store', 'Bud1 junk');
  write('digits/1/._img_00.png', 'AppleDouble junk');

  const colour = (r: number, g: number, b: number) => encodePng(4, 4, 3, Uint8Array.from({ length: 48 }, (_, i) => [r, g, b][i % 3]! + (i >> 3)));
  write('colours/0-red/a.png', colour(200, 10, 10));
  write('colours/0-red/b.png', colour(180, 30, 0));
  write('colours/1_green/a.png', colour(10, 200, 10));
  write('colours/1_green/b.png', colour(0, 150, 40));
  write('colours/1_green/c.png', colour(20, 220, 0));

  const gray = (size: number) => encodePng(size, size, 1, new Uint8Array(size * size).fill(128));
  write('named/0/a.png', gray(28));
  write('named/cats/b.png', gray(28));
  write('mixed/0/a.png', gray(28));
  write('mixed/1/b.png', gray(32));
  write('notes/0/a.png', gray(28));
  write('notes/0/notes.txt', 'not an image');
  write('flat/a.png', gray(28));
  write('flat/b.png', gray(28));

  h = await startHarness({ openEnrollment: true });
  browser = await launchChromium();
  page = await browser.newPage();
  await page.route(`${h.url}${UNDER_TEST}*`, (route) => {
    const name = new URL(route.request().url()).pathname.slice(UNDER_TEST.length).replace(/\.js$/, '.ts');
    const source = readFileSync(join('web/src/join', name), 'utf8');
    const { outputText } = ts.transpileModule(source, { compilerOptions: { module: ts.ModuleKind.ESNext, target: ts.ScriptTarget.ES2022 } });
    return route.fulfill({ contentType: 'text/javascript', body: outputText });
  });
  await page.goto(`${h.url}/join`);
});

after(async () => {
  await browser?.close();
  await h?.close();
  if (root) rmSync(root, { recursive: true, force: true });
});

async function pick(folder: string): Promise<void> {
  await page.getByTestId('image-folder').setInputFiles(join(root, folder));
}

async function alertAfterPicking(folder: string, mentions: string): Promise<string> {
  await pick(folder);
  const alert = page.getByRole('alert').filter({ hasText: mentions });
  await alert.waitFor({ timeout: 10_000 });
  assert.equal(await page.getByTestId('data-summary').count(), 0, 'refused data is not kept');
  return (await alert.textContent())!;
}

test('a folder of MNIST digits becomes grayscale rows equal to the digits, shuffled across the holdout', async () => {
  await pick('digits');
  const summary = (await page.getByTestId('data-summary').textContent({ timeout: 10_000 }))!;
  assert.equal(summary, 'digits (28×28 grayscale images): 29 training rows, 7 holdout rows, 784 features, 3 classes');
  assert.match((await page.getByTestId('class-counts').textContent())!, /28×28×1; per class: 0: 12, 1: 12, 2: 12$/);
  assert.equal(await page.getByRole('alert').count(), 0);

  // The loader, run again in the page on the very files the folder input holds.
  const loaded = await page.evaluate(async (url) => {
    const { loadImageFolder } = (await import(url)) as { loadImageFolder(files: File[]): Promise<LocalData> };
    const input = document.querySelector<HTMLInputElement>('[data-testid=image-folder]')!;
    const data = await loadImageFolder(Array.from(input.files!));
    return { x: [...data.x], y: [...data.y], inputShape: data.inputShape, train: data.train, classes: data.classes, paths: Array.from(input.files!).map((f) => f.webkitRelativePath) };
  }, `${UNDER_TEST}images.js`);
  assert.ok(loaded.paths.includes('digits/.DS_Store') && loaded.paths.includes('digits/1/._img_00.png'), `the junk files were picked too, and skipped: ${loaded.paths.filter((p) => p.includes('/.')).join(', ')}`);
  assert.deepEqual(loaded.inputShape, [28, 28, 1]);
  assert.equal(loaded.train, 29);
  assert.equal(loaded.y.length, 36);

  const key = (label: number, bytes: ArrayLike<number>) => `${label}:${Array.from(bytes).join(',')}`;
  const expected = digits().map(({ label, bytes }) => key(label, bytes)).sort();
  const rows = loaded.y.map((label, r) => {
    const values = loaded.x.slice(r * MNIST_PIXELS, (r + 1) * MNIST_PIXELS);
    const bytes = values.map((v) => Math.round(v * 255));
    // Exactly byte / 255 as float32: nothing smoothed, gamma-corrected or premultiplied.
    bytes.forEach((b, p) => assert.equal(values[p], Math.fround(b / 255), `row ${r}, pixel ${p}`));
    return key(label, bytes);
  });
  assert.deepEqual([...rows].sort(), expected, 'every row is one of the digits, with its class, and every digit is a row');
  assert.ok(new Set(loaded.y.slice(loaded.train)).size >= 2, `the holdout mixes classes: ${loaded.y.slice(loaded.train).join(',')}`);
  assert.notDeepEqual(loaded.y, [...loaded.y].sort(), 'rows are shuffled, not in folder order');

  // Enrollment describes the images by shape; a run's model that takes [784] fits them.
  const data: LocalData = { name: 'digits', x: Float32Array.from(loaded.x), y: Int32Array.from(loaded.y), features: 784, inputShape: loaded.inputShape, classes: loaded.classes, train: loaded.train };
  assert.equal(schemaMismatch(data, { family: 'mlp', inputShape: [784], hidden: [], classes: 10, activation: 'relu' }), null);
  assert.equal(schemaMismatch(data, { family: 'mlp', inputShape: [32, 32, 3], hidden: [], classes: 10, activation: 'relu' }), "the run's model takes 3072 inputs (shape [32, 32, 3]); these images are 28×28×1 = 784");
});

test('colour images become RGB rows; class folders may carry a description after the number', async () => {
  await pick('colours');
  // The digits' summary stays until the new folder is read.
  const summary = (await page.getByTestId('data-summary').filter({ hasText: 'colours' }).textContent({ timeout: 10_000 }))!;
  assert.equal(summary, 'colours (4×4 RGB images): 4 training rows, 1 holdout rows, 48 features, 2 classes');
  assert.match((await page.getByTestId('class-counts').textContent())!, /4×4×3; per class: 0: 2, 1: 3$/);
});

test('badly laid-out folders are refused with errors that name the folder or file', async () => {
  assert.match(await alertAfterPicking('named', 'cats'), /^folder "cats" \(of named\/cats\/b\.png\) is not a class number: .*integer ≥ 0.*"3-pneumonia"/);
  assert.match(await alertAfterPicking('mixed', 'same size'), /^mixed\/1\/b\.png is 32×32 but mixed\/0\/a\.png is 28×28: all images must have the same size$/);
  assert.match(await alertAfterPicking('notes', 'decoded'), /^notes\/0\/notes\.txt could not be decoded as an image/);
  assert.match(await alertAfterPicking('flat', 'directly'), /^flat\/a\.png sits directly in the picked folder: put each image in a subfolder named by its class number/);
});

test('a folder written by `concord data images` trains in a 784-input MNIST run next to two Node members', async () => {
  const out = join(root, 'exported');
  const cli = spawnSync(process.execPath, ['bin/concord.mjs', 'data', 'images', '--data', 'mnist:member=0,members=60,seed=3', '--out', out, '--json'], { encoding: 'utf8' });
  assert.equal(cli.status, 0, cli.stderr);
  const written = JSON.parse(cli.stdout) as { files: number; perClass: number[] };
  assert.equal(written.perClass.length, 10);

  const specs = [
    { name: 'output/kernel', shape: [784, 10] },
    { name: 'output/bias', shape: [10] },
  ];
  const mnistRun = await startHarness({ openEnrollment: true, initialParameters: async () => makeParameters(specs) });
  const member = await browser.newPage();
  try {
    addMember(mnistRun, 'north', 100, plus(0.01), undefined, { dataset: { inputShape: [784], classes: 10 } });
    addMember(mnistRun, 'south', 100, plus(0.02), undefined, { dataset: { inputShape: [784], classes: 10 } });
    await member.goto(`${mnistRun.url}/join`);
    await member.getByTestId('image-folder').setInputFiles(out);
    const summary = (await member.getByTestId('data-summary').textContent({ timeout: 20_000 }))!;
    const train = Math.round(written.files * 0.8);
    assert.equal(summary, `exported (28×28 grayscale images): ${train} training rows, ${written.files - train} holdout rows, 784 features, 10 classes`);
    await member.getByTestId('member-name').fill('digits-lab');
    await member.getByTestId('join').click();
    const memberId = (await member.getByTestId('member-id').textContent({ timeout: 15_000 }))!;
    const runId = await startRun(mnistRun, {
      name: 'digits',
      model: { family: 'mlp', inputShape: [784], hidden: [], classes: 10 },
      rounds: 1,
      minAvailableMembers: 3,
      minTrainMembers: 3,
      roundDeadlineSeconds: 60,
      train: { epochs: 2, batchSize: 32, learningRate: 0.1 },
    });
    assert.equal(await waitForRun(mnistRun, runId, 90_000), 'completed', JSON.stringify((await mnistRun.storage.getRun(runId))?.error));
    const [round] = await mnistRun.storage.listRounds(runId);
    assert.ok(round!.participants.includes(memberId), 'the round counts the browser member');
    // Its holdout evaluation after one round on ~70 digits: far above the 10 % of guessing.
    const line = (await member.getByText(/round 1: evaluated, accuracy/).textContent({ timeout: 20_000 }))!;
    assert.ok(Number(line.match(/accuracy ([\d.]+)/)![1]) > 0.3, line);
  } finally {
    await member.close();
    await mnistRun.close();
  }
});

test('the same digits train a convolutional network in the page on WebAssembly, with the gradient kernels Node members use', async () => {
  const out = join(root, 'exported-cnn');
  const cli = spawnSync(process.execPath, ['bin/concord.mjs', 'data', 'images', '--data', 'mnist:member=1,members=60,seed=3', '--out', out, '--json'], { encoding: 'utf8' });
  assert.equal(cli.status, 0, cli.stderr);
  const model = ModelSpecSchema.parse({ family: 'cnn', inputShape: [28, 28, 1], conv: [{ filters: 4, kernelSize: 3, pool: 2 }], dense: [], classes: 10 });
  const initial = initialParameters(model, 5);
  const cnnRun = await startHarness({ openEnrollment: true, initialParameters: async () => initial });
  const member = await browser.newPage();
  try {
    addMember(cnnRun, 'north', 100, plus(0), undefined, { dataset: { inputShape: [28, 28, 1], classes: 10 } });
    addMember(cnnRun, 'south', 100, plus(0), undefined, { dataset: { inputShape: [28, 28, 1], classes: 10 } });
    const updates: Float32Array[] = [];
    member.on('request', (r) => {
      if (r.method() !== 'POST' || !/\/v1\/tasks\/[^/]+\/result$/.test(new URL(r.url()).pathname)) return;
      const frame = decodeFrame(new Uint8Array(r.postDataBuffer()!));
      if ((frame.header as { kind: string }).kind === 'train') updates.push(frame.parameters!.data);
    });
    await member.goto(`${cnnRun.url}/join?backend=wasm`);
    await member.getByTestId('image-folder').setInputFiles(out);
    await member.getByTestId('data-summary').waitFor({ timeout: 20_000 });
    await member.getByTestId('member-name').fill('cnn-lab');
    await member.getByTestId('join').click();
    const memberId = (await member.getByTestId('member-id').textContent({ timeout: 15_000 }))!;
    const backend = (await member.getByTestId('log').getByText(/TensorFlow\.js backend:/).textContent({ timeout: 15_000 }))!;
    assert.match(backend, /TensorFlow\.js backend: wasm($|;)/, backend);
    const runId = await startRun(cnnRun, { name: 'digits-cnn', model, rounds: 1, minAvailableMembers: 3, minTrainMembers: 3, roundDeadlineSeconds: 90, train: { epochs: 3, batchSize: 16, learningRate: 0.1 } });
    assert.equal(await waitForRun(cnnRun, runId, 120_000), 'completed', JSON.stringify((await cnnRun.storage.getRun(runId))?.error));
    const [round] = await cnnRun.storage.listRounds(runId);
    assert.ok(round!.participants.includes(memberId), 'the round counts the browser member');
    // The page's update moved the convolution's filters: their gradient (Conv2DBackpropFilter) ran on WASM.
    assert.equal(updates.length, 1);
    const specs = initial.specs;
    const kernel = specs.findIndex((s) => s.name.endsWith('/kernel'));
    const offset = specs.slice(0, kernel).reduce((n, s) => n + s.shape.reduce((a, b) => a * b, 1), 0);
    const size = specs[kernel]!.shape.reduce((a, b) => a * b, 1);
    assert.match(specs[kernel]!.name, /conv/);
    let moved = 0;
    for (let i = offset; i < offset + size; i++) moved = Math.max(moved, Math.abs(updates[0]![i]! - initial.data[i]!));
    assert.ok(moved > 1e-3 && Number.isFinite(moved), `largest filter change ${moved}`);
    const line = (await member.getByText(/round 1: evaluated, accuracy/).textContent({ timeout: 30_000 }))!;
    assert.ok(Number(line.match(/accuracy ([\d.]+)/)![1]) > 0.2, line);
  } finally {
    await member.close();
    await cnnRun.close();
  }
});
