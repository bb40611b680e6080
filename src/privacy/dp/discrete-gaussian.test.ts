import assert from 'node:assert/strict';
import { test } from 'node:test';
import { seededRandom } from '../../core/random.js';
import { discreteGaussian } from './discrete-gaussian.js';

test('discrete Gaussian draws are integers with mean 0 and variance σ² (20 000 draws)', () => {
  for (const sigma of [0.8, 3.7, 25]) {
    const random = seededRandom(5, Math.round(sigma * 10));
    const n = 20_000;
    let sum = 0;
    let sq = 0;
    for (let i = 0; i < n; i++) {
      const x = discreteGaussian(sigma, random);
      assert.ok(Number.isInteger(x));
      sum += x;
      sq += x * x;
    }
    const mean = sum / n;
    const variance = sq / n - mean * mean;
    // The discrete Gaussian's variance is below σ² by less than 1e-4 relative for σ ≥ 0.8 (Canonne et al., Cor. 9); sampling error of the variance is about 1 % here.
    assert.ok(Math.abs(mean) < (5 * sigma) / Math.sqrt(n), `σ=${sigma}: mean ${mean}`);
    assert.ok(Math.abs(variance / (sigma * sigma) - 1) < 0.05, `σ=${sigma}: variance ${variance} vs ${sigma * sigma}`);
  }
  assert.throws(() => discreteGaussian(0), /positive/);
});
