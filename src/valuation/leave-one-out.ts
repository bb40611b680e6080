// Leave-one-out contribution: LOO_i = v(N) − v(N \ {i}), what the consortium would lose
// without member i. Cheap (n + 1 evaluations of v) but, unlike Shapley values, it gives
// nothing to members whose data duplicates another's (see Ghorbani & Zou 2019, §2).

import { byPlayer, checkPlayers, CoalitionEvaluator, type CoalitionValue } from './game.js';

export interface LeaveOneOutValues {
  /** v(N) − v(N \ {i}) by player name. */
  values: Record<string, number>;
  grandValue: number;
  /** Calls made to v. */
  evaluations: number;
}

export async function leaveOneOut(players: readonly string[], v: CoalitionValue): Promise<LeaveOneOutValues> {
  checkPlayers(players);
  const evaluator = new CoalitionEvaluator(players, v);
  const all = players.map((_, i) => i);
  const grandValue = await evaluator.value(all);
  const values: number[] = [];
  for (const i of all) values.push(grandValue - (await evaluator.value(all.filter((j) => j !== i))));
  return { values: byPlayer(players, values), grandValue, evaluations: evaluator.evaluations };
}
