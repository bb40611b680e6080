import assert from 'node:assert/strict';
import { test } from 'node:test';
import { dirichlet, gaussian, seededRandom, shuffle } from './random.js';

test('seededRandom: reproducible per seed, in [0, 1), different seeds differ', () => {
  const a = seededRandom(1, 2);
  const b = seededRandom(1, 2);
  const xs = Array.from({ length: 1000 }, () => a());
  assert.deepEqual(Array.from({ length: 1000 }, () => b()), xs);
  assert.ok(xs.every((x) => x >= 0 && x < 1));
  assert.notEqual(seededRandom(1, 3)(), seededRandom(1, 2)());
  const mean = xs.reduce((s, x) => s + x, 0) / xs.length;
  assert.ok(Math.abs(mean - 0.5) < 0.05, `mean ${mean}`);
});

test('shuffle: a permutation, reproducible per seed', () => {
  const s = shuffle([0, 1, 2, 3, 4, 5, 6, 7], seededRandom(3));
  assert.deepEqual([...s].sort(), [0, 1, 2, 3, 4, 5, 6, 7]);
  assert.deepEqual(shuffle([0, 1, 2, 3, 4, 5, 6, 7], seededRandom(3)), s);
});

test('gaussian: mean 0, variance 1', () => {
  const random = seededRandom(5);
  const xs = Array.from({ length: 20_000 }, () => gaussian(random));
  const mean = xs.reduce((s, x) => s + x, 0) / xs.length;
  const variance = xs.reduce((s, x) => s + (x - mean) ** 2, 0) / xs.length;
  assert.ok(Math.abs(mean) < 0.03, `mean ${mean}`);
  assert.ok(Math.abs(variance - 1) < 0.05, `variance ${variance}`);
});

test('dirichlet: a probability vector whose mean follows alpha', () => {
  const random = seededRandom(9);
  const sums = [0, 0, 0];
  for (let i = 0; i < 2000; i++) {
    const p = dirichlet([1, 2, 5], random);
    assert.ok(Math.abs(p.reduce((s, x) => s + x, 0) - 1) < 1e-12);
    assert.ok(p.every((x) => x >= 0));
    p.forEach((x, j) => (sums[j]! += x));
  }
  // E[p_j] = α_j / Σα = [1/8, 2/8, 5/8].
  [1 / 8, 2 / 8, 5 / 8].forEach((e, j) => assert.ok(Math.abs(sums[j]! / 2000 - e) < 0.02, `p${j}`));
});
