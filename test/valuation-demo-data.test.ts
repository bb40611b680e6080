// The measurable claim of the valuation work, on the demo's data (test/support/valuation-
// consortium.ts: the demo's Dirichlet-skewed MNIST members, one with random labels, a few
// rounds of FedAvg in process): under every method the member with random labels scores
// lowest, and under the default method (final-model Shapley) the most label-skewed genuine
// member gets a positive value, its whole 95 % interval above 0. Seeded throughout.

import assert from 'node:assert/strict';
import { before, describe, it } from 'node:test';
import { initBackend } from '../src/model/backend.js';
import { compareMethods, COMPARED_METHODS, type ComparedMethod } from '../src/valuation/compare.js';
import type { ValuationSummary } from '../src/valuation/federated.js';
import { DEFAULT_VALUATION_METHOD } from '../src/valuation/methods.js';
import { valuationConsortium, type ValuationConsortium } from './support/valuation-consortium.js';

describe("contributions on the demo's data, by every method", () => {
  let consortium: ValuationConsortium;
  let results: Partial<Record<ComparedMethod, ValuationSummary>>;

  before(async () => {
    await initBackend('wasm');
    consortium = await valuationConsortium();
    results = await compareMethods(consortium.simulation, consortium.validation, { seed: 3 });
  });

  it('every method gives every member a value with a 95 % interval from the bootstrap over the 1,000 validation digits', () => {
    const names = consortium.simulation.members.map((m) => m.name);
    for (const method of COMPARED_METHODS) {
      const r = results[method]!;
      assert.equal(r.bootstrap.resamples, 200, method);
      assert.equal(r.bootstrap.validationExamples, 1000, method);
      for (const n of names) {
        const u = r.uncertainty[n]!;
        assert.ok(u.standardError > 0 && u.low < r.values[n]! && r.values[n]! < u.high, `${method} ${n}: ${JSON.stringify(u)}`);
      }
    }
  });

  it('the member whose labels are random scores lowest under every method', () => {
    for (const method of COMPARED_METHODS) {
      const values = results[method]!.values;
      const lowest = Object.entries(values).sort((a, b) => a[1] - b[1])[0]![0];
      assert.equal(lowest, consortium.randomLabels, `${method}: ${JSON.stringify(values)}`);
    }
  });

  it('the label-skewed genuine member gets a positive value under the default method, its interval above 0', () => {
    assert.equal(DEFAULT_VALUATION_METHOD, 'final-model');
    const r = results['final-model']!;
    const skewed = consortium.skewed;
    assert.ok(r.values[skewed]! > 0 && r.uncertainty[skewed]!.low > 0, `${skewed}: ${r.values[skewed]} ${JSON.stringify(r.uncertainty[skewed])}`);
    // Whichever measure of skew one takes: every genuine member is clearly positive.
    for (const m of consortium.simulation.members.map((x) => x.name).filter((n) => n !== consortium.randomLabels)) {
      assert.ok(r.uncertainty[m]!.low > 0, `${m}: ${r.values[m]} ${JSON.stringify(r.uncertainty[m])}`);
    }
    // Efficiency: the values add up to the rebuilt final model's gain over the initial one.
    const sum = Object.values(r.values).reduce((s, v) => s + v, 0);
    assert.ok(sum > 0.5, `the federation gained ${sum}`);
  });
});
