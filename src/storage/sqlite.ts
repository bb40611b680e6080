// The embedded storage backend: one SQLite file (or ':memory:') through better-sqlite3.
//
// Durability: WAL journal with synchronous = FULL, so a committed round survives a
// SIGKILL or a power cut, and a round interrupted mid-write is rolled back on the next
// open. saveRound is one IMMEDIATE transaction: the write lock is taken before the
// last-round check, so two coordinators on one file cannot both store the same round.
// transaction() holds BEGIN IMMEDIATE across an asynchronous callback; other callers of
// the same store wait for it (gate below), so nothing unrelated joins or is rolled back
// with it, and operations outside a transaction run at once, as before.

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
import { openDatabase, type Database, type SqlValue, type Statement } from './sqlite-driver.js';
import { SQLITE_MIGRATIONS, type Migration } from './sqlite-migrations.js';
import type {
  AgreementVersionRecord,
  CompletedRound,
  PlanRecord,
  MemberRecord,
  MemberRoundMetrics,
  MemberUpdate,
  RoundSummary,
  RunEvent,
  RunRecord,
  RunStatus,
  Storage,
  StorageScope,
  PrivacyCharge,
  AnalyticsQueryRecord,
} from './storage.js';
import { type AnalyticsRow, analyticsQueryClosed, analyticsQueryNotFound, toAnalyticsRecord } from './analytics-rows.js';
import { checkRetention, retentionCut, type RetentionPolicy } from './retention.js';
import type { Row, TableAccess, TableSpec } from './tables.js';

export interface SqliteStorageOptions {
  /** How long a statement waits for another connection's write lock before failing. Default 5000 ms. */
  busyTimeoutMs?: number;
  /** Schema migrations to apply; tests pass extra ones. Default SQLITE_MIGRATIONS. */
  migrations?: readonly Migration[];
  /** Which checkpoints and kept updates to drop as rounds are stored (retention.ts). Default: keep all. */
  retention?: RetentionPolicy;
}

const RUN_STATUSES: readonly RunStatus[] = ['pending', 'running', 'completed', 'failed', 'stopped'];

interface MemberRow {
  id: string;
  name: string;
  public_key: string | null;
  dataset: string;
  enrolled_at: number;
  last_seen_at: number | null;
  revoked: number;
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

interface EventRow {
  run_id: string;
  round: number | null;
  kind: string;
  message: string;
  at: number;
}

const RUN_COLUMNS = 'id, config, status, error, created_at, updated_at';

export class SqliteStorage implements Storage, TableAccess {
  readonly path: string;
  private readonly db: Database;
  private readonly migrations: readonly Migration[];
  private readonly statements = new Map<string, Statement>();
  private readonly retention: RetentionPolicy;
  /** Set while transaction() runs; callers outside it wait for it. */
  private gate: Promise<void> | null = null;
  /** True on the view transaction() hands its callback: it passes the gate. */
  private readonly insideTransaction: boolean = false;

  constructor(path: string | ':memory:', options: SqliteStorageOptions = {}) {
    this.path = path;
    this.migrations = options.migrations ?? SQLITE_MIGRATIONS;
    this.retention = checkRetention(options.retention ?? {});
    const busyTimeoutMs = options.busyTimeoutMs ?? 5000;
    try {
      this.db = openDatabase(path, { busyTimeoutMs });
      // ':memory:' answers 'memory' here: there is nothing to make durable.
      this.db.pragma('journal_mode = WAL');
      this.db.pragma('synchronous = FULL');
      this.db.pragma('foreign_keys = ON');
      this.db.pragma(`busy_timeout = ${Math.max(0, Math.floor(busyTimeoutMs))}`);
    } catch (error) {
      throw new ConcordError(ErrorCode.STORAGE, `cannot open SQLite database ${path}: ${messageOf(error)}`, {
        details: { field: 'path', expected: 'a writable SQLite database file', received: path },
        cause: error,
      });
    }
  }

  async migrate(): Promise<void> {
    return this.op('migrating the schema', () => {
      const latest = this.migrations.reduce((v, m) => Math.max(v, m.version), 0);
      this.db
        .transaction(() => {
          this.db.exec('CREATE TABLE IF NOT EXISTS schema_version (version INTEGER PRIMARY KEY, description TEXT NOT NULL, applied_at INTEGER NOT NULL)');
          const current = (this.db.prepare('SELECT MAX(version) AS v FROM schema_version').get() as { v: number | null }).v ?? 0;
          if (current > latest) {
            throw new ConcordError(ErrorCode.STORAGE, `database ${this.path} has schema version ${current}, newer than the ${latest} this build knows; upgrade Concord`, {
              details: { field: 'schema_version', expected: `<= ${latest}`, received: current },
            });
          }
          const pending = [...this.migrations].filter((m) => m.version > current).sort((a, b) => a.version - b.version);
          for (const m of pending) {
            this.db.exec(m.sql);
            this.db.prepare('INSERT INTO schema_version (version, description, applied_at) VALUES (?, ?, ?)').run(m.version, m.description, Date.now());
          }
        })
        .immediate();
      this.statements.clear();
    });
  }

  async close(): Promise<void> {
    while (this.gate && !this.insideTransaction) await this.gate;
    if (this.db.open) this.db.close();
  }

  async transaction<T>(fn: (tx: StorageScope) => Promise<T>): Promise<T> {
    if (this.insideTransaction) return fn(this);
    while (this.gate) await this.gate;
    let open!: () => void;
    this.gate = new Promise((resolve) => (open = resolve));
    // The same store, seen from inside: its operations pass the gate.
    const view = Object.create(this, { insideTransaction: { value: true } }) as SqliteStorage;
    try {
      try {
        this.db.exec('BEGIN IMMEDIATE');
      } catch (error) {
        throw new ConcordError(ErrorCode.STORAGE, `beginning a transaction failed in SQLite database ${this.path}: ${messageOf(error)}`, { cause: error });
      }
      let result: T;
      try {
        result = await fn(view);
      } catch (error) {
        if (this.db.inTransaction) this.db.exec('ROLLBACK');
        throw error;
      }
      this.db.exec('COMMIT');
      return result;
    } finally {
      this.gate = null;
      open();
    }
  }

  /** A consistent copy of the whole database, taken online with SQLite's backup API. */
  async backup(file: string): Promise<void> {
    while (this.gate && !this.insideTransaction) await this.gate;
    try {
      await this.db.backup(file);
    } catch (error) {
      throw new ConcordError(ErrorCode.STORAGE, `backing up SQLite database ${this.path} to ${file} failed: ${messageOf(error)}`, { details: { field: '--out', received: file }, cause: error });
    }
  }

  // ---- whole tables (storage/tables.ts) ----

  async countRows(table: TableSpec): Promise<number> {
    return this.op(`counting ${table.name}`, () => (this.sql(`SELECT COUNT(*) AS n FROM ${table.name}`).get() as { n: number }).n);
  }

  async readRows(table: TableSpec, offset: number, limit: number): Promise<Row[]> {
    // events keep their order in id, audit_log in position, every other table in rowid.
    const order = table.name === 'events' ? 'id' : table.name === 'audit_log' ? 'position' : 'rowid';
    return this.op(`reading ${table.name}`, () =>
      (this.sql(`SELECT ${table.columns.join(', ')} FROM ${table.name} ORDER BY ${order} LIMIT ? OFFSET ?`).all(limit, offset) as Row[]).map((row) => {
        for (const b of table.booleans ?? []) row[b] = row[b] === 1;
        return row;
      }),
    );
  }

  async writeRows(table: TableSpec, rows: readonly Row[]): Promise<void> {
    return this.op(`writing ${table.name}`, () => {
      const insert = this.sql(`INSERT INTO ${table.name} (${table.columns.join(', ')}) VALUES (${table.columns.map(() => '?').join(', ')})`);
      const booleans = new Set(table.booleans ?? []);
      this.db.transaction(() => {
        for (const row of rows) insert.run(...table.columns.map((c) => (booleans.has(c) ? (row[c] ? 1 : 0) : (row[c] as SqlValue))));
      })();
    });
  }

  // ---- members ----

  async addMember(member: { name: string; publicKey: string; dataset: DatasetDescriptor }): Promise<MemberRecord> {
    return this.op('adding a member', () =>
      this.db
        .transaction(() => {
          if (this.memberRow('name', member.name)) {
            throw new ConcordError(ErrorCode.CONFLICT, `a member named ${member.name} already exists`, {
              details: { field: 'name', expected: 'a name no other member has', received: member.name },
            });
          }
          if (this.memberRow('public_key', member.publicKey)) throw keyTaken();
          const id = newId('mem');
          this.sql('INSERT INTO members (id, name, public_key, dataset, enrolled_at, last_seen_at, revoked) VALUES (?, ?, ?, ?, ?, NULL, 0)').run(
            id,
            member.name,
            member.publicKey,
            JSON.stringify(member.dataset),
            Date.now(),
          );
          return toMember(this.memberRow('id', id)!);
        })
        .immediate(),
    );
  }

  async replaceMemberKey(memberId: string, publicKey: string, dataset: DatasetDescriptor): Promise<MemberRecord> {
    return this.op('replacing a member key', () =>
      this.db
        .transaction(() => {
          if (!this.memberRow('id', memberId)) throw memberNotFound(memberId);
          const holder = this.memberRow('public_key', publicKey);
          if (holder && holder.id !== memberId) throw keyTaken();
          // Revocation is kept: re-enrolling must not undo an operator's decision.
          this.sql('UPDATE members SET public_key = ?, dataset = ? WHERE id = ?').run(publicKey, JSON.stringify(dataset), memberId);
          return toMember(this.memberRow('id', memberId)!);
        })
        .immediate(),
    );
  }

  async getMember(memberId: string): Promise<MemberRecord | undefined> {
    return this.op('reading a member', () => mapOptional(this.memberRow('id', memberId), toMember));
  }

  async getMemberByName(name: string): Promise<MemberRecord | undefined> {
    return this.op('reading a member', () => mapOptional(this.memberRow('name', name), toMember));
  }

  async listMembers(): Promise<MemberRecord[]> {
    return this.op('listing members', () => (this.sql('SELECT * FROM members ORDER BY enrolled_at, rowid').all() as MemberRow[]).map(toMember));
  }

  /** Never moves lastSeenAt backwards: concurrent requests may report out of order. */
  async touchMember(memberId: string, at: number): Promise<void> {
    return this.op('recording member activity', () => {
      const { changes } = this.sql('UPDATE members SET last_seen_at = MAX(COALESCE(last_seen_at, ?), ?) WHERE id = ?').run(at, at, memberId);
      if (changes === 0) throw memberNotFound(memberId);
    });
  }

  async touchMembers(seen: ReadonlyMap<string, number>): Promise<void> {
    if (seen.size === 0) return;
    return this.op('recording member activity', () => {
      const update = this.sql('UPDATE members SET last_seen_at = MAX(COALESCE(last_seen_at, ?), ?) WHERE id = ?');
      this.db.transaction(() => {
        for (const [memberId, at] of seen) update.run(at, at, memberId);
      })();
    });
  }

  async revokeMember(memberId: string): Promise<void> {
    return this.op('revoking a member', () => {
      const { changes } = this.sql('UPDATE members SET revoked = 1 WHERE id = ?').run(memberId);
      if (changes === 0) throw memberNotFound(memberId);
    });
  }

  // ---- runs ----

  async createRun(config: RunConfig, initial: Parameters): Promise<RunRecord> {
    return this.op('creating a run', () => {
      const encoded = encodeParameters(initial, 'initial');
      const id = newId('run');
      const now = Date.now();
      this.sql(`INSERT INTO runs (${RUN_COLUMNS}, initial_manifest, initial_data) VALUES (?, ?, 'pending', NULL, ?, ?, ?, ?)`).run(
        id,
        JSON.stringify(config),
        now,
        now,
        encoded.manifest,
        encoded.bytes,
      );
      return toRun(this.runRow(id)!);
    });
  }

  async getRun(runId: string): Promise<RunRecord | undefined> {
    return this.op('reading a run', () => mapOptional(this.runRow(runId), toRun));
  }

  async listRuns(): Promise<RunRecord[]> {
    return this.op('listing runs', () => (this.sql(`SELECT ${RUN_COLUMNS} FROM runs ORDER BY created_at, rowid`).all() as RunRow[]).map(toRun));
  }

  /** `error` defaults to null, so a run that resumes after a failure no longer shows the old error. */
  async setRunStatus(runId: string, status: RunStatus, error: string | null = null): Promise<void> {
    return this.op('updating a run status', () => {
      if (!RUN_STATUSES.includes(status)) {
        throw new ConcordError(ErrorCode.INVALID_ARGUMENT, `run status must be one of ${RUN_STATUSES.join(', ')}`, {
          details: { field: 'status', expected: RUN_STATUSES, received: status },
        });
      }
      const { changes } = this.sql('UPDATE runs SET status = ?, error = ?, updated_at = MAX(updated_at, ?) WHERE id = ?').run(status, error, Date.now(), runId);
      if (changes === 0) throw runNotFound(runId);
    });
  }

  async getInitialParameters(runId: string): Promise<Parameters | undefined> {
    return this.op('reading initial parameters', () => {
      const row = this.sql('SELECT initial_manifest, initial_data FROM runs WHERE id = ?').get(runId) as { initial_manifest: string; initial_data: Buffer } | undefined;
      return row && decodeParameters(row.initial_manifest, row.initial_data, `initial parameters of run ${runId}`);
    });
  }

  // ---- rounds ----

  async saveRound(round: CompletedRound, audit?: (last: AuditEntry | undefined) => AuditEntry[]): Promise<void> {
    return this.op(`saving round ${round.round} of run ${round.runId}`, () => {
      if (!Number.isInteger(round.round) || round.round < 1) {
        throw new ConcordError(ErrorCode.INVALID_ARGUMENT, `round must be a positive integer, received ${round.round}`, {
          details: { field: 'round', expected: 'integer >= 1', received: round.round },
        });
      }
      const parameters = encodeParameters(round.parameters, 'parameters');
      const strategyState = round.strategyState ? encodeParameters(round.strategyState, 'strategyState') : null;
      const updates = (round.updates ?? []).map((u, i) => ({ ...u, encoded: encodeParameters(u.parameters, `updates[${i}].parameters`) }));
      this.db
        .transaction(() => {
          if (!this.runRow(round.runId)) throw runNotFound(round.runId);
          const last = (this.sql('SELECT MAX(round) AS last FROM rounds WHERE run_id = ?').get(round.runId) as { last: number | null }).last ?? 0;
          if (round.round !== last + 1) {
            const message =
              round.round <= last
                ? `run ${round.runId} already has round ${round.round}; the next round to store is ${last + 1}`
                : `run ${round.runId} cannot store round ${round.round} before round ${last + 1}; rounds are stored in order`;
            throw new ConcordError(ErrorCode.CONFLICT, message, { details: { field: 'round', expected: last + 1, received: round.round } });
          }
          this.sql(
            `INSERT INTO rounds (run_id, round, train_metrics, eval_loss, eval_metrics, server_eval, participants, failures, attempts, started_at, completed_at)
             VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
          ).run(
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
          );
          this.sql('INSERT INTO checkpoints (run_id, round, manifest, data, strategy_state_manifest, strategy_state) VALUES (?, ?, ?, ?, ?, ?)').run(
            round.runId,
            round.round,
            parameters.manifest,
            parameters.bytes,
            strategyState?.manifest ?? null,
            strategyState?.bytes ?? null,
          );
          const insertMember = this.sql(
            `INSERT INTO member_metrics (run_id, round, seq, member_id, phase, num_examples, loss, metrics, bytes_in, bytes_out, seconds)
             VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
          );
          round.members.forEach((m, seq) => {
            insertMember.run(round.runId, round.round, seq, m.memberId, m.phase, m.numExamples, nanToNull(m.loss), stringifyMetrics(m.metrics), m.bytesIn, m.bytesOut, m.seconds);
          });
          const insertCharge = this.sql(
            `INSERT INTO privacy_charges (run_id, round, seq, member_id, dataset_id, sampling_rate, noise_multiplier, steps) VALUES (?, ?, ?, ?, ?, ?, ?, ?)`,
          );
          (round.privacyCharges ?? []).forEach((c, seq) => {
            insertCharge.run(round.runId, round.round, seq, c.memberId, c.datasetId, c.samplingRate, c.noiseMultiplier, c.steps);
          });
          const insertUpdate = this.sql('INSERT INTO member_updates (run_id, round, seq, member_id, num_examples, manifest, data) VALUES (?, ?, ?, ?, ?, ?, ?)');
          updates.forEach((u, seq) => {
            insertUpdate.run(round.runId, round.round, seq, u.memberId, u.numExamples, u.encoded.manifest, u.encoded.bytes);
          });
          if (audit) for (const entry of audit(this.lastAuditEntry())) this.insertAudit(entry);
          this.applyRetention(round.runId, round.round);
        })
        .immediate();
    });
  }

  /** Inside saveRound's transaction: drops what the retention policy no longer keeps. */
  private applyRetention(runId: string, last: number): void {
    const cut = retentionCut(this.retention, last);
    if (cut.checkpointsBelow !== null) {
      this.sql('DELETE FROM checkpoints WHERE run_id = ? AND round < ? AND (? = 0 OR round % ? <> 0)').run(runId, cut.checkpointsBelow, cut.keepEvery, cut.keepEvery);
    }
    if (cut.updatesBelow !== null) this.sql('DELETE FROM member_updates WHERE run_id = ? AND round < ?').run(runId, cut.updatesBelow);
  }

  async lastRound(runId: string): Promise<RoundSummary | undefined> {
    return this.op('reading the last round', () => mapOptional(this.sql('SELECT * FROM rounds WHERE run_id = ? ORDER BY round DESC LIMIT 1').get(runId) as RoundRow | undefined, toRound));
  }

  async listRounds(runId: string): Promise<RoundSummary[]> {
    return this.op('listing rounds', () => (this.sql('SELECT * FROM rounds WHERE run_id = ? ORDER BY round').all(runId) as RoundRow[]).map(toRound));
  }

  async getCheckpoint(runId: string, round: number): Promise<{ parameters: Parameters; strategyState: Parameters | null } | undefined> {
    return this.op(`reading the checkpoint of round ${round}`, () => {
      const row = this.sql('SELECT manifest, data, strategy_state_manifest, strategy_state FROM checkpoints WHERE run_id = ? AND round = ?').get(runId, round) as
        | CheckpointRow
        | undefined;
      if (!row) return undefined;
      const what = `checkpoint of run ${runId} round ${round}`;
      return {
        parameters: decodeParameters(row.manifest, row.data, what),
        strategyState:
          row.strategy_state_manifest !== null && row.strategy_state !== null
            ? decodeParameters(row.strategy_state_manifest, row.strategy_state, `strategy state of ${what}`)
            : null,
      };
    });
  }

  async listMemberMetrics(runId: string, round?: number): Promise<(MemberRoundMetrics & { round: number })[]> {
    return this.op('listing member metrics', () => {
      const columns = 'round, member_id, phase, num_examples, loss, metrics, bytes_in, bytes_out, seconds';
      const rows =
        round === undefined
          ? this.sql(`SELECT ${columns} FROM member_metrics WHERE run_id = ? ORDER BY round, seq`).all(runId)
          : this.sql(`SELECT ${columns} FROM member_metrics WHERE run_id = ? AND round = ? ORDER BY seq`).all(runId, round);
      return (rows as MemberMetricsRow[]).map(toMemberMetrics);
    });
  }

  async listMemberUpdates(runId: string, round: number): Promise<MemberUpdate[]> {
    return this.op(`listing the updates of round ${round}`, () => {
      const rows = this.sql('SELECT member_id, num_examples, manifest, data FROM member_updates WHERE run_id = ? AND round = ? ORDER BY seq').all(runId, round) as {
        member_id: string;
        num_examples: number;
        manifest: string;
        data: Buffer;
      }[];
      return rows.map((r) => ({
        memberId: r.member_id,
        numExamples: r.num_examples,
        parameters: decodeParameters(r.manifest, r.data, `update of member ${r.member_id} in run ${runId} round ${round}`),
      }));
    });
  }

  async listPrivacyCharges(datasetId?: string): Promise<(PrivacyCharge & { runId: string; round: number })[]> {
    return this.op('listing privacy charges', () => {
      const columns = 'run_id, round, member_id, dataset_id, sampling_rate, noise_multiplier, steps';
      const rows = (
        datasetId === undefined
          ? this.sql(`SELECT ${columns} FROM privacy_charges ORDER BY rowid`).all()
          : this.sql(`SELECT ${columns} FROM privacy_charges WHERE dataset_id = ? ORDER BY rowid`).all(datasetId)
      ) as { run_id: string; round: number; member_id: string; dataset_id: string; sampling_rate: number; noise_multiplier: number; steps: number }[];
      // Analytics releases spend the same budgets (AnalyticsStore), after the training charges.
      const analyticsColumns = 'query_id AS run_id, 0 AS round, member_id, dataset_id, sampling_rate, noise_multiplier, steps';
      rows.push(
        ...((datasetId === undefined
          ? this.sql(`SELECT ${analyticsColumns} FROM analytics_charges ORDER BY rowid`).all()
          : this.sql(`SELECT ${analyticsColumns} FROM analytics_charges WHERE dataset_id = ? ORDER BY rowid`).all(datasetId)) as typeof rows),
      );
      return rows.map((r) => ({
        runId: r.run_id,
        round: r.round,
        memberId: r.member_id,
        datasetId: r.dataset_id,
        samplingRate: r.sampling_rate,
        noiseMultiplier: r.noise_multiplier,
        steps: r.steps,
      }));
    });
  }

  // ---- events ----

  async addEvent(event: RunEvent): Promise<void> {
    return this.op('recording an event', () => {
      if (!this.runRow(event.runId)) throw runNotFound(event.runId);
      this.sql('INSERT INTO events (run_id, round, kind, message, at) VALUES (?, ?, ?, ?, ?)').run(event.runId, event.round, event.kind, event.message, event.at);
    });
  }

  async listEvents(runId: string): Promise<RunEvent[]> {
    return this.op('listing events', () =>
      (this.sql('SELECT run_id, round, kind, message, at FROM events WHERE run_id = ? ORDER BY id').all(runId) as EventRow[]).map((e) => ({
        runId: e.run_id,
        round: e.round,
        kind: e.kind,
        message: e.message,
        at: e.at,
      })),
    );
  }

  // ---- invitations ----

  async addInvitation(invitation: InvitationRecord): Promise<void> {
    return this.op('storing an invitation', () => {
      if (this.invitationRow(invitation.codeHash)) {
        throw new ConcordError(ErrorCode.CONFLICT, 'an invitation with this code already exists', { details: { field: 'codeHash', expected: 'a new code' } });
      }
      this.sql('INSERT INTO invitations (code_hash, role, member_name, created_at, expires_at, used_at, used_by) VALUES (?, ?, ?, ?, ?, ?, ?)').run(
        invitation.codeHash,
        invitation.role,
        invitation.memberName,
        invitation.createdAt,
        invitation.expiresAt,
        invitation.usedAt,
        invitation.usedBy,
      );
    });
  }

  async getInvitation(codeHash: string): Promise<InvitationRecord | undefined> {
    return this.op('reading an invitation', () => mapOptional(this.invitationRow(codeHash), toInvitation));
  }

  async useInvitation(codeHash: string, usedBy: string, usedAt: number): Promise<InvitationRecord> {
    return this.op('redeeming an invitation', () => {
      // Compare-and-set: whichever redemption writes first wins; the other changes nothing.
      const { changes } = this.sql('UPDATE invitations SET used_at = ?, used_by = ? WHERE code_hash = ? AND used_at IS NULL').run(usedAt, usedBy, codeHash);
      const row = this.invitationRow(codeHash);
      if (!row) throw new ConcordError(ErrorCode.NOT_FOUND, 'no such invitation', { details: { field: 'invitation', expected: 'an issued invitation code' } });
      if (changes === 0) {
        throw new ConcordError(ErrorCode.CONFLICT, `invitation was already used${row.used_by ? ` by ${row.used_by}` : ''}; invitations are single-use`, {
          details: { field: 'invitation', reason: 'used', received: row.used_at },
        });
      }
      return toInvitation(row);
    });
  }

  async listInvitations(): Promise<InvitationRecord[]> {
    return this.op('listing invitations', () => (this.sql('SELECT * FROM invitations ORDER BY created_at, rowid').all() as InvitationRow[]).map(toInvitation));
  }

  // ---- API tokens ----

  async addApiToken(token: ApiTokenRecord): Promise<void> {
    return this.op('storing an API token', () => {
      if (this.sql('SELECT 1 FROM api_tokens WHERE id = ? OR token_hash = ?').get(token.tokenId, token.tokenHash)) {
        throw new ConcordError(ErrorCode.CONFLICT, `an API token with id ${token.tokenId} or the same secret already exists`, { details: { field: 'tokenId', expected: 'a new token' } });
      }
      this.sql('INSERT INTO api_tokens (id, token_hash, role, scopes, label, created_at, expires_at, revoked_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)').run(
        token.tokenId,
        token.tokenHash,
        token.role,
        JSON.stringify(token.scopes),
        token.label,
        token.createdAt,
        token.expiresAt,
        token.revokedAt,
      );
    });
  }

  async getApiToken(tokenId: string): Promise<ApiTokenRecord | undefined> {
    return this.op('reading an API token', () => mapOptional(this.sql('SELECT * FROM api_tokens WHERE id = ?').get(tokenId) as ApiTokenRow | undefined, toApiToken));
  }

  async listApiTokens(): Promise<ApiTokenRecord[]> {
    return this.op('listing API tokens', () => (this.sql('SELECT * FROM api_tokens ORDER BY created_at, rowid').all() as ApiTokenRow[]).map(toApiToken));
  }

  async revokeApiToken(tokenId: string, at: number): Promise<ApiTokenRecord> {
    return this.op('revoking an API token', () => {
      this.sql('UPDATE api_tokens SET revoked_at = COALESCE(revoked_at, ?) WHERE id = ?').run(at, tokenId);
      const row = this.sql('SELECT * FROM api_tokens WHERE id = ?').get(tokenId) as ApiTokenRow | undefined;
      if (!row) throw new ConcordError(ErrorCode.NOT_FOUND, `no API token ${tokenId}`, { details: { field: 'tokenId', expected: 'an existing token id', received: tokenId } });
      return toApiToken(row);
    });
  }

  // ---- audit log ----

  async appendAudit(entry: AuditEntry): Promise<void> {
    return this.op('appending to the audit log', () => this.db.transaction(() => this.insertAudit(entry)).immediate());
  }

  /** Inside a transaction: the entry must follow the last one exactly. */
  private insertAudit(entry: AuditEntry): void {
    const last = (this.sql('SELECT MAX(seq) AS last FROM audit_log').get() as { last: number | null }).last ?? 0;
    if (entry.seq !== last + 1) {
      throw new ConcordError(ErrorCode.CONFLICT, `audit entry ${entry.seq} cannot follow entry ${last}`, { details: { field: 'seq', expected: last + 1, received: entry.seq } });
    }
    this.sql('INSERT INTO audit_log (seq, at, actor, kind, subject, data, prev_hash, hash, signature) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)').run(
      entry.seq,
      entry.at,
      entry.actor,
      entry.kind,
      entry.subject,
      canonicalJson(entry.data),
      entry.prevHash,
      entry.hash,
      entry.signature,
    );
  }

  private lastAuditEntry(): AuditEntry | undefined {
    return mapOptional(this.sql('SELECT seq, at, actor, kind, subject, data, prev_hash, hash, signature FROM audit_log ORDER BY seq DESC LIMIT 1').get() as AuditRow | undefined, toAuditEntry);
  }

  async listAudit(options: { fromSeq?: number; limit?: number } = {}): Promise<AuditEntry[]> {
    return this.op('reading the audit log', () => {
      const columns = 'seq, at, actor, kind, subject, data, prev_hash, hash, signature';
      const rows = this.sql(`SELECT ${columns} FROM audit_log WHERE seq >= ? ORDER BY position LIMIT ?`).all(options.fromSeq ?? 1, options.limit ?? -1) as AuditRow[];
      return rows.map(toAuditEntry);
    });
  }

  async countAudit(): Promise<number> {
    return this.op('counting audit entries', () => (this.sql('SELECT COUNT(*) AS n FROM audit_log').get() as { n: number }).n);
  }

  async lastAudit(): Promise<AuditEntry | undefined> {
    return this.op('reading the audit log', () => this.lastAuditEntry());
  }

  // ---- agreement and plans ----

  async addAgreementVersion(record: AgreementVersionRecord): Promise<void> {
    return this.op('storing an agreement version', () => {
      if (this.sql('SELECT version FROM agreement_versions WHERE version = ?').get(record.version)) {
        throw new ConcordError(ErrorCode.CONFLICT, `agreement version ${record.version} is already stored`, { details: { field: 'version', received: record.version } });
      }
      this.sql('INSERT INTO agreement_versions (version, hash, agreement, signatures, signers, adopted_at, adopted_by) VALUES (?, ?, ?, ?, ?, ?, ?)').run(
        record.version,
        record.hash,
        JSON.stringify(record.agreement),
        JSON.stringify(record.signatures),
        JSON.stringify(record.signers),
        record.adoptedAt,
        record.adoptedBy,
      );
    });
  }

  async listAgreementVersions(): Promise<AgreementVersionRecord[]> {
    return this.op('listing agreement versions', () =>
      (this.sql('SELECT * FROM agreement_versions ORDER BY version').all() as AgreementVersionRow[]).map((row) => ({
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
    return this.op('storing a plan', () => {
      if (this.sql('SELECT plan_id FROM plans WHERE plan_id = ?').get(record.planId)) {
        throw new ConcordError(ErrorCode.CONFLICT, `plan ${record.planId} already exists`, { details: { field: 'planId', received: record.planId } });
      }
      this.sql('INSERT INTO plans (plan_id, plan_hash, plan, submitted_by, submitted_at, run_id) VALUES (?, ?, ?, ?, ?, NULL)').run(
        record.planId,
        record.planHash,
        JSON.stringify(record.plan),
        record.submittedBy,
        record.submittedAt,
      );
    });
  }

  async getPlan(planId: string): Promise<PlanRecord | undefined> {
    return this.op('reading a plan', () => this.planRecord(planId));
  }

  async listPlans(): Promise<PlanRecord[]> {
    return this.op('listing plans', () => (this.sql('SELECT plan_id FROM plans ORDER BY submitted_at, rowid').all() as { plan_id: string }[]).map((r) => this.planRecord(r.plan_id)!));
  }

  async addPlanApproval(planId: string, approval: PlanApproval): Promise<PlanRecord> {
    return this.op('storing a plan approval', () =>
      this.db.transaction(() => {
        this.requirePlan(planId);
        const next = ((this.sql('SELECT MAX(seq) AS s FROM plan_approvals WHERE plan_id = ?').get(planId) as { s: number | null }).s ?? 0) + 1;
        this.sql('INSERT INTO plan_approvals (plan_id, seq, approval) VALUES (?, ?, ?)').run(planId, next, JSON.stringify(approval));
        return this.planRecord(planId)!;
      })(),
    );
  }

  async setPlanRun(planId: string, runId: string): Promise<PlanRecord> {
    return this.op('linking a plan to its run', () => {
      this.requirePlan(planId);
      this.sql('UPDATE plans SET run_id = ? WHERE plan_id = ?').run(runId, planId);
      return this.planRecord(planId)!;
    });
  }

  async setMemberResources(memberId: string, declaration: Record<string, unknown>): Promise<void> {
    return this.op('storing declared resources', () => {
      if (!this.sql('SELECT id FROM members WHERE id = ?').get(memberId)) {
        throw new ConcordError(ErrorCode.NOT_FOUND, `no member ${memberId}`, { details: { field: 'memberId', received: memberId } });
      }
      this.sql(
        `INSERT INTO member_resources (member_id, declaration, declared_at) VALUES (?, ?, ?)
         ON CONFLICT (member_id) DO UPDATE SET declaration = excluded.declaration, declared_at = excluded.declared_at`,
      ).run(memberId, JSON.stringify(declaration), Date.now());
    });
  }

  async listMemberResources(): Promise<{ memberId: string; declaration: Record<string, unknown>; declaredAt: number }[]> {
    return this.op('listing declared resources', () =>
      (this.sql('SELECT member_id, declaration, declared_at FROM member_resources ORDER BY rowid').all() as { member_id: string; declaration: string; declared_at: number }[]).map((r) => ({
        memberId: r.member_id,
        declaration: JSON.parse(r.declaration) as Record<string, unknown>,
        declaredAt: r.declared_at,
      })),
    );
  }

  private requirePlan(planId: string): void {
    if (!this.sql('SELECT plan_id FROM plans WHERE plan_id = ?').get(planId)) {
      throw new ConcordError(ErrorCode.NOT_FOUND, `no plan ${planId}`, { details: { field: 'planId', received: planId } });
    }
  }

  private planRecord(planId: string): PlanRecord | undefined {
    const row = this.sql('SELECT * FROM plans WHERE plan_id = ?').get(planId) as PlanRow | undefined;
    if (!row) return undefined;
    const approvals = (this.sql('SELECT approval FROM plan_approvals WHERE plan_id = ? ORDER BY seq').all(planId) as { approval: string }[]).map((a) => JSON.parse(a.approval) as PlanApproval);
    return {
      planId: row.plan_id,
      planHash: row.plan_hash,
      plan: JSON.parse(row.plan) as PlanRecord['plan'],
      submittedBy: row.submitted_by,
      submittedAt: row.submitted_at,
      approvals,
      runId: row.run_id,
    };
  }

  // ---- analytics ----

  async addAnalyticsQuery(query: Record<string, unknown>, submittedBy: string): Promise<AnalyticsQueryRecord> {
    return this.op('storing an analytics query', () => {
      const now = Date.now();
      const record: AnalyticsQueryRecord = { queryId: newId('qry'), query, submittedBy, status: 'running', result: null, error: null, createdAt: now, updatedAt: now };
      this.sql('INSERT INTO analytics_queries (id, query, submitted_by, status, result, error, created_at, updated_at) VALUES (?, ?, ?, ?, NULL, NULL, ?, ?)').run(record.queryId, JSON.stringify(query), submittedBy, 'running', now, now);
      return record;
    });
  }

  async getAnalyticsQuery(queryId: string): Promise<AnalyticsQueryRecord | undefined> {
    return this.op('reading an analytics query', () => mapOptional(this.sql('SELECT * FROM analytics_queries WHERE id = ?').get(queryId) as AnalyticsRow | undefined, toAnalyticsRecord));
  }

  async listAnalyticsQueries(): Promise<AnalyticsQueryRecord[]> {
    return this.op('listing analytics queries', () => (this.sql('SELECT * FROM analytics_queries ORDER BY rowid').all() as AnalyticsRow[]).map(toAnalyticsRecord));
  }

  async completeAnalyticsQuery(queryId: string, result: Record<string, unknown>, charges: PrivacyCharge[], audit?: (last: AuditEntry | undefined) => AuditEntry[]): Promise<AnalyticsQueryRecord> {
    return this.op(`completing analytics query ${queryId}`, () =>
      this.db
        .transaction(() => {
          this.assertRunningQuery(queryId);
          this.sql("UPDATE analytics_queries SET status = 'completed', result = ?, updated_at = ? WHERE id = ?").run(JSON.stringify(result), Date.now(), queryId);
          const insert = this.sql('INSERT INTO analytics_charges (query_id, seq, member_id, dataset_id, sampling_rate, noise_multiplier, steps) VALUES (?, ?, ?, ?, ?, ?, ?)');
          charges.forEach((c, seq) => insert.run(queryId, seq, c.memberId, c.datasetId, c.samplingRate, c.noiseMultiplier, c.steps));
          if (audit) for (const entry of audit(this.lastAuditEntry())) this.insertAudit(entry);
          return toAnalyticsRecord(this.sql('SELECT * FROM analytics_queries WHERE id = ?').get(queryId) as AnalyticsRow);
        })
        .immediate(),
    );
  }

  async failAnalyticsQuery(queryId: string, error: string): Promise<AnalyticsQueryRecord> {
    return this.op(`failing analytics query ${queryId}`, () =>
      this.db
        .transaction(() => {
          this.assertRunningQuery(queryId);
          this.sql("UPDATE analytics_queries SET status = 'failed', error = ?, updated_at = ? WHERE id = ?").run(error, Date.now(), queryId);
          return toAnalyticsRecord(this.sql('SELECT * FROM analytics_queries WHERE id = ?').get(queryId) as AnalyticsRow);
        })
        .immediate(),
    );
  }

  private assertRunningQuery(queryId: string): void {
    const row = this.sql('SELECT status FROM analytics_queries WHERE id = ?').get(queryId) as { status: string } | undefined;
    if (!row) throw analyticsQueryNotFound(queryId);
    if (row.status !== 'running') throw analyticsQueryClosed(queryId, row.status);
  }

  // ---- helpers ----

  /** Prepared once per connection; tables must exist, hence lazily after migrate(). */
  private sql(text: string): Statement {
    let statement = this.statements.get(text);
    if (!statement) {
      statement = this.db.prepare(text);
      this.statements.set(text, statement);
    }
    return statement;
  }

  private memberRow(column: 'id' | 'name' | 'public_key', value: SqlValue): MemberRow | undefined {
    return this.sql(`SELECT * FROM members WHERE ${column} = ?`).get(value) as MemberRow | undefined;
  }

  private invitationRow(codeHash: string): InvitationRow | undefined {
    return this.sql('SELECT * FROM invitations WHERE code_hash = ?').get(codeHash) as InvitationRow | undefined;
  }

  private runRow(runId: string): RunRow | undefined {
    return this.sql(`SELECT ${RUN_COLUMNS} FROM runs WHERE id = ?`).get(runId) as RunRow | undefined;
  }

  /** SQLite failures (locked, full disk, closed handle) become STORAGE errors that say what was being done. */
  private async op<T>(what: string, fn: () => T): Promise<T> {
    while (this.gate && !this.insideTransaction) await this.gate;
    try {
      return fn();
    } catch (error) {
      if (error instanceof ConcordError) throw error;
      throw new ConcordError(ErrorCode.STORAGE, `${what} failed in SQLite database ${this.path}: ${messageOf(error)}`, { cause: error });
    }
  }
}

function toMember(row: MemberRow): MemberRecord {
  return {
    memberId: row.id,
    name: row.name,
    publicKey: row.public_key,
    dataset: JSON.parse(row.dataset) as DatasetDescriptor,
    enrolledAt: row.enrolled_at,
    lastSeenAt: row.last_seen_at,
    revoked: row.revoked === 1,
  };
}

function toRun(row: RunRow): RunRecord {
  return {
    runId: row.id,
    config: JSON.parse(row.config) as RunConfig,
    status: row.status,
    error: row.error,
    createdAt: row.created_at,
    updatedAt: row.updated_at,
  };
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
  return {
    codeHash: row.code_hash,
    role: row.role,
    memberName: row.member_name,
    createdAt: row.created_at,
    expiresAt: row.expires_at,
    usedAt: row.used_at,
    usedBy: row.used_by,
  };
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

/** A NaN loss means "no usable loss"; SQL REAL columns cannot hold NaN, so every backend stores null. */
function nanToNull(value: number | null): number | null {
  return value === null || Number.isNaN(value) ? null : value;
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

function messageOf(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
