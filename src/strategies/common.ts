// What every strategy in this folder shares: member selection, defensive checks on
// results (the coordinator validates too; a strategy must not average garbage), and
// example-weighted means of the metrics members report.

import { ConcordError, ErrorCode, isConcordError } from '../protocol/errors.js';
import { type Parameters, assertFinite, assertSameSpecs, totalSize } from '../protocol/tensors.js';
import { sampleMembers } from '../core/sampling.js';
import type { EvaluateResult, Instruction, RoundContext, TrainResult } from './strategy.js';
import type { TrainConfig } from '../protocol/messages.js';

/** The task's train config in this round: the run's, at this round's learning rate. */
export function roundTrainConfig(ctx: Pick<RoundContext, 'config' | 'serverRound'>): TrainConfig {
  const { learningRateDecay, ...train } = ctx.config.train;
  return { ...train, learningRate: train.learningRate * learningRateDecay ** Math.max(0, ctx.serverRound - 1) };
}

/** Selects fractionTrain of the available members (at least minTrainMembers) and gives each the round's train config. */
export function selectForTraining(ctx: RoundContext, config: (ctx: RoundContext) => TrainConfig = roundTrainConfig): Instruction[] {
  const members = sampleMembers(ctx.available, ctx.config.fractionTrain, ctx.config.minTrainMembers, ctx.random);
  return members.map((m) => ({ memberId: m.memberId, config: config(ctx) }));
}

/** Selects fractionEvaluate of the available members (at least minEvaluateMembers); none when the fraction is 0. */
export function selectForEvaluation(ctx: RoundContext): Instruction[] {
  if (ctx.config.fractionEvaluate === 0) return [];
  const members = sampleMembers(ctx.available, ctx.config.fractionEvaluate, ctx.config.minEvaluateMembers, ctx.random);
  return members.map((m) => ({ memberId: m.memberId, config: roundTrainConfig(ctx) }));
}

function withMember<T>(memberId: string, check: () => T): T {
  try {
    return check();
  } catch (error) {
    if (!isConcordError(error)) throw error;
    throw new ConcordError(error.code, `result of member ${memberId}: ${error.message}`, { details: { ...error.details, memberId }, cause: error });
  }
}

function checkCount(value: number, field: string): void {
  if (!Number.isInteger(value) || value < 0) {
    throw new ConcordError(ErrorCode.INVALID_ARGUMENT, `${field} is ${value}; it must be a non-negative integer`, {
      details: { field, expected: 'integer >= 0', received: value },
    });
  }
}

function checkMetrics(metrics: Record<string, number>, field: string): void {
  for (const [key, value] of Object.entries(metrics)) {
    if (typeof value !== 'number' || !Number.isFinite(value)) {
      throw new ConcordError(ErrorCode.NON_FINITE, `${field}.${key} is ${String(value)}; metrics must be finite numbers`, {
        details: { field: `${field}.${key}`, expected: 'finite number', received: String(value) },
      });
    }
  }
}

/** Throws SHAPE_MISMATCH / NON_FINITE / INVALID_ARGUMENT naming the member and field of the first bad result. */
export function checkTrainResults(current: Parameters, results: readonly TrainResult[]): void {
  const n = totalSize(current.specs);
  results.forEach((r, i) =>
    withMember(r.memberId, () => {
      const field = `results[${i}]`;
      assertSameSpecs(current.specs, r.parameters.specs, `${field}.parameters.tensors`);
      if (r.parameters.data.length !== n) {
        throw new ConcordError(ErrorCode.SHAPE_MISMATCH, `${field}.parameters holds ${r.parameters.data.length} values but its manifest describes ${n}`, {
          details: { field: `${field}.parameters.data`, expected: n, received: r.parameters.data.length },
        });
      }
      assertFinite(r.parameters, `${field}.parameters.tensors`);
      checkCount(r.numExamples, `${field}.numExamples`);
      checkMetrics(r.metrics, `${field}.metrics`);
    }),
  );
}

export function checkEvaluateResults(results: readonly EvaluateResult[]): void {
  results.forEach((r, i) =>
    withMember(r.memberId, () => {
      const field = `results[${i}]`;
      checkCount(r.numExamples, `${field}.numExamples`);
      if (!Number.isFinite(r.loss)) {
        throw new ConcordError(ErrorCode.NON_FINITE, `${field}.loss is ${r.loss}; it must be a finite number`, {
          details: { field: `${field}.loss`, expected: 'finite number', received: String(r.loss) },
        });
      }
      checkMetrics(r.metrics, `${field}.metrics`);
    }),
  );
}

export function totalExamples(results: readonly { numExamples: number }[]): number {
  return results.reduce((sum, r) => sum + r.numExamples, 0);
}

/**
 * Each metric key's mean weighted by numExamples over the results that report it, plus
 * `numExamples` (the total) and `members` (how many results).
 */
export function aggregateMetrics(results: readonly { numExamples: number; metrics: Record<string, number> }[]): Record<string, number> {
  const sums = new Map<string, { weighted: number; weight: number }>();
  for (const r of results) {
    for (const [key, value] of Object.entries(r.metrics)) {
      const s = sums.get(key) ?? { weighted: 0, weight: 0 };
      s.weighted += r.numExamples * value;
      s.weight += r.numExamples;
      sums.set(key, s);
    }
  }
  const out: Record<string, number> = {};
  for (const [key, s] of sums) if (s.weight > 0) out[key] = s.weighted / s.weight;
  out.numExamples = totalExamples(results);
  out.members = results.length;
  return out;
}
