// The train phase of a round under secure aggregation (SecAgg+, Bonawitz et al. 2017; Bell
// et al. 2020 — privacy/secagg): instead of one train task per member, the coordinator
// drives the protocol's four stages through the grid as `secagg` tasks and learns only the
// sum of the members' masked contributions. It plugs into the round loop as
// RoundExtensions.secureTrain.
//
// What a member masks is its weighted delta w·(θ_k − θ) with w = numExamples (node/
// secagg-handler.ts), not w·θ_k: the average is the same, θ + Σ w Δ / Σ w = Σ w θ_k / Σ w, but
// deltas are small, so the quantization range ±clippingRange (default 8) fits them where
// whole models might not. Under distributed differential privacy (DP-FedAvg with members
// clipping and noising, privacy/dp) members mask their privatized delta with weight 1, plus
// their noised "unclipped" indicator as one more element when the clipping norm adapts; the
// coordinator hands the sum to DifferentiallyPrivateStrategy.aggregateDeltaSum.
//
// Deadlines: the round's deadline covers the whole protocol. Each stage ends once every
// member asked has answered or failed, or at its share of the round's time, whichever comes
// first: setup by 10 %, shareKeys by 20 %, collectMaskedVectors (where members train) by
// 85 %, unmask by the deadline itself.
//
// Dropouts and failures: a member whose task fails (deadline, silence, decline, rejection) or
// whose reply the protocol refuses simply does not answer that stage; the SecAgg+ server
// recovers its masks from its neighbours' shares. When too few answers or shares remain —
// or fewer contributors than run.config.minTrainMembers — the phase throws NOT_ENOUGH_MEMBERS
// naming the shortfall, which the round loop turns into a failed attempt.
//
// The coordinator never holds an individual unmasked update: it receives public keys,
// ciphertexts it cannot open, masked vectors (uniform in Z_2^32), and shares; it stores and
// logs only the unmasked sum, per-member byte counts and timings, and failure reasons.

import { createHash } from 'node:crypto';
import { z } from 'zod';
import { ConcordError, ErrorCode, isConcordError } from '../protocol/errors.js';
import { assertSameSpecs, makeParameters } from '../protocol/tensors.js';
import { MASKED_VECTOR_TENSOR, maskedVectorSpec } from '../privacy/secagg/wire.js';
import { DifferentiallyPrivateStrategy } from '../privacy/dp/dp-fedavg.js';
import { defaultNeighbourCount, defaultThreshold } from '../privacy/secagg/graph.js';
import { type SecAggConfig, type SecAggRequest, type SecAggStage, encodeRingVector, makeSecAggConfig } from '../privacy/secagg/protocol.js';
import { type SecAggResult, SecAggServer, type SecAggStep, describeExclusion } from '../privacy/secagg/server.js';
import { type Problem, parseWith, problemsError } from '../protocol/problems.js';
import type { Failure, Strategy, TrainAggregate } from '../strategies/strategy.js';
import type { MemberRoundMetrics, RunRecord } from '../storage/storage.js';
import type { Grid, OutgoingTask, TaskReply } from './grid.js';
import type { SecureTrainContext, SecureTrainOutcome } from './round-loop.js';
import { problemsOfError, type RunExtension } from './run-compiler.js';

export const SecureAggregationOptionsSchema = z
  .object({
    /**
     * k, neighbours per member. Default min(N − 1, ⌈2·log2 N⌉ rounded up to even). A value
     * above N − 1 becomes N − 1 (the complete graph), and an odd k with an odd number of
     * members is raised by one (no odd-regular graph exists then): both only add neighbours.
     */
    neighbours: z.number().int().min(1).optional(),
    /** t, shares that rebuild a secret. Default ⌊(k + 1)/2⌋ + 1, a majority of each secret's k + 1 holders. */
    threshold: z.number().int().min(2).optional(),
    /** c: each coordinate of a member's delta is clipped to ±c before quantization. Default 8. */
    clippingRange: z.number().finite().positive().optional(),
    /** Fixed-point bits per member. Default 32 − ⌈log2 N⌉, the most that cannot overflow. */
    bits: z.number().int().min(2).max(32).optional(),
  })
  .strict();
export type SecureAggregationOptions = z.output<typeof SecureAggregationOptionsSchema>;

/** When each stage must be over, as a fraction of the time from the phase's start to the round deadline. */
const STAGE_END: Record<SecAggStage, number> = { setup: 0.1, shareKeys: 0.2, collectMaskedVectors: 0.85, unmask: 1 };

/** Parses RunConfig.secureAggregationOptions; bad or unknown options are one INVALID_ARGUMENT listing them all. */
export function parseSecureAggregationOptions(options: unknown): SecureAggregationOptions {
  const parsed = parseWith(SecureAggregationOptionsSchema, options ?? {}, 'secure aggregation options', { prefix: ['secureAggregationOptions'] });
  const { neighbours: k, threshold: t } = parsed;
  // A secret has k + 1 holders (the member and its neighbours); more members cannot help here.
  if (k !== undefined && t !== undefined && t > k + 1) {
    throw new ConcordError(ErrorCode.INVALID_ARGUMENT, `secureAggregationOptions.threshold is ${t}; with ${k} neighbours a secret has only ${k + 1} holders`, {
      details: { field: 'secureAggregationOptions.threshold', expected: `<= ${k + 1}`, received: t },
    });
  }
  return parsed;
}

/** What in a strategy (or a wrapper of it) needs each update, with the configuration field to change. */
function individualNeeds(strategy: Strategy): Problem[] {
  const problems: Problem[] = [];
  for (let s: Strategy | undefined = strategy, depth = 0; s !== undefined; s = s.inner, depth++) {
    if (s instanceof DifferentiallyPrivateStrategy) {
      if (depth > 0) problems.push({ path: 'differentialPrivacy', message: `differential privacy must be the outermost strategy wrapper to run with secure aggregation; ${strategy.name} wraps it` });
      if (s.options.mode !== 'distributed') {
        problems.push({ path: 'differentialPrivacy.mode', message: 'differential privacy in central mode clips each update on the coordinator, which secure aggregation hides from it; use mode "distributed", where members clip and noise' });
      }
      continue;
    }
    if (s.traits.aggregates === 'sum') continue;
    problems.push(
      s.inner !== undefined
        ? { path: 'updateValidation', message: `${s.name} inspects each update, which secure aggregation hides from the coordinator` }
        : { path: 'strategy.name', message: `${s.name} needs individual updates; it cannot run with secure aggregation, where the coordinator only sees their sum (use a strategy that aggregates a weighted sum: fedavg, fedprox, fedavgm, fedadam, fedyogi, fedadagrad)` },
    );
  }
  return problems;
}

/**
 * Refuses strategies that cannot work on a sum: robust aggregators need each update, and
 * central DP clips each update on the coordinator. Returns the DP strategy in distributed
 * mode, if that is what runs.
 */
export function checkSecureStrategy(strategy: Strategy): DifferentiallyPrivateStrategy | null {
  const problems = individualNeeds(strategy);
  if (problems.length > 0) throw problemsError('secure aggregation', problems);
  for (let s: Strategy | undefined = strategy; s !== undefined; s = s.inner) if (s instanceof DifferentiallyPrivateStrategy) return s;
  return null;
}

/** Secure aggregation as a run extension: the train phase of every round becomes the SecAgg+ protocol. */
export function secureAggregationExtension(options: { log?: (message: string) => void } = {}): RunExtension {
  return {
    field: 'secureAggregation',
    // From the configuration and the strategy's traits, so every conflict is named at once;
    // secureTrainPhase checks the wrapped strategy itself again when a round starts.
    check(config, { base }) {
      const problems: Problem[] = [];
      if (base.traits.aggregates !== 'sum') {
        problems.push({ path: 'strategy.name', message: `${base.name} needs individual updates; it cannot run with secure aggregation, where the coordinator only sees their sum (use a strategy that aggregates a weighted sum: fedavg, fedprox, fedavgm, fedadam, fedyogi, fedadagrad)` });
      }
      if (config.updateValidation) problems.push({ path: 'updateValidation', message: 'update validation inspects each update, which secure aggregation hides from the coordinator' });
      if (config.keepUpdates === true) problems.push({ path: 'keepUpdates', message: 'keeping updates needs individual updates, which secure aggregation hides from the coordinator' });
      try {
        parseSecureAggregationOptions(config.secureAggregationOptions);
      } catch (error) {
        problems.push(...problemsOfError(error, ['secureAggregationOptions']));
      }
      return problems;
    },
    stages: (run, strategy, grid) => ({ secureTrain: secureTrainPhase({ run, grid, strategy, ...(options.log ? { log: options.log } : {}) }) }),
  };
}

/** The public round seed: a hash of (run, round, attempt), so anyone can recompute the neighbour graph and no server can pick it. */
export function secureRoundSeed(runId: string, round: number, attempt: number): Uint8Array {
  return new Uint8Array(createHash('sha256').update(`concord-secagg-round-seed\u0000${runId}\u0000${round}\u0000${attempt}`).digest());
}

export interface SecureTrainPhaseOptions {
  run: RunRecord;
  grid: Grid;
  strategy: Strategy;
  log?: (message: string) => void;
}

interface MemberTally {
  bytesIn: number;
  bytesOut: number;
  seconds: number;
  stages: number;
  numExamples: number;
}

/**
 * The round loop's secureTrain extension. Configuration problems (unknown option, a
 * strategy that needs individual updates) are thrown from the first round as
 * INVALID_ARGUMENT, which ends the run with that message.
 */
export function secureTrainPhase(options: SecureTrainPhaseOptions): (context: SecureTrainContext) => Promise<SecureTrainOutcome> {
  const { run, grid, strategy } = options;
  const log = options.log ?? (() => undefined);
  let settings: { options: SecureAggregationOptions; dp: DifferentiallyPrivateStrategy | null } | undefined;
  let refusal: unknown;
  try {
    settings = { options: parseSecureAggregationOptions(run.config.secureAggregationOptions), dp: checkSecureStrategy(strategy) };
  } catch (error) {
    refusal = error;
  }

  return async (context) => {
    if (!settings) throw refusal;
    const { dp } = settings;
    const { round, current, plan, signal } = context;
    const adaptive = dp !== null && dp.options.adaptiveClipping !== undefined;
    const P = current.data.length;
    const config = roundConfig(context, settings.options, { vectorLength: adaptive ? P + 1 : P, maxWeight: dp ? 1 : largestWeight(grid, plan.map((i) => i.memberId)) });
    const server = new SecAggServer(config);
    const instructions = new Map(plan.map((i) => [i.memberId, i.config]));
    const tallies = new Map<string, MemberTally>();
    const failures = new Map<string, string>();
    const started = Date.now();
    const span = Math.max(0, context.deadline - started);
    log(`round ${round}: secure aggregation of ${config.memberIds.length} members (k = ${config.neighbours}, t = ${config.threshold}, ${config.bits} bits, ±${config.clippingRange})`);

    /** Members the server left out after `after` for want of neighbours: named with the neighbours they lacked. */
    const noteExclusions = (after: SecAggStage): void => {
      for (const e of server.excluded()) {
        if (e.after === after) failures.set(e.memberId, `secure aggregation ${after}: excluded, ${describeExclusion(e)}`);
      }
    };

    let stage: SecAggStage = 'setup';
    let requests: Map<string, SecAggRequest> = server.start();
    let result: SecAggResult;
    for (;;) {
      const tasks: OutgoingTask[] = [...requests].map(([memberId, request]) => ({
        memberId,
        kind: 'secagg',
        runId: run.runId,
        round,
        model: run.config.model,
        config: instructions.get(memberId)!,
        stage,
        payload: request as unknown as Record<string, unknown>,
        // Only the masking stage trains, so only it carries the global model.
        ...(stage === 'collectMaskedVectors' ? { parameters: current } : {}),
      }));
      const deadline = Math.min(context.deadline, started + Math.round(span * STAGE_END[stage]));
      const exchanged = await grid.sendAndReceive(tasks, { deadline, signal });
      if (signal.aborted) return { aggregate: null, participants: [], failures: [], members: [] };
      for (const reply of exchanged.replies) {
        tally(tallies, reply, stage);
        try {
          server.receive(readReply(reply, stage, config.vectorLength + 1));
        } catch (error) {
          const reason = isConcordError(error) ? `reply refused (${error.code}): ${error.message}` : 'reply refused';
          failures.set(reply.memberId, `secure aggregation ${stage}: ${reason}`);
        }
      }
      for (const f of exchanged.failures) failures.set(f.memberId, `secure aggregation ${stage}: ${f.reason}`);

      let step: SecAggStep;
      try {
        step = server.advance();
      } catch (error) {
        noteExclusions(stage);
        if (isConcordError(error) && error.code === ErrorCode.NOT_ENOUGH_MEMBERS) {
          throw new ConcordError(ErrorCode.NOT_ENOUGH_MEMBERS, `secure aggregation failed after ${stage}: ${error.message}${describe(failures)}`, { details: error.details, cause: error });
        }
        throw error;
      }
      if (step.done) {
        result = step.result;
        break;
      }
      noteExclusions(stage);
      // After collectMaskedVectors the contributors are fixed: stop before unmasking a sum too small to release.
      if (step.requests.size < run.config.minTrainMembers) {
        const what = stage === 'collectMaskedVectors' ? 'sent a masked update' : `remain after ${stage}`;
        throw new ConcordError(
          ErrorCode.NOT_ENOUGH_MEMBERS,
          `secure aggregation: only ${step.requests.size} members ${what}, the minimum is ${run.config.minTrainMembers}${describe(failures)}`,
          { details: { field: 'minTrainMembers', expected: run.config.minTrainMembers, received: step.requests.size, stage } },
        );
      }
      stage = step.stage;
      requests = step.requests;
    }

    const contributors = result.contributors;
    for (const id of contributors) {
      // A contributor that missed unmask still counts: its self-mask came from its neighbours' shares.
      const reason = failures.get(id);
      if (reason !== undefined) log(`round ${round}: ${id} contributed but ${reason}`);
      failures.delete(id);
    }
    const failed: Failure[] = [...failures].map(([memberId, reason]) => ({ memberId, reason }));
    let aggregate: TrainAggregate | null;
    if (dp) {
      aggregate = dp.aggregateDeltaSum(round, current, {
        deltaSum: result.weightedSum.slice(0, P),
        members: contributors.length,
        ...(adaptive ? { unclippedSum: result.weightedSum[P]! } : {}),
      });
    } else {
      const next = new Float32Array(P);
      for (let i = 0; i < P; i++) next[i] = current.data[i]! + result.average[i]!;
      const sum = { memberId: 'secure-aggregate', parameters: makeParameters(current.specs, next), numExamples: Math.max(1, Math.round(result.totalWeight)), metrics: {} };
      aggregate = strategy.aggregateTrain(round, current, [sum], failed);
      // The strategy saw one synthetic result; the round's metrics count the real contributors.
      if (aggregate) aggregate = { ...aggregate, metrics: { ...aggregate.metrics, members: contributors.length } };
    }
    log(`round ${round}: secure aggregate of ${contributors.length} members (total weight ${result.totalWeight.toFixed(1)}), ${failed.length} dropped`);
    return {
      aggregate,
      participants: contributors,
      failures: failed,
      members: [...tallies].map(([memberId, t]): MemberRoundMetrics => ({
        memberId,
        phase: 'train',
        numExamples: t.numExamples,
        loss: null,
        metrics: { secaggStages: t.stages },
        bytesIn: t.bytesIn,
        bytesOut: t.bytesOut,
        seconds: t.seconds,
      })),
    };
  };

  function roundConfig(context: SecureTrainContext, opts: SecureAggregationOptions, sizes: { vectorLength: number; maxWeight: number }): SecAggConfig {
    const n = context.plan.length;
    if (n < 2) {
      throw new ConcordError(ErrorCode.NOT_ENOUGH_MEMBERS, `secure aggregation needs at least 2 members; ${n} selected`, { details: { field: 'members', expected: '>= 2', received: n } });
    }
    let neighbours = Math.min(n - 1, opts.neighbours ?? defaultNeighbourCount(n));
    if (neighbours % 2 === 1 && n % 2 === 1) neighbours = Math.min(n - 1, neighbours + 1);
    const threshold = opts.threshold ?? defaultThreshold(neighbours);
    // Options were checked against each other; here only too few members can leave too few holders.
    if (threshold > neighbours + 1) {
      throw new ConcordError(
        ErrorCode.NOT_ENOUGH_MEMBERS,
        `secure aggregation: threshold ${threshold} needs ${threshold} holders per secret, but ${n} members give each secret only ${neighbours + 1}`,
        { details: { field: 'secureAggregationOptions.threshold', expected: `<= ${neighbours + 1}`, received: threshold } },
      );
    }
    try {
      return makeSecAggConfig({
        memberIds: context.plan.map((i) => i.memberId),
        vectorLength: sizes.vectorLength,
        roundSeed: secureRoundSeed(run.runId, context.round, context.attempt),
        neighbours,
        threshold,
        maxWeight: sizes.maxWeight,
        ...(opts.clippingRange !== undefined ? { clippingRange: opts.clippingRange } : {}),
        ...(opts.bits !== undefined ? { bits: opts.bits } : {}),
      });
    } catch (error) {
      if (!isConcordError(error) || typeof error.details.field !== 'string') throw error;
      const field = error.details.field.replace(/^config\./, 'secureAggregationOptions.');
      throw new ConcordError(error.code, error.message.replace(/config\./g, 'secureAggregationOptions.'), { details: { ...error.details, field }, cause: error });
    }
  }
}

/** The largest enrolled numExamples among the members: weights are encoded as fractions of it. */
function largestWeight(grid: Grid, memberIds: string[]): number {
  const wanted = new Set(memberIds);
  const sizes = grid.available().filter((m) => wanted.has(m.memberId)).map((m) => m.numExamples);
  return Math.max(1, ...sizes);
}

/** The protocol message in a member's reply: its payload, with the masked vector from the frame's uint32 tensor. */
function readReply(reply: TaskReply, stage: SecAggStage, elements: number): Record<string, unknown> {
  const payload = reply.header.payload;
  const invalid = (message: string, field: string, expected: unknown, received: unknown) => new ConcordError(ErrorCode.INVALID_MESSAGE, message, { details: { field, expected, received } });
  if (payload === undefined) throw invalid(`a ${stage} reply must carry its message in payload`, 'payload', 'object', 'absent');
  // The grid authenticated the sender; the message must not speak for another member.
  if (payload.memberId !== reply.memberId) throw invalid(`payload.memberId is ${JSON.stringify(payload.memberId)}, but the reply came from ${reply.memberId}`, 'payload.memberId', reply.memberId, payload.memberId);
  if (stage !== 'collectMaskedVectors') {
    if (reply.parameters) throw invalid(`a ${stage} reply carries no tensors`, 'tensors', 'none', reply.parameters.specs.length);
    return payload;
  }
  if ('maskedVector' in payload) throw invalid('the masked vector travels as the uint32 tensor of the frame, not in payload', 'payload.maskedVector', 'absent', 'present');
  if (!reply.parameters) throw invalid('a collectMaskedVectors reply must carry the masked vector as a tensor', 'tensors', MASKED_VECTOR_TENSOR, 'none');
  assertSameSpecs([maskedVectorSpec(elements)], reply.parameters.specs);
  const data = reply.parameters.data;
  return { ...payload, maskedVector: encodeRingVector(new Uint32Array(data.buffer, data.byteOffset, data.length)) };
}

function tally(tallies: Map<string, MemberTally>, reply: TaskReply, stage: SecAggStage): void {
  const t = tallies.get(reply.memberId) ?? { bytesIn: 0, bytesOut: 0, seconds: 0, stages: 0, numExamples: 0 };
  t.bytesIn += reply.bytesIn;
  t.bytesOut += reply.bytesOut;
  t.seconds += reply.seconds;
  t.stages++;
  if (stage === 'collectMaskedVectors') t.numExamples = reply.header.numExamples;
  tallies.set(reply.memberId, t);
}

function describe(failures: Map<string, string>): string {
  if (failures.size === 0) return '';
  return ` (${[...failures].map(([id, reason]) => `${id}: ${reason}`).join('; ')})`;
}
