// Adaptive federated optimization (Reddi et al. 2021, "Adaptive Federated Optimization",
// arXiv 2003.00295, Algorithm 2): the averaged update Δ_t = avg − θ_t drives a server-side
// Adagrad, Adam or Yogi step (see core/server-optimizers.ts). The moments start at m = 0 and
// v = τ² (the paper's v_{-1} ≥ τ²) and are checkpointed as `m/<tensor>` and `v/<tensor>`.
// Flower initialises v at 0 and, for FedAdagrad, uses no first moment (β1 = 0); pass
// `beta1: 0` for the latter.

import { z } from 'zod';
import { type Parameters, type TensorSpec, assertSameSpecs, makeParameters, totalSize } from '../protocol/tensors.js';
import { type AdaptiveRule, adaptiveServerStep } from '../core/server-optimizers.js';
import { BaseStrategy, averageTrainResults } from './base.js';
import { parseOptions } from './options.js';
import { packState, unpackState } from './state.js';
import type { Failure, TrainAggregate, TrainResult } from './strategy.js';

const eta = (fallback: number) => z.number().finite().positive().default(fallback);
const beta = (fallback: number) => z.number().finite().min(0).lt(1).default(fallback);
const tau = z.number().finite().positive().default(1e-3);

/** FedAdam defaults: η = 0.1, β1 = 0.9, β2 = 0.99, τ = 1e-3. */
export const FedAdamOptionsSchema = z.object({ eta: eta(0.1), beta1: beta(0.9), beta2: beta(0.99), tau }).strict();
/** FedYogi defaults: η = 0.01, β1 = 0.9, β2 = 0.99, τ = 1e-3. */
export const FedYogiOptionsSchema = z.object({ eta: eta(0.01), beta1: beta(0.9), beta2: beta(0.99), tau }).strict();
/** FedAdagrad defaults: η = 0.1, β1 = 0.9, τ = 1e-3 (no β2: v only accumulates). */
export const FedAdagradOptionsSchema = z.object({ eta: eta(0.1), beta1: beta(0.9), tau }).strict();

export type FedAdamOptions = z.input<typeof FedAdamOptionsSchema>;
export type FedYogiOptions = z.input<typeof FedYogiOptionsSchema>;
export type FedAdagradOptions = z.input<typeof FedAdagradOptionsSchema>;

interface Hyper {
  eta: number;
  beta1: number;
  beta2: number;
  tau: number;
}

abstract class FedOpt extends BaseStrategy {
  protected abstract readonly rule: AdaptiveRule;
  readonly options: Hyper;
  private specs: TensorSpec[] | null = null;
  private m: Float32Array | null = null;
  private v: Float32Array | null = null;

  protected constructor(options: Hyper) {
    super();
    this.options = options;
  }

  override aggregateTrain(_serverRound: number, current: Parameters, results: TrainResult[], _failures: Failure[]): TrainAggregate | null {
    const average = averageTrainResults(current, results);
    if (average === null) return null;
    if (this.specs === null || this.m === null || this.v === null) {
      const n = totalSize(current.specs);
      this.specs = current.specs.map((s) => ({ name: s.name, shape: [...s.shape] }));
      this.m = new Float32Array(n);
      this.v = new Float32Array(n).fill(this.options.tau * this.options.tau);
    } else {
      assertSameSpecs(current.specs, this.specs, 'state.m');
    }
    const next = adaptiveServerStep(this.rule, current.data, average.parameters.data, this.m, this.v, this.options, average.parameters.data);
    return { parameters: makeParameters(current.specs, next), metrics: average.metrics };
  }

  override saveState(): Parameters | null {
    if (this.specs === null || this.m === null || this.v === null) return null;
    return packState(this.specs, { m: this.m, v: this.v });
  }

  override loadState(state: Parameters | null): void {
    if (state === null) {
      this.specs = this.m = this.v = null;
      return;
    }
    const unpacked = unpackState(this.name, state, ['m', 'v']);
    this.specs = unpacked.specs;
    this.m = unpacked.buffers.m!;
    this.v = unpacked.buffers.v!;
  }
}

export class FedAdam extends FedOpt {
  readonly name = 'fedadam';
  protected readonly rule = 'adam';

  constructor(options: FedAdamOptions = {}) {
    super(parseOptions('fedadam', FedAdamOptionsSchema, options));
  }
}

export class FedYogi extends FedOpt {
  readonly name = 'fedyogi';
  protected readonly rule = 'yogi';

  constructor(options: FedYogiOptions = {}) {
    super(parseOptions('fedyogi', FedYogiOptionsSchema, options));
  }
}

export class FedAdagrad extends FedOpt {
  readonly name = 'fedadagrad';
  protected readonly rule = 'adagrad';

  constructor(options: FedAdagradOptions = {}) {
    // β2 plays no part in Adagrad; 0 keeps the shared options complete.
    super({ ...parseOptions('fedadagrad', FedAdagradOptionsSchema, options), beta2: 0 });
  }
}
