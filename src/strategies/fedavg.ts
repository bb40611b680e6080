// FedAvg (McMahan et al. 2017, arXiv 1602.05629): θ_{t+1} = Σ_k (n_k / n) θ_k. No options.

import { z } from 'zod';
import { BaseStrategy } from './base.js';
import { parseOptions } from './options.js';

export const FedAvgOptionsSchema = z.object({}).strict();
export type FedAvgOptions = z.input<typeof FedAvgOptionsSchema>;

export class FedAvg extends BaseStrategy {
  readonly name = 'fedavg';

  constructor(options: FedAvgOptions = {}) {
    super();
    parseOptions(this.name, FedAvgOptionsSchema, options);
  }
}
