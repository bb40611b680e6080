// Secure aggregation per shard group: the round's members are dealt into the master's groups,
// each group runs its own SecAgg+ instance, its masked vectors go over JetStream to its shard
// aggregator (a real `concord aggregator` process), which sums them and takes off the masks
// the coordinator rebuilt from the group's shares; the coordinator adds the groups' sums. The
// result is the survivors' weighted mean within the quantization bound, with a member that
// dropped before masking (its pair masks removed in the shard) and one that missed unmask (its
// self-mask rebuilt from its neighbours); a shard aggregator killed while holding its group's
// masked vectors has them redelivered and the round's result is still right.

import assert from 'node:assert/strict';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { after, test } from 'node:test';
import { silentProgress } from '../src/cli/progress.js';
import { seededRandom } from '../src/core/random.js';
import type { SecureTrainContext } from '../src/coordinator/round-loop.js';
import { secureTrainPhase } from '../src/coordinator/secure-round.js';
import { MasterAggregator } from '../src/distributed/master-aggregator.js';
import type { TaskHandler } from '../src/node/member.js';
import { withSecureAggregation } from '../src/node/secagg-handler.js';
import { nodePrimitives } from '../src/privacy/secagg/primitives-node.js';
import { quantizationErrorBound } from '../src/privacy/secagg/quantize.js';
import { ErrorCode, isConcordError } from '../src/protocol/errors.js';
import { RunConfigSchema } from '../src/protocol/messages.js';
import { makeParameters } from '../src/protocol/tensors.js';
import { SIMULATE_DEFAULTS } from '../src/simulation/options.js';
import { simulate } from '../src/simulation/simulate.js';
import { openStorage } from '../src/storage/index.js';
import type { RunRecord } from '../src/storage/storage.js';
import { FedAvg } from '../src/strategies/fedavg.js';
import { lastModel } from './support/checkpoints.js';
import { startNatsServer, type NatsServer } from './support/nats.js';
import { exited, processScope, spawnWithEvents, until, type EventfulProcess } from './support/processes.js';
import { memoryGrid } from './support/secure-memory-grid.js';

const MAIN = fileURLToPath(new URL('../src/cli/main.ts', import.meta.url));
const scope = processScope();

function startAggregator(url: string, shard: number): EventfulProcess {
  return spawnWithEvents(['--import', 'tsx', MAIN, 'aggregator', '--nats', url, '--shard', String(shard), '--ack-wait', '2000', '--json'], { children: scope.children });
}

async function stopAll(aggregators: EventfulProcess[], nats: NatsServer): Promise<void> {
  for (const a of aggregators) {
    if (a.child.exitCode === null && a.child.signalCode === null) {
      a.child.kill('SIGTERM');
      await exited(a.child);
    }
  }
  await nats.stop();
}

const P = 2_000;
const ids = ['m1', 'm2', 'm3', 'm4', 'm5', 'm6', 'm7', 'm8', 'm9'];
const sizes = new Map(ids.map((id, i) => [id, 10 * (i + 1)]));
const random = seededRandom(41);
const deltas = new Map(ids.map((id) => [id, Float32Array.from({ length: P }, () => 2 * random() - 1)]));
const current = makeParameters([{ name: 'w', shape: [P] }], Float32Array.from({ length: P }, (_, i) => Math.sin(i)));

const run: RunRecord = {
  runId: 'run_sharded_secure',
  config: RunConfigSchema.parse({ model: { family: 'mlp', inputShape: [2], hidden: [], classes: 2 }, rounds: 1, secureAggregation: true, hierarchicalAggregation: { shards: 2, minGroupSize: 3 } }),
  status: 'running',
  error: null,
  createdAt: 0,
  updatedAt: 0,
};

const context = (members: string[]): SecureTrainContext => ({
  round: 1,
  attempt: 1,
  current,
  plan: members.map((memberId) => ({ memberId, config: { epochs: 1, batchSize: 1, learningRate: 0.1, optimizer: 'sgd', proximalMu: 0, seed: 0 } })),
  deadline: Date.now() + 120_000,
  signal: new AbortController().signal,
});

/** A member whose training adds its delta; `hooks` may decline or delay a stage. */
function member(id: string, before?: (stage: string) => Promise<void>): TaskHandler {
  const inner: TaskHandler = {
    train: async (_t, g) => ({ parameters: makeParameters(g.specs, g.data.map((v, i) => v + deltas.get(id)![i]!)), numExamples: sizes.get(id)!, metrics: {} }),
    evaluate: async () => ({ numExamples: sizes.get(id)!, metrics: { loss: 0 } }),
  };
  const secure = withSecureAggregation(inner, { memberId: () => id, primitives: nodePrimitives });
  return {
    ...secure,
    secagg: async (task, g) => {
      await before?.(task.stage!);
      return secure.secagg!(task, g);
    },
  };
}

/** θ + Σ n_k Δ_k / Σ n_k over the contributors, in float64. */
function expectedModel(contributors: string[]): Float64Array {
  const total = contributors.reduce((t, id) => t + sizes.get(id)!, 0);
  return Float64Array.from({ length: P }, (_, i) => current.data[i]! + contributors.reduce((t, id) => t + sizes.get(id)! * deltas.get(id)![i]!, 0) / total);
}

/**
 * The largest error beyond float32 rounding: what is left after allowing one float32 rounding
 * of the model and one of each group's sum (2⁻²⁴ of |θ_i| + 1 each, the deltas being below 1).
 */
function worstError(got: Float32Array, want: Float64Array): number {
  let worst = 0;
  for (let i = 0; i < P; i++) worst = Math.max(worst, Math.abs(got[i]! - want[i]!) - 2 * 2 ** -24 * (Math.abs(want[i]!) + 1));
  return worst;
}

after(async () => {
  for (const child of scope.children) if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
});

test('secure aggregation per shard group: each shard process unmasks its group\'s sum, the coordinator adds them; dropouts before and after masking, and a shard killed holding its masked vectors, still give the survivors\' mean', { timeout: 300_000 }, async () => {
  const nats = await startNatsServer();
  const aggregators = [startAggregator(nats.url, 0), startAggregator(nats.url, 1)];
  try {
    for (const a of aggregators) await until(async () => a.events.some((e) => e.event === 'ready'), 90_000, 'an aggregator to be ready');
    const shards = () => MasterAggregator.open({ servers: nats.url, shards: 2, minGroupSize: 3, partialTimeoutMs: 60_000 });
    // The groups, as the master deals them: members sorted by id, dealt in turn.
    const groups = [['m1', 'm3', 'm5', 'm7', 'm9'], ['m2', 'm4', 'm6', 'm8']];

    // m3 (group 0) is gone before masking: the shard must take off its pair masks with its
    // neighbours, from the key its neighbours' shares rebuild. m4 (group 1) misses unmask: its
    // self-mask is rebuilt from its neighbours' shares, and it still counts.
    const handlers = new Map(ids.map((id) => [id, member(id, async (stage) => {
      if (id === 'm3' && stage === 'collectMaskedVectors') throw new Error('gone before masking');
      if (id === 'm4' && stage === 'unmask') throw new Error('gone before unmasking');
    })]));
    const outcome = await secureTrainPhase({ run, grid: memoryGrid(handlers, sizes), strategy: new FedAvg(), shards })(context(ids));
    const contributors = ids.filter((id) => id !== 'm3');
    assert.deepEqual(outcome.participants, contributors);
    assert.deepEqual(outcome.failures.map((f) => f.memberId), ['m3']);
    assert.equal(outcome.aggregate!.metrics.shards, 2);
    assert.equal(outcome.aggregate!.metrics.members, 8);
    // Each shard unmasked its own group's sum: four members each.
    const partials = aggregators.map((a) => a.events.filter((e) => e.event === 'partial').map((e) => e.members));
    assert.deepEqual(partials, [[4], [4]]);
    assert.deepEqual(groups.flat().sort(), [...ids].sort());
    // Quantization: the coarser of the two groups' encodings (5 members: 29 bits) bounds both.
    const bound = quantizationErrorBound({ members: 8, clippingRange: 8, bits: 29, maxWeight: 90, totalWeight: contributors.reduce((t, id) => t + sizes.get(id)!, 0) });
    const error = worstError(outcome.aggregate!.parameters.data, expectedModel(contributors));
    console.log(`secure aggregation in 2 shard groups of 9 members × ${P} values: largest error beyond float32 rounding ${error.toExponential(2)}, quantization bound ${bound.toExponential(2)}`);
    assert.ok(error <= bound, `largest error ${error} above the quantization bound ${bound}`);

    // The same round without shards (one SecAgg+ instance over all nine): the same mean.
    const flatRun = { ...run, config: { ...run.config, hierarchicalAggregation: undefined } };
    const flat = await secureTrainPhase({ run: flatRun, grid: memoryGrid(handlers, sizes), strategy: new FedAvg() })(context(ids));
    assert.deepEqual(flat.participants, contributors);
    assert.ok(worstError(flat.aggregate!.parameters.data, expectedModel(contributors)) <= bound);

    // Shard 1's aggregator is killed once it holds its group's masked vectors, before unmasking;
    // a fresh one gets them redelivered and unmasks the same sum.
    let victim = aggregators[1]!;
    const held = victim.events.length;
    let killed = false;
    const killing = new Map(ids.map((id) => [id, member(id, async (stage) => {
      if (stage !== 'unmask' || killed) return;
      killed = true;
      await until(async () => victim.events.slice(held).filter((e) => e.event === 'update').length === 4, 90_000, 'shard 1 to hold its group\'s masked vectors');
      victim.child.kill('SIGKILL');
      await exited(victim.child);
      victim = startAggregator(nats.url, 1);
      aggregators.push(victim);
    })]));
    const again = await secureTrainPhase({ run, grid: memoryGrid(killing, sizes), strategy: new FedAvg(), shards })(context(ids));
    assert.ok(killed);
    assert.deepEqual(again.participants, ids);
    const redelivered = victim.events.filter((e) => e.event === 'update' && Number(e.delivery) >= 2);
    assert.equal(redelivered.length, 4, 'the new aggregator got the four masked vectors the killed one held');
    const boundAll = quantizationErrorBound({ members: 9, clippingRange: 8, bits: 29, maxWeight: 90, totalWeight: ids.reduce((t, id) => t + sizes.get(id)!, 0) });
    assert.ok(worstError(again.aggregate!.parameters.data, expectedModel(ids)) <= boundAll);

    // Too few members for even one group of the minimum size: refused before anyone is asked.
    await assert.rejects(secureTrainPhase({ run, grid: memoryGrid(handlers, sizes), strategy: new FedAvg(), shards })(context(['m1', 'm2'])), (e: unknown) => isConcordError(e) && e.code === ErrorCode.NOT_ENOUGH_MEMBERS && /2 updates cannot be summed in groups of at least 3/.test(e.message));
  } finally {
    await stopAll(aggregators, nats);
  }
});

test('a simulated consortium under secure aggregation per shard group trains the model flat secure aggregation trains, to quantization', { timeout: 300_000 }, async () => {
  const nats = await startNatsServer();
  const aggregators = [startAggregator(nats.url, 0), startAggregator(nats.url, 1)];
  try {
    for (const a of aggregators) await until(async () => a.events.some((e) => e.event === 'ready'), 90_000, 'an aggregator to be ready');
    const dir = await scope.tempDir('concord-sharded-secure-');
    const settings = { ...SIMULATE_DEFAULTS, members: 12, fraction: 1, evaluateFraction: 0, rounds: 2, workers: 0, secure: true, progress: silentProgress };
    const flat = await simulate({ ...settings, dir: join(dir, 'flat') });
    await flat.stop();
    const sharded = await simulate({ ...settings, dir: join(dir, 'sharded'), nats: nats.url, shards: 2, minGroupSize: 4 });
    await sharded.stop();
    for (const round of [1, 2]) {
      const partials = aggregators.map((a) => a.events.find((e) => e.event === 'partial' && e.round === round));
      assert.deepEqual(partials.map((p) => p?.members), [6, 6], `round ${round}'s partials`);
    }
    const storage = await openStorage(sharded.db, { existing: true });
    try {
      const rounds = await storage.listRounds(sharded.runId);
      assert.deepEqual(rounds.map((r) => r.trainMetrics.shards), [2, 2]);
      assert.deepEqual(rounds.map((r) => r.trainMetrics.members), [12, 12]);
    } finally {
      await storage.close();
    }
    const a = await lastModel(flat.db, flat.runId);
    const b = await lastModel(sharded.db, sharded.runId);
    let worst = 0;
    for (let i = 0; i < a.length; i++) worst = Math.max(worst, Math.abs(a[i]! - b[i]!));
    // Both are within quantization (about 1e-6 per round here) of the plain mean, so of each other.
    assert.ok(worst < 1e-4, `largest difference between the two models after two rounds: ${worst}`);
    assert.ok(sharded.accuracy !== null && flat.accuracy !== null && Math.abs(sharded.accuracy - flat.accuracy) < 0.005, `accuracy ${sharded.accuracy} vs ${flat.accuracy}`);
  } finally {
    await stopAll(aggregators, nats);
  }
});
