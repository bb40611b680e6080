// Energy a member node spends on a training task. Where Linux exposes Intel RAPL
// (`/sys/class/powercap/intel-rapl:0/energy_uj`, a wrapping microjoule counter of the
// CPU package) the counter is read before and after; otherwise energy is the node's
// declared power draw × the task's wall-clock seconds. RAPL counts the whole package, so
// on a machine busy with other work it would overstate the task's share: where /proc is
// readable the package energy is scaled by this process's share of the CPU time all
// processes used over the task, (utime + stime of /proc/self/stat) / (busy time of
// /proc/stat: user + nice + system + irq + softirq + steal), both in clock ticks. Idle
// power is thereby shared among the busy processes in proportion to their CPU time; only
// package 0 is read, while /proc/stat counts every CPU. The declared figure is only as good
// as the operator's estimate. Either way the coordinator is told which one it got (metric
// `energySource`: 1 = RAPL, 0 = declared) and, for RAPL, `raplPackageJoules` and
// `processCpuShare` when the energy was attributed.

import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { DEFAULT_CARBON_INTENSITY } from '../planning/constants.js';
import type { TrainingMeter } from './tfjs-handler.js';

/** What a small server's CPU package draws under load, when the node declares nothing. */
export const DEFAULT_POWER_WATTS = 30;
export const DEFAULT_RAPL_COUNTER = '/sys/class/powercap/intel-rapl:0/energy_uj';
export { DEFAULT_CARBON_INTENSITY };

export interface EnergyOptions {
  /** Declared power draw while training, in watts; default 30. Used when RAPL is unreadable. */
  powerWatts?: number;
  /** Grid carbon intensity where the node runs, gCO₂e/kWh; default 475 (world average). Reported, not used here. */
  carbonIntensity?: number;
  /** RAPL energy counter; default DEFAULT_RAPL_COUNTER. Pass null to never use RAPL. */
  raplCounter?: string | null;
  /** Where CPU time is read to attribute package energy to this process; null to count the whole package. */
  cpuAccounting?: { procStat: string; selfStat: string } | null;
}

export const DEFAULT_CPU_ACCOUNTING = { procStat: '/proc/stat', selfStat: '/proc/self/stat' };

export interface EnergyReading {
  joules: number;
  seconds: number;
  source: 'rapl' | 'declared';
  /** RAPL only: the whole package's energy, and the process's share of busy CPU time it was scaled by. */
  packageJoules?: number;
  processShare?: number;
}

interface CpuTicks {
  process: number;
  busy: number;
}

/** This process's and the machine's busy CPU time in clock ticks, or null where /proc is not readable. */
export function readCpuTicks(paths: { procStat: string; selfStat: string }): CpuTicks | null {
  try {
    const self = readFileSync(paths.selfStat, 'utf8');
    // Fields after the command name, which may contain spaces: state is field 3, utime 14, stime 15.
    const fields = self.slice(self.lastIndexOf(')') + 2).split(' ');
    const process = Number(fields[11]) + Number(fields[12]);
    const cpu = readFileSync(paths.procStat, 'utf8').split('\n')[0]!.trim().split(/\s+/);
    if (cpu[0] !== 'cpu') return null;
    const [user, nice, system, , , irq, softirq, steal] = cpu.slice(1, 9).map(Number);
    const busy = user! + nice! + system! + (irq ?? 0) + (softirq ?? 0) + (steal ?? 0);
    return Number.isFinite(process) && Number.isFinite(busy) ? { process, busy } : null;
  } catch {
    return null;
  }
}

/** The process's share of the busy CPU time between two readings, or null when it cannot be told. */
export function processShare(before: CpuTicks | null, after: CpuTicks | null): number | null {
  if (!before || !after) return null;
  const busy = after.busy - before.busy;
  const own = after.process - before.process;
  // No tick elapsed (a very short task): the share is unknown, so the whole package is counted.
  if (!(busy > 0) || own < 0) return null;
  return Math.min(1, own / busy);
}

export interface EnergyMeter {
  stop(): EnergyReading;
}

function readMicrojoules(path: string): number | null {
  try {
    const value = Number(readFileSync(path, 'utf8').trim());
    return Number.isFinite(value) && value >= 0 ? value : null;
  } catch {
    return null;
  }
}

/** Starts measuring; `stop()` gives the energy since. */
export function startEnergyMeter(options: EnergyOptions = {}): EnergyMeter {
  const powerWatts = options.powerWatts ?? DEFAULT_POWER_WATTS;
  const counter = options.raplCounter === undefined ? DEFAULT_RAPL_COUNTER : options.raplCounter;
  const accounting = options.cpuAccounting === undefined ? DEFAULT_CPU_ACCOUNTING : options.cpuAccounting;
  const started = performance.now();
  const before = counter === null ? null : readMicrojoules(counter);
  const ticksBefore = before === null || accounting === null ? null : readCpuTicks(accounting);
  return {
    stop(): EnergyReading {
      const seconds = (performance.now() - started) / 1000;
      const after = counter === null || before === null ? null : readMicrojoules(counter);
      if (counter !== null && before !== null && after !== null) {
        let microjoules = after - before;
        // The counter wraps at max_energy_range_uj.
        if (microjoules < 0) microjoules += readMicrojoules(join(dirname(counter), 'max_energy_range_uj')) ?? Number.NaN;
        if (Number.isFinite(microjoules) && microjoules >= 0) {
          const packageJoules = microjoules / 1e6;
          const share = processShare(ticksBefore, accounting === null ? null : readCpuTicks(accounting));
          if (share === null) return { joules: packageJoules, seconds, source: 'rapl' };
          return { joules: packageJoules * share, seconds, source: 'rapl', packageJoules, processShare: share };
        }
      }
      return { joules: powerWatts * seconds, seconds, source: 'declared' };
    },
  };
}

/**
 * A meter factory for createTfjsHandler (node/tfjs-handler.ts): each training task is
 * measured with startEnergyMeter and reported as energyMetrics.
 */
export function energyMeter(options: EnergyOptions = {}): () => TrainingMeter {
  return () => {
    const meter = startEnergyMeter(options);
    return { stop: () => energyMetrics(meter.stop(), options) };
  };
}

/** The metrics a train result carries: numbers only, as the wire format requires. */
export function energyMetrics(reading: EnergyReading, options: EnergyOptions = {}): Record<string, number> {
  return {
    energyJoules: reading.joules,
    energySource: reading.source === 'rapl' ? 1 : 0,
    powerWatts: options.powerWatts ?? DEFAULT_POWER_WATTS,
    carbonIntensity: options.carbonIntensity ?? DEFAULT_CARBON_INTENSITY,
    ...(reading.packageJoules !== undefined ? { raplPackageJoules: reading.packageJoules } : {}),
    ...(reading.processShare !== undefined ? { processCpuShare: reading.processShare } : {}),
  };
}
