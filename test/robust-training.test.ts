// Byzantine-robust aggregation with real training: 7 TF.js members on IID MNIST shares, 2 of
// them malicious, train an MLP [32] for 5 rounds through a real coordinator. Under attack
// plain FedAvg collapses, while Multi-Krum and FedMedian stay within 3 points of the
// honest-only run (the 5 honest members alone), as does FedAvg behind update validation
// once its norm limit is below the attack's stretch. Every run is seeded, so the numbers
// repeat; bench/robust-scenario.ts prints the whole attack × defence matrix.

import assert from 'node:assert/strict';
import { before, describe, it } from 'node:test';
import { labelFlip, scaled, signFlip, stretchUpdate } from './support/attacks.js';
import { type Defence, FEDAVG, type RobustScenarioOptions, type RobustScenarioResult, runRobustScenario } from './support/robust-scenario.js';
import type { MemberData } from '../src/data/dataset.js';
import type { TaskHandler } from '../src/node/member.js';
import type { TaskHeader } from '../src/protocol/messages.js';
import { makeParameters } from '../src/protocol/tensors.js';

const SCENARIO: RobustScenarioOptions = { rounds: 5, hidden: [32], attackScale: 5, seed: 1, train: { epochs: 1, batchSize: 32, learningRate: 0.1 }, timeoutMs: 180_000 };
const MULTIKRUM: Defence = { label: 'multikrum', strategy: { name: 'multikrum' } };
const FEDMEDIAN: Defence = { label: 'fedmedian', strategy: { name: 'fedmedian' } };
/** The attack stretches updates 5×; a 3× limit on the delta norm (vs the round median) catches it. */
const VALIDATED: Defence = { label: 'fedavg+validation', strategy: { name: 'fedavg' }, updateValidation: { maxNormRatio: 3 } };

/** The bar: within 3 percentage points of the honest-only run. */
const WITHIN_POINTS = 0.03;

describe('attack wrappers', () => {
  const specs = [{ name: 'w', shape: [3] }];
  const global = makeParameters(specs, Float32Array.from([1, 2, 3]));
  const local = makeParameters(specs, Float32Array.from([2, 2, 1])); // Δ = [1, 0, −2]
  const honest: TaskHandler = {
    train: async () => ({ parameters: local, numExamples: 40, metrics: { loss: 0.5 } }),
    evaluate: async () => ({ numExamples: 10, metrics: { loss: 0.7 } }),
  };
  const task = {} as TaskHeader;

  it('signFlip sends θ − s·Δ and keeps the example count and metrics', async () => {
    const out = await signFlip(honest, 5).train(task, global);
    assert.deepEqual(Array.from(out.parameters.data), [1 - 5, 2, 3 + 10]);
    assert.deepEqual(out.parameters.specs, specs);
    assert.equal(out.numExamples, 40);
    assert.deepEqual(out.metrics, { loss: 0.5 });
  });

  it('scaled sends θ + f·Δ and leaves evaluation alone', async () => {
    const attacker = scaled(honest, 10);
    assert.deepEqual(Array.from((await attacker.train(task, global)).parameters.data), [11, 2, -17]);
    assert.deepEqual(await attacker.evaluate(task, global), { numExamples: 10, metrics: { loss: 0.7 } });
    assert.deepEqual(Array.from(stretchUpdate(global, local, 1).data), [2, 2, 1]);
  });

  it('labelFlip maps y → 9 − y on the training split only', () => {
    const dataset = (y: number[]) => ({ x: new Float32Array(y.length), y: Int32Array.from(y), inputShape: [1], classes: 10 });
    const data: MemberData = { train: dataset([0, 3, 9, 4]), holdout: dataset([0, 9]), descriptor: { name: 'd', numExamples: 4, numHoldout: 2, inputShape: [1], classes: 10 } };
    const poisoned = labelFlip(data);
    assert.deepEqual(Array.from(poisoned.train.y), [9, 6, 0, 5]);
    assert.deepEqual(Array.from(poisoned.holdout.y), [0, 9]);
    assert.deepEqual(Array.from(data.train.y), [0, 3, 9, 4], 'the honest data is not modified');
  });
});

describe('robust aggregation with real training (7 members, 2 malicious)', { timeout: 300_000 }, () => {
  let honestOnly: RobustScenarioResult;
  const drop = (r: RobustScenarioResult): number => honestOnly.accuracy - r.accuracy;
  const show = (r: RobustScenarioResult): string => `${r.attack}/${r.defence}: ${r.accuracyByRound.map((a) => a.toFixed(3)).join(' → ')} (honest-only ${honestOnly.accuracy.toFixed(3)})`;

  before(async () => {
    honestOnly = await runRobustScenario({ ...SCENARIO, attack: 'none', defence: FEDAVG });
  });

  it('the honest-only run learns', () => {
    assert.equal(honestOnly.accuracyByRound.length, 5);
    assert.ok(honestOnly.accuracy >= 0.85, show(honestOnly));
    assert.equal(honestOnly.participants, 5 * 5);
  });

  for (const attack of ['sign-flip', 'label-flip+scaled'] as const) {
    describe(`${attack} ×5`, () => {
      it('collapses plain FedAvg', async () => {
        const fedavg = await runRobustScenario({ ...SCENARIO, attack, defence: FEDAVG });
        assert.equal(fedavg.participants, 7 * 5);
        assert.ok(drop(fedavg) > 0.2 && fedavg.accuracy < 0.5, show(fedavg));
      });

      for (const defence of [MULTIKRUM, FEDMEDIAN]) {
        it(`${defence.label} stays within 3 points of the honest-only run`, async () => {
          const robust = await runRobustScenario({ ...SCENARIO, attack, defence });
          assert.ok(drop(robust) <= WITHIN_POINTS, show(robust));
        });
      }

      it('update validation with a 3× norm limit refuses both attackers every round', async () => {
        const validated = await runRobustScenario({ ...SCENARIO, attack, defence: VALIDATED });
        assert.equal(validated.rejected, 2 * 5);
        assert.equal(validated.participants, 5 * 5);
        assert.ok(drop(validated) <= WITHIN_POINTS, show(validated));
      });
    });
  }
});
