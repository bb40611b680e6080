// Energy and CO₂ of a run, per member, per round and in total, from what members report
// with their training results (energyJoules measured by RAPL or declared power × time,
// their grid's carbon intensity) and the bytes the coordinator counted on the wire.
//
// Network energy uses 0.06 kWh per GB, the 2015 estimate for data transmission over the
// internet of Aslan, Mayers, Koomey & France (2018), "Electricity Intensity of Internet
// Data Transmission: Untangling the Estimates", Journal of Industrial Ecology 22(4), which
// found the figure halving about every two years since: for today's networks it is an
// upper estimate. Network energy is converted at the world-average grid intensity
// (475 gCO₂e/kWh, as IEA reported for 2018), since the path between sites crosses grids.
//
// The centralized alternative is estimated as the same training compute (the same
// joules) on one site at the world-average intensity, plus shipping every member's raw
// data there once: (training + holdout examples) × (features + label) × 4 bytes, the
// float32 form Concord holds data in.

import { DEFAULT_CARBON_INTENSITY } from '../planning/constants.js';
import type { DatasetDescriptor } from '../protocol/messages.js';
import type { MemberRoundMetrics } from '../storage/storage.js';

export const NETWORK_KWH_PER_GB = 0.06;
export const WORLD_CARBON_INTENSITY = DEFAULT_CARBON_INTENSITY;
/** For members that report no energy (e.g. custom trainers): their task time at this power. */
export const ESTIMATED_POWER_WATTS = 30;

const JOULES_PER_KWH = 3.6e6;
const BYTES_PER_GB = 1e9;

export type EnergySource = 'rapl' | 'declared' | 'estimated' | 'mixed' | 'none';

export interface MemberFootprint {
  memberId: string;
  name: string;
  trainRounds: number;
  trainSeconds: number;
  examplesProcessed: number;
  trainKWh: number;
  energySource: EnergySource;
  networkBytes: number;
  networkKWh: number;
  /** gCO₂e/kWh the member declared (the world average when it declared none). */
  carbonIntensity: number;
  trainCo2Grams: number;
  networkCo2Grams: number;
  co2Grams: number;
}

export interface RoundFootprint {
  round: number;
  trainKWh: number;
  networkKWh: number;
  co2Grams: number;
}

export interface RunFootprint {
  members: MemberFootprint[];
  rounds: RoundFootprint[];
  total: { trainKWh: number; networkKWh: number; kWh: number; networkBytes: number; co2Grams: number };
  centralized: { trainKWh: number; dataBytes: number; shippingKWh: number; kWh: number; co2Grams: number };
  assumptions: string[];
}

export const FOOTPRINT_ASSUMPTIONS = [
  `network: ${NETWORK_KWH_PER_GB} kWh/GB (Aslan et al. 2018, 2015 value; an upper estimate today) at ${WORLD_CARBON_INTENSITY} gCO2e/kWh`,
  "training: each member's RAPL reading or declared power × training time, at the member's declared grid intensity",
  `members reporting no energy: ${ESTIMATED_POWER_WATTS} W × task time`,
  'evaluation tasks: network bytes only, their compute is not measured',
  `centralized alternative: the same training energy at ${WORLD_CARBON_INTENSITY} gCO2e/kWh plus shipping all members' raw data once as float32`,
];

/** Sums of the work and energy members report for a round, stored as the round's train metrics. */
export function workTotals(train: readonly MemberRoundMetrics[]): Record<string, number> {
  const totals: Record<string, number> = {};
  for (const key of ['examplesProcessed', 'energyJoules'] as const) {
    const reported = train.filter((m) => typeof m.metrics[key] === 'number');
    if (reported.length > 0) totals[key] = reported.reduce((s, m) => s + m.metrics[key]!, 0);
  }
  return totals;
}

interface TrainEnergy {
  joules: number;
  source: Exclude<EnergySource, 'mixed' | 'none'>;
}

function trainEnergy(row: MemberRoundMetrics): TrainEnergy {
  const joules = row.metrics.energyJoules;
  if (typeof joules === 'number' && joules >= 0) return { joules, source: row.metrics.energySource === 1 ? 'rapl' : 'declared' };
  return { joules: ESTIMATED_POWER_WATTS * (row.metrics.trainSeconds ?? row.seconds), source: 'estimated' };
}

/** Raw data size of a member's dataset as Concord holds it: float32 features plus a label. */
export function datasetBytes(dataset: DatasetDescriptor): number {
  const features = dataset.inputShape.reduce((p, d) => p * d, 1);
  return (dataset.numExamples + dataset.numHoldout) * (features + 1) * 4;
}

export function runFootprint(rows: readonly (MemberRoundMetrics & { round: number })[], members: readonly { memberId: string; name: string; dataset: DatasetDescriptor }[]): RunFootprint {
  const byId = new Map(members.map((m) => [m.memberId, m]));
  const perMember = new Map<string, MemberFootprint & { sources: Set<string> }>();
  const perRound = new Map<number, RoundFootprint>();
  const memberOf = (memberId: string) => {
    let f = perMember.get(memberId);
    if (!f) {
      f = {
        memberId,
        name: byId.get(memberId)?.name ?? memberId,
        trainRounds: 0,
        trainSeconds: 0,
        examplesProcessed: 0,
        trainKWh: 0,
        energySource: 'none',
        networkBytes: 0,
        networkKWh: 0,
        carbonIntensity: WORLD_CARBON_INTENSITY,
        trainCo2Grams: 0,
        networkCo2Grams: 0,
        co2Grams: 0,
        sources: new Set(),
      };
      perMember.set(memberId, f);
    }
    return f;
  };
  // A member's latest declared intensity applies to all its rows.
  for (const row of rows) if (typeof row.metrics.carbonIntensity === 'number') memberOf(row.memberId).carbonIntensity = row.metrics.carbonIntensity;

  for (const row of rows) {
    const f = memberOf(row.memberId);
    const r = perRound.get(row.round) ?? { round: row.round, trainKWh: 0, networkKWh: 0, co2Grams: 0 };
    perRound.set(row.round, r);
    const bytes = row.bytesIn + row.bytesOut;
    const networkKWh = (bytes / BYTES_PER_GB) * NETWORK_KWH_PER_GB;
    let trainKWh = 0;
    if (row.phase === 'train') {
      const energy = trainEnergy(row);
      trainKWh = energy.joules / JOULES_PER_KWH;
      f.sources.add(energy.source);
      f.trainRounds++;
      f.trainSeconds += row.metrics.trainSeconds ?? row.seconds;
      f.examplesProcessed += row.metrics.examplesProcessed ?? 0;
    }
    const trainCo2 = trainKWh * f.carbonIntensity;
    const networkCo2 = networkKWh * WORLD_CARBON_INTENSITY;
    const co2 = trainCo2 + networkCo2;
    f.trainCo2Grams += trainCo2;
    f.networkCo2Grams += networkCo2;
    f.trainKWh += trainKWh;
    f.networkBytes += bytes;
    f.networkKWh += networkKWh;
    f.co2Grams += co2;
    r.trainKWh += trainKWh;
    r.networkKWh += networkKWh;
    r.co2Grams += co2;
  }

  const list: MemberFootprint[] = [...perMember.values()].map(({ sources, ...f }) => ({
    ...f,
    energySource: sources.size === 0 ? 'none' : sources.size === 1 ? ([...sources][0] as EnergySource) : 'mixed',
  }));
  const sum = (key: 'trainKWh' | 'networkKWh' | 'networkBytes' | 'co2Grams') => list.reduce((s, f) => s + f[key], 0);
  const trainKWh = sum('trainKWh');
  const networkKWh = sum('networkKWh');
  const dataBytes = [...new Set(list.map((f) => f.memberId))].reduce((s, id) => s + (byId.get(id) ? datasetBytes(byId.get(id)!.dataset) : 0), 0);
  const shippingKWh = (dataBytes / BYTES_PER_GB) * NETWORK_KWH_PER_GB;
  return {
    members: list,
    rounds: [...perRound.values()].sort((a, b) => a.round - b.round),
    total: { trainKWh, networkKWh, kWh: trainKWh + networkKWh, networkBytes: sum('networkBytes'), co2Grams: sum('co2Grams') },
    centralized: { trainKWh, dataBytes, shippingKWh, kWh: trainKWh + shippingKWh, co2Grams: (trainKWh + shippingKWh) * WORLD_CARBON_INTENSITY },
    assumptions: FOOTPRINT_ASSUMPTIONS,
  };
}
