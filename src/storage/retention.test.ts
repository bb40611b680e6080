import assert from 'node:assert/strict';
import { test } from 'node:test';
import { ConcordError, ErrorCode } from '../protocol/errors.js';
import { checkRetention, parseRetention, retentionCut } from './retention.js';

test('parseRetention reads last, every and updates, or all', () => {
  assert.deepEqual(parseRetention('last=3,every=10'), { keepLast: 3, keepEvery: 10 });
  assert.deepEqual(parseRetention(' updates=5 , last=1 '), { updates: 5, keepLast: 1 });
  assert.deepEqual(parseRetention('all'), {});
});

test('parseRetention and checkRetention refuse, naming the field, what could lose the checkpoint a run resumes from', () => {
  const refused = (fn: () => unknown, field: RegExp) =>
    assert.throws(fn, (e: unknown) => e instanceof ConcordError && e.code === ErrorCode.INVALID_ARGUMENT && field.test(String(e.details.field)));
  refused(() => parseRetention('last=0'), /keepLast/);
  refused(() => parseRetention('updates=0'), /updates/);
  refused(() => parseRetention('lats=3'), /--retention/);
  refused(() => parseRetention('last=3,last=4'), /--retention/);
  refused(() => parseRetention('last=-1'), /--retention/);
  refused(() => checkRetention({ keepLast: 1.5 }), /keepLast/);
  refused(() => checkRetention({ keepFirst: 1 } as never), /keepFirst/);
});

test('retentionCut keeps the newest N, every K-th and the checkpoints valuations of kept updates start from', () => {
  assert.deepEqual(retentionCut({}, 10), { checkpointsBelow: null, keepEvery: 0, updatesBelow: null });
  assert.deepEqual(retentionCut({ keepLast: 2, keepEvery: 3 }, 7), { checkpointsBelow: 6, keepEvery: 3, updatesBelow: null });
  // Updates of rounds 4 and 5 stay; valuing round 4 needs checkpoint 3.
  assert.deepEqual(retentionCut({ keepLast: 1, updates: 2 }, 5), { checkpointsBelow: 3, keepEvery: 0, updatesBelow: 4 });
  // Early rounds: nothing to cut yet.
  assert.deepEqual(retentionCut({ keepLast: 3, updates: 3 }, 2), { checkpointsBelow: null, keepEvery: 0, updatesBelow: null });
});
