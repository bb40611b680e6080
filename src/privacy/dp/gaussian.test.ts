import assert from 'node:assert/strict';
import { mock, test } from 'node:test';
import { ErrorCode } from '../../protocol/errors.js';
import { seededRandom } from '../../core/random.js';
import { addGaussianNoise, createSecureRandom, gaussianNoise, standardNormal } from './gaussian.js';

function moments(x: ArrayLike<number>): { mean: number; std: number; kurtosis: number; within1: number } {
  let s = 0;
  for (let i = 0; i < x.length; i++) s += x[i]!;
  const mean = s / x.length;
  let m2 = 0;
  let m4 = 0;
  let within1 = 0;
  for (let i = 0; i < x.length; i++) {
    const d = x[i]! - mean;
    m2 += d * d;
    m4 += d ** 4;
  }
  const std = Math.sqrt(m2 / x.length);
  for (let i = 0; i < x.length; i++) if (Math.abs(x[i]! - mean) <= std) within1++;
  return { mean, std, kurtosis: m4 / x.length / (m2 / x.length) ** 2, within1: within1 / x.length };
}

test('default noise: 1e6 draws of N(0, 2.5²) have the mean, std, kurtosis and 1σ mass of a Gaussian', () => {
  const n = 1_000_000;
  const { mean, std, kurtosis, within1 } = moments(addGaussianNoise(new Float32Array(n), 2.5));
  // Tolerances are ~6 standard errors: mean 2.5/√n, std 2.5/√(2n), kurtosis √(24/n), mass √(p(1−p)/n).
  assert.ok(Math.abs(mean) < 0.015, `mean ${mean}`);
  assert.ok(Math.abs(std / 2.5 - 1) < 0.005, `std ${std}`);
  assert.ok(Math.abs(kurtosis - 3) < 0.03, `kurtosis ${kurtosis}`);
  assert.ok(Math.abs(within1 - 0.682689) < 0.003, `P(|x| ≤ σ) = ${within1}`);
});

test('standardNormal (Box–Muller) and the polar bulk path agree in distribution', () => {
  const random = createSecureRandom();
  const single = Float64Array.from({ length: 200_000 }, () => standardNormal(random));
  const { mean, std } = moments(single);
  assert.ok(Math.abs(mean) < 0.015 && Math.abs(std - 1) < 0.01, `mean ${mean}, std ${std}`);
});

test('the default source is the OS CSPRNG: drawing noise calls crypto.getRandomValues', () => {
  const spy = mock.method(globalThis.crypto, 'getRandomValues');
  try {
    // 20 000 values consume more than the 8 192 uniforms one refill holds.
    addGaussianNoise(new Float64Array(20_000), 1);
    assert.ok(spy.mock.callCount() >= 1, 'getRandomValues was called');
    const before = spy.mock.callCount();
    createSecureRandom()();
    assert.equal(spy.mock.callCount(), before + 1, 'a fresh source fills its 64 KiB block in one call');
  } finally {
    spy.mock.restore();
  }
});

test('blocks above the 65 536-byte getRandomValues limit are filled in pieces, all of them random', () => {
  const spy = mock.method(globalThis.crypto, 'getRandomValues');
  try {
    const blockSize = 20_000; // 160 000 bytes: three pieces of at most 65 536
    const random = createSecureRandom(blockSize);
    const draws = Float64Array.from({ length: blockSize }, () => random());
    assert.equal(spy.mock.callCount(), 3);
    // The last piece (its final 4 464 draws) must be random too, not left zero.
    const tail = draws.subarray(blockSize - 4_000);
    const mean = tail.reduce((a, b) => a + b, 0) / tail.length;
    assert.ok(Math.abs(mean - 0.5) < 0.03, `tail mean ${mean}`); // ~6.5 σ of a U(0,1) mean
    assert.ok(new Set(tail).size === tail.length, 'tail draws are distinct');
  } finally {
    spy.mock.restore();
  }
});

test('default noise is not reproducible; an injected seeded source is (tests only)', () => {
  const a = gaussianNoise(16, 1);
  const b = gaussianNoise(16, 1);
  assert.notDeepEqual(Array.from(a), Array.from(b));
  assert.deepEqual(Array.from(gaussianNoise(16, 1, seededRandom(7))), Array.from(gaussianNoise(16, 1, seededRandom(7))));
});

test('secure uniforms are 53-bit multiples of 2⁻⁵³ in [0, 1), evenly spread', () => {
  const random = createSecureRandom(16); // small blocks exercise the refill path
  const bins = new Array<number>(10).fill(0);
  const n = 100_000;
  for (let i = 0; i < n; i++) {
    const u = random();
    assert.ok(u >= 0 && u < 1);
    assert.ok(Number.isInteger(u * 2 ** 53));
    bins[Math.floor(u * 10)]!++;
  }
  for (const b of bins) assert.ok(Math.abs(b - n / 10) < 600, `bins ${bins}`); // ~6.3 binomial σ
});

test('stddev 0 adds nothing; odd lengths get noise in the last slot too', () => {
  assert.deepEqual(Array.from(addGaussianNoise(Float32Array.from([1, 2, 3]), 0)), [1, 2, 3]);
  const odd = addGaussianNoise(new Float64Array(3), 1, seededRandom(1));
  assert.ok(odd.every((v) => v !== 0));
});

test('refuses a negative or non-finite stddev and a bad block size', () => {
  const field = (f: string) => (e: unknown) => (e as { code: string }).code === ErrorCode.INVALID_ARGUMENT && (e as { details: { field: string } }).details.field === f;
  assert.throws(() => addGaussianNoise(new Float32Array(1), -1), field('stddev'));
  assert.throws(() => addGaussianNoise(new Float32Array(1), NaN), field('stddev'));
  assert.throws(() => createSecureRandom(0), field('blockSize'));
  assert.throws(() => gaussianNoise(-1, 1), field('length'));
});
