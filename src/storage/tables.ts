// The logical schema both backends share, table by table, for moving a whole consortium
// between databases (`concord db copy`): the same tables and columns in SQLite and
// PostgreSQL, each read in the order its rows were written and written back in that
// order, so ids, timestamps, checkpoint bytes and audit entries arrive exactly as they
// were. Columns that only keep order (rowid, position, events.id) are not copied: the
// target numbers rows as they arrive, in the same order.

export interface TableSpec {
  name: string;
  columns: readonly string[];
  /** Columns SQLite stores as 0/1 and PostgreSQL as BOOLEAN; rows carry them as booleans. */
  booleans?: readonly string[];
  /** Rows holding parameters are read a few at a time. */
  heavy?: boolean;
}

/** In an order that satisfies every foreign key. */
export const TABLES: readonly TableSpec[] = [
  { name: 'members', columns: ['id', 'name', 'public_key', 'dataset', 'enrolled_at', 'last_seen_at', 'revoked'], booleans: ['revoked'] },
  { name: 'runs', columns: ['id', 'config', 'status', 'error', 'created_at', 'updated_at', 'initial_manifest', 'initial_data'], heavy: true },
  { name: 'rounds', columns: ['run_id', 'round', 'train_metrics', 'eval_loss', 'eval_metrics', 'server_eval', 'participants', 'failures', 'attempts', 'started_at', 'completed_at'] },
  { name: 'checkpoints', columns: ['run_id', 'round', 'manifest', 'data', 'strategy_state_manifest', 'strategy_state'], heavy: true },
  { name: 'member_metrics', columns: ['run_id', 'round', 'seq', 'member_id', 'phase', 'num_examples', 'loss', 'metrics', 'bytes_in', 'bytes_out', 'seconds'] },
  { name: 'events', columns: ['run_id', 'round', 'kind', 'message', 'at'] },
  { name: 'privacy_charges', columns: ['run_id', 'round', 'seq', 'member_id', 'dataset_id', 'sampling_rate', 'noise_multiplier', 'steps'] },
  { name: 'member_updates', columns: ['run_id', 'round', 'seq', 'member_id', 'num_examples', 'manifest', 'data'], heavy: true },
  { name: 'invitations', columns: ['code_hash', 'role', 'member_name', 'created_at', 'expires_at', 'used_at', 'used_by'] },
  { name: 'api_tokens', columns: ['id', 'token_hash', 'role', 'scopes', 'label', 'created_at', 'expires_at', 'revoked_at'] },
  { name: 'audit_log', columns: ['seq', 'at', 'actor', 'kind', 'subject', 'data', 'prev_hash', 'hash', 'signature'] },
  { name: 'agreement_versions', columns: ['version', 'hash', 'agreement', 'signatures', 'signers', 'adopted_at', 'adopted_by'] },
  { name: 'plans', columns: ['plan_id', 'plan_hash', 'plan', 'submitted_by', 'submitted_at', 'run_id'] },
  { name: 'plan_approvals', columns: ['plan_id', 'seq', 'approval'] },
  { name: 'member_resources', columns: ['member_id', 'declaration', 'declared_at'] },
  { name: 'analytics_queries', columns: ['id', 'query', 'submitted_by', 'status', 'result', 'error', 'created_at', 'updated_at'] },
  { name: 'analytics_charges', columns: ['query_id', 'seq', 'member_id', 'dataset_id', 'sampling_rate', 'noise_multiplier', 'steps'] },
];

export type Row = Record<string, string | number | boolean | Buffer | null>;

/** Whole-table reads and writes in write order, which both backends implement. */
export interface TableAccess {
  countRows(table: TableSpec): Promise<number>;
  /** Rows `offset` … `offset + limit − 1` in the order they were written. */
  readRows(table: TableSpec, offset: number, limit: number): Promise<Row[]>;
  /** Appends rows as given (inside a transaction, for an all-or-nothing copy). */
  writeRows(table: TableSpec, rows: readonly Row[]): Promise<void>;
}
