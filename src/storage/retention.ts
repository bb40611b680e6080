// Which checkpoints and kept updates a store may drop once a round is stored. A full
// checkpoint per round (and, for contribution valuation, every member's update per round)
// makes a long run's database grow without bound; an operator chooses what to keep:
//
//   keepLast   N  checkpoints of the newest N rounds (≥ 1: resuming needs the last one)
//   keepEvery  K  and of every K-th round (K = 0: none beyond the newest N)
//   updates    M  members' updates of the newest M rounds, and the checkpoints a
//                 valuation of those rounds starts from (round r needs checkpoint r − 1)
//
// Nothing given means keep everything, as before. Both backends apply the policy inside
// the transaction of saveRound, so a crash never leaves a run without its last checkpoint.

import { ConcordError, ErrorCode } from '../protocol/errors.js';

export interface RetentionPolicy {
  /** Checkpoints of the newest N rounds are kept. Default: all. */
  keepLast?: number;
  /** Checkpoints of every K-th round (round % K = 0) are kept too. Default 0: none beyond keepLast. */
  keepEvery?: number;
  /** Members' updates of the newest M rounds are kept (and the checkpoints before them). Default: all. */
  updates?: number;
}

/** What to delete from a run whose newest stored round is `last`; null means nothing of that kind. */
export interface RetentionCut {
  /** Checkpoints of rounds below this go, unless round % keepEvery = 0 (keepEvery > 0). */
  checkpointsBelow: number | null;
  keepEvery: number;
  /** Updates of rounds below this go. */
  updatesBelow: number | null;
}

export function retentionCut(policy: RetentionPolicy, last: number): RetentionCut {
  const updatesFrom = policy.updates === undefined ? null : last - policy.updates + 1;
  let checkpointsFrom = policy.keepLast === undefined ? null : last - policy.keepLast + 1;
  // A valuation of round r starts from checkpoint r − 1 (round 0 is the run's initial model).
  if (checkpointsFrom !== null && updatesFrom !== null) checkpointsFrom = Math.min(checkpointsFrom, updatesFrom - 1);
  return {
    checkpointsBelow: checkpointsFrom !== null && checkpointsFrom > 1 ? checkpointsFrom : null,
    keepEvery: policy.keepEvery ?? 0,
    updatesBelow: updatesFrom !== null && updatesFrom > 1 ? updatesFrom : null,
  };
}

/** Refuses a policy that could lose what resuming needs, naming the field. */
export function checkRetention(policy: RetentionPolicy, field = 'retention'): RetentionPolicy {
  const known = new Set(['keepLast', 'keepEvery', 'updates']);
  for (const key of Object.keys(policy)) {
    if (!known.has(key)) throw invalid(`${field}.${key}`, `unknown retention setting ${JSON.stringify(key)}; known: last, every, updates`, key);
  }
  const integer = (name: keyof RetentionPolicy, min: number, why: string) => {
    const v = policy[name];
    if (v !== undefined && (!Number.isSafeInteger(v) || v < min)) throw invalid(`${field}.${name}`, `${name} must be an integer >= ${min} (${why}), received ${v}`, v);
  };
  integer('keepLast', 1, 'a run resumes from its last checkpoint');
  integer('keepEvery', 0, '0 keeps none beyond the newest');
  integer('updates', 1, 'updates of at least the newest round, or leave it unset to keep all');
  return policy;
}

/**
 * `last=N,every=K,updates=M` (any subset, e.g. `last=3,every=10`), or `all` for keep
 * everything, as the coordinator's --retention takes it.
 */
export function parseRetention(text: string, field = '--retention'): RetentionPolicy {
  const trimmed = text.trim();
  if (trimmed === 'all') return {};
  const names: Record<string, keyof RetentionPolicy> = { last: 'keepLast', every: 'keepEvery', updates: 'updates' };
  const policy: RetentionPolicy = {};
  for (const part of trimmed.split(',')) {
    const match = /^\s*([a-z]+)\s*=\s*(\d+)\s*$/.exec(part);
    const key = match ? names[match[1]!] : undefined;
    if (!match || !key) throw invalid(field, `${field} takes last=N,every=K,updates=M (any of them) or "all", received ${JSON.stringify(text)}`, text);
    if (policy[key] !== undefined) throw invalid(field, `${field} names ${match[1]} twice`, text);
    policy[key] = Number(match[2]);
  }
  return checkRetention(policy, field);
}

function invalid(field: string, message: string, received: unknown): ConcordError {
  return new ConcordError(ErrorCode.INVALID_ARGUMENT, message, { details: { field, expected: 'last=N (>= 1), every=K (>= 0), updates=M (>= 1)', received } });
}
