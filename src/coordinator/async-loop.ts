// The asynchronous round loop (FedBuff, strategies/fedbuff.ts): up to `concurrency`
// members train at any time, each from the newest global model when it was free; every
// arriving update enters a buffer with its staleness, and every K arrivals the buffer is
// applied as a new global version, which is stored as one round (checkpoint, metrics and
// audit entry in one transaction, as in the synchronous loop) so the dashboard, reports
// and resume work unchanged. A straggler no longer holds a round back: it reports into a
// later buffer, discounted by its staleness, or is dropped beyond `maxStaleness`.
//
// Resume: after a restart the loop continues from the last stored version; updates that
// were in flight or buffered but not applied are lost, as a synchronous round in progress is.
//
// Protections take part through AsyncExtensions (run-compiler.ts asks each extension for
// its asynchronous part and refuses the run when one has none): differential privacy clips
// each arriving update, holds a member back while its update waits in the buffer (so a
// buffer counts each member once), checks and charges budgets per applied buffer, and noises
// the buffer's mean (privacy-policy.ts).
//
// Secure aggregation per buffer (secureCohort, secure-round.ts): a buffer is then a cohort of
// K members sent their tasks together from the same version, which run SecAgg+ among
// themselves; the coordinator learns only the cohort's sum, which is applied as one version
// with the cohort's staleness when it arrives. Cohorts run side by side (as many as
// concurrency / K), so a straggler holds back its own cohort only, not the others.

import { setMaxListeners } from 'node:events';
import { setTimeout as sleep } from 'node:timers/promises';
import { seededRandom, shuffle } from '../core/random.js';
import { ConcordError, ErrorCode } from '../protocol/errors.js';
import type { Parameters } from '../protocol/tensors.js';
import { roundTrainConfig } from '../strategies/common.js';
import type { AsyncSchedule, BufferedUpdate } from '../strategies/fedbuff.js';
import type { Failure, MemberRef } from '../strategies/strategy.js';
import type { TrainConfig } from '../protocol/messages.js';
import type { CompletedRound, MemberRoundMetrics, PrivacyCharge, RunEvent } from '../storage/storage.js';
import { workTotals } from './footprint.js';
import { memberMetrics, type FederationOptions, type SecureTrainOutcome } from './round-loop.js';
import type { Instruction } from '../strategies/strategy.js';

/** What a protection does in an asynchronous run; every hook is optional. */
export interface AsyncExtensions {
  /** The task settings a member trains with (e.g. the privacy block members act on). */
  configure?(config: TrainConfig): TrainConfig;
  /** A member whose update waits in the buffer is not sent another task until that buffer is applied. */
  holdWhileBuffered?: boolean;
  /** Why `member` may not be sent a task now (e.g. its budget cannot pay for another buffer), or null. */
  mayDispatch?(member: MemberRef): Promise<string | null>;
  /** An arriving update before it enters the buffer (e.g. clipped). */
  admitUpdate?(update: BufferedUpdate): BufferedUpdate;
  /** Before a buffer is applied: its charges, or a FORBIDDEN error that ends the run with its message. */
  beforeApply?(version: number, contributors: readonly MemberRef[]): Promise<PrivacyCharge[]>;
  /** The next global model as applied (e.g. with noise on the buffer's mean). */
  afterApply?(current: Parameters, next: Parameters): Parameters;
  /**
   * Secure aggregation per buffer: trains a cohort of K members from `base` and returns their
   * secure mean as one aggregate (its parameters are base + the cohort's mean delta).
   */
  secureCohort?(context: CohortContext): Promise<SecureTrainOutcome>;
}

export interface CohortContext {
  /** The version the cohort trains from; its buffer becomes a later one. */
  version: number;
  base: Parameters;
  plan: Instruction[];
  deadline: number;
  signal: AbortSignal;
}

/** Several protections' asynchronous parts as one: configured, checked, transformed and charged in list order. */
export function composeAsyncExtensions(parts: readonly AsyncExtensions[]): AsyncExtensions {
  if (parts.length === 1) return parts[0]!;
  const cohorts = parts.filter((p) => p.secureCohort);
  if (cohorts.length > 1) throw new ConcordError(ErrorCode.INTERNAL, 'two extensions both train buffers as secure cohorts');
  return {
    ...(cohorts[0] ? { secureCohort: cohorts[0].secureCohort!.bind(cohorts[0]) } : {}),
    configure: (config) => parts.reduce((c, p) => (p.configure ? p.configure(c) : c), config),
    holdWhileBuffered: parts.some((p) => p.holdWhileBuffered),
    mayDispatch: async (member) => {
      for (const p of parts) {
        const refusal = p.mayDispatch ? await p.mayDispatch(member) : null;
        if (refusal !== null) return refusal;
      }
      return null;
    },
    admitUpdate: (update) => parts.reduce((u, p) => (p.admitUpdate ? p.admitUpdate(u) : u), update),
    beforeApply: async (version, contributors) => {
      const charges: PrivacyCharge[] = [];
      for (const p of parts) if (p.beforeApply) charges.push(...(await p.beforeApply(version, contributors)));
      return charges;
    },
    afterApply: (current, next) => parts.reduce((n, p) => (p.afterApply ? p.afterApply(current, n) : n), next),
  };
}

interface Arrival {
  member: MemberRef;
  update: BufferedUpdate;
  metrics: MemberRoundMetrics;
  loss: number | undefined;
}

export async function runAsyncFederation(options: FederationOptions & { schedule: AsyncSchedule; asyncExtensions?: AsyncExtensions }): Promise<void> {
  const { run, storage, grid, signal, schedule } = options;
  const ext = options.asyncExtensions ?? {};
  const config = run.config;
  const event = async (round: number | null, kind: string, message: string): Promise<void> => {
    const e: RunEvent = { runId: run.runId, round, kind, message, at: Date.now() };
    await storage.addEvent(e);
    options.onEvent?.(e);
  };

  const last = await storage.lastRound(run.runId);
  let version = last?.round ?? 0;
  let current: Parameters;
  if (last) {
    const checkpoint = await storage.getCheckpoint(run.runId, last.round);
    if (!checkpoint) throw new ConcordError(ErrorCode.STORAGE, `run ${run.runId} has version ${last.round} but no checkpoint for it`);
    current = checkpoint.parameters;
    await event(version, 'resumed', `resuming asynchronous training after version ${version} of ${config.rounds}`);
  } else {
    const initial = await storage.getInitialParameters(run.runId);
    if (!initial) throw new ConcordError(ErrorCode.STORAGE, `run ${run.runId} has no initial parameters`);
    current = initial;
  }
  await storage.setRunStatus(run.runId, 'running');

  // Every task ends when the run does: updates still in flight then no longer count.
  const finished = new AbortController();
  // Every task in flight listens to it (up to `concurrency` at once): no listener limit.
  setMaxListeners(0, finished.signal);
  const stopAll = (): void => finished.abort();
  signal.addEventListener('abort', stopAll, { once: true });
  const busy = new Map<string, Promise<void>>();
  let buffer: Arrival[] = [];
  /** Under secure aggregation: cohorts' sums waiting to be applied, each one version. */
  const cohortSums: { sum: BufferedUpdate; arrivals: Arrival[] }[] = [];
  let failures: Failure[] = [];
  /** Tasks that failed (not stale drops) since the last applied version: maxRoundAttempts buffers' worth ends the run. */
  let failedTasks = 0;
  const failureLimit = config.maxRoundAttempts * schedule.bufferSize;
  let droppedStale = 0;
  let dispatched = 0;
  let refused = false;
  let versionStartedAt = Date.now();

  const dispatch = (member: MemberRef): void => {
    const base = current;
    const startVersion = version;
    dispatched++;
    const trainConfig = roundTrainConfig({ config, serverRound: startVersion + 1 });
    const task = { memberId: member.memberId, kind: 'train' as const, runId: run.runId, round: startVersion + 1, model: config.model, config: ext.configure ? ext.configure(trainConfig) : trainConfig, parameters: base };
    const work = grid
      .sendAndReceive([task], { deadline: Date.now() + config.roundDeadlineSeconds * 1000, signal: finished.signal })
      .then(({ replies, failures: failed }) => {
        if (finished.signal.aborted) return;
        failures.push(...failed);
        failedTasks += failed.length;
        for (const reply of replies) {
          const staleness = version - startVersion;
          if (staleness > schedule.maxStaleness) {
            droppedStale++;
            failures.push({ memberId: reply.memberId, reason: `update dropped: ${staleness} versions stale, the most allowed is ${schedule.maxStaleness}` });
            continue;
          }
          const metrics = memberMetrics(reply, 'train');
          // Each member's row says how stale its update was when applied.
          metrics.metrics = { ...metrics.metrics, staleness };
          const update: BufferedUpdate = { memberId: reply.memberId, parameters: reply.parameters!, base, numExamples: reply.header.numExamples, staleness };
          buffer.push({ member, update: ext.admitUpdate ? ext.admitUpdate(update) : update, metrics, loss: reply.header.metrics.loss });
        }
      })
      .finally(() => busy.delete(member.memberId));
    busy.set(member.memberId, work);
  };

  // A cohort's K members train together from one version and answer as one secure sum.
  const dispatchCohort = (cohort: MemberRef[]): void => {
    const base = current;
    const startVersion = version;
    dispatched += cohort.length;
    const trainConfig = roundTrainConfig({ config, serverRound: startVersion + 1 });
    const plan = cohort.map((m) => ({ memberId: m.memberId, config: ext.configure ? ext.configure(trainConfig) : trainConfig }));
    const work = ext.secureCohort!({ version: startVersion, base, plan, deadline: Date.now() + config.roundDeadlineSeconds * 1000, signal: finished.signal })
      .then((outcome) => {
        if (finished.signal.aborted) return;
        failures.push(...outcome.failures);
        failedTasks += outcome.aggregate ? outcome.failures.length : cohort.length;
        if (!outcome.aggregate) return;
        const staleness = version - startVersion;
        if (staleness > schedule.maxStaleness) {
          droppedStale += outcome.participants.length;
          for (const id of outcome.participants) failures.push({ memberId: id, reason: `secure sum dropped: ${staleness} versions stale, the most allowed is ${schedule.maxStaleness}` });
          return;
        }
        const byId = new Map(cohort.map((m) => [m.memberId, m]));
        const rows = new Map(outcome.members.map((r) => [r.memberId, r]));
        const numExamples = outcome.participants.reduce((t, id) => t + (rows.get(id)?.numExamples ?? 0), 0);
        const sum: BufferedUpdate = { memberId: 'secure-cohort', parameters: outcome.aggregate.parameters, base, numExamples, staleness };
        cohortSums.push({
          sum,
          arrivals: outcome.participants.map((id) => {
            const metrics = rows.get(id) ?? { memberId: id, phase: 'train' as const, numExamples: 0, loss: null, metrics: {}, bytesIn: 0, bytesOut: 0, seconds: 0 };
            const row = { ...metrics, metrics: { ...metrics.metrics, staleness } };
            return { member: byId.get(id)!, update: { ...sum, memberId: id, numExamples: row.numExamples }, metrics: row, loss: undefined };
          }),
        });
      })
      .catch((error: unknown) => {
        // A cohort that cannot be unmasked (too many dropouts) is lost, as a failed round attempt; anything else ends the run.
        if (!(error instanceof ConcordError && error.code === ErrorCode.NOT_ENOUGH_MEMBERS)) throw error;
        for (const m of cohort) failures.push({ memberId: m.memberId, reason: error.message });
        failedTasks += cohort.length;
      })
      .finally(() => {
        for (const m of cohort) busy.delete(m.memberId);
      });
    for (const m of cohort) busy.set(m.memberId, work);
  };

  try {
    while (version < config.rounds && !signal.aborted) {
      if (buffer.length >= schedule.bufferSize) {
        await applyBuffer(buffer.slice(0, schedule.bufferSize));
        if (refused) return;
        continue;
      }
      if (cohortSums.length > 0) {
        const { sum, arrivals } = cohortSums.shift()!;
        await applyBuffer(arrivals, sum);
        if (refused) return;
        continue;
      }
      if (failedTasks >= failureLimit) {
        // As a synchronous round is tried maxRoundAttempts times: a version that K × that many tasks could not fill is given up.
        const message = `version ${version + 1} failed: ${failedTasks} tasks failed since ${version === 0 ? 'the run started' : `version ${version}`} (maxRoundAttempts × bufferSize = ${failureLimit}); last: ${failures.at(-1)?.reason ?? 'unknown'}`;
        await storage.setRunStatus(run.runId, 'failed', message);
        await event(version + 1, 'run-failed', message);
        return;
      }
      const cohortSize = ext.secureCohort ? schedule.bufferSize : 1;
      await grid.waitForMembers(Math.max(config.minAvailableMembers, cohortSize), signal);
      if (signal.aborted) break;
      const available = grid.available();
      const limit = Math.min(schedule.concurrency ?? available.length, available.length);
      const buffered = new Set(ext.holdWhileBuffered ? buffer.map((a) => a.member.memberId) : []);
      const idle = shuffle(
        available.filter((m) => !busy.has(m.memberId) && !buffered.has(m.memberId)),
        seededRandom(config.seed, version, dispatched),
      );
      const refusals: string[] = [];
      const cohort: MemberRef[] = [];
      while (busy.size + cohort.length < limit && idle.length > 0) {
        const member = idle.pop()!;
        const refusal = ext.mayDispatch ? await ext.mayDispatch(member) : null;
        if (refusal !== null) refusals.push(refusal);
        else if (!ext.secureCohort) dispatch(member);
        else if (cohort.push(member) === cohortSize) dispatchCohort(cohort.splice(0));
      }
      // Members left over for want of a full cohort wait for the next pass.
      if (busy.size === 0) {
        // No one is training and every member free to may not: the buffer cannot fill.
        if (refusals.length > 0) {
          const reason = joinRefusals(refusals);
          await storage.setRunStatus(run.runId, 'failed', reason);
          await event(version + 1, 'run-refused', `version ${version + 1} refused: ${reason}`);
          return;
        }
        await delay(options.retryDelayMs ?? 2000, signal);
        continue;
      }
      await Promise.race(busy.values());
    }
    if (signal.aborted) return;
    await storage.setRunStatus(run.runId, 'completed');
    await event(config.rounds, 'run-completed', `completed ${config.rounds} asynchronous versions (buffers of ${schedule.bufferSize})`);
  } finally {
    finished.abort();
    signal.removeEventListener('abort', stopAll);
  }

  /** Applies `taken` as the next version: the first K of the buffer, or a cohort's members with its one secure sum. */
  async function applyBuffer(taken: Arrival[], secureSum?: BufferedUpdate): Promise<void> {
    const round = version + 1;
    let privacyCharges: PrivacyCharge[] = [];
    if (ext.beforeApply) {
      try {
        privacyCharges = await ext.beforeApply(round, taken.map((a) => a.member));
      } catch (error) {
        if (!(error instanceof ConcordError && error.code === ErrorCode.FORBIDDEN)) throw error;
        await storage.setRunStatus(run.runId, 'failed', error.message);
        await event(round, 'run-refused', `version ${round} refused: ${error.message}`);
        refused = true;
        return;
      }
    }
    if (!secureSum) buffer = buffer.slice(taken.length);
    const applied = schedule.apply(current, secureSum ? [secureSum] : taken.map((a) => a.update));
    const next = ext.afterApply ? ext.afterApply(current, applied) : applied;
    const serverEval = options.serverEvaluate ? await options.serverEvaluate(next) : null;
    const stalenesses = taken.map((a) => a.update.staleness);
    const examples = taken.reduce((s, a) => s + a.update.numExamples, 0);
    const losses = taken.filter((a) => typeof a.loss === 'number');
    const trainMembers = taken.map((a) => a.metrics);
    const completed: CompletedRound = {
      runId: run.runId,
      round,
      parameters: next,
      strategyState: null,
      trainMetrics: {
        ...(losses.length > 0 ? { loss: losses.reduce((s, a) => s + a.loss! * a.update.numExamples, 0) / losses.reduce((s, a) => s + a.update.numExamples, 0) } : {}),
        numExamples: examples,
        meanStaleness: stalenesses.reduce((s, x) => s + x, 0) / stalenesses.length,
        maxStaleness: Math.max(...stalenesses),
        droppedStale,
        ...workTotals(trainMembers),
      },
      evalLoss: null,
      evalMetrics: {},
      serverEval,
      participants: taken.map((a) => a.update.memberId),
      failures,
      members: trainMembers,
      attempts: 1,
      startedAt: versionStartedAt,
      completedAt: Date.now(),
      privacyCharges,
    };
    await storage.saveRound(completed, await options.roundAudit?.(completed));
    current = next;
    version = round;
    failures = [];
    failedTasks = 0;
    droppedStale = 0;
    versionStartedAt = Date.now();
    await options.onRoundSaved?.(completed);
    await event(round, 'round-completed', `version ${round}: a buffer of ${taken.length} updates applied${secureSum ? ' as one secure sum' : ''} (staleness ${Math.min(...stalenesses)}–${Math.max(...stalenesses)})`);
  }
}

/** "budget exhausted: a", "budget exhausted: b" → "budget exhausted: a; b": one headline per kind of refusal. */
function joinRefusals(refusals: readonly string[]): string {
  const byHeadline = new Map<string, string[]>();
  for (const r of refusals) {
    const at = r.indexOf(': ');
    const [headline, rest] = at < 0 ? [r, ''] : [r.slice(0, at), r.slice(at + 2)];
    byHeadline.set(headline, [...(byHeadline.get(headline) ?? []), ...(rest ? [rest] : [])]);
  }
  return [...byHeadline].map(([headline, rests]) => (rests.length > 0 ? `${headline}: ${rests.join('; ')}` : headline)).join('; ');
}

/** Waits `ms`, or less when the run stops; leaves no listener behind either way. */
async function delay(ms: number, signal: AbortSignal): Promise<void> {
  await sleep(ms, undefined, { signal }).catch(() => undefined);
}
