// The SQLite schema as an ordered list of migrations. A migration is never edited once
// released; a change to the schema is a new entry with the next version number.
//
// Timestamps are epoch milliseconds. JSON columns hold metric records in the encoding of
// storage/metric-json.ts; parameter columns hold a manifest plus little-endian float32
// bytes (storage/parameter-blobs.ts).

export interface Migration {
  version: number;
  description: string;
  sql: string;
}

export const SQLITE_MIGRATIONS: readonly Migration[] = [
  {
    version: 1,
    description: 'members, runs, rounds, checkpoints, member metrics and events',
    sql: `
      CREATE TABLE members (
        id TEXT PRIMARY KEY,
        name TEXT NOT NULL UNIQUE,
        token_hash TEXT NOT NULL UNIQUE,
        dataset TEXT NOT NULL,
        enrolled_at INTEGER NOT NULL,
        last_seen_at INTEGER,
        revoked INTEGER NOT NULL DEFAULT 0 CHECK (revoked IN (0, 1))
      );

      CREATE TABLE runs (
        id TEXT PRIMARY KEY,
        config TEXT NOT NULL,
        status TEXT NOT NULL CHECK (status IN ('pending', 'running', 'completed', 'failed', 'stopped')),
        error TEXT,
        created_at INTEGER NOT NULL,
        updated_at INTEGER NOT NULL,
        initial_manifest TEXT NOT NULL,
        initial_data BLOB NOT NULL
      );

      CREATE TABLE rounds (
        run_id TEXT NOT NULL REFERENCES runs (id) ON DELETE CASCADE,
        round INTEGER NOT NULL CHECK (round >= 1),
        train_metrics TEXT NOT NULL,
        eval_loss REAL,
        eval_metrics TEXT NOT NULL,
        server_eval TEXT,
        participants TEXT NOT NULL,
        failures TEXT NOT NULL,
        attempts INTEGER NOT NULL,
        started_at INTEGER NOT NULL,
        completed_at INTEGER NOT NULL,
        PRIMARY KEY (run_id, round)
      );

      -- Keyed by the round row, so a checkpoint cannot exist without its round.
      CREATE TABLE checkpoints (
        run_id TEXT NOT NULL,
        round INTEGER NOT NULL,
        manifest TEXT NOT NULL,
        data BLOB NOT NULL,
        strategy_state_manifest TEXT,
        strategy_state BLOB,
        PRIMARY KEY (run_id, round),
        FOREIGN KEY (run_id, round) REFERENCES rounds (run_id, round) ON DELETE CASCADE,
        CHECK ((strategy_state_manifest IS NULL) = (strategy_state IS NULL))
      );

      -- seq keeps the order the round loop reported members in.
      CREATE TABLE member_metrics (
        run_id TEXT NOT NULL,
        round INTEGER NOT NULL,
        seq INTEGER NOT NULL,
        member_id TEXT NOT NULL,
        phase TEXT NOT NULL CHECK (phase IN ('train', 'evaluate')),
        num_examples INTEGER NOT NULL,
        loss REAL,
        metrics TEXT NOT NULL,
        bytes_in INTEGER NOT NULL,
        bytes_out INTEGER NOT NULL,
        seconds REAL NOT NULL,
        PRIMARY KEY (run_id, round, seq),
        FOREIGN KEY (run_id, round) REFERENCES rounds (run_id, round) ON DELETE CASCADE
      );
      CREATE INDEX member_metrics_by_member ON member_metrics (member_id);

      CREATE TABLE events (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        run_id TEXT NOT NULL REFERENCES runs (id) ON DELETE CASCADE,
        round INTEGER,
        kind TEXT NOT NULL,
        message TEXT NOT NULL,
        at INTEGER NOT NULL
      );
      CREATE INDEX events_by_run ON events (run_id, id);
    `,
  },
  {
    version: 2,
    description: 'privacy budget charges, committed with their round',
    sql: `
      CREATE TABLE privacy_charges (
        run_id TEXT NOT NULL,
        round INTEGER NOT NULL,
        seq INTEGER NOT NULL,
        member_id TEXT NOT NULL,
        dataset_id TEXT NOT NULL,
        sampling_rate REAL NOT NULL CHECK (sampling_rate >= 0 AND sampling_rate <= 1),
        noise_multiplier REAL NOT NULL CHECK (noise_multiplier >= 0),
        steps INTEGER NOT NULL CHECK (steps >= 0),
        PRIMARY KEY (run_id, round, seq),
        FOREIGN KEY (run_id, round) REFERENCES rounds (run_id, round) ON DELETE CASCADE
      );
      CREATE INDEX privacy_charges_dataset ON privacy_charges (dataset_id);
    `,
  },
  {
    version: 3,
    description: 'members authenticate by Ed25519 keys; invitations, API tokens and the signed audit log',
    sql: `
      -- Bearer tokens gave way to signed requests. SQLite cannot drop a NOT NULL UNIQUE
      -- column in place, so the table is rebuilt; members enrolled before keep their id
      -- and name with no key, and must enroll again.
      CREATE TABLE members_v3 (
        id TEXT PRIMARY KEY,
        name TEXT NOT NULL UNIQUE,
        public_key TEXT UNIQUE,
        dataset TEXT NOT NULL,
        enrolled_at INTEGER NOT NULL,
        last_seen_at INTEGER,
        revoked INTEGER NOT NULL DEFAULT 0 CHECK (revoked IN (0, 1))
      );
      INSERT INTO members_v3 (id, name, public_key, dataset, enrolled_at, last_seen_at, revoked)
        SELECT id, name, NULL, dataset, enrolled_at, last_seen_at, revoked FROM members ORDER BY rowid;
      DROP TABLE members;
      ALTER TABLE members_v3 RENAME TO members;

      -- Only hashes of invitation codes and API tokens are kept.
      CREATE TABLE invitations (
        code_hash TEXT PRIMARY KEY,
        role TEXT NOT NULL,
        member_name TEXT,
        created_at INTEGER NOT NULL,
        expires_at INTEGER NOT NULL,
        used_at INTEGER,
        used_by TEXT
      );

      CREATE TABLE api_tokens (
        id TEXT PRIMARY KEY,
        token_hash TEXT NOT NULL UNIQUE,
        role TEXT NOT NULL,
        scopes TEXT NOT NULL,
        label TEXT,
        created_at INTEGER NOT NULL,
        expires_at INTEGER,
        revoked_at INTEGER
      );

      -- position is the order of appending and survives VACUUM (an explicit INTEGER
      -- PRIMARY KEY); seq is what each entry claims. Keeping both lets a verifier see
      -- entries whose order was changed, not only ones whose content was.
      CREATE TABLE audit_log (
        position INTEGER PRIMARY KEY,
        seq INTEGER NOT NULL UNIQUE CHECK (seq >= 1),
        at INTEGER NOT NULL,
        actor TEXT NOT NULL,
        kind TEXT NOT NULL,
        subject TEXT NOT NULL,
        data TEXT NOT NULL,
        prev_hash TEXT NOT NULL,
        hash TEXT NOT NULL,
        signature TEXT NOT NULL
      );
    `,
  },
  {
    version: 4,
    description: "members' individual updates per round, kept for contribution valuation",
    sql: `
      -- Only for runs that keep updates (run config keepUpdates); written with the round.
      CREATE TABLE member_updates (
        run_id TEXT NOT NULL,
        round INTEGER NOT NULL,
        seq INTEGER NOT NULL,
        member_id TEXT NOT NULL,
        num_examples INTEGER NOT NULL CHECK (num_examples >= 0),
        manifest TEXT NOT NULL,
        data BLOB NOT NULL,
        PRIMARY KEY (run_id, round, seq),
        UNIQUE (run_id, round, member_id),
        FOREIGN KEY (run_id, round) REFERENCES rounds (run_id, round) ON DELETE CASCADE
      );
    `,
  },
  {
    version: 5,
    description: 'the cooperation agreement in force with its history, training plans and their signed approvals',
    sql: `
      -- Every version ever adopted; the highest is in force.
      CREATE TABLE agreement_versions (
        version INTEGER PRIMARY KEY CHECK (version >= 1),
        hash TEXT NOT NULL,
        agreement TEXT NOT NULL,
        signatures TEXT NOT NULL,
        signers TEXT NOT NULL,
        adopted_at INTEGER NOT NULL,
        adopted_by TEXT NOT NULL
      );

      CREATE TABLE plans (
        plan_id TEXT PRIMARY KEY,
        plan_hash TEXT NOT NULL,
        plan TEXT NOT NULL,
        submitted_by TEXT NOT NULL,
        submitted_at INTEGER NOT NULL,
        run_id TEXT
      );

      CREATE TABLE plan_approvals (
        plan_id TEXT NOT NULL REFERENCES plans (plan_id) ON DELETE CASCADE,
        seq INTEGER NOT NULL,
        approval TEXT NOT NULL,
        PRIMARY KEY (plan_id, seq)
      );
    `,
  },
  {
    version: 6,
    description: "members' declared compute resources",
    sql: `
      CREATE TABLE member_resources (
        member_id TEXT PRIMARY KEY,
        declaration TEXT NOT NULL,
        declared_at INTEGER NOT NULL
      );
    `,
  },
  {
    version: 7,
    description: 'federated-analytics queries, their released results and the privacy charges of DP releases',
    sql: `
      CREATE TABLE analytics_queries (
        id TEXT PRIMARY KEY,
        query TEXT NOT NULL,
        submitted_by TEXT NOT NULL,
        status TEXT NOT NULL CHECK (status IN ('running', 'completed', 'failed')),
        result TEXT,
        error TEXT,
        created_at INTEGER NOT NULL,
        updated_at INTEGER NOT NULL
      );

      -- Part of the per-dataset privacy ledger, with privacy_charges.
      CREATE TABLE analytics_charges (
        query_id TEXT NOT NULL REFERENCES analytics_queries (id) ON DELETE CASCADE,
        seq INTEGER NOT NULL,
        member_id TEXT NOT NULL,
        dataset_id TEXT NOT NULL,
        sampling_rate REAL NOT NULL,
        noise_multiplier REAL NOT NULL,
        steps INTEGER NOT NULL,
        PRIMARY KEY (query_id, seq)
      );
      CREATE INDEX analytics_charges_by_dataset ON analytics_charges (dataset_id);
    `,
  },
];
