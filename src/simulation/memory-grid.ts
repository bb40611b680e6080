// A Grid whose members live in this process (or in worker threads it hands work to) instead
// of behind HTTP: what `concord simulate` and the round loop's fast tests run on. It speaks
// the same frames as the HTTP task board — a task is encoded exactly as a member would
// receive it, the member's answer is encoded as it would be sent, and the result is judged
// by the same validateResult — so bytes, refusals, deadlines and failure reasons match the
// networked grid (simulation/grid-conformance.test.ts runs one suite on both).

import { setMaxListeners } from 'node:events';
import { randomBytes } from 'node:crypto';
import type { Grid, OutgoingTask, SendOptions, TaskReply } from '../coordinator/grid.js';
import { RoundProgressBook, type RoundProgress } from '../coordinator/round-progress.js';
import type { DeliveredTask, MemberBoard } from '../coordinator/task-board.js';
import { expectationOf, foldedReply, rejectionReason, taskFrame, validateResult } from '../coordinator/task-results.js';
import { ConcordError, ErrorCode } from '../protocol/errors.js';
import type { Failure, MemberRef } from '../strategies/strategy.js';

/** A member's answer to one task frame: the result frame it would send, or why it declined. */
export type MemberAnswer = { ok: true; body: Uint8Array } | { ok: false; reason: string };

/** Runs members' tasks: in this thread (member-executor.ts) or in worker threads (worker-pool.ts). */
export interface MemberExecutor {
  run(memberId: string, frame: Uint8Array, signal: AbortSignal): Promise<MemberAnswer>;
  close?(): Promise<void>;
}

export interface MemoryGridOptions {
  executor: MemberExecutor;
  now?: () => number;
}

/**
 * Members join with `add` and are online until `remove`. The grid also serves as the
 * coordinator's member board (createCoordinator's `memberBoard`), so the dashboard's live
 * round progress works; it has no HTTP side, so polls and submissions are refused.
 */
export class MemoryGrid implements Grid, MemberBoard {
  private readonly members = new Map<string, MemberRef>();
  private readonly book = new RoundProgressBook();
  private readonly waiters = new Set<() => void>();
  private readonly now: () => number;

  constructor(private readonly options: MemoryGridOptions) {
    this.now = options.now ?? Date.now;
  }

  add(member: MemberRef): void {
    this.members.set(member.memberId, member);
    for (const wake of [...this.waiters]) wake();
  }

  remove(memberId: string): void {
    this.members.delete(memberId);
  }

  available(): MemberRef[] {
    return [...this.members.values()].sort((a, b) => (a.memberId < b.memberId ? -1 : a.memberId > b.memberId ? 1 : 0));
  }

  async waitForMembers(count: number, signal: AbortSignal): Promise<void> {
    while (this.members.size < count) {
      if (signal.aborted) throw new ConcordError(ErrorCode.UNAVAILABLE, 'stopped while waiting for members');
      await new Promise<void>((resolve) => {
        const done = (): void => {
          this.waiters.delete(done);
          signal.removeEventListener('abort', done);
          resolve();
        };
        this.waiters.add(done);
        signal.addEventListener('abort', done, { once: true });
      });
    }
  }

  async sendAndReceive(tasks: OutgoingTask[], options: SendOptions): Promise<{ replies: TaskReply[]; failures: Failure[] }> {
    const replies: TaskReply[] = [];
    const failures: Failure[] = [];
    if (tasks.length === 0) return { replies, failures };
    const first = tasks[0]!;
    const tracked = first.kind !== 'analytics';
    if (tracked) this.book.begin(first.runId, first.round, first.stage ?? first.kind, tasks.map((t) => ({ memberId: t.memberId, name: this.members.get(t.memberId)?.name ?? t.memberId })), this.now());
    // Work past the deadline (or after shutdown) is abandoned: its answer no longer counts.
    const stop = new AbortController();
    // Every task of the round listens to it until it runs (executors add one or two each): no limit.
    setMaxListeners(0, stop.signal);
    const onAbort = (): void => stop.abort();
    options.signal.addEventListener('abort', onAbort, { once: true });
    const seconds = Math.max(0, Math.round((options.deadline - this.now()) / 1000));
    let timer: NodeJS.Timeout | undefined;
    const expired = new Promise<'expired'>((resolve) => {
      timer = setTimeout(() => resolve('expired'), Math.max(0, options.deadline - this.now()));
    });
    const aborted = new Promise<'aborted'>((resolve) => {
      if (stop.signal.aborted) resolve('aborted');
      stop.signal.addEventListener('abort', () => resolve('aborted'), { once: true });
    });
    const settled = new Set<number>();
    const settle = (i: number, outcome: { reply?: TaskReply; failure?: Failure }): void => {
      if (settled.has(i)) return;
      settled.add(i);
      const done = outcome.reply ?? outcome.failure!;
      if (tracked) this.book.mark(first.runId, first.round, done.memberId, outcome.reply ? 'reported' : 'failed', outcome.failure?.reason);
      // Summed now, as the task board does: the round holds no update it does not need.
      if (outcome.reply) replies.push(foldedReply(outcome.reply, tasks[i]!.kind, options.fold));
      else failures.push(outcome.failure!);
    };
    const work = Promise.all(tasks.map((task, i) => this.runOne(task, options.deadline, stop.signal, tracked).then((outcome) => settle(i, outcome))));
    const ended = await Promise.race([work.then(() => 'done' as const), expired, aborted]);
    clearTimeout(timer);
    options.signal.removeEventListener('abort', onAbort);
    if (ended !== 'done') {
      stop.abort();
      const reason = ended === 'expired' ? `missed the round deadline (${seconds} s)` : 'the coordinator is shutting down';
      tasks.forEach((task, i) => settle(i, { failure: { memberId: task.memberId, reason } }));
    }
    return { replies, failures };
  }

  private async runOne(task: OutgoingTask, deadline: number, signal: AbortSignal, tracked: boolean): Promise<{ reply?: TaskReply; failure?: Failure }> {
    const member = this.members.get(task.memberId);
    if (!member) return { failure: { memberId: task.memberId, reason: 'member is not connected' } };
    const taskId = `${task.runId}.r${task.round}.${task.stage ?? task.kind}.${randomBytes(6).toString('hex')}`;
    const frame = taskFrame(taskId, task, deadline);
    const started = this.now();
    if (tracked) this.book.mark(task.runId, task.round, task.memberId, 'working');
    let answer: MemberAnswer;
    try {
      answer = await this.options.executor.run(task.memberId, frame, signal);
    } catch (error) {
      return { failure: { memberId: task.memberId, reason: `the task failed on the member: ${error instanceof Error ? error.message : String(error)}` } };
    }
    if (!answer.ok) return { failure: { memberId: task.memberId, reason: `declined by the member: ${answer.reason}` } };
    try {
      const { header, parameters } = validateResult(expectationOf(taskId, task, member), answer.body);
      return { reply: { memberId: task.memberId, header, ...(parameters ? { parameters } : {}), bytesOut: frame.byteLength, bytesIn: answer.body.byteLength, seconds: (this.now() - started) / 1000 } };
    } catch (error) {
      return { failure: { memberId: task.memberId, reason: rejectionReason(error) } };
    }
  }

  // ---- the member board's HTTP side, which simulated members do not use ------------------

  seen(member: MemberRef): void {
    if (!this.members.has(member.memberId)) throw notNetworked();
  }

  forget(memberId: string): void {
    this.remove(memberId);
  }

  poll(): Promise<DeliveredTask | null> {
    return Promise.reject(notNetworked());
  }

  heartbeat(): void {}

  submit(): boolean {
    throw notNetworked();
  }

  decline(): void {
    throw notNetworked();
  }

  progress(runId: string): RoundProgress | null {
    return this.book.get(runId);
  }

  async close(): Promise<void> {
    await this.options.executor.close?.();
  }
}

function notNetworked(): ConcordError {
  return new ConcordError(ErrorCode.FORBIDDEN, "this coordinator's members are simulated in process; no member can connect over the network", { details: { field: 'member' } });
}
