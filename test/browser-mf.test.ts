// Federated matrix factorisation with a browser member, in a real Chromium: the demo's
// generated ratings (src/data/ratings.ts, what `npm start -- --task recsys` trains on) are
// split by region into three ratings files with disjoint users; two Node members read theirs
// with `ratings:file=…`, the /join page reads the third with the same reader and trains with
// the family's own learner. Over three rounds each aggregate is the FedAvg of all three
// members' updates and the holdout RMSE falls. Every request the page makes is recorded: its
// users' factors (replayed in Node from the tasks the page received, which reproduces the
// page's updates bit for bit) appear in none, and its updates carry exactly the item factors
// and biases.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Browser, Page } from 'playwright-core';
import { formatRatingsCsv } from '../src/data/ratings.js';
import { loadMemberData } from '../src/data/spec.js';
import { initialParameters, parameterSpecs } from '../src/model/build.js';
import { familyOf } from '../src/model/families/index.js';
import { runMemberService } from '../src/node/service.js';
import { decodeFrame } from '../src/protocol/frame.js';
import type { ModelSpec, TaskHeader } from '../src/protocol/messages.js';
import type { Parameters } from '../src/protocol/tensors.js';
import { parseRatings } from '../web/src/join/ratings-file.js';
import { buildWebPages, launchChromium } from './support/browser.js';
import { startHarness, startRun, waitForRun, type Harness } from './support/harness.js';

/** The recsys demo's generator, smaller: 3 regions, one per member, so members hold disjoint users. */
const GENERATED = 'users=900,items=400,regions=3';
const MODEL = { family: 'mf' as const, items: 400, factors: 8, ratingRange: [1, 5] as [number, number], l2: 0.02 };
const BROWSER = 'browser-lab';
const SHOTS = 'test-results';

let h: Harness;
let browser: Browser;
let dir: string;
const file = (member: number): string => join(dir, `region-${member}.csv`);

before(async () => {
  buildWebPages();
  dir = mkdtempSync(join(tmpdir(), 'concord-mf-'));
  // Each member's users (train and holdout), written as `concord data ratings` writes them.
  for (const member of [0, 1, 2]) {
    const data = await loadMemberData(`ratings:member=${member},members=3,partition=source,${GENERATED}`);
    const x = Float32Array.from([...data.train.x, ...data.holdout.x]);
    const y = Int32Array.from([...data.train.y, ...data.holdout.y]);
    writeFileSync(file(member), formatRatingsCsv({ x, y }));
  }
  // A generous heartbeat timeout: a loaded machine must not make a member look gone mid-task.
  h = await startHarness({ openEnrollment: true, heartbeatTimeoutMs: 60_000, initialParameters: async (config) => initialParameters(config.model, config.seed) });
  browser = await launchChromium();
});

after(async () => {
  await browser?.close();
  await h?.close();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

/** The seed derivation of the member stack (src/node/tfjs-handler.ts with member-loop.ts's name hash). */
function trainingSeed(task: TaskHeader, name: string): number {
  let memberSeed = 0;
  for (const ch of name) memberSeed = (memberSeed * 31 + ch.charCodeAt(0)) | 0;
  return (task.config.seed * 1_000_003 + task.round * 7919 + memberSeed) | 0;
}

const usersOf = (x: Float32Array): Set<number> => new Set(Array.from({ length: x.length / 2 }, (_, i) => x[2 * i]!));

interface Sent {
  method: string;
  path: string;
  body: Buffer | null;
}

test('a browser member trains mf next to two Node members, keeps its users\' factors in the page and sends only item factors', { timeout: 240_000 }, async () => {
  // Two Node members, as `concord node --data ratings:file=…` runs them.
  for (const [member, name] of [[0, 'north-service'], [1, 'south-service']] as const) {
    const abort = new AbortController();
    h.members.push(abort);
    void runMemberService({ coordinator: h.url, name, data: `ratings:file=${file(member)}`, stateDir: join(dir, 'nodes'), signal: abort.signal }).catch((e: Error) => {
      if (!abort.signal.aborted) console.error(`${name}: ${e.message}`);
    });
  }
  for (let i = 0; (await h.storage.listMembers()).length < 2; i++) {
    assert.ok(i < 1200, 'the Node members enroll within two minutes');
    await new Promise((r) => setTimeout(r, 100));
  }
  // The run waits (pending) until the browser member is there too.
  const runId = await startRun(h, {
    name: 'recsys-with-a-browser',
    model: MODEL,
    rounds: 3,
    minAvailableMembers: 3,
    minTrainMembers: 3,
    roundDeadlineSeconds: 120,
    train: { epochs: 3, batchSize: 1, learningRate: 0.04, optimizer: 'sgd' },
  });

  const page: Page = await browser.newPage();
  const sent: Sent[] = [];
  const tasks: Promise<Buffer>[] = [];
  page.on('request', (r) => sent.push({ method: r.method(), path: new URL(r.url()).pathname, body: r.postDataBuffer() }));
  page.on('response', (r) => {
    if (new URL(r.url()).pathname === '/v1/tasks/next' && r.status() === 200) tasks.push(r.body());
  });
  await page.goto(`${h.url}/join`);
  const row = (await page.getByTestId('joining-run').textContent({ timeout: 15_000 }))!;
  assert.match(row, /recsys-with-a-browser.*mf.*2 ids < 400/);
  assert.match((await page.getByTestId('demo-why').textContent())!, /reads ids, not feature values.*pick a ratings file/);

  // The ratings file in the features picker is refused with what to do instead.
  await page.getByTestId('csv-file').setInputFiles(file(2));
  assert.match((await page.getByTestId('join-why').filter({ hasText: 'does not fit' }).textContent({ timeout: 10_000 }))!, /run recsys-with-a-browser: the run's mf model reads integer ids \(below 400\), not feature values: a CSV of features cannot train it; for a recommendation run pick a ratings file \(user,item,rating\)/);

  // Read with the ratings picker, it is what a Node member reads from the same file, split the same way.
  const text = readFileSync(file(2), 'utf8');
  const local = parseRatings(text, 'region-2.csv');
  const node = await loadMemberData(`ratings:file=${file(2)}`);
  assert.deepEqual([...local.x.subarray(0, local.train * 2)], [...node.train.x]);
  assert.deepEqual([...local.y.subarray(0, local.train)], [...node.train.y]);
  const users = usersOf(local.x);
  for (const other of [0, 1]) {
    const theirs = usersOf((await loadMemberData(`ratings:file=${file(other)}`)).train.x);
    assert.ok([...theirs].every((u) => !users.has(u)), `member ${other} holds none of the browser's users`);
  }
  await page.getByTestId('ratings-file').setInputFiles(file(2));
  assert.equal(
    await page.getByTestId('data-summary').filter({ hasText: 'training ratings' }).textContent({ timeout: 10_000 }),
    `region-2.csv: ${local.train} training ratings, ${local.y.length - local.train} holdout ratings, by ${users.size} users of ${local.ratings!.items} items (item ids below ${local.ratings!.vocabulary}), up to 5 stars`,
  );
  assert.equal(await page.getByTestId('data-fits').textContent(), 'Fits run recsys-with-a-browser: mf over item ids below 400, up to 5 stars.');
  await page.getByTestId('member-name').fill(BROWSER);
  await page.getByTestId('join').click();
  const memberId = (await page.getByTestId('member-id').textContent({ timeout: 30_000 }))!;

  assert.equal(await waitForRun(h, runId, 180_000), 'completed', JSON.stringify((await h.storage.getRun(runId))?.error));
  await page.waitForFunction(() => Number(document.querySelector('[data-testid=rmse-chart]')?.getAttribute('data-points')) >= 3, null, { timeout: 30_000 });

  // Counted in every round's FedAvg: the new item parameters are the examples-weighted mean of the three updates kept with the round.
  const rounds = await h.storage.listRounds(runId);
  assert.equal(rounds.length, 3);
  const model = (await h.storage.getRun(runId))!.config.model as ModelSpec;
  const names = parameterSpecs(model).map((s) => s.name);
  assert.deepEqual(names, ['item_factors/embeddings', 'item_bias/embeddings'], "the family's global parameters");
  const accepted = new Map<number, Float32Array>();
  for (const round of rounds) {
    assert.ok(round.participants.includes(memberId), `round ${round.round} counts the browser member`);
    const updates = await h.storage.listMemberUpdates(runId, round.round);
    assert.equal(updates.length, 3);
    const mine = updates.find((u) => u.memberId === memberId)!;
    assert.equal(mine.numExamples, local.train);
    accepted.set(round.round, mine.parameters.data);
    const total = updates.reduce((s, u) => s + u.numExamples, 0);
    const global = (await h.storage.getCheckpoint(runId, round.round))!.parameters.data;
    for (let i = 0; i < global.length; i++) {
      const mean = updates.reduce((s, u) => s + u.numExamples * u.parameters.data[i]!, 0) / total;
      assert.ok(Math.abs(global[i]! - mean) < 1e-5, `round ${round.round}: parameter ${i} is the FedAvg of the three updates (${global[i]} vs ${mean})`);
    }
  }

  // Replayed in Node with the family's learner on the tasks the page received: the same
  // updates, bit for bit — so the replay's user factors are the page's.
  const learner = familyOf(model).learner!(model);
  const train = { x: local.x.subarray(0, local.train * 2), y: local.y.subarray(0, local.train), inputShape: [2], classes: local.classes };
  const received = (await Promise.all(tasks)).map((body) => decodeFrame(new Uint8Array(body))).filter((f) => (f.header as unknown as TaskHeader).kind === 'train');
  assert.ok(received.length >= 2, `${received.length} training tasks reached the page`);
  const trainResults = sent.filter((s) => s.method === 'POST' && /^\/v1\/tasks\/[^/]+\/result$/.test(s.path)).map((s) => decodeFrame(new Uint8Array(s.body!))).filter((f) => (f.header as { kind: string }).kind === 'train');
  assert.equal(trainResults.length, received.length, 'one update per training task');
  const userStates: Float32Array[] = [];
  const factorsOf = (): Map<number, { factors: Float32Array; bias: number }> => (learner as unknown as { users: Map<number, { factors: Float32Array; bias: number }> }).users;
  for (let t = 0; t < received.length; t++) {
    const header = received[t]!.header as unknown as TaskHeader;
    const replay = await learner.train(received[t]!.parameters as Parameters, train, { ...header.config, seed: trainingSeed(header, BROWSER) });
    const update = trainResults[t]!.parameters!;
    assert.deepEqual(update.specs.map((s) => s.name), names, 'the update carries exactly the global parameters');
    assert.equal(update.data.length, familyOf(model).parameterCount(model));
    assert.ok(Buffer.from(update.data.buffer, update.data.byteOffset, update.data.byteLength).equals(Buffer.from(replay.parameters.data.buffer)), `task ${t} (round ${header.round}): the page's update is the learner's, bit for bit`);
    for (const user of factorsOf().values()) userStates.push(Float32Array.from(user.factors));
  }
  for (const [round, update] of accepted) {
    const same = trainResults.some((f) => (f.header as { round: number }).round === round && Buffer.from(f.parameters!.data.buffer, f.parameters!.data.byteOffset, f.parameters!.data.byteLength).equals(Buffer.from(update.buffer, update.byteOffset, update.byteLength)));
    assert.ok(same, `round ${round}: the update the aggregate counts is one the page sent`);
  }
  assert.equal(factorsOf().size, usersOf(train.x).size, 'the learner holds a factor vector per user the page trains');

  // Nothing the page sent carries a user's factors: not one user's vector at any round, as bytes or as text.
  const bodies = sent.filter((s) => s.body !== null);
  assert.ok(bodies.length > 0);
  for (const s of sent) if (s.method === 'GET') assert.equal(s.body, null, `GET ${s.path} has no body`);
  for (const { path, body } of bodies) {
    const textual = body!.toString('latin1');
    for (const factors of userStates) {
      assert.ok(body!.indexOf(Buffer.from(factors.buffer)) < 0, `${path} carries a user's factors`);
      const digits = String(factors[0]).slice(0, 9);
      if (digits.length >= 8) assert.ok(!textual.includes(digits), `${path} carries a user factor as text (${digits})`);
    }
    if (path === '/v1/members/enroll') {
      const enroll = JSON.parse(body!.toString('utf8')) as { dataset: unknown };
      assert.deepEqual(enroll.dataset, { name: 'region-2.csv', numExamples: local.train, numHoldout: local.y.length - local.train, inputShape: [2], classes: 6, vocabulary: local.ratings!.vocabulary });
    } else if (/\/result$/.test(path)) {
      const frame = decodeFrame(new Uint8Array(body!));
      const header = frame.header as Record<string, unknown>;
      assert.deepEqual(Object.keys(header).filter((k) => !['protocolVersion', 'taskId', 'kind', 'runId', 'round', 'numExamples', 'metrics', 'tensors'].includes(k)), [], `${path}: header fields`);
      for (const [key, value] of Object.entries(header.metrics as Record<string, unknown>)) assert.equal(typeof value, 'number', `${path}: metric ${key}`);
      if (header.kind === 'evaluate') assert.equal(frame.parameters, undefined, 'an evaluation carries metrics only');
    }
  }

  // Holdout RMSE, reported by the page as Node members report it: every member ends well below
  // always predicting the middle of the range on its own holdout, and the members' RMSE falls.
  const holdouts = new Map([[memberId, local.y.subarray(local.train)]]);
  for (const [member, name] of [[0, 'north-service'], [1, 'south-service']] as const) {
    holdouts.set((await h.storage.getMemberByName(name))!.memberId, (await loadMemberData(`ratings:file=${file(member)}`)).holdout.y);
  }
  const evaluated = (await h.storage.listMemberMetrics(runId)).filter((m) => m.phase === 'evaluate');
  for (const [id, stars] of holdouts) {
    const rmse = evaluated.filter((m) => m.memberId === id).sort((a, b) => a.round - b.round).map((m) => m.metrics.rmse!);
    assert.equal(rmse.length, 3, `${id} evaluated every round: ${JSON.stringify(evaluated)}`);
    const middle = Math.sqrt(stars.reduce((s, r) => s + (r - 3) ** 2, 0) / stars.length);
    assert.ok(rmse[2]! < middle - 0.1, `${id === memberId ? 'the page' : id}: holdout RMSE ${rmse.join(' → ')}, predicting 3 stars gives ${middle}`);
    if (id === memberId) assert.ok(rmse[2]! < rmse[0]!, `the page's holdout RMSE falls: ${rmse.join(' → ')}`);
  }
  const [first, , last] = rounds.map((r) => r.evalMetrics.rmse!);
  assert.ok(last! < first!, `members' holdout RMSE falls: ${first} → ${last}`);
  await page.getByText(/^round 3: evaluated, RMSE \d\.\d{3}$/).waitFor({ timeout: 10_000 });

  // The page after the rounds, at laptop and phone width, for people to look at.
  mkdirSync(SHOTS, { recursive: true });
  for (const [width, height] of [[1280, 900], [390, 844]] as const) {
    await page.setViewportSize({ width, height });
    // The charts follow the new width from a ResizeObserver: two frames for them to redraw.
    await page.evaluate(() => new Promise((done) => requestAnimationFrame(() => requestAnimationFrame(done))));
    await page.screenshot({ path: `${SHOTS}/join-mf-${width}.png`, fullPage: true });
    const { scroll, inner } = await page.evaluate(() => ({ scroll: document.scrollingElement!.scrollWidth, inner: window.innerWidth }));
    assert.ok(scroll <= inner, `the page scrolls sideways at ${width} px (${scroll} > ${inner})`);
  }
  await page.close();
});
