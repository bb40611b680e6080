// The strategy interface: configure/aggregate pairs in the manner of Flower. A strategy
// decides who trains and with what settings, and turns results into the next global
// model. It never touches the network: the round loop (coordinator/round-loop.ts) drives
// it through a Grid. Failures arrive as data; returning null keeps the current model.

import type { Parameters } from '../protocol/tensors.js';
import type { RunConfig, TrainConfig } from '../protocol/messages.js';

export interface MemberRef {
  memberId: string;
  name: string;
  numExamples: number;
  /** Holdout examples the member enrolled with; bounds the weight of its evaluations. */
  numHoldout?: number;
  /** Name of the dataset the member enrolled with (its descriptor). */
  datasetName?: string;
}

export interface RoundContext {
  serverRound: number;
  parameters: Parameters;
  /** Members online now, in a stable order. */
  available: MemberRef[];
  config: RunConfig;
  /** Deterministic per (run seed, round): selection is reproducible. */
  random: () => number;
}

export interface Instruction {
  memberId: string;
  config: TrainConfig;
}

export interface TrainResult {
  memberId: string;
  parameters: Parameters;
  numExamples: number;
  metrics: Record<string, number>;
}

export interface EvaluateResult {
  memberId: string;
  numExamples: number;
  loss: number;
  metrics: Record<string, number>;
}

export interface Failure {
  memberId: string;
  reason: string;
}

export interface TrainAggregate {
  parameters: Parameters;
  metrics: Record<string, number>;
}

export interface EvaluateAggregate {
  loss: number;
  metrics: Record<string, number>;
}

/**
 * What a strategy needs, so that privacy and governance can ask instead of recognising
 * strategies by name. `sum`: its aggregate is a function of the weighted sum of updates, so
 * it works under secure aggregation (the coordinator sees only that sum) and on one noised
 * average (client-level DP). `individual`: it inspects each update (medians, distances,
 * per-update norms), which secure aggregation hides and DP noise on the sum does not cover.
 */
export interface StrategyTraits {
  aggregates: 'sum' | 'individual';
  /** Its aggregate of one noised, clipped average is meaningful (client-level DP-FedAvg wraps it). */
  acceptsNoisedAverage: boolean;
  /**
   * Its aggregate of a round's results is its aggregate of one result, their example-weighted
   * mean carrying their total examples (metrics aside), so the coordinator may sum updates as
   * they arrive (round-loop.ts). Not so for DP-FedAvg, which weighs members equally and clips.
   */
  aggregatesMean: boolean;
}

export const SUM_TRAITS: StrategyTraits = { aggregates: 'sum', acceptsNoisedAverage: true, aggregatesMean: true };
export const INDIVIDUAL_TRAITS: StrategyTraits = { aggregates: 'individual', acceptsNoisedAverage: false, aggregatesMean: false };

export interface Strategy {
  readonly name: string;
  readonly traits: StrategyTraits;
  /** The strategy a wrapper (validation, DP) adds to; absent for a plain strategy. */
  readonly inner?: Strategy;
  configureTrain(ctx: RoundContext): Instruction[];
  aggregateTrain(serverRound: number, current: Parameters, results: TrainResult[], failures: Failure[]): TrainAggregate | null;
  configureEvaluate(ctx: RoundContext): Instruction[];
  aggregateEvaluate(serverRound: number, results: EvaluateResult[], failures: Failure[]): EvaluateAggregate | null;
  /** Results the last aggregateTrain refused to use (e.g. update validation), as failures. */
  lastRejections?(): Failure[];
  /** Server-side optimizer state (momentum, moments); checkpointed each round so a restart resumes exactly. */
  saveState(): Parameters | null;
  loadState(state: Parameters | null): void;
}
