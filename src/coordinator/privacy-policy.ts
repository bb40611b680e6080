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
//   q = selected/available and the round's multiplier (amplification by sampling).

import { ConcordError, ErrorCode } from '../protocol/errors.js';
import type { DifferentialPrivacyConfig, RunConfig, TrainConfig } from '../protocol/messages.js';
import type { Problem } from '../protocol/problems.js';
import { epsilonOf, sampleLevelCharge } from '../privacy/dp/charges.js';
import { noiseForEpsilon } from '../privacy/rdp.js';
import { DifferentiallyPrivateStrategy, withDifferentialPrivacy } from '../privacy/dp/dp-fedavg.js';
import type { Instruction, MemberRef, Strategy } from '../strategies/strategy.js';
import type { PrivacyCharge, RunStore } from '../storage/storage.js';
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
};

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
        const budget = budgetFor(dp, member.name);
        const history = await storage.listPrivacyCharges(next.datasetId);
        const spent = epsilonOf(history, budget.delta);
        const after = epsilonOf([...history, next], budget.delta);
        if (after > budget.epsilon) {
          problems.push(`dataset ${next.datasetId}: the next round would spend ε=${after.toFixed(3)} > budget ${budget.epsilon} (spent ${spent.toFixed(3)}, δ=${budget.delta})`);
        }
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
