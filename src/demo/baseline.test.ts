import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { startBaseline } from './baseline-worker.js';
import { DEMO_TASKS } from './tasks.js';

describe('centralised baseline in a worker thread', () => {
  it('trains the demo model on the pooled digits, reporting every epoch, and returns its test accuracy', { timeout: 120_000 }, async () => {
    const epochs: number[] = [];
    const job = { task: 'mnist', settings: DEMO_TASKS.mnist!.defaults, epochs: 2, choice: { members: 5, partition: 'dirichlet' as const, alpha: 0.5, seed: 42, testSize: 1000 }, seed: 42 };
    const accuracy = await startBaseline(job, (epoch, total, loss) => {
      assert.equal(total, 2);
      assert.ok(Number.isFinite(loss) && loss > 0, `loss ${loss}`);
      epochs.push(epoch);
    }).result;
    assert.deepEqual(epochs, [1, 2]);
    // Two epochs of SGD on 9,000 pooled digits: about 0.9 on the 1,000 held out (chance is 0.1).
    assert.ok(accuracy > 0.85 && accuracy < 1, `accuracy ${accuracy}`);
  });

  it('reports a failure inside the worker as a rejected result, with the reason', { timeout: 60_000 }, async () => {
    const job = { task: 'mnist', settings: DEMO_TASKS.mnist!.defaults, epochs: 1, choice: { members: 5, partition: 'dirichlet' as const, alpha: 0.5, seed: 42, testSize: 20_000 }, seed: 42 };
    await assert.rejects(startBaseline(job, () => undefined).result, /the centralised baseline failed: cannot draw 20000 of 10000 examples/);
  });
});
