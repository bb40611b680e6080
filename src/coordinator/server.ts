// The coordinator's HTTP face (Fastify): member enrollment, long-polled task delivery,
// result upload, and the operator's run API. Runs are driven by round-loop.ts through
// the TaskBoard grid; every run still marked running in storage resumes on start. With
// replicas (PostgreSQL) the grid is the SharedTaskBoard and a run is driven by whichever
// replica holds its lease (run-supervisor.ts); the others serve members and the API.
// Members authenticate by signed requests, people by scoped bearer tokens (auth.ts);
// decisions go to the signed audit trail (audit-trail.ts). HTTPS when given a certificate.
// Wire format: docs/protocol.md; security: docs/security.md.

import { setMaxListeners } from 'node:events';
import Fastify, { type FastifyInstance, type FastifyRequest } from 'fastify';
import { canonicalJson } from '../governance/canonical.js';
import { sha256Hex } from '../governance/digest.js';
import { generateIdentity, type Identity } from '../governance/identity.js';
import { ConcordError, ErrorCode } from '../protocol/errors.js';
import { FRAME_CONTENT_TYPE } from '../protocol/frame.js';
import { PROTOCOL_HEADER, PROTOCOL_VERSION, assertProtocolHeader, type RunConfig } from '../protocol/messages.js';
import type { Parameters } from '../protocol/tensors.js';
import type { Strategy } from '../strategies/strategy.js';
import type { CompletedRound, MemberRecord, RunEvent, RunRecord, Storage } from '../storage/storage.js';
import { AuditTrail, modelFrame } from './audit-trail.js';
import { Authenticator, installBodyParsers } from './auth.js';
import { releaseFrameBody } from './frame-body.js';
import { registerGovernanceRoutes } from './governance-routes.js';
import { createAgreementGovernance } from './agreement-routes.js';
import type { Agreement } from '../governance/agreement.js';
import { installErrorHandler } from './http-errors.js';
import { registerAnalyticsRoutes } from './analytics-routes.js';
import { AnalyticsService } from './analytics-service.js';
import type { DataSchema } from '../data/schema/schema.js';
import { registerInsightRoutes } from './insight-routes.js';
import { modelRound } from './model-round.js';
import { registerResourceRoutes } from './resource-routes.js';
import { buildRun, type CompiledRun, type RunContext, type RunExtension } from './run-compiler.js';
import { standardRunExtensions } from './run-extensions.js';
import { registerDashboardRoutes } from './dashboard-routes.js';
import { registerRunControlRoutes } from './run-control-routes.js';
import { joinContext } from './join-context.js';
import { countParam, type Query } from './query.js';
import { budgetFor, datasetIdOf, privacyReport } from './privacy-policy.js';
import { runFederation, type FederationOptions, type ServerEvaluation } from './round-loop.js';
import { runAsyncFederation } from './async-loop.js';
import { asyncScheduleOf } from '../strategies/fedbuff.js';
import { TaskBoard, type MemberBoard, type TaskBoardOptions } from './task-board.js';
import { SharedTaskBoard } from './shared-task-board.js';
import { RunSupervisor } from './run-supervisor.js';
import type { PostgresCoordination } from '../storage/postgres-coordination.js';
import type { PostgresStorage } from '../storage/postgres.js';
import { hostname } from 'node:os';
import { Readable } from 'node:stream';
import { randomBytes, randomUUID } from 'node:crypto';
import { CoordinatorMetrics } from './metrics.js';
import { MemberActivity } from './member-activity.js';

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
  /** The model's parameter count, checked before anything is built. Default: its family's count. */
  parameterCount?: (config: RunConfig) => number;
  /**
   * The protections and stages runs may ask for (run-compiler.ts). Default: all of them
   * (standardRunExtensions). A run that asks for one this list lacks is refused.
   */
  runExtensions?: readonly RunExtension[];
  /** NATS server(s) with JetStream where shard aggregators listen: runs may ask for hierarchicalAggregation. */
  nats?: string;
  /** Replaces the strategy registry (tests and benchmarks that bring their own strategy). */
  strategyFor?: (config: RunConfig) => Strategy;
  serverEvaluate?: (config: RunConfig, parameters: Parameters) => Promise<ServerEvaluation>;
  /**
   * Accuracy of a model on the validation set, or its per-example correctness (for
   * bootstrap intervals), for contribution valuation (many coalition models).
   * Default: serverEvaluate's accuracy; none without either.
   */
  validationAccuracy?: (config: RunConfig, parameters: Parameters) => Promise<number | ArrayLike<number>>;
  /** Largest request body accepted, in bytes. Default 64 MiB (16M float32 parameters). */
  bodyLimitBytes?: number;
  /** Longest a task long-poll is held open. Default 25 s. */
  maxPollMs?: number;
  board?: TaskBoardOptions;
  /** Members reached another way than HTTP (simulation/memory-grid.ts); replaces the task board. */
  memberBoard?: MemberBoard;
  retryDelayMs?: number;
  onEvent?: (event: RunEvent) => void;
  /**
   * The cooperation agreement to enforce (docs/agreement.example.yaml). Default: the version
   * stored by an earlier start, if any; without one nothing is enforced (the local demo).
   */
  agreement?: Agreement;
  /**
   * Run as one of several replicas on one PostgreSQL database: tasks live in the database
   * (SharedTaskBoard), each run's round loop is driven by the replica holding its lease
   * (RunSupervisor). Without it the coordinator is the only process on its database.
   */
  replication?: ReplicationOptions;
  /**
   * Structured JSON logs (pino, through Fastify), one line per request with its request id
   * (the caller's x-request-id, or a new one, echoed in the response). Default: none.
   */
  log?: { level: string; stream?: NodeJS.WritableStream };
  /**
   * Federated analytics (analytics-service.ts): the consortium schema when the agreement
   * carries none, each dataset's budget where the agreement states none, how long members
   * have to answer. Default: the agreement's schema and budgets only.
   */
  analytics?: { schema?: DataSchema; budget?: { epsilon: number; delta: number }; timeoutMs?: number };
}

export interface ReplicationOptions {
  coordination: PostgresCoordination;
  /** This process's name in leases and task records. Default: host:pid:random. */
  replica?: string;
  /** How long a run's lease lasts unless renewed. Default 10 000 ms. */
  leaseMs?: number;
  /** How often leases are claimed and renewed. Default leaseMs / 5. */
  renewMs?: number;
}

export interface Coordinator {
  app: FastifyInstance;
  board: MemberBoard;
  /** This replica's name in run leases; null without replication. */
  replica: string | null;
  /** Runs whose round loop this process drives now. */
  driving(): string[];
  /** Prometheus metrics of this process (serve them with metrics.ts serveMetrics). */
  metrics: CoordinatorMetrics;
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
  const replication = options.replication;
  const replica = replication ? (replication.replica ?? `${hostname()}:${process.pid}:${randomBytes(3).toString('hex')}`) : null;
  const leaseMs = replication?.leaseMs ?? 10_000;
  const board: MemberBoard = options.memberBoard
    ? options.memberBoard
    : replication
    ? new SharedTaskBoard({ coordination: replication.coordination, members: storage, replica: replica!, ...(options.board?.onlineWindowMs !== undefined ? { onlineWindowMs: options.board.onlineWindowMs } : {}), ...(options.board?.heartbeatTimeoutMs !== undefined ? { heartbeatTimeoutMs: options.board.heartbeatTimeoutMs } : {}) })
    : new TaskBoard(options.board);
  const active = new Map<string, { abort: AbortController; done: Promise<void> }>();
  const shutdown = new AbortController();

  const identity = options.identity ?? generateIdentity();
  const audit = new AuditTrail({ storage, identity });
  const governance = await createAgreementGovernance({ storage, audit, ...(options.agreement ? { initial: options.agreement } : {}) });
  const auth = new Authenticator({
    storage,
    operatorToken: options.operatorToken,
    audit,
    ...(options.maxClockSkewMs !== undefined ? { maxClockSkewMs: options.maxClockSkewMs } : {}),
    // Replicas share the nonces they have seen: a request replayed to another one is refused too.
    ...(replication ? { sharedNonces: (memberId: string, nonce: string, expiresAt: number) => replication.coordination.rememberNonce(memberId, nonce, expiresAt) } : {}),
  });

  const common = {
    bodyLimit,
    forceCloseConnections: true,
    logger: options.log ? { level: options.log.level, ...(options.log.stream ? { stream: options.log.stream } : {}) } : false,
    requestIdHeader: 'x-request-id',
    genReqId: () => randomUUID(),
  };
  const app = options.tls
    ? (Fastify({ ...common, https: { cert: options.tls.cert, key: options.tls.key } }) as unknown as FastifyInstance)
    : (Fastify(common) as unknown as FastifyInstance);
  const analytics = new AnalyticsService({ storage, grid: board, audit, agreement: () => governance.current(), ...options.analytics });
  const metrics = new CoordinatorMetrics({
    membersOnline: () => board.available().length,
    runsDriven: () => active.size,
    epsilonSpent: async () => (await privacyReport(storage, await budgetsByDataset())).map((d) => ({ datasetId: d.datasetId, epsilon: d.epsilon })),
  });
  installErrorHandler(app, bodyLimit, (code) => metrics.refused(code));
  installBodyParsers(app, bodyLimit);
  app.addHook('onRequest', async (request) => {
    const version = request.headers[PROTOCOL_HEADER];
    if (version !== undefined && request.url.startsWith('/v1/')) assertProtocolHeader(version);
  });
  app.addHook('onSend', async (request, reply) => {
    reply.header(PROTOCOL_HEADER, String(PROTOCOL_VERSION));
    reply.header('x-request-id', request.id);
  });

  const activity = new MemberActivity({ store: storage, onError: (error) => app.log.warn({ err: error }, 'members\' last-seen times could not be stored; retrying') });

  /** The member a signed request comes from; nothing of an unauthenticated caller reaches the board. */
  const memberOf = (request: FastifyRequest): Promise<MemberRecord> => auth.member(request);
  const ref = (m: MemberRecord) => ({ memberId: m.memberId, name: m.name, numExamples: m.dataset.numExamples, numHoldout: m.dataset.numHoldout, datasetName: m.dataset.name });

  // Liveness: the process answers. Readiness: it can serve now (its database answers and it
  // is not shutting down); a load balancer sends members only to ready replicas.
  app.get('/v1/health', async () => ({ protocolVersion: PROTOCOL_VERSION, status: 'ok' }));
  let draining = false;
  app.get('/v1/ready', async () => {
    if (draining) throw new ConcordError(ErrorCode.UNAVAILABLE, 'this coordinator is shutting down', { details: { field: 'ready', reason: 'shutting-down' } });
    await storage.lastAudit(); // UNAVAILABLE when the database cannot be reached
    return { ready: true, replica, driving: [...active.keys()] };
  });

  registerGovernanceRoutes(app, {
    storage,
    assertMayEnroll: (name) => governance.assertMayEnroll(name),
    auth,
    audit,
    identity,
    openEnrollment: options.openEnrollment ?? true,
    onEnrolled: (member) => void Promise.resolve(board.seen(ref(member))).catch(() => undefined),
    onRevoked: (member) => void Promise.resolve(board.forget(member.memberId, 'member was revoked by the operator')).catch(() => undefined),
  });
  app.get('/v1/tasks/next', async (request, reply) => {
    const member = await memberOf(request);
    const waitMs = Math.min(countParam(request.query as Query, 'waitMs') ?? 0, maxPollMs);
    const closed = new AbortController();
    request.raw.once('close', () => closed.abort());
    reply.raw.once('close', () => closed.abort());
    const task = await board.poll(ref(member), waitMs, closed.signal);
    activity.touch(member.memberId, Date.now());
    if (!task) return reply.code(204).send();
    if (task.parts) {
      // The model part is shared by every member's frame this round: sent as it is, not copied into each.
      const length = task.parts.reduce((n, p) => n + p.byteLength, 0);
      metrics.bytes('out', length);
      reply.header('content-length', length);
      return reply.type(FRAME_CONTENT_TYPE).send(Readable.from(task.parts.map((p) => Buffer.from(p.buffer, p.byteOffset, p.byteLength))));
    }
    metrics.bytes('out', task.frame.byteLength);
    return reply.type(FRAME_CONTENT_TYPE).send(task.frame);
  });

  app.post('/v1/members/heartbeat', async (request) => {
    const member = await memberOf(request);
    await board.heartbeat(ref(member));
    return { ok: true };
  });

  app.post<{ Params: { taskId: string } }>('/v1/tasks/:taskId/result', async (request) => {
    const member = await memberOf(request);
    await board.heartbeat(ref(member));
    if (!Buffer.isBuffer(request.body)) {
      const received = request.headers['content-type'];
      throw new ConcordError(ErrorCode.INVALID_MESSAGE, `results must be sent as ${FRAME_CONTENT_TYPE}, received ${received === undefined ? 'no content type' : JSON.stringify(received)}`, {
        details: { field: 'content-type', expected: FRAME_CONTENT_TYPE, received: received ?? null },
      });
    }
    metrics.bytes('in', request.body.byteLength);
    // An update the round summed on arrival is not kept: its bytes take the next upload.
    if (!(await board.submit(member.memberId, request.params.taskId, request.body))) releaseFrameBody(request);
    return { accepted: true };
  });

  app.post<{ Params: { taskId: string }; Body: { reason?: unknown } }>('/v1/tasks/:taskId/decline', async (request) => {
    const member = await memberOf(request);
    await board.heartbeat(ref(member));
    const reason = request.body?.reason;
    if (typeof reason !== 'string' || reason.length === 0 || reason.length > 2000) {
      throw new ConcordError(ErrorCode.INVALID_MESSAGE, 'a decline needs a reason of 1 to 2000 characters', { details: { field: 'reason', expected: 'string' } });
    }
    await board.decline(member.memberId, request.params.taskId, reason);
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

  const runExtensions = options.runExtensions ?? standardRunExtensions({ harmonisation: { analytics, schema: () => governance.current()?.dataSchema ?? options.analytics?.schema }, ...(options.nats ? { hierarchical: { nats: options.nats } } : {}) });
  const compileContext = (withInitial: boolean): RunContext => ({
    storage,
    extensions: runExtensions,
    bodyLimitBytes: bodyLimit,
    ...(options.parameterCount ? { parameterCount: options.parameterCount } : {}),
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
    if (supervisor) {
      // The replica that launches a run drives it, once it holds the lease.
      if (await replication!.coordination.claimLease(run.runId, replica!, leaseMs)) {
        supervisor.claimed(run.runId);
        startRun(run, compiled);
      }
      void replication!.coordination.notify('runs', run.runId).catch(() => undefined);
    } else startRun(run, compiled);
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

  registerAnalyticsRoutes(app, {
    service: analytics,
    storage,
    authorize: (request, scope) => auth.caller(request, scope),
    signal: shutdown.signal,
  });
  registerDashboardRoutes(app, {
    storage,
    publicKey: identity.publicKey,
    authorize: (request, scope) => auth.caller(request, scope),
    joinContext: (invitation) => joinContext({ storage, openEnrollment: options.openEnrollment ?? true, consortium: () => governance.current()?.consortium ?? null }, invitation),
  });
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

  registerRunControlRoutes(app, {
    storage,
    audit,
    authorize: (request, scope) => auth.caller(request, scope),
    progress: (runId) => board.progress?.(runId) ?? null,
    async stop(run, reason) {
      const a = active.get(run.runId);
      a?.abort.abort();
      await a?.done;
      await storage.setRunStatus(run.runId, 'stopped', reason);
      // The replica driving it (if another) stops on its next tick; this wakes it now.
      if (replication) await replication.coordination.notify('runs', run.runId).catch(() => undefined);
    },
  });

  /** Drives a stored run: compiled at launch, or compiled again from its stored configuration when it resumes. */
  function startRun(run: RunRecord, compiled?: CompiledRun): void {
    if (active.has(run.runId)) return;
    const abort = new AbortController();
    // Every task in flight listens to the run's signal (an asynchronous run has many at once): no limit.
    setMaxListeners(0, abort.signal);
    shutdown.signal.addEventListener('abort', () => abort.abort(), { once: true });
    const done = (async () => {
      const built = compiled ?? (await buildRun(run.config, compileContext(false)));
      // Taking the run over: tasks of an earlier owner's unfinished round are void.
      if (replication) await replication.coordination.deleteRunTasks(run.runId);
      const grid = governance.gridFor(run, board);
      // An asynchronous strategy (FedBuff) is driven by its own loop; the compiler refused any stage it cannot honour.
      const schedule = asyncScheduleOf(built.strategy);
      await (schedule ? (o: FederationOptions) => runAsyncFederation({ ...o, schedule, asyncExtensions: built.asyncStagesFor(run, grid) }) : runFederation)({
        run,
        storage: replication ? fencedRuns(storage, replication.coordination, run.runId, replica!) : storage,
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
          metrics.roundCommitted(run.runId, (round.completedAt - round.startedAt) / 1000);
          await options.onRoundSaved?.(run, round);
        },
      });
    })()
      .catch(async (error: unknown) => {
        if (abort.signal.aborted) return;
        // Refused at commit because another replica holds the lease now: it carries on.
        if (error instanceof ConcordError && error.details.field === 'lease') return;
        // A replica that lost the database (or waited too long on it) gives the run up rather
        // than failing it: the lease goes back and whichever replica reaches the database resumes it.
        if (supervisor && error instanceof ConcordError && error.code === ErrorCode.UNAVAILABLE && error.details.field === 'db') {
          app.log.warn({ runId: run.runId, err: error }, 'gave a run up: the database did not answer');
          return;
        }
        const message = error instanceof Error ? error.message : String(error);
        await storage.setRunStatus(run.runId, 'failed', message).catch(() => undefined);
        const failed: RunEvent = { runId: run.runId, round: null, kind: 'run-failed', message, at: Date.now() };
        void audit.runEvent(failed);
        options.onEvent?.(failed);
      })
      .finally(async () => {
        active.delete(run.runId);
        // Ended here (finished, failed, stopped, shutting down): the next owner need not wait for the lease to expire.
        if (supervisor) await supervisor.giveUp(run.runId).catch(() => undefined);
      });
    active.set(run.runId, { abort, done });
  }

  const supervisor = replication
    ? new RunSupervisor({
        coordination: replication.coordination,
        runs: storage,
        replica: replica!,
        leaseMs,
        renewMs: replication.renewMs ?? Math.max(100, Math.floor(leaseMs / 5)),
        drive: (run) => {
          app.log.info({ runId: run.runId, replica }, 'driving a run: this replica holds its lease');
          startRun(run);
        },
        driving: () => [...active.keys()],
        onError: (error) => app.log.warn({ err: error }, 'run leases could not be claimed or renewed'),
        release: (runId, why) => {
          app.log.warn({ runId, why }, 'no longer driving a run');
          active.get(runId)?.abort.abort();
        },
        onTick: async () => {
          await governance.refresh();
          await replication.coordination.purgeNonces(Date.now() - 60_000);
        },
      })
    : null;
  if (replication) replication.coordination.on('runs', () => void supervisor!.tick());

  if (supervisor) supervisor.start();
  else {
    for (const run of await storage.listRuns()) {
      if (run.status === 'running' || run.status === 'pending') startRun(run);
    }
  }

  return {
    app,
    board,
    replica,
    driving: () => [...active.keys()],
    metrics,
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
      draining = true;
      supervisor?.close();
      shutdown.abort();
      await Promise.all([...active.values()].map((a) => a.done));
      await board.close?.();
      await app.close();
      await activity.close();
    },
  };
}

/**
 * The run store a replica's round loop writes through: a round commits only while this
 * replica holds the run's lease, checked (and the lease row locked) in the round's own
 * transaction. Otherwise CONFLICT on field `lease`: another replica drives the run now.
 */
function fencedRuns(storage: Storage, coordination: PostgresCoordination, runId: string, replica: string): Storage {
  const saveRound: Storage['saveRound'] = (round, audit) =>
    storage.transaction(async (tx) => {
      if (!(await coordination.holdsLease(tx as PostgresStorage, runId, replica))) {
        throw new ConcordError(ErrorCode.CONFLICT, `round ${round.round} of run ${runId} was not stored: this replica no longer holds the run's lease, another one drives it now`, {
          details: { field: 'lease', received: replica },
        });
      }
      await tx.saveRound(round, audit);
    });
  return new Proxy(storage, {
    get(target, property, receiver) {
      if (property === 'saveRound') return saveRound;
      const value = Reflect.get(target, property, receiver) as unknown;
      return typeof value === 'function' ? (value as (...a: unknown[]) => unknown).bind(target) : value;
    },
  });
}
