// The member's side of secure aggregation (SecAgg+, Bonawitz et al. 2017; Bell et al. 2020 —
// privacy/secagg) as a TaskHandler wrapper: withSecureAggregation(handler) answers the four
// `secagg` stages the coordinator sends (coordinator/secure-round.ts) and passes plain train
// and evaluate tasks to the inner handler. One SecAggMember per (run, round, round seed)
// keeps the member's keys and the shares it holds between stages; nothing of it is stored.
//
// The masking stage (collectMaskedVectors) carries the global model θ and the train settings
// in task.config. The wrapper runs the inner handler's train(task, θ), which returns
// parameters θ_k, and masks, depending on task.config.privacy:
//   - none or sample level (DP-SGD inside training): w·(θ_k − θ) with w = numExamples
//     (capped at the round's maxWeight, the largest enrolled size);
//   - client level in distributed mode (DP-FedAvg without a trusted coordinator): the inner handler has already clipped and noised
//     the update (θ_k = θ + privatized Δ, privacy/dp/member.ts), so the wrapper masks θ_k − θ
//     with weight 1, followed by the `dpUnclipped` metric as one more element when the round's
//     vector has room for it (adaptive clipping).
// The masked vector travels as a uint32 tensor in the result frame, never as a float and never
// in JSON; the other stages reply with JSON payloads only. Training metrics stay on the member:
// with secure aggregation the coordinator sees sums, not per-member losses.
//
// Any refusal — a stage out of order, a round this member did not set up, a protocol check
// that fails — declines the task (ConcordError FORBIDDEN) with the reason, so the coordinator
// counts the member as dropped at once instead of waiting for the deadline.

import { MASKED_VECTOR_TENSOR, maskedVectorParameters, maskedVectorSpec } from '../privacy/secagg/wire.js';
import { ConcordError, ErrorCode, isConcordError } from '../protocol/errors.js';
import type { TaskHeader } from '../protocol/messages.js';
import { type Parameters, assertSameSpecs } from '../protocol/tensors.js';
import { UNCLIPPED_METRIC } from '../privacy/dp/member.js';
import { type MemberUpdate, SecAggMember } from '../privacy/secagg/member.js';
import type { SecAggPrimitives } from '../privacy/secagg/primitives.js';
import { type KeyAuthenticator, type SecAggConfig, STAGES, type SecAggStage, decodeRingVector, validateSecAggConfig } from '../privacy/secagg/protocol.js';
import type { SecaggOutcome, TaskHandler, TrainOutcome } from './member.js';

/** The tensor that carries a masked vector (vectorLength + 1 ring elements) in a result frame. */
export { MASKED_VECTOR_TENSOR, maskedVectorParameters, maskedVectorSpec };

export interface SecureAggregationHandlerOptions {
  /** This member's enrolled id (CoordinatorClient.credentials.memberId); the round's member list is checked against it. */
  memberId: () => string | null | undefined;
  /**
   * The cryptography: nodePrimitives (privacy/secagg/primitives-node.ts) in Node,
   * noblePrimitives (primitives-noble.ts) in a browser. Required, so that this module, which
   * the browser member bundles, never pulls node:crypto in by a default.
   */
  primitives: SecAggPrimitives;
  /** Signs this member's keys and checks its neighbours'. Default: unsigned keys. */
  keyAuthenticator?: KeyAuthenticator;
  log?: (line: string) => void;
}

interface RoundState {
  runId: string;
  member: SecAggMember;
  config: SecAggConfig;
}

/** Rounds kept at once; a new setup for a run also drops that run's older rounds. */
const MAX_ROUNDS = 8;

export function withSecureAggregation(handler: TaskHandler, options: SecureAggregationHandlerOptions): TaskHandler {
  const log = options.log ?? (() => undefined);
  const rounds = new Map<string, RoundState>();

  async function answer(task: TaskHeader, global: Parameters | null): Promise<SecaggOutcome> {
    const stage = stageOf(task);
    const payload = task.payload ?? {};
    if (stage === 'setup') {
      const memberId = options.memberId();
      if (!memberId) throw new ConcordError(ErrorCode.FORBIDDEN, 'this member does not know its enrolled id yet', { details: { field: 'memberId' } });
      const config = validateSecAggConfig(payload.config, 'payload.config');
      const member = new SecAggMember({ memberId, primitives: options.primitives, ...(options.keyAuthenticator ? { keyAuthenticator: options.keyAuthenticator } : {}) });
      const reply = member.setup(payload);
      // A new setup for a run ends whatever that run had pending (an older round or attempt).
      for (const [key, state] of rounds) if (state.runId === task.runId) rounds.delete(key);
      while (rounds.size >= MAX_ROUNDS) rounds.delete(rounds.keys().next().value!);
      rounds.set(keyOf(task, config.roundSeed), { runId: task.runId, member, config });
      return { payload: { ...reply } };
    }

    const key = keyOf(task, payload.roundSeed);
    const state = rounds.get(key);
    if (!state) {
      throw new ConcordError(ErrorCode.FORBIDDEN, `no secure-aggregation setup of round ${task.round} with this round seed; the ${stage} request is refused`, {
        details: { field: 'payload.roundSeed', expected: 'the seed of a round this member set up', received: payload.roundSeed },
      });
    }
    if (stage === 'shareKeys') return { payload: { ...state.member.shareKeys(payload) } };
    if (stage === 'unmask') {
      const reply = state.member.unmask(payload);
      rounds.delete(key);
      return { payload: { ...reply } };
    }

    if (!global) throw new ConcordError(ErrorCode.INVALID_MESSAGE, 'the collectMaskedVectors task carries no global model', { details: { field: 'tensors', expected: 'the model' } });
    const trained = await handler.train(task, global);
    const update = contribution(task, global, trained, state.config, log);
    const { maskedVector, ...reply } = state.member.collectMaskedVectors(payload, update);
    const vector = decodeRingVector(maskedVector, state.config.vectorLength + 1, 'maskedVector');
    return { payload: reply, parameters: maskedVectorParameters(vector), numExamples: trained.numExamples };
  }

  return {
    train: (task, global) => handler.train(task, global),
    evaluate: (task, global) => handler.evaluate(task, global),
    async secagg(task, global) {
      try {
        return await answer(task, global);
      } catch (error) {
        const key = keyOf(task, task.payload?.roundSeed ?? (task.payload?.config as { roundSeed?: unknown } | undefined)?.roundSeed);
        rounds.delete(key);
        if (isConcordError(error) && error.code === ErrorCode.FORBIDDEN) throw error;
        const reason = isConcordError(error) ? `${error.code}: ${error.message}` : error instanceof Error ? error.message : String(error);
        log(`round ${task.round} secure aggregation ${task.stage}: refused: ${reason}`);
        throw new ConcordError(ErrorCode.FORBIDDEN, `secure aggregation ${task.stage} refused: ${reason}`, { details: isConcordError(error) ? error.details : {}, cause: error });
      }
    },
  };
}

function stageOf(task: TaskHeader): SecAggStage {
  const stage = task.stage;
  if (!(STAGES as readonly string[]).includes(stage ?? '')) {
    throw new ConcordError(ErrorCode.INVALID_MESSAGE, `unknown secure-aggregation stage ${JSON.stringify(stage)}`, { details: { field: 'stage', expected: STAGES.join(' | '), received: stage } });
  }
  return stage as SecAggStage;
}

function keyOf(task: TaskHeader, roundSeed: unknown): string {
  return `${task.runId}\u0000${task.round}\u0000${String(roundSeed)}`;
}

/** What this member adds to the sum: its weighted delta, or its privatized delta (and indicator) under distributed DP. */
function contribution(task: TaskHeader, global: Parameters, trained: TrainOutcome, config: SecAggConfig, log: (line: string) => void): MemberUpdate {
  assertSameSpecs(global.specs, trained.parameters.specs);
  const P = global.data.length;
  const privacy = task.config.privacy;
  if (privacy?.level === 'client' && privacy.mode !== 'distributed') {
    throw new ConcordError(ErrorCode.INVALID_ARGUMENT, 'client-level DP in central mode clips on the coordinator, which cannot see updates under secure aggregation', {
      details: { field: 'config.privacy.mode', expected: 'distributed', received: privacy.mode },
    });
  }
  const distributed = privacy?.level === 'client';
  const withIndicator = config.vectorLength === P + 1;
  if (config.vectorLength !== P && !withIndicator) {
    throw new ConcordError(ErrorCode.SHAPE_MISMATCH, `the round aggregates ${config.vectorLength} values; the model has ${P}`, {
      details: { field: 'config.vectorLength', expected: P, received: config.vectorLength },
    });
  }
  const data = new Float32Array(config.vectorLength);
  const local = trained.parameters.data;
  let clipped = 0;
  for (let i = 0; i < P; i++) {
    const d = local[i]! - global.data[i]!;
    if (Math.abs(d) > config.clippingRange) clipped++;
    data[i] = d;
  }
  if (withIndicator) {
    const indicator = trained.metrics[UNCLIPPED_METRIC];
    if (!distributed || typeof indicator !== 'number' || !Number.isFinite(indicator)) {
      throw new ConcordError(ErrorCode.INVALID_ARGUMENT, `the round sums one more element, the noised "${UNCLIPPED_METRIC}" indicator of distributed DP, which this member's training did not report`, {
        details: { field: `metrics.${UNCLIPPED_METRIC}`, expected: 'finite number', received: indicator },
      });
    }
    data[P] = indicator;
  }
  // Coordinates beyond ±c are clipped by quantization, which changes the update: say so.
  if (clipped > 0) log(`round ${task.round}: ${clipped} of ${P} update values exceed the secure-aggregation range ±${config.clippingRange} and are clipped`);
  const weight = distributed ? 1 : Math.min(trained.numExamples, config.maxWeight);
  if (!distributed && trained.numExamples > config.maxWeight) log(`round ${task.round}: weight ${trained.numExamples} capped at the round's maxWeight ${config.maxWeight}`);
  return { data, weight };
}
