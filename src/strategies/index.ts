// The strategy registry: RunConfig.strategy ({name, options}) to a Strategy instance.

import { ConcordError, ErrorCode } from '../protocol/errors.js';
import { FedAvg } from './fedavg.js';
import { FedAvgM } from './fedavgm.js';
import { FedAdagrad, FedAdam, FedYogi } from './fedopt.js';
import { FedProx } from './fedprox.js';
import { FedAvgNormBound } from './fedavg-normbound.js';
import { FedBuff } from './fedbuff.js';
import { FedMedian } from './fedmedian.js';
import { FedTrimmedAvg } from './fedtrimmedavg.js';
import { Krum, MultiKrum } from './krum.js';
import type { Strategy } from './strategy.js';

export type { Strategy } from './strategy.js';
export { FedAvg } from './fedavg.js';
export { FedProx } from './fedprox.js';
export { FedAvgM } from './fedavgm.js';
export { FedAdam, FedYogi, FedAdagrad } from './fedopt.js';
export { FedMedian } from './fedmedian.js';
export { FedTrimmedAvg } from './fedtrimmedavg.js';
export { Krum, MultiKrum } from './krum.js';
export { FedAvgNormBound } from './fedavg-normbound.js';
export { FedBuff, asyncScheduleOf, type AsyncSchedule, type BufferedUpdate } from './fedbuff.js';
export { type UpdateValidationOptions, type ValidatedStrategy, validateUpdates, withUpdateValidation } from './validation.js';
export { type MemberReputation, type ReputationSnapshot, ReputationBook } from './reputation.js';

const FACTORIES = {
  fedavg: (options: Record<string, unknown>) => new FedAvg(options),
  fedprox: (options: Record<string, unknown>) => new FedProx(options),
  fedavgm: (options: Record<string, unknown>) => new FedAvgM(options),
  fedadam: (options: Record<string, unknown>) => new FedAdam(options),
  fedyogi: (options: Record<string, unknown>) => new FedYogi(options),
  fedadagrad: (options: Record<string, unknown>) => new FedAdagrad(options),
  fedmedian: (options: Record<string, unknown>) => new FedMedian(options),
  fedtrimmedavg: (options: Record<string, unknown>) => new FedTrimmedAvg(options),
  krum: (options: Record<string, unknown>) => new Krum(options),
  multikrum: (options: Record<string, unknown>) => new MultiKrum(options),
  'fedavg-normbound': (options: Record<string, unknown>) => new FedAvgNormBound(options),
  fedbuff: (options: Record<string, unknown>) => new FedBuff(options),
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
