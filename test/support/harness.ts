// In-process harness for coordinator tests: a real coordinator on a loopback port with an
// in-memory SQLite store, and members that speak the real HTTP protocol but compute their
// "training" with plain arithmetic, so tests check the protocol and round logic exactly.

import { createCoordinator, type Coordinator } from '../../src/coordinator/server.js';
import { CoordinatorClient } from '../../src/node/client.js';
import { runMember, type TaskHandler } from '../../src/node/member.js';
import { RunConfigSchema, type RunConfig, type RunConfigInput, type TaskHeader } from '../../src/protocol/messages.js';
import { makeParameters, type Parameters } from '../../src/protocol/tensors.js';
import { SqliteStorage } from '../../src/storage/sqlite.js';
import type { Storage } from '../../src/storage/storage.js';
import type { RunExtension } from '../../src/coordinator/run-compiler.js';
import type { ConcordError } from '../../src/protocol/errors.js';
import type { Agreement } from '../../src/governance/agreement.js';

export const OPERATOR = 'op-test-token';
export const SPECS = [
  { name: 'dense_1/kernel', shape: [2, 2] },
  { name: 'dense_1/bias', shape: [2] },
];

export interface Harness {
  url: string;
  storage: Storage;
  coordinator: Coordinator;
  members: AbortController[];
  close(): Promise<void>;
}

export interface HarnessOptions {
  bodyLimitBytes?: number;
  heartbeatTimeoutMs?: number;
  /** Default true, as for the local demo. */
  openEnrollment?: boolean;
  /** Validation accuracy for contribution valuation; none by default. */
  validationAccuracy?: (config: RunConfig, parameters: Parameters) => Promise<number>;
  /** A cooperation agreement to enforce; none by default. */
  agreement?: Agreement;
  /** The protections and stages runs may ask for; default all (as the coordinator service composes it). */
  runExtensions?: readonly RunExtension[];
  /** The model a run starts from; default zeros of SPECS. */
  initialParameters?: (config: RunConfig) => Promise<Parameters>;
}

export async function startHarness(options: HarnessOptions = {}): Promise<Harness> {
  const storage = new SqliteStorage(':memory:');
  await storage.migrate();
  const coordinator = await createCoordinator({
    storage,
    operatorToken: OPERATOR,
    ...(options.runExtensions ? { runExtensions: options.runExtensions } : {}),
    initialParameters: options.initialParameters ?? (async () => makeParameters(SPECS)),
    retryDelayMs: 50,
    maxPollMs: 2000,
    board: { onlineWindowMs: 5000, heartbeatTimeoutMs: options.heartbeatTimeoutMs ?? 5000 },
    ...(options.bodyLimitBytes ? { bodyLimitBytes: options.bodyLimitBytes } : {}),
    ...(options.openEnrollment !== undefined ? { openEnrollment: options.openEnrollment } : {}),
    ...(options.validationAccuracy ? { validationAccuracy: options.validationAccuracy } : {}),
    ...(options.agreement ? { agreement: options.agreement } : {}),
  });
  const url = await coordinator.listen(0, '127.0.0.1');
  const members: AbortController[] = [];
  return {
    url,
    storage,
    coordinator,
    members,
    async close() {
      for (const m of members) m.abort();
      await coordinator.close();
      await storage.close();
    },
  };
}

export interface TaskLog {
  accepted: number;
  rejected: ConcordError[];
  /** The member's client: its identity, and its member id once enrolled. */
  client: CoordinatorClient;
}

/** A member whose "training" returns f(global); evaluation reports loss = Σθ. */
export function addMember(
  h: Harness,
  name: string,
  numExamples: number,
  train: (global: Parameters, task: TaskHeader) => Parameters | Promise<Parameters>,
  wrap: (handler: TaskHandler) => TaskHandler | Promise<TaskHandler> = (x) => x,
  options: { invitation?: string; /** What the member says its data looks like; default 2 features, 2 classes. */ dataset?: { inputShape: number[]; classes: number } } = {},
): TaskLog {
  const abort = new AbortController();
  h.members.push(abort);
  const client = new CoordinatorClient(h.url, options.invitation ? { invitation: options.invitation } : {});
  const log: TaskLog = { accepted: 0, rejected: [], client };
  const handler: TaskHandler = {
    async train(task, global) {
      return { parameters: await train(global, task), numExamples, metrics: { loss: 1 } };
    },
    async evaluate(_task, global) {
      return { numExamples, metrics: { loss: global.data.reduce((s, v) => s + v, 0), accuracy: 0.5 } };
    },
  };
  void Promise.resolve(wrap(handler)).then((wrapped) => runMember({
    client,
    name,
    dataset: { name: 'synthetic', numExamples, numHoldout: numExamples, inputShape: [2], classes: 2, ...options.dataset },
    handler: wrapped,
    signal: abort.signal,
    pollMs: 1000,
    heartbeatMs: 200,
    onTask: (_t, outcome) => {
      if (outcome.accepted) log.accepted++;
      else if (outcome.error) log.rejected.push(outcome.error);
    },
  })).catch(() => undefined);
  return log;
}

export const plus = (c: number) => (global: Parameters): Parameters => makeParameters(global.specs, global.data.map((v) => v + c));

export async function startRun(h: Harness, config: Partial<RunConfigInput>): Promise<string> {
  const full = RunConfigSchema.parse({
    model: { family: 'mlp', inputShape: [2], hidden: [], classes: 2 },
    rounds: 2,
    minAvailableMembers: 2,
    minTrainMembers: 2,
    roundDeadlineSeconds: 5,
    ...config,
  });
  const response = await fetch(`${h.url}/v1/runs`, {
    method: 'POST',
    headers: { authorization: `Bearer ${OPERATOR}`, 'content-type': 'application/json' },
    body: JSON.stringify(full),
  });
  const body = (await response.json()) as { runId?: string };
  if (!body.runId) throw new Error(`run not started: ${JSON.stringify(body)}`);
  return body.runId;
}

export async function waitForRun(h: Harness, runId: string, timeoutMs = 30_000): Promise<string> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    const run = await h.storage.getRun(runId);
    if (run && run.status !== 'running' && run.status !== 'pending') return run.status;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`run ${runId} did not finish within ${timeoutMs} ms`);
}
