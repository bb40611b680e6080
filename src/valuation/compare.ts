// Every valuation method on one simulated federation (simulation.ts), side by side: the
// round-wise methods and final-model Shapley from the kept updates, as the coordinator
// computes them, and retraining-based Shapley from reruns of the federation per coalition.
// For checking methods against each other on real data (bench/valuation.ts and
// test/valuation-demo-data.test.ts); the coordinator never retrains.

import type { Dataset } from '../data/dataset.js';
import { valueRun, type ValuationSummary } from './federated.js';
import { valueFinalModels } from './final-model.js';
import type { ValuationMethodName } from './methods.js';
import { valueByRetraining } from './retrain.js';
import { correctnessOn, retrainCoalitions, simulateFederation, type SimulationOptions } from './simulation.js';

export type ComparedMethod = Exclude<ValuationMethodName, 'auto'>;
export const COMPARED_METHODS: readonly ComparedMethod[] = ['final-model', 'exact', 'monte-carlo', 'gtg', 'loo', 'retrain'];

export interface CompareOptions {
  /** Seeds the bootstrap and the permutation samplers; default 0. */
  seed?: number;
  /** Bootstrap resamples; default 200. */
  bootstrap?: number;
  /** Monte Carlo permutations per round (and for sampled retraining); default 100. */
  permutations?: number;
  methods?: readonly ComparedMethod[];
  /** After each method, with its result. */
  onMethod?: (method: ComparedMethod, result: ValuationSummary) => void;
}

export async function compareMethods(simulation: SimulationOptions, validation: Dataset, options: CompareOptions = {}): Promise<Partial<Record<ComparedMethod, ValuationSummary>>> {
  const run = await simulateFederation(simulation);
  const utility = correctnessOn(simulation.spec, validation);
  const common = { utility, seed: options.seed ?? 0, bootstrap: options.bootstrap ?? 200, permutations: options.permutations ?? 100 };
  const methods: Record<ComparedMethod, () => Promise<ValuationSummary>> = {
    'final-model': () => valueFinalModels(run.rounds, common),
    exact: () => valueRun(run.rounds, { ...common, method: 'exact' }),
    'monte-carlo': () => valueRun(run.rounds, { ...common, method: 'monte-carlo' }),
    gtg: () => valueRun(run.rounds, { ...common, method: 'gtg' }),
    loo: () => valueRun(run.rounds, { ...common, method: 'loo' }),
    retrain: () => valueByRetraining({ ...common, members: simulation.members.map((m) => m.name), train: retrainCoalitions(simulation) }),
  };
  const results: Partial<Record<ComparedMethod, ValuationSummary>> = {};
  for (const method of options.methods ?? COMPARED_METHODS) {
    const result = await methods[method]();
    results[method] = result;
    options.onMethod?.(method, result);
  }
  return results;
}
