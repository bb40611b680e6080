// The strategy registry: RunConfig.strategy ({name, options}) to a Strategy instance.

import { ConcordError, ErrorCode } from '../protocol/errors.js';
import { FedAvg } from './fedavg.js';
import { FedAvgM } from './fedavgm.js';
import { FedAdagrad, FedAdam, FedYogi } from './fedopt.js';
import { FedProx } from './fedprox.js';
import type { Strategy } from './strategy.js';

export type { Strategy } from './strategy.js';
export { FedAvg } from './fedavg.js';
export { FedProx } from './fedprox.js';
export { FedAvgM } from './fedavgm.js';
export { FedAdam, FedYogi, FedAdagrad } from './fedopt.js';

const FACTORIES = {
  fedavg: (options: Record<string, unknown>) => new FedAvg(options),
  fedprox: (options: Record<string, unknown>) => new FedProx(options),
  fedavgm: (options: Record<string, unknown>) => new FedAvgM(options),
  fedadam: (options: Record<string, unknown>) => new FedAdam(options),
  fedyogi: (options: Record<string, unknown>) => new FedYogi(options),
  fedadagrad: (options: Record<string, unknown>) => new FedAdagrad(options),
} as const;

export type StrategyName = keyof typeof FACTORIES;
export const STRATEGY_NAMES = Object.keys(FACTORIES) as StrategyName[];

/** Builds the strategy a run asks for; unknown names and options are INVALID_ARGUMENT errors naming the field. */
export function createStrategy(spec: { name: string; options?: Record<string, unknown> }): Strategy {
  if (!Object.hasOwn(FACTORIES, spec.name)) {
    throw new ConcordError(ErrorCode.INVALID_ARGUMENT, `unknown strategy "${spec.name}"; known strategies: ${STRATEGY_NAMES.join(', ')}`, {
      details: { field: 'strategy.name', expected: STRATEGY_NAMES, received: spec.name },
    });
  }
  return FACTORIES[spec.name as StrategyName](spec.options ?? {});
}
