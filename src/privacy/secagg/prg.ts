// Mask expansion: a 32-byte seed becomes a long vector of uniform elements of Z_{2^32}.
// The PRG of Bonawitz et al. 2017 (§4) is instantiated as AES-256 in counter mode keyed by
// HKDF-SHA256(seed, salt = round seed, info), encrypting zeros; counter-mode output is
// indistinguishable from uniform bytes, and every 4 bytes (little-endian) are one ring element.
// The round seed as salt makes every round's masks independent even if a seed were reused.
// The AES and HKDF come from SecAggPrimitives (primitives.ts): with node:crypto, OpenSSL's
// AES runs at GB/s with AES-NI, so expansion costs about as much as reading the vector once;
// in a browser, @noble's runs at tens of MB/s. Both give the same stream, and both ends must
// expand identically, so the byte order is fixed to little-endian.

import { type RingTerm, ringAccumulate } from '../../core/ring-kernel.js';
import { assertLittleEndianHost } from '../../protocol/endian.js';
import type { SecAggPrimitives } from './primitives.js';
import { RING_BITS } from './quantize.js';

export const MASK_INFO = 'concord-secagg-mask';
const CHUNK_WORDS = 1 << 16;
/** Words of key stream read at a time for seededIntegers: small choices need little. */
const INTEGER_BATCH_WORDS = 1024;

// Uint32Array views of the cipher stream assume the host order equals the wire order.
assertLittleEndianHost();

/** The AES-256 key of a mask: HKDF-SHA256(seed, salt, info). */
export function maskKey(primitives: SecAggPrimitives, seed: Uint8Array, salt: Uint8Array, info = MASK_INFO): Uint8Array {
  return primitives.hkdf(seed, salt, info, 32);
}

/** `words` words of a key stream as ring elements; a copy only when the bytes sit off a 4-byte boundary. */
function readWords(read: (bytes: number) => Uint8Array, words: number): Uint32Array {
  let bytes = read(words * 4);
  if (bytes.byteOffset % 4 !== 0) bytes = new Uint8Array(bytes);
  return new Uint32Array(bytes.buffer, bytes.byteOffset, words);
}

/** Calls `visit(words, offset)` with consecutive pieces of the key stream, as ring elements. */
function stream(primitives: SecAggPrimitives, key: Uint8Array, length: number, visit: (words: Uint32Array, offset: number) => void): void {
  const read = primitives.keystream(key);
  for (let offset = 0; offset < length; offset += CHUNK_WORDS) visit(readWords(read, Math.min(CHUNK_WORDS, length - offset)), offset);
}

/** `length` uniform ring elements from a seed. */
export function expandMask(primitives: SecAggPrimitives, seed: Uint8Array, salt: Uint8Array, length: number, info = MASK_INFO): Uint32Array {
  const out = new Uint32Array(length);
  stream(primitives, maskKey(primitives, seed, salt, info), length, (words, offset) => out.set(words, offset));
  return out;
}

/** One mask to add (sign 1) or take off (sign −1): PRG(seed) under the round's salt. */
export interface SignedMask {
  seed: Uint8Array;
  sign: 1 | -1;
}

/**
 * target ← target + Σ sign·PRG(seed) (mod 2^32) over all masks in one pass, without
 * materialising any mask: the ring kernel (core/ring-kernel.ts, WebAssembly SIMD where it
 * runs) reads every mask's key stream one block at a time into the block of the target.
 */
export function applyMasks(primitives: SecAggPrimitives, target: Uint32Array, masks: readonly SignedMask[], salt: Uint8Array): void {
  const terms: RingTerm[] = masks.map(({ seed, sign }) => {
    const read = primitives.keystream(maskKey(primitives, seed, salt));
    return { source: (words: number) => read(words * 4), sign };
  });
  ringAccumulate(target, terms, RING_BITS);
}

/** target ← target + sign·PRG(seed) (mod 2^32), without materialising the mask. */
export function applyMask(primitives: SecAggPrimitives, target: Uint32Array, seed: Uint8Array, salt: Uint8Array, sign: 1 | -1): void {
  applyMasks(primitives, target, [{ seed, sign }], salt);
}

/** target ← target + source (mod 2^32). */
export function addInto(target: Uint32Array, source: Uint32Array): void {
  ringAccumulate(target, [{ source, sign: 1 }], RING_BITS);
}

/** Uniform integers in [0, bound) from a seed, for public choices such as the neighbour graph. */
export function seededIntegers(primitives: SecAggPrimitives, seed: Uint8Array, salt: Uint8Array, info: string): (bound: number) => number {
  const read = primitives.keystream(maskKey(primitives, seed, salt, info));
  let words: Uint32Array = new Uint32Array(0);
  let next = 0;
  const word = (): number => {
    if (next === words.length) {
      words = readWords(read, INTEGER_BATCH_WORDS);
      next = 0;
    }
    return words[next++]!;
  };
  return (bound) => {
    // Rejection sampling: drop the top partial copy of [0, bound) so every value is equally likely.
    const limit = Math.floor(2 ** 32 / bound) * bound;
    for (;;) {
      const w = word();
      if (w < limit) return w % bound;
    }
  };
}
