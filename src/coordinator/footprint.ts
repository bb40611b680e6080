// Energy and CO₂ of a run, per member, per round and in total, from what members report
// with their training results (energyJoules measured by RAPL or declared power × time,
// their grid's carbon intensity) and the bytes the coordinator counted on the wire.
//
// Network energy uses 0.005 kWh per GB (range 0.002–0.013) for 2022. Aslan, Mayers, Koomey
// & France (2018), "Electricity Intensity of Internet Data Transmission: Untangling the
// Estimates", J. Industrial Ecology 22(4), estimated 0.06 kWh/GB for 2015 (core and fixed
// access networks) and found it halving about every two years since 2000. Carried to 2022
// on that trend it is 0.0053; the slower decline implied by network electricity of 242 TWh
// in 2015 (Malmodin & Lundén 2018, Sustainability 10(9)) and 272 TWh in 2020 (Malmodin,
// Lövehagen, Bergmark & Lundén 2024, Telecommunications Policy 48(3), 102701; IEA 2022 gives
// 260–340 TWh for 2020) while global IP traffic grew about 3.4× (Cisco VNI; IEA) halves it
// every ~3.1 years, 0.013 for 2022 (high); the 2-year trend carried to 2025 gives 0.002
// (low), and marginal-energy studies argue lower still, since most network power does not
// vary with traffic. Every network figure is reported as that range. The agreement may set
// its own (footprint.network). Network energy is converted at the world-average grid
// intensity (475 gCO₂e/kWh, as IEA reported for 2018), since the path between sites crosses grids.
//
// The centralized alternative is estimated as the same training compute (the same
// joules) on one site at the world-average intensity, plus shipping every member's raw
// data there once: (training + holdout examples) × (features + label) × 4 bytes, the
// float32 form Concord holds data in.

import { DEFAULT_CARBON_INTENSITY } from '../planning/constants.js';
import type { DatasetDescriptor } from '../protocol/messages.js';
import type { MemberRoundMetrics } from '../storage/storage.js';

export interface NetworkIntensity {
  /** Central estimate and range, kWh per GB transmitted. */
  kWhPerGB: number;
  low: number;
  high: number;
  /** The year the figures describe. */
  year: number;
  source: string;
}

export const NETWORK_INTENSITY: NetworkIntensity = {
  kWhPerGB: 0.005,
  low: 0.002,
  high: 0.013,
  year: 2022,
  source: 'Aslan et al. 2018 (0.06 kWh/GB in 2015, halving every 2 years) carried to 2022; high: the slower decline of Malmodin et al. 2024 network energy per IP traffic; low: the 2-year trend to 2025',
};
/** The central network intensity, kWh/GB. */
export const NETWORK_KWH_PER_GB = NETWORK_INTENSITY.kWhPerGB;
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

/** CO₂ with the network intensity's range: low and high use its low and high kWh/GB. */
export interface Co2Range {
  co2Grams: number;
  co2GramsLow: number;
  co2GramsHigh: number;
}

export interface RunFootprint {
  members: (MemberFootprint & Co2Range)[];
  rounds: RoundFootprint[];
  total: { trainKWh: number; networkKWh: number; kWh: number; networkBytes: number; networkKWhLow: number; networkKWhHigh: number } & Co2Range;
  centralized: { trainKWh: number; dataBytes: number; shippingKWh: number; kWh: number } & Co2Range;
  /** The network intensity used, with its range and source. */
  network: NetworkIntensity;
  assumptions: string[];
}

export interface FootprintOptions {
  /** Default NETWORK_INTENSITY; the agreement's footprint.network when it sets one. */
  network?: NetworkIntensity;
  /** gCO₂e/kWh for network energy; default the world average. */
  networkCarbonIntensity?: number;
}

/** The footprint options an agreement's footprint clause sets (none without one). */
export function footprintOptionsOf(terms: { footprint?: { network?: NetworkIntensity; networkCarbonIntensity?: number } } | undefined): FootprintOptions {
  const f = terms?.footprint;
  return { ...(f?.network ? { network: f.network } : {}), ...(f?.networkCarbonIntensity !== undefined ? { networkCarbonIntensity: f.networkCarbonIntensity } : {}) };
}

export function footprintAssumptions(network: NetworkIntensity = NETWORK_INTENSITY, networkCarbonIntensity = WORLD_CARBON_INTENSITY): string[] {
  return [
    `network: ${network.kWhPerGB} kWh/GB (range ${network.low}–${network.high}, for ${network.year}; ${network.source}) at ${networkCarbonIntensity} gCO2e/kWh`,
    "training: each member's RAPL reading (its process's share of the package where /proc allows) or declared power × training time, at the member's declared grid intensity",
    `members reporting no energy: ${ESTIMATED_POWER_WATTS} W × task time`,
    'evaluation tasks: network bytes only, their compute is not measured',
    `centralized alternative: the same training energy at ${WORLD_CARBON_INTENSITY} gCO2e/kWh plus shipping all members' raw data once as float32`,
  ];
}

export const FOOTPRINT_ASSUMPTIONS = footprintAssumptions();

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

export function runFootprint(
  rows: readonly (MemberRoundMetrics & { round: number })[],
  members: readonly { memberId: string; name: string; dataset: DatasetDescriptor }[],
  options: FootprintOptions = {},
): RunFootprint {
  const network = options.network ?? NETWORK_INTENSITY;
  const networkIntensity = options.networkCarbonIntensity ?? WORLD_CARBON_INTENSITY;
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
    const networkKWh = (bytes / BYTES_PER_GB) * network.kWhPerGB;
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
    const networkCo2 = networkKWh * networkIntensity;
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

  // The range: only the network intensity varies; training energy is measured or declared.
  const scale = (kWh: number, to: number) => (kWh * to) / network.kWhPerGB;
  const list = [...perMember.values()].map(({ sources, ...f }) => ({
    ...f,
    energySource: (sources.size === 0 ? 'none' : sources.size === 1 ? [...sources][0] : 'mixed') as EnergySource,
    co2GramsLow: f.trainCo2Grams + scale(f.networkKWh, network.low) * networkIntensity,
    co2GramsHigh: f.trainCo2Grams + scale(f.networkKWh, network.high) * networkIntensity,
  }));
  const sum = (key: 'trainKWh' | 'networkKWh' | 'networkBytes' | 'co2Grams' | 'co2GramsLow' | 'co2GramsHigh') => list.reduce((s, f) => s + f[key], 0);
  const trainKWh = sum('trainKWh');
  const networkKWh = sum('networkKWh');
  const dataBytes = [...new Set(list.map((f) => f.memberId))].reduce((s, id) => s + (byId.get(id) ? datasetBytes(byId.get(id)!.dataset) : 0), 0);
  const shipping = (kWhPerGB: number) => (dataBytes / BYTES_PER_GB) * kWhPerGB;
  const shippingKWh = shipping(network.kWhPerGB);
  return {
    members: list,
    rounds: [...perRound.values()].sort((a, b) => a.round - b.round),
    total: {
      trainKWh,
      networkKWh,
      kWh: trainKWh + networkKWh,
      networkBytes: sum('networkBytes'),
      networkKWhLow: scale(networkKWh, network.low),
      networkKWhHigh: scale(networkKWh, network.high),
      co2Grams: sum('co2Grams'),
      co2GramsLow: sum('co2GramsLow'),
      co2GramsHigh: sum('co2GramsHigh'),
    },
    centralized: {
      trainKWh,
      dataBytes,
      shippingKWh,
      kWh: trainKWh + shippingKWh,
      // Training at the world average; shipping at the network's intensity.
      co2Grams: trainKWh * WORLD_CARBON_INTENSITY + shippingKWh * networkIntensity,
      co2GramsLow: trainKWh * WORLD_CARBON_INTENSITY + shipping(network.low) * networkIntensity,
      co2GramsHigh: trainKWh * WORLD_CARBON_INTENSITY + shipping(network.high) * networkIntensity,
    },
    network,
    assumptions: footprintAssumptions(network, networkIntensity),
  };
}
