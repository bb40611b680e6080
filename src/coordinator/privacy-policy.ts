// Differential privacy on the coordinator's side of a round: which strategy wrapper a run
// gets, what each member is told to do, and the per-dataset privacy budget. Before a
// round starts, every dataset the round would charge is checked against its budget using
// the charges already committed (storage.listPrivacyCharges); a round that would exceed
// one is refused and the run ends with the reason. Each completed round commits its
// charges in the same transaction as the round itself.
//
// Who is charged:
// - sample level (DP-SGD inside members): each member that trains, with q = B/n_k and
//   E·⌈n_k/B⌉ steps (its own data size n_k, batch B, local epochs E) at multiplier z;
// - client level (DP-FedAvg): every member of the population, one step per round at
//   q = selected/available and the round's multiplier (amplification by sampling);
// - client level in an asynchronous run (FedBuff): each member whose update an applied
//   buffer holds, one step at q = 1 — who arrives when is not random sampling, so no
//   amplification is claimed (asyncPrivacy below).

import { ConcordError, ErrorCode } from '../protocol/errors.js';
import type { DifferentialPrivacyConfig, RunConfig, TrainConfig } from '../protocol/messages.js';
import type { Problem } from '../protocol/problems.js';
import { epsilonOf, sampleLevelCharge } from '../privacy/dp/charges.js';
import { noiseForEpsilon } from '../privacy/rdp.js';
import { DifferentiallyPrivateStrategy, withDifferentialPrivacy } from '../privacy/dp/dp-fedavg.js';
import type { Instruction, MemberRef, Strategy } from '../strategies/strategy.js';
import type { AsyncSchedule } from '../strategies/fedbuff.js';
import { clipUpdate, updateNorm } from '../privacy/dp/clip.js';
import { gaussianNoise } from '../privacy/dp/gaussian.js';
import type { Random } from '../core/random.js';
import type { PrivacyCharge, RunRecord, RunStore } from '../storage/storage.js';
import type { AsyncExtensions } from './async-loop.js';
import type { RoundExtensions } from './round-loop.js';
import type { RunExtension } from './run-compiler.js';

/** The mode client-level DP runs in unless the configuration says otherwise. */
export function clientMode(config: RunConfig): 'central' | 'distributed' {
  return config.differentialPrivacy?.mode ?? (config.secureAggregation ? 'distributed' : 'central');
}

/**
 * Differential privacy as a run extension: client level wraps the strategy in DP-FedAvg
 * (it needs a strategy that accepts one noised average); both levels set members' task
 * privacy, check budgets before each round and charge them with the round.
 */
export const differentialPrivacyExtension: RunExtension = {
  field: 'differentialPrivacy',
  wrap(config, strategy) {
    const dp = config.differentialPrivacy!;
    if (dp.level !== 'client' || !strategy.traits.acceptsNoisedAverage) return strategy;
    return withDifferentialPrivacy(strategy, {
      noiseMultiplier: dp.noiseMultiplier,
      clippingNorm: dp.clippingNorm,
      mode: clientMode(config),
      ...(dp.adaptiveClipping ? { adaptiveClipping: dp.adaptiveClipping } : {}),
    });
  },
  check(config, { base }) {
    const dp = config.differentialPrivacy!;
    const problems: Problem[] = [];
    if (dp.level === 'client' && !base.traits.acceptsNoisedAverage) {
      problems.push({ path: 'strategy.name', message: `${base.name} inspects each update, so client-level differential privacy (noise on the average of clipped updates) cannot protect it; use a strategy that averages (fedavg, fedprox, fedavgm, fedadam, fedyogi, fedadagrad) or sample-level DP` });
    }
    if (dp.level === 'client' && config.secureAggregation && clientMode(config) === 'central') {
      problems.push({ path: 'differentialPrivacy.mode', message: 'central DP clips each update on the coordinator, which secure aggregation hides from it; use mode "distributed"' });
    }
    if (dp.level === 'client' && dp.calibration === 'budget') {
      problems.push({ path: 'differentialPrivacy.calibration', message: 'calibration "budget" sets each member\'s DP-SGD noise (sample level); client-level DP adds one noise to the average of all members' });
    }
    if (dp.level === 'sample' && (dp.mode !== undefined || dp.adaptiveClipping !== undefined)) {
      problems.push({ path: dp.mode !== undefined ? 'differentialPrivacy.mode' : 'differentialPrivacy.adaptiveClipping', message: 'applies to client-level DP only; sample-level DP clips each example inside the members' });
    }
    return problems;
  },
  stages: (run, strategy, _grid, storage) => privacyExtensions({ config: run.config, strategy, storage }),
  async: {
    check: asyncPrivacyProblems,
    stages: (run, schedule, storage) => asyncPrivacy(run, schedule, storage),
  },
};

/** What client-level DP needs of an asynchronous run: a fixed C, noise added centrally, uniform weights. */
function asyncPrivacyProblems(config: RunConfig, schedule: AsyncSchedule): Problem[] {
  const dp = config.differentialPrivacy!;
  const problems: Problem[] = [];
  if (dp.level !== 'client') {
    problems.push({ path: 'differentialPrivacy.level', message: 'asynchronous rounds take client-level DP (each update clipped, noise on each applied buffer); sample-level DP-SGD is not accounted for them yet' });
  } else if (clientMode(config) !== 'central') {
    problems.push({ path: 'differentialPrivacy.mode', message: 'asynchronous rounds add the noise on the coordinator, once per applied buffer (mode "central"); distributed noise needs secure aggregation over each buffer, which they do not have yet' });
  }
  if (dp.adaptiveClipping) problems.push({ path: 'differentialPrivacy.adaptiveClipping', message: 'asynchronous rounds clip with a fixed clippingNorm; adaptive clipping is not available for them' });
  if (dp.calibration === 'budget') problems.push({ path: 'differentialPrivacy.calibration', message: 'calibration "budget" sets each member\'s DP-SGD noise (sample level); client-level DP adds one noise to each applied buffer' });
  if (schedule.weighting !== 'uniform') {
    problems.push({ path: 'strategy.options.weighting', message: 'weighting "examples" makes a member\'s weight depend on the example counts it reports, so one update could move the buffer by more than C; use "uniform" with differential privacy' });
  }
  return problems;
}

/**
 * Client-level central DP for FedBuff. Each arriving update Δ = θ_k − θ_base is clipped to
 * C; a member is not sent another task while its update waits in the buffer, so a buffer
 * holds at most one update per member; the buffer's mean (1/K)·Σ s(τ_k)·clip(Δ_k), with
 * s(τ) ≤ 1, then moves by at most C/K when one member's update is added or removed, and
 * N(0, (zC/K)²) per coordinate is added to it (η times that to the model, as the schedule
 * applies η to the mean). Each applied buffer is one Gaussian mechanism at multiplier z for
 * each member it holds, charged at q = 1, and checked against the member's budget first.
 */
export function asyncPrivacy(run: RunRecord, schedule: AsyncSchedule, storage: Pick<RunStore, 'listPrivacyCharges'>, random?: Random): AsyncExtensions {
  const dp = run.config.differentialPrivacy!;
  const { clippingNorm: C, noiseMultiplier: z } = dp;
  const chargeOf = (m: MemberRef): PrivacyCharge => ({ memberId: m.memberId, datasetId: datasetIdOf(m), samplingRate: 1, noiseMultiplier: z, steps: 1 });
  const pays = (m: MemberRef): Promise<string | null> => overBudget(storage, dp, m.name, chargeOf(m), 'buffer');
  return {
    configure: (train) => ({ ...train, privacy: { level: 'client', mode: 'central', clippingNorm: C, noiseMultiplier: z, noiseStddev: 0, samplingRate: 1 } }),
    holdWhileBuffered: true,
    mayDispatch: async (member) => {
      const reason = await pays(member);
      return reason === null ? null : `privacy budget exhausted: ${reason}`;
    },
    admitUpdate: (update) => {
      const base = update.base.data;
      const { delta } = clipUpdate(base, update.parameters.data, C);
      // The buffer reads θ_k − θ_base back from float32 values, whose rounding could lift the
      // norm a hair above C: shrink until the update as stored is within C.
      const clipped = new Float32Array(base.length);
      for (let scale = 1; ; ) {
        for (let i = 0; i < clipped.length; i++) clipped[i] = base[i]! + scale * delta[i]!;
        const stored = updateNorm(base, clipped);
        if (stored <= C) break;
        scale *= (C / stored) * (1 - 1e-7);
      }
      return { ...update, parameters: { specs: update.parameters.specs, data: clipped } };
    },
    beforeApply: async (_version, contributors) => {
      const problems = (await Promise.all(contributors.map(pays))).filter((p): p is string => p !== null);
      if (problems.length > 0) throw new ConcordError(ErrorCode.FORBIDDEN, `privacy budget exhausted: ${problems.join('; ')}`, { details: { field: 'differentialPrivacy.budget', problems } });
      return contributors.map(chargeOf);
    },
    afterApply: (_current, next) => {
      const noise = gaussianNoise(next.data.length, (schedule.serverLearningRate * z * C) / schedule.bufferSize, random);
      const data = new Float32Array(next.data.length);
      for (let i = 0; i < data.length; i++) data[i] = next.data[i]! + noise[i]!;
      return { specs: next.specs, data };
    },
  };
}

/** A member dataset's budget key: `<member name>/<dataset name>`. */
export function datasetIdOf(member: { name: string; datasetName?: string; dataset?: { name: string } }): string {
  return `${member.name}/${member.datasetName ?? member.dataset?.name ?? 'data'}`;
}

export function budgetFor(dp: DifferentialPrivacyConfig, memberName: string): { epsilon: number; delta: number } {
  return dp.budgets[memberName] ?? dp.budget;
}

export interface PrivacyExtensionOptions {
  config: RunConfig;
  strategy: Strategy;
  storage: RunStore;
}

/** The DP stages of a run's rounds: task settings, the budget check, and the charges. */
export function privacyExtensions(options: PrivacyExtensionOptions): RoundExtensions {
  const { config, strategy, storage } = options;
  const dp = config.differentialPrivacy;
  if (!dp) return {};
  const dpStrategy = strategy instanceof DifferentiallyPrivateStrategy ? strategy : null;

  // Sample level: each member's z, fixed or calibrated to its budget once per run.
  const calibrated = new Map<string, number>();
  const noiseOf = (member: MemberRef | undefined): number => {
    if (dp.calibration !== 'budget') return dp.noiseMultiplier;
    if (!member) throw new ConcordError(ErrorCode.INTERNAL, 'a task for a member that is not available');
    let z = calibrated.get(member.memberId);
    if (z === undefined) {
      const budget = budgetFor(dp, member.name);
      const perRound = sampleLevelCharge(member.numExamples, config.train, 1);
      z = Math.max(dp.noiseMultiplier, noiseForEpsilon({ samplingRate: perRound.samplingRate, steps: perRound.steps * config.rounds, delta: budget.delta, epsilon: budget.epsilon }));
      calibrated.set(member.memberId, z);
    }
    return z;
  };

  const chargesFor = (round: number, selected: MemberRef[], available: MemberRef[]): PrivacyCharge[] => {
    if (dp.level === 'sample') {
      return selected.map((m) => ({ memberId: m.memberId, datasetId: datasetIdOf(m), ...sampleLevelCharge(m.numExamples, config.train, noiseOf(m)) }));
    }
    const charge = dpStrategy!.roundCharge(round);
    return available.map((m) => ({ memberId: m.memberId, datasetId: datasetIdOf(m), ...charge }));
  };

  // Worked out when the round is admitted (the strategy forgets its plan once it aggregates).
  const planned = new Map<number, PrivacyCharge[]>();

  return {
    configure(round: number, instruction: Instruction, member: MemberRef | undefined): TrainConfig {
      if (dp.level === 'sample') {
        return { ...instruction.config, privacy: { level: 'sample', mode: 'distributed', clippingNorm: dp.clippingNorm, noiseMultiplier: noiseOf(member), noiseStddev: 0, samplingRate: 1 } };
      }
      const share = dpStrategy!.memberPrivacy(round);
      const charge = dpStrategy!.roundCharge(round);
      return {
        ...instruction.config,
        privacy: {
          level: 'client',
          mode: clientMode(config),
          clippingNorm: share?.clippingNorm ?? dpStrategy!.currentClippingNorm,
          noiseMultiplier: dp.noiseMultiplier,
          noiseStddev: share?.noiseStddev ?? 0,
          // Always present with adaptive clipping (even 0): members then report their indicator.
          ...(share && dp.adaptiveClipping ? { indicatorNoiseStddev: share.indicatorNoiseStddev } : {}),
          samplingRate: charge.samplingRate,
        },
      };
    },

    async admit(round: number, selected: MemberRef[], available: MemberRef[]): Promise<void> {
      const problems: string[] = [];
      const charges = chargesFor(round, selected, available);
      planned.set(round, charges);
      for (const next of charges) {
        const member = available.find((m) => m.memberId === next.memberId)!;
        const problem = await overBudget(storage, dp, member.name, next, 'round');
        if (problem !== null) problems.push(problem);
      }
      if (problems.length > 0) {
        throw new ConcordError(ErrorCode.FORBIDDEN, `privacy budget exhausted: ${problems.join('; ')}`, { details: { field: 'differentialPrivacy.budget', problems } });
      }
    },

    async charges(round: number, _selected: MemberRef[], _available: MemberRef[], participants: string[]): Promise<PrivacyCharge[]> {
      const all = planned.get(round) ?? [];
      planned.delete(round);
      // Sample level: only members whose update was used spent anything.
      return dp.level === 'sample' ? all.filter((c) => participants.includes(c.memberId)) : all;
    },
  };
}

/** Why a dataset's budget cannot pay for `next` on top of its stored charges (the next round's or buffer's), or null. */
async function overBudget(storage: Pick<RunStore, 'listPrivacyCharges'>, dp: DifferentialPrivacyConfig, memberName: string, next: PrivacyCharge, what: 'round' | 'buffer'): Promise<string | null> {
  const budget = budgetFor(dp, memberName);
  const history = await storage.listPrivacyCharges(next.datasetId);
  const after = epsilonOf([...history, next], budget.delta);
  if (after <= budget.epsilon) return null;
  return `dataset ${next.datasetId}: the next ${what} would spend ε=${after.toFixed(3)} > budget ${budget.epsilon} (spent ${epsilonOf(history, budget.delta).toFixed(3)}, δ=${budget.delta})`;
}

/** ε spent per dataset, for `concord status` and the dashboard. */
export async function privacyReport(storage: Pick<RunStore, 'listPrivacyCharges'>, budgets: Map<string, { epsilon: number; delta: number }>): Promise<{ datasetId: string; epsilon: number; delta: number; budget: number | null; charges: number }[]> {
  const charges = await storage.listPrivacyCharges();
  const byDataset = new Map<string, PrivacyCharge[]>();
  for (const c of charges) byDataset.set(c.datasetId, [...(byDataset.get(c.datasetId) ?? []), c]);
  return [...byDataset.entries()].map(([datasetId, list]) => {
    const budget = budgets.get(datasetId);
    const delta = budget?.delta ?? 1e-5;
    return { datasetId, epsilon: epsilonOf(list, delta), delta, budget: budget?.epsilon ?? null, charges: list.length };
  });
}
