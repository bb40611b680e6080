// Leave-one-out contribution: LOO_i = v(N) − v(N \ {i}), what the consortium would lose
// without member i. Cheap (n + 1 evaluations of v) but, unlike Shapley values, it gives
// nothing to members whose data duplicates another's (see Ghorbani & Zou 2019, §2).

import { asReplicateValue, type CoalitionValue } from './game.js';
import { leaveOneOutReplicates, pointValues } from './estimators.js';

export interface LeaveOneOutValues {
  /** v(N) − v(N \ {i}) by player name. */
  values: Record<string, number>;
  grandValue: number;
  /** Calls made to v. */
  evaluations: number;
}

export async function leaveOneOut(players: readonly string[], v: CoalitionValue): Promise<LeaveOneOutValues> {
  const estimate = await leaveOneOutReplicates(players, asReplicateValue(v));
  return { values: pointValues(estimate), grandValue: estimate.grand[0]!, evaluations: estimate.evaluations };
}
