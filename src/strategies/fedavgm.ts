// FedAvgM (Hsu et al. 2019, arXiv 1909.06335): server momentum on the pseudo-gradient
// Δ = θ_t − avg:  v ← βv + Δ,  θ_{t+1} = θ_t − ηv. Helps under non-IID data; β = 0 and η = 1
// is FedAvg. The velocity v is server state and is checkpointed as `momentum/<tensor>`.

import { z } from 'zod';
import { type Parameters, type TensorSpec, assertSameSpecs, makeParameters, totalSize } from '../protocol/tensors.js';
import { serverMomentumStep } from '../core/server-optimizers.js';
import { BaseStrategy, averageTrainResults } from './base.js';
import { parseOptions } from './options.js';
import { packState, unpackState } from './state.js';
import type { Failure, TrainAggregate, TrainResult } from './strategy.js';

export const FedAvgMOptionsSchema = z
  .object({
    /** η, the server learning rate. Default 1. */
    serverLearningRate: z.number().finite().positive().default(1),
    /** β, the server momentum. Default 0.9. */
    momentum: z.number().finite().min(0).lt(1).default(0.9),
  })
  .strict();
export type FedAvgMOptions = z.input<typeof FedAvgMOptionsSchema>;

export class FedAvgM extends BaseStrategy {
  readonly name = 'fedavgm';
  readonly options: z.output<typeof FedAvgMOptionsSchema>;
  private specs: TensorSpec[] | null = null;
  private velocity: Float32Array | null = null;

  constructor(options: FedAvgMOptions = {}) {
    super();
    this.options = parseOptions(this.name, FedAvgMOptionsSchema, options);
  }

  override aggregateTrain(_serverRound: number, current: Parameters, results: TrainResult[], _failures: Failure[]): TrainAggregate | null {
    const average = averageTrainResults(current, results);
    if (average === null) return null;
    if (this.specs === null || this.velocity === null) {
      this.specs = current.specs.map((s) => ({ name: s.name, shape: [...s.shape] }));
      this.velocity = new Float32Array(totalSize(current.specs));
    } else {
      assertSameSpecs(current.specs, this.specs, 'state.momentum');
    }
    const next = serverMomentumStep(current.data, average.parameters.data, this.velocity, this.options, average.parameters.data);
    return { parameters: makeParameters(current.specs, next), metrics: average.metrics };
  }

  override saveState(): Parameters | null {
    if (this.specs === null || this.velocity === null) return null;
    return packState(this.specs, { momentum: this.velocity });
  }

  override loadState(state: Parameters | null): void {
    if (state === null) {
      this.specs = null;
      this.velocity = null;
      return;
    }
    const unpacked = unpackState(this.name, state, ['momentum']);
    this.specs = unpacked.specs;
    this.velocity = unpacked.buffers.momentum!;
  }
}
