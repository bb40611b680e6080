// The three-hospital study: the same federated training of the same model, once on the
// sites' files read naively (columns in each file's own order, each site's own units, local
// category codes, missing values as 0 — what happens when nothing says what a column means)
// and once on the files validated and harmonised against the consortium schema with the
// run's harmonised preprocessing (federated mean/std, one-hot from the schema, imputation);
// and, for reference, centralised training on the pooled, correctly harmonised data with the
// pooled statistics. Accuracy is on the members' holdouts (the same records every time).
// Tests and the demo run it; nothing here is hard-coded but the construction of the data.

import { join } from 'node:path';
import { pooledStatistics } from '../analytics/pooled.js';
import { parseQuery } from '../analytics/query.js';
import { createCoordinator } from '../coordinator/server.js';
import type { Dataset, MemberData } from '../data/dataset.js';
import { subset } from '../data/dataset.js';
import { hospitalSchema, writeHospitals, type HospitalFile } from '../data/hospitals.js';
import { planSplits } from '../data/plan.js';
import { applyPreprocessing } from '../data/preprocess.js';
import { buildPreprocessing, inputFields } from '../data/schema/preprocessing.js';
import { featureLayout } from '../data/schema/harmonise.js';
import { tabularSourceForFile } from '../data/sources/index.js';
import { cellText, numericCell } from '../data/sources/table.js';
import { loadMemberData, loadMemberRecords, parseDataSpec } from '../data/spec.js';
import { initBackend } from '../model/backend.js';
import { initialParameters } from '../model/build.js';
import { createLocalModel } from '../model/local-model.js';
import { withAnalytics } from '../node/analytics-handler.js';
import { CoordinatorClient } from '../node/client.js';
import { runMember, type TaskHandler } from '../node/member.js';
import { createTfjsHandler } from '../node/tfjs-handler.js';
import { nodePrimitives } from '../privacy/secagg/primitives-node.js';
import { RunConfigSchema, type ModelSpec } from '../protocol/messages.js';
import { SqliteStorage } from '../storage/sqlite.js';

export interface StudyOptions {
  dir: string;
  sites?: number;
  rounds?: number;
  learningRate?: number;
  /** Hidden layer widths; [] is logistic regression. Default []. */
  hidden?: number[];
  log?: (line: string) => void;
}

export interface StudyResult {
  sites: number;
  records: number;
  /** Share of the holdouts' majority class. */
  majority: number;
  before: number;
  after: number;
  centralized: number;
  rounds: number;
  model: string;
}

const OPERATOR = 'hospital-study-operator';

/** A site's file read as if no schema existed: its own column order, units and category codes; missing values become 0. */
export async function naiveMemberData(file: HospitalFile): Promise<MemberData> {
  const table = await tabularSourceForFile(file.path).read(file.path);
  const label = table.columns.indexOf('outcome');
  const id = table.columns.indexOf('patient_id');
  const features = table.columns.map((_, c) => c).filter((c) => c !== label && c !== id);
  const codes = features.map((c) => [...new Set(table.rows.map((r) => cellText(r[c] ?? null)).filter((t) => t !== '' && numericCell(t) === undefined))].sort());
  const x = new Float32Array(table.rows.length * features.length);
  const y = new Int32Array(table.rows.length);
  table.rows.forEach((row, r) => {
    features.forEach((c, j) => {
      const cell = row[c] ?? null;
      const n = typeof cell === 'boolean' ? Number(cell) : numericCell(cell);
      x[r * features.length + j] = n !== undefined && !Number.isNaN(n) ? n : cellText(cell) === '' ? 0 : codes[j]!.indexOf(cellText(cell));
    });
    y[r] = cellText(row[label] ?? null) === 'high' ? 1 : 0;
  });
  const data: Dataset = { x, y, inputShape: [features.length], classes: 2 };
  const plan = planSplits(y, parseDataSpec(file.spec).split);
  return { train: subset(data, plan.members[0]!.train), holdout: subset(data, plan.members[0]!.holdout), descriptor: { name: `naive ${file.path}`, numExamples: plan.members[0]!.train.length, numHoldout: plan.members[0]!.holdout.length, inputShape: [features.length], classes: 2 } };
}

async function federate(members: { name: string; data: MemberData; analyticsSpec?: string }[], model: ModelSpec, options: { rounds: number; learningRate: number; harmonise: boolean; log: (line: string) => void }): Promise<number> {
  const storage = new SqliteStorage(':memory:');
  await storage.migrate();
  const coordinator = await createCoordinator({
    storage,
    operatorToken: OPERATOR,
    initialParameters: async (config) => initialParameters(config.model, config.seed),
    maxPollMs: 1000,
    retryDelayMs: 50,
    board: { onlineWindowMs: 30_000, heartbeatTimeoutMs: 30_000 },
    analytics: { schema: hospitalSchema() },
  });
  const aborts: AbortController[] = [];
  try {
    const url = await coordinator.listen(0, '127.0.0.1');
    for (const m of members) {
      const abort = new AbortController();
      aborts.push(abort);
      const client = new CoordinatorClient(url);
      let handler: TaskHandler = createTfjsHandler(m.data, { memberSeed: aborts.length });
      if (m.analyticsSpec) handler = withAnalytics(handler, { data: m.analyticsSpec, memberId: () => client.credentials?.memberId, primitives: nodePrimitives });
      void runMember({ client, name: m.name, dataset: m.data.descriptor, handler, signal: abort.signal, pollMs: 1000, heartbeatMs: 1000 }).catch((e: unknown) => options.log(`${m.name} stopped: ${String(e)}`));
    }
    const config = RunConfigSchema.parse({
      name: options.harmonise ? 'hospitals, harmonised' : 'hospitals, naive',
      model,
      rounds: options.rounds,
      minAvailableMembers: members.length,
      minTrainMembers: members.length,
      fractionEvaluate: 1,
      minEvaluateMembers: members.length,
      train: { epochs: 1, batchSize: 32, learningRate: options.learningRate, seed: 1 },
      roundDeadlineSeconds: 120,
      seed: 1,
      ...(options.harmonise ? { harmonise: {} } : {}),
    });
    const res = await coordinator.app.inject({ method: 'POST', url: '/v1/runs', headers: { authorization: `Bearer ${OPERATOR}` }, payload: config });
    const { runId, error } = res.json() as { runId?: string; error?: { message: string } };
    if (!runId) throw new Error(`the run was refused: ${error?.message}`);
    await coordinator.idle();
    const run = await storage.getRun(runId);
    if (run?.status !== 'completed') throw new Error(`the ${config.name} run ${run?.status}: ${run?.error}`);
    const last = await storage.lastRound(runId);
    options.log(`${config.name}: federated holdout accuracy ${last!.evalMetrics.accuracy!.toFixed(4)} after ${last!.round} rounds`);
    return last!.evalMetrics.accuracy!;
  } finally {
    for (const a of aborts) a.abort();
    await coordinator.close();
    await storage.close();
  }
}

function concat(sets: Dataset[]): Dataset {
  const x = new Float32Array(sets.reduce((n, d) => n + d.x.length, 0));
  const y = new Int32Array(sets.reduce((n, d) => n + d.y.length, 0));
  let [xi, yi] = [0, 0];
  for (const d of sets) {
    x.set(d.x, xi);
    y.set(d.y, yi);
    xi += d.x.length;
    yi += d.y.length;
  }
  return { x, y, inputShape: sets[0]!.inputShape, classes: sets[0]!.classes };
}

export async function hospitalStudy(options: StudyOptions): Promise<StudyResult> {
  const log = options.log ?? (() => undefined);
  const sites = options.sites ?? 3;
  const rounds = options.rounds ?? 20;
  const learningRate = options.learningRate ?? 0.1;
  const hidden = options.hidden ?? [];
  await initBackend();
  const { files } = await writeHospitals({ out: join(options.dir, 'hospitals'), sites });
  const schema = hospitalSchema();
  const harmonised = await Promise.all(files.map((f) => loadMemberData(f.spec)));
  const naive = await Promise.all(files.map(naiveMemberData));
  const holdout = concat(harmonised.map((m) => m.holdout));
  const positives = holdout.y.reduce((n, v) => n + v, 0);
  const majority = Math.max(positives, holdout.y.length - positives) / holdout.y.length;

  const width = featureLayout(schema).length;
  const model = (inputs: number): ModelSpec => ({ family: 'mlp', inputShape: [inputs], hidden, classes: 2 }) as ModelSpec;
  const before = await federate(naive.map((data, i) => ({ name: `hospital-${i}`, data })), model(naive[0]!.train.inputShape[0]!), { rounds, learningRate, harmonise: false, log });
  const after = await federate(harmonised.map((data, i) => ({ name: `hospital-${i}`, data, analyticsSpec: files[i]!.spec })), model(width), { rounds, learningRate, harmonise: true, log });

  // Centralised: the pooled, correctly harmonised records with the pooled statistics.
  const pooledRecords = (await Promise.all(files.map((f) => loadMemberRecords(f.spec)))).flatMap((r) => r.records);
  const summary = parseQuery({ type: 'summary', fields: inputFields(schema) });
  const values = [...pooledStatistics(summary, schema, pooledRecords)].map(([key, value]) => ({ key, value }));
  const spec = buildPreprocessing(schema, values, 'pooled');
  const local = createLocalModel(model(width));
  const trained = await local.train(initialParameters(model(width), 1), applyPreprocessing(concat(harmonised.map((m) => m.train)), spec), RunConfigSchema.shape.train.parse({ epochs: rounds, batchSize: 32, learningRate, seed: 1 }));
  const centralized = (await local.evaluate(trained.parameters, applyPreprocessing(holdout, spec))).metrics.accuracy!;
  log(`centralised on pooled harmonised data: holdout accuracy ${centralized.toFixed(4)}`);
  return { sites, records: pooledRecords.length, majority, before, after, centralized, rounds, model: hidden.length === 0 ? 'logistic regression' : `MLP ${hidden.join('-')}` };
}
