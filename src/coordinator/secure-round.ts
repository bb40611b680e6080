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

import { createHash, randomInt } from 'node:crypto';
import { FedAvg } from '../strategies/fedavg.js';
import { z } from 'zod';
import { ConcordError, ErrorCode, isConcordError } from '../protocol/errors.js';
import { assertSameSpecs, makeParameters } from '../protocol/tensors.js';
import { MASKED_VECTOR_TENSOR, maskedVectorSpec } from '../privacy/secagg/wire.js';
import { DifferentiallyPrivateStrategy } from '../privacy/dp/dp-fedavg.js';
import { defaultNeighbourCount, defaultThreshold } from '../privacy/secagg/graph.js';
import { type SecAggConfig, type SecAggRequest, type SecAggStage, makeSecAggConfig, toBase64 } from '../privacy/secagg/protocol.js';
import { type SecAggResult, SecAggServer, type SecAggStep, type SecAggUnmaskPlan, describeExclusion } from '../privacy/secagg/server.js';
import type { MasterAggregator, ShardedAggregation } from '../distributed/master-aggregator.js';
import { combinePartials } from '../distributed/partial.js';
import { type Problem, parseWith, problemsError } from '../protocol/problems.js';
import type { Failure, Strategy, TrainAggregate } from '../strategies/strategy.js';
import type { MemberRoundMetrics, RunRecord } from '../storage/storage.js';
import type { RunConfig } from '../protocol/messages.js';
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
export function secureAggregationExtension(options: { log?: (message: string) => void; shards?: (run: RunRecord) => Promise<MasterAggregator> } = {}): RunExtension {
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
      problems.push(...sharedProblems(config));
      return problems;
    },
    stages: (run, strategy, grid) => {
      // A run with hierarchical aggregation secures each shard group (the compiler has made sure this coordinator has shards).
      const shards = run.config.hierarchicalAggregation && options.shards ? options.shards : undefined;
      return { secureTrain: secureTrainPhase({ run, grid, strategy, ...(options.log ? { log: options.log } : {}), ...(shards ? { shards: () => shards(run) } : {}) }) };
    },
    // FedBuff: each buffer is a cohort of K members that run SecAgg+ together (async-loop.ts).
    async: {
      check(config, schedule) {
        const problems: Problem[] = [];
        if (schedule.bufferSize < 2) problems.push({ path: 'strategy.options.bufferSize', message: `is ${schedule.bufferSize}; with secure aggregation a buffer is one secure sum, which needs at least 2 members` });
        if (schedule.concurrency !== undefined && schedule.concurrency < schedule.bufferSize) {
          problems.push({ path: 'strategy.options.concurrency', message: `is ${schedule.concurrency}; with secure aggregation a buffer's ${schedule.bufferSize} members train together, so at least ${schedule.bufferSize} must be able to train at once` });
        }
        if (config.differentialPrivacy?.level === 'client') {
          problems.push({ path: 'differentialPrivacy.level', message: 'client-level DP in asynchronous rounds clips each arriving update on the coordinator, which secure aggregation per buffer hides from it' });
        }
        problems.push(...sharedProblems(config));
        return problems;
      },
      stages(run, schedule, _storage, grid) {
        // Uniform weighting (FedBuff's default): every member masks its delta with weight 1, so the secure mean is the plain one.
        const phase = secureTrainPhase({ run, grid, strategy: new FedAvg(), uniformWeights: schedule.weighting === 'uniform', ...(options.log ? { log: options.log } : {}) });
        return {
          secureCohort: (cohort) =>
            // A fresh random attempt number per cohort: the round seed (and so every key derivation) is never reused, across restarts too.
            phase({ round: cohort.version + 1, attempt: randomInt(2 ** 31), current: cohort.base, plan: cohort.plan, deadline: cohort.deadline, signal: cohort.signal }),
        };
      },
    },
  };
}

/** What synchronous and asynchronous secure runs both refuse: kept updates, and options that do not parse. */
function sharedProblems(config: RunConfig): Problem[] {
  const problems: Problem[] = [];
  if (config.keepUpdates === true) problems.push({ path: 'keepUpdates', message: 'keeping updates needs individual updates, which secure aggregation hides from the coordinator' });
  try {
    parseSecureAggregationOptions(config.secureAggregationOptions);
  } catch (error) {
    problems.push(...problemsOfError(error, ['secureAggregationOptions']));
  }
  return problems;
}

/**
 * The public round seed: a hash of (run, round, attempt, and the shard group when the round
 * is secured per group), so anyone can recompute the neighbour graph and no server can pick it.
 */
export function secureRoundSeed(runId: string, round: number, attempt: number, group?: number): Uint8Array {
  return new Uint8Array(createHash('sha256').update(`concord-secagg-round-seed\u0000${runId}\u0000${round}\u0000${attempt}${group === undefined ? '' : `\u0000group ${group}`}`).digest());
}

export interface SecureTrainPhaseOptions {
  run: RunRecord;
  grid: Grid;
  strategy: Strategy;
  log?: (message: string) => void;
  /**
   * Secure aggregation per shard group (hierarchical aggregation): the round's members are
   * dealt into the master's groups, each group runs its own SecAgg+ instance, its masked
   * vectors go to its shard aggregator, which takes the group's masks off their sum; the
   * coordinator adds the groups' sums. Each group holds at least minGroupSize members.
   */
  shards?: () => Promise<MasterAggregator>;
  /** Every member masks its delta with weight 1 (FedBuff's uniform weighting) instead of its example count. */
  uniformWeights?: boolean;
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
    const master = options.shards ? await options.shards() : null;
    try {
      return await securedRound(context, settings, master);
    } finally {
      await master?.close();
    }
  };

  async function securedRound(context: SecureTrainContext, settings: { options: SecureAggregationOptions; dp: DifferentiallyPrivateStrategy | null }, master: MasterAggregator | null): Promise<SecureTrainOutcome> {
    const { dp } = settings;
    const { round, current, plan, signal } = context;
    const adaptive = dp !== null && dp.options.adaptiveClipping !== undefined;
    const P = current.data.length;
    const planned = plan.map((i) => i.memberId);
    const groups = master ? master.groupsFor(planned) : [planned];
    const sizes = { vectorLength: adaptive ? P + 1 : P, maxWeight: dp || options.uniformWeights ? 1 : largestWeight(grid, planned) };
    const configs = groups.map((ids, g) => roundConfig(context, ids, master ? g : undefined, settings.options, sizes));
    // Without shards this process sums the masked vectors; with them, each group's shard does.
    const servers = configs.map((config) => new SecAggServer(config, { sumsMaskedVectors: master === null }));
    const groupOf = new Map(groups.flatMap((ids, g) => ids.map((id) => [id, g] as const)));
    const instructions = new Map(plan.map((i) => [i.memberId, i.config]));
    const tallies = new Map<string, MemberTally>();
    const failures = new Map<string, string>();
    const started = Date.now();
    const span = Math.max(0, context.deadline - started);
    const where = (g: number) => (groups.length > 1 ? ` in group ${g}` : '');
    for (const [g, config] of configs.entries()) {
      log(`round ${round}: secure aggregation of ${config.memberIds.length} members${master ? ` in shard group ${g}` : ''} (k = ${config.neighbours}, t = ${config.threshold}, ${config.bits} bits, ±${config.clippingRange})`);
    }
    const aggregation = master ? await master.begin({ runId: run.runId, round, groups }) : null;
    try {
      /** Members a server left out after `after` for want of neighbours: named with the neighbours they lacked. */
      const noteExclusions = (after: SecAggStage): void => {
        for (const server of servers) {
          for (const e of server.excluded()) if (e.after === after) failures.set(e.memberId, `secure aggregation ${after}: excluded, ${describeExclusion(e)}`);
        }
      };

      let stage: SecAggStage = 'setup';
      let requests = new Map<string, SecAggRequest>(servers.flatMap((server) => [...server.start()]));
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
        const published: Promise<void>[] = [];
        for (const reply of exchanged.replies) {
          tally(tallies, reply, stage);
          const g = groupOf.get(reply.memberId)!;
          try {
            const message = readReply(reply, stage, sizes.vectorLength + 1);
            if ('vector' in message) {
              servers[g]!.receiveMaskedVector(message.header, message.vector);
              // Accepted by the group's protocol: now its shard may have it.
              if (aggregation) published.push(aggregation.publish(g, { memberId: reply.memberId, kind: 'masked', weight: 0, bytes: new Uint8Array(message.vector.buffer, message.vector.byteOffset, message.vector.byteLength) }));
            } else {
              servers[g]!.receive(message.payload);
            }
          } catch (error) {
            const reason = isConcordError(error) ? `reply refused (${error.code}): ${error.message}` : 'reply refused';
            failures.set(reply.memberId, `secure aggregation ${stage}: ${reason}`);
          }
        }
        await Promise.all(published);
        for (const f of exchanged.failures) failures.set(f.memberId, `secure aggregation ${stage}: ${f.reason}`);
        if (stage === 'unmask') break;

        const next = new Map<string, SecAggRequest>();
        for (const [g, server] of servers.entries()) {
          let step: SecAggStep;
          try {
            step = server.advance();
          } catch (error) {
            noteExclusions(stage);
            if (isConcordError(error) && error.code === ErrorCode.NOT_ENOUGH_MEMBERS) {
              throw new ConcordError(ErrorCode.NOT_ENOUGH_MEMBERS, `secure aggregation failed after ${stage}${where(g)}: ${error.message}${describe(failures)}`, { details: error.details, cause: error });
            }
            throw error;
          }
          if (step.done) throw new ConcordError(ErrorCode.INTERNAL, `secure aggregation ended after ${stage}`);
          for (const [id, request] of step.requests) next.set(id, request);
        }
        noteExclusions(stage);
        // After collectMaskedVectors the contributors are fixed: stop before unmasking a sum too small to release.
        if (next.size < run.config.minTrainMembers) {
          const what = stage === 'collectMaskedVectors' ? 'sent a masked update' : `remain after ${stage}`;
          throw new ConcordError(
            ErrorCode.NOT_ENOUGH_MEMBERS,
            `secure aggregation: only ${next.size} members ${what}, the minimum is ${run.config.minTrainMembers}${describe(failures)}`,
            { details: { field: 'minTrainMembers', expected: run.config.minTrainMembers, received: next.size, stage } },
          );
        }
        stage = servers[0]!.stage as SecAggStage;
        requests = next;
      }

      const result = await unmaskedSum(servers, aggregation, P, signal, where, () => describe(failures));
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
          deltaSum: Float32Array.from(result.weightedSum.subarray(0, P)),
          members: contributors.length,
          ...(adaptive ? { unclippedSum: result.weightedSum[P]! } : {}),
        });
      } else {
        const next = new Float32Array(P);
        for (let i = 0; i < P; i++) next[i] = current.data[i]! + result.average[i]!;
        const sum = { memberId: 'secure-aggregate', parameters: makeParameters(current.specs, next), numExamples: Math.max(1, Math.round(result.totalWeight)), metrics: {} };
        aggregate = strategy.aggregateTrain(round, current, [sum], failed);
        // The strategy saw one synthetic result; the round's metrics count the real contributors (and the groups, when sharded).
        if (aggregate) aggregate = { ...aggregate, metrics: { ...aggregate.metrics, members: contributors.length, ...(master ? { shards: groups.length } : {}) } };
      }
      log(`round ${round}: secure aggregate of ${contributors.length} members${master ? ` in ${groups.length} shard groups` : ''} (total weight ${result.totalWeight.toFixed(1)}), ${failed.length} dropped`);
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
    } finally {
      await aggregation?.dispose();
    }
  }

  /**
   * Closes unmask. One group here: the server's own result. Per shard group: each group's
   * masks go to its shard, which unmasks the group's sum; the groups' sums are added in float64.
   */
  async function unmaskedSum(servers: SecAggServer[], aggregation: ShardedAggregation | null, P: number, signal: AbortSignal, where: (g: number) => string, failuresText: () => string): Promise<{ weightedSum: Float32Array | Float64Array; totalWeight: number; average: Float32Array; contributors: string[] }> {
    const close = (g: number, f: () => void) => {
      try {
        f();
      } catch (error) {
        if (isConcordError(error) && error.code === ErrorCode.NOT_ENOUGH_MEMBERS) {
          throw new ConcordError(ErrorCode.NOT_ENOUGH_MEMBERS, `secure aggregation failed after unmask${where(g)}: ${error.message}${failuresText()}`, { details: error.details, cause: error });
        }
        throw error;
      }
    };
    if (!aggregation) {
      let result: SecAggResult | undefined;
      close(0, () => {
        const step = servers[0]!.advance();
        if (step.done) result = step.result;
      });
      if (!result) throw new ConcordError(ErrorCode.INTERNAL, 'secure aggregation did not end after unmask');
      return result;
    }
    const plans = servers.map((server, g) => {
      let plan: SecAggUnmaskPlan | undefined;
      close(g, () => (plan = server.unmaskPlan()));
      return plan!;
    });
    for (const [g, plan] of plans.entries()) {
      await aggregation.close(g, { members: plan.contributors, length: servers[g]!.config.vectorLength, secure: { config: servers[g]!.config, masks: plan.masks.map((m) => ({ seed: toBase64(m.seed), sign: m.sign })) } });
    }
    const combined = combinePartials(await aggregation.collect(signal));
    return { weightedSum: combined.weightedSum, totalWeight: combined.totalWeight, average: combined.average.subarray(0, P), contributors: combined.members };
  }

  function roundConfig(context: SecureTrainContext, memberIds: string[], group: number | undefined, opts: SecureAggregationOptions, sizes: { vectorLength: number; maxWeight: number }): SecAggConfig {
    const n = memberIds.length;
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
        memberIds,
        vectorLength: sizes.vectorLength,
        roundSeed: secureRoundSeed(run.runId, context.round, context.attempt, group),
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

/** The protocol message in a member's reply: its payload, or for masking its header and the masked vector from the frame's uint32 tensor. */
function readReply(reply: TaskReply, stage: SecAggStage, elements: number): { payload: Record<string, unknown> } | { header: Record<string, unknown>; vector: Uint32Array } {
  const payload = reply.header.payload;
  const invalid = (message: string, field: string, expected: unknown, received: unknown) => new ConcordError(ErrorCode.INVALID_MESSAGE, message, { details: { field, expected, received } });
  if (payload === undefined) throw invalid(`a ${stage} reply must carry its message in payload`, 'payload', 'object', 'absent');
  // The grid authenticated the sender; the message must not speak for another member.
  if (payload.memberId !== reply.memberId) throw invalid(`payload.memberId is ${JSON.stringify(payload.memberId)}, but the reply came from ${reply.memberId}`, 'payload.memberId', reply.memberId, payload.memberId);
  if (stage !== 'collectMaskedVectors') {
    if (reply.parameters) throw invalid(`a ${stage} reply carries no tensors`, 'tensors', 'none', reply.parameters.specs.length);
    return { payload };
  }
  if ('maskedVector' in payload) throw invalid('the masked vector travels as the uint32 tensor of the frame, not in payload', 'payload.maskedVector', 'absent', 'present');
  if (!reply.parameters) throw invalid('a collectMaskedVectors reply must carry the masked vector as a tensor', 'tensors', MASKED_VECTOR_TENSOR, 'none');
  assertSameSpecs([maskedVectorSpec(elements)], reply.parameters.specs);
  const data = reply.parameters.data;
  return { header: payload, vector: new Uint32Array(data.buffer, data.byteOffset, data.length) };
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
