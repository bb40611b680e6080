// A run configuration over the operator API: refused, never guessed. Everything that can be
// checked is checked before any member is asked to work, and a coordinator composed without
// a protection refuses runs that ask for it instead of running them without it.

import { afterEach, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { standardRunExtensions } from '../src/coordinator/run-extensions.js';
import { ErrorCode } from '../src/protocol/errors.js';
import type { Problem } from '../src/protocol/problems.js';
import { OPERATOR, addMember, plus, startHarness, waitForRun, type Harness } from './support/harness.js';

let h: Harness | undefined;
afterEach(async () => {
  await h?.close();
  h = undefined;
});

interface ErrorBody {
  error: { code: string; message: string; details: { field?: string; problems?: Problem[] } };
}

const valid = { model: { family: 'mlp', inputShape: [2], classes: 2 }, rounds: 1, minAvailableMembers: 2, minTrainMembers: 2, roundDeadlineSeconds: 10 };

async function post(body: unknown): Promise<{ status: number; body: ErrorBody & { runId?: string } }> {
  const res = await fetch(`${h!.url}/v1/runs`, { method: 'POST', headers: { authorization: `Bearer ${OPERATOR}`, 'content-type': 'application/json' }, body: JSON.stringify(body) });
  return { status: res.status, body: (await res.json()) as ErrorBody & { runId?: string } };
}

async function refused(body: unknown): Promise<Problem[]> {
  const res = await post(body);
  assert.equal(res.status, 400, JSON.stringify(res.body));
  assert.equal(res.body.error.code, ErrorCode.INVALID_ARGUMENT);
  assert.deepEqual(await h!.storage.listRuns(), [], 'nothing was stored');
  return res.body.error.details.problems!;
}

const paths = (problems: Problem[]) => problems.map((p) => p.path);

describe('run configuration over the API', () => {
  it('"secureAggregaton": true is refused, not run in the clear; every mistake is listed with the field meant', async () => {
    h = await startHarness();
    const problems = await refused({ ...valid, secureAggregaton: true, roundDeadlineSecond: 30, train: { epoch: 2 } });
    assert.deepEqual(paths(problems), ['train.epoch', 'secureAggregaton', 'roundDeadlineSecond']);
    assert.match(problems[1]!.message, /did you mean `secureAggregation`/);
    assert.match(problems[0]!.message, /did you mean `train.epochs`/);
  });

  it('an unknown strategy option and a strategy that cannot run securely are reported together', async () => {
    h = await startHarness();
    const problems = await refused({ ...valid, strategy: { name: 'fedmedian', options: { bogus: 1 } }, secureAggregation: true, secureAggregationOptions: { neighbors: 2 } });
    assert.deepEqual(paths(problems).sort(), ['secureAggregationOptions.neighbors', 'strategy.name', 'strategy.options.bogus']);
    assert.match(problems.find((p) => p.path === 'secureAggregationOptions.neighbors')!.message, /did you mean `secureAggregationOptions.neighbours`/);
  });

  it('a model too large for a request, or absurdly large, is refused before anything is allocated', async () => {
    h = await startHarness({ bodyLimitBytes: 1024 * 1024 });
    const big = await refused({ ...valid, model: { family: 'mlp', inputShape: [784], hidden: [1024], classes: 10 } });
    assert.equal(big[0]!.path, 'model');
    assert.match(big[0]!.message, /814,090 parameters, so each member's update is about 3\.1 MiB, more than the 1\.0 MiB this coordinator accepts in a request \(--max-body-mb\)/);
    const absurd = await refused({ ...valid, model: { family: 'mlp', inputShape: [3_000_000_000], classes: 2 } });
    assert.match(absurd[0]!.message, /6,000,000,002 parameters; at most 268,435,456 are supported/);
  });

  it("a model that does not fit the enrolled members' data is refused before they are asked to work", async () => {
    h = await startHarness();
    addMember(h, 'a', 10, plus(1));
    addMember(h, 'b', 10, plus(1));
    await until(async () => (await h!.storage.listMembers()).length === 2);
    const problems = await refused({ ...valid, model: { family: 'mlp', inputShape: [28, 28, 1], classes: 10 } });
    assert.equal(problems[0]!.path, 'model.inputShape');
    assert.match(problems[0]!.message, /\[28, 28, 1\] takes 784 values per example, but the data of a has 2 \(\[2\]\), b has 2 \(\[2\]\)/);
    // The same element count in another shape fits: examples are row-major.
    const started = await post({ ...valid, model: { family: 'mlp', inputShape: [1, 2], classes: 2 } });
    assert.equal(started.status, 200, JSON.stringify(started.body));
    assert.equal(await waitForRun(h, started.body.runId!), 'completed');
  });

  it('a coordinator composed without the privacy extensions refuses runs that ask for them', async () => {
    h = await startHarness({ runExtensions: [] });
    const problems = await refused({
      ...valid,
      secureAggregation: true,
      differentialPrivacy: { level: 'sample', noiseMultiplier: 1, clippingNorm: 1, budget: { epsilon: 8, delta: 1e-5 } },
      updateValidation: {},
    });
    assert.deepEqual(paths(problems), ['secureAggregation', 'differentialPrivacy', 'updateValidation']);
    for (const p of problems) assert.match(p.message, /this coordinator was composed without .*; the run is refused rather than run without it/);
    // With only update validation composed in, secure aggregation is still refused.
    await h.close();
    h = await startHarness({ runExtensions: standardRunExtensions().filter((e) => e.field === 'updateValidation') });
    assert.deepEqual(paths(await refused({ ...valid, secureAggregation: true })), ['secureAggregation']);
    const plain = await post(valid);
    assert.equal(plain.status, 200, 'a run that asks for nothing it lacks still starts');
  });

  it('hierarchical aggregation is refused without --nats, and with what it cannot split, naming each', async () => {
    h = await startHarness();
    const without = await refused({ ...valid, hierarchicalAggregation: { shards: 2 } });
    assert.deepEqual(paths(without), ['hierarchicalAggregation']);
    assert.match(without[0]!.message, /hierarchical aggregation \(start it with --nats\)/);
    await h.close();
    // Composed in (the NATS server is not reached before a round): the conflicts, all at once.
    h = await startHarness({ runExtensions: standardRunExtensions({ hierarchical: { nats: 'nats://127.0.0.1:1' } }) });
    const conflicts = await refused({ ...valid, strategy: { name: 'krum', options: {} }, hierarchicalAggregation: { shards: 2 }, secureAggregation: true, updateValidation: {} });
    assert.deepEqual(
      conflicts.filter((p) => /hierarchical|shard/.test(p.message)).map((p) => p.path).sort(),
      ['hierarchicalAggregation.minGroupSize', 'strategy.name', 'updateValidation'],
    );
    // Secure aggregation runs per shard group: groups of one would unmask a member's own update,
    // and members' DP noise shares would leave each group's sum under-noised.
    const secure = await refused({ ...valid, hierarchicalAggregation: { shards: 2, minGroupSize: 3 }, secureAggregation: true, differentialPrivacy: { level: 'client', mode: 'distributed', noiseMultiplier: 1, clippingNorm: 1, budget: { epsilon: 8, delta: 1e-5 } } });
    assert.ok(secure.some((p) => p.path === 'differentialPrivacy.level' && /each group's sum, which its shard unmasks, would carry only its own members' share of the noise/.test(p.message)), JSON.stringify(secure));
    assert.ok(!secure.some((p) => p.path.startsWith('hierarchicalAggregation') || p.path === 'secureAggregation'), JSON.stringify(secure));
    assert.match(conflicts.find((p) => p.path === 'hierarchicalAggregation.minGroupSize')!.message, /is 1; secure aggregation per shard group needs groups of at least 2 members/);
    // Client-level DP splits only in central mode with a fixed clipping norm: the shards clip.
    const budget = { epsilon: 8, delta: 1e-5 };
    const distributed = await refused({ ...valid, hierarchicalAggregation: { shards: 2 }, differentialPrivacy: { level: 'client', mode: 'distributed', noiseMultiplier: 1, clippingNorm: 1, budget } });
    assert.ok(distributed.some((p) => p.path === 'differentialPrivacy.mode' && /the shards clip each update and the noise is added once, at the top/.test(p.message)), JSON.stringify(distributed));
    const adaptive = await refused({ ...valid, hierarchicalAggregation: { shards: 2 }, differentialPrivacy: { level: 'client', noiseMultiplier: 1, clippingNorm: 1, budget, adaptiveClipping: {} } });
    assert.ok(adaptive.some((p) => p.path === 'differentialPrivacy.adaptiveClipping' && /shards that clip them do not report/.test(p.message)), JSON.stringify(adaptive));
    const typo = await refused({ ...valid, hierarchicalAggregation: { shards: 0, minGroupsize: 2 } });
    assert.deepEqual(paths(typo).sort(), ['hierarchicalAggregation.minGroupsize', 'hierarchicalAggregation.shards']);
    assert.match(typo.find((p) => p.path.endsWith('minGroupsize'))!.message, /minGroupSize/);
  });
});

async function until(predicate: () => Promise<boolean>, timeoutMs = 15_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await predicate())) {
    if (Date.now() > deadline) throw new Error('condition not met in time');
    await new Promise((r) => setTimeout(r, 25));
  }
}
