// Update validation before aggregation, added to any strategy by composition:
// withUpdateValidation(inner) checks each train result — tensors of the model's shape, only
// finite values, a whole example count, finite metrics — and the L2 norm of its delta
// θ_k − θ against the round's median delta norm. A result that fails becomes a Failure with
// the reason, instead of being aggregated or failing the round; every outcome feeds the
// member's reputation (reputation.ts). The inner strategy sees only accepted results.
//
// State: saveState() is one set of float32 tensors, so the round loop checkpoints and
// restores reputation atomically with the inner strategy's state: the inner's tensors as
// `strategy/<name>` and one tensor per member `reputation/<memberId>` = [accepted, rejected,
// score, lastRound]. For display, reputation() returns the same record as JSON.

import { z } from 'zod';
import { ConcordError, ErrorCode, isConcordError } from '../protocol/errors.js';
import { type Parameters, type TensorSpec, assertFinite, assertSameSpecs, sizeOf, totalSize } from '../protocol/tensors.js';
import { distancesTo, medianOf } from '../core/robust.js';
import { parseOptions } from './options.js';
import { ReputationBook, type ReputationSnapshot } from './reputation.js';
import { INDIVIDUAL_TRAITS, type EvaluateAggregate, type EvaluateResult, type Failure, type Instruction, type RoundContext, type Strategy, type TrainAggregate, type TrainResult } from './strategy.js';

export const UpdateValidationOptionsSchema = z
  .object({
    /** Reject a delta whose L2 norm exceeds this multiple of the round's median delta norm. Default 10. */
    maxNormRatio: z.number().finite().min(1).default(10),
    /** λ, the weight of the past in a member's reputation score, in [0, 1). Default 0.8. */
    reputationDecay: z.number().finite().min(0).lt(1).default(0.8),
  })
  .strict();
export type UpdateValidationOptions = z.input<typeof UpdateValidationOptionsSchema>;

export interface ValidationOutcome {
  accepted: TrainResult[];
  /** Refused results, in input order, each with the reason. */
  rejected: Failure[];
  /** The median delta norm over the well-formed results; NaN when there are none. */
  medianNorm: number;
}

const STRATEGY_PREFIX = 'strategy/';
const REPUTATION_PREFIX = 'reputation/';

/** Three significant digits: 53.1, 12.4, 4.3. */
const fmt = (x: number): string => String(Number(x.toPrecision(3)));

function checkResult(current: Parameters, r: TrainResult, i: number): void {
  const field = `results[${i}]`;
  assertSameSpecs(current.specs, r.parameters.specs, `${field}.parameters.tensors`);
  const n = totalSize(current.specs);
  if (r.parameters.data.length !== n) {
    throw new ConcordError(ErrorCode.SHAPE_MISMATCH, `${field}.parameters holds ${r.parameters.data.length} values but its manifest describes ${n}`, {
      details: { field: `${field}.parameters.data`, expected: n, received: r.parameters.data.length },
    });
  }
  assertFinite(r.parameters, `${field}.parameters.tensors`);
  if (!Number.isInteger(r.numExamples) || r.numExamples < 0) {
    throw new ConcordError(ErrorCode.INVALID_ARGUMENT, `${field}.numExamples is ${r.numExamples}; it must be a non-negative integer`, {
      details: { field: `${field}.numExamples`, expected: 'integer >= 0', received: r.numExamples },
    });
  }
  for (const [key, value] of Object.entries(r.metrics)) {
    if (typeof value !== 'number' || !Number.isFinite(value)) {
      throw new ConcordError(ErrorCode.NON_FINITE, `${field}.metrics.${key} is ${String(value)}; metrics must be finite numbers`, {
        details: { field: `${field}.metrics.${key}`, expected: 'finite number', received: String(value) },
      });
    }
  }
}

/**
 * Splits a round's results into accepted and rejected. Malformed results (shape, non-finite
 * values, bad counts or metrics) are rejected first; then a delta whose norm exceeds
 * maxNormRatio × the median delta norm of the well-formed results. When that median is 0
 * (most members sent the model back unchanged) there is no scale to compare with and the
 * norm check is skipped.
 */
export function validateUpdates(current: Parameters, results: readonly TrainResult[], options: { maxNormRatio?: number } = {}): ValidationOutcome {
  const { maxNormRatio } = parseOptions('update validation', UpdateValidationOptionsSchema, { maxNormRatio: options.maxNormRatio });
  const rejectedAt = new Map<number, string>();
  const wellFormed: number[] = [];
  results.forEach((r, i) => {
    try {
      checkResult(current, r, i);
      wellFormed.push(i);
    } catch (error) {
      if (!isConcordError(error)) throw error;
      rejectedAt.set(i, `invalid update: ${error.message}`);
    }
  });
  const norms = wellFormed.length === 0 ? new Float64Array(0) : distancesTo(current.data, wellFormed.map((i) => results[i]!.parameters.data));
  const medianNorm = medianOf(Array.from(norms));
  if (medianNorm > 0) {
    wellFormed.forEach((i, k) => {
      const ratio = norms[k]! / medianNorm;
      if (ratio > maxNormRatio) {
        rejectedAt.set(i, `delta norm ${fmt(norms[k]!)} is ${fmt(ratio)}× the round median ${fmt(medianNorm)}; limit ${fmt(maxNormRatio)}×`);
      }
    });
  }
  const accepted: TrainResult[] = [];
  const rejected: Failure[] = [];
  results.forEach((r, i) => {
    const reason = rejectedAt.get(i);
    if (reason === undefined) accepted.push(r);
    else rejected.push({ memberId: r.memberId, reason });
  });
  return { accepted, rejected, medianNorm };
}

export interface ValidatedStrategy extends Strategy {
  readonly inner: Strategy;
  readonly options: z.output<typeof UpdateValidationOptionsSchema>;
  /** Every member's record so far, sorted by memberId. */
  reputation(): ReputationSnapshot;
  /** The results the last aggregateTrain refused, with reasons (for the round's record). */
  lastRejections(): Failure[];
}

class UpdateValidation implements ValidatedStrategy {
  readonly name: string;
  /** It inspects each update's norm. */
  readonly traits = INDIVIDUAL_TRAITS;
  readonly options: z.output<typeof UpdateValidationOptionsSchema>;
  private book: ReputationBook;
  private rejections: Failure[] = [];

  constructor(
    readonly inner: Strategy,
    options: UpdateValidationOptions,
  ) {
    this.name = `${inner.name}+validation`;
    this.options = parseOptions('update validation', UpdateValidationOptionsSchema, options);
    this.book = new ReputationBook({ decay: this.options.reputationDecay });
  }

  configureTrain(ctx: RoundContext): Instruction[] {
    return this.inner.configureTrain(ctx);
  }

  /** The inner aggregate of the accepted results, plus the metric `rejected` (how many were refused). */
  aggregateTrain(serverRound: number, current: Parameters, results: TrainResult[], failures: Failure[]): TrainAggregate | null {
    const { accepted, rejected } = validateUpdates(current, results, this.options);
    const out = this.inner.aggregateTrain(serverRound, current, accepted, [...failures, ...rejected]);
    this.rejections = rejected;
    const refused = new Set(rejected.map((f) => f.memberId));
    for (const r of results) this.book.record(r.memberId, serverRound, !refused.has(r.memberId));
    return out === null ? null : { parameters: out.parameters, metrics: { ...out.metrics, rejected: rejected.length } };
  }

  configureEvaluate(ctx: RoundContext): Instruction[] {
    return this.inner.configureEvaluate(ctx);
  }

  aggregateEvaluate(serverRound: number, results: EvaluateResult[], failures: Failure[]): EvaluateAggregate | null {
    return this.inner.aggregateEvaluate(serverRound, results, failures);
  }

  reputation(): ReputationSnapshot {
    return this.book.snapshot();
  }

  lastRejections(): Failure[] {
    return this.rejections.map((f) => ({ ...f }));
  }

  /** The inner state as `strategy/<name>` and the reputation as `reputation/<memberId>`; null when both are empty. */
  saveState(): Parameters | null {
    const inner = this.inner.saveState();
    const reputation = this.book.toTensors(REPUTATION_PREFIX);
    if (inner === null && reputation.specs.length === 0) return null;
    const innerSpecs = inner?.specs.map((s) => ({ name: `${STRATEGY_PREFIX}${s.name}`, shape: [...s.shape] })) ?? [];
    const innerData = inner?.data ?? new Float32Array(0);
    const data = new Float32Array(innerData.length + reputation.data.length);
    data.set(innerData);
    data.set(reputation.data, innerData.length);
    return { specs: [...innerSpecs, ...reputation.specs], data };
  }

  loadState(state: Parameters | null): void {
    if (state === null) {
      this.inner.loadState(null);
      this.book.clear();
      this.rejections = [];
      return;
    }
    if (state.data.length !== totalSize(state.specs)) {
      throw new ConcordError(ErrorCode.SHAPE_MISMATCH, `${this.name} state holds ${state.data.length} values but its manifest describes ${totalSize(state.specs)}`, {
        details: { field: 'state.data', expected: totalSize(state.specs), received: state.data.length },
      });
    }
    const innerSpecs: TensorSpec[] = [];
    const innerSlices: Float32Array[] = [];
    const reputation: { name: string; memberId: string; values: Float32Array }[] = [];
    let offset = 0;
    state.specs.forEach((s, i) => {
      const values = state.data.subarray(offset, offset + sizeOf(s.shape));
      offset += values.length;
      if (s.name.startsWith(STRATEGY_PREFIX)) {
        innerSpecs.push({ name: s.name.slice(STRATEGY_PREFIX.length), shape: [...s.shape] });
        innerSlices.push(values);
      } else if (s.name.startsWith(REPUTATION_PREFIX) && s.name.length > REPUTATION_PREFIX.length) {
        reputation.push({ name: s.name, memberId: s.name.slice(REPUTATION_PREFIX.length), values });
      } else {
        throw new ConcordError(ErrorCode.INVALID_ARGUMENT, `${this.name} state tensor ${s.name} should be named ${STRATEGY_PREFIX}<tensor> or ${REPUTATION_PREFIX}<memberId>`, {
          details: { field: `state.tensors[${i}].name`, expected: `${STRATEGY_PREFIX}<tensor> | ${REPUTATION_PREFIX}<memberId>`, received: s.name },
        });
      }
    });
    // Parse everything before changing anything: a refused state leaves this strategy as it was.
    const book = new ReputationBook({ decay: this.options.reputationDecay });
    book.loadTensors(reputation, 'state.tensors');
    if (innerSpecs.length === 0) {
      this.inner.loadState(null);
    } else {
      const data = new Float32Array(innerSlices.reduce((n, v) => n + v.length, 0));
      let at = 0;
      for (const v of innerSlices) {
        data.set(v, at);
        at += v.length;
      }
      this.inner.loadState({ specs: innerSpecs, data });
    }
    this.book = book;
    this.rejections = [];
  }
}

/**
 * Wraps a strategy so that malformed or outsized updates are refused (as failures with a
 * reason) before it aggregates, and every member's record is kept. Options: maxNormRatio
 * (default 10), reputationDecay (default 0.8); a bad option is INVALID_ARGUMENT naming it.
 */
export function withUpdateValidation(inner: Strategy, options: UpdateValidationOptions = {}): ValidatedStrategy {
  return new UpdateValidation(inner, options);
}
