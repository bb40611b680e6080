// The round loop: one function that drives any Strategy through any Grid.
//   select → send global model → collect updates until the deadline → aggregate →
//   federated evaluation on members' holdouts → (server evaluation) → persist.
// A round commits atomically (storage.saveRound); on start the loop resumes after the
// last committed round, restoring the checkpoint and the strategy's optimizer state, so a
// coordinator killed at any point neither loses nor repeats a completed round.

import { seededRandom } from '../core/random.js';
import { StreamingMean } from '../core/streaming-mean.js';
import { aggregateMetrics, checkTrainResults } from '../strategies/common.js';
import { ConcordError, ErrorCode } from '../protocol/errors.js';
import { makeParameters, totalSize, type Parameters } from '../protocol/tensors.js';
import type { TrainConfig } from '../protocol/messages.js';
import type { EvaluateResult, Failure, Instruction, MemberRef, Strategy, TrainAggregate, TrainResult } from '../strategies/strategy.js';
import type { AuditEntry } from '../governance/audit.js';
import type { CompletedRound, MemberRoundMetrics, MemberUpdate, PrivacyCharge, RunEvent, RunRecord, RunStore } from '../storage/storage.js';
import { keepsUpdates } from './contributions.js';
import { workTotals } from './footprint.js';
import type { Grid, OutgoingTask, TaskReply } from './grid.js';

export interface ServerEvaluation {
  loss: number;
  metrics: Record<string, number>;
}

/** What a secure train phase hands back: only aggregates, never an individual update. */
export interface SecureTrainOutcome {
  /** The strategy's aggregate built from the secure sum, or null to keep the model. */
  aggregate: TrainAggregate | null;
  participants: string[];
  failures: Failure[];
  members: MemberRoundMetrics[];
}

export interface SecureTrainContext {
  round: number;
  attempt: number;
  current: Parameters;
  plan: Instruction[];
  deadline: number;
  signal: AbortSignal;
}

/**
 * Optional stages that privacy and governance plug into the loop, so they wrap the round
 * rather than fork it.
 */
export interface RoundExtensions {
  /** Narrows or re-configures the strategy's selection before anything is checked or sent (a resource plan). */
  select?(round: number, plan: Instruction[], available: MemberRef[]): Promise<Instruction[]>;
  /** Called once members are selected; a thrown FORBIDDEN error refuses the round and ends the run with its message. */
  admit?(round: number, selected: MemberRef[], available: MemberRef[]): Promise<void>;
  /** Adjusts one member's task settings for the round (e.g. differential-privacy parameters). */
  configure?(round: number, instruction: Instruction, member: MemberRef | undefined): TrainConfig;
  /** Adjusts one member's evaluate-task settings (e.g. the run's harmonised preprocessing). */
  configureEvaluate?(round: number, instruction: Instruction): TrainConfig;
  /** Replaces the clear-text exchange and aggregation of updates (secure aggregation). */
  secureTrain?(context: SecureTrainContext): Promise<SecureTrainOutcome>;
  /**
   * Computes the weighted mean of the round's checked updates elsewhere (hierarchical
   * aggregation); the strategy then aggregates that one mean instead of the updates.
   */
  aggregateUpdates?(context: { round: number; attempt: number; current: Parameters; results: TrainResult[]; signal: AbortSignal }): Promise<ElsewhereAggregate>;
  /** Privacy spent by a completed round; stored in the same transaction. */
  charges?(round: number, selected: MemberRef[], available: MemberRef[], participants: string[]): Promise<PrivacyCharge[]>;
  /** Adds to the round's train metrics and members' rows before they are stored (e.g. planned work). */
  roundMetrics?(round: number, train: MemberRoundMetrics[]): { trainMetrics?: Record<string, number>; members?: MemberRoundMetrics[] };
}

/**
 * What aggregateUpdates computed: the weighted mean for the strategy to aggregate as one
 * result, or the strategy's aggregate itself (when it had to release a sum its own way, as
 * DP-FedAvg does with a clipped sum).
 */
export type ElsewhereAggregate = { mean: TrainResult; metrics: Record<string, number> } | { aggregate: TrainAggregate | null; metrics: Record<string, number> };

export interface FederationOptions {
  run: RunRecord;
  storage: RunStore;
  grid: Grid;
  strategy: Strategy;
  signal: AbortSignal;
  /** Evaluates the global model on a held-out set the coordinator holds, if any. */
  serverEvaluate?: (parameters: Parameters) => Promise<ServerEvaluation>;
  /** Pause between failed attempts of a round. Default 2 s. */
  retryDelayMs?: number;
  onEvent?: (event: RunEvent) => void;
  /** The audit entries that record a completed round, committed in the round's own transaction. */
  roundAudit?: (round: CompletedRound) => Promise<(last: AuditEntry | undefined) => AuditEntry[]>;
  /** Called once a round is committed. */
  onRoundSaved?: (round: CompletedRound) => void | Promise<void>;
  extensions?: RoundExtensions;
}

export async function runFederation(options: FederationOptions): Promise<void> {
  const { run, storage, grid, strategy, signal } = options;
  const ext = options.extensions ?? {};
  const config = run.config;
  const event = async (round: number | null, kind: string, message: string): Promise<void> => {
    const e: RunEvent = { runId: run.runId, round, kind, message, at: Date.now() };
    await storage.addEvent(e);
    options.onEvent?.(e);
  };

  const last = await storage.lastRound(run.runId);
  let parameters: Parameters;
  if (last) {
    const checkpoint = await storage.getCheckpoint(run.runId, last.round);
    if (!checkpoint) throw new ConcordError(ErrorCode.STORAGE, `run ${run.runId} has round ${last.round} but no checkpoint for it`);
    parameters = checkpoint.parameters;
    strategy.loadState(checkpoint.strategyState);
    await event(last.round, 'resumed', `resuming after round ${last.round} of ${config.rounds}`);
  } else {
    const initial = await storage.getInitialParameters(run.runId);
    if (!initial) throw new ConcordError(ErrorCode.STORAGE, `run ${run.runId} has no initial parameters`);
    parameters = initial;
    strategy.loadState(null);
  }
  await storage.setRunStatus(run.runId, 'running');

  for (let round = (last?.round ?? 0) + 1; round <= config.rounds; round++) {
    let attempt = 0;
    for (;;) {
      if (signal.aborted) return;
      attempt++;
      let outcome: Awaited<ReturnType<typeof runRound>>;
      try {
        outcome = await runRound(round, attempt, parameters);
      } catch (error) {
        if (error instanceof ConcordError && error.code === ErrorCode.FORBIDDEN) {
          await storage.setRunStatus(run.runId, 'failed', error.message);
          await event(round, 'run-refused', `round ${round} refused: ${error.message}`);
          return;
        }
        throw error;
      }
      if (outcome.ok) {
        parameters = outcome.parameters;
        break;
      }
      // Stopped or shutting down mid-round: not a failed attempt, nothing to record.
      if (signal.aborted) return;
      await event(round, 'round-retry', `round ${round} attempt ${attempt} of ${config.maxRoundAttempts} failed: ${outcome.reason}`);
      if (attempt >= config.maxRoundAttempts) {
        const message = `round ${round} failed ${attempt} times; last: ${outcome.reason}`;
        await storage.setRunStatus(run.runId, 'failed', message);
        await event(round, 'run-failed', message);
        return;
      }
      // The strategy's state may have moved during the failed attempt; restore it.
      const cp = round > 1 ? await storage.getCheckpoint(run.runId, round - 1) : undefined;
      strategy.loadState(cp?.strategyState ?? null);
      await delay(options.retryDelayMs ?? 2000, signal);
    }
  }
  await storage.setRunStatus(run.runId, 'completed');
  await event(config.rounds, 'run-completed', `completed ${config.rounds} rounds`);

  async function runRound(round: number, attempt: number, current: Parameters): Promise<{ ok: true; parameters: Parameters } | { ok: false; reason: string }> {
    const startedAt = Date.now();
    await grid.waitForMembers(config.minAvailableMembers, signal);
    const random = seededRandom(config.seed, round, attempt);
    const available = grid.available();
    const strategyPlan = strategy.configureTrain({ serverRound: round, parameters: current, available, config, random });
    const rawPlan = ext.select ? await ext.select(round, strategyPlan, available) : strategyPlan;
    if (rawPlan.length < config.minTrainMembers) {
      return { ok: false, reason: `only ${rawPlan.length} members could be selected, the minimum is ${config.minTrainMembers}` };
    }
    const byId = new Map(available.map((m) => [m.memberId, m]));
    const trainPlan = ext.configure ? rawPlan.map((i) => ({ ...i, config: ext.configure!(round, i, byId.get(i.memberId)) })) : rawPlan;
    const selected = trainPlan.map((i) => byId.get(i.memberId)).filter((m): m is MemberRef => m !== undefined);
    await ext.admit?.(round, selected, available);
    const deadline = Date.now() + config.roundDeadlineSeconds * 1000;

    let aggregate: TrainAggregate | null;
    let participants: string[];
    let trainFailures: Failure[];
    let trainMembers: MemberRoundMetrics[];
    let updates: MemberUpdate[] = [];
    if (ext.secureTrain) {
      let secure: SecureTrainOutcome;
      try {
        secure = await ext.secureTrain({ round, attempt, current, plan: trainPlan, deadline, signal });
      } catch (error) {
        // Too few members or shares for the secure sum: like too few updates, a failed attempt.
        if (error instanceof ConcordError && error.code === ErrorCode.NOT_ENOUGH_MEMBERS) return { ok: false, reason: error.message };
        throw error;
      }
      if (signal.aborted) return { ok: false, reason: 'the coordinator is shutting down' };
      ({ aggregate, participants, failures: trainFailures, members: trainMembers } = secure);
    } else {
      // Nothing needs the updates one by one (the strategy takes their mean, none are kept, no
      // shards sum them): they are summed as they arrive, and let go.
      const fold = !ext.aggregateUpdates && strategy.traits.aggregatesMean && !keepsUpdates(config, trainPlan.length) ? new StreamingMean(totalSize(current.specs)) : undefined;
      const train = await grid.sendAndReceive(tasksFor(trainPlan, 'train', round, current), { deadline, signal, ...(fold ? { fold } : {}) });
      if (signal.aborted) return { ok: false, reason: 'the coordinator is shutting down' };
      if (train.replies.length < config.minTrainMembers) {
        return { ok: false, reason: `only ${train.replies.length} of the minimum ${config.minTrainMembers} members reported${describeFailures(train.failures)}` };
      }
      const results: TrainResult[] = train.replies.map((r) => ({
        memberId: r.memberId,
        parameters: r.parameters!,
        numExamples: r.header.numExamples,
        metrics: r.header.metrics,
      }));
      if (fold) {
        // A grid that returned the parameters instead of adding them: checked as the strategy would, then added.
        const returned = results.filter((r) => r.parameters !== undefined);
        checkTrainResults(current, returned);
        for (const r of returned) fold.add(r.parameters.data, r.numExamples);
        const mean: TrainResult = { memberId: 'streamed-mean', parameters: makeParameters(current.specs, fold.mean() ?? current.data), numExamples: fold.totalWeight, metrics: {} };
        aggregate = strategy.aggregateTrain(round, current, results.length > 0 ? [mean] : [], train.failures);
        // The strategy saw one synthetic result; the round's metrics are the real members'.
        if (aggregate) aggregate = { ...aggregate, metrics: { ...aggregate.metrics, ...aggregateMetrics(results) } };
      } else if (ext.aggregateUpdates && results.length > 0) {
        let outcome: ElsewhereAggregate;
        try {
          outcome = await ext.aggregateUpdates({ round, attempt, current, results, signal });
        } catch (error) {
          // A shard that does not answer, or too few updates for its groups: a failed attempt, retried.
          if (error instanceof ConcordError && (error.code === ErrorCode.UNAVAILABLE || error.code === ErrorCode.NOT_ENOUGH_MEMBERS)) return { ok: false, reason: `aggregating the updates: ${error.message}` };
          throw error;
        }
        if (signal.aborted) return { ok: false, reason: 'the coordinator is shutting down' };
        aggregate = 'mean' in outcome ? strategy.aggregateTrain(round, current, [outcome.mean], train.failures) : outcome.aggregate;
        if (aggregate) aggregate = { ...aggregate, metrics: { ...aggregate.metrics, ...outcome.metrics } };
      } else aggregate = strategy.aggregateTrain(round, current, results, train.failures);
      const rejected = strategy.lastRejections?.() ?? [];
      participants = results.map((r) => r.memberId).filter((id) => !rejected.some((f) => f.memberId === id));
      trainFailures = [...train.failures, ...rejected.map((f) => ({ ...f, reason: `update rejected: ${f.reason}` }))];
      trainMembers = train.replies.map((r) => memberMetrics(r, 'train'));
      const kept = new Set(participants);
      if (keepsUpdates(config, trainPlan.length)) updates = results.filter((r) => kept.has(r.memberId)).map((r) => ({ memberId: r.memberId, numExamples: r.numExamples, parameters: r.parameters }));
    }
    const extra = ext.roundMetrics?.(round, trainMembers) ?? {};
    trainMembers = extra.members ?? trainMembers;
    // Work and energy add up over members; the strategy's example-weighted means of them would mislead.
    const trainMetrics = { ...(aggregate?.metrics ?? {}), ...workTotals(trainMembers), ...extra.trainMetrics };
    const next = aggregate?.parameters ?? current;

    const strategyEvalPlan = strategy.configureEvaluate({ serverRound: round, parameters: next, available: grid.available(), config, random });
    const evalPlan = ext.configureEvaluate ? strategyEvalPlan.map((i) => ({ ...i, config: ext.configureEvaluate!(round, i) })) : strategyEvalPlan;
    const evaluation = await grid.sendAndReceive(tasksFor(evalPlan, 'evaluate', round, next), {
      deadline: Date.now() + config.roundDeadlineSeconds * 1000,
      signal,
    });
    if (signal.aborted) return { ok: false, reason: 'the coordinator is shutting down' };
    const evalResults: EvaluateResult[] = evaluation.replies.map((r) => ({
      memberId: r.memberId,
      numExamples: r.header.numExamples,
      loss: r.header.metrics.loss!,
      metrics: r.header.metrics,
    }));
    const evalAggregate = strategy.aggregateEvaluate(round, evalResults, evaluation.failures);
    const serverEval = options.serverEvaluate ? await options.serverEvaluate(next) : null;
    const privacyCharges = ext.charges ? await ext.charges(round, selected, available, participants) : [];

    const completed: CompletedRound = {
      runId: run.runId,
      round,
      parameters: next,
      strategyState: strategy.saveState(),
      trainMetrics,
      evalLoss: evalAggregate?.loss ?? null,
      evalMetrics: evalAggregate?.metrics ?? {},
      serverEval,
      participants,
      failures: [...trainFailures, ...evaluation.failures.map((f) => ({ ...f, reason: `evaluation: ${f.reason}` }))],
      members: [...trainMembers, ...evaluation.replies.map((r) => memberMetrics(r, 'evaluate'))],
      attempts: attempt,
      startedAt,
      completedAt: Date.now(),
      privacyCharges,
      ...(updates.length > 0 ? { updates } : {}),
    };
    await storage.saveRound(completed, await options.roundAudit?.(completed));
    await options.onRoundSaved?.(completed);
    await event(round, 'round-completed', `round ${round}: ${participants.length} members reported, ${trainFailures.length} dropped`);
    return { ok: true, parameters: next };
  }

  function tasksFor(plan: Instruction[], kind: 'train' | 'evaluate', round: number, p: Parameters): OutgoingTask[] {
    return plan.map((i) => ({ memberId: i.memberId, kind, runId: run.runId, round, model: config.model, config: i.config, parameters: p }));
  }
}

export function memberMetrics(r: TaskReply, phase: 'train' | 'evaluate'): MemberRoundMetrics {
  const { loss, ...metrics } = r.header.metrics;
  return { memberId: r.memberId, phase, numExamples: r.header.numExamples, loss: loss ?? null, metrics, bytesIn: r.bytesIn, bytesOut: r.bytesOut, seconds: r.seconds };
}

function describeFailures(failures: Failure[]): string {
  if (failures.length === 0) return '';
  return ` (${failures.map((f) => `${f.memberId}: ${f.reason}`).join('; ')})`;
}

function delay(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    const timer = setTimeout(resolve, ms);
    signal.addEventListener('abort', () => { clearTimeout(timer); resolve(); }, { once: true });
  });
}
