// FedTrimmedAvg: the coordinate-wise β-trimmed mean of the members' models (Yin et al. 2018,
// "Byzantine-Robust Distributed Learning: Towards Optimal Statistical Rates", arXiv
// 1803.01498): each coordinate drops its ⌊βK⌋ smallest and ⌊βK⌋ largest values and
// averages the rest. It withstands a fraction α of Byzantine members when β ≥ α, and
// averages more honest values than the median does. Unweighted.

import { z } from 'zod';
import { type Parameters, makeParameters } from '../protocol/tensors.js';
import { trimCount, trimmedMean } from '../core/robust.js';
import { BaseStrategy } from './base.js';
import { aggregateMetrics } from './common.js';
import { parseOptions } from './options.js';
import { robustCandidates } from './robust-common.js';
import { INDIVIDUAL_TRAITS, type Failure, type TrainAggregate, type TrainResult } from './strategy.js';

export const FedTrimmedAvgOptionsSchema = z
  .object({
    /** β, the fraction trimmed at each end of every coordinate, in [0, 0.5). Default 0.2 (as Flower). */
    beta: z.number().finite().min(0).lt(0.5).default(0.2),
  })
  .strict();
export type FedTrimmedAvgOptions = z.input<typeof FedTrimmedAvgOptionsSchema>;

export class FedTrimmedAvg extends BaseStrategy {
  readonly name = 'fedtrimmedavg';
  override readonly traits = INDIVIDUAL_TRAITS;
  readonly beta: number;

  constructor(options: FedTrimmedAvgOptions = {}) {
    super();
    this.beta = parseOptions(this.name, FedTrimmedAvgOptionsSchema, options).beta;
  }

  /** Adds `trimmed`: how many values were dropped at each end of every coordinate. */
  override aggregateTrain(_serverRound: number, current: Parameters, results: TrainResult[], _failures: Failure[]): TrainAggregate | null {
    const usable = robustCandidates(current, results);
    if (usable === null) return null;
    const data = trimmedMean(
      usable.map((r) => r.parameters.data),
      this.beta,
    );
    return { parameters: makeParameters(current.specs, data), metrics: { ...aggregateMetrics(results), trimmed: trimCount(usable.length, this.beta) } };
  }
}
