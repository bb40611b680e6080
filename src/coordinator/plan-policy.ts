// A run's resource plan: the run config's `plan` is solved once (planning/plan.ts, HiGHS)
// and then decides, every round, who trains and how much. Units of work are examples
// processed in local training (examples × epochs). Member i's allocation R_i is its work
// per round (`period: 'round'`, the default) or over the whole run (`period: 'run'`,
// R_i / rounds each round). Resources name members as they enrolled.
//
// Each round only members with a positive allocation train (members the plan does not
// name do not train; set fractionTrain 1 so the strategy offers them all). Member i with
// n_i examples gets ⌊R_i / n_i⌋ whole epochs plus, for the rest r, one more epoch cut
// after ⌈r / B⌉ batches (TrainConfig.maxSteps): it processes R_i examples, or up to one
// batch more. The plan's units are stored as the member's `plannedUnits`, next to the
// `examplesProcessed` it reports: plan and execution side by side. A plan changes local
// epochs per member, which sample-level DP's accounting does not follow, so the two are
// not combined.

import { solvePlan, type PlanResult } from '../planning/plan.js';
import { ConcordError, ErrorCode } from '../protocol/errors.js';
import type { RunConfig, TrainConfig } from '../protocol/messages.js';
import type { Instruction, MemberRef } from '../strategies/strategy.js';
import type { MemberRoundMetrics } from '../storage/storage.js';
import { declaredResources } from './resource-routes.js';
import type { RoundExtensions } from './round-loop.js';
import { problemsOfError, type RunExtension } from './run-compiler.js';

export type PlanPeriod = 'round' | 'run';

export interface SolvedRunPlan {
  plan: PlanResult;
  period: PlanPeriod;
  /** Units of work per round by member name. */
  unitsPerRound: Record<string, number>;
}

const MAX_EPOCHS = 1000;

function planError(field: string, message: string, expected: unknown, received: unknown, cause?: unknown): ConcordError {
  return new ConcordError(ErrorCode.INVALID_ARGUMENT, message, { details: { field, expected, received }, ...(cause ? { cause } : {}) });
}

/** Solves a run's plan, or returns null when it has none; a plan without an optimum is refused with the solver's reason. */
export async function solveRunPlan(config: RunConfig): Promise<SolvedRunPlan | null> {
  if (!config.plan) return null;
  const { resources, period = 'round', ...options } = config.plan as Record<string, unknown> & { resources: unknown; period?: unknown };
  if (period !== 'round' && period !== 'run') throw planError('plan.period', `period must be "round" or "run", got ${JSON.stringify(period)}`, ['round', 'run'], period);
  if (config.differentialPrivacy?.level === 'sample') {
    throw planError(
      'plan',
      'a plan changes each member\'s local epochs, but sample-level DP charges every member the run\'s train.epochs; plans and sample-level differential privacy cannot be combined yet',
      'no plan with differentialPrivacy.level "sample"',
      'plan',
    );
  }
  const plan = await solvePlan(resources as Parameters<typeof solvePlan>[0], options as Parameters<typeof solvePlan>[1], { options: ['plan'], resources: ['plan', 'resources'] });
  if (plan.status !== 'optimal') throw planError('plan', `no plan (${plan.status}): ${plan.explanation ?? ''}`, 'a feasible, bounded plan', plan.status);
  const unitsPerRound = Object.fromEntries(plan.allocation.map((a) => [a.name, period === 'run' ? a.units / config.rounds : a.units]));
  return { plan, period, unitsPerRound };
}

/**
 * A resource plan as a run extension. Without `resources`, the members' own declarations
 * (`concord resources set`) are copied into the run, which keeps what it was planned with.
 */
export const resourcePlanExtension: RunExtension = {
  field: 'plan',
  async check(config, _strategies, { storage }) {
    const plan = config.plan!;
    if (plan.resources === undefined) {
      const declared = await declaredResources(storage);
      if (!declared) return [{ path: 'plan.resources', message: 'the run plan names no resources and no member has declared any (concord resources set)' }];
      plan.resources = declared;
    }
    try {
      await solveRunPlan(config);
      return [];
    } catch (error) {
      return problemsOfError(error, ['plan']);
    }
  },
  stages: (run) => planExtensions(run.config),
};

/**
 * Local epochs and a step cap that make a member with `numExamples` examples process about
 * `units` examples: whole epochs, then enough batches of the next one.
 */
export function assignWork(units: number, numExamples: number, train: TrainConfig): { config: TrainConfig; units: number } {
  const target = Math.max(1, Math.round(units));
  const fullEpochs = Math.floor(target / numExamples);
  const remainder = target - fullEpochs * numExamples;
  const stepsPerEpoch = Math.ceil(numExamples / train.batchSize);
  const epochs = Math.min(MAX_EPOCHS, fullEpochs + (remainder > 0 ? 1 : 0));
  const { maxSteps: _old, ...rest } = train;
  if (remainder === 0 || epochs === MAX_EPOCHS) return { config: { ...rest, epochs }, units: Math.min(target, epochs * numExamples) };
  return { config: { ...rest, epochs, maxSteps: fullEpochs * stepsPerEpoch + Math.ceil(remainder / train.batchSize) }, units: target };
}

/** The round-loop stages of a run's plan: selection and work per member, and planned units in the round's metrics. */
export function planExtensions(config: RunConfig): RoundExtensions {
  if (!config.plan) return {};
  let solved: Promise<SolvedRunPlan | null> | undefined;
  const planned = new Map<number, Map<string, number>>();
  return {
    async select(round: number, plan: Instruction[], available: MemberRef[]): Promise<Instruction[]> {
      const s = (await (solved ??= solveRunPlan(config)))!;
      const byId = new Map(available.map((m) => [m.memberId, m]));
      const units = new Map<string, number>();
      const selected: Instruction[] = [];
      for (const instruction of plan) {
        const member = byId.get(instruction.memberId);
        const allotted = member ? (s.unitsPerRound[member.name] ?? 0) : 0;
        if (!member || !(allotted > 0) || member.numExamples === 0) continue;
        const work = assignWork(allotted, member.numExamples, instruction.config);
        units.set(member.memberId, work.units);
        selected.push({ ...instruction, config: work.config });
      }
      planned.set(round, units);
      return selected;
    },
    roundMetrics(round: number, train: MemberRoundMetrics[]) {
      const units = planned.get(round) ?? new Map<string, number>();
      planned.delete(round);
      return {
        trainMetrics: { plannedUnits: [...units.values()].reduce((s, u) => s + u, 0) },
        members: train.map((m) => (units.has(m.memberId) ? { ...m, metrics: { ...m.metrics, plannedUnits: units.get(m.memberId)! } } : m)),
      };
    },
  };
}

export interface PlanExecution {
  plan: PlanResult;
  period: PlanPeriod;
  unitsPerRound: Record<string, number>;
  /** Per round and member: units planned and examples the member reported processing. */
  rounds: { round: number; planned: number; actual: number; members: { name: string; planned: number; actual: number }[] }[];
  total: { planned: number; actual: number };
}

/** The plan next to what the rounds did, from the stored per-member metrics. */
export async function planExecution(
  config: RunConfig,
  rows: readonly (MemberRoundMetrics & { round: number })[],
  nameOf: (memberId: string) => string,
): Promise<PlanExecution | null> {
  const solved = await solveRunPlan(config);
  if (!solved) return null;
  const byRound = new Map<number, PlanExecution['rounds'][number]>();
  for (const row of rows) {
    if (row.phase !== 'train') continue;
    const r = byRound.get(row.round) ?? { round: row.round, planned: 0, actual: 0, members: [] };
    byRound.set(row.round, r);
    const planned = row.metrics.plannedUnits ?? 0;
    const actual = row.metrics.examplesProcessed ?? 0;
    r.members.push({ name: nameOf(row.memberId), planned, actual });
    r.planned += planned;
    r.actual += actual;
  }
  const rounds = [...byRound.values()].sort((a, b) => a.round - b.round);
  return {
    ...solved,
    rounds,
    total: { planned: rounds.reduce((s, r) => s + r.planned, 0), actual: rounds.reduce((s, r) => s + r.actual, 0) },
  };
}
