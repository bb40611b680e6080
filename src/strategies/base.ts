// The FedAvg behaviour that the other strategies refine: select members, average their
// models weighted by numExamples (McMahan et al. 2017, arXiv 1602.05629), average their
// evaluation losses the same way. Subclasses override one method each.

import { ConcordError, ErrorCode } from '../protocol/errors.js';
import { type Parameters, makeParameters } from '../protocol/tensors.js';
import { weightedAverage } from '../core/aggregate.js';
import { aggregateMetrics, checkEvaluateResults, checkTrainResults, selectForEvaluation, selectForTraining, totalExamples } from './common.js';
import { SUM_TRAITS, type EvaluateAggregate, type EvaluateResult, type Failure, type Instruction, type RoundContext, type Strategy, type StrategyTraits, type TrainAggregate, type TrainResult } from './strategy.js';

/**
 * θ = Σ_k n_k θ_k / Σ_k n_k over checked results, with example-weighted metrics. Null when
 * there are no results or none carries an example (the round keeps the current model).
 */
export function averageTrainResults(current: Parameters, results: readonly TrainResult[]): TrainAggregate | null {
  if (results.length === 0) return null;
  checkTrainResults(current, results);
  if (totalExamples(results) === 0) return null;
  const data = weightedAverage(results.map((r) => ({ data: r.parameters.data, weight: r.numExamples })));
  return { parameters: makeParameters(current.specs, data), metrics: aggregateMetrics(results) };
}

export abstract class BaseStrategy implements Strategy {
  abstract readonly name: string;
  /** A weighted average of updates; robust strategies, which inspect each update, override this. */
  readonly traits: StrategyTraits = SUM_TRAITS;

  configureTrain(ctx: RoundContext): Instruction[] {
    return selectForTraining(ctx);
  }

  aggregateTrain(_serverRound: number, current: Parameters, results: TrainResult[], _failures: Failure[]): TrainAggregate | null {
    return averageTrainResults(current, results);
  }

  configureEvaluate(ctx: RoundContext): Instruction[] {
    return selectForEvaluation(ctx);
  }

  /** Example-weighted loss and metrics; null when no result carries an example. */
  aggregateEvaluate(_serverRound: number, results: EvaluateResult[], _failures: Failure[]): EvaluateAggregate | null {
    if (results.length === 0) return null;
    checkEvaluateResults(results);
    const total = totalExamples(results);
    if (total === 0) return null;
    const loss = results.reduce((sum, r) => sum + r.numExamples * r.loss, 0) / total;
    return { loss, metrics: aggregateMetrics(results) };
  }

  /** Stateless by default. */
  saveState(): Parameters | null {
    return null;
  }

  loadState(state: Parameters | null): void {
    if (state !== null) {
      throw new ConcordError(ErrorCode.INVALID_ARGUMENT, `${this.name} keeps no server state, but a state of ${state.specs.length} tensors was given`, {
        details: { field: 'state', expected: null, received: `${state.specs.length} tensors` },
      });
    }
  }
}
