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

import { seededRandom, shuffle } from '../core/random.js';
import { ConcordError, ErrorCode } from '../protocol/errors.js';
import type { Parameters } from '../protocol/tensors.js';
import { roundTrainConfig } from '../strategies/common.js';
import type { AsyncSchedule, BufferedUpdate } from '../strategies/fedbuff.js';
import type { Failure, MemberRef } from '../strategies/strategy.js';
import type { CompletedRound, MemberRoundMetrics, RunEvent } from '../storage/storage.js';
import { workTotals } from './footprint.js';
import { memberMetrics, type FederationOptions } from './round-loop.js';

interface Arrival {
  update: BufferedUpdate;
  metrics: MemberRoundMetrics;
  loss: number | undefined;
}

export async function runAsyncFederation(options: FederationOptions & { schedule: AsyncSchedule }): Promise<void> {
  const { run, storage, grid, signal, schedule } = options;
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
  const stopAll = (): void => finished.abort();
  signal.addEventListener('abort', stopAll, { once: true });
  const busy = new Map<string, Promise<void>>();
  let buffer: Arrival[] = [];
  let failures: Failure[] = [];
  let droppedStale = 0;
  let dispatched = 0;
  let versionStartedAt = Date.now();

  const dispatch = (member: MemberRef): void => {
    const base = current;
    const startVersion = version;
    dispatched++;
    const task = { memberId: member.memberId, kind: 'train' as const, runId: run.runId, round: startVersion + 1, model: config.model, config: roundTrainConfig({ config, serverRound: startVersion + 1 }), parameters: base };
    const work = grid
      .sendAndReceive([task], { deadline: Date.now() + config.roundDeadlineSeconds * 1000, signal: finished.signal })
      .then(({ replies, failures: failed }) => {
        if (finished.signal.aborted) return;
        failures.push(...failed);
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
          buffer.push({ update: { memberId: reply.memberId, parameters: reply.parameters!, base, numExamples: reply.header.numExamples, staleness }, metrics, loss: reply.header.metrics.loss });
        }
      })
      .finally(() => busy.delete(member.memberId));
    busy.set(member.memberId, work);
  };

  try {
    while (version < config.rounds && !signal.aborted) {
      if (buffer.length >= schedule.bufferSize) {
        await applyBuffer();
        continue;
      }
      await grid.waitForMembers(config.minAvailableMembers, signal);
      if (signal.aborted) break;
      const available = grid.available();
      const limit = Math.min(schedule.concurrency ?? available.length, available.length);
      const idle = shuffle(
        available.filter((m) => !busy.has(m.memberId)),
        seededRandom(config.seed, version, dispatched),
      );
      while (busy.size < limit && idle.length > 0) dispatch(idle.pop()!);
      if (busy.size === 0) {
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

  async function applyBuffer(): Promise<void> {
    const taken = buffer.slice(0, schedule.bufferSize);
    buffer = buffer.slice(schedule.bufferSize);
    const next = schedule.apply(current, taken.map((a) => a.update));
    const round = version + 1;
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
      privacyCharges: [],
    };
    await storage.saveRound(completed, await options.roundAudit?.(completed));
    current = next;
    version = round;
    failures = [];
    droppedStale = 0;
    versionStartedAt = Date.now();
    await options.onRoundSaved?.(completed);
    await event(round, 'round-completed', `version ${round}: a buffer of ${taken.length} updates applied (staleness ${Math.min(...stalenesses)}–${Math.max(...stalenesses)})`);
  }
}

function delay(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    const timer = setTimeout(resolve, ms);
    signal.addEventListener(
      'abort',
      () => {
        clearTimeout(timer);
        resolve();
      },
      { once: true },
    );
  });
}
