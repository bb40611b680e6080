// The member node's loop: enroll once, then long-poll for tasks, run them with a
// TaskHandler (TF.js training in tfjs-handler.ts; tests and benchmarks plug in others),
// and send the result back. While a task runs it sends heartbeats so the coordinator can
// tell a slow member from a vanished one. If the coordinator goes away it retries with
// exponential backoff and jitter, and picks up where the coordinator resumes; a refusal
// that retrying cannot heal stops it with the reason (recovery.ts decides which is which).

import { chmod, mkdir, readFile, writeFile } from 'node:fs/promises';
import { dirname } from 'node:path';
import { ConcordError, ErrorCode, toConcordError } from '../protocol/errors.js';
import type { AnalyticsTaskHeader, AnyTaskHeader, DatasetDescriptor, TaskHeader } from '../protocol/messages.js';
import type { Parameters } from '../protocol/tensors.js';
import { answerTask } from './answer-task.js';
import type { CoordinatorClient, Credentials } from './client.js';
import { recoveryFor, type Exchange } from './recovery.js';

export interface TrainOutcome {
  parameters: Parameters;
  numExamples: number;
  metrics: Record<string, number>;
}

export interface EvaluateOutcome {
  numExamples: number;
  /** Must include `loss`. */
  metrics: Record<string, number>;
}

export interface SecaggOutcome {
  payload: Record<string, unknown>;
  parameters?: Parameters;
  numExamples?: number;
  metrics?: Record<string, number>;
}

/**
 * Runs tasks on the member's data. A handler that refuses a task (for instance because
 * the member's own privacy budget would be exceeded) throws a ConcordError with code
 * FORBIDDEN; the member then declines the task with that message.
 */
export interface TaskHandler {
  train(task: TaskHeader, global: Parameters): Promise<TrainOutcome>;
  evaluate(task: TaskHeader, global: Parameters): Promise<EvaluateOutcome>;
  /** Secure-aggregation stages; members without it cannot join secure runs. */
  secagg?(task: TaskHeader, global: Parameters | null): Promise<SecaggOutcome>;
  /** Federated analytics (node/analytics-handler.ts): a query's stage over this member's validated data. */
  analytics?(task: AnalyticsTaskHeader): Promise<SecaggOutcome>;
}

export interface MemberOptions {
  client: CoordinatorClient;
  name: string;
  dataset: DatasetDescriptor;
  handler: TaskHandler;
  signal: AbortSignal;
  /**
   * Where the member keeps its enrollment between restarts (JSON, mode 0600): its member id
   * and the public key it enrolled with. Used only while the client's identity has that key.
   */
  credentialsFile?: string;
  /** Long-poll duration. Default 20 s. */
  pollMs?: number;
  /** Heartbeat period while a task runs. Default 5 s. */
  heartbeatMs?: number;
  /** Reconnect backoff: first delay and cap. Defaults 250 ms and 10 s. */
  backoffMs?: { initial: number; max: number };
  log?: (line: string) => void;
  /** Called after each task's result was accepted (or rejected). */
  onTask?: (task: AnyTaskHeader, outcome: { accepted: boolean; error?: ConcordError; bytesIn: number; bytesOut: number }) => void;
}

export async function runMember(options: MemberOptions): Promise<void> {
  const { client, signal } = options;
  const log = options.log ?? (() => undefined);
  const backoff = options.backoffMs ?? { initial: 250, max: 10_000 };
  let delayMs = backoff.initial;
  let failingSince: number | null = null;

  const wait = async (): Promise<void> => {
    const jittered = delayMs * (0.5 + Math.random() / 2);
    await sleep(jittered, signal);
    delayMs = Math.min(delayMs * 2, backoff.max);
  };
  const answering = (): void => {
    if (failingSince !== null) log(`coordinator answering again after ${((Date.now() - failingSince) / 1000).toFixed(1)} s`);
    failingSince = null;
    delayMs = backoff.initial;
  };
  const failing = (error: ConcordError): void => {
    if (failingSince === null) {
      failingSince = Date.now();
      log(`${error.message}; retrying with backoff`);
    }
  };

  if (!client.credentials && options.credentialsFile) client.credentials = await readCredentials(options.credentialsFile, client.identity.publicKey);

  let during: Exchange = 'enroll';
  while (!signal.aborted) {
    try {
      if (!client.credentials) {
        during = 'enroll';
        const credentials = await client.enroll(options.name, options.dataset);
        if (options.credentialsFile) await writeCredentials(options.credentialsFile, credentials, client.identity.publicKey);
        log(`enrolled as ${options.name} (${credentials.memberId})`);
      }
      during = 'poll';
      const task = await client.nextTask(options.pollMs ?? 20_000, signal);
      answering();
      if (!task) continue;
      log(`round ${task.header.round} ${task.header.stage ?? task.header.kind}: working on task ${task.header.taskId}`);
      during = 'result';
      await runTask(task.header, task.parameters, task.bytes);
    } catch (raw) {
      if (signal.aborted) break;
      const error = toConcordError(raw);
      switch (recoveryFor(error, during)) {
        case 'retry':
          failing(error);
          // With several replicas, the next one may serve what this one cannot (down, cut off from its database).
          if (client.failover()) log(`moving to coordinator ${client.url}`);
          await wait();
          break;
        case 'enroll-again':
          // The coordinator no longer knows our id (e.g. a fresh database): enroll again, signed
          // with the same key (a name it still knows accepts only that key).
          log(`coordinator rejected our request (${error.message}); enrolling again`);
          client.credentials = null;
          break;
        default:
          throw error; // needs a person: the error says what
      }
    }
  }

  async function runTask(header: AnyTaskHeader, global: Parameters | null, bytesIn: number): Promise<void> {
    const beat = setInterval(() => void client.heartbeat().catch(() => undefined), options.heartbeatMs ?? 5000);
    const stopBeat = (): void => clearInterval(beat);
    signal.addEventListener('abort', stopBeat, { once: true });
    const what = `round ${header.round} ${header.stage ?? header.kind}`;
    try {
      let answer: Awaited<ReturnType<typeof answerTask>>;
      try {
        answer = await answerTask(options.handler, header, global);
      } catch (raw) {
        const error = toConcordError(raw);
        // FORBIDDEN is the handler's refusal (e.g. its own privacy budget); anything else failed here.
        const reason = error.code === ErrorCode.FORBIDDEN ? error.message : `the task failed on the member: ${error.code}: ${error.message}`;
        log(`${what}: declined: ${reason}`);
        // Tell the coordinator at once, so the round need not wait for its deadline.
        await client.decline(header.taskId, reason.slice(0, 2000)).catch(() => undefined);
        options.onTask?.(header, { accepted: false, error, bytesIn, bytesOut: 0 });
        return;
      }
      try {
        const bytesOut = await client.submitResult(answer.result, answer.parameters);
        options.onTask?.(header, { accepted: true, bytesIn, bytesOut });
      } catch (raw) {
        const error = toConcordError(raw);
        const recovery = recoveryFor(error, 'result');
        if (recovery === 'retry' || recovery === 'enroll-again') throw error; // lost on the way, not refused
        options.onTask?.(header, { accepted: false, error, bytesIn, bytesOut: 0 });
        if (recovery === 'stop') throw error;
        log(`${what}: result not accepted: ${error.code}: ${error.message}`);
        // A result the coordinator refused has closed its task already; one it never read (too
        // large, not encodable) has not, and is declined so the round need not wait for it.
        await client.decline(header.taskId, `the result was not accepted: ${error.code}: ${error.message}`.slice(0, 2000)).catch(() => undefined);
      }
    } finally {
      stopBeat();
      signal.removeEventListener('abort', stopBeat);
    }
  }
}

/** The saved enrollment, if it was made with `publicKey` (an older file or another key: none). */
async function readCredentials(file: string, publicKey: string): Promise<Credentials | null> {
  try {
    const parsed = JSON.parse(await readFile(file, 'utf8')) as { memberId?: unknown; publicKey?: unknown };
    if (typeof parsed.memberId === 'string' && parsed.publicKey === publicKey) return { memberId: parsed.memberId };
  } catch {
    // no saved credentials yet
  }
  return null;
}

async function writeCredentials(file: string, credentials: Credentials, publicKey: string): Promise<void> {
  await mkdir(dirname(file), { recursive: true });
  await writeFile(file, JSON.stringify({ memberId: credentials.memberId, publicKey }), { mode: 0o600 });
  await chmod(file, 0o600);
}

function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal.aborted) return resolve();
    const timer = setTimeout(done, ms);
    function done(): void {
      clearTimeout(timer);
      signal.removeEventListener('abort', done);
      resolve();
    }
    signal.addEventListener('abort', done, { once: true });
  });
}
