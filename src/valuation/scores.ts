// What a utility says about one model, and how the validation set's own sampling error is
// carried through a valuation. A utility may return one number (e.g. accuracy) or one score
// per validation example (1 correct / 0 wrong, or −loss); with per-example scores every
// coalition value is computed at once on the full set and on B bootstrap resamples of it
// (Efron & Tibshirani 1993), drawn once from a seed, so each model is evaluated once and
// every valuation yields B + 1 replicate values. Shapley, leave-one-out and the sums over
// rounds are linear in v, so the replicates of a member's value are its value under each
// resampled validation set, and their spread is the validation-set sampling error.

import { seededRandom } from '../core/random.js';
import { ConcordError, ErrorCode } from '../protocol/errors.js';

/** Per-example scores on the validation set (their mean is the utility). */
export type PerExampleScores = ArrayLike<number>;
export type UtilityResult = number | PerExampleScores;

/** Default bootstrap resamples of the validation set. */
export const DEFAULT_BOOTSTRAP_RESAMPLES = 200;

/**
 * Replicate values of one coalition: index 0 is the value on the full validation set,
 * indices 1..B the value on each bootstrap resample (absent when the utility gave one number).
 */
export type Replicates = Float64Array;

/** The multiplicities of every validation example in B seeded resamples (with replacement). */
export class ValidationBootstrap {
  /** counts[b · n + i]: how often example i is drawn in resample b. */
  private readonly counts: Uint16Array;

  constructor(
    readonly examples: number,
    readonly resamples: number,
    seed: number,
  ) {
    const random = seededRandom(seed, 0x5eed_b007);
    this.counts = new Uint16Array(examples * resamples);
    for (let b = 0; b < resamples; b++) {
      for (let k = 0; k < examples; k++) this.counts[b * examples + Math.floor(random() * examples)]!++;
    }
  }

  /** Mean of the scores on the full set and on each resample: B + 1 values. */
  replicate(scores: PerExampleScores): Replicates {
    const n = this.examples;
    if (scores.length !== n) {
      throw new ConcordError(ErrorCode.INVALID_ARGUMENT, `the utility returned ${scores.length} per-example scores, earlier ${n}; every model must be scored on the same validation set`, {
        details: { field: 'utility', expected: n, received: scores.length },
      });
    }
    const out = new Float64Array(this.resamples + 1);
    let total = 0;
    for (let i = 0; i < n; i++) total += scores[i]!;
    out[0] = total / n;
    for (let b = 0; b < this.resamples; b++) {
      let sum = 0;
      const offset = b * n;
      for (let i = 0; i < n; i++) {
        const c = this.counts[offset + i]!;
        if (c !== 0) sum += c * scores[i]!;
      }
      out[b + 1] = sum / n;
    }
    return out;
  }
}

/**
 * Turns utility results into replicates, creating the bootstrap on the first per-example
 * result. Mixing numbers and per-example scores in one valuation is refused: replicates of
 * different lengths cannot be combined.
 */
export class ReplicateScorer {
  private bootstrap: ValidationBootstrap | null = null;
  private kind: 'number' | 'scores' | null = null;

  constructor(
    private readonly resamples = DEFAULT_BOOTSTRAP_RESAMPLES,
    private readonly seed = 0,
  ) {
    if (!Number.isInteger(resamples) || resamples < 0) {
      throw new ConcordError(ErrorCode.INVALID_ARGUMENT, `bootstrap resamples must be an integer >= 0, got ${resamples}`, { details: { field: 'bootstrap', expected: 'an integer >= 0', received: resamples } });
    }
  }

  /** Resamples in use: 0 until per-example scores arrive, or when the utility returns numbers. */
  get resampleCount(): number {
    return this.bootstrap?.resamples ?? 0;
  }

  get validationExamples(): number | null {
    return this.bootstrap?.examples ?? null;
  }

  toReplicates(result: UtilityResult): Replicates {
    const kind = typeof result === 'number' ? 'number' : 'scores';
    if (this.kind !== null && this.kind !== kind) {
      throw new ConcordError(ErrorCode.INVALID_ARGUMENT, 'the utility returned a number for one model and per-example scores for another; it must always return the same kind', {
        details: { field: 'utility', expected: this.kind, received: kind },
      });
    }
    this.kind = kind;
    if (typeof result === 'number') return Float64Array.of(result);
    if (result.length === 0) {
      throw new ConcordError(ErrorCode.INVALID_ARGUMENT, 'the utility returned no per-example scores: the validation set is empty', { details: { field: 'utility', expected: 'scores for >= 1 example', received: 0 } });
    }
    this.bootstrap ??= new ValidationBootstrap(result.length, this.resamples, this.seed);
    return this.bootstrap.replicate(result);
  }
}
