// Arithmetic in the prime field GF(p), p = 2^127 − 1 (a Mersenne prime), with bigint.
// Shamir sharing (shamir.ts) runs here. Why this prime: it is larger than any 15-byte
// chunk (2^120), so a 32-byte secret splits into three field elements with no bias and no
// reduction, an element fits in 16 bytes on the wire, and the field is far larger than the
// number of share holders, which is all Shamir's scheme needs. 2^255 − 19 would hold a whole
// secret in one element but costs four times as much per multiplication for no gain here.

import { ConcordError, ErrorCode } from '../../protocol/errors.js';
import { secureRandomBytes } from './primitives.js';

export const FIELD_PRIME = (1n << 127n) - 1n;
/** Bytes of one field element on the wire (big-endian). */
export const ELEMENT_BYTES = 16;
/** Bytes of secret carried by one element: 15 · 8 = 120 bits < 127. */
export const CHUNK_BYTES = 15;

export function mod(a: bigint): bigint {
  const r = a % FIELD_PRIME;
  return r < 0n ? r + FIELD_PRIME : r;
}

export function add(a: bigint, b: bigint): bigint {
  return mod(a + b);
}

export function sub(a: bigint, b: bigint): bigint {
  return mod(a - b);
}

export function mul(a: bigint, b: bigint): bigint {
  return mod(a * b);
}

/** Multiplicative inverse by the extended Euclidean algorithm; 0 has none. */
export function inverse(a: bigint): bigint {
  let r0 = FIELD_PRIME;
  let r1 = mod(a);
  if (r1 === 0n) {
    throw new ConcordError(ErrorCode.INVALID_ARGUMENT, '0 has no inverse in GF(2^127 − 1)', {
      details: { field: 'a', expected: 'non-zero field element', received: '0' },
    });
  }
  let t0 = 0n;
  let t1 = 1n;
  while (r1 !== 0n) {
    const q = r0 / r1;
    [r0, r1] = [r1, r0 - q * r1];
    [t0, t1] = [t1, t0 - q * t1];
  }
  return mod(t0);
}

/** A uniformly random element from the platform's CSPRNG (rejection sampling). */
export function randomElement(): bigint {
  for (;;) {
    const bytes = secureRandomBytes(ELEMENT_BYTES);
    bytes[0]! &= 0x7f;
    const value = fromBytes(bytes);
    if (value < FIELD_PRIME) return value;
  }
}

/** Big-endian unsigned integer. */
export function fromBytes(bytes: Uint8Array): bigint {
  let value = 0n;
  for (const byte of bytes) value = (value << 8n) | BigInt(byte);
  return value;
}

/** Big-endian, left-padded to `length` bytes. */
export function toBytes(value: bigint, length: number, out = new Uint8Array(length), offset = 0): Uint8Array {
  let v = value;
  for (let i = length - 1; i >= 0; i--) {
    out[offset + i] = Number(v & 0xffn);
    v >>= 8n;
  }
  if (v !== 0n) {
    throw new ConcordError(ErrorCode.INTERNAL, `value does not fit in ${length} bytes`, {
      details: { field: 'value', expected: `< 2^${8 * length}` },
    });
  }
  return out;
}
