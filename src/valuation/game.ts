// A cooperative game over consortium members: a value function v(S) for every coalition S
// (e.g. the accuracy of a model trained on S's data). Evaluating v can mean training a
// model, so each coalition is evaluated at most once and results are checked to be finite.

import { ConcordError, ErrorCode } from '../protocol/errors.js';

/** Receives the coalition's players in the order of the game's player list. */
export type CoalitionValue = (coalition: string[]) => Promise<number> | number;

export function checkPlayers(players: readonly string[]): void {
  if (!Array.isArray(players) || players.length === 0) {
    throw new ConcordError(ErrorCode.INVALID_ARGUMENT, 'players must be a non-empty list of player names', {
      details: { field: 'players', expected: 'non-empty string[]', received: Array.isArray(players) ? 0 : typeof players },
    });
  }
  const seen = new Set<string>();
  players.forEach((p, i) => {
    if (typeof p !== 'string' || p === '') {
      throw new ConcordError(ErrorCode.INVALID_ARGUMENT, `players[${i}] must be a non-empty name`, {
        details: { field: `players.${i}`, expected: 'non-empty string', received: p },
      });
    }
    if (seen.has(p)) {
      throw new ConcordError(ErrorCode.INVALID_ARGUMENT, `players[${i}] "${p}" appears twice; player names must be unique`, {
        details: { field: `players.${i}`, expected: 'a unique name', received: p },
      });
    }
    seen.add(p);
  });
}

/** Memoizing evaluator of v over coalitions given as lists of player indices. */
export class CoalitionEvaluator {
  private readonly cache = new Map<string, number>();
  /** Calls made to v so far. */
  evaluations = 0;

  constructor(
    private readonly players: readonly string[],
    private readonly v: CoalitionValue,
    /** Beyond this many cached coalitions, new ones are evaluated but not kept. */
    private readonly maxCached = Number.POSITIVE_INFINITY,
  ) {}

  /** `members` must be ascending player indices. */
  async value(members: readonly number[]): Promise<number> {
    const key = members.join(',');
    const hit = this.cache.get(key);
    if (hit !== undefined) return hit;
    const coalition = members.map((i) => this.players[i]!);
    this.evaluations++;
    const value = await this.v(coalition);
    if (typeof value !== 'number' || !Number.isFinite(value)) {
      throw new ConcordError(ErrorCode.NON_FINITE, `v(${JSON.stringify(coalition)}) returned ${String(value)}; the value function must return finite numbers`, {
        details: { field: 'v', expected: 'finite number', received: String(value), coalition },
      });
    }
    if (this.cache.size < this.maxCached) this.cache.set(key, value);
    return value;
  }
}

export function byPlayer(players: readonly string[], values: ArrayLike<number>): Record<string, number> {
  return Object.fromEntries(players.map((p, i) => [p, values[i]!]));
}
