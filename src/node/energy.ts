// Energy a member node spends on a training task. Where Linux exposes Intel RAPL
// (`/sys/class/powercap/intel-rapl:0/energy_uj`, a wrapping microjoule counter of the
// CPU package) the counter is read before and after; otherwise energy is the node's
// declared power draw × the task's wall-clock seconds. RAPL counts the whole package, so
// on a machine busy with other work it overstates the task's share; the declared figure
// is only as good as the operator's estimate. Either way the coordinator is told which
// one it got (metric `energySource`: 1 = RAPL, 0 = declared).

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
}

export interface EnergyReading {
  joules: number;
  seconds: number;
  source: 'rapl' | 'declared';
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
  const started = performance.now();
  const before = counter === null ? null : readMicrojoules(counter);
  return {
    stop(): EnergyReading {
      const seconds = (performance.now() - started) / 1000;
      const after = counter === null || before === null ? null : readMicrojoules(counter);
      if (counter !== null && before !== null && after !== null) {
        let microjoules = after - before;
        // The counter wraps at max_energy_range_uj.
        if (microjoules < 0) microjoules += readMicrojoules(join(dirname(counter), 'max_energy_range_uj')) ?? Number.NaN;
        if (Number.isFinite(microjoules) && microjoules >= 0) return { joules: microjoules / 1e6, seconds, source: 'rapl' };
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
  };
}
