import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { energyMeter, energyMetrics, processShare, readCpuTicks, startEnergyMeter } from './energy.js';

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
    const meter = startEnergyMeter({ raplCounter: counter, cpuAccounting: null });
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
    const meter = startEnergyMeter({ raplCounter: counter, cpuAccounting: null });
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
    const meter = energyMeter({ raplCounter: counter, carbonIntensity: 20, cpuAccounting: null });
    const first = meter();
    writeFileSync(counter, '2000000');
    assert.deepEqual(first.stop(), { energyJoules: 1, energySource: 1, powerWatts: 30, carbonIntensity: 20 });
    const second = meter(); // starts from the counter as it is now
    writeFileSync(counter, '2500000');
    assert.equal(second.stop().energyJoules, 0.5);
  });

  it("attributes package energy to the process by its share of busy CPU time, from /proc", async () => {
    const counter = join(dir, 'energy_uj');
    const procStat = join(dir, 'stat');
    const selfStat = join(dir, 'self-stat');
    // utime and stime are fields 14 and 15; the command name may hold spaces and parentheses.
    const self = (utime: number, stime: number) => `4242 (node (concord) x) R 1 2 3 4 5 6 7 8 9 10 ${utime} ${stime} 0 0 20 0 1 0 100 0 0\n`;
    // user nice system idle iowait irq softirq steal guest guest_nice: busy excludes idle and iowait.
    const machine = (user: number, system: number, idle: number) => `cpu  ${user} 0 ${system} ${idle} 7 0 0 0 0 0\ncpu0 1 2 3 4\n`;
    await writeFile(counter, '0');
    await writeFile(selfStat, self(100, 20));
    await writeFile(procStat, machine(1000, 200, 5000));
    assert.deepEqual(readCpuTicks({ procStat, selfStat }), { process: 120, busy: 1200 });
    const meter = startEnergyMeter({ raplCounter: counter, cpuAccounting: { procStat, selfStat } });
    writeFileSync(counter, '10000000'); // 10 J for the whole package
    writeFileSync(selfStat, self(130, 30)); // +40 ticks of this process
    writeFileSync(procStat, machine(1130, 230, 9000)); // +160 busy ticks in all
    const reading = meter.stop();
    assert.equal(reading.source, 'rapl');
    assert.equal(reading.packageJoules, 10);
    assert.equal(reading.processShare, 0.25);
    assert.equal(reading.joules, 2.5);
    const metrics = energyMetrics(reading);
    assert.equal(metrics.raplPackageJoules, 10);
    assert.equal(metrics.processCpuShare, 0.25);
    assert.equal(metrics.energyJoules, 2.5);
    // Unreadable /proc or no tick elapsed: the whole package, as before.
    assert.equal(readCpuTicks({ procStat: join(dir, 'none'), selfStat }), null);
    assert.equal(processShare({ process: 1, busy: 5 }, { process: 1, busy: 5 }), null);
    assert.equal(processShare({ process: 0, busy: 0 }, { process: 9, busy: 4 }), 1);
  });
});
