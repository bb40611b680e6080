import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ConcordError, ErrorCode } from '../protocol/errors.js';
import { exactShapley, monteCarloShapley } from './shapley.js';
import { leaveOneOut } from './leave-one-out.js';
import type { CoalitionValue } from './game.js';

function assertClose(actual: Record<string, number>, expected: Record<string, number>, tolerance = 1e-12): void {
  assert.deepEqual(Object.keys(actual), Object.keys(expected));
  for (const [player, value] of Object.entries(expected)) {
    assert.ok(Math.abs(actual[player]! - value) <= tolerance, `${player}: expected ${value}, got ${actual[player]}`);
  }
}

/** Weighted voting: a coalition wins (value 1) when its weights reach the quota. */
function weightedMajority(quota: number, weights: Record<string, number>): CoalitionValue {
  return (coalition) => (coalition.reduce((sum, p) => sum + weights[p]!, 0) >= quota ? 1 : 0);
}

test('symmetric game: v(S) = |S|² splits v(N) = 16 equally among 4 players', async () => {
  const result = await exactShapley(['a', 'b', 'c', 'd'], (s) => s.length ** 2);
  assertClose(result.values, { a: 4, b: 4, c: 4, d: 4 });
  assert.equal(result.grandValue, 16);
  assert.equal(result.emptyValue, 0);
});

test('additive game: each player gets its own value, by Shapley and by leave-one-out', async () => {
  const own: Record<string, number> = { a: 3, b: -1, c: 0.5 };
  const v: CoalitionValue = (s) => s.reduce((sum, p) => sum + own[p]!, 10);
  assertClose((await exactShapley(['a', 'b', 'c'], v)).values, own);
  const loo = await leaveOneOut(['a', 'b', 'c'], v);
  assertClose(loo.values, own);
  assert.equal(loo.evaluations, 4);
});

test('a null player gets 0', async () => {
  const v: CoalitionValue = (s) => (s.includes('a') && s.includes('b') ? 10 : s.includes('a') ? 4 : 0);
  const result = await exactShapley(['a', 'b', 'idle'], v);
  assertClose(result.values, { a: 7, b: 3, idle: 0 });
});

test('efficiency: Σ φ = v(N) − v(∅) for an irregular game', async () => {
  const v: CoalitionValue = (s) => Math.sin(s.length) * 3 + s.reduce((sum, p) => sum + p.charCodeAt(0) / 50, 0.7) + (s.includes('b') && s.includes('e') ? 2 : 0);
  const players = ['a', 'b', 'c', 'd', 'e'];
  const result = await exactShapley(players, v);
  const sum = Object.values(result.values).reduce((s, x) => s + x, 0);
  assert.ok(Math.abs(sum - (result.grandValue - result.emptyValue)) < 1e-12);
  assert.equal(result.emptyValue, 0.7);
});

test('glove game: one left glove, two right gloves → 2/3, 1/6, 1/6', async () => {
  const v: CoalitionValue = (s) => Math.min(s.filter((p) => p === 'L').length, s.filter((p) => p.startsWith('R')).length);
  assertClose((await exactShapley(['L', 'R1', 'R2'], v)).values, { L: 2 / 3, R1: 1 / 6, R2: 1 / 6 });
});

test('weighted majority [51; 50, 49, 1]: the small parties are equally pivotal', async () => {
  const v = weightedMajority(51, { A: 50, B: 49, C: 1 });
  assertClose((await exactShapley(['A', 'B', 'C'], v)).values, { A: 2 / 3, B: 1 / 6, C: 1 / 6 });
});

test('UN Security Council [39; 7×5, 1×10]: Shapley–Shubik 421/2145 and 4/2145', async () => {
  const permanent = ['CN', 'FR', 'RU', 'UK', 'US'];
  const elected = Array.from({ length: 10 }, (_, i) => `E${i}`);
  const weights = Object.fromEntries([...permanent.map((p) => [p, 7]), ...elected.map((p) => [p, 1])]);
  const result = await exactShapley([...permanent, ...elected], weightedMajority(39, weights));
  const expected = Object.fromEntries([...permanent.map((p) => [p, 421 / 2145]), ...elected.map((p) => [p, 4 / 2145])]);
  assertClose(result.values, expected, 1e-12);
  assert.equal(result.evaluations, 2 ** 15);
});

test('exact values call v once per coalition, 2^n in all, with players in list order', async () => {
  const seen = new Set<string>();
  let calls = 0;
  await exactShapley(['x', 'y', 'z', 'w'], (s) => {
    calls++;
    const key = s.join('+');
    assert.ok(!seen.has(key), `coalition ${key} evaluated twice`);
    seen.add(key);
    assert.deepEqual(
      s,
      ['x', 'y', 'z', 'w'].filter((p) => s.includes(p)),
    );
    return s.length;
  });
  assert.equal(calls, 16);
});

test('async value functions are awaited', async () => {
  const result = await exactShapley(['a', 'b'], async (s) => {
    await new Promise((resolve) => setImmediate(resolve));
    return s.includes('a') ? 2 : 0;
  });
  assertClose(result.values, { a: 2, b: 0 });
});

test('more than 16 players is refused before v is called', async () => {
  let calls = 0;
  const players = Array.from({ length: 17 }, (_, i) => `m${i}`);
  await assert.rejects(
    exactShapley(players, () => ++calls),
    (e: unknown) => e instanceof ConcordError && e.code === ErrorCode.INVALID_ARGUMENT && e.details.field === 'players' && /monteCarloShapley/.test(e.message),
  );
  assert.equal(calls, 0);
});

test('bad players and non-finite values are named', async () => {
  await assert.rejects(exactShapley([], () => 0), (e: unknown) => e instanceof ConcordError && e.details.field === 'players');
  await assert.rejects(exactShapley(['a', 'a'], () => 0), (e: unknown) => e instanceof ConcordError && e.details.field === 'players.1');
  await assert.rejects(
    exactShapley(['a', 'b'], (s) => (s.length === 2 ? Number.NaN : 0)),
    (e: unknown) => e instanceof ConcordError && e.code === ErrorCode.NON_FINITE && e.details.field === 'v',
  );
  await assert.rejects(monteCarloShapley(['a'], () => 0, { seed: 1, permutations: 0 }), (e: unknown) => e instanceof ConcordError && e.details.field === 'permutations');
});

test('Monte Carlo estimates lie within 3 standard errors of the exact values (6 players)', async () => {
  const weight: Record<string, number> = { a: 1, b: 2, c: 3, d: 4, e: 5, f: 6 };
  const v: CoalitionValue = (s) => Math.sqrt(s.reduce((sum, p) => sum + weight[p]!, 0)) + (s.includes('a') && s.includes('f') ? 1 : 0);
  const players = Object.keys(weight);
  const exact = await exactShapley(players, v);
  const estimate = await monteCarloShapley(players, v, { seed: 7, permutations: 200 });
  assert.equal(estimate.permutations, 200);
  assert.equal(estimate.truncatedMarginals, 0);
  assert.ok(estimate.evaluations <= 2 ** 6);
  for (const p of players) {
    const se = estimate.standardErrors[p]!;
    assert.ok(se > 0 && se < 0.1, `${p}: standard error ${se}`);
    assert.ok(Math.abs(estimate.values[p]! - exact.values[p]!) <= 3 * se, `${p}: ${estimate.values[p]} vs exact ${exact.values[p]} (se ${se})`);
  }
  // Every permutation's marginals telescope to v(N) − v(∅), so efficiency holds exactly.
  const sum = Object.values(estimate.values).reduce((s, x) => s + x, 0);
  assert.ok(Math.abs(sum - (exact.grandValue - exact.emptyValue)) < 1e-9);
});

test('Monte Carlo is deterministic given the seed', async () => {
  const v: CoalitionValue = (s) => (s.includes('a') ? 1 : 0) + s.length * (s.includes('b') ? 0.5 : 0.1);
  const players = ['a', 'b', 'c', 'd'];
  const first = await monteCarloShapley(players, v, { seed: 42, permutations: 30 });
  const again = await monteCarloShapley(players, v, { seed: 42, permutations: 30 });
  const other = await monteCarloShapley(players, v, { seed: 43, permutations: 30 });
  assert.deepEqual(again.values, first.values);
  assert.deepEqual(again.standardErrors, first.standardErrors);
  assert.notDeepEqual(other.values, first.values);
});

test('memoization: sampling many permutations never evaluates a coalition twice', async () => {
  let calls = 0;
  const result = await monteCarloShapley(['a', 'b', 'c'], (s) => (++calls, s.length), { seed: 3, permutations: 50 });
  assert.ok(calls <= 2 ** 3);
  assert.equal(result.evaluations, calls);
  // An additive game has the same marginals in every permutation: exact values, zero error.
  assertClose(result.values, { a: 1, b: 1, c: 1 });
  assertClose(result.standardErrors, { a: 0, b: 0, c: 0 });
});

test('truncation: once a prefix is worth v(N), later marginals are 0 and not evaluated', async () => {
  const players = ['a', 'b', 'c', 'd', 'e'];
  let calls = 0;
  const anyone: CoalitionValue = (s) => (++calls, s.length > 0 ? 1 : 0);
  const result = await monteCarloShapley(players, anyone, { seed: 5, permutations: 100, truncationTolerance: 0.01 });
  // Only v(N), v(∅) and the singletons are ever needed.
  assert.equal(result.evaluations, calls);
  assert.ok(result.evaluations <= 2 + players.length);
  assert.equal(result.truncatedMarginals, 100 * (players.length - 1));
  const sum = Object.values(result.values).reduce((s, x) => s + x, 0);
  assert.ok(Math.abs(sum - 1) < 1e-12);
  const untruncated = await monteCarloShapley(players, anyone, { seed: 5, permutations: 100 });
  assert.equal(untruncated.truncatedMarginals, 0);
  assert.deepEqual(untruncated.values, result.values); // this game's later marginals really are 0
  assert.ok(untruncated.evaluations > result.evaluations);
});

test('maxSeconds: 0 still completes one permutation, whose standard error is unknown', async () => {
  const result = await monteCarloShapley(['a', 'b'], (s) => s.length, { seed: 1, permutations: 10, maxSeconds: 0 });
  assert.equal(result.permutations, 1);
  assertClose(result.values, { a: 1, b: 1 });
  assert.ok(Number.isNaN(result.standardErrors.a));
});

test('leave-one-out gives nothing to a duplicated member, unlike Shapley', async () => {
  // b and c hold the same data: either one brings the value.
  const v: CoalitionValue = (s) => (s.includes('a') ? 1 : 0) + (s.includes('b') || s.includes('c') ? 1 : 0);
  const loo = await leaveOneOut(['a', 'b', 'c'], v);
  assertClose(loo.values, { a: 1, b: 0, c: 0 });
  assertClose((await exactShapley(['a', 'b', 'c'], v)).values, { a: 1, b: 0.5, c: 0.5 });
});
