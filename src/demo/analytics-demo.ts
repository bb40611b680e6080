// `npm start -- --task analytics`: five hospitals (data/hospitals.ts: each its own file
// format, column order, units and spellings), a coordinator and five member nodes as
// separate processes, a set of federated queries — exact ones under secure aggregation with
// the minimum count, DP ones charged to each dataset's budget — and the three-hospital
// harmonisation study. Every released statistic is compared with the same statistic on the
// pooled data (which only this demo, holding every site's file, can compute): exact ones by
// their largest relative error, DP ones by the noise actually drawn against its stated std.

import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { createWriteStream } from 'node:fs';
import { mkdir, rm } from 'node:fs/promises';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { maxRelativeError, pooledStatistics } from '../analytics/pooled.js';
import { parseQuery } from '../analytics/query.js';
import type { AnalyticsResult } from '../analytics/release.js';
import { compileQuery } from '../analytics/statistics/index.js';
import { cellTotals } from '../analytics/contribution.js';
import { operatorRequest } from '../cli/operator-api.js';
import { hospitalSchema, writeHospitals } from '../data/hospitals.js';
import { loadMemberRecords } from '../data/spec.js';
import type { AnalyticsQueryRecord } from '../storage/storage.js';
import { listeningUrl, waitForMembers } from './demo.js';
import { hospitalStudy, type StudyResult } from './hospital-study.js';

export const DEMO_QUERIES: unknown[] = [
  { type: 'count', name: 'records' },
  { type: 'mean', name: 'mean glucose (mmol/L)', field: 'glucose' },
  { type: 'variance', name: 'systolic blood pressure (mmHg)', field: 'systolic_bp' },
  { type: 'histogram', name: 'age distribution', field: 'age', bins: { low: 20, high: 100, count: 16 } },
  { type: 'quantiles', name: 'BMI quartiles', field: 'bmi', bins: { low: 10, high: 70, count: 240 }, probabilities: [0.25, 0.5, 0.75] },
  { type: 'correlation', name: 'risk factor correlations', fields: ['age', 'systolic_bp', 'glucose', 'cholesterol', 'bmi'] },
  { type: 'contingency', name: 'sex × smoking', fields: ['sex', 'smoker'] },
  { type: 'groupby', name: 'cholesterol by smoking status', by: 'smoker', field: 'cholesterol', statistic: 'variance' },
  { type: 'survival', name: 'event-free survival', time: 'followup', event: 'event', bins: { low: 0, high: 1800, count: 12 } },
  { type: 'histogram', name: 'age in fine bins (small cells suppressed)', field: 'age', bins: { edges: [18, 25, 30, 35, 40, 50, 60, 70, 80, 90, 95, 110] } },
  { type: 'mean', name: 'mean cholesterol, DP', field: 'cholesterol', privacy: { epsilon: 1, delta: 1e-6 } },
  { type: 'histogram', name: 'age distribution, DP', field: 'age', bins: { low: 20, high: 100, count: 16 }, privacy: { epsilon: 1, delta: 1e-6 } },
  { type: 'minmax', name: 'age range, DP', field: 'age', bins: { low: 18, high: 110, count: 92 }, privacy: { epsilon: 0.5, delta: 1e-6 } },
];

export interface AnalyticsDemoOptions {
  members: number;
  dir: string;
  log: (line: string) => void;
}

export interface AnalyticsDemoSummary {
  task: 'analytics';
  members: number;
  records: number;
  queries: number;
  secureAggregation: true;
  exact: { queries: number; values: number; maxRelativeError: number; worst: string | null; suppressedCells: number };
  dp: { name: string; epsilon: number; delta: number; cells: number; statedStd: number; drawnRms: number; drawnOverStated: number }[];
  bytesPerMemberPerQuery: number;
  seconds: number;
  harmonisation: StudyResult;
}

const CLI = resolve(dirname(fileURLToPath(import.meta.url)), '../../bin/concord.mjs');

export async function runAnalyticsDemo(options: AnalyticsDemoOptions): Promise<AnalyticsDemoSummary> {
  const { log } = options;
  const started = Date.now();
  const dir = resolve(options.dir);
  await rm(dir, { recursive: true, force: true });
  await mkdir(join(dir, 'logs'), { recursive: true });
  const token = `op_${randomBytes(24).toString('base64url')}`;
  const { schema: schemaFile, files } = await writeHospitals({ out: join(dir, 'hospitals'), sites: options.members });
  for (const f of files) log(`site ${f.site}: ${f.records} records in ${f.path}`);
  const schema = hospitalSchema();
  const children: ChildProcess[] = [];
  const stopAll = (): void => {
    for (const c of children) if (c.exitCode === null) c.kill('SIGTERM');
  };
  process.once('exit', stopAll);
  try {
    const coordinator = spawn(process.execPath, [CLI, 'coordinator', '--port', '0', '--db', join(dir, 'coordinator.sqlite'), '--operator-token', token, '--data-schema', schemaFile, '--analytics-epsilon', '4', '--json'], { stdio: ['ignore', 'pipe', 'pipe'] });
    children.push(coordinator);
    coordinator.stderr!.pipe(createWriteStream(join(dir, 'logs', 'coordinator.log')));
    const url = await listeningUrl(coordinator);
    log(`coordinator listening on ${url}; dashboard: ${url}/?token=${token}`);
    files.forEach((f, i) => {
      const node = spawn(process.execPath, [CLI, 'node', '--coordinator', url, '--name', `hospital-${String.fromCharCode(97 + i)}`, '--data', f.spec, '--state-dir', join(dir, 'nodes')], { stdio: ['ignore', 'ignore', 'pipe'] });
      node.stderr!.pipe(createWriteStream(join(dir, 'logs', `hospital-${String.fromCharCode(97 + i)}.log`)));
      children.push(node);
    });
    await waitForMembers(url, token, options.members, children);
    log(`${options.members} hospitals validated their files against ${schema.name} v${schema.version} and enrolled`);

    const pooled = (await Promise.all(files.map((f) => loadMemberRecords(f.spec)))).flatMap((r) => r.records);
    let exactQueries = 0;
    let exactValues = 0;
    let suppressedCells = 0;
    let worst: { error: number; key: string | null } = { error: 0, key: null };
    const dp: AnalyticsDemoSummary['dp'] = [];
    let bytes = 0;
    for (const raw of DEMO_QUERIES) {
      const query = parseQuery(raw);
      const { query: record } = await operatorRequest<{ query: AnalyticsQueryRecord }>(url, token, 'POST', '/v1/analytics', raw);
      if (record.status !== 'completed') throw new Error(`query ${query.name}: ${record.error}`);
      const result = record.result as unknown as AnalyticsResult & { members: { bytesIn: number; bytesOut: number }[] };
      bytes += result.members.reduce((n, m) => n + m.bytesIn + m.bytesOut, 0) / result.members.length;
      const reference = pooledStatistics(query, schema, pooled);
      if (result.exact) {
        const e = maxRelativeError(result.values, reference);
        exactQueries++;
        exactValues += e.compared;
        suppressedCells += result.values.filter((v) => v.value === null).length;
        if (e.maxRelativeError > worst.error) worst = { error: e.maxRelativeError, key: `${query.name}: ${e.worst}` };
        log(`${query.name}: ${result.values.length} values (${result.values.filter((v) => v.value === null).length} suppressed), max relative error vs pooled ${e.maxRelativeError.toExponential(2)}`);
      } else {
        // The noise drawn per cell is the released noisy cell minus the exact pooled cell.
        const exactCells = cellTotals(compileQuery(query, schema), pooled);
        const cells = result.privacy!.cells;
        const z = cells.map((c, i) => (c.value - exactCells[i]!) / c.std);
        const rms = Math.sqrt(z.reduce((a, b) => a + b * b, 0) / z.length);
        const statedStd = cells.reduce((a, c) => a + c.std, 0) / cells.length;
        const drawnRms = Math.sqrt(cells.reduce((a, c, i) => a + (c.value - exactCells[i]!) ** 2, 0) / cells.length);
        dp.push({ name: query.name!, epsilon: result.privacy!.epsilon, delta: result.privacy!.delta, cells: cells.length, statedStd, drawnRms, drawnOverStated: rms });
        log(`${query.name}: DP ε=${result.privacy!.epsilon}, noise multiplier ${result.privacy!.noiseMultiplier.toFixed(3)}; drawn noise / stated std (RMS over ${cells.length} cells) = ${rms.toFixed(3)}; released ${result.values.map((v) => `${v.key}=${v.value === null ? 'suppressed' : Number(v.value.toPrecision(5))}`).slice(0, 4).join(', ')}${result.values.length > 4 ? ', …' : ''}`);
      }
    }
    log('the three-hospital harmonisation study (in this process): naive reading vs the consortium schema with harmonised preprocessing vs centralised training');
    const harmonisation = await hospitalStudy({ dir: join(dir, 'study'), log });
    return {
      task: 'analytics',
      members: options.members,
      records: pooled.length,
      queries: DEMO_QUERIES.length,
      secureAggregation: true,
      exact: { queries: exactQueries, values: exactValues, maxRelativeError: worst.error, worst: worst.key, suppressedCells },
      dp,
      bytesPerMemberPerQuery: Math.round(bytes / DEMO_QUERIES.length),
      seconds: (Date.now() - started) / 1000,
      harmonisation,
    };
  } finally {
    stopAll();
    process.removeListener('exit', stopAll);
  }
}
