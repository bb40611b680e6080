// The task board of coordinator replicas, kept in PostgreSQL (storage/postgres-coordination.ts)
// instead of one process's memory: a run's owner issues its tasks into the shared table; a
// member long-polls whichever replica its load balancer picks, which claims the task for it;
// the result may reach yet another replica, which validates it (task-results.ts, exactly as
// the in-process TaskBoard does) and settles it; the owner collects outcomes when notified,
// and on a timer besides. Who is online comes from members' last-seen times, which every
// replica records. Deadlines, silence and restarts fail tasks as in the TaskBoard.

import { randomBytes } from 'node:crypto';
import type { PostgresCoordination } from '../storage/postgres-coordination.js';
import type { MemberStore } from '../storage/storage.js';
import type { DatasetDescriptor } from '../protocol/messages.js';
import type { Failure, MemberRef } from '../strategies/strategy.js';
import type { OutgoingTask, SendOptions, TaskReply } from './grid.js';
import type { DeliveredTask, MemberBoard } from './task-board.js';
import { expectationOf, notDelivered, otherMembersTask, rejectionReason, staleTask, taskFrame, validateResult, type TaskExpectation } from './task-results.js';

export interface SharedTaskBoardOptions {
  coordination: PostgresCoordination;
  members: Pick<MemberStore, 'touchMember'>;
  /** This replica's name, as in its run leases. */
  replica: string;
  /** A member that has not polled for this long is offline. Default 30 s. */
  onlineWindowMs?: number;
  /** A member holding a task that sends nothing for this long has vanished. Default 20 s. */
  heartbeatTimeoutMs?: number;
  /** How often waiters re-check the tables when no notification came. Default 1000 ms. */
  recheckMs?: number;
}

interface Pending {
  settle: (outcome: { reply?: TaskReply; failure?: Failure }) => void;
}

export class SharedTaskBoard implements MemberBoard {
  private readonly coordination: PostgresCoordination;
  private readonly members: Pick<MemberStore, 'touchMember'>;
  private readonly replica: string;
  private readonly onlineWindowMs: number;
  private readonly heartbeatTimeoutMs: number;
  private readonly recheckMs: number;
  private snapshot: MemberRef[] = [];
  private lastSeen = new Map<string, number>();
  /** Local long-polls by member, woken by `concord_tasks`. */
  private readonly waiters = new Map<string, Set<() => void>>();
  /** Tasks this replica issued that are still open, woken by `concord_results`. */
  private readonly pending = new Map<string, Pending>();
  private readonly collectors = new Set<() => void>();
  private readonly unsubscribe: (() => void)[] = [];
  private readonly refresher: NodeJS.Timeout;

  constructor(options: SharedTaskBoardOptions) {
    this.coordination = options.coordination;
    this.members = options.members;
    this.replica = options.replica;
    this.onlineWindowMs = options.onlineWindowMs ?? 30_000;
    this.heartbeatTimeoutMs = options.heartbeatTimeoutMs ?? 20_000;
    this.recheckMs = options.recheckMs ?? 1000;
    this.unsubscribe.push(
      this.coordination.on('tasks', (memberId) => {
        for (const wake of this.waiters.get(memberId) ?? []) wake();
      }),
      this.coordination.on('results', (issuer) => {
        if (issuer === this.replica) for (const collect of this.collectors) collect();
      }),
    );
    this.refresher = setInterval(() => void this.refresh().catch(() => undefined), 500);
    this.refresher.unref();
  }

  async close(): Promise<void> {
    clearInterval(this.refresher);
    for (const off of this.unsubscribe) off();
  }

  seen(member: MemberRef): Promise<void> {
    return this.members.touchMember(member.memberId, Date.now());
  }

  async forget(memberId: string, reason = 'member was removed'): Promise<void> {
    await this.coordination.failTasks({ memberId }, reason);
    this.snapshot = this.snapshot.filter((m) => m.memberId !== memberId);
  }

  available(): MemberRef[] {
    return this.snapshot;
  }

  /** Re-reads who is online: polled within the online window, or busy and heard from within the heartbeat timeout. */
  async refresh(): Promise<MemberRef[]> {
    const now = Date.now();
    const active = await this.coordination.activeMembers(now - Math.max(this.onlineWindowMs, this.heartbeatTimeoutMs));
    this.lastSeen = new Map(active.map((m) => [m.memberId, m.lastSeenAt]));
    this.snapshot = active
      .filter((m) => now - m.lastSeenAt <= (m.busy ? this.heartbeatTimeoutMs : this.onlineWindowMs))
      .map((m) => {
        const dataset = JSON.parse(m.dataset) as DatasetDescriptor;
        return { memberId: m.memberId, name: m.name, numExamples: dataset.numExamples, numHoldout: dataset.numHoldout, datasetName: dataset.name };
      });
    return this.snapshot;
  }

  async waitForMembers(count: number, signal: AbortSignal): Promise<void> {
    while ((await this.refresh().catch(() => this.snapshot)).length < count) {
      if (signal.aborted) throw signal.reason;
      await sleep(200, signal);
    }
  }

  async sendAndReceive(tasks: OutgoingTask[], options: SendOptions): Promise<{ replies: TaskReply[]; failures: Failure[] }> {
    const replies: TaskReply[] = [];
    const failures: Failure[] = [];
    if (tasks.length === 0) return { replies, failures };
    const byMember = new Map(this.snapshot.map((m) => [m.memberId, m]));
    const issued = tasks.map((task) => {
      const taskId = `${task.runId}.r${task.round}.${task.stage ?? task.kind}.${randomBytes(6).toString('hex')}`;
      return { taskId, task, expect: expectationOf(taskId, task, byMember.get(task.memberId)) };
    });
    const ids = issued.map((t) => t.taskId);
    const open = new Set(ids);
    const done = new Promise<void>((resolve) => {
      for (const { taskId } of issued) {
        this.pending.set(taskId, {
          settle: (outcome) => {
            if (!open.delete(taskId)) return;
            this.pending.delete(taskId);
            if (outcome.reply) replies.push(outcome.reply);
            if (outcome.failure) failures.push(outcome.failure);
            if (open.size === 0) resolve();
          },
        });
      }
    });
    const fail = async (taskIds: string[], reason: string, status?: ('queued' | 'delivered')[]) => {
      const failed = await this.coordination.failTasks({ taskIds, ...(status ? { status } : {}) }, reason);
      const memberOf = new Map(issued.map((t) => [t.taskId, t.task.memberId]));
      for (const id of failed) this.pending.get(id)?.settle({ failure: { memberId: memberOf.get(id)!, reason } });
    };
    let collecting = false;
    const collect = async (): Promise<void> => {
      if (collecting || open.size === 0) return;
      collecting = true;
      try {
        const now = Date.now();
        for (const row of await this.coordination.outcomes([...open])) {
          const pending = this.pending.get(row.taskId);
          if (!pending) continue;
          if (row.status === 'failed') pending.settle({ failure: { memberId: row.memberId, reason: row.reason ?? 'failed' } });
          else if (row.status === 'settled' && row.result) pending.settle({ reply: this.reply(JSON.parse(row.expect) as TaskExpectation, row.memberId, row.result, row.frameBytes, row.deliveredAt, row.settledAt) });
          else {
            const silentFor = now - (this.lastSeen.get(row.memberId) ?? 0);
            if (row.status === 'delivered' && silentFor > this.heartbeatTimeoutMs) {
              await fail([row.taskId], `went silent while working: no heartbeat for ${Math.round(silentFor / 1000)} s`, ['delivered']);
            } else if (row.status === 'queued' && silentFor > this.onlineWindowMs) {
              await fail([row.taskId], `went offline before receiving its task (last seen ${Math.round(silentFor / 1000)} s ago)`, ['queued']);
            }
          }
        }
        // A task whose row vanished was removed by a new owner of the run, or never stored.
      } catch {
        // The database is out of reach: tried again on the next tick; the lease decides whether this replica goes on.
      } finally {
        collecting = false;
      }
    };
    const wake = () => void collect();
    this.collectors.add(wake);
    const ticker = setInterval(wake, this.recheckMs);
    const seconds = Math.max(0, Math.round((options.deadline - Date.now()) / 1000));
    const timer = setTimeout(() => void fail([...open], `missed the round deadline (${seconds} s)`).catch(() => this.abandon(issued, open, 'missed the round deadline and the database could not be reached')), Math.max(0, options.deadline - Date.now()));
    const onAbort = () => void fail([...open], 'the coordinator is shutting down').catch(() => this.abandon(issued, open, 'the coordinator is shutting down'));
    options.signal.addEventListener('abort', onAbort, { once: true });
    try {
      await this.coordination.issueTasks(issued.map((t) => ({ taskId: t.taskId, runId: t.task.runId, memberId: t.task.memberId, issuedBy: this.replica, expect: JSON.stringify(t.expect), frame: taskFrame(t.taskId, t.task, options.deadline) })));
      if (options.signal.aborted) onAbort();
      await done;
    } catch (error) {
      this.abandon(issued, open, `tasks could not be issued: ${(error as Error).message}`);
      await done;
    } finally {
      clearTimeout(timer);
      clearInterval(ticker);
      this.collectors.delete(wake);
      options.signal.removeEventListener('abort', onAbort);
      // Late results for these tasks are stale from now on, whichever replica they reach.
      await this.coordination.deleteTasks(ids).catch(() => undefined);
    }
    return { replies, failures };
  }

  /** Ends open tasks locally when the database cannot say how they ended. */
  private abandon(issued: { taskId: string; task: OutgoingTask }[], open: Set<string>, reason: string): void {
    for (const t of issued) if (open.has(t.taskId)) this.pending.get(t.taskId)?.settle({ failure: { memberId: t.task.memberId, reason } });
  }

  private reply(expect: TaskExpectation, memberId: string, result: Buffer, frameBytes: number, deliveredAt: number | null, settledAt: number | null): TaskReply {
    const { header, parameters } = validateResult(expect, result);
    return { memberId, header, ...(parameters ? { parameters } : {}), bytesOut: frameBytes, bytesIn: result.byteLength, seconds: Math.max(0, ((settledAt ?? 0) - (deliveredAt ?? 0)) / 1000) };
  }

  async poll(member: MemberRef, waitMs: number, signal: AbortSignal): Promise<DeliveredTask | null> {
    await this.members.touchMember(member.memberId, Date.now());
    await this.coordination.failTasks({ memberId: member.memberId, status: ['delivered'] }, 'the member asked for new work while this task was open: it restarted or lost the task');
    const until = Date.now() + Math.max(0, waitMs);
    for (;;) {
      const task = await this.coordination.claimTask(member.memberId);
      if (task) {
        // The connection closed while we waited: the task stays queued for the next poll.
        if (signal.aborted) {
          await this.coordination.requeue(task.taskId);
          return null;
        }
        return { taskId: task.taskId, frame: task.frame };
      }
      const left = until - Date.now();
      if (left <= 0 || signal.aborted) return null;
      await this.wakeUp(member.memberId, Math.min(left, this.recheckMs * 5), signal);
    }
  }

  /** Resolves on a notification of new work for the member, after `ms`, or on abort. */
  private wakeUp(memberId: string, ms: number, signal: AbortSignal): Promise<void> {
    return new Promise((resolve) => {
      let set = this.waiters.get(memberId);
      if (!set) this.waiters.set(memberId, (set = new Set()));
      const done = () => {
        clearTimeout(timer);
        signal.removeEventListener('abort', done);
        set.delete(done);
        if (set.size === 0) this.waiters.delete(memberId);
        resolve();
      };
      const timer = setTimeout(done, ms);
      signal.addEventListener('abort', done, { once: true });
      set.add(done);
    });
  }

  heartbeat(member: MemberRef): Promise<void> {
    return this.members.touchMember(member.memberId, Date.now());
  }

  /** The body is stored with the task for whichever replica runs the round: always kept. */
  async submit(memberId: string, taskId: string, body: Uint8Array): Promise<boolean> {
    const row = await this.openTask(memberId, taskId);
    try {
      validateResult(JSON.parse(row.expect) as TaskExpectation, body);
    } catch (error) {
      await this.coordination.failTasks({ taskIds: [taskId] }, rejectionReason(error));
      throw error;
    }
    if (!(await this.coordination.settle(taskId, body, row.issuedBy))) throw staleTask(taskId);
    return true;
  }

  async decline(memberId: string, taskId: string, reason: string): Promise<void> {
    await this.openTask(memberId, taskId);
    await this.coordination.failTasks({ taskIds: [taskId] }, `declined by the member: ${reason}`);
  }

  private async openTask(memberId: string, taskId: string) {
    const row = await this.coordination.task(taskId);
    if (!row || row.status === 'settled' || row.status === 'failed') throw staleTask(taskId);
    if (row.memberId !== memberId) throw otherMembersTask(taskId);
    if (row.status !== 'delivered') throw notDelivered(taskId);
    return row;
  }
}

function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    const timer = setTimeout(done, ms);
    function done(): void {
      clearTimeout(timer);
      signal.removeEventListener('abort', done);
      resolve();
    }
    signal.addEventListener('abort', done, { once: true });
  });
}
