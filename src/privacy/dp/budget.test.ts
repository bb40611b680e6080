import assert from 'node:assert/strict';
import { test } from 'node:test';
import { ErrorCode } from '../../protocol/errors.js';
import { DEFAULT_ORDERS, computeEpsilon, computeRdp, epsilonFromRdp } from '../rdp.js';
import { PrivacyBudgetLedger } from './budget.js';

const ROUND = { samplingRate: 0.1, noiseMultiplier: 1.1, steps: 10 };
const OTHER = { samplingRate: 0.5, noiseMultiplier: 3, steps: 4 };

test('a single charge spends what computeEpsilon says; nothing spent reads as 0', () => {
  const ledger = new PrivacyBudgetLedger();
  ledger.setBudget('hospital-a', { epsilon: 5, delta: 1e-5 });
  assert.equal(ledger.spent('hospital-a').epsilon, 0);
  const after = ledger.charge('hospital-a', ROUND);
  const expected = computeEpsilon({ ...ROUND, delta: 1e-5 });
  assert.deepEqual(after, { ...expected, delta: 1e-5 });
  assert.deepEqual(ledger.spent('hospital-a'), after);
  assert.equal(ledger.charges('hospital-a'), 1);
  assert.ok(Math.abs(ledger.remaining('hospital-a') - (5 - expected.epsilon)) < 1e-12);
});

test('heterogeneous charges compose by adding RDP curves, which beats adding ε', () => {
  const ledger = new PrivacyBudgetLedger();
  ledger.setBudget('ds', { epsilon: 100, delta: 1e-6 });
  ledger.charge('ds', ROUND);
  const spent = ledger.charge('ds', OTHER);
  const a = computeRdp({ ...ROUND, orders: DEFAULT_ORDERS });
  const b = computeRdp({ ...OTHER, orders: DEFAULT_ORDERS });
  const expected = epsilonFromRdp({ orders: DEFAULT_ORDERS, rdp: a.map((v, i) => v + b[i]!), delta: 1e-6 });
  assert.equal(spent.epsilon, expected.epsilon);
  assert.equal(spent.order, expected.order);
  const naive = computeEpsilon({ ...ROUND, delta: 1e-6 }).epsilon + computeEpsilon({ ...OTHER, delta: 1e-6 }).epsilon;
  assert.ok(spent.epsilon < naive, `${spent.epsilon} < ${naive}`);
  // Ten charges of one step equal one charge of ten steps.
  const one = new PrivacyBudgetLedger();
  one.setBudget('x', { epsilon: 100, delta: 1e-5 });
  for (let i = 0; i < 10; i++) one.charge('x', { ...ROUND, steps: 1 });
  assert.ok(Math.abs(one.spent('x').epsilon - computeEpsilon({ ...ROUND, delta: 1e-5 }).epsilon) < 1e-12);
});

test('refuses the charge that would exceed the budget: FORBIDDEN, a clear message, nothing recorded', () => {
  const ledger = new PrivacyBudgetLedger();
  const step = { samplingRate: 0.05, noiseMultiplier: 1.5, steps: 20 };
  const budget = 2;
  ledger.setBudget('clinic', { epsilon: budget, delta: 1e-5 });
  let charged = 0;
  while (ledger.canSpend('clinic', step)) {
    ledger.charge('clinic', step);
    charged++;
  }
  assert.ok(charged > 0, 'some charges fit');
  const spent = ledger.spent('clinic').epsilon;
  const next = ledger.preview('clinic', step).epsilon;
  assert.ok(spent <= budget && next > budget, `${spent} <= ${budget} < ${next}`);
  assert.ok(Math.abs(next - computeEpsilon({ ...step, steps: step.steps * (charged + 1), delta: 1e-5 }).epsilon) < 1e-12);
  const fmt = (x: number) => String(Number(x.toPrecision(3)));
  const expectedMessage = `dataset clinic: the next round would spend ε=${fmt(next)} > budget 2 (spent ${fmt(spent)})`;
  for (const act of [() => ledger.assertCanSpend('clinic', step), () => ledger.charge('clinic', step)]) {
    assert.throws(act, (e: unknown) => {
      const err = e as { code: string; message: string; details: Record<string, unknown> };
      assert.equal(err.code, ErrorCode.FORBIDDEN);
      assert.equal(err.message, expectedMessage);
      assert.equal(err.details.datasetId, 'clinic');
      assert.equal(err.details.field, 'privacyBudget.epsilon');
      return true;
    });
  }
  assert.equal(ledger.charges('clinic'), charged);
  assert.equal(ledger.spent('clinic').epsilon, spent);
});

test('no noise spends an infinite ε and is refused; no sampling spends nothing', () => {
  const ledger = new PrivacyBudgetLedger();
  ledger.setBudget('d', { epsilon: 10, delta: 1e-5 });
  assert.equal(ledger.canSpend('d', { samplingRate: 0.1, noiseMultiplier: 0, steps: 1 }), false);
  assert.throws(() => ledger.charge('d', { samplingRate: 0.1, noiseMultiplier: 0, steps: 1 }), /ε=Infinity > budget 10/);
});

test('the state survives JSON, each party can keep its own copy', () => {
  const ledger = new PrivacyBudgetLedger();
  ledger.setBudget('a', { epsilon: 10, delta: 1e-5 });
  ledger.setBudget('b', { epsilon: 8, delta: 1e-6 });
  ledger.charge('a', ROUND);
  ledger.charge('b', OTHER);
  const copy = PrivacyBudgetLedger.fromJSON(JSON.parse(JSON.stringify(ledger)));
  assert.deepEqual(copy.toJSON(), ledger.toJSON());
  assert.deepEqual(copy.spent('a'), ledger.spent('a'));
  assert.deepEqual(copy.preview('b', ROUND), ledger.preview('b', ROUND));
  // Copies are independent.
  copy.charge('a', ROUND);
  assert.equal(ledger.charges('a'), 1);
  assert.equal(copy.charges('a'), 2);
});

test('setBudget changes the budget and keeps the spend', () => {
  const ledger = new PrivacyBudgetLedger();
  ledger.setBudget('a', { epsilon: 10, delta: 1e-5 });
  const spent = ledger.charge('a', ROUND);
  ledger.setBudget('a', { epsilon: spent.epsilon / 2, delta: 1e-5 });
  assert.equal(ledger.remaining('a'), 0);
  assert.equal(ledger.canSpend('a', ROUND), false);
});

test('errors name the field: unknown dataset, bad budgets, bad charges, bad state', () => {
  const ledger = new PrivacyBudgetLedger();
  const is = (code: string, field: string) => (e: unknown) => (e as { code: string }).code === code && (e as { details: { field: string } }).details.field === field;
  assert.throws(() => ledger.spent('nope'), is(ErrorCode.NOT_FOUND, 'datasetId'));
  assert.throws(() => ledger.setBudget('a', { epsilon: 0, delta: 1e-5 }), is(ErrorCode.INVALID_ARGUMENT, 'budget.epsilon'));
  assert.throws(() => ledger.setBudget('a', { epsilon: Infinity, delta: 1e-5 }), is(ErrorCode.INVALID_ARGUMENT, 'budget.epsilon'));
  assert.throws(() => ledger.setBudget('a', { epsilon: 1, delta: 1 }), is(ErrorCode.INVALID_ARGUMENT, 'budget.delta'));
  ledger.setBudget('a', { epsilon: 1, delta: 1e-5 });
  assert.throws(() => ledger.charge('a', { samplingRate: 1.5, noiseMultiplier: 1, steps: 1 }), is(ErrorCode.INVALID_ARGUMENT, 'samplingRate'));
  assert.throws(() => ledger.canSpend('a', { samplingRate: 0.1, noiseMultiplier: 1, steps: 0 }), is(ErrorCode.INVALID_ARGUMENT, 'steps'));
  assert.throws(() => PrivacyBudgetLedger.fromJSON({ version: 2, orders: [2], datasets: {} }), is(ErrorCode.INVALID_ARGUMENT, 'ledger.version'));
  assert.throws(
    () => PrivacyBudgetLedger.fromJSON({ version: 1, orders: [2, 3], datasets: { a: { budget: { epsilon: 1, delta: 1e-5 }, rdp: [0], charges: 0 } } }),
    is(ErrorCode.INVALID_ARGUMENT, 'ledger.datasets.a.rdp'),
  );
  assert.throws(() => new PrivacyBudgetLedger({ orders: [0.5] }), is(ErrorCode.INVALID_ARGUMENT, 'orders.0'));
});
