// FedMedian: the coordinate-wise median of the members' models (Yin et al. 2018,
// "Byzantine-Robust Distributed Learning: Towards Optimal Statistical Rates", arXiv
// 1803.01498). Each coordinate follows the majority, so fewer than half of the members
// cannot drag it outside the range of honest values. Unweighted; no options.

import { z } from 'zod';
import { type Parameters, makeParameters } from '../protocol/tensors.js';
import { coordinateMedian } from '../core/robust.js';
import { BaseStrategy } from './base.js';
import { aggregateMetrics } from './common.js';
import { parseOptions } from './options.js';
import { robustCandidates } from './robust-common.js';
import { INDIVIDUAL_TRAITS, type Failure, type TrainAggregate, type TrainResult } from './strategy.js';

export const FedMedianOptionsSchema = z.object({}).strict();
export type FedMedianOptions = z.input<typeof FedMedianOptionsSchema>;

export class FedMedian extends BaseStrategy {
  readonly name = 'fedmedian';
  override readonly traits = INDIVIDUAL_TRAITS;

  constructor(options: FedMedianOptions = {}) {
    super();
    parseOptions(this.name, FedMedianOptionsSchema, options);
  }

  override aggregateTrain(_serverRound: number, current: Parameters, results: TrainResult[], _failures: Failure[]): TrainAggregate | null {
    const usable = robustCandidates(current, results);
    if (usable === null) return null;
    const data = coordinateMedian(usable.map((r) => r.parameters.data));
    return { parameters: makeParameters(current.specs, data), metrics: aggregateMetrics(results) };
  }
}
