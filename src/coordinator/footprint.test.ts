import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { MemberRoundMetrics } from '../storage/storage.js';
import { datasetBytes, runFootprint, workTotals } from './footprint.js';

const close = (actual: number, expected: number) => assert.ok(Math.abs(actual - expected) <= 1e-9 * Math.max(1, Math.abs(expected)), `${actual} ≠ ${expected}`);
const row = (round: number, memberId: string, phase: 'train' | 'evaluate', metrics: Record<string, number>, bytes: number, seconds = 1): MemberRoundMetrics & { round: number } => ({
  round,
  memberId,
  phase,
  numExamples: 10,
  loss: null,
  metrics,
  bytesIn: bytes / 2,
  bytesOut: bytes / 2,
  seconds,
});
const members = [
  { memberId: 'm1', name: 'clinic', dataset: { name: 'd', numExamples: 900, numHoldout: 100, inputShape: [24], classes: 2 } },
  { memberId: 'm2', name: 'lab', dataset: { name: 'd', numExamples: 400, numHoldout: 100, inputShape: [2, 2], classes: 2 } },
];

describe('run footprint', () => {
  it('converts reported energy and bytes to kWh and CO₂ per member, round and run, and estimates the centralized alternative', () => {
    const rows = [
      // 36 kJ = 0.01 kWh at 100 g/kWh = 1 g; 1 GB = 0.005 kWh at 475 g/kWh = 2.375 g.
      row(1, 'm1', 'train', { energyJoules: 36_000, energySource: 0, carbonIntensity: 100, trainSeconds: 1200, examplesProcessed: 500 }, 1e9),
      // Evaluation: network only.
      row(1, 'm1', 'evaluate', { accuracy: 0.9 }, 1e9),
      // No energy reported: 30 W × 120 s task time = 3.6 kJ = 0.001 kWh at the world average.
      row(2, 'm2', 'train', { loss: 1 }, 0, 120),
    ];
    const f = runFootprint(rows, members);
    const [clinic, lab] = f.members;
    assert.equal(clinic!.name, 'clinic');
    assert.equal(clinic!.energySource, 'declared');
    close(clinic!.trainKWh, 0.01);
    close(clinic!.networkKWh, 0.01);
    assert.equal(clinic!.networkBytes, 2e9);
    close(clinic!.co2Grams, 1 + 4.75);
    close(clinic!.trainCo2Grams, 1);
    close(clinic!.networkCo2Grams, 4.75);
    // The range: 2 GB at 0.002 and 0.013 kWh/GB, training unchanged.
    close(clinic!.co2GramsLow, 1 + 2 * 0.002 * 475);
    close(clinic!.co2GramsHigh, 1 + 2 * 0.013 * 475);
    assert.equal(clinic!.examplesProcessed, 500);
    assert.equal(clinic!.trainSeconds, 1200);
    assert.equal(lab!.energySource, 'estimated');
    assert.equal(lab!.carbonIntensity, 475);
    close(lab!.trainKWh, 0.001);
    close(lab!.co2Grams, 0.475);
    assert.deepEqual(f.rounds.map((r) => r.round), [1, 2]);
    close(f.rounds[0]!.co2Grams, 5.75);
    close(f.rounds[1]!.trainKWh, 0.001);
    close(f.total.kWh, 0.021);
    close(f.total.co2Grams, 6.225);
    close(f.total.co2GramsLow, 6.225 - 2 * 0.003 * 475);
    close(f.total.co2GramsHigh, 6.225 + 2 * 0.008 * 475);
    close(f.total.networkKWhLow, 0.004);
    close(f.total.networkKWhHigh, 0.026);
    assert.ok(f.total.co2GramsLow < f.total.co2Grams && f.total.co2Grams < f.total.co2GramsHigh);
    // Raw data: (900 + 100) × 25 × 4 + (400 + 100) × 5 × 4 = 110,000 bytes, shipped once.
    assert.equal(f.centralized.dataBytes, 110_000);
    close(f.centralized.shippingKWh, 110_000e-9 * 0.005);
    close(f.centralized.co2Grams, (0.011 + 110_000e-9 * 0.005) * 475);
    close(f.centralized.co2GramsLow, (0.011 + 110_000e-9 * 0.002) * 475);
    close(f.centralized.co2GramsHigh, (0.011 + 110_000e-9 * 0.013) * 475);
    assert.equal(f.network.year, 2022);
    assert.ok(f.assumptions.some((a) => /Aslan/.test(a) && /0\.002–0\.013/.test(a)));
  });

  it("uses the agreement's network intensity and network grid intensity when it sets them", () => {
    const network = { kWhPerGB: 0.01, low: 0.005, high: 0.02, year: 2024, source: 'consortium measurement' };
    const f = runFootprint([row(1, 'm1', 'evaluate', {}, 1e9)], members, { network, networkCarbonIntensity: 100 });
    close(f.total.networkKWh, 0.01);
    close(f.total.co2Grams, 1);
    close(f.total.co2GramsLow, 0.5);
    close(f.total.co2GramsHigh, 2);
    assert.deepEqual(f.network, network);
    assert.ok(f.assumptions[0]!.includes('consortium measurement'));
  });

  it('a RAPL reading is named as such, and mixing sources says so', () => {
    const rapl = runFootprint([row(1, 'm1', 'train', { energyJoules: 10, energySource: 1 }, 0)], members);
    assert.equal(rapl.members[0]!.energySource, 'rapl');
    const mixed = runFootprint([row(1, 'm1', 'train', { energyJoules: 10, energySource: 1 }, 0), row(2, 'm1', 'train', { energyJoules: 10, energySource: 0 }, 0)], members);
    assert.equal(mixed.members[0]!.energySource, 'mixed');
    assert.equal(datasetBytes(members[0]!.dataset), 100_000);
  });

  it('round totals add up work and energy instead of averaging them', () => {
    const train = [row(1, 'a', 'train', { examplesProcessed: 30, energyJoules: 5 }, 0), row(1, 'b', 'train', { examplesProcessed: 70, energyJoules: 7 }, 0), row(1, 'c', 'train', {}, 0)];
    assert.deepEqual(workTotals(train), { examplesProcessed: 100, energyJoules: 12 });
    assert.deepEqual(workTotals([row(1, 'c', 'train', {}, 0)]), {});
  });
});
