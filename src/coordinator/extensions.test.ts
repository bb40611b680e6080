import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { TrainConfig } from '../protocol/messages.js';
import type { Instruction } from '../strategies/strategy.js';
import { composeExtensions } from './extensions.js';
import type { RoundExtensions } from './round-loop.js';

const config: TrainConfig = { epochs: 1, batchSize: 8, learningRate: 0.1, optimizer: 'sgd', proximalMu: 0, seed: 0 };
const plan: Instruction[] = ['a', 'b', 'c'].map((memberId) => ({ memberId, config }));

describe('composeExtensions', () => {
  it('chains selection and task settings in order, merges charges and metrics', async () => {
    const planLike: RoundExtensions = {
      select: async (_r, p) => p.filter((i) => i.memberId !== 'c').map((i) => ({ ...i, config: { ...i.config, epochs: 3 } })),
      roundMetrics: (_r, train) => ({ trainMetrics: { plannedUnits: 7 }, members: train.map((m) => ({ ...m, metrics: { ...m.metrics, plannedUnits: 1 } })) }),
    };
    const privacyLike: RoundExtensions = {
      configure: (_r, i) => ({ ...i.config, learningRate: i.config.epochs * 10 }),
      charges: async () => [{ memberId: 'a', datasetId: 'a/d', samplingRate: 1, noiseMultiplier: 1, steps: 1 }],
      roundMetrics: () => ({ trainMetrics: { clipped: 2 } }),
    };
    const ext = composeExtensions(planLike, privacyLike);
    const selected = await ext.select!(1, plan, []);
    assert.deepEqual(selected.map((i) => i.memberId), ['a', 'b']);
    // configure sees what select produced.
    assert.equal(ext.configure!(1, selected[0]!, undefined).learningRate, 30);
    assert.equal((await ext.charges!(1, [], [], [])).length, 1);
    const row = { memberId: 'a', phase: 'train' as const, numExamples: 1, loss: null, metrics: {}, bytesIn: 0, bytesOut: 0, seconds: 0 };
    assert.deepEqual(ext.roundMetrics!(1, [row]), { trainMetrics: { plannedUnits: 7, clipped: 2 }, members: [{ ...row, metrics: { plannedUnits: 1 } }] });
  });

  it('passes a single set through, and stages it does not know when only one set has them', () => {
    const only: RoundExtensions = { configure: (_r, i) => i.config };
    assert.equal(composeExtensions(only, undefined), only);
    const hook = () => 'audited';
    const composed = composeExtensions(only, { select: async (_r, p) => p, ...({ audit: hook } as object) }) as RoundExtensions & { audit?: () => string };
    assert.equal(composed.audit?.(), 'audited');
    assert.throws(() => composeExtensions({ secureTrain: async () => ({ aggregate: null, participants: [], failures: [], members: [] }) }, { secureTrain: async () => ({ aggregate: null, participants: [], failures: [], members: [] }) }));
  });
});
