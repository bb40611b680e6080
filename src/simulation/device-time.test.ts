import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { DeviceTimeExecutor, isSlowMember } from './device-time.js';
import type { MemberAnswer, MemberExecutor } from './memory-grid.js';

const instant: MemberExecutor = { run: async (): Promise<MemberAnswer> => ({ ok: true, body: new Uint8Array([1]) }) };
const ids = Array.from({ length: 10_000 }, (_, i) => `member-${i}`);

describe('simulated device time', () => {
  it('marks about slowFraction of the members slow, the same ones for the same seed', () => {
    const slow = ids.filter((id) => isSlowMember(id, { slowFraction: 0.2, seed: 1 }));
    assert.ok(slow.length > 1_850 && slow.length < 2_150, `${slow.length} of 10,000 slow`);
    assert.deepEqual(ids.filter((id) => isSlowMember(id, { slowFraction: 0.2, seed: 1 })), slow);
    assert.notDeepEqual(ids.filter((id) => isSlowMember(id, { slowFraction: 0.2, seed: 2 })), slow);
    assert.equal(ids.filter((id) => isSlowMember(id, { slowFraction: 0, seed: 1 })).length, 0);
    assert.equal(ids.filter((id) => isSlowMember(id, { slowFraction: 1, seed: 1 })).length, ids.length);
  });

  it('holds each answer at least the member\'s device time, five times longer for a slow one', async () => {
    const options = { seconds: 0.05, slowFraction: 0.5, slowFactor: 5, seed: 3 };
    const executor = new DeviceTimeExecutor(instant, options);
    const fast = ids.find((id) => !isSlowMember(id, options))!;
    const slow = ids.find((id) => isSlowMember(id, options))!;
    assert.equal(executor.taskMs(fast), 50);
    assert.equal(executor.taskMs(slow), 250);
    for (const [id, ms] of [[fast, 50], [slow, 250]] as const) {
      const started = performance.now();
      const answer = await executor.run(id, new Uint8Array(), new AbortController().signal);
      assert.equal(answer.ok, true);
      // Timers may fire late on a busy machine, never early.
      assert.ok(performance.now() - started >= ms, `${id}: answered after ${performance.now() - started} ms, device time ${ms} ms`);
    }
  });

  it('lets an abandoned task go at once instead of holding it for its device time', async () => {
    const executor = new DeviceTimeExecutor(instant, { seconds: 3600, slowFraction: 0, slowFactor: 1, seed: 0 });
    const abort = new AbortController();
    const answered = executor.run('member-1', new Uint8Array(), abort.signal);
    setTimeout(() => abort.abort(), 10);
    assert.equal((await answered).ok, true); // an hour of device time would time the test out
  });

  it('refuses device times that cannot be', () => {
    assert.throws(() => new DeviceTimeExecutor(instant, { seconds: 0, slowFraction: 1.5, slowFactor: 0.5, seed: 0 }), /seconds: expected a number > 0, got 0; slowFraction: expected a fraction in \[0, 1\], got 1.5; slowFactor: expected a number >= 1, got 0.5/);
  });
});
