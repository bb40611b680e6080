import assert from 'node:assert/strict';
import { test } from 'node:test';
import { ErrorCode } from '../protocol/errors.js';
import { ReputationBook } from './reputation.js';
import { assertConcordError } from './strategy-conformance.js';

test('ReputationBook: counts and a decayed score, score ← 0.8·score + 0.2·[accepted], from 1', () => {
  const book = new ReputationBook();
  assert.deepEqual(book.record('m1', 1, true), { memberId: 'm1', accepted: 1, rejected: 0, score: 1, lastRound: 1 });
  // 0.8·1 + 0 = 0.8; 0.8·0.8 = 0.64; 0.8·0.64 + 0.2 = 0.712 (float32).
  assert.equal(book.record('m1', 2, false).score, Math.fround(0.8));
  assert.equal(book.record('m1', 3, false).score, Math.fround(0.8 * Math.fround(0.8)));
  const m = book.record('m1', 4, true);
  assert.equal(m.score, Math.fround(0.8 * Math.fround(0.8 * Math.fround(0.8)) + 0.2));
  assert.ok(Math.abs(m.score - 0.712) < 1e-6);
  assert.equal(m.accepted, 2);
  assert.equal(m.rejected, 2);
  assert.equal(m.lastRound, 4);
});

test('ReputationBook: a round already recorded for a member is not counted again', () => {
  const book = new ReputationBook();
  book.record('m1', 5, false);
  assert.deepEqual(book.record('m1', 5, false), { memberId: 'm1', accepted: 0, rejected: 1, score: Math.fround(0.8), lastRound: 5 });
  assert.equal(book.record('m1', 4, true).accepted, 0);
  assert.equal(book.record('m1', 6, true).accepted, 1);
});

test('ReputationBook: decay 0 keeps only the last outcome; decay outside [0, 1) is INVALID_ARGUMENT', () => {
  const book = new ReputationBook({ decay: 0 });
  assert.equal(book.record('m', 1, false).score, 0);
  assert.equal(book.record('m', 2, true).score, 1);
  assertConcordError(() => new ReputationBook({ decay: 1 }), ErrorCode.INVALID_ARGUMENT, 'decay');
  assertConcordError(() => new ReputationBook({ decay: -0.5 }), ErrorCode.INVALID_ARGUMENT, 'decay');
});

test('ReputationBook: snapshot sorted by member, JSON round trip, copies not views', () => {
  const book = new ReputationBook({ decay: 0.5 });
  book.record('zed', 1, false);
  book.record('amy', 1, true);
  const snap = book.snapshot();
  assert.deepEqual(snap, {
    decay: 0.5,
    members: [
      { memberId: 'amy', accepted: 1, rejected: 0, score: 1, lastRound: 1 },
      { memberId: 'zed', accepted: 0, rejected: 1, score: 0.5, lastRound: 1 },
    ],
  });
  snap.members[0]!.accepted = 99;
  assert.equal(book.get('amy')!.accepted, 1);
  const back = ReputationBook.fromJSON(JSON.parse(JSON.stringify(book)));
  assert.deepEqual(back.snapshot(), book.snapshot());
  assert.equal(back.decay, 0.5);
  assert.equal(book.get('nobody'), undefined);
});

test('ReputationBook.fromJSON: a bad record is INVALID_ARGUMENT naming the field', () => {
  const bad = { decay: 0.8, members: [{ memberId: 'a', accepted: 1, rejected: 0, score: 2, lastRound: 1 }] };
  assertConcordError(() => ReputationBook.fromJSON(bad), ErrorCode.INVALID_ARGUMENT, 'reputation.members.0.score');
  assertConcordError(() => ReputationBook.fromJSON({ decay: 0.8, members: [{ memberId: 'a', accepted: -1, rejected: 0, score: 1, lastRound: 1 }] }), ErrorCode.INVALID_ARGUMENT, 'reputation.members.0.accepted');
  assertConcordError(() => ReputationBook.fromJSON({ members: [] }), ErrorCode.INVALID_ARGUMENT, 'reputation.decay');
});

test('ReputationBook: float32 tensors round trip exactly', () => {
  const book = new ReputationBook({ decay: 0.9 });
  for (let round = 1; round <= 7; round++) {
    book.record('a', round, round % 3 !== 0);
    book.record('b/with/slashes', round, round % 2 === 0);
  }
  const { specs, data } = book.toTensors('rep/');
  assert.deepEqual(specs, [
    { name: 'rep/a', shape: [4] },
    { name: 'rep/b/with/slashes', shape: [4] },
  ]);
  const copy = new ReputationBook({ decay: 0.9 });
  copy.loadTensors(
    specs.map((s, i) => ({ name: s.name, memberId: s.name.slice(4), values: data.subarray(4 * i, 4 * i + 4) })),
    'state',
  );
  assert.deepEqual(copy.snapshot(), book.snapshot());
  assertConcordError(() => copy.loadTensors([{ name: 'rep/x', memberId: 'x', values: Float32Array.from([1, 0, 1]) }], 'state'), ErrorCode.SHAPE_MISMATCH, 'state.rep/x');
  assertConcordError(() => copy.loadTensors([{ name: 'rep/x', memberId: 'x', values: Float32Array.from([1.5, 0, 1, 1]) }], 'state'), ErrorCode.INVALID_ARGUMENT, 'state.rep/x.accepted');
  assert.deepEqual(copy.snapshot(), book.snapshot(), 'a refused load changes nothing');
});
