// Numbers in query strings. A query parameter arrives as text, and Number() turns junk
// into NaN (and "" into 0), which a route would then use; each parameter is checked
// instead, and a bad one is refused naming it and what it must be.

import { ConcordError, ErrorCode } from '../protocol/errors.js';

export type Query = Record<string, string | undefined>;

/** The number in `query[key]`, undefined when absent or empty; INVALID_ARGUMENT unless `check` accepts it. */
export function numberParam(query: Query, key: string, check: (n: number) => boolean, expected: string): number | undefined {
  const raw = query[key];
  if (raw === undefined || raw === '') return undefined;
  const n = Number(raw);
  if (!check(n)) throw new ConcordError(ErrorCode.INVALID_ARGUMENT, `${key} must be ${expected}, got ${JSON.stringify(raw)}`, { details: { field: key, expected, received: raw } });
  return n;
}

/** A non-negative integer parameter (a round, a wait in milliseconds). */
export function countParam(query: Query, key: string): number | undefined {
  return numberParam(query, key, (n) => Number.isSafeInteger(n) && n >= 0, 'a non-negative integer');
}
