// Which members take part in a round. Flower's convention: n = max(⌈fraction·N⌉, min),
// capped at N, drawn uniformly without replacement, so a seeded Random reproduces the
// choice and a run can be replayed.

import { ConcordError, ErrorCode } from '../protocol/errors.js';
import type { Random } from './random.js';

/** How many of `available` members a round asks for. */
export function sampleSize(available: number, fraction: number, min: number): number {
  if (!Number.isFinite(fraction) || fraction < 0 || fraction > 1) {
    throw new ConcordError(ErrorCode.INVALID_ARGUMENT, `fraction is ${fraction}; it must be in [0, 1]`, {
      details: { field: 'fraction', expected: '[0, 1]', received: fraction },
    });
  }
  if (!Number.isInteger(min) || min < 0) {
    throw new ConcordError(ErrorCode.INVALID_ARGUMENT, `min is ${min}; it must be a non-negative integer`, {
      details: { field: 'min', expected: 'integer >= 0', received: min },
    });
  }
  // The epsilon keeps 0.1 · 30 = 3.0000000000000004 from becoming 4.
  const wanted = Math.max(Math.ceil(fraction * available - 1e-9), min);
  return Math.min(wanted, available);
}

/**
 * Draws sampleSize(N, fraction, min) members uniformly without replacement (partial
 * Fisher–Yates). The result keeps the order of `available`, so it does not depend on draw order.
 */
export function sampleMembers<T>(available: readonly T[], fraction: number, min: number, random: Random): T[] {
  const N = available.length;
  const n = sampleSize(N, fraction, min);
  if (n === N) return [...available];
  const index = Array.from({ length: N }, (_, i) => i);
  for (let i = 0; i < n; i++) {
    const j = i + Math.floor(random() * (N - i));
    [index[i], index[j]] = [index[j]!, index[i]!];
  }
  return index
    .slice(0, n)
    .sort((a, b) => a - b)
    .map((i) => available[i]!);
}
