// A cooperative game over consortium members: a value function v(S) for every coalition S
// (e.g. the accuracy of a model trained on S's data). Evaluating v can mean training a
// model, so each coalition is evaluated at most once and results are checked to be finite.
// Internally a value is a vector of replicates (valuation/scores.ts: the value on the full
// validation set and on bootstrap resamples of it); a plain number is one replicate.

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

/** A game whose value is given as replicates (valuation/scores.ts): index 0 on the full validation set. */
export type ReplicateValue = (coalition: string[]) => Promise<Float64Array> | Float64Array;

/** The scalar game as a replicate game of one replicate. */
export function asReplicateValue(v: CoalitionValue): ReplicateValue {
  return async (coalition) => {
    const value = await v(coalition);
    if (typeof value !== 'number' || !Number.isFinite(value)) throw nonFinite(coalition, value);
    return Float64Array.of(value);
  };
}

function nonFinite(coalition: string[], value: unknown): ConcordError {
  return new ConcordError(ErrorCode.NON_FINITE, `v(${JSON.stringify(coalition)}) returned ${String(value)}; the value function must return finite numbers`, {
    details: { field: 'v', expected: 'finite number', received: String(value), coalition },
  });
}

/** Memoizing evaluator of v over coalitions given as lists of player indices. */
export class CoalitionEvaluator {
  private readonly cache = new Map<string, Float64Array>();
  /** Calls made to v so far. */
  evaluations = 0;
  /** Replicates per value, fixed by the first one. */
  width = 0;

  constructor(
    private readonly players: readonly string[],
    private readonly v: ReplicateValue,
    /** Beyond this many cached coalitions, new ones are evaluated but not kept. */
    private readonly maxCached = Number.POSITIVE_INFINITY,
  ) {}

  /** `members` must be ascending player indices. */
  async value(members: readonly number[]): Promise<Float64Array> {
    const key = members.join(',');
    const hit = this.cache.get(key);
    if (hit !== undefined) return hit;
    const coalition = members.map((i) => this.players[i]!);
    this.evaluations++;
    const value = await this.v(coalition);
    if (!(value instanceof Float64Array) || value.length === 0) throw nonFinite(coalition, value);
    for (const x of value) if (!Number.isFinite(x)) throw nonFinite(coalition, x);
    if (this.width === 0) this.width = value.length;
    else if (value.length !== this.width) {
      throw new ConcordError(ErrorCode.INVALID_ARGUMENT, `v(${JSON.stringify(coalition)}) returned ${value.length} replicates, earlier coalitions ${this.width}`, {
        details: { field: 'v', expected: this.width, received: value.length },
      });
    }
    if (this.cache.size < this.maxCached) this.cache.set(key, value);
    return value;
  }
}

export function byPlayer(players: readonly string[], values: ArrayLike<number>): Record<string, number> {
  return Object.fromEntries(players.map((p, i) => [p, values[i]!]));
}
