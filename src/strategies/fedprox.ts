// FedProx (Li et al. 2020, arXiv 1812.06127): members minimise their loss plus
// (μ/2)‖w − w_t‖², which keeps heterogeneous members from drifting apart. The server side is
// FedAvg; the proximal term is applied by the member's trainer from TrainConfig.proximalMu.

import { z } from 'zod';
import { BaseStrategy } from './base.js';
import { roundTrainConfig, selectForTraining } from './common.js';
import { parseOptions } from './options.js';
import type { Instruction, RoundContext } from './strategy.js';

export const FedProxOptionsSchema = z
  .object({
    /** μ, the proximal coefficient sent to every member. Default 0.01. */
    mu: z.number().finite().min(0).default(0.01),
  })
  .strict();
export type FedProxOptions = z.input<typeof FedProxOptionsSchema>;

export class FedProx extends BaseStrategy {
  readonly name = 'fedprox';
  readonly mu: number;

  constructor(options: FedProxOptions = {}) {
    super();
    this.mu = parseOptions(this.name, FedProxOptionsSchema, options).mu;
  }

  override configureTrain(ctx: RoundContext): Instruction[] {
    return selectForTraining(ctx, (c) => ({ ...roundTrainConfig(c), proximalMu: this.mu }));
  }
}
