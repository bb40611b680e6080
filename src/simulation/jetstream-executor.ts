// Simulated members' work spread over hosts through a NATS JetStream work queue. The
// coordinator's side is a MemberExecutor (JetStreamExecutor): MemoryGrid hands it each task
// frame, it publishes the frame to the CONCORD_TASKS stream and resolves when the answer with
// the same task id arrives on CONCORD_RESULTS. The worker's side (runJetStreamWorker) pulls
// tasks from one durable consumer shared by every worker of a pool, answers each with a local
// executor (LocalExecutor: the members' own TaskHandlers) and acknowledges the task only once
// its result is stored in the results stream. A worker killed mid-task never acknowledges, so
// after ackWait the task goes to another worker (at most maxDeliver deliveries); the result is
// the one a single process would have given, because a member's answer depends only on its
// frame and its data. Frames and results over the inline limit travel through the object
// store (a 784-128-10 MLP frame is ~0.4 MB; larger models exceed NATS's 1 MiB max_payload).
//
// Every worker of a pool must be able to answer every member of it (e.g. each host builds the
// same population from the same seed); a worker that does not hold a member hands the task
// back (nak) for another.

import { randomUUID } from 'node:crypto';
import { AckPolicy, type JsMsg } from '@nats-io/jetstream';
import { nanos } from '@nats-io/transport-node';
import { blobOf, dropBlob, encodeToken, ensureDurable, ensureStream, header, keepAlive, openJetStream, publishPayload, readPayload, subjectToken, type JetStreamLink } from '../distributed/jetstream.js';
import { ConcordError, ErrorCode, isConcordError } from '../protocol/errors.js';
import type { MemberAnswer, MemberExecutor } from './memory-grid.js';

export const TASK_STREAM = 'CONCORD_TASKS';
export const RESULT_STREAM = 'CONCORD_RESULTS';
const TASK_SUBJECTS = 'concord.tasks.>';
const RESULT_SUBJECTS = 'concord.results.>';

const H = { task: 'Concord-Task', member: 'Concord-Member', reply: 'Concord-Reply', ok: 'Concord-Ok', reason: 'Concord-Reason' } as const;

export interface JetStreamQueueOptions {
  /** NATS servers, "nats://host:4222" (comma-separated for a cluster). */
  servers: string | readonly string[];
  /** Work-queue pool: executors and workers of one pool share tasks. Default "default". */
  pool?: string;
  /** A delivered task not acknowledged (or kept alive) within this is delivered again. Default 30 000 ms. */
  ackWaitMs?: number;
  /** Deliveries of one task before it is given up (its round deadline then fails it). Default 5. */
  maxDeliver?: number;
}

function poolOf(options: JetStreamQueueOptions): string {
  return subjectToken(options.pool ?? 'default', 'pool');
}

async function declareQueue(link: JetStreamLink, options: JetStreamQueueOptions): Promise<string> {
  const pool = poolOf(options);
  await ensureStream(link, TASK_STREAM, [TASK_SUBJECTS], 'workqueue');
  await ensureStream(link, RESULT_STREAM, [RESULT_SUBJECTS], 'workqueue');
  const durable = `workers-${pool}`;
  await ensureDurable(link, TASK_STREAM, durable, `concord.tasks.${pool}`, { ackWaitMs: options.ackWaitMs ?? 30_000, maxDeliver: options.maxDeliver ?? 5 });
  return durable;
}

interface Pending {
  resolve(answer: MemberAnswer): void;
}

/** The coordinator's side: each task frame becomes a work-queue message; its answer comes back by task id. */
export class JetStreamExecutor implements MemberExecutor {
  private readonly pending = new Map<string, Pending>();
  private stopped = false;
  private loop: Promise<void> | undefined;

  private constructor(
    private readonly link: JetStreamLink,
    private readonly pool: string,
    private readonly resultSubject: string,
    private readonly resultConsumer: string,
  ) {}

  static async open(options: JetStreamQueueOptions): Promise<JetStreamExecutor> {
    const link = await openJetStream(options.servers, { name: 'concord-executor' });
    try {
      await declareQueue(link, options);
      const id = randomUUID().replace(/-/g, '');
      const subject = `concord.results.${id}`;
      const consumer = `executor-${id}`;
      // Made before any task is published, so no result can be missed; removed on close.
      await link.jsm.consumers.add(RESULT_STREAM, { durable_name: consumer, ack_policy: AckPolicy.Explicit, filter_subject: subject, inactive_threshold: nanos(3600_000) });
      const executor = new JetStreamExecutor(link, poolOf(options), subject, consumer);
      executor.loop = executor.collect();
      return executor;
    } catch (error) {
      await link.close();
      throw error;
    }
  }

  async run(memberId: string, frame: Uint8Array, signal: AbortSignal): Promise<MemberAnswer> {
    if (this.stopped) throw new ConcordError(ErrorCode.UNAVAILABLE, 'the JetStream executor is closed');
    if (signal.aborted) return { ok: false, reason: 'abandoned: the round moved on' };
    const taskId = randomUUID();
    const answer = new Promise<MemberAnswer>((resolve) => this.pending.set(taskId, { resolve }));
    const published = await publishPayload(this.link, `concord.tasks.${this.pool}`, { [H.task]: taskId, [H.member]: memberId, [H.reply]: this.resultSubject }, frame, { blobName: `task.${taskId}`, msgId: taskId });
    const abandoned = new Promise<MemberAnswer>((resolve) => {
      const onAbort = (): void => resolve({ ok: false, reason: 'abandoned: the round moved on' });
      if (signal.aborted) onAbort();
      signal.addEventListener('abort', onAbort, { once: true });
      void answer.finally(() => signal.removeEventListener('abort', onAbort));
    });
    const outcome = await Promise.race([answer, abandoned]);
    this.pending.delete(taskId);
    if (signal.aborted) {
      // Nobody needs it now: take it off the queue if no worker has finished it yet.
      await this.link.jsm.streams.deleteMessage(TASK_STREAM, published.seq, false).catch(() => undefined);
    }
    await dropBlob(this.link, published.blob);
    return outcome;
  }

  private async collect(): Promise<void> {
    const consumer = await this.link.js.consumers.get(RESULT_STREAM, this.resultConsumer);
    while (!this.stopped) {
      const messages = await consumer.consume({ max_messages: 64 });
      try {
        for await (const m of messages) {
          await this.take(m);
          if (this.stopped) break;
        }
      } catch {
        // The connection is closing, or the iterator was stopped: loop decides.
      }
      if (this.stopped) return;
    }
  }

  private async take(m: JsMsg): Promise<void> {
    const taskId = m.headers?.get(H.task) ?? '';
    const waiting = this.pending.get(taskId);
    // A duplicate (a worker killed between storing its result and acknowledging) or one for an abandoned task: dropped.
    if (waiting) {
      try {
        const ok = m.headers?.get(H.ok) === 'true';
        const answer: MemberAnswer = ok ? { ok: true, body: await readPayload(this.link, m.headers, m.data) } : { ok: false, reason: m.headers?.get(H.reason) ?? 'the member gave no reason' };
        this.pending.delete(taskId);
        waiting.resolve(answer);
      } catch (error) {
        this.pending.delete(taskId);
        waiting.resolve({ ok: false, reason: `its result could not be read from JetStream: ${error instanceof Error ? error.message : String(error)}` });
      }
    }
    m.ack();
    await dropBlob(this.link, blobOf(m.headers));
  }

  async close(): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    for (const [, p] of this.pending) p.resolve({ ok: false, reason: 'the coordinator is shutting down' });
    this.pending.clear();
    await this.link.jsm.consumers.delete(RESULT_STREAM, this.resultConsumer).catch(() => undefined);
    await this.link.close();
    await this.loop?.catch(() => undefined);
  }
}

export interface JetStreamWorkerOptions extends JetStreamQueueOptions {
  /** Answers the tasks this worker takes (LocalExecutor over its members' handlers). */
  executor: MemberExecutor;
  signal: AbortSignal;
  /** Tasks worked on at once. Default 1. */
  concurrency?: number;
  /** Called as each task is taken and finished (progress lines, tests). */
  onEvent?: (event: { event: 'taken' | 'answered' | 'handed-back'; taskId: string; memberId: string; delivery: number }) => void;
}

/**
 * Pulls tasks until `signal` aborts, answering each with `options.executor`. A task is
 * acknowledged only after its result is in the results stream; an executor that throws
 * NOT_FOUND (this worker does not hold the member) hands the task back for another worker.
 */
export async function runJetStreamWorker(options: JetStreamWorkerOptions): Promise<{ answered: number }> {
  const link = await openJetStream(options.servers, { name: 'concord-worker' });
  let answered = 0;
  try {
    const durable = await declareQueue(link, options);
    const ackWaitMs = options.ackWaitMs ?? 30_000;
    const consumer = await link.js.consumers.get(TASK_STREAM, durable);
    const concurrency = Math.max(1, options.concurrency ?? 1);
    const held = new Set<JsMsg>();
    const stopKeepAlive = keepAlive(() => held, ackWaitMs);
    const work = new AbortController();
    const onAbort = (): void => work.abort();
    options.signal.addEventListener('abort', onAbort, { once: true });
    const running = new Set<Promise<void>>();
    try {
      while (!options.signal.aborted) {
        if (running.size >= concurrency) {
          await Promise.race(running);
          continue;
        }
        const m = await consumer.next({ expires: 2_000 }).catch((error: unknown) => {
          if (options.signal.aborted) return null;
          throw error;
        });
        if (!m) continue;
        held.add(m);
        const job = answerOne(link, m, options, work.signal)
          .then((ok) => {
            if (ok) answered++;
          })
          .finally(() => {
            held.delete(m);
            running.delete(job);
          });
        running.add(job);
      }
      await Promise.allSettled(running);
    } finally {
      stopKeepAlive();
      options.signal.removeEventListener('abort', onAbort);
    }
  } finally {
    await link.close();
  }
  return { answered };
}

async function answerOne(link: JetStreamLink, m: JsMsg, options: JetStreamWorkerOptions, signal: AbortSignal): Promise<boolean> {
  let taskId = '';
  let memberId = '';
  try {
    taskId = header(m, H.task);
    memberId = header(m, H.member);
    const replyTo = header(m, H.reply);
    options.onEvent?.({ event: 'taken', taskId, memberId, delivery: m.info.deliveryCount });
    let frame: Uint8Array;
    try {
      frame = await readPayload(link, m.headers, m.data);
    } catch (error) {
      // Its frame is gone: the coordinator already has an answer (or gave up on it).
      if (isConcordError(error) && error.code === ErrorCode.NOT_FOUND) {
        m.term();
        return false;
      }
      throw error;
    }
    let answer: MemberAnswer;
    try {
      answer = await options.executor.run(memberId, frame, signal);
    } catch (error) {
      if (isConcordError(error) && error.code === ErrorCode.NOT_FOUND) {
        m.nak(1_000);
        options.onEvent?.({ event: 'handed-back', taskId, memberId, delivery: m.info.deliveryCount });
        return false;
      }
      answer = { ok: false, reason: `the task failed on the member: ${error instanceof Error ? error.message : String(error)}` };
    }
    if (signal.aborted) {
      // Stopping: leave the task to another worker rather than answer it half-way.
      m.nak();
      return false;
    }
    const fields: Record<string, string> = { [H.task]: taskId, [H.member]: memberId, [H.ok]: String(answer.ok) };
    if (!answer.ok) fields[H.reason] = answer.reason.slice(0, 2000).replace(/[\r\n]+/g, ' ');
    // One result per task id in the dedup window; a redelivered task's second result is dropped by JetStream or by the executor.
    await publishPayload(link, replyTo, fields, answer.ok ? answer.body : new Uint8Array(0), { blobName: `result.${encodeToken(taskId)}`, msgId: `result.${taskId}` });
    await m.ackAck();
    options.onEvent?.({ event: 'answered', taskId, memberId, delivery: m.info.deliveryCount });
    return true;
  } catch (error) {
    // Not acknowledged: redelivered after ackWait (the server may be gone; nothing else to do here).
    if (!signal.aborted) process.emitWarning(`JetStream worker: task ${taskId || '?'} of ${memberId || '?'} not answered: ${error instanceof Error ? error.message : String(error)}`);
    return false;
  }
}
