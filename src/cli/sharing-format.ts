// Plain-text views of a run's plan against its execution and of its energy and CO₂, for
// `concord run show` and `concord status`.

import type { RunFootprint } from '../coordinator/footprint.js';
import type { PlanExecution } from '../coordinator/plan-policy.js';

const wh = (kWh: number) => `${(kWh * 1000).toFixed(kWh * 1000 < 10 ? 3 : 1)} Wh`;
export const gramsText = (g: number) => (g >= 1000 ? `${(g / 1000).toFixed(2)} kgCO2e` : `${g.toFixed(g < 10 ? 3 : 1)} gCO2e`);

export function formatPlanExecution(plan: PlanExecution): string {
  const lines = [`plan (${plan.plan.objectiveName}, objective ${plan.plan.objective}; units of work = examples processed, per ${plan.period}):`];
  const planned = new Map<string, number>();
  const actual = new Map<string, number>();
  for (const r of plan.rounds) {
    for (const m of r.members) {
      planned.set(m.name, (planned.get(m.name) ?? 0) + m.planned);
      actual.set(m.name, (actual.get(m.name) ?? 0) + m.actual);
    }
  }
  for (const a of plan.plan.allocation) {
    lines.push(`  ${a.name.padEnd(16)} ${String(plan.unitsPerRound[a.name] ?? 0).padStart(10)} units/round  planned ${planned.get(a.name) ?? 0}, done ${actual.get(a.name) ?? 0}`);
  }
  lines.push(`  ${'total'.padEnd(16)} planned ${plan.total.planned}, done ${plan.total.actual}`);
  return lines.join('\n') + '\n';
}

export function formatFootprint(f: RunFootprint): string {
  // Older footprints (stored reports) lack the range and the network figures.
  const n = f.network;
  const range = (g: { co2Grams: number; co2GramsLow?: number; co2GramsHigh?: number }) =>
    g.co2GramsLow !== undefined && g.co2GramsHigh !== undefined ? `${gramsText(g.co2Grams)} (${gramsText(g.co2GramsLow)}–${gramsText(g.co2GramsHigh)})` : gramsText(g.co2Grams);
  const network = n ? `network: ${n.kWhPerGB} kWh/GB, range ${n.low}–${n.high}, for ${n.year}` : 'network: an estimate per GB';
  const lines = [`energy and CO2 (training: RAPL, this process's share where /proc allows, or declared power × time; ${network}):`];
  for (const m of f.members) {
    lines.push(`  ${m.name.padEnd(16)} train ${wh(m.trainKWh).padStart(10)} (${m.energySource}, ${m.carbonIntensity} g/kWh)  network ${(m.networkBytes / 1e6).toFixed(1).padStart(8)} MB  ${range(m)}`);
  }
  lines.push(`  ${'total'.padEnd(16)} ${wh(f.total.kWh)}, ${range(f.total)}`);
  lines.push(`  centralized alternative (estimate): ${wh(f.centralized.kWh)}, ${range(f.centralized)} (same training at world-average intensity + shipping ${(f.centralized.dataBytes / 1e6).toFixed(1)} MB of raw data once)`);
  return lines.join('\n') + '\n';
}
