import assert from 'node:assert/strict';
import { before, describe, it } from 'node:test';
import type { MemberData } from '../data/dataset.js';
import { initBackend } from '../model/backend.js';
import { initialParameters } from '../model/build.js';
import { RunConfigSchema, type TaskHeader } from '../protocol/messages.js';
import { createTfjsHandler } from './tfjs-handler.js';

const config = RunConfigSchema.parse({ model: { family: 'mlp', inputShape: [2], hidden: [], classes: 2 }, rounds: 1, train: { epochs: 3, batchSize: 4, learningRate: 0.1 } });

/** 16 points, labelled by the sign of their first feature. */
function memberData(): MemberData {
  const n = 16;
  const x = Float32Array.from({ length: 2 * n }, (_, i) => Math.sin(i * 1.7));
  const y = Int32Array.from({ length: n }, (_, i) => (x[2 * i]! > 0 ? 1 : 0));
  const train = { x, y, inputShape: [2], classes: 2 };
  return { train, holdout: train, descriptor: { name: 'sine', numExamples: n, numHoldout: n, inputShape: [2], classes: 2 } };
}

function task(extra: Partial<TaskHeader['config']> = {}): TaskHeader {
  return { protocolVersion: 1, taskId: 't', kind: 'train', runId: 'r', round: 2, deadline: 0, model: config.model, config: { ...config.train, ...extra } };
}

before(async () => {
  await initBackend('wasm');
});

describe('createTfjsHandler', () => {
  it('starts the injected meter before training and reports what it stops with', async () => {
    const calls: string[] = [];
    const handler = createTfjsHandler(memberData(), {
      meter: () => {
        calls.push('start');
        return { stop: () => (calls.push('stop'), { energyJoules: 1.5, energySource: 0 }) };
      },
      onEpoch: () => calls.push('epoch'),
    });
    const out = await handler.train(task(), initialParameters(config.model, 1));
    assert.deepEqual(calls, ['start', 'epoch', 'epoch', 'epoch', 'stop']);
    assert.equal(out.metrics.energyJoules, 1.5);
    assert.equal(out.metrics.energySource, 0);
    assert.equal(out.numExamples, 16);
  });

  it('reports no meter metrics without a meter, and passes each epoch to onEpoch with its task', async () => {
    const epochs: [string, number, number, number][] = [];
    const handler = createTfjsHandler(memberData(), { onEpoch: (t, epoch, loss, accuracy) => epochs.push([t.taskId, epoch, loss, accuracy]) });
    const out = await handler.train(task(), initialParameters(config.model, 1));
    assert.deepEqual(Object.keys(out.metrics).sort(), ['accuracy', 'examplesProcessed', 'loss', 'trainSeconds']);
    assert.deepEqual(epochs.map(([id, epoch]) => [id, epoch]), [['t', 0], ['t', 1], ['t', 2]]);
    for (const [, , loss, accuracy] of epochs) assert.ok(Number.isFinite(loss) && accuracy >= 0 && accuracy <= 1);
    assert.equal(epochs.at(-1)![2], out.metrics.loss);
  });
});
