// Privacy charges in the accountant's terms, shared by the coordinator's budget check and
// each member's own ledger (which must not depend on the coordinator's arithmetic).

import { DEFAULT_ORDERS, computeRdp, epsilonFromRdp } from '../rdp.js';

export interface Charge {
  samplingRate: number;
  noiseMultiplier: number;
  steps: number;
}

/** ε spent by a list of charges at δ, composed in RDP. */
export function epsilonOf(charges: Charge[], delta: number): number {
  if (charges.length === 0) return 0;
  const total = new Array<number>(DEFAULT_ORDERS.length).fill(0);
  for (const c of charges) {
    if (c.steps === 0) continue;
    const rdp = computeRdp({ samplingRate: c.samplingRate, noiseMultiplier: c.noiseMultiplier, steps: c.steps, orders: DEFAULT_ORDERS });
    rdp.forEach((v, i) => (total[i]! += v));
  }
  return epsilonFromRdp({ orders: DEFAULT_ORDERS, rdp: total, delta }).epsilon;
}

/** Sample-level charge of one member's local DP-SGD: q = B/n, E·⌈n/B⌉ steps. */
export function sampleLevelCharge(numExamples: number, train: { batchSize: number; epochs: number }, noiseMultiplier: number): Charge {
  const n = Math.max(1, numExamples);
  const batch = Math.min(train.batchSize, n);
  return { samplingRate: batch / n, noiseMultiplier, steps: train.epochs * Math.ceil(n / batch) };
}

