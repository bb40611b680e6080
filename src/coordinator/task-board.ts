// The HTTP grid's mailbox: tasks wait here per member until the member long-polls for
// them, and results come back through submit(). It also decides who is online (polled
// recently, or busy with a task and still sending heartbeats) and fails tasks whose
// member went silent, so a vanished member costs a round seconds, not its whole deadline.
// A member works on one task at a time and polls only between tasks (node/member.ts, the
// browser's join/member-loop.ts), so a poll while it holds a delivered task means that task
// is lost (the member restarted, or the delivery never reached it): it fails at once.

import { randomBytes } from 'node:crypto';
import type { Failure, MemberRef } from '../strategies/strategy.js';
import type { Grid, OutgoingTask, SendOptions, TaskReply, UpdateFold } from './grid.js';
import { RoundProgressBook, type RoundProgress } from './round-progress.js';
import { expectationOf, foldedReply, notDelivered, otherMembersTask, rejectionReason, staleTask, taskFrameParts, validateResult } from './task-results.js';

export interface TaskBoardOptions {
  /** A member that has not polled for this long is offline. Default 30 s. */
  onlineWindowMs?: number;
  /** A member holding a task that sends nothing for this long has vanished. Default 20 s. */
  heartbeatTimeoutMs?: number;
  now?: () => number;
}

interface MemberState extends MemberRef {
  lastSeen: number;
  queue: TaskState[];
  waiter: ((task: TaskState | null) => void) | null;
}

interface TaskState {
  taskId: string;
  task: OutgoingTask;
  deadline: number;
  status: 'queued' | 'delivered' | 'settled';
  deliveredAt: number;
  bytesOut: number;
  /** Where the round sums train updates on arrival (its streaming mean), if anywhere. */
  fold: UpdateFold | undefined;
  settle: (outcome: { reply?: TaskReply; failure?: Failure }) => void;
}

export interface DeliveredTask {
  taskId: string;
  /** The task frame. */
  frame: Buffer;
  /**
   * The same bytes in pieces (the member's header, then the model every task of the round
   * shares), to be sent one after the other without being joined; absent where the board
   * holds only whole frames.
   */
  parts?: readonly Uint8Array[];
}

/**
 * The board the member routes talk to: the Grid the round loop drives, plus what members
 * do. TaskBoard keeps it in this process (one coordinator, SQLite); SharedTaskBoard
 * (shared-task-board.ts) in PostgreSQL, for replicas.
 */
export interface MemberBoard extends Grid {
  /** Records that an authenticated member made contact. */
  seen(member: MemberRef): void | Promise<void>;
  /** Removes a member; its queued and delivered tasks fail at once with `reason`. */
  forget(memberId: string, reason?: string): void | Promise<void>;
  poll(member: MemberRef, waitMs: number, signal: AbortSignal): Promise<DeliveredTask | null>;
  heartbeat(member: MemberRef): void | Promise<void>;
  /** Resolves true when the board still refers to `body` (it kept the update), false when the caller may reuse its bytes. */
  submit(memberId: string, taskId: string, body: Uint8Array): boolean | Promise<boolean>;
  decline(memberId: string, taskId: string, reason: string): void | Promise<void>;
  /** Who is working on a run's current tasks and who has reported; absent where the board cannot tell (replicas). */
  progress?(runId: string): RoundProgress | null;
  close?(): Promise<void>;
}

export class TaskBoard implements MemberBoard {
  private readonly members = new Map<string, MemberState>();
  private readonly tasks = new Map<string, TaskState>();
  private readonly book = new RoundProgressBook();
  private readonly onlineWindowMs: number;
  private readonly heartbeatTimeoutMs: number;
  private readonly now: () => number;

  constructor(options: TaskBoardOptions = {}) {
    this.onlineWindowMs = options.onlineWindowMs ?? 30_000;
    this.heartbeatTimeoutMs = options.heartbeatTimeoutMs ?? 20_000;
    this.now = options.now ?? Date.now;
  }

  /** Records that an authenticated member made contact. */
  seen(member: MemberRef): void {
    const state = this.members.get(member.memberId);
    if (state) {
      state.lastSeen = this.now();
      state.name = member.name;
      state.numExamples = member.numExamples;
      if (member.numHoldout !== undefined) state.numHoldout = member.numHoldout;
      if (member.datasetName !== undefined) state.datasetName = member.datasetName;
    } else {
      this.members.set(member.memberId, { ...member, lastSeen: this.now(), queue: [], waiter: null });
    }
  }

  /** Removes a member; its queued and delivered tasks fail at once with `reason`. */
  forget(memberId: string, reason = 'member was removed'): void {
    for (const t of [...this.tasks.values()]) if (t.task.memberId === memberId) this.fail(t, reason);
    const state = this.members.get(memberId);
    if (!state) return;
    state.queue.length = 0;
    state.waiter?.(null);
    this.members.delete(memberId);
  }

  available(): MemberRef[] {
    const now = this.now();
    const busy = new Set<string>();
    for (const t of this.tasks.values()) if (t.status === 'delivered') busy.add(t.task.memberId);
    const out: MemberRef[] = [];
    for (const m of this.members.values()) {
      const fresh = now - m.lastSeen <= (busy.has(m.memberId) ? this.heartbeatTimeoutMs : this.onlineWindowMs);
      if (m.waiter || fresh) {
        out.push({ memberId: m.memberId, name: m.name, numExamples: m.numExamples, ...(m.numHoldout !== undefined ? { numHoldout: m.numHoldout } : {}), ...(m.datasetName !== undefined ? { datasetName: m.datasetName } : {}) });
      }
    }
    return out.sort((a, b) => (a.memberId < b.memberId ? -1 : a.memberId > b.memberId ? 1 : 0));
  }

  async waitForMembers(count: number, signal: AbortSignal): Promise<void> {
    while (this.available().length < count) {
      if (signal.aborted) throw signal.reason;
      await sleep(100, signal);
    }
  }

  sendAndReceive(tasks: OutgoingTask[], options: SendOptions): Promise<{ replies: TaskReply[]; failures: Failure[] }> {
    const replies: TaskReply[] = [];
    const failures: Failure[] = [];
    if (tasks.length === 0) return Promise.resolve({ replies, failures });
    const first = tasks[0]!;
    if (first.kind !== 'analytics') {
      const nameOf = (id: string) => this.members.get(id)?.name ?? id;
      this.book.begin(first.runId, first.round, first.stage ?? first.kind, tasks.map((t) => ({ memberId: t.memberId, name: nameOf(t.memberId) })), this.now());
    }
    return new Promise((resolve) => {
      let open = tasks.length;
      const states: TaskState[] = [];
      const finish = (): void => {
        clearTimeout(timer);
        clearInterval(watchdog);
        options.signal.removeEventListener('abort', onAbort);
        resolve({ replies, failures });
      };
      const onSettle = (outcome: { reply?: TaskReply; failure?: Failure }): void => {
        const done = outcome.reply ?? outcome.failure;
        if (done && first.kind !== 'analytics') this.book.mark(first.runId, first.round, done.memberId, outcome.reply ? 'reported' : 'failed', outcome.failure?.reason);
        if (outcome.reply) replies.push(outcome.reply);
        if (outcome.failure) failures.push(outcome.failure);
        if (--open === 0) finish();
      };
      for (const task of tasks) {
        const taskId = `${task.runId}.r${task.round}.${task.stage ?? task.kind}.${randomBytes(6).toString('hex')}`;
        const state: TaskState = { taskId, task, deadline: options.deadline, status: 'queued', deliveredAt: 0, bytesOut: 0, fold: options.fold, settle: onSettle };
        this.tasks.set(taskId, state);
        states.push(state);
        const member = this.members.get(task.memberId);
        if (!member) {
          this.fail(state, 'member is not connected');
          continue;
        }
        member.queue.push(state);
        this.wake(member);
      }
      const seconds = Math.max(0, Math.round((options.deadline - this.now()) / 1000));
      const timer = setTimeout(() => {
        for (const s of states) this.fail(s, `missed the round deadline (${seconds} s)`);
      }, Math.max(0, options.deadline - this.now()));
      const watchdog = setInterval(() => {
        const now = this.now();
        for (const s of states) {
          if (s.status === 'settled') continue;
          const m = this.members.get(s.task.memberId);
          const silentFor = m ? now - m.lastSeen : Infinity;
          if (s.status === 'delivered' && silentFor > this.heartbeatTimeoutMs) {
            this.fail(s, `went silent while working: no heartbeat for ${Math.round(silentFor / 1000)} s`);
          } else if (s.status === 'queued' && !m?.waiter && silentFor > this.onlineWindowMs) {
            this.fail(s, `went offline before receiving its task (last seen ${Math.round(silentFor / 1000)} s ago)`);
          }
        }
      }, 1000);
      const onAbort = (): void => {
        for (const s of states) this.fail(s, 'the coordinator is shutting down');
      };
      options.signal.addEventListener('abort', onAbort, { once: true });
      if (open === 0) finish();
    });
  }

  /** Long-poll: resolves with the member's next task, or null after waitMs. */
  poll(member: MemberRef, waitMs: number, signal: AbortSignal): Promise<DeliveredTask | null> {
    this.seen(member);
    this.failDelivered(member.memberId, 'the member asked for new work while this task was open: it restarted or lost the task');
    const state = this.members.get(member.memberId)!;
    const next = this.takeQueued(state);
    if (next || waitMs <= 0) return Promise.resolve(next ? this.deliver(next) : null);
    state.waiter?.(null); // a member polls once at a time; an older poll yields to the newer
    return new Promise((resolve) => {
      const done = (task: TaskState | null): void => {
        clearTimeout(timer);
        signal.removeEventListener('abort', onAbort);
        if (state.waiter === done) state.waiter = null;
        state.lastSeen = this.now();
        // The connection may have closed while we waited; then the task stays queued.
        if (task && signal.aborted) {
          state.queue.unshift(task);
          resolve(null);
          return;
        }
        resolve(task ? this.deliver(task) : null);
      };
      const onAbort = (): void => done(null);
      const timer = setTimeout(() => done(null), waitMs);
      signal.addEventListener('abort', onAbort, { once: true });
      state.waiter = done;
    });
  }

  heartbeat(member: MemberRef): void {
    this.seen(member);
  }

  /**
   * Validates a member's result and settles its task. A result that fails validation
   * fails the task at once (the member learns why from the error), so one bad update
   * neither corrupts the round nor holds it up. A train update the round sums as it
   * arrives is added to its fold here and not kept (then this returns false).
   */
  submit(memberId: string, taskId: string, body: Uint8Array): boolean {
    const state = this.openTask(memberId, taskId);
    let reply: TaskReply;
    try {
      reply = this.validate(state, body);
    } catch (error) {
      this.fail(state, rejectionReason(error));
      throw error;
    }
    const received = foldedReply(reply, state.task.kind, state.fold);
    state.status = 'settled';
    this.tasks.delete(taskId);
    state.settle({ reply: received });
    // A summed update comes back as a new reply without it: then nothing here holds the body.
    return received === reply;
  }

  /** A member refuses a task (e.g. its own privacy budget is spent); the task fails with its reason. */
  decline(memberId: string, taskId: string, reason: string): void {
    const state = this.openTask(memberId, taskId);
    this.fail(state, `declined by the member: ${reason}`);
  }

  progress(runId: string): RoundProgress | null {
    return this.book.get(runId);
  }

  private openTask(memberId: string, taskId: string): TaskState {
    const state = this.tasks.get(taskId);
    if (!state || state.status === 'settled') throw staleTask(taskId);
    if (state.task.memberId !== memberId) throw otherMembersTask(taskId);
    if (state.status !== 'delivered') throw notDelivered(taskId);
    return state;
  }

  private validate(state: TaskState, body: Uint8Array): TaskReply {
    const member = this.members.get(state.task.memberId);
    const { header, parameters } = validateResult(expectationOf(state.taskId, state.task, member), body);
    return {
      memberId: state.task.memberId,
      header,
      ...(parameters ? { parameters } : {}),
      bytesOut: state.bytesOut,
      bytesIn: body.byteLength,
      seconds: (this.now() - state.deliveredAt) / 1000,
    };
  }

  private failDelivered(memberId: string, reason: string): void {
    for (const t of [...this.tasks.values()]) if (t.task.memberId === memberId && t.status === 'delivered') this.fail(t, reason);
  }

  private takeQueued(member: MemberState): TaskState | null {
    while (member.queue.length > 0) {
      const t = member.queue.shift()!;
      if (t.status === 'queued') return t;
    }
    return null;
  }

  private deliver(state: TaskState): DeliveredTask {
    const parts = taskFrameParts(state.taskId, state.task, state.deadline);
    state.status = 'delivered';
    state.deliveredAt = this.now();
    state.bytesOut = parts.reduce((n, p) => n + p.byteLength, 0);
    if (state.task.kind !== 'analytics') this.book.mark(state.task.runId, state.task.round, state.task.memberId, 'working');
    let frame: Buffer | undefined;
    return {
      taskId: state.taskId,
      parts,
      // Joined only for a caller that wants the whole frame (tests); the server sends the parts.
      get frame(): Buffer {
        return (frame ??= Buffer.concat(parts));
      },
    };
  }

  private wake(member: MemberState): void {
    if (!member.waiter) return;
    const next = this.takeQueued(member);
    if (next) member.waiter(next);
  }

  private fail(state: TaskState, reason: string): void {
    if (state.status === 'settled') return;
    state.status = 'settled';
    this.tasks.delete(state.taskId);
    state.settle({ failure: { memberId: state.task.memberId, reason } });
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
