// The coordinator's HTTP face (Fastify): member enrollment, long-polled task delivery,
// result upload, and the operator's run API. Runs are driven by round-loop.ts through
// the TaskBoard grid; every run still marked running in storage resumes on start.
// Members authenticate by signed requests, people by scoped bearer tokens (auth.ts);
// decisions go to the signed audit trail (audit-trail.ts). HTTPS when given a certificate.
// Wire format: docs/protocol.md; security: docs/security.md.

import Fastify, { type FastifyInstance, type FastifyRequest } from 'fastify';
import { canonicalJson } from '../governance/canonical.js';
import { sha256Hex } from '../governance/digest.js';
import { generateIdentity, type Identity } from '../governance/identity.js';
import { ConcordError, ErrorCode } from '../protocol/errors.js';
import { FRAME_CONTENT_TYPE } from '../protocol/frame.js';
import { PROTOCOL_HEADER, PROTOCOL_VERSION, assertProtocolHeader, type RunConfig } from '../protocol/messages.js';
import { type Parameters, totalSize } from '../protocol/tensors.js';
import { parameterSpecs } from '../model/build.js';
import type { Strategy } from '../strategies/strategy.js';
import type { CompletedRound, MemberRecord, RunEvent, RunRecord, Storage } from '../storage/storage.js';
import { AuditTrail, modelFrame } from './audit-trail.js';
import { Authenticator, installBodyParsers } from './auth.js';
import { registerGovernanceRoutes } from './governance-routes.js';
import { createAgreementGovernance } from './agreement-routes.js';
import type { Agreement } from '../governance/agreement.js';
import { installErrorHandler } from './http-errors.js';
import { registerInsightRoutes } from './insight-routes.js';
import { modelRound } from './model-round.js';
import { registerResourceRoutes } from './resource-routes.js';
import { buildRun, type CompiledRun, type RunContext, type RunExtension } from './run-compiler.js';
import { standardRunExtensions } from './run-extensions.js';
import { registerDashboardRoutes } from './dashboard-routes.js';
import { countParam, type Query } from './query.js';
import { budgetFor, datasetIdOf, privacyReport } from './privacy-policy.js';
import { runFederation, type ServerEvaluation } from './round-loop.js';
import { TaskBoard, type TaskBoardOptions } from './task-board.js';

export interface CoordinatorOptions {
  storage: Storage;
  /** The operator's bootstrap bearer token: role operator, every operator scope. */
  operatorToken: string;
  /** The coordinator's Ed25519 identity, which signs the audit log. Default: a fresh one (tests). */
  identity?: Identity;
  /** Admit new members without an invitation. Default true (the local demo); false requires invitations. */
  openEnrollment?: boolean;
  /** Serve HTTPS with this certificate and key (PEM). Default: plain HTTP. */
  tls?: { cert: string | Buffer; key: string | Buffer };
  /** How far a member's request timestamp may be from this clock. Default 60 000 ms. */
  maxClockSkewMs?: number;
  /** Called once a round is committed (with the audit entries that record it). */
  onRoundSaved?: (run: RunRecord, round: CompletedRound) => void | Promise<void>;
  /** Initial global model of a new run. */
  initialParameters: (config: RunConfig) => Promise<Parameters>;
  /** The model's parameter count, checked before anything is built. Default: the MLP manifest's size. */
  parameterCount?: (config: RunConfig) => number;
  /**
   * The protections and stages runs may ask for (run-compiler.ts). Default: all of them
   * (standardRunExtensions). A run that asks for one this list lacks is refused.
   */
  runExtensions?: readonly RunExtension[];
  /** Replaces the strategy registry (tests and benchmarks that bring their own strategy). */
  strategyFor?: (config: RunConfig) => Strategy;
  serverEvaluate?: (config: RunConfig, parameters: Parameters) => Promise<ServerEvaluation>;
  /**
   * Accuracy of a model on the validation set, for contribution valuation (many coalition
   * models). Default: serverEvaluate's accuracy; none without either.
   */
  validationAccuracy?: (config: RunConfig, parameters: Parameters) => Promise<number>;
  /** Largest request body accepted, in bytes. Default 64 MiB (16M float32 parameters). */
  bodyLimitBytes?: number;
  /** Longest a task long-poll is held open. Default 25 s. */
  maxPollMs?: number;
  board?: TaskBoardOptions;
  retryDelayMs?: number;
  onEvent?: (event: RunEvent) => void;
  /**
   * The cooperation agreement to enforce (docs/agreement.example.yaml). Default: the version
   * stored by an earlier start, if any; without one nothing is enforced (the local demo).
   */
  agreement?: Agreement;
}

export interface Coordinator {
  app: FastifyInstance;
  board: TaskBoard;
  audit: AuditTrail;
  /** The coordinator's public key (base64url), which verifies its audit log. */
  publicKey: string;
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

  const identity = options.identity ?? generateIdentity();
  const audit = new AuditTrail({ storage, identity });
  const governance = await createAgreementGovernance({ storage, audit, ...(options.agreement ? { initial: options.agreement } : {}) });
  const auth = new Authenticator({ storage, operatorToken: options.operatorToken, audit, ...(options.maxClockSkewMs !== undefined ? { maxClockSkewMs: options.maxClockSkewMs } : {}) });

  const app = options.tls
    ? (Fastify({ logger: false, bodyLimit, forceCloseConnections: true, https: { cert: options.tls.cert, key: options.tls.key } }) as unknown as FastifyInstance)
    : Fastify({ logger: false, bodyLimit, forceCloseConnections: true });
  installErrorHandler(app, bodyLimit);
  installBodyParsers(app, bodyLimit);
  app.addHook('onRequest', async (request) => {
    const version = request.headers[PROTOCOL_HEADER];
    if (version !== undefined && request.url.startsWith('/v1/')) assertProtocolHeader(version);
  });
  app.addHook('onSend', async (_request, reply) => {
    reply.header(PROTOCOL_HEADER, String(PROTOCOL_VERSION));
  });

  /** The member a signed request comes from; nothing of an unauthenticated caller reaches the board. */
  const memberOf = (request: FastifyRequest): Promise<MemberRecord> => auth.member(request);
  const ref = (m: MemberRecord) => ({ memberId: m.memberId, name: m.name, numExamples: m.dataset.numExamples, numHoldout: m.dataset.numHoldout, datasetName: m.dataset.name });

  app.get('/v1/health', async () => ({ protocolVersion: PROTOCOL_VERSION, status: 'ok' }));

  registerGovernanceRoutes(app, {
    storage,
    assertMayEnroll: (name) => governance.assertMayEnroll(name),
    auth,
    audit,
    identity,
    openEnrollment: options.openEnrollment ?? true,
    onEnrolled: (member) => board.seen(ref(member)),
    onRevoked: (member) => board.forget(member.memberId, 'member was revoked by the operator'),
  });
  app.get('/v1/tasks/next', async (request, reply) => {
    const member = await memberOf(request);
    const waitMs = Math.min(countParam(request.query as Query, 'waitMs') ?? 0, maxPollMs);
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
      const received = request.headers['content-type'];
      throw new ConcordError(ErrorCode.INVALID_MESSAGE, `results must be sent as ${FRAME_CONTENT_TYPE}, received ${received === undefined ? 'no content type' : JSON.stringify(received)}`, {
        details: { field: 'content-type', expected: FRAME_CONTENT_TYPE, received: received ?? null },
      });
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
    await auth.caller(request, 'members:read');
    const online = new Set(board.available().map((m) => m.memberId));
    return { members: (await storage.listMembers()).map((m) => ({ ...m, online: online.has(m.memberId) })) };
  });

  app.post('/v1/runs', async (request) => {
    const caller = await auth.caller(request, 'runs:write');
    if (typeof request.body === 'object' && request.body !== null && 'planId' in request.body) {
      throw new ConcordError(ErrorCode.INVALID_ARGUMENT, 'a run from a training plan is started with POST /v1/plans/:planId/start ("concord plans start")', { details: { field: 'planId', expected: 'absent' } });
    }
    return { runId: await launch(request.body, caller.actor) };
  });
  governance.register(app, auth, launch);

  const runExtensions = options.runExtensions ?? standardRunExtensions();
  const compileContext = (withInitial: boolean): RunContext => ({
    storage,
    extensions: runExtensions,
    bodyLimitBytes: bodyLimit,
    parameterCount: options.parameterCount ?? ((config) => totalSize(parameterSpecs(config.model))),
    ...(withInitial ? { initialParameters: options.initialParameters } : {}),
    ...(options.strategyFor ? { strategyFor: options.strategyFor } : {}),
  });

  /** Compiles a run (every check, all problems at once) and the agreement's clauses before anything is stored, then stores and starts it. */
  async function launch(input: unknown, actor: string, planId?: string): Promise<string> {
    const compiled = await buildRun(input, compileContext(true));
    const config = compiled.config;
    await governance.assertRunAllowed(config, actor, planId); // every clause of the agreement in force
    const run = await storage.createRun(config, compiled.initial!);
    await audit.record({
      actor,
      kind: 'run.started',
      subject: run.runId,
      data: { name: config.name, configSha256: sha256Hex(canonicalJson(config)), strategy: config.strategy.name, rounds: config.rounds, ...(planId ? { planId } : {}) },
    });
    startRun(run, compiled);
    return run.runId;
  }

  app.get('/v1/runs', async (request) => {
    await auth.caller(request, 'runs:read');
    return { runs: await storage.listRuns() };
  });

  const runOf = async (runId: string): Promise<RunRecord> => {
    const run = await storage.getRun(runId);
    if (!run) throw new ConcordError(ErrorCode.NOT_FOUND, `no run ${runId}`, { details: { field: 'runId', received: runId } });
    return run;
  };

  app.get<{ Params: { runId: string } }>('/v1/runs/:runId', async (request) => {
    await auth.caller(request, 'runs:read');
    const run = await runOf(request.params.runId);
    return { run, rounds: await storage.listRounds(run.runId) };
  });

  app.get<{ Params: { runId: string } }>('/v1/runs/:runId/events', async (request) => {
    await auth.caller(request, 'runs:read');
    await runOf(request.params.runId);
    return { events: await storage.listEvents(request.params.runId) };
  });

  app.get<{ Params: { runId: string }; Querystring: { round?: string } }>('/v1/runs/:runId/metrics', async (request) => {
    await auth.caller(request, 'runs:read');
    await runOf(request.params.runId);
    const round = countParam(request.query, 'round');
    return { members: await storage.listMemberMetrics(request.params.runId, round) };
  });

  app.get<{ Params: { runId: string }; Querystring: { round?: string } }>('/v1/runs/:runId/model', async (request, reply) => {
    await auth.caller(request, 'runs:read');
    const run = await runOf(request.params.runId);
    const last = (await storage.lastRound(run.runId))?.round ?? 0;
    const round = modelRound(run, last, countParam(request.query, 'round'));
    const parameters = round === 0 ? await storage.getInitialParameters(run.runId) : (await storage.getCheckpoint(run.runId, round))?.parameters;
    if (!parameters) throw new ConcordError(ErrorCode.NOT_FOUND, `run ${run.runId} keeps no checkpoint of round ${round}: the coordinator's retention policy (--retention) dropped it; the last round's is always kept`, { details: { field: 'round', received: round, reason: 'not-retained' } });
    return reply.type(FRAME_CONTENT_TYPE).send(modelFrame(run, round, parameters));
  });

  app.get('/v1/privacy', async (request) => {
    await auth.caller(request, 'budgets:read');
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

  registerDashboardRoutes(app, { storage, publicKey: identity.publicKey, authorize: (request, scope) => auth.caller(request, scope) });
  registerResourceRoutes(app, { storage, member: memberOf, authorize: (request, scope) => auth.caller(request, scope) });
  registerInsightRoutes(app, {
    storage,
    authorize: async (request) => void (await auth.caller(request, 'runs:read')),
    ...(options.validationAccuracy
      ? { accuracy: options.validationAccuracy }
      : options.serverEvaluate
        ? { accuracy: async (config: RunConfig, p: Parameters) => (await options.serverEvaluate!(config, p)).metrics.accuracy ?? Number.NaN }
        : {}),
  });

  app.post<{ Params: { runId: string } }>('/v1/runs/:runId/stop', async (request) => {
    await auth.caller(request, 'runs:write');
    const run = await runOf(request.params.runId);
    const a = active.get(run.runId);
    a?.abort.abort();
    await a?.done;
    if (run.status === 'running' || run.status === 'pending') await storage.setRunStatus(run.runId, 'stopped');
    return { runId: run.runId, status: 'stopped' };
  });

  /** Drives a stored run: compiled at launch, or compiled again from its stored configuration when it resumes. */
  function startRun(run: RunRecord, compiled?: CompiledRun): void {
    if (active.has(run.runId)) return;
    const abort = new AbortController();
    shutdown.signal.addEventListener('abort', () => abort.abort(), { once: true });
    const done = (async () => {
      const built = compiled ?? (await buildRun(run.config, compileContext(false)));
      const grid = governance.gridFor(run, board);
      await runFederation({
      run,
      storage,
      grid,
      strategy: built.strategy,
      extensions: built.stagesFor(run, grid),
      signal: abort.signal,
      ...(options.serverEvaluate ? { serverEvaluate: (p: Parameters) => options.serverEvaluate!(run.config, p) } : {}),
      ...(options.retryDelayMs !== undefined ? { retryDelayMs: options.retryDelayMs } : {}),
      onEvent: (event: RunEvent) => {
        void audit.runEvent(event);
        options.onEvent?.(event);
      },
      roundAudit: (round: CompletedRound) => audit.roundEntries(run, round),
      onRoundSaved: async (round: CompletedRound) => {
        await options.onRoundSaved?.(run, round);
      },
    });
    })()
      .catch(async (error: unknown) => {
        if (abort.signal.aborted) return;
        const message = error instanceof Error ? error.message : String(error);
        await storage.setRunStatus(run.runId, 'failed', message).catch(() => undefined);
        const failed: RunEvent = { runId: run.runId, round: null, kind: 'run-failed', message, at: Date.now() };
        void audit.runEvent(failed);
        options.onEvent?.(failed);
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
    audit,
    publicKey: identity.publicKey,
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
