import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { energyMeter, energyMetrics, startEnergyMeter } from './energy.js';

let dir = '';
before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'concord-rapl-'));
});
after(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe('training energy', () => {
  it('reads the RAPL counter before and after, in microjoules', async () => {
    const counter = join(dir, 'energy_uj');
    await writeFile(counter, '1000000\n');
    const meter = startEnergyMeter({ raplCounter: counter });
    writeFileSync(counter, '3500000\n');
    const reading = meter.stop();
    assert.equal(reading.source, 'rapl');
    assert.equal(reading.joules, 2.5);
    assert.deepEqual(energyMetrics(reading, { carbonIntensity: 20 }), { energyJoules: 2.5, energySource: 1, powerWatts: 30, carbonIntensity: 20 });
  });

  it('counts across the counter wrapping at max_energy_range_uj', async () => {
    const counter = join(dir, 'energy_uj');
    await writeFile(join(dir, 'max_energy_range_uj'), '10000000');
    await writeFile(counter, '9000000');
    const meter = startEnergyMeter({ raplCounter: counter });
    writeFileSync(counter, '500000');
    assert.equal(meter.stop().joules, 1.5);
  });

  it('falls back to declared power × time when there is no counter', async () => {
    const meter = startEnergyMeter({ raplCounter: join(dir, 'missing'), powerWatts: 50 });
    await new Promise((r) => setTimeout(r, 20));
    const reading = meter.stop();
    assert.equal(reading.source, 'declared');
    assert.equal(reading.joules, 50 * reading.seconds);
    const metrics = energyMetrics(reading, { powerWatts: 50 });
    assert.equal(metrics.energySource, 0);
    assert.equal(metrics.carbonIntensity, 475);
    assert.equal(startEnergyMeter({ raplCounter: null }).stop().source, 'declared');
  });

  it('energyMeter() measures each task afresh and reports it as energyMetrics, for the training handler', async () => {
    const counter = join(dir, 'energy_uj');
    await writeFile(counter, '1000000');
    const meter = energyMeter({ raplCounter: counter, carbonIntensity: 20 });
    const first = meter();
    writeFileSync(counter, '2000000');
    assert.deepEqual(first.stop(), { energyJoules: 1, energySource: 1, powerWatts: 30, carbonIntensity: 20 });
    const second = meter(); // starts from the counter as it is now
    writeFileSync(counter, '2500000');
    assert.equal(second.stop().energyJoules, 0.5);
  });
});
