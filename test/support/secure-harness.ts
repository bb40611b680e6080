// In-process harness for secure-aggregation tests: a real coordinator on a loopback port whose
// runs with `secureAggregation: true` train through secureTrainPhase, with taps on what the
// coordinator receives — every reply the phase gets from the grid and every raw HTTP body —
// and members that speak the real protocol with arithmetic "training" wrapped in
// withSecureAggregation. A member can leave (stop its loop) right after answering a stage.

import { createCoordinator, type Coordinator } from '../../src/coordinator/server.js';
import type { Grid, TaskReply } from '../../src/coordinator/grid.js';
import type { RunExtension } from '../../src/coordinator/run-compiler.js';
import { standardRunExtensions } from '../../src/coordinator/run-extensions.js';
import { secureAggregationExtension } from '../../src/coordinator/secure-round.js';
import { CoordinatorClient } from '../../src/node/client.js';
import { runMember, type TaskHandler, type TrainOutcome } from '../../src/node/member.js';
import { withSecureAggregation } from '../../src/node/secagg-handler.js';
import { nodePrimitives } from '../../src/privacy/secagg/primitives-node.js';
import type { ConcordError } from '../../src/protocol/errors.js';
import { RunConfigSchema, type RunConfig, type RunConfigInput, type TaskHeader } from '../../src/protocol/messages.js';
import { makeParameters, totalSize, type Parameters, type TensorSpec } from '../../src/protocol/tensors.js';
import { SqliteStorage } from '../../src/storage/sqlite.js';
import type { Storage } from '../../src/storage/storage.js';
import type { Strategy } from '../../src/strategies/strategy.js';

export const OPERATOR = 'op-secure-test';

export interface SecureHarnessOptions {
  specs: TensorSpec[];
  initial: Float32Array;
  /** Default: the registry's strategy for config.strategy. */
  createStrategy?: (config: RunConfig) => Strategy;
  /** SQLite file; default in memory. */
  dbFile?: string;
}

export interface SecureHarness {
  url: string;
  storage: Storage;
  coordinator: Coordinator;
  members: AbortController[];
  /** Every reply the secure phase received from the grid, in arrival order. */
  replies: TaskReply[];
  /** Every request body members POSTed to the coordinator. */
  bodies: Buffer[];
  logs: string[];
  close(): Promise<void>;
}

export async function startSecureHarness(options: SecureHarnessOptions): Promise<SecureHarness> {
  const storage = new SqliteStorage(options.dbFile ?? ':memory:');
  await storage.migrate();
  const replies: TaskReply[] = [];
  const bodies: Buffer[] = [];
  const logs: string[] = [];
  const coordinator = await createCoordinator({
    storage,
    operatorToken: OPERATOR,
    ...(options.createStrategy ? { strategyFor: options.createStrategy } : {}),
    initialParameters: async () => makeParameters(options.specs, new Float32Array(options.initial)),
    parameterCount: () => totalSize(options.specs),
    retryDelayMs: 50,
    maxPollMs: 1000,
    board: { onlineWindowMs: 1500, heartbeatTimeoutMs: 1500 },
    // The standard extensions, with the secure train phase seeing a grid that records every reply.
    runExtensions: standardRunExtensions().map((e) => (e.field !== 'secureAggregation' ? e : tappedSecureAggregation(replies, logs))),
  });
  coordinator.app.addHook('preHandler', async (request) => {
    if (request.method === 'POST' && request.body !== undefined) {
      bodies.push(Buffer.isBuffer(request.body) ? Buffer.from(request.body) : Buffer.from(JSON.stringify(request.body)));
    }
  });
  const url = await coordinator.listen(0, '127.0.0.1');
  const members: AbortController[] = [];
  return {
    url,
    storage,
    coordinator,
    members,
    replies,
    bodies,
    logs,
    async close() {
      for (const m of members) m.abort();
      await coordinator.close();
      await storage.close();
    },
  };
}

export interface SecureMemberLog {
  memberId: () => string | undefined;
  accepted: number;
  rejected: ConcordError[];
  stages: string[];
}

/** A member whose training returns train(global, task); it stops its loop right after answering `leaveAfter`. */
export function addSecureMember(
  h: SecureHarness,
  name: string,
  numExamples: number,
  train: (global: Parameters, task: TaskHeader) => Parameters | Omit<TrainOutcome, 'numExamples'>,
  options: { leaveAfter?: string } = {},
): SecureMemberLog {
  const abort = new AbortController();
  h.members.push(abort);
  const client = new CoordinatorClient(h.url);
  const log: SecureMemberLog = { memberId: () => client.credentials?.memberId, accepted: 0, rejected: [], stages: [] };
  const inner: TaskHandler = {
    async train(task, global) {
      const out = train(global, task);
      return 'specs' in out ? { parameters: out, numExamples, metrics: {} } : { ...out, numExamples };
    },
    async evaluate(_task, global) {
      return { numExamples, metrics: { loss: global.data.reduce((s, v) => s + v, 0) } };
    },
  };
  const secure = withSecureAggregation(inner, { memberId: () => client.credentials?.memberId, primitives: nodePrimitives });
  const handler: TaskHandler = {
    ...secure,
    async secagg(task, global) {
      const out = await secure.secagg!(task, global);
      log.stages.push(task.stage!);
      // The result still goes out (runMember submits it); then the loop ends: no more polls or heartbeats.
      if (task.stage === options.leaveAfter) abort.abort();
      return out;
    },
  };
  void runMember({
    client,
    name,
    dataset: { name: 'synthetic', numExamples, numHoldout: numExamples, inputShape: [2], classes: 2 },
    handler,
    signal: abort.signal,
    pollMs: 500,
    heartbeatMs: 200,
    onTask: (_t, outcome) => {
      if (outcome.accepted) log.accepted++;
      else if (outcome.error) log.rejected.push(outcome.error);
    },
  }).catch(() => undefined);
  return log;
}

export async function startSecureRun(h: SecureHarness, config: Partial<RunConfigInput>): Promise<string> {
  const full = RunConfigSchema.parse({
    model: { family: 'mlp', inputShape: [2], hidden: [], classes: 2 },
    rounds: 1,
    minAvailableMembers: 2,
    minTrainMembers: 2,
    fractionEvaluate: 0,
    minEvaluateMembers: 0,
    roundDeadlineSeconds: 20,
    secureAggregation: true,
    ...config,
  });
  const response = await fetch(`${h.url}/v1/runs`, {
    method: 'POST',
    headers: { authorization: `Bearer ${OPERATOR}`, 'content-type': 'application/json' },
    body: JSON.stringify(full),
  });
  const body = (await response.json()) as { runId?: string; error?: unknown };
  if (!body.runId) throw new Error(`run not started: ${JSON.stringify(body)}`);
  return body.runId;
}

export async function waitForRun(h: SecureHarness, runId: string, timeoutMs = 30_000): Promise<string> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    const run = await h.storage.getRun(runId);
    if (run && run.status !== 'running' && run.status !== 'pending') return run.status;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`run ${runId} did not finish within ${timeoutMs} ms`);
}

export async function waitForMembers(h: SecureHarness, count: number, timeoutMs = 30_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (h.coordinator.board.available().length < count) {
    if (Date.now() > deadline) throw new Error(`only ${h.coordinator.board.available().length} of ${count} members came online`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

function tappedSecureAggregation(replies: TaskReply[], logs: string[]): RunExtension {
  const secure = secureAggregationExtension({ log: (m) => logs.push(m) });
  return {
    ...secure,
    stages: (run, strategy, grid, storage) => {
      const tapped: Grid = {
        available: () => grid.available(),
        waitForMembers: (count, signal) => grid.waitForMembers(count, signal),
        async sendAndReceive(tasks, o) {
          const out = await grid.sendAndReceive(tasks, o);
          replies.push(...out.replies);
          return out;
        },
      };
      return secure.stages!(run, strategy, tapped, storage);
    },
  };
}
