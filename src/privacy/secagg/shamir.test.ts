import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { test } from 'node:test';
import { ConcordError, ErrorCode } from '../../protocol/errors.js';
import { FIELD_PRIME, add, inverse, mod, mul, sub } from './field.js';
import { encodeShareData, reconstructSecret, shareSecret } from './shamir.js';

test('field: arithmetic modulo 2^127 − 1', () => {
  assert.equal(FIELD_PRIME, 170141183460469231731687303715884105727n);
  assert.equal(mod(-1n), FIELD_PRIME - 1n);
  assert.equal(add(FIELD_PRIME - 1n, 1n), 0n);
  assert.equal(sub(3n, 5n), FIELD_PRIME - 2n);
  // 2 · 2^126 = 2^127 ≡ 1, so 2^126 is the inverse of 2.
  assert.equal(inverse(2n), 1n << 126n);
  assert.equal(mul(inverse(12345n), 12345n), 1n);
  assert.throws(() => inverse(FIELD_PRIME), (e: ConcordError) => e.code === ErrorCode.INVALID_ARGUMENT);
});

test('shamir: hand-made shares of f(x) = 5 + 3x reconstruct 5', () => {
  // A one-byte secret is one chunk; shares (1, 8), (2, 11), (3, 14).
  const shares = [1, 2, 3].map((x) => ({ x, data: encodeShareData(1, [BigInt(5 + 3 * x)]) }));
  assert.deepEqual(Array.from(reconstructSecret(shares.slice(0, 2), 2)), [5]);
  assert.deepEqual(Array.from(reconstructSecret([shares[2]!, shares[0]!], 2)), [5]);
  // f(x) = 5 − x: (1, 4), (2, 3) — the slope is p − 1 in the field.
  const down = [1, 2].map((x) => ({ x, data: encodeShareData(1, [BigInt(5 - x)]) }));
  assert.deepEqual(Array.from(reconstructSecret(down)), [5]);
  // One share of a degree-1 polynomial interpolates to a constant: 8, not the secret.
  assert.deepEqual(Array.from(reconstructSecret([shares[0]!])), [8]);
});

test('shamir: any t of n shares give a 32-byte secret back, t − 1 do not', () => {
  const secret = new Uint8Array(randomBytes(32));
  const shares = shareSecret(secret, 3, 5);
  assert.deepEqual(shares.map((s) => s.x), [1, 2, 3, 4, 5]);
  assert.ok(shares.every((s) => s.data.length === 2 + 3 * 16));
  for (let a = 0; a < 5; a++) {
    for (let b = a + 1; b < 5; b++) {
      for (let c = b + 1; c < 5; c++) assert.deepEqual(reconstructSecret([shares[a]!, shares[b]!, shares[c]!], 3), secret);
      assert.notDeepEqual(reconstructSecret([shares[a]!, shares[b]!]), secret);
    }
  }
  assert.throws(
    () => reconstructSecret(shares.slice(0, 2), 3),
    (e: ConcordError) => e.code === ErrorCode.INVALID_ARGUMENT && e.details.field === 'shares' && e.details.expected === '>= 3' && e.details.received === 2,
  );
});

test('shamir: explicit x-coordinates, odd secret lengths, fresh randomness per split', () => {
  const secret = new Uint8Array([1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17]);
  const shares = shareSecret(secret, 2, [7, 42, 1000]);
  assert.deepEqual(shares.map((s) => s.x), [7, 42, 1000]);
  assert.deepEqual(reconstructSecret([shares[2]!, shares[0]!], 2), secret);
  assert.notDeepEqual(shareSecret(secret, 2, [7, 42])[0]!.data, shares[0]!.data);
  assert.deepEqual(reconstructSecret(shareSecret(new Uint8Array(0), 2, 2)), new Uint8Array(0));
});

test('shamir: a single share is uniform whatever the secret (t = 2)', () => {
  // The first byte of a share's first element (bits 120–126) for secret 0 and for secret 255…:
  // both means sit near 63.5 because the random slope hides the secret.
  const mean = (secret: Uint8Array) => {
    let s = 0;
    for (let i = 0; i < 1000; i++) s += shareSecret(secret, 2, 2)[0]!.data[2]!;
    return s / 1000;
  };
  for (const secret of [new Uint8Array(15), new Uint8Array(15).fill(255)]) {
    const m = mean(secret);
    assert.ok(Math.abs(m - 63.5) < 6, `mean ${m}`);
  }
});

test('shamir: bad arguments are named', () => {
  const s = new Uint8Array(4);
  assert.throws(() => shareSecret(s, 0, 3), (e: ConcordError) => e.details.field === 'threshold');
  assert.throws(() => shareSecret(s, 4, 3), (e: ConcordError) => e.details.field === 'threshold');
  assert.throws(() => shareSecret(s, 2, [1, 1]), (e: ConcordError) => e.details.field === 'holders[1]');
  assert.throws(() => shareSecret(s, 2, [0, 1]), (e: ConcordError) => e.details.field === 'holders[0]');
  const shares = shareSecret(s, 2, 3);
  assert.throws(() => reconstructSecret([shares[0]!, { ...shares[1]!, x: 1 }]), (e: ConcordError) => e.details.field === 'shares[].x[1]');
  assert.throws(() => reconstructSecret([shares[0]!, { x: 2, data: shares[1]!.data.subarray(0, 10) }]), (e: ConcordError) => e.details.field === 'shares[1].data');
});
