// Shamir's (t, n) secret sharing (Shamir 1979, "How to share a secret"), as used by
// Bonawitz et al. 2017 (Practical Secure Aggregation, CCS) to make a member's secrets
// recoverable after it drops out. The secret is cut into 15-byte chunks, each chunk is the
// constant term of its own random polynomial of degree t − 1 over GF(2^127 − 1) (field.ts),
// and holder x receives the polynomials' values at x. Any t shares give the secret back by
// Lagrange interpolation at 0; t − 1 or fewer are consistent with every possible secret, so
// they reveal nothing about it (information-theoretically, not just computationally).
//
// Share data layout: u16 LE secret length, then one 16-byte big-endian element per chunk.
// A 32-byte secret gives 2 + 3·16 = 50 bytes per share.

import { ConcordError, ErrorCode } from '../../protocol/errors.js';
import { CHUNK_BYTES, ELEMENT_BYTES, FIELD_PRIME, add, fromBytes, inverse, mul, randomElement, sub, toBytes } from './field.js';

export interface Share {
  /** The holder's x-coordinate: a positive integer, distinct per holder. */
  x: number;
  data: Uint8Array;
}

const MAX_X = 0x7fffffff;
const MAX_SECRET_BYTES = 0xffff;

function chunkCount(secretLength: number): number {
  return Math.max(1, Math.ceil(secretLength / CHUNK_BYTES));
}

function invalid(field: string, message: string, expected: unknown, received: unknown): ConcordError {
  return new ConcordError(ErrorCode.INVALID_ARGUMENT, message, { details: { field, expected, received } });
}

/** Share bytes from a secret length and the element per chunk. */
export function encodeShareData(secretLength: number, values: readonly bigint[]): Uint8Array {
  const out = new Uint8Array(2 + values.length * ELEMENT_BYTES);
  out[0] = secretLength & 0xff;
  out[1] = secretLength >>> 8;
  values.forEach((v, i) => toBytes(v, ELEMENT_BYTES, out, 2 + i * ELEMENT_BYTES));
  return out;
}

export function decodeShareData(data: Uint8Array, field = 'share.data'): { secretLength: number; values: bigint[] } {
  if (data.length < 2) throw invalid(field, `${field} holds ${data.length} bytes; a share has at least 2`, '>= 2 bytes', data.length);
  const secretLength = data[0]! | (data[1]! << 8);
  const chunks = chunkCount(secretLength);
  if (data.length !== 2 + chunks * ELEMENT_BYTES) {
    throw invalid(field, `${field} holds ${data.length} bytes; a share of a ${secretLength}-byte secret holds ${2 + chunks * ELEMENT_BYTES}`, 2 + chunks * ELEMENT_BYTES, data.length);
  }
  const values: bigint[] = [];
  for (let c = 0; c < chunks; c++) {
    const v = fromBytes(data.subarray(2 + c * ELEMENT_BYTES, 2 + (c + 1) * ELEMENT_BYTES));
    if (v >= FIELD_PRIME) throw invalid(`${field}[${c}]`, `${field} element ${c} is not below 2^127 − 1`, '< 2^127 − 1', v.toString());
    values.push(v);
  }
  return { secretLength, values };
}

function checkXs(xs: readonly number[], field: string): void {
  const seen = new Set<number>();
  xs.forEach((x, i) => {
    if (!Number.isInteger(x) || x < 1 || x > MAX_X) throw invalid(`${field}[${i}]`, `${field}[${i}] is ${x}; x-coordinates are integers in [1, 2^31 − 1]`, '[1, 2^31 − 1]', x);
    if (seen.has(x)) throw invalid(`${field}[${i}]`, `${field}[${i}] repeats x = ${x}; every holder needs its own x-coordinate`, 'distinct', x);
    seen.add(x);
  });
}

/**
 * Splits `secret` into shares, any `threshold` of which reconstruct it. `holders` is either
 * the number of shares (x = 1 … n) or the holders' x-coordinates.
 */
export function shareSecret(secret: Uint8Array, threshold: number, holders: number | readonly number[]): Share[] {
  const xs = typeof holders === 'number' ? Array.from({ length: holders }, (_, i) => i + 1) : [...holders];
  if (typeof holders === 'number' && (!Number.isInteger(holders) || holders < 1)) {
    throw invalid('n', `n is ${holders}; the number of shares must be a positive integer`, 'integer >= 1', holders);
  }
  checkXs(xs, 'holders');
  if (!Number.isInteger(threshold) || threshold < 1 || threshold > xs.length) {
    throw invalid('threshold', `threshold is ${threshold}; it must be an integer in [1, ${xs.length}] (the number of shares)`, `[1, ${xs.length}]`, threshold);
  }
  if (secret.length > MAX_SECRET_BYTES) throw invalid('secret', `the secret holds ${secret.length} bytes; at most ${MAX_SECRET_BYTES}`, `<= ${MAX_SECRET_BYTES}`, secret.length);

  const chunks = chunkCount(secret.length);
  // coefficients[c][0] is chunk c of the secret; the others are uniform and secret.
  const coefficients: bigint[][] = [];
  for (let c = 0; c < chunks; c++) {
    const poly = [fromBytes(secret.subarray(c * CHUNK_BYTES, (c + 1) * CHUNK_BYTES))];
    for (let d = 1; d < threshold; d++) poly.push(randomElement());
    coefficients.push(poly);
  }
  return xs.map((x) => {
    const bx = BigInt(x);
    const values = coefficients.map((poly) => {
      let y = 0n;
      for (let d = poly.length - 1; d >= 0; d--) y = add(mul(y, bx), poly[d]!);
      return y;
    });
    return { x, data: encodeShareData(secret.length, values) };
  });
}

/** Lagrange basis at 0: λ_i = Π_{j≠i} x_j / (x_j − x_i). */
export function lagrangeAtZero(xs: readonly number[]): bigint[] {
  return xs.map((xi, i) => {
    let num = 1n;
    let den = 1n;
    xs.forEach((xj, j) => {
      if (j === i) return;
      num = mul(num, BigInt(xj));
      den = mul(den, sub(BigInt(xj), BigInt(xi)));
    });
    return mul(num, inverse(den));
  });
}

/**
 * The secret from shares. With `threshold` given, fewer shares are refused and only the
 * first `threshold` are used; without it all shares are interpolated, and too few give a
 * value unrelated to the secret — the scheme cannot tell.
 */
export function reconstructSecret(shares: readonly Share[], threshold?: number): Uint8Array {
  if (threshold !== undefined && shares.length < threshold) {
    throw invalid('shares', `${shares.length} shares given; the secret needs ${threshold}`, `>= ${threshold}`, shares.length);
  }
  if (shares.length === 0) throw invalid('shares', 'no shares given', '>= 1', 0);
  const used = threshold === undefined ? shares : shares.slice(0, threshold);
  checkXs(used.map((s) => s.x), 'shares[].x');
  const decoded = used.map((s, i) => decodeShareData(s.data, `shares[${i}].data`));
  const { secretLength } = decoded[0]!;
  decoded.forEach((d, i) => {
    if (d.secretLength !== secretLength) {
      throw invalid(`shares[${i}].data`, `shares[${i}] is of a ${d.secretLength}-byte secret, shares[0] of a ${secretLength}-byte one`, secretLength, d.secretLength);
    }
  });
  const lambda = lagrangeAtZero(used.map((s) => s.x));
  const out = new Uint8Array(secretLength);
  const chunks = chunkCount(secretLength);
  for (let c = 0; c < chunks; c++) {
    let value = 0n;
    decoded.forEach((d, i) => (value = add(value, mul(lambda[i]!, d.values[c]!))));
    const width = Math.min(CHUNK_BYTES, secretLength - c * CHUNK_BYTES);
    if (width <= 0) break;
    // A chunk of `width` bytes is below 2^(8·width); a larger value means the shares do not
    // belong together (too few, or not of one secret), so the high bytes are dropped.
    const bytes = toBytes(value, ELEMENT_BYTES);
    out.set(bytes.subarray(ELEMENT_BYTES - width), c * CHUNK_BYTES);
  }
  return out;
}
