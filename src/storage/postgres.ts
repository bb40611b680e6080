// The deployment storage backend: PostgreSQL through `pg`, plain SQL. Several coordinator
// processes may share one database (coordinator replicas), so everything that reads then
// writes does so in a transaction that locks what it decides on:
//  - saveRound locks the run's row (SELECT … FOR UPDATE) before the last-round check, so a
//    round is stored once whichever replica tries;
//  - every audit append takes a transaction-scoped advisory lock on the log's head before it
//    reads the last entry, so appends from all replicas form one chain;
//  - an invitation is redeemed by a compare-and-set UPDATE.
// A database that cannot be reached is UNAVAILABLE (HTTP 503, retried by members), other
// failures STORAGE. transaction() runs its callback on one connection between BEGIN and
// COMMIT; each operation inside it is wrapped in a savepoint, so a refused one leaves the
// rest usable, as in SQLite.

import pg from 'pg';
import { canonicalJson } from '../governance/canonical.js';
import type { AuditEntry } from '../governance/audit.js';
import type { InvitationRecord } from '../governance/invitations.js';
import type { PlanApproval } from '../governance/plans.js';
import type { ApiTokenRecord, Role, Scope } from '../governance/roles.js';
import { ConcordError, ErrorCode } from '../protocol/errors.js';
import type { DatasetDescriptor, RunConfig } from '../protocol/messages.js';
import type { Parameters } from '../protocol/tensors.js';
import { newId } from './ids.js';
import { parseMetrics, stringifyMetrics } from './metric-json.js';
import { decodeParameters, encodeParameters } from './parameter-blobs.js';
import { POSTGRES_MIGRATIONS } from './postgres-migrations.js';
import { type AnalyticsRow, analyticsQueryClosed, analyticsQueryNotFound, toAnalyticsRecord } from './analytics-rows.js';
import { redactPassword } from './storage-url.js';
import { checkRetention, retentionCut, type RetentionPolicy } from './retention.js';
import type { Migration } from './sqlite-migrations.js';
import type { Row, TableAccess, TableSpec } from './tables.js';
import type {
  AgreementVersionRecord,
  CompletedRound,
  MemberRecord,
  MemberRoundMetrics,
  MemberUpdate,
  PlanRecord,
  PrivacyCharge,
  RoundSummary,
  RunEvent,
  RunRecord,
  RunStatus,
  Storage,
  StorageScope,
  AnalyticsQueryRecord,
} from './storage.js';

export interface PostgresStorageOptions {
  /** A `postgres://user:password@host:port/database` URL. */
  url: string;
  /** Tables live in this schema (created if missing). Default: the connection's own (public). */
  schema?: string;
  /** Connections in the pool. Default 10. */
  maxConnections?: number;
  /** How long to wait for a connection before the database counts as unreachable. Default 5000 ms. */
  connectTimeoutMs?: number;
  /** A query that has no answer by then fails (a database cut off mid-query). Default 15 000 ms. */
  queryTimeoutMs?: number;
  /**
   * The server ends a transaction whose client has sent nothing for this long, releasing
   * its locks: a coordinator cut off mid-transaction must not hold a run's lease row or the
   * audit head for others. Default 10 000 ms.
   */
  idleTransactionTimeoutMs?: number;
  migrations?: readonly Migration[];
  retention?: RetentionPolicy;
}

type Queryable = pg.Pool | pg.PoolClient;

const RUN_STATUSES: readonly RunStatus[] = ['pending', 'running', 'completed', 'failed', 'stopped'];
const RUN_COLUMNS = 'id, config, status, error, created_at, updated_at';
const AUDIT_COLUMNS = 'seq, at, actor, kind, subject, data, prev_hash, hash, signature';
/** Tables whose insertion order is their BIGSERIAL position; the rest are read in key order (storage/tables.ts). */
const ORDERED_BY_POSITION = new Set(['members', 'runs', 'privacy_charges', 'invitations', 'api_tokens', 'audit_log', 'plans', 'member_resources', 'analytics_queries', 'analytics_charges']);
const PRIMARY_KEYS: Record<string, string> = {
  rounds: 'run_id, round',
  checkpoints: 'run_id, round',
  member_metrics: 'run_id, round, seq',
  member_updates: 'run_id, round, seq',
  agreement_versions: 'version',
  plan_approvals: 'plan_id, seq',
};
/** Connection-level failures: the database is not there (down, partitioned, restarting). */
const UNREACHABLE = new Set(['ECONNREFUSED', 'ECONNRESET', 'ETIMEDOUT', 'EHOSTUNREACH', 'ENETUNREACH', 'ENOTFOUND', 'EPIPE', '57P01', '57P02', '57P03', '08000', '08001', '08003', '08004', '08006']);

// BIGINT columns hold epoch milliseconds and counts, all within Number's safe range.
const TYPES = {
  getTypeParser: ((oid: number, format?: string) => (oid === 20 ? (value: string) => Number(value) : pg.types.getTypeParser(oid, format as 'text'))) as typeof pg.types.getTypeParser,
};

/** What a transaction's view shares with its store: the connection and a queue for its operations. */
interface TransactionScope {
  client: pg.PoolClient;
  queue: Promise<unknown>;
}

export class PostgresStorage implements Storage, TableAccess {
  /** The URL without its password, for messages. */
  readonly where: string;
  private readonly pool: pg.Pool;
  private readonly schema: string | undefined;
  private readonly migrations: readonly Migration[];
  private readonly retention: RetentionPolicy;
  private readonly scope: TransactionScope | null = null;

  constructor(options: PostgresStorageOptions) {
    this.where = redactPassword(options.url);
    this.schema = options.schema;
    if (this.schema !== undefined && !/^[a-z_][a-z0-9_]{0,62}$/.test(this.schema)) {
      throw new ConcordError(ErrorCode.INVALID_ARGUMENT, `schema must be a lower-case SQL identifier, received ${JSON.stringify(this.schema)}`, { details: { field: 'schema', received: this.schema } });
    }
    this.migrations = options.migrations ?? POSTGRES_MIGRATIONS;
    this.retention = checkRetention(options.retention ?? {});
    this.pool = new pg.Pool({
      connectionString: options.url,
      max: options.maxConnections ?? 10,
      connectionTimeoutMillis: options.connectTimeoutMs ?? 5000,
      query_timeout: options.queryTimeoutMs ?? 15_000,
      keepAlive: true,
      types: TYPES,
      // Server-side: a client that vanished (killed, partitioned) is noticed by keepalives and
      // its idle transaction ended, so the locks it held go to the replicas still there. A
      // session cut off while the server sends it a result waits in ClientWrite, where
      // keepalives never fire (there is unacknowledged data) and the kernel retries for about
      // 15 minutes, holding its locks: tcp_user_timeout ends it after 10 s without an ACK.
      options: [
        `-c idle_in_transaction_session_timeout=${Math.max(1000, Math.floor(options.idleTransactionTimeoutMs ?? 10_000))}`,
        '-c tcp_keepalives_idle=5 -c tcp_keepalives_interval=2 -c tcp_keepalives_count=3 -c tcp_user_timeout=10000',
        ...(this.schema !== undefined ? [`-c search_path=${this.schema}`] : []),
      ].join(' '),
    });
    // An idle connection that breaks (database restarted, link cut) must not crash the process;
    // the next query reports it.
    this.pool.on('error', () => undefined);
  }

  /** The pool's `pg` connection settings, for a dedicated connection (LISTEN, leases). */
  connectionConfig(): pg.ClientConfig {
    const o = this.pool.options;
    return { connectionString: o.connectionString, connectionTimeoutMillis: o.connectionTimeoutMillis, keepAlive: true, types: TYPES, ...(o.options ? { options: o.options } : {}) } as pg.ClientConfig;
  }

  async migrate(): Promise<void> {
    const latest = this.migrations.reduce((v, m) => Math.max(v, m.version), 0);
    await this.write('migrating the schema', async (c) => {
      // Replicas starting together migrate one after another.
      await c.query(`SELECT pg_advisory_xact_lock(hashtext('concord/migrate'))`);
      if (this.schema !== undefined) await c.query(`CREATE SCHEMA IF NOT EXISTS ${this.schema}`);
      await c.query('CREATE TABLE IF NOT EXISTS schema_version (version INTEGER PRIMARY KEY, description TEXT NOT NULL, applied_at BIGINT NOT NULL)');
      const current = (await c.query<{ v: number | null }>('SELECT MAX(version) AS v FROM schema_version')).rows[0]!.v ?? 0;
      if (current > latest) {
        throw new ConcordError(ErrorCode.STORAGE, `database ${this.where} has schema version ${current}, newer than the ${latest} this build knows; upgrade Concord`, {
          details: { field: 'schema_version', expected: `<= ${latest}`, received: current },
        });
      }
      for (const m of [...this.migrations].filter((m) => m.version > current).sort((a, b) => a.version - b.version)) {
        await c.query(m.sql);
        await c.query('INSERT INTO schema_version (version, description, applied_at) VALUES ($1, $2, $3)', [m.version, m.description, Date.now()]);
      }
    });
  }

  /** NOT_FOUND unless the database holds Concord's tables at a version this build knows; changes nothing. */
  async assertMigrated(): Promise<void> {
    const version = await this.read('reading the schema version', async (q) => {
      const exists = (await q.query<{ t: string | null }>("SELECT to_regclass('schema_version')::text AS t")).rows[0]!.t;
      return exists === null ? 0 : ((await q.query<{ v: number | null }>('SELECT MAX(version) AS v FROM schema_version')).rows[0]!.v ?? 0);
    });
    if (version === 0) {
      throw new ConcordError(ErrorCode.NOT_FOUND, `the PostgreSQL database ${this.where} holds no Concord data; a command that reads one never creates it (check the URL, or run "concord db migrate --db URL" first)`, {
        details: { field: '--db', expected: 'a database a coordinator has used', received: this.where },
      });
    }
    const latest = this.migrations.reduce((v, m) => Math.max(v, m.version), 0);
    if (version > latest) {
      throw new ConcordError(ErrorCode.STORAGE, `database ${this.where} has schema version ${version}, newer than the ${latest} this build knows; upgrade Concord`, { details: { field: 'schema_version', expected: `<= ${latest}`, received: version } });
    }
  }

  async close(): Promise<void> {
    if (this.scope) return;
    if (!this.pool.ended && !this.pool.ending) await this.pool.end();
  }

  async transaction<T>(fn: (tx: StorageScope) => Promise<T>): Promise<T> {
    if (this.scope) return fn(this);
    const client = await this.connect('beginning a transaction');
    const view = Object.create(this, { scope: { value: { client, queue: Promise.resolve() } satisfies TransactionScope } }) as PostgresStorage;
    try {
      await this.attempt('beginning a transaction', () => client.query('BEGIN'));
      let result: T;
      try {
        result = await fn(view);
      } catch (error) {
        // The callback's own error goes on unchanged.
        await client.query('ROLLBACK').catch(() => undefined);
        throw error;
      }
      await this.attempt('committing a transaction', () => client.query('COMMIT'));
      return result;
    } finally {
      client.release();
    }
  }

  /**
   * One statement for the replicas' coordination layer (postgres-coordination.ts): on the
   * transaction's connection inside transaction(), else on the pool; errors as everywhere here.
   */
  async query<R extends pg.QueryResultRow = pg.QueryResultRow>(what: string, text: string, params: unknown[] = []): Promise<pg.QueryResult<R>> {
    return this.read(what, (q) => q.query<R>(text, params));
  }

  /** Several statements in one transaction (or a savepoint of the open one), for the coordination layer. */
  async atomically<T>(what: string, fn: (query: <R extends pg.QueryResultRow>(text: string, params?: unknown[]) => Promise<pg.QueryResult<R>>) => Promise<T>): Promise<T> {
    return this.write(what, (c) => fn((text, params = []) => c.query(text, params)));
  }

  // ---- whole tables (storage/tables.ts) ----

  async countRows(table: TableSpec): Promise<number> {
    return this.read(`counting ${table.name}`, async (q) => (await q.query<{ n: number }>(`SELECT COUNT(*)::bigint AS n FROM ${table.name}`)).rows[0]!.n);
  }

  async readRows(table: TableSpec, offset: number, limit: number): Promise<Row[]> {
    const order = table.name === 'events' ? 'id' : ORDERED_BY_POSITION.has(table.name) ? 'position' : PRIMARY_KEYS[table.name]!;
    return this.read(`reading ${table.name}`, async (q) => (await q.query<Row>(`SELECT ${table.columns.join(', ')} FROM ${table.name} ORDER BY ${order} LIMIT $1 OFFSET $2`, [limit, offset])).rows);
  }

  async writeRows(table: TableSpec, rows: readonly Row[]): Promise<void> {
    if (rows.length === 0) return;
    return this.write(`writing ${table.name}`, async (c) => {
      const placeholders = table.columns.map((_, i) => `$${i + 1}`).join(', ');
      for (const row of rows) await c.query(`INSERT INTO ${table.name} (${table.columns.join(', ')}) VALUES (${placeholders})`, table.columns.map((col) => row[col] ?? null));
    });
  }

  // ---- members ----

  async addMember(member: { name: string; publicKey: string; dataset: DatasetDescriptor }): Promise<MemberRecord> {
    return this.write('adding a member', async (c) => {
      if (await this.memberRow(c, 'name', member.name)) throw nameTaken(member.name);
      if (await this.memberRow(c, 'public_key', member.publicKey)) throw keyTaken();
      const id = newId('mem');
      try {
        await c.query('INSERT INTO members (id, name, public_key, dataset, enrolled_at, last_seen_at, revoked) VALUES ($1, $2, $3, $4, $5, NULL, FALSE)', [id, member.name, member.publicKey, JSON.stringify(member.dataset), Date.now()]);
      } catch (error) {
        // Two replicas enrolling the same name at once: the unique index decides.
        if (pgCode(error) === '23505') throw constraintOf(error).includes('name') ? nameTaken(member.name) : keyTaken();
        throw error;
      }
      return toMember((await this.memberRow(c, 'id', id))!);
    });
  }

  async replaceMemberKey(memberId: string, publicKey: string, dataset: DatasetDescriptor): Promise<MemberRecord> {
    return this.write('replacing a member key', async (c) => {
      if (!(await this.memberRow(c, 'id', memberId, true))) throw memberNotFound(memberId);
      const holder = await this.memberRow(c, 'public_key', publicKey);
      if (holder && holder.id !== memberId) throw keyTaken();
      // Revocation is kept: re-enrolling must not undo an operator's decision.
      await c.query('UPDATE members SET public_key = $1, dataset = $2 WHERE id = $3', [publicKey, JSON.stringify(dataset), memberId]);
      return toMember((await this.memberRow(c, 'id', memberId))!);
    });
  }

  async getMember(memberId: string): Promise<MemberRecord | undefined> {
    return this.read('reading a member', async (q) => mapOptional(await this.memberRow(q, 'id', memberId), toMember));
  }

  async getMemberByName(name: string): Promise<MemberRecord | undefined> {
    return this.read('reading a member', async (q) => mapOptional(await this.memberRow(q, 'name', name), toMember));
  }

  async listMembers(): Promise<MemberRecord[]> {
    return this.read('listing members', async (q) => (await q.query<MemberRow>('SELECT * FROM members ORDER BY enrolled_at, position')).rows.map(toMember));
  }

  /** Never moves lastSeenAt backwards: concurrent requests (to any replica) may report out of order. */
  async touchMember(memberId: string, at: number): Promise<void> {
    return this.read('recording member activity', async (q) => {
      const { rowCount } = await q.query('UPDATE members SET last_seen_at = GREATEST(COALESCE(last_seen_at, $1), $1) WHERE id = $2', [at, memberId]);
      if (rowCount === 0) throw memberNotFound(memberId);
    });
  }

  async touchMembers(seen: ReadonlyMap<string, number>): Promise<void> {
    if (seen.size === 0) return;
    return this.read('recording member activity', async (q) => {
      await q.query(
        `UPDATE members AS m SET last_seen_at = GREATEST(COALESCE(m.last_seen_at, t.at), t.at)
         FROM UNNEST($1::text[], $2::bigint[]) AS t(id, at) WHERE m.id = t.id`,
        [[...seen.keys()], [...seen.values()]],
      );
    });
  }

  async revokeMember(memberId: string): Promise<void> {
    return this.read('revoking a member', async (q) => {
      const { rowCount } = await q.query('UPDATE members SET revoked = TRUE WHERE id = $1', [memberId]);
      if (rowCount === 0) throw memberNotFound(memberId);
    });
  }

  // ---- runs ----

  async createRun(config: RunConfig, initial: Parameters): Promise<RunRecord> {
    const encoded = encodeParameters(initial, 'initial');
    return this.read('creating a run', async (q) => {
      const now = Date.now();
      const { rows } = await q.query<RunRow>(
        `INSERT INTO runs (${RUN_COLUMNS}, initial_manifest, initial_data) VALUES ($1, $2, 'pending', NULL, $3, $3, $4, $5) RETURNING ${RUN_COLUMNS}`,
        [newId('run'), JSON.stringify(config), now, encoded.manifest, encoded.bytes],
      );
      return toRun(rows[0]!);
    });
  }

  async getRun(runId: string): Promise<RunRecord | undefined> {
    return this.read('reading a run', async (q) => mapOptional((await q.query<RunRow>(`SELECT ${RUN_COLUMNS} FROM runs WHERE id = $1`, [runId])).rows[0], toRun));
  }

  async listRuns(): Promise<RunRecord[]> {
    return this.read('listing runs', async (q) => (await q.query<RunRow>(`SELECT ${RUN_COLUMNS} FROM runs ORDER BY created_at, position`)).rows.map(toRun));
  }

  async setRunStatus(runId: string, status: RunStatus, error: string | null = null): Promise<void> {
    if (!RUN_STATUSES.includes(status)) {
      throw new ConcordError(ErrorCode.INVALID_ARGUMENT, `run status must be one of ${RUN_STATUSES.join(', ')}`, { details: { field: 'status', expected: RUN_STATUSES, received: status } });
    }
    return this.read('updating a run status', async (q) => {
      const { rowCount } = await q.query('UPDATE runs SET status = $1, error = $2, updated_at = GREATEST(updated_at, $3) WHERE id = $4', [status, error, Date.now(), runId]);
      if (rowCount === 0) throw runNotFound(runId);
    });
  }

  async getInitialParameters(runId: string): Promise<Parameters | undefined> {
    return this.read('reading initial parameters', async (q) => {
      const row = (await q.query<{ initial_manifest: string; initial_data: Buffer }>('SELECT initial_manifest, initial_data FROM runs WHERE id = $1', [runId])).rows[0];
      return row && decodeParameters(row.initial_manifest, row.initial_data, `initial parameters of run ${runId}`);
    });
  }

  // ---- rounds ----

  async saveRound(round: CompletedRound, audit?: (last: AuditEntry | undefined) => AuditEntry[]): Promise<void> {
    if (!Number.isInteger(round.round) || round.round < 1) {
      throw new ConcordError(ErrorCode.INVALID_ARGUMENT, `round must be a positive integer, received ${round.round}`, { details: { field: 'round', expected: 'integer >= 1', received: round.round } });
    }
    const parameters = encodeParameters(round.parameters, 'parameters');
    const strategyState = round.strategyState ? encodeParameters(round.strategyState, 'strategyState') : null;
    const updates = (round.updates ?? []).map((u, i) => ({ ...u, encoded: encodeParameters(u.parameters, `updates[${i}].parameters`) }));
    return this.write(`saving round ${round.round} of run ${round.runId}`, async (c) => {
      // The run's row lock orders every replica's attempt to store a round of this run.
      if ((await c.query('SELECT id FROM runs WHERE id = $1 FOR UPDATE', [round.runId])).rowCount === 0) throw runNotFound(round.runId);
      const last = (await c.query<{ last: number | null }>('SELECT MAX(round) AS last FROM rounds WHERE run_id = $1', [round.runId])).rows[0]!.last ?? 0;
      if (round.round !== last + 1) {
        const message =
          round.round <= last
            ? `run ${round.runId} already has round ${round.round}; the next round to store is ${last + 1}`
            : `run ${round.runId} cannot store round ${round.round} before round ${last + 1}; rounds are stored in order`;
        throw new ConcordError(ErrorCode.CONFLICT, message, { details: { field: 'round', expected: last + 1, received: round.round } });
      }
      await c.query(
        `INSERT INTO rounds (run_id, round, train_metrics, eval_loss, eval_metrics, server_eval, participants, failures, attempts, started_at, completed_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)`,
        [
          round.runId,
          round.round,
          stringifyMetrics(round.trainMetrics),
          nanToNull(round.evalLoss),
          stringifyMetrics(round.evalMetrics),
          round.serverEval ? stringifyMetrics(round.serverEval) : null,
          JSON.stringify(round.participants),
          JSON.stringify(round.failures),
          round.attempts,
          round.startedAt,
          round.completedAt,
        ],
      );
      await c.query('INSERT INTO checkpoints (run_id, round, manifest, data, strategy_state_manifest, strategy_state) VALUES ($1, $2, $3, $4, $5, $6)', [
        round.runId,
        round.round,
        parameters.manifest,
        parameters.bytes,
        strategyState?.manifest ?? null,
        strategyState?.bytes ?? null,
      ]);
      for (const [seq, m] of round.members.entries()) {
        await c.query(
          `INSERT INTO member_metrics (run_id, round, seq, member_id, phase, num_examples, loss, metrics, bytes_in, bytes_out, seconds) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)`,
          [round.runId, round.round, seq, m.memberId, m.phase, m.numExamples, nanToNull(m.loss), stringifyMetrics(m.metrics), m.bytesIn, m.bytesOut, m.seconds],
        );
      }
      for (const [seq, ch] of (round.privacyCharges ?? []).entries()) {
        await c.query(
          'INSERT INTO privacy_charges (run_id, round, seq, member_id, dataset_id, sampling_rate, noise_multiplier, steps) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)',
          [round.runId, round.round, seq, ch.memberId, ch.datasetId, ch.samplingRate, ch.noiseMultiplier, ch.steps],
        );
      }
      for (const [seq, u] of updates.entries()) {
        await c.query('INSERT INTO member_updates (run_id, round, seq, member_id, num_examples, manifest, data) VALUES ($1, $2, $3, $4, $5, $6, $7)', [
          round.runId,
          round.round,
          seq,
          u.memberId,
          u.numExamples,
          u.encoded.manifest,
          u.encoded.bytes,
        ]);
      }
      if (audit) {
        await lockAuditHead(c);
        for (const entry of audit(await lastAuditEntry(c))) await insertAudit(c, entry);
      }
      const cut = retentionCut(this.retention, round.round);
      if (cut.checkpointsBelow !== null) {
        await c.query('DELETE FROM checkpoints WHERE run_id = $1 AND round < $2 AND ($3::integer = 0 OR round % $3::integer <> 0)', [round.runId, cut.checkpointsBelow, cut.keepEvery]);
      }
      if (cut.updatesBelow !== null) await c.query('DELETE FROM member_updates WHERE run_id = $1 AND round < $2', [round.runId, cut.updatesBelow]);
    });
  }

  async lastRound(runId: string): Promise<RoundSummary | undefined> {
    return this.read('reading the last round', async (q) => mapOptional((await q.query<RoundRow>('SELECT * FROM rounds WHERE run_id = $1 ORDER BY round DESC LIMIT 1', [runId])).rows[0], toRound));
  }

  async listRounds(runId: string): Promise<RoundSummary[]> {
    return this.read('listing rounds', async (q) => (await q.query<RoundRow>('SELECT * FROM rounds WHERE run_id = $1 ORDER BY round', [runId])).rows.map(toRound));
  }

  async getCheckpoint(runId: string, round: number): Promise<{ parameters: Parameters; strategyState: Parameters | null } | undefined> {
    if (!Number.isSafeInteger(round)) return undefined;
    return this.read(`reading the checkpoint of round ${round}`, async (q) => {
      const row = (await q.query<CheckpointRow>('SELECT manifest, data, strategy_state_manifest, strategy_state FROM checkpoints WHERE run_id = $1 AND round = $2', [runId, round])).rows[0];
      if (!row) return undefined;
      const what = `checkpoint of run ${runId} round ${round}`;
      return {
        parameters: decodeParameters(row.manifest, row.data, what),
        strategyState: row.strategy_state_manifest !== null && row.strategy_state !== null ? decodeParameters(row.strategy_state_manifest, row.strategy_state, `strategy state of ${what}`) : null,
      };
    });
  }

  async listMemberMetrics(runId: string, round?: number): Promise<(MemberRoundMetrics & { round: number })[]> {
    return this.read('listing member metrics', async (q) => {
      const columns = 'round, member_id, phase, num_examples, loss, metrics, bytes_in, bytes_out, seconds';
      const { rows } =
        round === undefined
          ? await q.query<MemberMetricsRow>(`SELECT ${columns} FROM member_metrics WHERE run_id = $1 ORDER BY round, seq`, [runId])
          : await q.query<MemberMetricsRow>(`SELECT ${columns} FROM member_metrics WHERE run_id = $1 AND round = $2 ORDER BY seq`, [runId, round]);
      return rows.map(toMemberMetrics);
    });
  }

  async listMemberUpdates(runId: string, round: number): Promise<MemberUpdate[]> {
    return this.read(`listing the updates of round ${round}`, async (q) => {
      const { rows } = await q.query<{ member_id: string; num_examples: number; manifest: string; data: Buffer }>(
        'SELECT member_id, num_examples, manifest, data FROM member_updates WHERE run_id = $1 AND round = $2 ORDER BY seq',
        [runId, round],
      );
      return rows.map((r) => ({ memberId: r.member_id, numExamples: r.num_examples, parameters: decodeParameters(r.manifest, r.data, `update of member ${r.member_id} in run ${runId} round ${round}`) }));
    });
  }

  async listPrivacyCharges(datasetId?: string): Promise<(PrivacyCharge & { runId: string; round: number })[]> {
    return this.read('listing privacy charges', async (q) => {
      const columns = 'run_id, round, member_id, dataset_id, sampling_rate, noise_multiplier, steps';
      const { rows } =
        datasetId === undefined
          ? await q.query<ChargeRow>(`SELECT ${columns} FROM privacy_charges ORDER BY position`)
          : await q.query<ChargeRow>(`SELECT ${columns} FROM privacy_charges WHERE dataset_id = $1 ORDER BY position`, [datasetId]);
      // Analytics releases spend the same budgets (AnalyticsStore), after the training charges.
      const analyticsColumns = 'query_id AS run_id, 0 AS round, member_id, dataset_id, sampling_rate, noise_multiplier, steps';
      const analytics =
        datasetId === undefined
          ? await q.query<ChargeRow>(`SELECT ${analyticsColumns} FROM analytics_charges ORDER BY position`)
          : await q.query<ChargeRow>(`SELECT ${analyticsColumns} FROM analytics_charges WHERE dataset_id = $1 ORDER BY position`, [datasetId]);
      return [...rows, ...analytics.rows].map((r) => ({ runId: r.run_id, round: r.round, memberId: r.member_id, datasetId: r.dataset_id, samplingRate: r.sampling_rate, noiseMultiplier: r.noise_multiplier, steps: r.steps }));
    });
  }

  // ---- events ----

  async addEvent(event: RunEvent): Promise<void> {
    return this.read('recording an event', async (q) => {
      const { rowCount } = await q.query('INSERT INTO events (run_id, round, kind, message, at) SELECT $1, $2, $3, $4, $5 WHERE EXISTS (SELECT 1 FROM runs WHERE id = $1)', [
        event.runId,
        event.round,
        event.kind,
        event.message,
        event.at,
      ]);
      if (rowCount === 0) throw runNotFound(event.runId);
    });
  }

  async listEvents(runId: string): Promise<RunEvent[]> {
    return this.read('listing events', async (q) =>
      (await q.query<EventRow>('SELECT run_id, round, kind, message, at FROM events WHERE run_id = $1 ORDER BY id', [runId])).rows.map((e) => ({ runId: e.run_id, round: e.round, kind: e.kind, message: e.message, at: e.at })),
    );
  }

  // ---- invitations ----

  async addInvitation(invitation: InvitationRecord): Promise<void> {
    return this.read('storing an invitation', async (q) => {
      const { rowCount } = await q.query(
        'INSERT INTO invitations (code_hash, role, member_name, created_at, expires_at, used_at, used_by) VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT (code_hash) DO NOTHING',
        [invitation.codeHash, invitation.role, invitation.memberName, invitation.createdAt, invitation.expiresAt, invitation.usedAt, invitation.usedBy],
      );
      if (rowCount === 0) throw new ConcordError(ErrorCode.CONFLICT, 'an invitation with this code already exists', { details: { field: 'codeHash', expected: 'a new code' } });
    });
  }

  async getInvitation(codeHash: string): Promise<InvitationRecord | undefined> {
    return this.read('reading an invitation', async (q) => mapOptional((await q.query<InvitationRow>('SELECT * FROM invitations WHERE code_hash = $1', [codeHash])).rows[0], toInvitation));
  }

  async useInvitation(codeHash: string, usedBy: string, usedAt: number): Promise<InvitationRecord> {
    return this.read('redeeming an invitation', async (q) => {
      // Compare-and-set: whichever redemption writes first wins; the other changes nothing.
      const won = (await q.query<InvitationRow>('UPDATE invitations SET used_at = $1, used_by = $2 WHERE code_hash = $3 AND used_at IS NULL RETURNING *', [usedAt, usedBy, codeHash])).rows[0];
      if (won) return toInvitation(won);
      const row = (await q.query<InvitationRow>('SELECT * FROM invitations WHERE code_hash = $1', [codeHash])).rows[0];
      if (!row) throw new ConcordError(ErrorCode.NOT_FOUND, 'no such invitation', { details: { field: 'invitation', expected: 'an issued invitation code' } });
      throw new ConcordError(ErrorCode.CONFLICT, `invitation was already used${row.used_by ? ` by ${row.used_by}` : ''}; invitations are single-use`, {
        details: { field: 'invitation', reason: 'used', received: row.used_at },
      });
    });
  }

  async listInvitations(): Promise<InvitationRecord[]> {
    return this.read('listing invitations', async (q) => (await q.query<InvitationRow>('SELECT * FROM invitations ORDER BY created_at, position')).rows.map(toInvitation));
  }

  // ---- API tokens ----

  async addApiToken(token: ApiTokenRecord): Promise<void> {
    return this.read('storing an API token', async (q) => {
      const { rowCount } = await q.query(
        `INSERT INTO api_tokens (id, token_hash, role, scopes, label, created_at, expires_at, revoked_at)
         SELECT $1, $2, $3, $4, $5, $6, $7, $8 WHERE NOT EXISTS (SELECT 1 FROM api_tokens WHERE id = $1 OR token_hash = $2) ON CONFLICT DO NOTHING`,
        [token.tokenId, token.tokenHash, token.role, JSON.stringify(token.scopes), token.label, token.createdAt, token.expiresAt, token.revokedAt],
      );
      if (rowCount === 0) throw new ConcordError(ErrorCode.CONFLICT, `an API token with id ${token.tokenId} or the same secret already exists`, { details: { field: 'tokenId', expected: 'a new token' } });
    });
  }

  async getApiToken(tokenId: string): Promise<ApiTokenRecord | undefined> {
    return this.read('reading an API token', async (q) => mapOptional((await q.query<ApiTokenRow>('SELECT * FROM api_tokens WHERE id = $1', [tokenId])).rows[0], toApiToken));
  }

  async listApiTokens(): Promise<ApiTokenRecord[]> {
    return this.read('listing API tokens', async (q) => (await q.query<ApiTokenRow>('SELECT * FROM api_tokens ORDER BY created_at, position')).rows.map(toApiToken));
  }

  async revokeApiToken(tokenId: string, at: number): Promise<ApiTokenRecord> {
    return this.read('revoking an API token', async (q) => {
      const row = (await q.query<ApiTokenRow>('UPDATE api_tokens SET revoked_at = COALESCE(revoked_at, $1) WHERE id = $2 RETURNING *', [at, tokenId])).rows[0];
      if (!row) throw new ConcordError(ErrorCode.NOT_FOUND, `no API token ${tokenId}`, { details: { field: 'tokenId', expected: 'an existing token id', received: tokenId } });
      return toApiToken(row);
    });
  }

  // ---- audit log ----

  async appendAudit(entry: AuditEntry): Promise<void> {
    return this.write('appending to the audit log', async (c) => {
      await lockAuditHead(c);
      await insertAudit(c, entry);
    });
  }

  async listAudit(options: { fromSeq?: number; limit?: number } = {}): Promise<AuditEntry[]> {
    return this.read('reading the audit log', async (q) =>
      (await q.query<AuditRow>(`SELECT ${AUDIT_COLUMNS} FROM audit_log WHERE seq >= $1 ORDER BY position LIMIT $2`, [options.fromSeq ?? 1, options.limit ?? null])).rows.map(toAuditEntry),
    );
  }

  async countAudit(): Promise<number> {
    return this.read('counting audit entries', async (q) => (await q.query<{ n: number }>('SELECT COUNT(*)::bigint AS n FROM audit_log')).rows[0]!.n);
  }

  async lastAudit(): Promise<AuditEntry | undefined> {
    return this.read('reading the audit log', (q) => lastAuditEntry(q));
  }

  // ---- agreement and plans ----

  async addAgreementVersion(record: AgreementVersionRecord): Promise<void> {
    return this.read('storing an agreement version', async (q) => {
      const { rowCount } = await q.query(
        'INSERT INTO agreement_versions (version, hash, agreement, signatures, signers, adopted_at, adopted_by) VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT (version) DO NOTHING',
        [record.version, record.hash, JSON.stringify(record.agreement), JSON.stringify(record.signatures), JSON.stringify(record.signers), record.adoptedAt, record.adoptedBy],
      );
      if (rowCount === 0) throw new ConcordError(ErrorCode.CONFLICT, `agreement version ${record.version} is already stored`, { details: { field: 'version', received: record.version } });
    });
  }

  async listAgreementVersions(): Promise<AgreementVersionRecord[]> {
    return this.read('listing agreement versions', async (q) =>
      (await q.query<AgreementVersionRow>('SELECT * FROM agreement_versions ORDER BY version')).rows.map((row) => ({
        version: row.version,
        hash: row.hash,
        agreement: JSON.parse(row.agreement) as AgreementVersionRecord['agreement'],
        signatures: JSON.parse(row.signatures) as AgreementVersionRecord['signatures'],
        signers: JSON.parse(row.signers) as string[],
        adoptedAt: row.adopted_at,
        adoptedBy: row.adopted_by,
      })),
    );
  }

  async addPlan(record: Omit<PlanRecord, 'approvals' | 'runId'>): Promise<void> {
    return this.read('storing a plan', async (q) => {
      const { rowCount } = await q.query(
        'INSERT INTO plans (plan_id, plan_hash, plan, submitted_by, submitted_at, run_id) VALUES ($1, $2, $3, $4, $5, NULL) ON CONFLICT (plan_id) DO NOTHING',
        [record.planId, record.planHash, JSON.stringify(record.plan), record.submittedBy, record.submittedAt],
      );
      if (rowCount === 0) throw new ConcordError(ErrorCode.CONFLICT, `plan ${record.planId} already exists`, { details: { field: 'planId', received: record.planId } });
    });
  }

  async getPlan(planId: string): Promise<PlanRecord | undefined> {
    return this.read('reading a plan', async (q) => (await this.planRecords(q, planId))[0]);
  }

  async listPlans(): Promise<PlanRecord[]> {
    return this.read('listing plans', (q) => this.planRecords(q));
  }

  async addPlanApproval(planId: string, approval: PlanApproval): Promise<PlanRecord> {
    return this.write('storing a plan approval', async (c) => {
      // The plan's row lock orders concurrent decisions.
      if ((await c.query('SELECT plan_id FROM plans WHERE plan_id = $1 FOR UPDATE', [planId])).rowCount === 0) throw planNotFound(planId);
      await c.query('INSERT INTO plan_approvals (plan_id, seq, approval) SELECT $1, COALESCE(MAX(seq), 0) + 1, $2 FROM plan_approvals WHERE plan_id = $1', [planId, JSON.stringify(approval)]);
      return (await this.planRecords(c, planId))[0]!;
    });
  }

  async setPlanRun(planId: string, runId: string): Promise<PlanRecord> {
    return this.write('linking a plan to its run', async (c) => {
      if ((await c.query('UPDATE plans SET run_id = $1 WHERE plan_id = $2', [runId, planId])).rowCount === 0) throw planNotFound(planId);
      return (await this.planRecords(c, planId))[0]!;
    });
  }

  async setMemberResources(memberId: string, declaration: Record<string, unknown>): Promise<void> {
    return this.read('storing declared resources', async (q) => {
      const { rowCount } = await q.query(
        `INSERT INTO member_resources (member_id, declaration, declared_at) SELECT $1, $2, $3 WHERE EXISTS (SELECT 1 FROM members WHERE id = $1)
         ON CONFLICT (member_id) DO UPDATE SET declaration = excluded.declaration, declared_at = excluded.declared_at`,
        [memberId, JSON.stringify(declaration), Date.now()],
      );
      if (rowCount === 0) throw new ConcordError(ErrorCode.NOT_FOUND, `no member ${memberId}`, { details: { field: 'memberId', received: memberId } });
    });
  }

  async listMemberResources(): Promise<{ memberId: string; declaration: Record<string, unknown>; declaredAt: number }[]> {
    return this.read('listing declared resources', async (q) =>
      (await q.query<{ member_id: string; declaration: string; declared_at: number }>('SELECT member_id, declaration, declared_at FROM member_resources ORDER BY position')).rows.map((r) => ({
        memberId: r.member_id,
        declaration: JSON.parse(r.declaration) as Record<string, unknown>,
        declaredAt: r.declared_at,
      })),
    );
  }

  // ---- analytics ----

  async addAnalyticsQuery(query: Record<string, unknown>, submittedBy: string): Promise<AnalyticsQueryRecord> {
    return this.read('storing an analytics query', async (q) => {
      const now = Date.now();
      const record: AnalyticsQueryRecord = { queryId: newId('qry'), query, submittedBy, status: 'running', result: null, error: null, createdAt: now, updatedAt: now };
      await q.query("INSERT INTO analytics_queries (id, query, submitted_by, status, result, error, created_at, updated_at) VALUES ($1, $2, $3, 'running', NULL, NULL, $4, $4)", [record.queryId, JSON.stringify(query), submittedBy, now]);
      return record;
    });
  }

  async getAnalyticsQuery(queryId: string): Promise<AnalyticsQueryRecord | undefined> {
    return this.read('reading an analytics query', async (q) => mapOptional((await q.query<AnalyticsRow>('SELECT * FROM analytics_queries WHERE id = $1', [queryId])).rows[0], toAnalyticsRecord));
  }

  async listAnalyticsQueries(): Promise<AnalyticsQueryRecord[]> {
    return this.read('listing analytics queries', async (q) => (await q.query<AnalyticsRow>('SELECT * FROM analytics_queries ORDER BY position')).rows.map(toAnalyticsRecord));
  }

  async completeAnalyticsQuery(queryId: string, result: Record<string, unknown>, charges: PrivacyCharge[], audit?: (last: AuditEntry | undefined) => AuditEntry[]): Promise<AnalyticsQueryRecord> {
    return this.write(`completing analytics query ${queryId}`, async (c) => {
      await assertRunningQuery(c, queryId);
      await c.query("UPDATE analytics_queries SET status = 'completed', result = $1, updated_at = $2 WHERE id = $3", [JSON.stringify(result), Date.now(), queryId]);
      for (const [seq, ch] of charges.entries()) {
        await c.query('INSERT INTO analytics_charges (query_id, seq, member_id, dataset_id, sampling_rate, noise_multiplier, steps) VALUES ($1, $2, $3, $4, $5, $6, $7)', [queryId, seq, ch.memberId, ch.datasetId, ch.samplingRate, ch.noiseMultiplier, ch.steps]);
      }
      if (audit) {
        await lockAuditHead(c);
        for (const entry of audit(await lastAuditEntry(c))) await insertAudit(c, entry);
      }
      return toAnalyticsRecord((await c.query<AnalyticsRow>('SELECT * FROM analytics_queries WHERE id = $1', [queryId])).rows[0]!);
    });
  }

  async failAnalyticsQuery(queryId: string, error: string): Promise<AnalyticsQueryRecord> {
    return this.write(`failing analytics query ${queryId}`, async (c) => {
      await assertRunningQuery(c, queryId);
      await c.query("UPDATE analytics_queries SET status = 'failed', error = $1, updated_at = $2 WHERE id = $3", [error, Date.now(), queryId]);
      return toAnalyticsRecord((await c.query<AnalyticsRow>('SELECT * FROM analytics_queries WHERE id = $1', [queryId])).rows[0]!);
    });
  }

  // ---- helpers ----

  private async planRecords(q: Queryable, planId?: string): Promise<PlanRecord[]> {
    const plans = planId === undefined ? await q.query<PlanRow>('SELECT * FROM plans ORDER BY submitted_at, position') : await q.query<PlanRow>('SELECT * FROM plans WHERE plan_id = $1', [planId]);
    if (plans.rows.length === 0) return [];
    const approvals =
      planId === undefined
        ? await q.query<{ plan_id: string; approval: string }>('SELECT plan_id, approval FROM plan_approvals ORDER BY plan_id, seq')
        : await q.query<{ plan_id: string; approval: string }>('SELECT plan_id, approval FROM plan_approvals WHERE plan_id = $1 ORDER BY seq', [planId]);
    const byPlan = new Map<string, PlanApproval[]>();
    for (const a of approvals.rows) byPlan.set(a.plan_id, [...(byPlan.get(a.plan_id) ?? []), JSON.parse(a.approval) as PlanApproval]);
    return plans.rows.map((row) => ({
      planId: row.plan_id,
      planHash: row.plan_hash,
      plan: JSON.parse(row.plan) as PlanRecord['plan'],
      submittedBy: row.submitted_by,
      submittedAt: row.submitted_at,
      approvals: byPlan.get(row.plan_id) ?? [],
      runId: row.run_id,
    }));
  }

  private async memberRow(q: Queryable, column: 'id' | 'name' | 'public_key', value: string, lock = false): Promise<MemberRow | undefined> {
    return (await q.query<MemberRow>(`SELECT * FROM members WHERE ${column} = $1${lock ? ' FOR UPDATE' : ''}`, [value])).rows[0];
  }

  /** One statement (autocommit), or inside transaction() one savepoint of it. */
  private read<T>(what: string, fn: (q: Queryable) => Promise<T>): Promise<T> {
    return this.scope ? this.inScope(what, fn) : this.attempt(what, () => fn(this.pool));
  }

  /** Several statements that commit together: a transaction of their own, or a savepoint inside transaction(). */
  private write<T>(what: string, fn: (c: pg.PoolClient) => Promise<T>): Promise<T> {
    if (this.scope) return this.inScope(what, fn);
    return this.attempt(what, async () => {
      const client = await this.connect(what);
      try {
        await client.query('BEGIN');
        const result = await fn(client);
        await client.query('COMMIT');
        return result;
      } catch (error) {
        await client.query('ROLLBACK').catch(() => undefined);
        throw error;
      } finally {
        client.release();
      }
    });
  }

  /** Operations on a transaction's view run one at a time, each in a savepoint. */
  private inScope<T>(what: string, fn: (c: pg.PoolClient) => Promise<T>): Promise<T> {
    const scope = this.scope!;
    const run = () =>
      this.attempt(what, async () => {
        await scope.client.query('SAVEPOINT concord_op');
        try {
          const result = await fn(scope.client);
          await scope.client.query('RELEASE SAVEPOINT concord_op');
          return result;
        } catch (error) {
          await scope.client.query('ROLLBACK TO SAVEPOINT concord_op').catch(() => undefined);
          throw error;
        }
      });
    const result = scope.queue.then(run, run);
    scope.queue = result.catch(() => undefined);
    return result;
  }

  private async connect(what: string): Promise<pg.PoolClient> {
    try {
      return await this.pool.connect();
    } catch (error) {
      throw this.storageError(what, error);
    }
  }

  private async attempt<T>(what: string, fn: () => Promise<T>): Promise<T> {
    try {
      return await fn();
    } catch (error) {
      throw this.storageError(what, error);
    }
  }

  /** PostgreSQL and connection failures become STORAGE, or UNAVAILABLE when the database is out of reach. */
  private storageError(what: string, error: unknown): unknown {
    if (error instanceof ConcordError) return error;
    if (isUnreachable(error)) {
      return new ConcordError(ErrorCode.UNAVAILABLE, `${what} failed: the PostgreSQL database ${this.where} cannot be reached (${messageOf(error)})`, { details: { field: 'db', reason: 'database-unreachable' }, cause: error });
    }
    return new ConcordError(ErrorCode.STORAGE, `${what} failed in PostgreSQL database ${this.where}: ${messageOf(error)}`, { cause: error });
  }
}

async function lockAuditHead(c: pg.PoolClient): Promise<void> {
  // Held until the transaction ends: every replica's appends queue here, one chain results.
  await c.query(`SELECT pg_advisory_xact_lock(hashtext(current_schema() || '/concord/audit-head'))`);
}

async function lastAuditEntry(q: Queryable): Promise<AuditEntry | undefined> {
  return mapOptional((await q.query<AuditRow>(`SELECT ${AUDIT_COLUMNS} FROM audit_log ORDER BY seq DESC LIMIT 1`)).rows[0], toAuditEntry);
}

/** With the audit head locked: the entry must follow the last one exactly. */
async function assertRunningQuery(c: pg.PoolClient, queryId: string): Promise<void> {
  const row = (await c.query<{ status: string }>('SELECT status FROM analytics_queries WHERE id = $1 FOR UPDATE', [queryId])).rows[0];
  if (!row) throw analyticsQueryNotFound(queryId);
  if (row.status !== 'running') throw analyticsQueryClosed(queryId, row.status);
}

async function insertAudit(c: pg.PoolClient, entry: AuditEntry): Promise<void> {
  const last = (await c.query<{ last: number | null }>('SELECT MAX(seq) AS last FROM audit_log')).rows[0]!.last ?? 0;
  if (entry.seq !== last + 1) {
    throw new ConcordError(ErrorCode.CONFLICT, `audit entry ${entry.seq} cannot follow entry ${last}`, { details: { field: 'seq', expected: last + 1, received: entry.seq } });
  }
  await c.query(`INSERT INTO audit_log (${AUDIT_COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)`, [
    entry.seq,
    entry.at,
    entry.actor,
    entry.kind,
    entry.subject,
    canonicalJson(entry.data),
    entry.prevHash,
    entry.hash,
    entry.signature,
  ]);
}

export function isUnreachable(error: unknown): boolean {
  const code = (error as { code?: unknown } | null)?.code;
  if (typeof code === 'string' && UNREACHABLE.has(code)) return true;
  // Any failure to connect (refused, no route, EINVAL from a blackhole route) means the database is out of reach.
  if ((error as { syscall?: unknown } | null)?.syscall === 'connect') return true;
  const message = messageOf(error);
  return /Connection terminated|timeout exceeded when trying to connect|Query read timeout|connection timeout|Client has encountered a connection error/i.test(message);
}

function pgCode(error: unknown): string | undefined {
  const code = (error as { code?: unknown } | null)?.code;
  return typeof code === 'string' ? code : undefined;
}

function constraintOf(error: unknown): string {
  return String((error as { constraint?: unknown }).constraint ?? '');
}


interface MemberRow {
  id: string;
  name: string;
  public_key: string | null;
  dataset: string;
  enrolled_at: number;
  last_seen_at: number | null;
  revoked: boolean;
}

interface RunRow {
  id: string;
  config: string;
  status: RunStatus;
  error: string | null;
  created_at: number;
  updated_at: number;
}

interface RoundRow {
  run_id: string;
  round: number;
  train_metrics: string;
  eval_loss: number | null;
  eval_metrics: string;
  server_eval: string | null;
  participants: string;
  failures: string;
  attempts: number;
  started_at: number;
  completed_at: number;
}

interface CheckpointRow {
  manifest: string;
  data: Buffer;
  strategy_state_manifest: string | null;
  strategy_state: Buffer | null;
}

interface MemberMetricsRow {
  round: number;
  member_id: string;
  phase: 'train' | 'evaluate';
  num_examples: number;
  loss: number | null;
  metrics: string;
  bytes_in: number;
  bytes_out: number;
  seconds: number;
}

interface ChargeRow {
  run_id: string;
  round: number;
  member_id: string;
  dataset_id: string;
  sampling_rate: number;
  noise_multiplier: number;
  steps: number;
}

interface EventRow {
  run_id: string;
  round: number | null;
  kind: string;
  message: string;
  at: number;
}

interface AgreementVersionRow {
  version: number;
  hash: string;
  agreement: string;
  signatures: string;
  signers: string;
  adopted_at: number;
  adopted_by: string;
}

interface PlanRow {
  plan_id: string;
  plan_hash: string;
  plan: string;
  submitted_by: string;
  submitted_at: number;
  run_id: string | null;
}

interface InvitationRow {
  code_hash: string;
  role: Role;
  member_name: string | null;
  created_at: number;
  expires_at: number;
  used_at: number | null;
  used_by: string | null;
}

interface ApiTokenRow {
  id: string;
  token_hash: string;
  role: Role;
  scopes: string;
  label: string | null;
  created_at: number;
  expires_at: number | null;
  revoked_at: number | null;
}

interface AuditRow {
  seq: number;
  at: number;
  actor: string;
  kind: string;
  subject: string;
  data: string;
  prev_hash: string;
  hash: string;
  signature: string;
}

function toMember(row: MemberRow): MemberRecord {
  return { memberId: row.id, name: row.name, publicKey: row.public_key, dataset: JSON.parse(row.dataset) as DatasetDescriptor, enrolledAt: row.enrolled_at, lastSeenAt: row.last_seen_at, revoked: row.revoked };
}

function toRun(row: RunRow): RunRecord {
  return { runId: row.id, config: JSON.parse(row.config) as RunConfig, status: row.status, error: row.error, createdAt: row.created_at, updatedAt: row.updated_at };
}

function toRound(row: RoundRow): RoundSummary {
  return {
    runId: row.run_id,
    round: row.round,
    trainMetrics: parseMetrics(row.train_metrics),
    evalLoss: row.eval_loss,
    evalMetrics: parseMetrics(row.eval_metrics),
    serverEval: row.server_eval === null ? null : parseMetrics(row.server_eval),
    participants: JSON.parse(row.participants) as string[],
    failures: JSON.parse(row.failures) as { memberId: string; reason: string }[],
    attempts: row.attempts,
    startedAt: row.started_at,
    completedAt: row.completed_at,
  };
}

function toMemberMetrics(row: MemberMetricsRow): MemberRoundMetrics & { round: number } {
  return {
    round: row.round,
    memberId: row.member_id,
    phase: row.phase,
    numExamples: row.num_examples,
    loss: row.loss,
    metrics: parseMetrics(row.metrics),
    bytesIn: row.bytes_in,
    bytesOut: row.bytes_out,
    seconds: row.seconds,
  };
}

function toInvitation(row: InvitationRow): InvitationRecord {
  return { codeHash: row.code_hash, role: row.role, memberName: row.member_name, createdAt: row.created_at, expiresAt: row.expires_at, usedAt: row.used_at, usedBy: row.used_by };
}

function toApiToken(row: ApiTokenRow): ApiTokenRecord {
  return {
    tokenId: row.id,
    tokenHash: row.token_hash,
    role: row.role,
    scopes: JSON.parse(row.scopes) as Scope[],
    label: row.label,
    createdAt: row.created_at,
    expiresAt: row.expires_at,
    revokedAt: row.revoked_at,
  };
}

/** Rows come back as stored; one whose data is no longer JSON still reads, so the verifier can name it. */
function toAuditEntry(row: AuditRow): AuditEntry {
  let data: AuditEntry['data'];
  try {
    data = JSON.parse(row.data) as AuditEntry['data'];
  } catch {
    data = row.data;
  }
  return { seq: row.seq, at: row.at, actor: row.actor, kind: row.kind, subject: row.subject, data, prevHash: row.prev_hash, hash: row.hash, signature: row.signature };
}

function mapOptional<R, T>(row: R | undefined, map: (row: R) => T): T | undefined {
  return row === undefined ? undefined : map(row);
}

function nanToNull(value: number | null): number | null {
  return value === null || Number.isNaN(value) ? null : value;
}

function nameTaken(name: string): ConcordError {
  return new ConcordError(ErrorCode.CONFLICT, `a member named ${name} already exists`, { details: { field: 'name', expected: 'a name no other member has', received: name } });
}

function keyTaken(): ConcordError {
  return new ConcordError(ErrorCode.CONFLICT, 'another member already enrolled this public key', { details: { field: 'publicKey', expected: 'a key no other member holds' } });
}

function memberNotFound(memberId: string): ConcordError {
  return new ConcordError(ErrorCode.NOT_FOUND, `no member ${memberId}`, { details: { field: 'memberId', expected: 'an enrolled member id', received: memberId } });
}

function runNotFound(runId: string): ConcordError {
  return new ConcordError(ErrorCode.NOT_FOUND, `no run ${runId}`, { details: { field: 'runId', expected: 'an existing run id', received: runId } });
}

function planNotFound(planId: string): ConcordError {
  return new ConcordError(ErrorCode.NOT_FOUND, `no plan ${planId}`, { details: { field: 'planId', received: planId } });
}

function messageOf(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
