// The operator's control and live view of one run, beyond its stored rounds:
//   POST /v1/runs/:id/stop      stops a run (with the operator's reason, audited);
//   POST /v1/runs/:id/baseline  records the centralised baseline the run is compared with;
//   GET  /v1/runs/:id/progress  who is training and who has reported in the current round,
//                               the ETA from the rounds done so far, and the baseline.
// The baseline is an audit entry, not a table: it is a claim someone made about the run
// (trained elsewhere, on pooled data), so it carries who made it and when.

import type { FastifyInstance, FastifyRequest } from 'fastify';
import { z } from 'zod';
import type { Scope } from '../governance/roles.js';
import { ConcordError, ErrorCode } from '../protocol/errors.js';
import { parseWith } from '../protocol/problems.js';
import type { RunRecord, Storage } from '../storage/storage.js';
import type { AuditTrail } from './audit-trail.js';
import type { RoundProgress } from './round-progress.js';

export const StopRunSchema = z
  .object({
    /** Why the operator stopped it; kept as the run's error and in the audit log. */
    reason: z.string().trim().min(1).max(500).optional(),
  })
  .strict();

export const BaselineSchema = z
  .object({
    /** The metric compared, as the run's rounds name it. */
    metric: z.enum(['accuracy']),
    value: z.number().finite().min(0).max(1),
    /** How the baseline was trained, in a few words (pooled data of all members, epochs). */
    description: z.string().trim().min(1).max(500),
    epochs: z.number().int().min(1).optional(),
    examples: z.number().int().min(1).optional(),
  })
  .strict();
export type Baseline = z.output<typeof BaselineSchema> & { recordedBy: string; recordedAt: number };

export interface RunProgressView {
  runId: string;
  status: RunRecord['status'];
  roundsDone: number;
  rounds: number;
  /** The batch of tasks out now; null between rounds, after the run, or where this process cannot see the board. */
  current: RoundProgress | null;
  /** Mean seconds per completed round × rounds left, less the current round's time so far; null before the first round. */
  etaSeconds: number | null;
  /** Seconds from the run's creation to its end (or to now). */
  elapsedSeconds: number;
  baseline: Baseline | null;
}

export interface RunControlOptions {
  storage: Storage;
  audit: AuditTrail;
  authorize: (request: FastifyRequest, scope: Scope) => Promise<{ actor: string }>;
  /** Ends the run's round loop here (if driven here) and marks it stopped. */
  stop: (run: RunRecord, reason: string) => Promise<void>;
  progress: (runId: string) => RoundProgress | null;
}

export const BASELINE_KIND = 'run.baseline';

export function registerRunControlRoutes(app: FastifyInstance, options: RunControlOptions): void {
  const { storage, audit, authorize } = options;
  const baselines = new Map<string, Baseline | null>();

  const runOf = async (runId: string): Promise<RunRecord> => {
    const run = await storage.getRun(runId);
    if (!run) throw new ConcordError(ErrorCode.NOT_FOUND, `no run ${runId}`, { details: { field: 'runId', received: runId } });
    return run;
  };

  async function baselineOf(runId: string): Promise<Baseline | null> {
    if (baselines.has(runId)) return baselines.get(runId)!;
    const entries = await storage.listAudit();
    const entry = entries.filter((e) => e.kind === BASELINE_KIND && e.subject === runId).at(-1);
    const found = entry ? ({ ...(entry.data as z.output<typeof BaselineSchema>), recordedBy: entry.actor, recordedAt: entry.at } as Baseline) : null;
    baselines.set(runId, found);
    return found;
  }

  app.post<{ Params: { runId: string } }>('/v1/runs/:runId/stop', async (request) => {
    const caller = await authorize(request, 'runs:write');
    const body = parseWith(StopRunSchema, request.body ?? {}, 'the stop request');
    const run = await runOf(request.params.runId);
    const live = run.status === 'running' || run.status === 'pending';
    if (!live) return { runId: run.runId, status: run.status, stopped: false, reason: `the run had already ${run.status === 'stopped' ? 'been stopped' : run.status}` };
    const reason = `stopped by ${caller.actor}${body.reason ? `: ${body.reason}` : ''}`;
    await options.stop(run, reason);
    const last = await storage.lastRound(run.runId);
    await audit.record({ actor: caller.actor, kind: 'run.stopped', subject: run.runId, data: { message: 'run stopped by operator', reason: body.reason ?? null, afterRound: last?.round ?? 0, round: (last?.round ?? 0) + 1 } });
    return { runId: run.runId, status: 'stopped', stopped: true, reason };
  });

  app.post<{ Params: { runId: string } }>('/v1/runs/:runId/baseline', async (request) => {
    const caller = await authorize(request, 'runs:write');
    const body = parseWith(BaselineSchema, request.body, 'the baseline');
    const run = await runOf(request.params.runId);
    const entry = await audit.record({ actor: caller.actor, kind: BASELINE_KIND, subject: run.runId, data: body });
    if (!entry) throw new ConcordError(ErrorCode.STORAGE, 'the baseline could not be recorded in the audit log', { details: { field: 'baseline' } });
    const baseline: Baseline = { ...body, recordedBy: caller.actor, recordedAt: entry.at };
    baselines.set(run.runId, baseline);
    return { runId: run.runId, baseline };
  });

  app.get<{ Params: { runId: string } }>('/v1/runs/:runId/progress', async (request): Promise<RunProgressView> => {
    await authorize(request, 'runs:read');
    const run = await runOf(request.params.runId);
    const rounds = await storage.listRounds(run.runId);
    const live = run.status === 'running' || run.status === 'pending';
    const current = live ? options.progress(run.runId) : null;
    const now = Date.now();
    const end = live ? now : run.updatedAt;
    let etaSeconds: number | null = null;
    if (live && rounds.length > 0) {
      const perRound = rounds.reduce((s, r) => s + (r.completedAt - r.startedAt), 0) / rounds.length / 1000;
      const inRound = current && current.round > rounds.length ? (now - Math.max(current.startedAt, rounds.at(-1)!.completedAt)) / 1000 : 0;
      etaSeconds = Math.max(0, perRound * (run.config.rounds - rounds.length) - inRound);
    }
    return {
      runId: run.runId,
      status: run.status,
      roundsDone: rounds.at(-1)?.round ?? 0,
      rounds: run.config.rounds,
      current: current && current.round > (rounds.at(-1)?.round ?? 0) ? current : null,
      etaSeconds,
      elapsedSeconds: Math.max(0, (end - run.createdAt) / 1000),
      baseline: await baselineOf(run.runId),
    };
  });
}
