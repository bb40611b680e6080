// What coordinator replicas on one PostgreSQL database share beyond the stored consortium:
//  - run leases: one replica at a time drives a run's round loop; it renews its lease, and
//    when it stops renewing (killed, cut off) another takes the run over once it expires.
//    Times are the database's clock, so replicas' clocks need not agree. A round commits
//    only while its replica still holds the lease (assertLease inside the round's
//    transaction locks the lease row, so a takeover waits for that commit);
//  - the task board: tasks the owner issues, claimed by whichever replica the member polls
//    (FOR UPDATE SKIP LOCKED), settled by whichever replica receives the result, each state
//    change a compare-and-set on `status`, so a task ends exactly once;
//  - wake-ups by LISTEN/NOTIFY on a dedicated connection: `concord_tasks` (payload: the
//    member with new work), `concord_results` (payload: the replica that issued the task),
//    `concord_runs` (a run started or stopped). Notifications only hurry things along:
//    every waiter also re-checks the tables on a timer, so a dropped connection delays, never
//    loses, work;
//  - nonces of signed requests, so a request replayed to another replica is refused.

import pg from 'pg';
import type { PostgresStorage } from './postgres.js';

/** The database's clock in epoch milliseconds. */
const NOW_MS = '(extract(epoch from clock_timestamp()) * 1000)::bigint';

export type Channel = 'tasks' | 'results' | 'runs';
const CHANNELS: Record<Channel, string> = { tasks: 'concord_tasks', results: 'concord_results', runs: 'concord_runs' };

export interface TaskRow {
  taskId: string;
  runId: string;
  memberId: string;
  issuedBy: string;
  expect: string;
  status: 'queued' | 'delivered' | 'settled' | 'failed';
}

export interface TaskOutcomeRow extends TaskRow {
  result: Buffer | null;
  reason: string | null;
  frameBytes: number;
  deliveredAt: number | null;
  settledAt: number | null;
}

export interface MemberActivity {
  memberId: string;
  name: string;
  dataset: string;
  lastSeenAt: number;
  /** Holds a delivered task. */
  busy: boolean;
}

export class PostgresCoordination {
  private listener: pg.Client | null = null;
  private readonly handlers = new Map<string, Set<(payload: string) => void>>();
  private closed = false;
  private reconnect: NodeJS.Timeout | null = null;

  constructor(
    readonly storage: PostgresStorage,
    private readonly onError: (error: unknown) => void = () => undefined,
  ) {}

  // ---- notifications ----

  /** Opens the LISTEN connection (and keeps reopening it while the coordinator runs). */
  async start(): Promise<void> {
    await this.listen().catch((error: unknown) => {
      this.onError(error);
      this.scheduleReconnect();
    });
  }

  on(channel: Channel, handler: (payload: string) => void): () => void {
    const name = CHANNELS[channel];
    let set = this.handlers.get(name);
    if (!set) this.handlers.set(name, (set = new Set()));
    set.add(handler);
    return () => set.delete(handler);
  }

  async notify(channel: Channel, payload: string): Promise<void> {
    await this.storage.query('notifying replicas', 'SELECT pg_notify($1, $2)', [CHANNELS[channel], payload]);
  }

  async close(): Promise<void> {
    this.closed = true;
    if (this.reconnect) clearTimeout(this.reconnect);
    const listener = this.listener;
    this.listener = null;
    await listener?.end().catch(() => undefined);
  }

  private async listen(): Promise<void> {
    const client = new pg.Client(this.storage.connectionConfig());
    client.on('notification', (message) => {
      for (const handler of this.handlers.get(message.channel) ?? []) handler(message.payload ?? '');
    });
    const lost = (error?: unknown) => {
      if (this.listener !== client) return;
      this.listener = null;
      if (error) this.onError(error);
      client.end().catch(() => undefined);
      this.scheduleReconnect();
    };
    client.on('error', lost);
    client.on('end', () => lost());
    await client.connect();
    for (const name of Object.values(CHANNELS)) await client.query(`LISTEN ${name}`);
    if (this.closed) {
      await client.end();
      return;
    }
    this.listener = client;
  }

  private scheduleReconnect(): void {
    if (this.closed || this.reconnect) return;
    this.reconnect = setTimeout(() => {
      this.reconnect = null;
      if (!this.closed) void this.start();
    }, 1000);
  }

  // ---- run leases ----

  /** Takes or renews the run's lease for `owner` unless another owner's has not expired; true when `owner` holds it. */
  async claimLease(runId: string, owner: string, ttlMs: number): Promise<boolean> {
    return this.storage.atomically('claiming a run lease', async (query) => {
      // A lease row locked by a replica that vanished mid-commit is freed by the server
      // (idle_in_transaction_session_timeout); until then this claim fails fast and is tried again.
      await query("SET LOCAL lock_timeout = '2s'");
      const { rowCount } = await query(
      `INSERT INTO run_leases (run_id, owner, expires_at, acquired_at)
       SELECT $1, $2, ${NOW_MS} + $3, ${NOW_MS} WHERE EXISTS (SELECT 1 FROM runs WHERE id = $1 AND status IN ('pending', 'running'))
       ON CONFLICT (run_id) DO UPDATE SET owner = excluded.owner, expires_at = excluded.expires_at,
         acquired_at = CASE WHEN run_leases.owner = excluded.owner THEN run_leases.acquired_at ELSE excluded.acquired_at END
       WHERE run_leases.owner = excluded.owner OR run_leases.expires_at <= excluded.acquired_at`,
        [runId, owner, ttlMs],
      );
      return rowCount === 1;
    });
  }

  async releaseLease(runId: string, owner: string): Promise<void> {
    await this.storage.query('releasing a run lease', 'DELETE FROM run_leases WHERE run_id = $1 AND owner = $2', [runId, owner]);
  }

  async leases(): Promise<{ runId: string; owner: string; expiresAt: number; acquiredAt: number }[]> {
    const { rows } = await this.storage.query<{ run_id: string; owner: string; expires_at: number; acquired_at: number }>(
      'listing run leases',
      `SELECT run_id, owner, expires_at, acquired_at FROM run_leases WHERE expires_at > ${NOW_MS} ORDER BY run_id`,
    );
    return rows.map((r) => ({ runId: r.run_id, owner: r.owner, expiresAt: r.expires_at, acquiredAt: r.acquired_at }));
  }

  /**
   * Inside the transaction of `tx` (a transaction() view): true while `owner` holds the run's
   * lease, which stays locked until that transaction ends, so nobody takes the run over
   * between this check and the commit.
   */
  async holdsLease(tx: PostgresStorage, runId: string, owner: string): Promise<boolean> {
    const { rowCount } = await tx.query('checking the run lease', `SELECT 1 FROM run_leases WHERE run_id = $1 AND owner = $2 AND expires_at > ${NOW_MS} FOR UPDATE`, [runId, owner]);
    return rowCount === 1;
  }

  // ---- the task board ----

  /** Queues tasks and wakes the replicas their members poll (notifications go out with the commit). */
  async issueTasks(tasks: { taskId: string; runId: string; memberId: string; issuedBy: string; expect: string; frame: Buffer }[]): Promise<void> {
    if (tasks.length === 0) return;
    await this.storage.atomically('issuing tasks', async (query) => {
      for (const t of tasks) {
        await query("INSERT INTO tasks (task_id, run_id, member_id, issued_by, expect, frame, status) VALUES ($1, $2, $3, $4, $5, $6, 'queued')", [t.taskId, t.runId, t.memberId, t.issuedBy, t.expect, t.frame]);
      }
      for (const memberId of new Set(tasks.map((t) => t.memberId))) await query('SELECT pg_notify($1, $2)', [CHANNELS.tasks, memberId]);
    });
  }

  /** The member's oldest queued task, now delivered; null when it has none. */
  async claimTask(memberId: string): Promise<{ taskId: string; frame: Buffer } | null> {
    const { rows } = await this.storage.query<{ task_id: string; frame: Buffer }>(
      'delivering a task',
      `UPDATE tasks SET status = 'delivered', delivered_at = ${NOW_MS}
       WHERE task_id = (SELECT task_id FROM tasks WHERE member_id = $1 AND status = 'queued' ORDER BY position LIMIT 1 FOR UPDATE SKIP LOCKED)
       RETURNING task_id, frame`,
      [memberId],
    );
    return rows[0] ? { taskId: rows[0].task_id, frame: rows[0].frame } : null;
  }

  /** A delivery whose connection closed before it went out: queued again. */
  async requeue(taskId: string): Promise<void> {
    await this.storage.query('re-queueing a task', "UPDATE tasks SET status = 'queued', delivered_at = NULL WHERE task_id = $1 AND status = 'delivered'", [taskId]);
  }

  async task(taskId: string): Promise<TaskRow | undefined> {
    const { rows } = await this.storage.query<{ task_id: string; run_id: string; member_id: string; issued_by: string; expect: string; status: TaskRow['status'] }>(
      'reading a task',
      'SELECT task_id, run_id, member_id, issued_by, expect, status FROM tasks WHERE task_id = $1',
      [taskId],
    );
    const r = rows[0];
    return r && { taskId: r.task_id, runId: r.run_id, memberId: r.member_id, issuedBy: r.issued_by, expect: r.expect, status: r.status };
  }

  /** Settles a delivered task with its (validated) result; false when it was no longer open. */
  async settle(taskId: string, result: Uint8Array, issuedBy: string): Promise<boolean> {
    return this.storage.atomically('storing a result', async (query) => {
      const { rowCount } = await query(`UPDATE tasks SET status = 'settled', result = $2, settled_at = ${NOW_MS} WHERE task_id = $1 AND status = 'delivered'`, [taskId, Buffer.from(result.buffer, result.byteOffset, result.byteLength)]);
      if (rowCount === 1) await query('SELECT pg_notify($1, $2)', [CHANNELS.results, issuedBy]);
      return rowCount === 1;
    });
  }

  /** Fails the still open tasks among `where`; returns the ids it failed (the others had ended already). */
  async failTasks(where: { taskIds?: string[]; memberId?: string; runId?: string; status?: ('queued' | 'delivered')[] }, reason: string): Promise<string[]> {
    const status = where.status ?? ['queued', 'delivered'];
    return this.storage.atomically('failing tasks', async (query) => {
      const { rows } = await query<{ task_id: string; issued_by: string }>(
        `UPDATE tasks SET status = 'failed', reason = $1, settled_at = ${NOW_MS}
         WHERE status = ANY($2::text[]) AND ($3::text[] IS NULL OR task_id = ANY($3::text[])) AND ($4::text IS NULL OR member_id = $4) AND ($5::text IS NULL OR run_id = $5)
         RETURNING task_id, issued_by`,
        [reason, status, where.taskIds ?? null, where.memberId ?? null, where.runId ?? null],
      );
      for (const issuer of new Set(rows.map((r) => r.issued_by))) await query('SELECT pg_notify($1, $2)', [CHANNELS.results, issuer]);
      return rows.map((r) => r.task_id);
    });
  }

  /** Where each of the tasks stands, with the result of those settled. */
  async outcomes(taskIds: string[]): Promise<TaskOutcomeRow[]> {
    if (taskIds.length === 0) return [];
    const { rows } = await this.storage.query<{
      task_id: string;
      run_id: string;
      member_id: string;
      issued_by: string;
      expect: string;
      status: TaskRow['status'];
      result: Buffer | null;
      reason: string | null;
      frame_bytes: number;
      delivered_at: number | null;
      settled_at: number | null;
    }>(
      'reading task outcomes',
      `SELECT task_id, run_id, member_id, issued_by, expect, status, CASE WHEN status = 'settled' THEN result END AS result, reason, length(frame) AS frame_bytes, delivered_at, settled_at
       FROM tasks WHERE task_id = ANY($1::text[])`,
      [taskIds],
    );
    return rows.map((r) => ({
      taskId: r.task_id,
      runId: r.run_id,
      memberId: r.member_id,
      issuedBy: r.issued_by,
      expect: r.expect,
      status: r.status,
      result: r.result,
      reason: r.reason,
      frameBytes: r.frame_bytes,
      deliveredAt: r.delivered_at,
      settledAt: r.settled_at,
    }));
  }

  /** Every task of a run, whoever issued it: a replica that takes the run over starts its round afresh. */
  async deleteRunTasks(runId: string): Promise<void> {
    await this.storage.query("removing a run's tasks", 'DELETE FROM tasks WHERE run_id = $1', [runId]);
  }

  async deleteTasks(taskIds: string[]): Promise<void> {
    if (taskIds.length > 0) await this.storage.query('removing finished tasks', 'DELETE FROM tasks WHERE task_id = ANY($1::text[])', [taskIds]);
  }

  /** Unrevoked members seen since `since` (their own clocks' epoch ms), with whether each holds a delivered task. */
  async activeMembers(since: number): Promise<MemberActivity[]> {
    const { rows } = await this.storage.query<{ id: string; name: string; dataset: string; last_seen_at: number; busy: boolean }>(
      'reading which members are online',
      `SELECT m.id, m.name, m.dataset, m.last_seen_at, EXISTS (SELECT 1 FROM tasks t WHERE t.member_id = m.id AND t.status = 'delivered') AS busy
       FROM members m WHERE NOT m.revoked AND m.last_seen_at >= $1 ORDER BY m.id`,
      [since],
    );
    return rows.map((r) => ({ memberId: r.id, name: r.name, dataset: r.dataset, lastSeenAt: r.last_seen_at, busy: r.busy }));
  }

  // ---- request nonces ----

  /** Remembers a signed request's nonce until `expiresAt`; false when it was seen before (a replay). */
  async rememberNonce(memberId: string, nonce: string, expiresAt: number): Promise<boolean> {
    const { rowCount } = await this.storage.query('remembering a request nonce', 'INSERT INTO request_nonces (member_id, nonce, expires_at) VALUES ($1, $2, $3) ON CONFLICT DO NOTHING', [memberId, nonce, expiresAt]);
    return rowCount === 1;
  }

  async purgeNonces(before: number): Promise<void> {
    await this.storage.query('forgetting old request nonces', 'DELETE FROM request_nonces WHERE expires_at < $1', [before]);
  }
}
