// What the Byzantine-robust strategies share. They ignore numExamples as a weight — a
// member could claim any count, and robustness must not hinge on a number it reports —
// but a result with no examples still counts for nothing, as in FedAvg.

import type { Parameters } from '../protocol/tensors.js';
import { checkTrainResults } from './common.js';
import type { TrainResult } from './strategy.js';

/** Checked results that carry examples; null when there are none (the round keeps the model). */
export function robustCandidates(current: Parameters, results: readonly TrainResult[]): TrainResult[] | null {
  if (results.length === 0) return null;
  checkTrainResults(current, results);
  const usable = results.filter((r) => r.numExamples > 0);
  return usable.length === 0 ? null : usable;
}

/** ⌊(K − 3)/2⌋, at least 0: the most Byzantine members Krum can tolerate among K (K > 2f + 2). */
export function maxTolerated(K: number): number {
  return Math.max(0, Math.floor((K - 3) / 2));
}
