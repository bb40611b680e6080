import assert from 'node:assert/strict';
import { test } from 'node:test';
import { ErrorCode } from '../../protocol/errors.js';
import { seededRandom } from '../../core/random.js';
import { distributedNoiseStddev, privatizeUpdate } from './member.js';
import { gaussianNoise } from './gaussian.js';

test('noiseStddev 0: the update is clipped only; parameters = global + clipped Δ', () => {
  const global = Float32Array.from([1, 1, 1]);
  const local = Float32Array.from([1, 7, 9]); // Δ = [0, 6, 8], norm 10
  const out = privatizeUpdate(global, local, { clippingNorm: 5, noiseStddev: 0 });
  assert.equal(out.norm, 10);
  assert.equal(out.factor, 0.5);
  assert.deepEqual(Array.from(out.delta), [0, 3, 4]);
  assert.deepEqual(Array.from(out.parameters), [1, 4, 5]);
  assert.equal(out.unclipped, -0.5, 'clipped: b − ½ = −½');
  assert.deepEqual(Array.from(global), [1, 1, 1]);
  assert.deepEqual(Array.from(local), [1, 7, 9]);
});

test('noise is added after clipping: with a seeded source, Δ̃ = clip(Δ) + the same draws', () => {
  const global = Float32Array.from([0, 0, 0, 0]);
  const local = Float32Array.from([0.1, 0.2, 0, 0]); // inside C = 1
  const out = privatizeUpdate(global, local, { clippingNorm: 1, noiseStddev: 0.3, indicatorNoiseStddev: 0.2, random: seededRandom(5) });
  const expectedRandom = seededRandom(5);
  const noise = gaussianNoise(4, 0.3, expectedRandom);
  const clipped = [0.1, 0.2, 0, 0].map(Math.fround);
  assert.deepEqual(Array.from(out.delta), clipped.map((c, i) => Math.fround(c + noise[i]!)));
  assert.ok(out.unclipped !== 0.5, 'the indicator is noised');
  assert.ok(Math.abs(out.unclipped - 0.5) < 0.2 * 8);
});

test('m members each adding zC/√m of noise sum to noise of std zC', () => {
  const z = 1.5;
  const c = 0.4;
  const m = 5;
  const stddev = distributedNoiseStddev({ noiseMultiplier: z, clippingNorm: c, expectedMembers: m });
  assert.equal(stddev, (z * c) / Math.sqrt(5));
  const n = 100_000;
  const sum = new Float64Array(n);
  const zero = new Float32Array(n);
  for (let k = 0; k < m; k++) {
    const { delta } = privatizeUpdate(zero, zero, { clippingNorm: c, noiseStddev: stddev });
    for (let i = 0; i < n; i++) sum[i] = sum[i]! + delta[i]!;
  }
  let ss = 0;
  for (const v of sum) ss += v * v;
  const std = Math.sqrt(ss / n);
  assert.ok(Math.abs(std / (z * c) - 1) < 0.02, `sum std ${std}, expected ${z * c}`);
});

test('refuses bad settings, naming the field', () => {
  const field = (code: string, f: string) => (e: unknown) => (e as { code: string }).code === code && (e as { details: { field: string } }).details.field === f;
  const g = new Float32Array(2);
  assert.throws(() => privatizeUpdate(g, g, { clippingNorm: 0, noiseStddev: 1 }), field(ErrorCode.INVALID_ARGUMENT, 'clippingNorm'));
  assert.throws(() => privatizeUpdate(g, g, { clippingNorm: 1, noiseStddev: -1 }), field(ErrorCode.INVALID_ARGUMENT, 'noiseStddev'));
  assert.throws(() => privatizeUpdate(g, g, { clippingNorm: 1, noiseStddev: 0, indicatorNoiseStddev: NaN }), field(ErrorCode.INVALID_ARGUMENT, 'indicatorNoiseStddev'));
  assert.throws(() => privatizeUpdate(g, new Float32Array(3), { clippingNorm: 1, noiseStddev: 0 }), field(ErrorCode.SHAPE_MISMATCH, 'local'));
  assert.throws(() => distributedNoiseStddev({ noiseMultiplier: 1, clippingNorm: 1, expectedMembers: 0 }), field(ErrorCode.INVALID_ARGUMENT, 'expectedMembers'));
  assert.throws(() => distributedNoiseStddev({ noiseMultiplier: -1, clippingNorm: 1, expectedMembers: 2 }), field(ErrorCode.INVALID_ARGUMENT, 'noiseMultiplier'));
});
