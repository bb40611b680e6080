// Composes a running coordinator from its parts: storage, strategies, the TF.js model
// layer (initial weights and optional server-side evaluation) and the HTTP server.
// `concord coordinator` and the demo call this; tests call createCoordinator directly
// when they want other parts.

import { randomBytes } from 'node:crypto';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { dirname } from 'node:path';
import { loadDataset } from '../data/spec.js';
import { loadAgreement } from '../governance/agreement.js';
import { generateIdentity, loadOrCreateIdentity } from '../governance/identity.js';
import { ConcordError, ErrorCode } from '../protocol/errors.js';
import type { Dataset } from '../data/dataset.js';
import { initBackend } from '../model/backend.js';
import { buildModel, initialParameters } from '../model/build.js';
import { createCorrectnessEvaluator } from '../model/evaluator.js';
import { evaluate } from '../model/train.js';
import { setParameters } from '../model/weights.js';
import type { RunConfig } from '../protocol/messages.js';
import type { Parameters } from '../protocol/tensors.js';
import { openStorage, parseStorageUrl } from '../storage/index.js';
import type { PostgresStorage } from '../storage/postgres.js';
import type { RetentionPolicy } from '../storage/retention.js';
import type { RunEvent, Storage } from '../storage/storage.js';
import { DEFAULT_DB, DEFAULT_HOST, DEFAULT_PORT } from './defaults.js';
import { serveMetrics } from './metrics.js';
import { createCoordinator, type Coordinator, type ReplicationOptions } from './server.js';
import type { MemberBoard } from './task-board.js';
import { loadSchemaFile } from '../data/schema/schema.js';

export interface CoordinatorServiceOptions {
  /** Default 8470; 0 picks a free port. */
  port?: number;
  /** Default 127.0.0.1; use 0.0.0.0 to accept members from other hosts. */
  host?: string;
  /** Storage URL: a SQLite file path, `sqlite:PATH`, or `postgres://…`. Default .concord/coordinator.sqlite. */
  db?: string;
  /** Operator token; default: read from, or created at, <db dir>/operator-token. */
  operatorToken?: string;
  /** The coordinator's signing identity file; default <db dir>/coordinator.identity.json (mode 0600). */
  identityFile?: string;
  /** Admit new members without an invitation. Default true; false requires `concord invite` codes. */
  openEnrollment?: boolean;
  /** Which checkpoints and kept updates the store drops as rounds are stored. Default: keep all. */
  retention?: RetentionPolicy;
  /** Serve HTTPS with this certificate and key (PEM files). */
  tls?: { certFile: string; keyFile: string };
  /** The cooperation agreement to enforce (YAML, see docs/agreement.example.yaml). Default: the version stored by an earlier start, if any. */
  agreementFile?: string;
  /** Data spec of a held-out set the coordinator evaluates every round's model on (e.g. mnist:test). */
  evalData?: string;
  /** Federated analytics: the consortium schema file when the agreement has none, and each dataset's budget where it states none. */
  analytics?: { schemaFile?: string; budget?: { epsilon: number; delta: number } };
  bodyLimitBytes?: number;
  onEvent?: (event: RunEvent) => void;
  /**
   * PostgreSQL only: how long a replica's lease on a run lasts unless renewed (another
   * replica takes the run over within about this long after its driver dies). Default 10 000 ms.
   */
  leaseMs?: number;
  /** Serve Prometheus metrics at http://HOST:PORT/metrics, on a listener of their own (no token: keep it internal). Default: not served. */
  metrics?: { port: number; host: string };
  /** Structured JSON request logs on stderr at this pino level (fatal … trace, or silent). Default silent. */
  logLevel?: string;
  /** Members reached another way than HTTP (`concord simulate`); replaces the task board. */
  memberBoard?: MemberBoard;
  /** NATS server(s) with JetStream where `concord aggregator` shards listen: runs may ask for hierarchicalAggregation. */
  nats?: string;
}

export interface CoordinatorService {
  url: string;
  /** Where Prometheus scrapes this process, when metrics are served. */
  metricsUrl: string | null;
  operatorToken: string;
  /** The coordinator's public key, which verifies its audit log. */
  publicKey: string;
  coordinator: Coordinator;
  storage: Storage;
  close(): Promise<void>;
}

export async function startCoordinatorService(options: CoordinatorServiceOptions = {}): Promise<CoordinatorService> {
  await initBackend();
  const db = options.db ?? DEFAULT_DB;
  // A broken agreement file stops the start before anything is written.
  const agreement = options.agreementFile ? await loadAgreement(options.agreementFile) : undefined;
  const storage = await openStorage(db, options.retention ? { retention: options.retention } : {});
  const operatorToken = options.operatorToken ?? (await operatorTokenFor(db));
  // An in-memory database keeps no audit log worth a lasting key.
  const identity =
    !options.identityFile && db.endsWith(':memory:') ? generateIdentity() : (await loadOrCreateIdentity(options.identityFile ?? besideDatabase(db, 'coordinator.identity.json'))).identity;
  const tls = options.tls ? { cert: await readPem(options.tls.certFile, '--tls-cert'), key: await readPem(options.tls.keyFile, '--tls-key') } : undefined;
  const evalSet: Dataset | null = options.evalData ? await loadDataset(options.evalData) : null;
  const models = new Map<string, ReturnType<typeof buildModel>>();
  const modelFor = (config: RunConfig) => {
    const key = JSON.stringify(config.model);
    let model = models.get(key);
    if (!model) models.set(key, (model = buildModel(config.model, config.seed)));
    return model;
  };

  // On PostgreSQL every coordinator is a replica: others may share the database.
  let replication: ReplicationOptions | undefined;
  if (parseStorageUrl(db).kind === 'postgres') {
    const { PostgresCoordination } = await import('../storage/postgres-coordination.js');
    const coordination = new PostgresCoordination(storage as PostgresStorage, (error) => process.stderr.write(`replication: ${error instanceof Error ? error.message : String(error)}\n`));
    await coordination.start();
    replication = { coordination, ...(options.leaseMs !== undefined ? { leaseMs: options.leaseMs } : {}) };
  }

  const analyticsSchema = options.analytics?.schemaFile ? await loadSchemaFile(options.analytics.schemaFile) : undefined;
  const coordinator = await createCoordinator({
    ...(options.analytics ? { analytics: { ...(analyticsSchema ? { schema: analyticsSchema } : {}), ...(options.analytics.budget ? { budget: options.analytics.budget } : {}) } } : {}),
    storage,
    ...(replication ? { replication } : {}),
    ...(options.logLevel && options.logLevel !== 'silent' ? { log: { level: options.logLevel, stream: process.stderr } } : {}),
    operatorToken,
    identity,
    ...(options.openEnrollment !== undefined ? { openEnrollment: options.openEnrollment } : {}),
    ...(tls ? { tls } : {}),
    ...(agreement ? { agreement } : {}),
    initialParameters: async (config: RunConfig): Promise<Parameters> => initialParameters(config.model, config.seed),
    ...(evalSet
      ? {
          serverEvaluate: async (config: RunConfig, parameters: Parameters) => {
            const model = modelFor(config);
            setParameters(model, parameters);
            const result = await evaluate(model, evalSet);
            return { loss: result.loss, metrics: { accuracy: result.accuracy, numExamples: result.numExamples } };
          },
          // Contribution valuation on the same set, with models of its own (see model/evaluator.ts),
          // per example so that every value gets a bootstrap interval.
          validationAccuracy: ((correct) => (config: RunConfig, parameters: Parameters) => correct(config.model, parameters))(createCorrectnessEvaluator(evalSet)),
        }
      : {}),
    ...(options.bodyLimitBytes ? { bodyLimitBytes: options.bodyLimitBytes } : {}),
    ...(options.onEvent ? { onEvent: options.onEvent } : {}),
    ...(options.memberBoard ? { memberBoard: options.memberBoard } : {}),
    ...(options.nats ? { nats: options.nats } : {}),
  });
  const url = await coordinator.listen(options.port ?? DEFAULT_PORT, options.host ?? DEFAULT_HOST);
  const metrics = options.metrics ? await serveMetrics(coordinator.metrics, options.metrics.port, options.metrics.host) : null;
  return {
    url,
    metricsUrl: metrics?.url ?? null,
    operatorToken,
    publicKey: identity.publicKey,
    coordinator,
    storage,
    async close() {
      await metrics?.close();
      await coordinator.close();
      await replication?.coordination.close();
      await storage.close();
    },
  };
}

/** Where a file that belongs with the database lives (the operator token, the coordinator's key). */
function besideDatabase(db: string, name: string): string {
  return db.startsWith('postgres') ? `.concord/${name}` : `${dirname(db.replace(/^sqlite:/, ''))}/${name}`;
}

async function readPem(file: string, field: string): Promise<Buffer> {
  try {
    return await readFile(file);
  } catch (cause) {
    throw new ConcordError(ErrorCode.NOT_FOUND, `cannot read ${file}: ${(cause as Error).message}`, { details: { field, received: file }, cause });
  }
}

/** The operator token lives beside the database so a restarted coordinator keeps it. */
async function operatorTokenFor(db: string): Promise<string> {
  const path = besideDatabase(db, 'operator-token');
  try {
    return (await readFile(path, 'utf8')).trim();
  } catch {
    const token = `op_${randomBytes(32).toString('base64url')}`;
    await mkdir(dirname(path), { recursive: true });
    await writeFile(path, token + '\n', { mode: 0o600 });
    return token;
  }
}
