import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { test } from 'node:test';
import { isConcordError } from '../protocol/errors.js';
import { RING_BLOCK_WORDS, type RingTerm, quantizeToRingSimd, ringAccumulate, ringAccumulateScalar, ringAccumulateSimd, ringSimdAvailable } from './ring-kernel.js';
import { seededRandom } from './random.js';

const random = seededRandom(20261202);
const words = (n: number): Uint32Array => Uint32Array.from({ length: n }, () => Math.floor(random() * 2 ** 32));
/** Lengths around the 16-word SIMD step and the block size, and a multi-block odd one. */
const LENGTHS = [0, 1, 3, 15, 16, 17, 63, 65, RING_BLOCK_WORDS - 1, RING_BLOCK_WORDS, RING_BLOCK_WORDS + 1, 2 * RING_BLOCK_WORDS + 7, 100_003];
/** The ring of secure aggregation (32) and narrower rings mod 2^bits. */
const BITS = [32, 31, 28, 26, 24, 16, 8, 1];

/** Element by element in exact integer arithmetic: the definition both paths must meet. */
function reference(target: Uint32Array, terms: { values: Uint32Array; sign: 1 | -1 }[], bits: number): Uint32Array {
  const modulus = 2 ** bits;
  return target.map((t, i) => {
    let x = t;
    for (const { values, sign } of terms) x = (x + sign * values[i]!) % 2 ** 32;
    return ((x % modulus) + modulus) % modulus;
  });
}

/** A stream over `values` handing out pieces as bytes at an odd offset, as a Uint32Array, or as aligned bytes, in turn. */
function streamOf(values: Uint32Array, reads: number[] = []): (n: number) => Uint8Array | Uint32Array {
  let at = 0;
  let call = 0;
  return (n) => {
    reads.push(n);
    const piece = values.slice(at, at + n);
    at += n;
    switch (call++ % 3) {
      case 0: {
        const bytes = new Uint8Array(4 * n + 1);
        bytes.set(new Uint8Array(piece.buffer), 1);
        return bytes.subarray(1);
      }
      case 1:
        return piece;
      default:
        return new Uint8Array(piece.buffer);
    }
  };
}

test('the ring kernel compiles on this engine', () => {
  assert.equal(ringSimdAvailable(), true);
});

test('ringAccumulate: SIMD and scalar paths equal exact ring arithmetic for every length and ring width, with vectors and streams', () => {
  for (const n of LENGTHS) {
    for (const bits of BITS) {
      const target = words(n);
      const values = [words(n), words(n), words(n), words(n)];
      const signs: (1 | -1)[] = [1, -1, -1, 1];
      const expected = reference(target, values.map((v, j) => ({ values: v, sign: signs[j]! })), bits);
      for (const path of ['simd', 'scalar'] as const) {
        const out = target.slice();
        // Two terms as vectors, two as streams read piece by piece.
        const terms: RingTerm[] = values.map((v, j) => ({ source: j % 2 === 0 ? v : streamOf(v), sign: signs[j]! }));
        if (path === 'simd') assert.equal(ringAccumulateSimd(out, terms, bits), true);
        else ringAccumulateScalar(out, terms, bits);
        assert.deepEqual(out, expected, `${path}, length ${n}, ${bits} bits`);
      }
    }
  }
});

test('ringAccumulate: wrap-around at the ring edges, adding and subtracting', () => {
  const target = Uint32Array.from([0, 1, 2 ** 32 - 1, 2 ** 31, 2 ** 31 - 1, 0, 5, 2 ** 32 - 2, 7, 8, 9, 10, 11, 12, 13, 14, 15]);
  const term = Uint32Array.from([2 ** 32 - 1, 2 ** 32 - 1, 1, 2 ** 31, 1, 1, 2 ** 32 - 5, 3, 0, 0, 0, 0, 0, 0, 0, 0, 2 ** 32 - 1]);
  for (const sign of [1, -1] as const) {
    const simd = target.slice();
    const scalar = target.slice();
    ringAccumulateSimd(simd, [{ source: term, sign }]);
    ringAccumulateScalar(scalar, [{ source: term, sign }]);
    const expected = target.map((t, i) => (t + sign * term[i]! + 2 ** 32) % 2 ** 32);
    assert.deepEqual(simd, expected);
    assert.deepEqual(scalar, expected);
  }
  // mod 2^28: the high bits are cleared once, as if every step were reduced.
  const narrow = target.slice();
  ringAccumulate(narrow, [{ source: term, sign: 1 }], 28);
  assert.deepEqual(narrow, target.map((t, i) => (t + term[i]!) % 2 ** 28));
});

test('ringAccumulate: a stream is read once per block, in order, and a term may be the target itself', () => {
  const n = 2 * RING_BLOCK_WORDS + 100;
  const values = words(n);
  for (const accumulate of [ringAccumulateSimd, ringAccumulateScalar]) {
    const reads: number[] = [];
    const target = new Uint32Array(n);
    accumulate(target, [{ source: streamOf(values, reads), sign: 1 }]);
    assert.deepEqual(target, values);
    assert.deepEqual(reads, [RING_BLOCK_WORDS, RING_BLOCK_WORDS, 100]);
    // target ← target + target − target + target = 2·target.
    accumulate(target, [{ source: target, sign: 1 }, { source: target, sign: -1 }, { source: target, sign: 1 }]);
    assert.deepEqual(target, values.map((v) => (2 * v) % 2 ** 32));
  }
});

test('ringAccumulate refuses what would leave the target half masked: short vectors and streams, bad signs and widths', () => {
  const target = new Uint32Array(40);
  const refused = (code: string) => (e: unknown) => isConcordError(e) && e.code === code;
  for (const accumulate of [ringAccumulateSimd, ringAccumulateScalar]) {
    assert.throws(() => accumulate(target, [{ source: new Uint32Array(39), sign: 1 }]), refused('CONCORD_ERR_SHAPE_MISMATCH'));
    assert.throws(() => accumulate(target, [{ source: (n) => new Uint32Array(n - 1), sign: 1 }]), refused('CONCORD_ERR_INTERNAL'));
    assert.throws(() => accumulate(target, [{ source: (n) => new Uint8Array(4 * n - 2), sign: 1 }]), refused('CONCORD_ERR_INTERNAL'));
    assert.throws(() => accumulate(target, [{ source: target, sign: 0 as 1 }]), refused('CONCORD_ERR_INVALID_ARGUMENT'));
    for (const bits of [0, 33, 2.5]) assert.throws(() => accumulate(target, [], bits), refused('CONCORD_ERR_INVALID_ARGUMENT'));
  }
});

/** The scalar encoding quantize.ts has always used. */
function quantizeScalar(data: Float32Array, c: number, scale: number): Uint32Array {
  const out = new Uint32Array(data.length);
  for (let i = 0; i < data.length; i++) {
    const v = data[i]!;
    out[i] = Math.round((v > c ? c : v < -c ? -c : v) * scale);
  }
  return out;
}

test('quantizeToRingSimd: bit-identical to Math.round(clip(x)·scale) for random values, ties, clipping, ±0 and every ring width', () => {
  for (const n of LENGTHS) {
    for (const bits of [32, 28, 26, 24, 16, 2]) {
      const c = [1, 0.37, 3e-3, 100][n % 4]!;
      const qw = Math.floor(random() * (2 ** (bits - 1) - 1)) + 1;
      const scale = qw / c;
      const data = new Float32Array(n);
      for (let i = 0; i < n; i++) {
        // A third exactly on a half step (ties), a third beyond the clipping range.
        const r = random();
        data[i] = i % 3 === 0 ? (Math.round((r - 0.5) * 64) + 0.5) / scale : i % 3 === 1 ? (r - 0.5) * 4 * c : (r - 0.5) * 2 * c;
      }
      if (n > 4) data.set([-0, c, -c, 2 * c, -2 * c]);
      const out = new Uint32Array(n);
      assert.equal(quantizeToRingSimd(data, c, scale, out), 'done');
      assert.deepEqual(out, quantizeScalar(data, c, scale), `length ${n}, ${bits} bits`);
    }
  }
  // Ties round up like Math.round (−2.5 → −2, 2.5 → 3), near-ties do not move, weight 0 gives 0.
  const ties = Float32Array.from([0.5, -0.5, 1.5, -1.5, 2.5, -2.5, 0.49999997, -0.49999997, 8388607.5, -8388607.5, 3, -3]);
  for (const scale of [1, 0]) {
    const out = new Uint32Array(ties.length);
    assert.equal(quantizeToRingSimd(ties, 1e9, scale, out), 'done');
    assert.deepEqual(out, quantizeScalar(ties, 1e9, scale));
  }
  // The largest magnitude of a 32-bit ring: Q = 2^31 − 1 at the clipping range.
  const edge = new Uint32Array(2);
  quantizeToRingSimd(Float32Array.from([5, -5]), 1, 2 ** 31 - 1, edge);
  assert.deepEqual(edge, Uint32Array.from([2 ** 31 - 1, 2 ** 31 + 1]));
});

test('quantizeToRingSimd reports a non-finite value anywhere, padding lanes aside', () => {
  for (const bad of [Number.NaN, Infinity, -Infinity]) {
    for (const at of [0, 16, 39, RING_BLOCK_WORDS + 5]) {
      const data = new Float32Array(RING_BLOCK_WORDS + 9);
      data[at] = bad;
      assert.equal(quantizeToRingSimd(data, 1, 100, new Uint32Array(data.length)), 'non-finite', `${bad} at ${at}`);
    }
  }
  // A NaN left in the stage by an earlier, longer call does not leak into a short one.
  quantizeToRingSimd(new Float32Array(64).fill(Number.NaN), 1, 1, new Uint32Array(64));
  assert.equal(quantizeToRingSimd(new Float32Array(3), 1, 1, new Uint32Array(3)), 'done');
});

test('without WebAssembly the scalar path runs and gives the same results', () => {
  // A fresh process with WebAssembly removed before the kernel first loads (lazily, at its
  // first use), as on an engine without it; the module import itself needs tsx's own WebAssembly.
  const script = `
    const k = await import(${JSON.stringify(new URL('./ring-kernel.ts', import.meta.url).href)});
    delete globalThis.WebAssembly;
    const target = Uint32Array.from({ length: 70001 }, (_, i) => (i * 2654435761) >>> 0);
    const term = Uint32Array.from({ length: 70001 }, (_, i) => (i * 40503 + 7) >>> 0);
    k.ringAccumulate(target, [{ source: term, sign: -1 }, { source: term, sign: -1 }], 24);
    const q = new Uint32Array(5);
    console.log(JSON.stringify({ simd: k.ringSimdAvailable(), quantize: k.quantizeToRingSimd(new Float32Array(5), 1, 1, q), sum: Array.from(target.subarray(69990)) }));
  `;
  const child = spawnSync(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], { encoding: 'utf8' });
  assert.equal(child.status, 0, child.stderr);
  const got = JSON.parse(child.stdout) as { simd: boolean; quantize: unknown; sum: number[] };
  assert.equal(got.simd, false);
  assert.equal(got.quantize, null);
  const expected = Array.from({ length: 11 }, (_, j) => {
    const i = 69990 + j;
    return ((((i * 2654435761) >>> 0) - 2 * ((i * 40503 + 7) >>> 0)) % 2 ** 24 + 2 ** 24) % 2 ** 24;
  });
  assert.deepEqual(got.sum, expected);
});
