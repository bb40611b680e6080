import { test } from 'node:test';
import assert from 'node:assert/strict';
import { activity, isBinding, toCplexLp, type LinearProgram } from './lp.js';
import { solveLp } from './highs.js';

const program: LinearProgram = {
  sense: 'maximize',
  objective: [
    { column: 0, coefficient: 0.8 },
    { column: 1, coefficient: 0.6 },
  ],
  columns: [
    { id: 'x0', integer: false },
    { id: 'x1', integer: true },
  ],
  constraints: [
    { id: 'capacity_0', label: 'capacity of A', group: 'capacity', terms: [{ column: 0, coefficient: 1 }], sense: '<=', rhs: 100 },
    { id: 'mix', label: 'mix', group: 'fairness', terms: [{ column: 0, coefficient: 0.5 }, { column: 1, coefficient: -0.5 }, { column: 0, coefficient: 0 }], sense: '>=', rhs: -1e-7 },
  ],
};

test('CPLEX LP text: signs, zero terms dropped, exponents, bounds and generals', () => {
  assert.equal(
    toCplexLp(program),
    ['Maximize', ' obj: 0.8 x0 + 0.6 x1', 'Subject To', ' capacity_0: 1 x0 <= 100', ' mix: 0.5 x0 - 0.5 x1 >= -1e-7', 'Bounds', ' x0 >= 0', ' x1 >= 0', 'Generals', ' x1', 'End', ''].join('\n'),
  );
});

test('an all-zero objective is written as a zero term', () => {
  assert.match(toCplexLp({ ...program, objective: [{ column: 1, coefficient: 0 }] }), /obj: 0 x1\n/);
});

test('HiGHS reads the text back and solves it', async () => {
  const solution = await solveLp(program);
  assert.equal(solution.status, 'optimal');
  // x1 ≤ x0 + 2e-7 and integer, so x1 = 100 with x0 = 100.
  assert.deepEqual(solution.values, [100, 100]);
  assert.ok(Math.abs(solution.objective - 140) < 1e-9);
});

test('binding rows sit at their right-hand side', () => {
  const cap = program.constraints[0]!;
  assert.equal(activity(cap, [100, 3]), 100);
  assert.equal(isBinding(cap, [100, 3]), true);
  assert.equal(isBinding(cap, [99.9, 3]), false);
});
