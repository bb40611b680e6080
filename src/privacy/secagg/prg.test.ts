import assert from 'node:assert/strict';
import { createCipheriv, hkdfSync } from 'node:crypto';
import { test } from 'node:test';
import { applyMask, applyMasks, expandMask, maskKey, seededIntegers } from './prg.js';
import { nodePrimitives } from './primitives-node.js';
import { noblePrimitives } from './primitives-noble.js';

const seed = new Uint8Array(32).map((_, i) => i);
const salt = new Uint8Array(32).fill(7);

for (const primitives of [nodePrimitives, noblePrimitives]) {
  test(`expandMask (${primitives.name}): AES-256-CTR under HKDF-SHA256(seed, salt, "concord-secagg-mask"), read as LE uint32`, () => {
    const key = new Uint8Array(hkdfSync('sha256', seed, salt, 'concord-secagg-mask', 32));
    assert.deepEqual(maskKey(primitives, seed, salt), key);
    const n = 70_000; // crosses the 65 536-word chunk boundary
    const stream = createCipheriv('aes-256-ctr', key, Buffer.alloc(16)).update(Buffer.alloc(n * 4));
    const mask = expandMask(primitives, seed, salt, n);
    assert.equal(mask.length, n);
    for (const i of [0, 1, 65_535, 65_536, 69_999]) assert.equal(mask[i], stream.readUInt32LE(4 * i));
    assert.deepEqual(expandMask(primitives, seed, salt, 10), mask.subarray(0, 10));
  });
}

test('expandMask: another seed or salt gives another mask; the words look uniform', () => {
  const a = expandMask(nodePrimitives, seed, salt, 100_000);
  assert.notDeepEqual(expandMask(nodePrimitives, seed, new Uint8Array(32), 8), a.subarray(0, 8));
  assert.notDeepEqual(expandMask(nodePrimitives, new Uint8Array(32), salt, 8), a.subarray(0, 8));
  let mean = 0;
  const bins = new Array<number>(16).fill(0);
  for (const w of a) {
    mean += w / 2 ** 32;
    bins[w >>> 28]!++;
  }
  mean /= a.length;
  assert.ok(Math.abs(mean - 0.5) < 0.005, `mean ${mean}`);
  const expected = a.length / 16;
  const chi2 = bins.reduce((s, b) => s + (b - expected) ** 2 / expected, 0);
  assert.ok(chi2 < 40, `chi-square ${chi2} with 15 degrees of freedom`); // p ≈ 5e-4
});

test('applyMask: adds and subtracts modulo 2^32, the same with either implementation', () => {
  const target = Uint32Array.from([0, 1, 2 ** 32 - 1, 123_456_789]);
  const original = target.slice();
  const mask = expandMask(nodePrimitives, seed, salt, 4);
  applyMask(nodePrimitives, target, seed, salt, 1);
  for (let i = 0; i < 4; i++) assert.equal(target[i], (original[i]! + mask[i]!) % 2 ** 32);
  // Masks added by one implementation come off with the other: members and server may differ.
  applyMask(noblePrimitives, target, seed, salt, -1);
  assert.deepEqual(target, original);
});

test('seededIntegers: reproducible across implementations, in range, all values reached', () => {
  const a = seededIntegers(nodePrimitives, seed, salt, 'test');
  const b = seededIntegers(noblePrimitives, seed, salt, 'test');
  const xs = Array.from({ length: 2000 }, () => a(7));
  assert.deepEqual(Array.from({ length: 2000 }, () => b(7)), xs);
  assert.deepEqual([...new Set(xs)].sort(), [0, 1, 2, 3, 4, 5, 6]);
  assert.notDeepEqual(Array.from({ length: 20 }, seededIntegers(nodePrimitives, seed, salt, 'other').bind(null, 7)), xs.slice(0, 20));
});

test('applyMasks: many masks in one pass equal the masks expanded and added one by one, with either implementation', () => {
  const n = 2 * 32_768 + 1001; // several kernel blocks and a ragged end
  const seeds = [1, 2, 3, 4].map((b) => new Uint8Array(32).fill(b));
  const signs = [1, -1, -1, 1] as const;
  const original = Uint32Array.from({ length: n }, (_, i) => (i * 2654435761) >>> 0);
  const expected = original.slice();
  for (const [j, s] of seeds.entries()) {
    const mask = expandMask(nodePrimitives, s, salt, n);
    for (let i = 0; i < n; i++) expected[i] = expected[i]! + signs[j]! * mask[i]!;
  }
  for (const primitives of [nodePrimitives, noblePrimitives]) {
    const target = original.slice();
    applyMasks(primitives, target, seeds.map((s, j) => ({ seed: s, sign: signs[j]! })), salt);
    assert.deepEqual(target, expected, primitives.name);
  }
});
