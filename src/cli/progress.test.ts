import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { createProgress, eta, formatSeconds, renderBar } from './progress.js';

function sink(isTTY: boolean, columns = 120): { text: () => string; stream: { write: (t: string) => boolean; isTTY: boolean; columns: number } } {
  let out = '';
  return { text: () => out, stream: { write: (t: string) => ((out += t), true), isTTY, columns } };
}

describe('progress', () => {
  it('estimates the time left from the pace so far', () => {
    assert.equal(eta({ done: 0, total: 10, started: 0 }, 5000), null);
    assert.equal(eta({ done: 5, total: 20, started: 0 }, 10_000), 30);
    assert.equal(eta({ done: 20, total: 20, started: 0 }, 10_000), 0);
    assert.equal(formatSeconds(4.25), '4.3 s');
    assert.equal(formatSeconds(95), '1 min 35 s');
  });

  it('draws a bar with the count, elapsed time and ETA', () => {
    const line = renderBar({ label: 'rounds', total: 4, unit: 'rounds', done: 1, note: 'accuracy 0.8', started: 0 }, 2000);
    assert.equal(line, 'rounds ▕██████░░░░░░░░░░░░░░░░░░▏ 1/4 rounds · 2.0 s · ETA 6.0 s · accuracy 0.8');
    assert.equal(renderBar({ label: 'report', total: 0, unit: '', done: 0, note: '', started: 0 }, 1500), 'report … 1.5 s');
  });

  it('on a terminal keeps the bars below the log lines, erasing and redrawing them', () => {
    const { text, stream } = sink(true);
    const progress = createProgress(stream);
    const task = progress.task('rounds', 2, 'rounds');
    progress.log('round 1/2');
    task.update(1);
    task.finish('accuracy 0.9');
    const out = text();
    // Every redraw first erases the bar it drew (cursor up, erase line).
    assert.ok(out.includes('\x1b[1A\x1b[2K'), 'erases before redrawing');
    const visible = out.split('\x1b[1A\x1b[2K').join('').replace(/\r/g, '');
    assert.match(visible, /round 1\/2\n/);
    assert.match(visible, /rounds ▕█{12}░{12}▏ 1\/2 rounds/);
    assert.match(out, /rounds: done in [\d.]+ s · accuracy 0\.9\n$/);
  });

  it('without a terminal prints plain lines: the start, each fifth of the way and the end, never escape codes', () => {
    const { text, stream } = sink(false);
    const progress = createProgress(stream);
    const task = progress.task('baseline', 10, 'epochs');
    for (let e = 1; e <= 10; e++) task.update(e, `loss ${e}`);
    task.finish();
    const lines = text().trim().split('\n');
    assert.equal(lines[0], 'baseline: 10 epochs');
    assert.deepEqual(lines.slice(1, -1).map((l) => l.trim().split(' · ')[0]), ['baseline 2/10 epochs', 'baseline 4/10 epochs', 'baseline 6/10 epochs', 'baseline 8/10 epochs', 'baseline 10/10 epochs']);
    assert.match(lines.at(-1)!, /^baseline: done in/);
    assert.ok(!text().includes('\x1b'), 'no escape codes');
  });
});
