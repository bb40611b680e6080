// Hierarchical aggregation over NATS JetStream equals flat FedAvg: shard aggregators (real
// `concord aggregator` processes) sum their members' updates in float64, the round owner sums
// the partials. The bounds are stated in src/distributed/partial.ts — against the exact
// weighted mean (an exact rational sum here, via BigInt) and against flat aggregation
// (core/aggregate.ts weightedAverage) — and measured here; a shard
// aggregator killed mid-round has its updates redelivered and the round's result is bit for
// bit what it would have been. Under client-level DP the shards clip each delta and the noise
// is drawn once, at the top.

import assert from 'node:assert/strict';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { test } from 'node:test';
import { weightedAverage } from '../src/core/aggregate.js';
import { silentProgress } from '../src/cli/progress.js';
import { seededRandom } from '../src/core/random.js';
import { MasterAggregator } from '../src/distributed/master-aggregator.js';
import { assignShards, combinePartials, shardPartial, type ShardUpdate } from '../src/distributed/partial.js';
import { addGaussianNoise } from '../src/privacy/dp/index.js';
import { accumulateClippedUpdate } from '../src/privacy/dp/clip.js';
import { initBackend } from '../src/model/backend.js';
import { parameterSpecs } from '../src/model/build.js';
import { makeParameters } from '../src/protocol/tensors.js';
import { isConcordError, ErrorCode } from '../src/protocol/errors.js';
import { SIMULATE_DEFAULTS } from '../src/simulation/options.js';
import { simulate } from '../src/simulation/simulate.js';
import { openStorage } from '../src/storage/index.js';
import { standardRunExtensions } from '../src/coordinator/run-extensions.js';
import { lastModel } from './support/checkpoints.js';
import { addMember, plus, startHarness, startRun, waitForRun } from './support/harness.js';
import { startNatsServer } from './support/nats.js';
import { exited, processScope, spawnWithEvents, until, type EventfulProcess } from './support/processes.js';

const MAIN = fileURLToPath(new URL('../src/cli/main.ts', import.meta.url));
const scope = processScope();

function makeUpdates(count: number, length: number, seed: number): ShardUpdate[] {
  const random = seededRandom(seed);
  return Array.from({ length: count }, (_, k) => {
    const data = new Float32Array(length);
    // Values of mixed magnitude and sign, so that float64 rounding shows if it can.
    for (let i = 0; i < length; i++) data[i] = (2 * random() - 1) * 10 ** Math.floor(random() * 4 - 2);
    return { memberId: `member-${String(k).padStart(4, '0')}`, weight: 1 + Math.floor(random() * 5000), data };
  });
}

/** Distance in float32 ulps between two float32 values (via their ordered integer encodings). */
function ulps(a: number, b: number): number {
  const f = new Float32Array([a, b]);
  const i = new Int32Array(f.buffer);
  const ord = (x: number) => (x < 0 ? -2147483648 - x : x);
  return Math.abs(ord(i[0]!) - ord(i[1]!));
}

/** A float64 as an exact fraction m·2^e with 2^-1074 as the unit: BigInt numerator over 2^1074. */
const SCALE = 1074n;
function exactOf(x: number): bigint {
  if (x === 0) return 0n;
  const view = new DataView(new ArrayBuffer(8));
  view.setFloat64(0, x);
  const bits = view.getBigUint64(0);
  const sign = bits >> 63n ? -1n : 1n;
  const exp = Number((bits >> 52n) & 0x7ffn);
  const frac = bits & ((1n << 52n) - 1n);
  const mantissa = exp === 0 ? frac : frac | (1n << 52n);
  const shift = BigInt((exp === 0 ? 1 : exp) - 1075) + SCALE; // value = mantissa·2^(e−1075)
  return sign * (mantissa << shift);
}

/** The exact Σ n_k θ_k,i / Σ n_k, rounded once to float64 (then compared in float32 ulps). */
function exactMean(updates: ShardUpdate[], i: number): number {
  let num = 0n;
  let den = 0n;
  for (const u of updates) {
    num += BigInt(u.weight) * exactOf(u.data[i]!);
    den += BigInt(u.weight);
  }
  // num / (den·2^1074) to float64: scale the quotient to 64 significant bits first.
  const negative = num < 0n;
  const a = negative ? -num : num;
  if (a === 0n) return 0;
  const q = (a << 200n) / den; // a·2^200 / den: the mean times 2^(1074+200), to far below float64 precision
  const drop = Math.max(0, q.toString(2).length - 64); // keep 64 significant bits
  const value = Number(q >> BigInt(drop)) * 2 ** (drop - 1274);
  return negative ? -value : value;
}

/** Per coordinate: hierarchical within ½ ulp + K·2⁻⁵³·A of the exact mean; hierarchical and flat within (16·2⁻²⁴ + K·2⁻⁵³)·A + 1 ulp. */
function checkBounds(hier: Float32Array, flat: Float32Array, updates: ShardUpdate[], sample: number): { maxUlpsToExact: number; maxUlpsToFlat: number; differingFromFlat: number } {
  const n = updates.reduce((t, u) => t + u.weight, 0);
  const K = updates.length;
  let maxUlpsToExact = 0;
  let maxUlpsToFlat = 0;
  let differingFromFlat = 0;
  const step = Math.max(1, Math.floor(flat.length / sample));
  for (let i = 0; i < flat.length; i++) {
    const dFlat = ulps(hier[i]!, flat[i]!);
    if (dFlat > 0) differingFromFlat++;
    maxUlpsToFlat = Math.max(maxUlpsToFlat, dFlat);
    let A = 0;
    for (const u of updates) A += u.weight * Math.abs(u.data[i]!);
    A /= n;
    const ulp = (x: number) => {
      const f = Math.fround(Math.abs(x));
      const next = new Float32Array([f]);
      new Int32Array(next.buffer)[0]! += 1;
      return next[0]! - f;
    };
    assert.ok(Math.abs(hier[i]! - flat[i]!) <= (16 * 2 ** -24 + K * 2 ** -53) * A + ulp(flat[i]!), `coordinate ${i}: hierarchical ${hier[i]} and flat ${flat[i]} differ beyond the stated bound (A = ${A})`);
    if (i % step === 0) {
      const exact = exactMean(updates, i);
      maxUlpsToExact = Math.max(maxUlpsToExact, ulps(hier[i]!, Math.fround(exact)));
      assert.ok(Math.abs(hier[i]! - exact) <= 0.5 * ulp(exact) + K * 2 ** -53 * A + Number.EPSILON * Math.abs(exact), `coordinate ${i}: hierarchical ${hier[i]} vs exact ${exact}`);
    }
  }
  return { maxUlpsToExact, maxUlpsToFlat, differingFromFlat };
}

const flatOf = (updates: ShardUpdate[]) => weightedAverage(updates.map((u) => ({ data: u.data, weight: u.weight })));

test('hierarchical = flat FedAvg within the stated float rounding, for any number of shards, and within one rounding of the exact mean; reproducible whatever the arrival order', () => {
  const updates = makeUpdates(300, 20_000, 7);
  const flat = flatOf(updates);
  const report: Record<number, ReturnType<typeof checkBounds>> = {};
  for (const shards of [1, 2, 3, 7, 16, 300]) {
    const groups = assignShards(updates.map((u) => u.memberId), shards);
    const byId = new Map(updates.map((u) => [u.memberId, u]));
    const partials = groups.map((g, s) => shardPartial(s, g.map((id) => byId.get(id)!)));
    const { average, totalWeight } = combinePartials(partials);
    assert.equal(totalWeight, updates.reduce((t, u) => t + u.weight, 0));
    report[shards] = checkBounds(average, flat, updates, 400);
    assert.ok(report[shards].maxUlpsToExact <= 1, `${shards} shards: ${report[shards].maxUlpsToExact} ulps from the exact mean`);
    // Reversed arrival (within shards and of the shards): the same bits.
    const reversed = combinePartials(groups.map((g, s) => shardPartial(s, [...g].reverse().map((id) => byId.get(id)!))).reverse());
    assert.deepEqual(Buffer.from(reversed.average.buffer), Buffer.from(average.buffer));
  }
  console.log(`hierarchical vs flat, 300 members × 20 000 values: ${JSON.stringify(report)}`);
});

test('central DP noise is drawn once, at the top, on the combined sum', () => {
  const updates = makeUpdates(12, 1_000, 3);
  const byId = new Map(updates.map((u) => [u.memberId, u]));
  const groups = assignShards([...byId.keys()], 4);
  const partials = groups.map((g, s) => shardPartial(s, g.map((id) => byId.get(id)!)));
  let draws = 0;
  const noised = combinePartials(partials, { noise: (sum) => void (draws++, addGaussianNoise(sum, 0.5, seededRandom(5))), denominator: 12 });
  assert.equal(draws, 1);
  const plain = combinePartials(partials, { denominator: 12 });
  const noise = addGaussianNoise(new Float64Array(1_000), 0.5, seededRandom(5));
  for (let i = 0; i < 1_000; i++) assert.equal(noised.average[i], Math.fround((plain.weightedSum[i]! + noise[i]!) / 12));
});

test('under client-level DP the shards clip each delta to C: the clipped total equals flat DP-FedAvg clipping to float64 rounding, and refuses weights', () => {
  const updates = makeUpdates(20, 5_000, 9);
  const global = new Float32Array(5_000).map((_, i) => Math.sin(i) / 10);
  const C = 0.5;
  // Deltas from the round's model in float32, as the round owner sends them.
  const deltas = updates.map((u) => ({ memberId: u.memberId, weight: 1, data: u.data.map((v, i) => v - global[i]!) }));
  const byId = new Map(deltas.map((u) => [u.memberId, u]));
  const flat = new Float64Array(5_000);
  for (const u of deltas) accumulateClippedUpdate(flat, new Float32Array(5_000), u.data, C);
  let clipped = 0;
  for (const u of deltas) if (Math.hypot(...u.data) > C) clipped++;
  assert.equal(clipped, 20, 'every update is larger than C, so clipping shows');
  for (const shards of [1, 3, 20]) {
    const groups = assignShards([...byId.keys()], shards);
    const combined = combinePartials(groups.map((g, s) => shardPartial(s, g.map((id) => byId.get(id)!), { clippingNorm: C })));
    assert.equal(combined.totalWeight, 20, 'each clipped delta counts once');
    for (let i = 0; i < 5_000; i++) assert.ok(Math.abs(combined.weightedSum[i]! - flat[i]!) <= 1e-12 * 20 * C, `${shards} shards, coordinate ${i}: ${combined.weightedSum[i]} vs ${flat[i]}`);
  }
  assert.throws(() => shardPartial(0, updates.slice(0, 2), { clippingNorm: C }), /weight is \d+; clipped deltas each weigh 1/);
});

type Aggregator = EventfulProcess;

function startAggregator(url: string, shard: number): Aggregator {
  return spawnWithEvents(['--import', 'tsx', MAIN, 'aggregator', '--nats', url, '--shard', String(shard), '--ack-wait', '2000', '--json'], { children: scope.children });
}

test('shard aggregator processes over JetStream: the exact mean, within the stated rounding of flat FedAvg; one killed mid-round is redelivered and the result is unchanged', { timeout: 300_000 }, async () => {
  const nats = await startNatsServer();
  const aggregators = [0, 1, 2].map((s) => startAggregator(nats.url, s));
  for (const a of aggregators) await until(async () => a.events.some((e) => e.event === 'ready'), 90_000, 'an aggregator to be ready');
  const master = await MasterAggregator.open({ servers: nats.url, shards: 3, minGroupSize: 2 });
  try {
    // 100 000 values: each update (400 kB) goes through the object store.
    const updates = makeUpdates(24, 100_000, 11);
    const flat = flatOf(updates);
    const first = await master.aggregate({ runId: 'run-a', round: 1, updates });
    assert.deepEqual(first.groups.map((g) => g.length), [8, 8, 8]);
    const bound = checkBounds(first.average, flat, updates, 200);
    console.log(`over JetStream, 24 members × 100 000 values in 3 shards: ${JSON.stringify(bound)}, ${first.seconds.toFixed(2)} s`);
    assert.ok(bound.maxUlpsToExact <= 1);

    // The same updates again; shard 1's aggregator is killed holding every one of its updates.
    let victim = aggregators[1]!;
    const second = await master.aggregate({
      runId: 'run-a',
      round: 2,
      updates,
      beforeClose: async (groups, aggregation) => {
        await until(async () => groups[1]!.every((id) => victim.events.some((e) => e.event === 'update' && e.memberId === id && e.aggregation === aggregation)), 90_000, 'shard 1 to hold its updates');
        victim.child.kill('SIGKILL');
        await exited(victim.child);
        victim = startAggregator(nats.url, 1);
      },
    });
    assert.deepEqual(Buffer.from(second.average.buffer), Buffer.from(first.average.buffer), 'bit for bit the result without the kill');
    const redelivered = victim.events.filter((e) => e.event === 'update' && Number(e.delivery) >= 2);
    assert.equal(redelivered.length, second.groups[1]!.length, 'the new aggregator got every update the killed one held, redelivered');
    assert.ok(victim.events.some((e) => e.event === 'partial' && e.round === 2));

    // Client-level DP: the aggregator processes clip each delta; the same bits as clipping here.
    const deltas = updates.map((u) => ({ memberId: u.memberId, weight: 1, data: u.data }));
    const clippedOver = await master.aggregate({ runId: 'run-a', round: 5, updates: deltas, clippingNorm: 0.25 });
    const byMember = new Map(deltas.map((u) => [u.memberId, u]));
    const clippedHere = combinePartials(clippedOver.groups.map((g, s) => shardPartial(s, g.map((id) => byMember.get(id)!), { clippingNorm: 0.25 })));
    assert.deepEqual(Buffer.from(clippedOver.weightedSum.buffer), Buffer.from(clippedHere.weightedSum.buffer));
    assert.equal(clippedOver.totalWeight, 24);

    // Too few updates for the minimum group: refused, nothing published.
    await assert.rejects(master.aggregate({ runId: 'run-a', round: 3, updates: updates.slice(0, 1) }), (e: unknown) => isConcordError(e) && e.code === ErrorCode.NOT_ENOUGH_MEMBERS);
    // Five updates with groups of at least two over three shards: two groups, not three.
    const five = await master.aggregate({ runId: 'run-a', round: 4, updates: updates.slice(0, 5) });
    assert.deepEqual(five.groups.map((g) => g.length), [3, 2]);
    assert.ok(checkBounds(five.average, flatOf(updates.slice(0, 5)), updates.slice(0, 5), 200).maxUlpsToExact <= 1);
  } finally {
    await master.close();
    for (const child of scope.children) {
      if (child.exitCode === null && child.signalCode === null) {
        child.kill('SIGTERM');
        await exited(child);
      }
    }
  }
});

test('a coordinator started with --nats aggregates its rounds through shard aggregator processes; the model matches flat aggregation to float rounding', { timeout: 300_000 }, async () => {
  const nats = await startNatsServer();
  const aggregators = [0, 1].map((s) => startAggregator(nats.url, s));
  try {
    for (const a of aggregators) await until(async () => a.events.some((e) => e.event === 'ready'), 90_000, 'an aggregator to be ready');
    const dir = await scope.tempDir('concord-hierarchical-run-');
    // Everyone trains, in this thread: the members' updates are the same in both runs.
    const settings = { ...SIMULATE_DEFAULTS, members: 12, fraction: 1, evaluateFraction: 0, rounds: 2, workers: 0, progress: silentProgress };
    const flat = await simulate({ ...settings, dir: join(dir, 'flat') });
    await flat.stop();
    const sharded = await simulate({ ...settings, dir: join(dir, 'sharded'), nats: nats.url, shards: 2 });
    await sharded.stop();
    assert.equal(sharded.rounds.length, 2);
    // Every round went through both shards: 6 members each.
    for (const round of [1, 2]) {
      const partials = aggregators.map((a) => a.events.find((e) => e.event === 'partial' && e.round === round));
      assert.deepEqual(partials.map((p) => p?.members), [6, 6], `round ${round}'s partials`);
    }
    const storage = await openStorage(sharded.db, { existing: true });
    try {
      const rounds = await storage.listRounds(sharded.runId);
      assert.deepEqual(rounds.map((r) => r.trainMetrics.shards), [2, 2]);
      assert.deepEqual(rounds.map((r) => r.trainMetrics.members), [12, 12], 'the round counts the real members, not the one mean');
    } finally {
      await storage.close();
    }
    const a = await lastModel(flat.db, flat.runId);
    const b = await lastModel(sharded.db, sharded.runId);
    let worst = 0;
    for (let i = 0; i < a.length; i++) worst = Math.max(worst, Math.abs(a[i]! - b[i]!));
    assert.ok(worst < 1e-5, `largest difference between the two models after two rounds: ${worst}`);
    assert.ok(sharded.accuracy !== null && flat.accuracy !== null && Math.abs(sharded.accuracy - flat.accuracy) < 0.005, `accuracy ${sharded.accuracy} vs ${flat.accuracy}`);
  } finally {
    for (const a of aggregators) {
      if (a.child.exitCode === null && a.child.signalCode === null) {
        a.child.kill('SIGTERM');
        await exited(a.child);
      }
    }
    await nats.stop();
  }
});

test('a shard that does not answer fails the round attempt with the reason; once it runs, rounds over HTTP members complete with the weighted mean, and with client-level DP the clipped mean plus one draw of noise', { timeout: 300_000 }, async () => {
  const nats = await startNatsServer();
  const aggregators = [startAggregator(nats.url, 0)];
  // Short wait for partials here only: shard 1 is missing on purpose.
  let h = await startHarness({ runExtensions: standardRunExtensions({ hierarchical: { nats: nats.url, partialTimeoutMs: 1500 } }) });
  try {
    await until(async () => aggregators[0]!.events.some((e) => e.event === 'ready'), 90_000, 'aggregator 0 to be ready');
    addMember(h, 'a', 10, plus(1));
    addMember(h, 'b', 30, plus(3));
    const missing = await startRun(h, { rounds: 1, maxRoundAttempts: 2, hierarchicalAggregation: { shards: 2, minGroupSize: 1 } });
    assert.equal(await waitForRun(h, missing, 120_000), 'failed');
    assert.match((await h.storage.getRun(missing))!.error ?? '', /aggregating the updates: no partial from shard 1 within 1500 ms; is `concord aggregator --shard 1` running\?/);
    await h.close();

    // Both shards running; partials may take the whole round deadline (a loaded machine).
    aggregators.push(startAggregator(nats.url, 1));
    await until(async () => aggregators[1]!.events.some((e) => e.event === 'ready'), 90_000, 'aggregator 1 to be ready');
    h = await startHarness({ runExtensions: standardRunExtensions({ hierarchical: { nats: nats.url } }) });
    addMember(h, 'a', 10, plus(1));
    addMember(h, 'b', 30, plus(3));
    const runId = await startRun(h, { rounds: 2, roundDeadlineSeconds: 60, hierarchicalAggregation: { shards: 2 } });
    assert.equal(await waitForRun(h, runId, 240_000), 'completed');
    const first = (await h.storage.getCheckpoint(runId, 1))!.parameters.data;
    const last = (await h.storage.getCheckpoint(runId, 2))!.parameters.data;
    // Each round adds (10·1 + 30·3) / 40 = 2.5 to every weight.
    for (let i = 0; i < last.length; i++) assert.ok(Math.abs(last[i]! - (first[i]! + 2.5)) < 1e-5, `weight ${i}: ${last[i]} after ${first[i]}`);
    for (const [s, a] of aggregators.entries()) assert.ok(a.events.some((e) => e.event === 'partial' && e.runId === runId && e.round === 2), `shard ${s} summed round 2`);

    // Client-level DP through the shards: Δ_a = 1 and Δ_b = 3 on each of P weights are clipped
    // to C = 1 in the shards (1/√P each) and the top adds N(0, (zC)²) once to their sum, then
    // divides by the 2 members: what is left after the clipped sum is one draw of std zC.
    await h.close();
    h = await startHarness({ runExtensions: standardRunExtensions({ hierarchical: { nats: nats.url } }), initialParameters: async (config) => makeParameters(parameterSpecs(config.model)) });
    await initBackend('wasm', { warn: () => undefined });
    const dataset = { inputShape: [100], classes: 10 };
    addMember(h, 'a', 10, plus(1), undefined, { dataset });
    addMember(h, 'b', 30, plus(3), undefined, { dataset });
    const z = 1;
    const dpRun = await startRun(h, {
      model: { family: 'mlp', inputShape: [100], hidden: [], classes: 10 },
      rounds: 2,
      roundDeadlineSeconds: 60,
      hierarchicalAggregation: { shards: 2 },
      differentialPrivacy: { level: 'client', noiseMultiplier: z, clippingNorm: 1, budget: { epsilon: 100, delta: 1e-5 } },
    });
    assert.equal(await waitForRun(h, dpRun, 240_000), 'completed', (await h.storage.getRun(dpRun))?.error ?? '');
    const residuals: number[] = [];
    let before = (await h.storage.getInitialParameters(dpRun))!.data;
    for (const round of [1, 2]) {
      const after = (await h.storage.getCheckpoint(dpRun, round))!.parameters.data;
      const P = after.length;
      assert.equal(P, 1010);
      for (let i = 0; i < P; i++) residuals.push(((after[i]! - before[i]!) * 2 - 2 / Math.sqrt(P)) / z);
      before = after;
    }
    const mean = residuals.reduce((t, x) => t + x, 0) / residuals.length;
    const sd = Math.sqrt(residuals.reduce((t, x) => t + (x - mean) ** 2, 0) / (residuals.length - 1));
    assert.ok(Math.abs(mean) < 0.15, `residual mean ${mean} (unclipped deltas would leave about 3.9)`);
    assert.ok(sd > 0.9 && sd < 1.1, `residual sd ${sd} in units of zC (noise drawn twice would give 1.41, none 0)`);
    const charges = (await h.storage.listPrivacyCharges()).filter((c) => c.runId === dpRun);
    assert.equal(charges.length, 4, 'each member charged each round');
  } finally {
    await h.close().catch(() => undefined); // the first one, if the test stopped between the two
    for (const a of aggregators) {
      if (a.child.exitCode === null && a.child.signalCode === null) {
        a.child.kill('SIGTERM');
        await exited(a.child);
      }
    }
    await nats.stop();
  }
});
