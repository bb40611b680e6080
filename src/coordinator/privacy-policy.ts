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
import { epsilonOf, sampleLevelCharge } from '../privacy/dp/charges.js';
import { DifferentiallyPrivateStrategy, withDifferentialPrivacy } from '../privacy/dp/dp-fedavg.js';
import type { Instruction, MemberRef, Strategy } from '../strategies/strategy.js';
import { withUpdateValidation } from '../strategies/validation.js';
import type { PrivacyCharge, Storage } from '../storage/storage.js';
import type { RoundExtensions } from './round-loop.js';
import { checkSecureStrategy, parseSecureAggregationOptions } from './secure-round.js';

const NEEDS_INDIVIDUAL_UPDATES = new Set(['fedmedian', 'fedtrimmedavg', 'krum', 'multikrum', 'fedavg-normbound']);

/** The mode client-level DP runs in unless the configuration says otherwise. */
export function clientMode(config: RunConfig): 'central' | 'distributed' {
  return config.differentialPrivacy?.mode ?? (config.secureAggregation ? 'distributed' : 'central');
}

/** Wraps a run's strategy (update validation, client-level DP) and refuses combinations that cannot work. */
export function withRunPrivacy(config: RunConfig, strategy: Strategy): Strategy {
  if (config.secureAggregation && NEEDS_INDIVIDUAL_UPDATES.has(config.strategy.name)) {
    throw new ConcordError(ErrorCode.INVALID_ARGUMENT, `strategy ${config.strategy.name} needs individual updates; it cannot run with secure aggregation, where the coordinator only sees their sum`, {
      details: { field: 'strategy.name', received: config.strategy.name },
    });
  }
  if (config.secureAggregation && config.updateValidation) {
    throw new ConcordError(ErrorCode.INVALID_ARGUMENT, 'update validation inspects each update, which secure aggregation hides from the coordinator', {
      details: { field: 'updateValidation' },
    });
  }
  if (config.updateValidation) strategy = withUpdateValidation(strategy, config.updateValidation);
  const dp = config.differentialPrivacy;
  if (!dp || dp.level !== 'client') return strategy;
  const mode = clientMode(config);
  if (config.secureAggregation && mode === 'central') {
    throw new ConcordError(ErrorCode.INVALID_ARGUMENT, 'central DP clips each update on the coordinator, which secure aggregation hides from it; use mode "distributed"', {
      details: { field: 'differentialPrivacy.mode', expected: 'distributed', received: mode },
    });
  }
  return withDifferentialPrivacy(strategy, {
    noiseMultiplier: dp.noiseMultiplier,
    clippingNorm: dp.clippingNorm,
    mode,
    ...(dp.adaptiveClipping ? { adaptiveClipping: dp.adaptiveClipping } : {}),
  });
}

/** The run's strategy, wrapped and checked; secure runs also get their options checked up front. */
export function runStrategy(config: RunConfig, base: Strategy): Strategy {
  const strategy = withRunPrivacy(config, base);
  if (config.secureAggregation) {
    parseSecureAggregationOptions(config.secureAggregationOptions);
    checkSecureStrategy(strategy);
  }
  return strategy;
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
  storage: Storage;
}

/** The DP stages of a run's rounds: task settings, the budget check, and the charges. */
export function privacyExtensions(options: PrivacyExtensionOptions): RoundExtensions {
  const { config, strategy, storage } = options;
  const dp = config.differentialPrivacy;
  if (!dp) return {};
  const dpStrategy = strategy instanceof DifferentiallyPrivateStrategy ? strategy : null;

  const chargesFor = (round: number, selected: MemberRef[], available: MemberRef[]): PrivacyCharge[] => {
    if (dp.level === 'sample') {
      return selected.map((m) => ({ memberId: m.memberId, datasetId: datasetIdOf(m), ...sampleLevelCharge(m.numExamples, config.train, dp.noiseMultiplier) }));
    }
    const charge = dpStrategy!.roundCharge(round);
    return available.map((m) => ({ memberId: m.memberId, datasetId: datasetIdOf(m), ...charge }));
  };

  // Worked out when the round is admitted (the strategy forgets its plan once it aggregates).
  const planned = new Map<number, PrivacyCharge[]>();

  return {
    configure(round: number, instruction: Instruction): TrainConfig {
      if (dp.level === 'sample') {
        return { ...instruction.config, privacy: { level: 'sample', mode: 'distributed', clippingNorm: dp.clippingNorm, noiseMultiplier: dp.noiseMultiplier, noiseStddev: 0, samplingRate: 1 } };
      }
      const member = dpStrategy!.memberPrivacy(round);
      const charge = dpStrategy!.roundCharge(round);
      return {
        ...instruction.config,
        privacy: {
          level: 'client',
          mode: clientMode(config),
          clippingNorm: member?.clippingNorm ?? dpStrategy!.currentClippingNorm,
          noiseMultiplier: dp.noiseMultiplier,
          noiseStddev: member?.noiseStddev ?? 0,
          // Always present with adaptive clipping (even 0): members then report their indicator.
          ...(member && dp.adaptiveClipping ? { indicatorNoiseStddev: member.indicatorNoiseStddev } : {}),
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
export async function privacyReport(storage: Storage, budgets: Map<string, { epsilon: number; delta: number }>): Promise<{ datasetId: string; epsilon: number; delta: number; budget: number | null; charges: number }[]> {
  const charges = await storage.listPrivacyCharges();
  const byDataset = new Map<string, PrivacyCharge[]>();
  for (const c of charges) byDataset.set(c.datasetId, [...(byDataset.get(c.datasetId) ?? []), c]);
  return [...byDataset.entries()].map(([datasetId, list]) => {
    const budget = budgets.get(datasetId);
    const delta = budget?.delta ?? 1e-5;
    return { datasetId, epsilon: epsilonOf(list, delta), delta, budget: budget?.epsilon ?? null, charges: list.length };
  });
}
