import assert from 'node:assert/strict';
import { test } from 'node:test';
import { DEFAULT_MIN_COUNT, analyticsRules, assertQueryAllowed } from './policy.js';
import { parseQuery } from './query.js';

test('the agreement’s analytics clauses: forbidden types, required DP, a minimum count a query may only raise, required secure aggregation', () => {
  const none = analyticsRules(null);
  assert.equal(none.minCount, DEFAULT_MIN_COUNT);
  assert.deepEqual(assertQueryAllowed(parseQuery({ type: 'count', minCount: 25 }), none), { minCount: 25 });
  const rules = { forbiddenQueries: ['contingency'], requireDifferentialPrivacy: true, minCount: 20, secureAggregationRequired: true, minContributors: 3 };
  assert.throws(
    () => assertQueryAllowed(parseQuery({ type: 'contingency', fields: ['sex', 'smoker'], minCount: 5, secureAggregation: false }), rules),
    (e: Error & { details?: { violations?: unknown[] } }) =>
      /analytics\.forbiddenQueries: the agreement forbids contingency queries/.test(e.message) &&
      /analytics\.requireDifferentialPrivacy/.test(e.message) &&
      /minCount 5 is below the agreement's 20/.test(e.message) &&
      /requires secure aggregation/.test(e.message) &&
      e.details?.violations?.length === 4,
  );
  assert.deepEqual(assertQueryAllowed(parseQuery({ type: 'count', privacy: { epsilon: 1, delta: 1e-6 } }), rules), { minCount: 20 });
});
