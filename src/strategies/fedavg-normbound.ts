// Norm-bounded FedAvg (Sun, Kairouz, Suresh, McMahan 2019, "Can You Really Backdoor Federated
// Learning?", arXiv 1911.07963): each member's delta Δ_k = θ_k − θ is clipped to L2 norm at
// most M before the example-weighted average, θ' = θ + Σ_k (n_k/n)·clip(Δ_k, M). A boosted
// (model-replacement) update then weighs no more than an honest one. With no `normBound`
// option M is the round's median delta norm, which needs no knowledge of the model's scale.
//
// The delta is never materialised: θ' = (1 − Σ_k c_k)·θ + Σ_k c_k·θ_k with c_k = (n_k/n)·s_k and
// s_k = min(1, M/‖Δ_k‖) is one weighted sum over the models, and when nothing is clipped it is
// exactly the FedAvg average.

import { z } from 'zod';
import { type Parameters, makeParameters } from '../protocol/tensors.js';
import { weightedSum } from '../core/aggregate.js';
import { clipFactor, distancesTo, medianOf } from '../core/robust.js';
import { BaseStrategy } from './base.js';
import { aggregateMetrics, checkTrainResults, totalExamples } from './common.js';
import { parseOptions } from './options.js';
import { INDIVIDUAL_TRAITS, type Failure, type TrainAggregate, type TrainResult } from './strategy.js';

export const FedAvgNormBoundOptionsSchema = z
  .object({
    /** M, the largest L2 norm a member's delta may have. Default: the round's median delta norm. */
    normBound: z.number().finite().positive().optional(),
  })
  .strict();
export type FedAvgNormBoundOptions = z.input<typeof FedAvgNormBoundOptionsSchema>;

export class FedAvgNormBound extends BaseStrategy {
  readonly name = 'fedavg-normbound';
  override readonly traits = INDIVIDUAL_TRAITS;
  readonly normBound: number | undefined;

  constructor(options: FedAvgNormBoundOptions = {}) {
    super();
    this.normBound = parseOptions(this.name, FedAvgNormBoundOptionsSchema, options).normBound;
  }

  /** Adds `normBound` (M used this round) and `clipped` (members whose delta was scaled down). */
  override aggregateTrain(_serverRound: number, current: Parameters, results: TrainResult[], _failures: Failure[]): TrainAggregate | null {
    if (results.length === 0) return null;
    checkTrainResults(current, results);
    const total = totalExamples(results);
    if (total === 0) return null;
    const weighted = results.filter((r) => r.numExamples > 0);
    const norms = distancesTo(
      current.data,
      weighted.map((r) => r.parameters.data),
    );
    const bound = this.normBound ?? medianOf(Array.from(norms));
    const scales = Array.from(norms, (norm) => clipFactor(norm, bound));
    const inputs = weighted.map((r, k) => ({ data: r.parameters.data, weight: (r.numExamples / total) * scales[k]! }));
    const clipped = scales.filter((s) => s < 1).length;
    if (clipped > 0) {
      const kept = inputs.reduce((sum, input) => sum + input.weight, 0);
      inputs.push({ data: current.data, weight: 1 - kept });
    }
    const data = weightedSum(inputs);
    return { parameters: makeParameters(current.specs, data), metrics: { ...aggregateMetrics(results), normBound: bound, clipped } };
  }
}
