// The coordinator's HTTP face (Fastify): member enrollment, long-polled task delivery,
// result upload, and the operator's run API. Runs are driven by round-loop.ts through
// the TaskBoard grid; every run still marked running in storage resumes on start.
// Wire format: docs/protocol.md.

import Fastify, { type FastifyInstance, type FastifyRequest } from 'fastify';
import { ConcordError, ErrorCode } from '../protocol/errors.js';
import { FRAME_CONTENT_TYPE, encodeFrame } from '../protocol/frame.js';
import {
  EnrollRequestSchema,
  PROTOCOL_HEADER,
  PROTOCOL_VERSION,
  RunConfigSchema,
  assertProtocolVersion,
  parseMessage,
  type RunConfig,
} from '../protocol/messages.js';
import type { Parameters } from '../protocol/tensors.js';
import type { Strategy } from '../strategies/strategy.js';
import type { MemberRecord, RunEvent, RunRecord, Storage } from '../storage/storage.js';
import { installErrorHandler } from './http-errors.js';
import { budgetFor, datasetIdOf, privacyReport } from './privacy-policy.js';
import { runFederation, type RoundExtensions, type ServerEvaluation } from './round-loop.js';
import { TaskBoard, type TaskBoardOptions } from './task-board.js';
import { bearerToken, hashToken, newToken, sameToken } from './tokens.js';

export interface CoordinatorOptions {
  storage: Storage;
  /** Bearer token for the operator API (runs, members, models). */
  operatorToken: string;
  createStrategy: (config: RunConfig) => Strategy;
  /** Initial global model of a new run. */
  initialParameters: (config: RunConfig) => Promise<Parameters>;
  serverEvaluate?: (config: RunConfig, parameters: Parameters) => Promise<ServerEvaluation>;
  /** Largest request body accepted, in bytes. Default 64 MiB (16M float32 parameters). */
  bodyLimitBytes?: number;
  /** Longest a task long-poll is held open. Default 25 s. */
  maxPollMs?: number;
  board?: TaskBoardOptions;
  retryDelayMs?: number;
  onEvent?: (event: RunEvent) => void;
  /** Privacy and governance stages for a run's rounds (secure aggregation, DP budgets). */
  extensions?: (run: RunRecord, strategy: Strategy, board: TaskBoard) => RoundExtensions;
}

export interface Coordinator {
  app: FastifyInstance;
  board: TaskBoard;
  listen(port: number, host: string): Promise<string>;
  /** Starts (or resumes) driving a run; resolves when it ends. */
  startRun(run: RunRecord): void;
  close(): Promise<void>;
  /** Resolves when every active run has ended. */
  idle(): Promise<void>;
}

export async function createCoordinator(options: CoordinatorOptions): Promise<Coordinator> {
  const { storage } = options;
  const bodyLimit = options.bodyLimitBytes ?? 64 * 1024 * 1024;
  const maxPollMs = options.maxPollMs ?? 25_000;
  const board = new TaskBoard(options.board);
  const active = new Map<string, { abort: AbortController; done: Promise<void> }>();
  const shutdown = new AbortController();

  const app = Fastify({ logger: false, bodyLimit, forceCloseConnections: true });
  installErrorHandler(app, bodyLimit);
  app.addContentTypeParser(FRAME_CONTENT_TYPE, { parseAs: 'buffer', bodyLimit }, (_req, body, done) => done(null, body));
  app.addHook('onRequest', async (request) => {
    const version = request.headers[PROTOCOL_HEADER];
    if (version !== undefined && request.url.startsWith('/v1/')) assertProtocolVersion(Number(version), `header ${PROTOCOL_HEADER}`);
  });
  app.addHook('onSend', async (_request, reply) => {
    reply.header(PROTOCOL_HEADER, String(PROTOCOL_VERSION));
  });

  const memberOf = async (request: FastifyRequest): Promise<MemberRecord> => {
    const token = bearerToken(request.headers.authorization);
    const member = await storage.getMemberByTokenHash(hashToken(token));
    if (!member) throw new ConcordError(ErrorCode.UNAUTHENTICATED, 'unknown member token: enroll first', { details: { field: 'authorization' } });
    if (member.revoked) throw new ConcordError(ErrorCode.FORBIDDEN, `member ${member.name} has been revoked`, { details: { field: 'authorization' } });
    return member;
  };
  const ref = (m: MemberRecord) => ({ memberId: m.memberId, name: m.name, numExamples: m.dataset.numExamples, datasetName: m.dataset.name });
  const operator = (request: FastifyRequest): void => {
    const token = bearerToken(request.headers.authorization);
    if (!sameToken(token, options.operatorToken)) throw new ConcordError(ErrorCode.UNAUTHENTICATED, 'operator token required', { details: { field: 'authorization' } });
  };

  app.get('/v1/health', async () => ({ protocolVersion: PROTOCOL_VERSION, status: 'ok' }));

  app.post('/v1/members/enroll', async (request) => {
    const body = parseMessage(EnrollRequestSchema, request.body, 'enroll request');
    const token = newToken('mem');
    const existing = await storage.getMemberByName(body.name);
    let member: MemberRecord;
    if (existing) {
      // Re-enrolling a name needs that member's current token, so names cannot be taken over.
      const presented = request.headers.authorization ? bearerToken(request.headers.authorization) : undefined;
      const holder = presented ? await storage.getMemberByTokenHash(hashToken(presented)) : undefined;
      if (holder?.memberId !== existing.memberId) {
        throw new ConcordError(ErrorCode.CONFLICT, `a member named ${body.name} is already enrolled; present its token to re-enroll or choose another name`, {
          details: { field: 'name', received: body.name },
        });
      }
      member = await storage.replaceMemberToken(existing.memberId, hashToken(token), body.dataset);
    } else {
      member = await storage.addMember({ name: body.name, tokenHash: hashToken(token), dataset: body.dataset });
    }
    board.seen(ref(member));
    return { protocolVersion: PROTOCOL_VERSION, memberId: member.memberId, token };
  });
  app.get('/v1/tasks/next', async (request, reply) => {
    const member = await memberOf(request);
    const waitMs = Math.min(Math.max(Number((request.query as { waitMs?: string }).waitMs ?? 0) || 0, 0), maxPollMs);
    const closed = new AbortController();
    request.raw.once('close', () => closed.abort());
    reply.raw.once('close', () => closed.abort());
    const task = await board.poll(ref(member), waitMs, closed.signal);
    await storage.touchMember(member.memberId, Date.now());
    if (!task) return reply.code(204).send();
    return reply.type(FRAME_CONTENT_TYPE).send(task.frame);
  });

  app.post('/v1/members/heartbeat', async (request) => {
    const member = await memberOf(request);
    board.heartbeat(ref(member));
    return { ok: true };
  });

  app.post<{ Params: { taskId: string } }>('/v1/tasks/:taskId/result', async (request) => {
    const member = await memberOf(request);
    board.heartbeat(ref(member));
    if (!Buffer.isBuffer(request.body)) {
      throw new ConcordError(ErrorCode.INVALID_MESSAGE, `results must be sent as ${FRAME_CONTENT_TYPE}`, { details: { field: 'content-type', expected: FRAME_CONTENT_TYPE } });
    }
    board.submit(member.memberId, request.params.taskId, request.body);
    return { accepted: true };
  });

  app.post<{ Params: { taskId: string }; Body: { reason?: unknown } }>('/v1/tasks/:taskId/decline', async (request) => {
    const member = await memberOf(request);
    board.heartbeat(ref(member));
    const reason = request.body?.reason;
    if (typeof reason !== 'string' || reason.length === 0 || reason.length > 2000) {
      throw new ConcordError(ErrorCode.INVALID_MESSAGE, 'a decline needs a reason of 1 to 2000 characters', { details: { field: 'reason', expected: 'string' } });
    }
    board.decline(member.memberId, request.params.taskId, reason);
    return { declined: true };
  });

  app.get('/v1/members', async (request) => {
    operator(request);
    const online = new Set(board.available().map((m) => m.memberId));
    return { members: (await storage.listMembers()).map((m) => ({ ...m, online: online.has(m.memberId) })) };
  });

  app.post('/v1/runs', async (request) => {
    operator(request);
    const config = parseMessage(RunConfigSchema, request.body, 'run config');
    options.createStrategy(config); // refuses bad strategy or privacy options before anything is stored
    const initial = await options.initialParameters(config);
    const run = await storage.createRun(config, initial);
    startRun(run);
    return { runId: run.runId };
  });

  app.get('/v1/runs', async (request) => {
    operator(request);
    return { runs: await storage.listRuns() };
  });

  const runOf = async (runId: string): Promise<RunRecord> => {
    const run = await storage.getRun(runId);
    if (!run) throw new ConcordError(ErrorCode.NOT_FOUND, `no run ${runId}`, { details: { field: 'runId', received: runId } });
    return run;
  };

  app.get<{ Params: { runId: string } }>('/v1/runs/:runId', async (request) => {
    operator(request);
    const run = await runOf(request.params.runId);
    return { run, rounds: await storage.listRounds(run.runId) };
  });

  app.get<{ Params: { runId: string } }>('/v1/runs/:runId/events', async (request) => {
    operator(request);
    await runOf(request.params.runId);
    return { events: await storage.listEvents(request.params.runId) };
  });

  app.get<{ Params: { runId: string }; Querystring: { round?: string } }>('/v1/runs/:runId/metrics', async (request) => {
    operator(request);
    await runOf(request.params.runId);
    const round = request.query.round === undefined ? undefined : Number(request.query.round);
    return { members: await storage.listMemberMetrics(request.params.runId, round) };
  });

  app.get<{ Params: { runId: string }; Querystring: { round?: string } }>('/v1/runs/:runId/model', async (request, reply) => {
    operator(request);
    const run = await runOf(request.params.runId);
    const last = await storage.lastRound(run.runId);
    const round = request.query.round === undefined ? (last?.round ?? 0) : Number(request.query.round);
    if (!Number.isInteger(round) || round < 0) {
      throw new ConcordError(ErrorCode.INVALID_ARGUMENT, 'round must be a non-negative integer', { details: { field: 'round', received: request.query.round } });
    }
    const parameters = round === 0 ? await storage.getInitialParameters(run.runId) : (await storage.getCheckpoint(run.runId, round))?.parameters;
    if (!parameters) {
      throw new ConcordError(ErrorCode.NOT_FOUND, `run ${run.runId} has no completed round ${round} (last completed: ${last?.round ?? 0})`, {
        details: { field: 'round', expected: `0..${last?.round ?? 0}`, received: round },
      });
    }
    return reply.type(FRAME_CONTENT_TYPE).send(encodeFrame({ protocolVersion: PROTOCOL_VERSION, runId: run.runId, round, model: run.config.model }, parameters));
  });

  app.get('/v1/privacy', async (request) => {
    operator(request);
    return { datasets: await privacyReport(storage, await budgetsByDataset()) };
  });

  /** Budgets per member dataset, from the most recent run that set one. */
  async function budgetsByDataset(): Promise<Map<string, { epsilon: number; delta: number }>> {
    const members = await storage.listMembers();
    const budgets = new Map<string, { epsilon: number; delta: number }>();
    for (const run of await storage.listRuns()) {
      const dp = run.config.differentialPrivacy;
      if (!dp) continue;
      for (const m of members) budgets.set(datasetIdOf(m), budgetFor(dp, m.name));
    }
    return budgets;
  }

  app.post<{ Params: { runId: string } }>('/v1/runs/:runId/stop', async (request) => {
    operator(request);
    const run = await runOf(request.params.runId);
    const a = active.get(run.runId);
    a?.abort.abort();
    await a?.done;
    if (run.status === 'running' || run.status === 'pending') await storage.setRunStatus(run.runId, 'stopped');
    return { runId: run.runId, status: 'stopped' };
  });

  function startRun(run: RunRecord): void {
    if (active.has(run.runId)) return;
    const abort = new AbortController();
    shutdown.signal.addEventListener('abort', () => abort.abort(), { once: true });
    const strategy = options.createStrategy(run.config);
    const done = runFederation({
      run,
      storage,
      grid: board,
      strategy,
      ...(options.extensions ? { extensions: options.extensions(run, strategy, board) } : {}),
      signal: abort.signal,
      ...(options.serverEvaluate ? { serverEvaluate: (p: Parameters) => options.serverEvaluate!(run.config, p) } : {}),
      ...(options.retryDelayMs !== undefined ? { retryDelayMs: options.retryDelayMs } : {}),
      ...(options.onEvent ? { onEvent: options.onEvent } : {}),
    })
      .catch(async (error: unknown) => {
        if (abort.signal.aborted) return;
        const message = error instanceof Error ? error.message : String(error);
        await storage.setRunStatus(run.runId, 'failed', message).catch(() => undefined);
        options.onEvent?.({ runId: run.runId, round: null, kind: 'run-failed', message, at: Date.now() });
      })
      .finally(() => active.delete(run.runId));
    active.set(run.runId, { abort, done });
  }

  for (const run of await storage.listRuns()) {
    if (run.status === 'running' || run.status === 'pending') startRun(run);
  }

  return {
    app,
    board,
    async listen(port, host) {
      const address = await app.listen({ port, host });
      return address.replace('[::1]', '127.0.0.1');
    },
    startRun,
    async idle() {
      while (active.size > 0) await Promise.all([...active.values()].map((a) => a.done));
    },
    async close() {
      shutdown.abort();
      await Promise.all([...active.values()].map((a) => a.done));
      await app.close();
    },
  };
}
