import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ConcordError, ErrorCode } from '../protocol/errors.js';
import { solvePlan, type PlanResult } from './plan.js';
import type { ResourceMemberInput } from './resources.js';

const close = (actual: number | null, expected: number, what = 'value') => {
  assert.ok(actual !== null && Math.abs(actual - expected) <= 1e-6 * Math.max(1, Math.abs(expected)), `${what}: expected ${expected}, got ${actual}`);
};
const units = (result: PlanResult) => result.allocation.map((a) => a.units);

// A: 300 W at 100 units/h on a 500 g/kWh grid = 1.5 g per unit; B: 200 W at 200 units/h on
// a 100 g/kWh grid = 0.1 g per unit. Per unit of effective compute, B is cheaper (0.5/0.6
// vs 1/0.8) and cleaner (0.1/0.6 vs 1.5/0.8), so B is used up before A.
const pair: ResourceMemberInput[] = [
  { name: 'A', capacity: 100, efficiency: 0.8, costPerUnit: 1, powerWatts: 300, carbonIntensity: 500 },
  { name: 'B', capacity: 200, efficiency: 0.6, costPerUnit: 0.5, powerWatts: 200, carbonIntensity: 100 },
];

test('seed example: max 0.8 R_A + 0.6 R_B with R_A ≤ 100, R_B ≤ 200 gives R = (100, 200), C = 200', async () => {
  const result = await solvePlan(
    {
      members: [
        { name: 'A', capacity: 100, efficiency: 0.8 },
        { name: 'B', capacity: 200, efficiency: 0.6 },
      ],
    },
    { objective: 'max-compute' },
  );
  assert.equal(result.status, 'optimal');
  close(result.objective, 200, 'C');
  assert.deepEqual(units(result), [100, 200]);
  assert.deepEqual(
    result.allocation.map((a) => a.effectiveCompute),
    [80, 120],
  );
  assert.deepEqual(result.binding, ['capacity of A', 'capacity of B']);
  assert.equal(result.totals?.effectiveCompute, 200);
  assert.equal(result.explanation, undefined);
  assert.ok(result.solverTimeMs >= 0);
});

test('availability scales capacity', async () => {
  const result = await solvePlan(
    { members: [{ name: 'A', capacity: 100, efficiency: 0.8, availability: 0.5 }, { name: 'B', capacity: 200, efficiency: 0.6 }] },
    { objective: 'max-compute' },
  );
  assert.deepEqual(units(result), [50, 200]);
  close(result.objective, 160);
});

test('min-cost fills the cheapest effective compute first: B whole, then 37.5 units of A', async () => {
  const result = await solvePlan({ members: pair }, { objective: 'min-cost', demand: 150 });
  assert.equal(result.status, 'optimal');
  close(result.objective, 137.5, 'cost');
  close(result.allocation[0]!.units, 37.5, 'R_A');
  close(result.allocation[1]!.units, 200, 'R_B');
  close(result.totals!.cost, 137.5, 'total cost');
  assert.deepEqual(result.binding, ['capacity of B', 'demand']);
});

test('min-carbon: 200 units of B (20 g) and 37.5 of A (56.25 g)', async () => {
  const result = await solvePlan({ members: pair }, { objective: 'min-carbon', demand: 150 });
  close(result.objective, 76.25, 'grams');
  close(result.allocation[0]!.carbonGrams, 56.25, 'A grams');
  close(result.allocation[1]!.carbonGrams, 20, 'B grams');
  assert.deepEqual(result.binding, ['capacity of B', 'demand']);
});

test('min-time: every member works the whole makespan, T = D / Σ f_i speed_i = 100 / 200', async () => {
  const result = await solvePlan({ members: pair }, { objective: 'min-time', demand: 100 });
  close(result.objective, 0.5, 'hours');
  close(result.allocation[0]!.units, 50, 'R_A');
  close(result.allocation[1]!.units, 100, 'R_B');
  assert.deepEqual(result.binding, ['demand', 'speed of A', 'speed of B']);
});

test('min-time uses unitsPerHour and availability as the speed', async () => {
  // A: 50 units/h at half availability = 25 units/h → 20 effective/h; B: 100 units/h → 60 effective/h.
  const members = [
    { ...pair[0]!, unitsPerHour: 50, availability: 0.5, capacity: 1000 },
    { ...pair[1]!, unitsPerHour: 100, capacity: 1000 },
  ];
  const result = await solvePlan({ members }, { objective: 'min-time', demand: 160 });
  close(result.objective, 2, 'hours');
  close(result.allocation[0]!.units, 50, 'R_A');
  close(result.allocation[1]!.units, 200, 'R_B');
});

test('a binding budget: 80 buys 160 units of B at 0.5, C = 96', async () => {
  const result = await solvePlan({ members: pair }, { objective: 'max-compute', budget: 80 });
  close(result.objective, 96);
  close(result.allocation[0]!.units, 0, 'R_A');
  close(result.allocation[1]!.units, 160, 'R_B');
  assert.deepEqual(result.binding, ['budget']);
});

test('a binding fair share: A must do 40% of the work, R_A = 300/3.4, R_B = 450/3.4', async () => {
  const result = await solvePlan({ members: pair }, { objective: 'min-cost', demand: 150, minShare: 0.4 });
  close(result.allocation[0]!.units, 300 / 3.4, 'R_A');
  close(result.allocation[1]!.units, 450 / 3.4, 'R_B');
  close(result.objective, 525 / 3.4, 'cost');
  assert.deepEqual(result.binding, ['demand', 'fair share of A']);
});

test('whole units: 38 of A rather than 37.5, cost 138', async () => {
  const result = await solvePlan({ members: pair }, { objective: 'min-cost', demand: 150, integer: true });
  assert.deepEqual(units(result), [38, 200]);
  close(result.objective, 138);
  assert.deepEqual(result.binding, ['capacity of B']);
});

test('whole batches: units are multiples of batchSize', async () => {
  const result = await solvePlan({ members: pair }, { objective: 'min-cost', demand: 150, integer: true, batchSize: 50 });
  // B: 4 batches (200 units, 120 effective); A: 1 batch (50 units, 40 effective) covers the other 30.
  assert.deepEqual(units(result), [50, 200]);
  close(result.objective, 150);
});

test('infeasible demand is explained against the total effective capacity', async () => {
  const result = await solvePlan({ members: pair }, { objective: 'min-cost', demand: 500 });
  assert.equal(result.status, 'infeasible');
  assert.equal(result.objective, null);
  assert.deepEqual(result.allocation, []);
  assert.deepEqual(result.conflict, ['capacity', 'demand']);
  assert.equal(result.explanation, 'demand 500 exceeds the total effective capacity 200 of all members; raise capacities or lower demand');
});

test('infeasible budget is explained by what the budget buys', async () => {
  const result = await solvePlan({ members: pair }, { objective: 'min-cost', demand: 150, budget: 50 });
  assert.equal(result.status, 'infeasible');
  assert.deepEqual(result.conflict, ['budget', 'demand']);
  assert.equal(result.explanation, 'demand 150 exceeds the effective compute 60 that the budget 50 can buy; raise the budget or lower demand');
});

test('fair shares and capacities conflict only together', async () => {
  // With A ≥ 45% of the work, A's 100 units cap the total at 222.2, of which B does 122.2:
  // 80 + 73.33 = 153.33 effective, short of 170 (which the capacities alone could meet).
  const result = await solvePlan({ members: pair }, { objective: 'min-cost', demand: 170, minShare: 0.45 });
  assert.equal(result.status, 'infeasible');
  assert.deepEqual(result.conflict, ['fairness', 'capacity', 'demand']);
  assert.match(result.explanation!, /^demand 170 exceeds the effective compute 153\.333 that a fair share of at least 0\.45 .* and the members' capacities allow together; lower minShare or raise capacities or lower demand$/);
});

test('whole batches can be what makes a plan infeasible', async () => {
  // Fractionally 116.7 units of B meet demand 70 for 58.3; in batches of 100 the budget 60
  // buys one batch of B (60 effective) and nothing of A.
  const result = await solvePlan({ members: pair }, { objective: 'min-cost', demand: 70, budget: 60, integer: true, batchSize: 100 });
  assert.equal(result.status, 'infeasible');
  assert.deepEqual(result.conflict, ['integrality', 'budget', 'demand']);
  assert.equal(
    result.explanation,
    'demand 70 exceeds the effective compute 60 that whole batches of 100 units and the budget 60 allow together; allow fractional units or raise the budget or lower demand',
  );
});

test('unbounded: a member without capacity and no budget', async () => {
  const result = await solvePlan({ members: [...pair, { name: 'C', capacity: null, efficiency: 0.5 }] }, { objective: 'max-compute' });
  assert.equal(result.status, 'unbounded');
  assert.equal(result.objective, null);
  assert.deepEqual(result.unlimited, ['C']);
  assert.equal(result.explanation, 'effective compute has no upper limit: member "C" declares no capacity and no budget is set; declare a capacity or set a budget');
});

test('unbounded: only the uncapped member that costs nothing escapes the budget', async () => {
  const members = [...pair, { name: 'C', capacity: null, efficiency: 0.5, costPerUnit: 2 }, { name: 'D', capacity: null, efficiency: 0.5 }];
  const result = await solvePlan({ members }, { objective: 'max-compute', budget: 100 });
  assert.equal(result.status, 'unbounded');
  assert.deepEqual(result.unlimited, ['D']);
  assert.match(result.explanation!, /member "D" declares no capacity and it costs nothing per unit/);
});

test('a budget bounds uncapped members that have a price', async () => {
  const result = await solvePlan({ members: [{ name: 'C', capacity: null, efficiency: 0.5, costPerUnit: 2 }] }, { objective: 'max-compute', budget: 100 });
  assert.equal(result.status, 'optimal');
  close(result.objective, 25);
});

test('bad options are INVALID_ARGUMENT errors naming the field', async () => {
  const expectError = async (options: unknown, field: string) => {
    await assert.rejects(
      solvePlan({ members: pair }, options as never),
      (e: unknown) => e instanceof ConcordError && e.code === ErrorCode.INVALID_ARGUMENT && e.details.field === field,
    );
  };
  await expectError({ objective: 'min-cost' }, 'demand');
  await expectError({ objective: 'fastest' }, 'objective');
  await expectError({ objective: 'max-compute', minShare: 0.6 }, 'minShare');
  await expectError({ objective: 'max-compute', budget: -1 }, 'budget');
  await expectError({ objective: 'max-compute', batchSize: 10 }, 'batchSize');
  await expectError({ objective: 'max-compute', typo: 1 }, 'typo');
  await assert.rejects(
    solvePlan({ members: [{ name: 'C', capacity: null, efficiency: 0.5 }] }, { objective: 'min-time', demand: 1 }),
    (e: unknown) => e instanceof ConcordError && e.details.field === 'members[0].unitsPerHour',
  );
  await assert.rejects(
    solvePlan({ members: [{ name: 'A', capacity: 10, efficiency: 1.5 }] }, { objective: 'max-compute' }),
    (e: unknown) => e instanceof ConcordError && e.details.field === 'members[0].efficiency',
  );
});
