// The PostgreSQL schema as an ordered list of migrations (the SQLite history of
// sqlite-migrations.ts in one step, then what only a shared database needs). A migration
// is never edited once released; a change is a new entry with the next version.
//
// Same encodings as SQLite: timestamps are epoch milliseconds (BIGINT); JSON columns hold
// TEXT in the encoding of storage/metric-json.ts (exact, unlike jsonb, which would reorder
// keys and reformat numbers); parameters are a manifest plus little-endian float32 bytes
// (BYTEA, storage/parameter-blobs.ts). `position` columns keep insertion order.

import type { Migration } from './sqlite-migrations.js';

export const POSTGRES_MIGRATIONS: readonly Migration[] = [
  {
    version: 1,
    description: 'members, runs, rounds, checkpoints, metrics, events, privacy charges, kept updates, invitations, API tokens, the audit log, agreement versions, plans and declared resources',
    sql: `
      CREATE TABLE members (
        position BIGSERIAL NOT NULL,
        id TEXT PRIMARY KEY,
        name TEXT NOT NULL UNIQUE,
        public_key TEXT UNIQUE,
        dataset TEXT NOT NULL,
        enrolled_at BIGINT NOT NULL,
        last_seen_at BIGINT,
        revoked BOOLEAN NOT NULL DEFAULT FALSE
      );

      CREATE TABLE runs (
        position BIGSERIAL NOT NULL,
        id TEXT PRIMARY KEY,
        config TEXT NOT NULL,
        status TEXT NOT NULL CHECK (status IN ('pending', 'running', 'completed', 'failed', 'stopped')),
        error TEXT,
        created_at BIGINT NOT NULL,
        updated_at BIGINT NOT NULL,
        initial_manifest TEXT NOT NULL,
        initial_data BYTEA NOT NULL
      );

      CREATE TABLE rounds (
        run_id TEXT NOT NULL REFERENCES runs (id) ON DELETE CASCADE,
        round INTEGER NOT NULL CHECK (round >= 1),
        train_metrics TEXT NOT NULL,
        eval_loss DOUBLE PRECISION,
        eval_metrics TEXT NOT NULL,
        server_eval TEXT,
        participants TEXT NOT NULL,
        failures TEXT NOT NULL,
        attempts INTEGER NOT NULL,
        started_at BIGINT NOT NULL,
        completed_at BIGINT NOT NULL,
        PRIMARY KEY (run_id, round)
      );

      CREATE TABLE checkpoints (
        run_id TEXT NOT NULL,
        round INTEGER NOT NULL,
        manifest TEXT NOT NULL,
        data BYTEA NOT NULL,
        strategy_state_manifest TEXT,
        strategy_state BYTEA,
        PRIMARY KEY (run_id, round),
        FOREIGN KEY (run_id, round) REFERENCES rounds (run_id, round) ON DELETE CASCADE,
        CHECK ((strategy_state_manifest IS NULL) = (strategy_state IS NULL))
      );

      CREATE TABLE member_metrics (
        run_id TEXT NOT NULL,
        round INTEGER NOT NULL,
        seq INTEGER NOT NULL,
        member_id TEXT NOT NULL,
        phase TEXT NOT NULL CHECK (phase IN ('train', 'evaluate')),
        num_examples BIGINT NOT NULL,
        loss DOUBLE PRECISION,
        metrics TEXT NOT NULL,
        bytes_in BIGINT NOT NULL,
        bytes_out BIGINT NOT NULL,
        seconds DOUBLE PRECISION NOT NULL,
        PRIMARY KEY (run_id, round, seq),
        FOREIGN KEY (run_id, round) REFERENCES rounds (run_id, round) ON DELETE CASCADE
      );
      CREATE INDEX member_metrics_by_member ON member_metrics (member_id);

      CREATE TABLE events (
        id BIGSERIAL PRIMARY KEY,
        run_id TEXT NOT NULL REFERENCES runs (id) ON DELETE CASCADE,
        round INTEGER,
        kind TEXT NOT NULL,
        message TEXT NOT NULL,
        at BIGINT NOT NULL
      );
      CREATE INDEX events_by_run ON events (run_id, id);

      CREATE TABLE privacy_charges (
        position BIGSERIAL NOT NULL,
        run_id TEXT NOT NULL,
        round INTEGER NOT NULL,
        seq INTEGER NOT NULL,
        member_id TEXT NOT NULL,
        dataset_id TEXT NOT NULL,
        sampling_rate DOUBLE PRECISION NOT NULL CHECK (sampling_rate >= 0 AND sampling_rate <= 1),
        noise_multiplier DOUBLE PRECISION NOT NULL CHECK (noise_multiplier >= 0),
        steps BIGINT NOT NULL CHECK (steps >= 0),
        PRIMARY KEY (run_id, round, seq),
        FOREIGN KEY (run_id, round) REFERENCES rounds (run_id, round) ON DELETE CASCADE
      );
      CREATE INDEX privacy_charges_dataset ON privacy_charges (dataset_id, position);

      CREATE TABLE member_updates (
        run_id TEXT NOT NULL,
        round INTEGER NOT NULL,
        seq INTEGER NOT NULL,
        member_id TEXT NOT NULL,
        num_examples BIGINT NOT NULL CHECK (num_examples >= 0),
        manifest TEXT NOT NULL,
        data BYTEA NOT NULL,
        PRIMARY KEY (run_id, round, seq),
        UNIQUE (run_id, round, member_id),
        FOREIGN KEY (run_id, round) REFERENCES rounds (run_id, round) ON DELETE CASCADE
      );

      CREATE TABLE invitations (
        position BIGSERIAL NOT NULL,
        code_hash TEXT PRIMARY KEY,
        role TEXT NOT NULL,
        member_name TEXT,
        created_at BIGINT NOT NULL,
        expires_at BIGINT NOT NULL,
        used_at BIGINT,
        used_by TEXT
      );

      CREATE TABLE api_tokens (
        position BIGSERIAL NOT NULL,
        id TEXT PRIMARY KEY,
        token_hash TEXT NOT NULL UNIQUE,
        role TEXT NOT NULL,
        scopes TEXT NOT NULL,
        label TEXT,
        created_at BIGINT NOT NULL,
        expires_at BIGINT,
        revoked_at BIGINT
      );

      -- position is the order of appending; seq is what each entry claims (see SQLite's v3).
      CREATE TABLE audit_log (
        position BIGSERIAL PRIMARY KEY,
        seq BIGINT NOT NULL UNIQUE CHECK (seq >= 1),
        at BIGINT NOT NULL,
        actor TEXT NOT NULL,
        kind TEXT NOT NULL,
        subject TEXT NOT NULL,
        data TEXT NOT NULL,
        prev_hash TEXT NOT NULL,
        hash TEXT NOT NULL,
        signature TEXT NOT NULL
      );

      CREATE TABLE agreement_versions (
        version INTEGER PRIMARY KEY CHECK (version >= 1),
        hash TEXT NOT NULL,
        agreement TEXT NOT NULL,
        signatures TEXT NOT NULL,
        signers TEXT NOT NULL,
        adopted_at BIGINT NOT NULL,
        adopted_by TEXT NOT NULL
      );

      CREATE TABLE plans (
        position BIGSERIAL NOT NULL,
        plan_id TEXT PRIMARY KEY,
        plan_hash TEXT NOT NULL,
        plan TEXT NOT NULL,
        submitted_by TEXT NOT NULL,
        submitted_at BIGINT NOT NULL,
        run_id TEXT
      );

      CREATE TABLE plan_approvals (
        plan_id TEXT NOT NULL REFERENCES plans (plan_id) ON DELETE CASCADE,
        seq INTEGER NOT NULL,
        approval TEXT NOT NULL,
        PRIMARY KEY (plan_id, seq)
      );

      CREATE TABLE member_resources (
        position BIGSERIAL NOT NULL,
        member_id TEXT PRIMARY KEY,
        declaration TEXT NOT NULL,
        declared_at BIGINT NOT NULL
      );
    `,
  },
  {
    version: 2,
    description: "what coordinator replicas share: run leases, the task board and request nonces",
    sql: `
      -- Which replica drives a run's round loop, until when (the database's clock, ms).
      CREATE TABLE run_leases (
        run_id TEXT PRIMARY KEY REFERENCES runs (id) ON DELETE CASCADE,
        owner TEXT NOT NULL,
        expires_at BIGINT NOT NULL,
        acquired_at BIGINT NOT NULL
      );

      -- Tasks issued by a run's owner, delivered to their member by whichever replica it polls,
      -- answered through whichever replica it reaches. Transient: the owner deletes them once
      -- its exchange is over (so late results are stale), and a new owner fails any it finds.
      CREATE TABLE tasks (
        position BIGSERIAL NOT NULL,
        task_id TEXT PRIMARY KEY,
        run_id TEXT NOT NULL,
        member_id TEXT NOT NULL,
        issued_by TEXT NOT NULL,
        expect TEXT NOT NULL,
        frame BYTEA NOT NULL,
        status TEXT NOT NULL CHECK (status IN ('queued', 'delivered', 'settled', 'failed')),
        delivered_at BIGINT,
        settled_at BIGINT,
        result BYTEA,
        reason TEXT
      );
      CREATE INDEX tasks_queued ON tasks (member_id, position) WHERE status = 'queued';
      CREATE INDEX tasks_open ON tasks (member_id) WHERE status IN ('queued', 'delivered');
      CREATE INDEX tasks_by_run ON tasks (run_id);

      -- Nonces of signed member requests, so a request replayed to another replica is refused too.
      CREATE TABLE request_nonces (
        member_id TEXT NOT NULL,
        nonce TEXT NOT NULL,
        expires_at BIGINT NOT NULL,
        PRIMARY KEY (member_id, nonce)
      );
      CREATE INDEX request_nonces_expiry ON request_nonces (expires_at);
    `,
  },
  {
    version: 3,
    description: 'federated-analytics queries, their released results and the privacy charges of DP releases',
    sql: `
      CREATE TABLE analytics_queries (
        position BIGSERIAL NOT NULL,
        id TEXT PRIMARY KEY,
        query TEXT NOT NULL,
        submitted_by TEXT NOT NULL,
        status TEXT NOT NULL CHECK (status IN ('running', 'completed', 'failed')),
        result TEXT,
        error TEXT,
        created_at BIGINT NOT NULL,
        updated_at BIGINT NOT NULL
      );

      -- Part of the per-dataset privacy ledger, with privacy_charges.
      CREATE TABLE analytics_charges (
        position BIGSERIAL NOT NULL,
        query_id TEXT NOT NULL REFERENCES analytics_queries (id) ON DELETE CASCADE,
        seq INTEGER NOT NULL,
        member_id TEXT NOT NULL,
        dataset_id TEXT NOT NULL,
        sampling_rate DOUBLE PRECISION NOT NULL,
        noise_multiplier DOUBLE PRECISION NOT NULL,
        steps INTEGER NOT NULL,
        PRIMARY KEY (query_id, seq)
      );
      CREATE INDEX analytics_charges_by_dataset ON analytics_charges (dataset_id);
    `,
  },
];
