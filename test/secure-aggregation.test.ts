// Secure aggregation over the real wire: a coordinator whose rounds run SecAgg+ through the
// HTTP task board, members that answer the four stages with withSecureAggregation. The secure
// aggregate must equal plain FedAvg within the quantization bound; nothing the coordinator
// receives or stores may reveal a member's update; dropouts before and after masking still
// give the survivors' sum; too many dropouts fail the round naming the shortfall; distributed
// DP releases global + Σ privatized deltas / m through aggregateDeltaSum.

import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, it } from 'node:test';
import { seededRandom } from '../src/core/random.js';
import type { SecureTrainContext } from '../src/coordinator/round-loop.js';
import { secureRoundSeed, secureTrainPhase } from '../src/coordinator/secure-round.js';
import type { TaskHandler } from '../src/node/member.js';
import { MASKED_VECTOR_TENSOR, withSecureAggregation } from '../src/node/secagg-handler.js';
import { nextClippingNorm } from '../src/privacy/dp/adaptive-clipping.js';
import { DifferentiallyPrivateStrategy } from '../src/privacy/dp/dp-fedavg.js';
import { privatizeUpdate } from '../src/privacy/dp/member.js';
import { nodePrimitives } from '../src/privacy/secagg/primitives-node.js';
import { makeSecAggConfig } from '../src/privacy/secagg/protocol.js';
import { quantizationErrorBound, quantizeUpdate } from '../src/privacy/secagg/quantize.js';
import { SecAggServer } from '../src/privacy/secagg/server.js';
import { type ConcordError, ErrorCode } from '../src/protocol/errors.js';
import { PROTOCOL_VERSION, RunConfigSchema, type RunConfigInput, type TaskHeader } from '../src/protocol/messages.js';
import { type Parameters, type TensorSpec, makeParameters, totalSize } from '../src/protocol/tensors.js';
import type { Strategy } from '../src/strategies/strategy.js';
import { FedAvg } from '../src/strategies/fedavg.js';
import { createStrategy } from '../src/strategies/index.js';
import { withUpdateValidation } from '../src/strategies/validation.js';
import { openDatabase } from '../src/storage/sqlite-driver.js';
import type { RunRecord } from '../src/storage/storage.js';
import { type SecureHarness, addSecureMember, startSecureHarness, startSecureRun, waitForMembers, waitForRun } from './support/secure-harness.js';
import { syntheticDelta } from './support/secure-member.js';
import { memoryGrid } from './support/secure-memory-grid.js';

let h: SecureHarness | undefined;
let dir: string | undefined;
afterEach(async () => {
  await h?.close();
  h = undefined;
  if (dir) await rm(dir, { recursive: true, force: true });
  dir = undefined;
});

function correlation(a: ArrayLike<number>, b: ArrayLike<number>, n = Math.min(a.length, b.length)): number {
  let ma = 0;
  let mb = 0;
  for (let i = 0; i < n; i++) {
    ma += a[i]!;
    mb += b[i]!;
  }
  ma /= n;
  mb /= n;
  let sab = 0;
  let saa = 0;
  let sbb = 0;
  for (let i = 0; i < n; i++) {
    const da = a[i]! - ma;
    const db = b[i]! - mb;
    sab += da * db;
    saa += da * da;
    sbb += db * db;
  }
  return sab / Math.sqrt(saa * sbb);
}

const initialValues = (n: number): Float32Array => {
  const random = seededRandom(99);
  return Float32Array.from({ length: n }, () => random() - 0.5);
};

/** θ_k = θ + Δ_k, in float32 as the member computes it. */
const plusDelta = (global: Parameters, delta: Float32Array): Parameters => makeParameters(global.specs, global.data.map((v, i) => v + delta[i]!));

/** What the member masks: θ_k − θ, in float32 as withSecureAggregation computes it. */
const maskedDelta = (global: Float32Array, local: Float32Array): Float32Array => Float32Array.from(local, (v, i) => v - global[i]!);

/** Plain FedAvg of the members' models, through the project's FedAvg. */
function plainFedAvg(global: Parameters, models: { parameters: Parameters; numExamples: number }[]): Float32Array {
  const out = new FedAvg().aggregateTrain(1, global, models.map((m, i) => ({ memberId: `m${i}`, ...m, metrics: {} })), []);
  return out!.parameters.data;
}

function assertClose(actual: Float32Array, expected: ArrayLike<number>, tolerance: (i: number) => number, what: string): void {
  assert.equal(actual.length, expected.length);
  for (let i = 0; i < actual.length; i++) {
    const err = Math.abs(actual[i]! - expected[i]!);
    assert.ok(err <= tolerance(i), `${what}[${i}]: ${actual[i]} vs ${expected[i]} (error ${err}, tolerance ${tolerance(i)})`);
  }
}

/** Sixteen-byte windows of `bytes` at `count` seeded positions: an update leaked anywhere would contain them. */
function windows(bytes: Uint8Array, count: number, seed: number): Buffer[] {
  const random = seededRandom(seed);
  return Array.from({ length: count }, () => {
    const at = 4 * Math.floor(random() * (bytes.length / 4 - 4));
    return Buffer.from(bytes.subarray(at, at + 16));
  });
}

const bytesOf = (a: Float32Array | Uint32Array): Uint8Array => new Uint8Array(a.buffer, a.byteOffset, a.byteLength);

/** Every value in every row of every table, as bytes and as text. */
function dumpDatabase(file: string): { binary: Buffer; text: string } {
  const db = openDatabase(file, { busyTimeoutMs: 1000 });
  const blobs: Buffer[] = [];
  const texts: string[] = [];
  const tables = db.prepare("SELECT name FROM sqlite_master WHERE type = 'table'").all() as { name: string }[];
  for (const { name } of tables) {
    for (const row of db.prepare(`SELECT * FROM "${name}"`).all() as Record<string, unknown>[]) {
      for (const value of Object.values(row)) {
        if (Buffer.isBuffer(value)) blobs.push(value);
        else if (value !== null) texts.push(String(value));
      }
    }
  }
  db.close();
  const text = texts.join('\n');
  return { binary: Buffer.concat([...blobs, Buffer.from(text)]), text };
}

describe('secure aggregation over HTTP', () => {
  it('equals plain FedAvg within the quantization bound, and nothing received or stored reveals an update', async () => {
    const specs: TensorSpec[] = [
      { name: 'dense/kernel', shape: [100, 200] },
      { name: 'dense/bias', shape: [200] },
    ];
    const P = totalSize(specs);
    const initial = initialValues(P);
    dir = await mkdtemp(join(tmpdir(), 'concord-secure-'));
    const dbFile = join(dir, 'coordinator.sqlite');
    h = await startSecureHarness({ specs, initial, dbFile });
    const weights = [10, 20, 30, 40, 50];
    const deltas = weights.map((_, k) => syntheticDelta(k + 1, P));
    const logs = weights.map((w, k) => addSecureMember(h!, `org-${k}`, w, (g) => plusDelta(g, deltas[k]!)));
    await waitForMembers(h, 5);
    const runId = await startSecureRun(h, { minAvailableMembers: 5, minTrainMembers: 5, fractionEvaluate: 1, minEvaluateMembers: 1 });
    assert.equal(await waitForRun(h, runId), 'completed', (await h.storage.getRun(runId))?.error ?? '');

    // The aggregate: plain FedAvg of the members' models, within 1.5·N·c·maxWeight/(Q·Σw) plus float32 rounding.
    const global = makeParameters(specs, initial);
    const models = weights.map((w, k) => ({ parameters: plusDelta(global, deltas[k]!), numExamples: w }));
    const expected = plainFedAvg(global, models);
    const secure = (await h.storage.getCheckpoint(runId, 1))!.parameters.data;
    const bound = quantizationErrorBound({ members: 5, clippingRange: 8, bits: 29, maxWeight: 50, totalWeight: 150 });
    assertClose(secure, expected, (i) => bound + 2 ** -22 * Math.abs(expected[i]!), 'secure aggregate');
    const [round] = await h.storage.listRounds(runId);
    assert.deepEqual([...round!.participants].sort(), logs.map((l) => l.memberId()!).sort());
    assert.deepEqual(round!.failures, []);
    assert.equal(round!.trainMetrics.members, 5);

    // What the secure phase received: four replies per member, tensors only with the masked vector.
    assert.equal(h.replies.length, 20);
    const masked = h.replies.filter((r) => r.header.stage === 'collectMaskedVectors');
    assert.equal(masked.length, 5);
    for (const r of h.replies) {
      if (r.header.stage !== 'collectMaskedVectors') assert.equal(r.parameters, undefined);
      assert.deepEqual(r.header.metrics, {}, 'members report no training metrics in a secure round');
    }
    for (const r of masked) {
      assert.deepEqual(r.parameters!.specs, [{ name: MASKED_VECTOR_TENSOR, shape: [P + 1], dtype: 'uint32' }]);
      const ring = new Uint32Array(r.parameters!.data.buffer, r.parameters!.data.byteOffset, P + 1);
      const signed = Float64Array.from(ring.subarray(0, P), (x) => (x >= 2 ** 31 ? x - 2 ** 32 : x));
      for (const [k, delta] of deltas.entries()) {
        const r1 = correlation(signed, delta);
        const r2 = correlation(Float64Array.from(ring.subarray(0, P)), delta);
        assert.ok(Math.abs(r1) < 0.05 && Math.abs(r2) < 0.05, `masked vector of ${r.memberId} vs update of org-${k}: correlation ${r1}, ${r2}`);
      }
    }

    // Everything members sent over HTTP and everything in the database, searched for each update
    // as the member holds it: its model θ_k, its delta, and its quantized weighted delta.
    const db = dumpDatabase(dbFile);
    const sent = Buffer.concat(h.bodies);
    const haystack = Buffer.concat([sent, db.binary]);
    const text = `${sent.toString('utf8')}\n${db.text}`;
    for (const [k, model] of models.entries()) {
      const delta = maskedDelta(initial, model.parameters.data);
      const quantized = quantizeUpdate(delta, weights[k]!, { clippingRange: 8, bits: 29, maxWeight: 50 });
      for (const [what, bytes] of [['model', bytesOf(model.parameters.data)], ['delta', bytesOf(delta)], ['quantized delta', bytesOf(quantized)]] as const) {
        for (const w of windows(bytes, 64, k * 10 + what.length)) assert.equal(haystack.indexOf(w), -1, `the ${what} of org-${k} appears in what the coordinator received or stored`);
      }
      for (const i of [0, 1, 777, P - 1]) {
        for (const value of [String(model.parameters.data[i]), String(delta[i])]) {
          if (value.length >= 8) assert.ok(!text.includes(value), `value ${value} of org-${k} appears in text the coordinator received or stored`);
        }
      }
      assert.ok(correlation(secure, model.parameters.data) < 0.9999, 'the aggregate is not any single member model');
    }
    // Controls: the search does find what is there — the stored aggregate and a sent masked vector.
    for (const w of windows(bytesOf(secure), 8, 1)) assert.notEqual(db.binary.indexOf(w), -1);
    const ring0 = masked[0]!.parameters!.data;
    for (const w of windows(bytesOf(ring0), 8, 2)) assert.notEqual(sent.indexOf(w), -1);

    // Per-member rows for the round: four stages each, bytes summed over them.
    const rows = (await h.storage.listMemberMetrics(runId, 1)).filter((m) => m.phase === 'train');
    assert.equal(rows.length, 5);
    for (const row of rows) {
      assert.deepEqual(row.metrics, { secaggStages: 4 });
      assert.equal(row.loss, null);
      // Out: the global model once (masking stage); in: the masked vector once; plus small JSON messages.
      assert.ok(row.bytesOut > 4 * P && row.bytesOut < 4 * P + 20_000, `bytesOut ${row.bytesOut}`);
      assert.ok(row.bytesIn > 4 * (P + 1) && row.bytesIn < 4 * (P + 1) + 20_000, `bytesIn ${row.bytesIn}`);
    }
    const numExamples = new Map(rows.map((r) => [r.memberId, r.numExamples]));
    logs.forEach((l, k) => assert.equal(numExamples.get(l.memberId()!), weights[k]));
  });

  it('a member that leaves after sharing keys and one that leaves after masking: the survivors’ aggregate', async () => {
    const specs: TensorSpec[] = [{ name: 'w', shape: [5, 10] }];
    const P = totalSize(specs);
    const initial = initialValues(P);
    h = await startSecureHarness({ specs, initial });
    const weights = [1, 2, 3, 4, 5];
    const deltas = weights.map((_, k) => syntheticDelta(k + 1, P));
    const leave = [undefined, 'shareKeys', undefined, 'collectMaskedVectors', undefined];
    const logs = weights.map((w, k) => addSecureMember(h!, `org-${k}`, w, (g) => plusDelta(g, deltas[k]!), leave[k] ? { leaveAfter: leave[k] } : {}));
    await waitForMembers(h, 5);
    const runId = await startSecureRun(h, { minAvailableMembers: 5, minTrainMembers: 3, maxRoundAttempts: 1 });
    assert.equal(await waitForRun(h, runId), 'completed', (await h.storage.getRun(runId))?.error ?? '');

    // org-1 shared its keys but sent no masked vector: its pairwise masks were rebuilt and removed.
    // org-3 masked but never answered unmask: its self-mask came from its neighbours' shares.
    const [round] = await h.storage.listRounds(runId);
    const id = (k: number) => logs[k]!.memberId()!;
    assert.deepEqual([...round!.participants].sort(), [0, 2, 3, 4].map(id).sort());
    assert.equal(round!.failures.length, 1);
    assert.equal(round!.failures[0]!.memberId, id(1));
    assert.match(round!.failures[0]!.reason, /^secure aggregation collectMaskedVectors: went offline before receiving its task/);
    assert.deepEqual(logs[3]!.stages, ['setup', 'shareKeys', 'collectMaskedVectors']);

    const global = makeParameters(specs, initial);
    const survivors = [0, 2, 3, 4];
    const expected = plainFedAvg(global, survivors.map((k) => ({ parameters: plusDelta(global, deltas[k]!), numExamples: weights[k]! })));
    const bound = quantizationErrorBound({ members: 5, clippingRange: 8, bits: 29, maxWeight: 5, totalWeight: 1 + 3 + 4 + 5 });
    assertClose((await h.storage.getCheckpoint(runId, 1))!.parameters.data, expected, (i) => bound + 2 ** -22 * Math.abs(expected[i]!), 'survivors’ aggregate');
  });

  it('too many dropouts fail the round with the shortfall named in the run’s error and events', async () => {
    const specs: TensorSpec[] = [{ name: 'w', shape: [8] }];
    h = await startSecureHarness({ specs, initial: new Float32Array(8) });
    // k = 4, t = 3: with three of five gone after masking, only two holders answer unmask.
    for (let k = 0; k < 5; k++) addSecureMember(h, `org-${k}`, 10, (g) => plusDelta(g, syntheticDelta(k, 8)), k >= 1 && k <= 3 ? { leaveAfter: 'collectMaskedVectors' } : {});
    await waitForMembers(h, 5);
    const runId = await startSecureRun(h, { minAvailableMembers: 5, minTrainMembers: 2, maxRoundAttempts: 1 });
    assert.equal(await waitForRun(h, runId), 'failed');
    const run = await h.storage.getRun(runId);
    assert.match(run!.error!, /^round 1 failed 1 times; last: secure aggregation failed after unmask: member \S+'s self-mask needs 3 shares, only 2 survivors hold one \(and 4 more secrets short\); the round cannot be unmasked/);
    const events = await h.storage.listEvents(runId);
    assert.match(events.find((e) => e.kind === 'round-retry')!.message, /self-mask needs 3 shares, only 2 survivors hold one/);
    assert.deepEqual(await h.storage.listRounds(runId), []);
  });

  it('fewer masked updates than minTrainMembers: the round fails before anything is unmasked', async () => {
    const specs: TensorSpec[] = [{ name: 'w', shape: [8] }];
    h = await startSecureHarness({ specs, initial: new Float32Array(8) });
    const logs = [0, 1, 2, 3].map((k) => addSecureMember(h!, `org-${k}`, 10, (g) => plusDelta(g, syntheticDelta(k, 8)), k === 1 ? { leaveAfter: 'shareKeys' } : {}));
    await waitForMembers(h, 4);
    const runId = await startSecureRun(h, { minAvailableMembers: 4, minTrainMembers: 4, maxRoundAttempts: 1 });
    assert.equal(await waitForRun(h, runId), 'failed');
    const run = await h.storage.getRun(runId);
    assert.match(run!.error!, new RegExp(`secure aggregation: only 3 members sent a masked update, the minimum is 4 \\(${logs[1]!.memberId()}: secure aggregation collectMaskedVectors: went offline`));
    assert.equal(h.replies.filter((r) => r.header.stage === 'unmask').length, 0, 'no unmask stage was run');
  });

  it('distributed DP: the coordinator releases global + Σ privatized deltas / m through aggregateDeltaSum', async () => {
    const specs: TensorSpec[] = [{ name: 'w', shape: [4, 5] }];
    const P = totalSize(specs);
    const initial = initialValues(P);
    const adaptive = { targetQuantile: 0.5, clipLearningRate: 0.2, clippedCountStddev: 1 };
    h = await startSecureHarness({ specs, initial });
    // Update norms ≈ 0.5, 0.8, 2.6, 5.2 against C = 1: two unclipped, two clipped.
    const scales = [0.2, 0.3, 1, 2];
    const sent: { delta: Float32Array; unclipped: number }[] = [];
    scales.forEach((scale, k) =>
      addSecureMember(h!, `org-${k}`, 100 * (k + 1), (g, task) => {
        const privacy = task.config.privacy!;
        const local = g.data.map((v, i) => v + scale * syntheticDelta(k + 1, P)[i]!);
        const out = privatizeUpdate(g.data, local, { clippingNorm: privacy.clippingNorm, noiseStddev: privacy.noiseStddev, indicatorNoiseStddev: privacy.indicatorNoiseStddev ?? 0, random: seededRandom(k, 7) });
        sent[k] = { delta: maskedDelta(g.data, out.parameters), unclipped: out.unclipped };
        return { parameters: makeParameters(g.specs, out.parameters), metrics: { dpUnclipped: out.unclipped } };
      }),
    );
    await waitForMembers(h, 4);
    // Client-level DP in distributed mode, as a run asks for it: members clip and noise, the coordinator only sums.
    const runId = await startSecureRun(h, {
      minAvailableMembers: 4,
      minTrainMembers: 4,
      differentialPrivacy: { level: 'client', mode: 'distributed', noiseMultiplier: 0.5, clippingNorm: 1, adaptiveClipping: adaptive, budget: { epsilon: 100, delta: 1e-5 } },
    });
    assert.equal(await waitForRun(h, runId), 'completed', (await h.storage.getRun(runId))?.error ?? '');

    // m = 4 expected members, weight 1 each; quantization error ≤ N·c/(2Q) on the sum, Q = 2^29 − 1.
    const m = 4;
    const expected = Float64Array.from(initial, (v, i) => v + sent.reduce((s, x) => s + x.delta[i]!, 0) / m);
    const tolerance = (4 * 8) / (2 * (2 ** 29 - 1)) / m + 2 ** -22;
    assertClose((await h.storage.getCheckpoint(runId, 1))!.parameters.data, expected, () => tolerance, 'DP release');
    // The indicators travelled inside the masked vector; their sum drove the clipping norm.
    const [round] = await h.storage.listRounds(runId);
    const fraction = sent.reduce((s, x) => s + x.unclipped, 0) / m + 0.5;
    assert.ok(Math.abs(round!.trainMetrics.dpUnclippedFraction! - fraction) < 1e-6, `${round!.trainMetrics.dpUnclippedFraction} vs ${fraction}`);
    assert.equal(round!.trainMetrics.members, 4);
    assert.equal(round!.trainMetrics.dpClippingNorm, 1);
    // The next round's clipping norm is the second value of the DP strategy's checkpointed state.
    const state = (await h.storage.getCheckpoint(runId, 1))!.strategyState!;
    assert.ok(Math.abs(state.data[1]! - nextClippingNorm(1, fraction, adaptive)) < 1e-6);
    for (const r of h.replies) assert.equal(r.header.metrics.dpUnclipped, undefined, 'the indicator never travels in the clear');
  });
});

// The phase driven through an in-memory grid that still passes every message through frames (support/secure-memory-grid.ts).
describe('secure train phase without HTTP', () => {
  const specs: TensorSpec[] = [{ name: 'w', shape: [6] }];
  const current = makeParameters(specs, Float32Array.from([0.5, -0.25, 1, 0, 2, -1]));

  function runRecord(config: Partial<RunConfigInput>): RunRecord {
    return {
      runId: 'run_test',
      config: RunConfigSchema.parse({ model: { family: 'mlp', inputShape: [2], hidden: [], classes: 2 }, rounds: 1, secureAggregation: true, ...config }),
      status: 'running',
      error: null,
      createdAt: 0,
      updatedAt: 0,
    };
  }

  const context = (ids: string[]): SecureTrainContext => ({
    round: 1,
    attempt: 1,
    current,
    plan: ids.map((memberId) => ({ memberId, config: { epochs: 1, batchSize: 1, learningRate: 0.1, optimizer: 'sgd', proximalMu: 0, seed: 0 } })),
    deadline: Date.now() + 10_000,
    signal: new AbortController().signal,
  });

  function arithmetic(id: string, delta: number[], numExamples: number): TaskHandler {
    const inner: TaskHandler = {
      train: async (_t, g) => ({ parameters: makeParameters(g.specs, g.data.map((v, i) => v + delta[i]!)), numExamples, metrics: {} }),
      evaluate: async () => ({ numExamples, metrics: { loss: 0 } }),
    };
    return withSecureAggregation(inner, { memberId: () => id, primitives: nodePrimitives });
  }

  it('refuses a member that speaks for another, and a masked vector sent as JSON', async () => {
    const deltas: Record<string, number[]> = { A: [1, 2, 3, 4, 5, 6], B: [-1, 0, 1, 0, -1, 0], C: [9, 9, 9, 9, 9, 9], D: [7, 7, 7, 7, 7, 7] };
    const handlers = new Map(Object.entries(deltas).map(([id, d]) => [id, arithmetic(id, d, id === 'A' ? 1 : 3)]));
    const honest = (id: string) => handlers.get(id)!;
    // C answers setup in A's name; D puts its masked vector back into the JSON payload.
    const c = honest('C');
    handlers.set('C', {
      ...c,
      secagg: async (task, g) => {
        const out = await c.secagg!(task, g);
        return task.stage === 'setup' ? { ...out, payload: { ...out.payload, memberId: 'A' } } : out;
      },
    });
    const d = honest('D');
    handlers.set('D', {
      ...d,
      secagg: async (task, g) => {
        const out = await d.secagg!(task, g);
        if (task.stage !== 'collectMaskedVectors') return out;
        const ring = out.parameters!.data;
        return { payload: { ...out.payload, maskedVector: Buffer.from(ring.buffer, ring.byteOffset, ring.byteLength).toString('base64') } };
      },
    });
    const sizes = new Map(Object.keys(deltas).map((id) => [id, id === 'A' ? 1 : 3]));
    const run = runRecord({ secureAggregationOptions: { threshold: 2 } });
    const phase = secureTrainPhase({ run, grid: memoryGrid(handlers, sizes), strategy: new FedAvg() });
    const outcome = await phase(context(['A', 'B', 'C', 'D']));
    assert.deepEqual(outcome.participants, ['A', 'B']);
    const reasons = new Map(outcome.failures.map((f) => [f.memberId, f.reason]));
    assert.equal(reasons.get('C'), 'secure aggregation setup: reply refused (CONCORD_ERR_INVALID_MESSAGE): payload.memberId is "A", but the reply came from C');
    assert.equal(reasons.get('D'), 'secure aggregation collectMaskedVectors: reply refused (CONCORD_ERR_INVALID_MESSAGE): the masked vector travels as the uint32 tensor of the frame, not in payload');
    // θ + (1·Δ_A + 3·Δ_B) / 4
    const expected = [0.5 + (1 - 3) / 4, -0.25 + 2 / 4, 1 + (3 + 3) / 4, 0 + 4 / 4, 2 + (5 - 3) / 4, -1 + 6 / 4];
    assertClose(outcome.aggregate!.parameters.data, expected, () => 1e-6, 'aggregate');
  });

  /** `handler`, except that it declines setup, as a member that drops out before sharing keys. */
  const declinesSetup = (handler: TaskHandler): TaskHandler => ({
    ...handler,
    secagg: async (task, g) => {
      if (task.stage === 'setup') throw new Error('gone before setup');
      return handler.secagg!(task, g);
    },
  });
  /** The neighbours the phase's round-1 graph gives `memberId` (the graph is public: seed, N, k). */
  const neighboursOf = (ids: string[], k: number, t: number, memberId: string): string[] =>
    new SecAggServer(makeSecAggConfig({ memberIds: ids, vectorLength: 6, roundSeed: secureRoundSeed('run_test', 1, 1), neighbours: k, threshold: t })).neighboursOf(memberId).sort();

  it('a member excluded because its neighbours dropped out is named, with those neighbours, and the round goes on', async () => {
    const ids = ['A', 'B', 'C', 'D', 'E', 'F', 'G', 'H'];
    const gone = neighboursOf(ids, 2, 2, 'A'); // k = 2: a cycle, so only A loses all its neighbours
    const handlers = new Map(ids.map((id) => [id, gone.includes(id) ? declinesSetup(arithmetic(id, [1, 1, 1, 1, 1, 1], 1)) : arithmetic(id, [1, 1, 1, 1, 1, 1], 1)]));
    const phase = secureTrainPhase({ run: runRecord({ secureAggregationOptions: { neighbours: 2, threshold: 2 } }), grid: memoryGrid(handlers, new Map(ids.map((id) => [id, 1]))), strategy: new FedAvg() });
    const outcome = await phase(context(ids));
    const reasons = new Map(outcome.failures.map((f) => [f.memberId, f.reason]));
    assert.equal(reasons.get('A'), `secure aggregation setup: excluded, only 0 of its 2 neighbours remain (${gone.join(', ')} gone); its secrets need 1`);
    for (const id of gone) assert.equal(reasons.get(id), 'secure aggregation setup: declined by the member: gone before setup');
    assert.deepEqual(outcome.participants, ids.filter((id) => id !== 'A' && !gone.includes(id)));
  });

  it('when exclusions leave too few members, the error names each excluded member and the neighbours it lacked', async () => {
    const ids = ['A', 'B', 'C', 'D']; // k = 3: everyone is everyone's neighbour; t = 3
    const handlers = new Map(ids.map((id) => [id, id === 'C' || id === 'D' ? declinesSetup(arithmetic(id, [1, 1, 1, 1, 1, 1], 1)) : arithmetic(id, [1, 1, 1, 1, 1, 1], 1)]));
    const phase = secureTrainPhase({ run: runRecord({ secureAggregationOptions: { neighbours: 3, threshold: 3 } }), grid: memoryGrid(handlers, new Map(ids.map((id) => [id, 1]))), strategy: new FedAvg() });
    await assert.rejects(phase(context(ids)), (e: ConcordError) => {
      assert.equal(e.code, ErrorCode.NOT_ENOUGH_MEMBERS);
      // The server's own message, then every member's reason.
      assert.match(e.message, /^secure aggregation failed after setup: only 0 members remain after setup \(excluded for want of neighbours: A, only 1 of its 3 neighbours remains \(C, D gone\); its secrets need 2; B, only 0 of its 3 neighbours remain \(A, C, D gone\); its secrets need 2\); secure aggregation needs at least the threshold, 3/);
      assert.ok(e.message.includes('A: secure aggregation setup: excluded, only 1 of its 3 neighbours remains (C, D gone); its secrets need 2'), e.message);
      assert.ok(e.message.includes('C: secure aggregation setup: declined by the member: gone before setup'), e.message);
      assert.deepEqual((e.details.excluded as { memberId: string; missing: string[] }[]).map((x) => [x.memberId, x.missing]), [['A', ['C', 'D']], ['B', ['A', 'C', 'D']]]);
      return true;
    });
  });

  it('refuses bad options, strategies that need individual updates, and central DP at the start of the phase', async () => {
    const grid = memoryGrid(new Map(), new Map());
    const refusal = async (run: RunRecord, strategy: Strategy) => {
      try {
        await secureTrainPhase({ run, grid, strategy })(context(['A', 'B']));
      } catch (error) {
        return error as ConcordError;
      }
      assert.fail('the phase should refuse');
    };
    let error = await refusal(runRecord({ secureAggregationOptions: { neighbors: 3 } }), new FedAvg());
    assert.equal(error.code, ErrorCode.INVALID_ARGUMENT);
    assert.equal(error.details.field, 'secureAggregationOptions.neighbors');
    assert.match(error.message, /secureAggregationOptions\.neighbors: unknown field "neighbors"; did you mean `secureAggregationOptions\.neighbours`\?/);
    error = await refusal(runRecord({ secureAggregationOptions: { bits: 40 } }), new FedAvg());
    assert.equal(error.details.field, 'secureAggregationOptions.bits');
    error = await refusal(runRecord({ secureAggregationOptions: { neighbours: 2, threshold: 4 } }), new FedAvg());
    assert.equal(error.details.field, 'secureAggregationOptions.threshold');
    assert.match(error.message, /is 4; with 2 neighbours a secret has only 3 holders/);
    // Bits that could wrap the ring for this round's members: the module's message, under the run's option name.
    error = await refusal(runRecord({ secureAggregationOptions: { bits: 32 } }), new FedAvg());
    assert.equal(error.code, ErrorCode.INVALID_ARGUMENT);
    assert.equal(error.details.field, 'secureAggregationOptions.bits');
    assert.match(error.message, /^secureAggregationOptions\.bits = 32 lets the sum of 2 members reach/);
    // Too few members for the threshold asked: a failed attempt (retried), not a configuration error.
    error = await refusal(runRecord({ secureAggregationOptions: { threshold: 3 } }), new FedAvg());
    assert.equal(error.code, ErrorCode.NOT_ENOUGH_MEMBERS);
    assert.match(error.message, /threshold 3 needs 3 holders per secret, but 2 members give each secret only 2/);
    error = await refusal(runRecord({}), withUpdateValidation(new FedAvg()));
    assert.equal(error.details.field, 'updateValidation');
    for (const name of ['krum', 'multikrum', 'fedmedian', 'fedtrimmedavg', 'fedavg-normbound']) {
      error = await refusal(runRecord({}), createStrategy({ name }));
      assert.equal(error.code, ErrorCode.INVALID_ARGUMENT);
      assert.equal(error.details.field, 'strategy.name');
      assert.match(error.message, new RegExp(`^secure aggregation: strategy\\.name: ${name} needs individual updates; it cannot run with secure aggregation`));
    }
    error = await refusal(runRecord({}), new DifferentiallyPrivateStrategy(createStrategy({ name: 'krum' }), { noiseMultiplier: 1, clippingNorm: 1, mode: 'distributed' }));
    assert.match(error.message, /krum needs individual updates/);
    error = await refusal(runRecord({}), new DifferentiallyPrivateStrategy(new FedAvg(), { noiseMultiplier: 1, clippingNorm: 1 }));
    assert.equal(error.details.field, 'differentialPrivacy.mode');
  });

  it('a member declines stages out of order or for rounds it did not set up', async () => {
    const handler = arithmetic('A', [0, 0, 0, 0, 0, 0], 1);
    const header = (stage: string, payload: Record<string, unknown>): TaskHeader => ({
      protocolVersion: PROTOCOL_VERSION,
      taskId: 't',
      kind: 'secagg',
      stage,
      payload,
      runId: 'run_test',
      round: 1,
      deadline: 0,
      model: { family: 'mlp', inputShape: [2], hidden: [], classes: 2, activation: 'relu' },
      config: { epochs: 1, batchSize: 1, learningRate: 0.1, optimizer: 'sgd', proximalMu: 0, seed: 0 },
    });
    await assert.rejects(handler.secagg!(header('shareKeys', { stage: 'shareKeys', roundSeed: 'AAAA', publicKeys: [] }), null), (e: ConcordError) => {
      assert.equal(e.code, ErrorCode.FORBIDDEN);
      assert.match(e.message, /no secure-aggregation setup of round 1/);
      return true;
    });
    await assert.rejects(handler.secagg!(header('mix', {}), null), (e: ConcordError) => e.code === ErrorCode.FORBIDDEN && /unknown secure-aggregation stage "mix"/.test(e.message));
    // A setup that does not list this member is refused too.
    const config = { version: 1, roundSeed: Buffer.alloc(32).toString('base64'), memberIds: ['B', 'C'], neighbours: 1, threshold: 2, vectorLength: 6, clippingRange: 8, bits: 28, maxWeight: 1, modulusBits: 32 };
    await assert.rejects(handler.secagg!(header('setup', { stage: 'setup', config }), null), (e: ConcordError) => e.code === ErrorCode.FORBIDDEN && /A is not among the round's members/.test(e.message));
  });
});
