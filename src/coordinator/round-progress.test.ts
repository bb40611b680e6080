// The live view of a round's tasks: a batch per run and stage, members moving from queued
// to working to reported or failed, and nothing moving back once settled.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { RoundProgressBook } from './round-progress.js';
import { TaskBoard } from './task-board.js';

const members = [
  { memberId: 'm2', name: 'south' },
  { memberId: 'm1', name: 'north' },
];

describe('round progress', () => {
  it('follows each member of the current batch, sorted by name', () => {
    const book = new RoundProgressBook();
    book.begin('run1', 3, 'train', members, 1000);
    book.mark('run1', 3, 'm1', 'working');
    book.mark('run1', 3, 'm2', 'failed', 'went silent');
    book.mark('run1', 3, 'm2', 'reported'); // settled stays settled
    book.mark('run1', 2, 'm1', 'reported'); // an older round's news changes nothing
    const progress = book.get('run1')!;
    assert.equal(progress.round, 3);
    assert.equal(progress.stage, 'train');
    assert.deepEqual(progress.members, [
      { memberId: 'm1', name: 'north', state: 'working' },
      { memberId: 'm2', name: 'south', state: 'failed', reason: 'went silent' },
    ]);
    book.begin('run1', 3, 'evaluate', members, 2000);
    assert.deepEqual(book.get('run1')!.members.map((m) => m.state), ['queued', 'queued'], 'a new stage starts over');
    assert.equal(book.get('other'), null);
  });

  it('is kept by the task board as tasks are delivered and answered', async () => {
    const board = new TaskBoard();
    const ref = { memberId: 'm1', name: 'north', numExamples: 10 };
    board.seen(ref);
    const sent = board.sendAndReceive(
      [{ memberId: 'm1', kind: 'evaluate', runId: 'run1', round: 1, model: { family: 'mlp', inputShape: [2], hidden: [], classes: 2 } as never, config: {} as never }],
      { deadline: Date.now() + 60_000, signal: new AbortController().signal },
    );
    assert.equal(board.progress('run1')!.members[0]!.state, 'queued');
    const task = await board.poll(ref, 0, new AbortController().signal);
    assert.ok(task);
    assert.equal(board.progress('run1')!.members[0]!.state, 'working');
    board.decline('m1', task.taskId, 'not today');
    await sent;
    assert.deepEqual(board.progress('run1')!.members[0], { memberId: 'm1', name: 'north', state: 'failed', reason: 'declined by the member: not today' });
  });
});
