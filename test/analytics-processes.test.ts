// Federated analytics with real member processes over HTTP: three hospital nodes
// (`concord node`, each with its own file in its own format, units and column order) answer
// queries of a coordinator in this process. Checked: exact releases equal the pooled
// computation; with secure aggregation neither what the coordinator received nor anything it
// stored holds a member's own statistic; DP releases are charged to the per-dataset ledger
// and refused once the budget is spent; a node whose file breaks the schema does not enroll
// and says why, row by row.

import assert from 'node:assert/strict';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { cellTotals, memberContribution } from '../src/analytics/contribution.js';
import { maxRelativeError, pooledStatistics } from '../src/analytics/pooled.js';
import { parseQuery } from '../src/analytics/query.js';
import { compileQuery } from '../src/analytics/statistics/index.js';
import type { AnalyticsResult } from '../src/analytics/release.js';
import { createCoordinator, type Coordinator } from '../src/coordinator/server.js';
import { hospitalSchema, writeHospitals } from '../src/data/hospitals.js';
import { loadMemberRecords } from '../src/data/spec.js';
import type { HarmonisedRecord } from '../src/data/schema/validate.js';
import { defaultQuantizationBits } from '../src/privacy/secagg/quantize.js';
import { makeParameters } from '../src/protocol/tensors.js';
import { SqliteStorage } from '../src/storage/sqlite.js';
import type { AnalyticsQueryRecord } from '../src/storage/storage.js';
import { TABLES } from '../src/storage/tables.js';
import { concord, processScope, until } from './support/processes.js';

const scope = processScope();
const OPERATOR = 'analytics-operator-token';
const schema = hospitalSchema();
let coordinator: Coordinator;
let storage: SqliteStorage;
let url: string;
let sites: { spec: string; records: HarmonisedRecord[] }[] = [];
const received: Buffer[] = [];

async function query(body: unknown): Promise<{ status: number; record?: AnalyticsQueryRecord; error?: { code: string; message: string } }> {
  const res = await fetch(`${url}/v1/analytics`, { method: 'POST', headers: { authorization: `Bearer ${OPERATOR}`, 'content-type': 'application/json' }, body: JSON.stringify(body) });
  const json = (await res.json()) as { query?: AnalyticsQueryRecord; error?: { code: string; message: string } };
  return { status: res.status, ...(json.query ? { record: json.query } : {}), ...(json.error ? { error: json.error } : {}) };
}

before(async () => {
  const dir = await scope.tempDir('concord-analytics-procs-');
  const { files } = await writeHospitals({ out: join(dir, 'data'), sites: 3 });
  sites = await Promise.all(files.map(async (f) => ({ spec: f.spec, records: (await loadMemberRecords(f.spec)).records })));
  storage = new SqliteStorage(join(dir, 'coordinator.sqlite'));
  await storage.migrate();
  coordinator = await createCoordinator({
    storage,
    operatorToken: OPERATOR,
    initialParameters: async () => makeParameters([{ name: 'w', shape: [1] }]),
    maxPollMs: 2000,
    board: { onlineWindowMs: 10_000, heartbeatTimeoutMs: 10_000 },
    analytics: { schema, budget: { epsilon: 2, delta: 1e-5 }, timeoutMs: 60_000 },
  });
  // Everything members upload, as the coordinator receives it.
  coordinator.app.addHook('preHandler', async (request) => {
    if (request.method === 'POST' && /\/v1\/tasks\/.*\/result$/.test(request.url) && Buffer.isBuffer(request.body)) received.push(Buffer.from(request.body));
  });
  url = await coordinator.listen(0, '127.0.0.1');
  files.forEach((f, i) => scope.children.push(concord(['node', '--coordinator', url, '--name', `hospital-${i}`, '--data', f.spec, '--state-dir', join(dir, 'nodes')])));
  await until(async () => coordinator.board.available().length === 3 || undefined, 90_000, 'three hospital nodes online');
});

after(async () => {
  await coordinator?.close();
  await storage?.close();
});

describe('federated analytics with member processes', () => {
  it('exact releases over secure aggregation equal the pooled computation', { timeout: 120_000 }, async () => {
    const pooled = sites.flatMap((s) => s.records);
    for (const raw of [
      { type: 'mean', field: 'glucose' },
      { type: 'correlation', fields: ['age', 'systolic_bp', 'glucose'] },
      { type: 'survival', time: 'followup', event: 'event', bins: { low: 0, high: 1800, count: 6 } },
    ]) {
      const { status, record, error } = await query(raw);
      assert.equal(status, 200, error?.message);
      assert.equal(record!.status, 'completed', record!.error ?? '');
      const result = record!.result as unknown as AnalyticsResult;
      assert.equal(result.contributors, 3);
      assert.equal(result.secureAggregation, true);
      const { maxRelativeError: e } = maxRelativeError(result.values, pooledStatistics(parseQuery(raw), schema, pooled));
      assert.ok(e <= 1e-9, `${raw.type}: ${e}`);
    }
  });

  it('the coordinator’s received bodies and stored rows hold no member’s own statistic', { timeout: 60_000 }, async () => {
    const raw = { type: 'variance', field: 'cholesterol' };
    received.length = 0;
    const { record } = await query(raw);
    assert.equal(record!.status, 'completed');
    const plan = compileQuery(parseQuery(raw), schema);
    const limbBits = defaultQuantizationBits(3) - 1;
    const bodies = Buffer.concat(received);
    const rows: string[] = [];
    for (const table of TABLES) rows.push(JSON.stringify(await storage.readRows(table, 0, 1_000_000), (_k, v: unknown) => (v && typeof v === 'object' && (v as { type?: string }).type === 'Buffer' ? Buffer.from((v as { data: number[] }).data).toString('latin1') : v)));
    const stored = rows.join('\n');
    for (const site of sites) {
      const vector = memberContribution(plan, site.records, limbBits);
      const bytes = Buffer.from(vector.buffer, vector.byteOffset, vector.byteLength);
      // Any 16 consecutive bytes of a member's plain vector (its limbs) would betray it; none arrive.
      for (let at = 0; at + 16 <= bytes.length; at += 16) assert.equal(bodies.indexOf(bytes.subarray(at, at + 16)), -1, `bytes ${at}… of a member's vector reached the coordinator`);
      const [n, sum, sumsq] = cellTotals(plan, site.records);
      for (const own of [sum! / n!, (sumsq! - (sum! * sum!) / n!) / (n! - 1), sum!]) {
        assert.ok(!stored.includes(String(own)) && !bodies.includes(String(own)), `a member's own statistic ${own} is stored or was received`);
      }
    }
  });

  it('DP releases are charged to every contributing dataset and refused once the budget is spent', { timeout: 90_000 }, async () => {
    const dp = { type: 'histogram', field: 'age', bins: { low: 20, high: 100, count: 8 }, privacy: { epsilon: 1.5, delta: 1e-5 } };
    const first = await query(dp);
    assert.equal(first.record?.status, 'completed', first.error?.message ?? first.record?.error ?? '');
    const result = first.record!.result as unknown as AnalyticsResult;
    assert.equal(result.exact, false);
    assert.ok(result.privacy!.cells.every((c) => c.std > 0));
    const charges = (await storage.listPrivacyCharges()).filter((c) => c.runId === first.record!.queryId);
    assert.equal(charges.length, 3);
    const second = await query(dp);
    assert.equal(second.status, 403);
    assert.match(second.error!.message, /privacy budget: .*dataset hospital-0\/[^;]*would spend ε = [\d.]+ > budget 2/);
    const exactMinMax = await query({ type: 'minmax', field: 'age', bins: { low: 20, high: 100, count: 8 } });
    assert.equal(exactMinMax.status, 400);
    assert.match(exactMinMax.error!.message, /only with differential privacy/);
  });

  it('a node whose file breaks the schema refuses to enroll, listing every problem with file, row and column', { timeout: 60_000 }, async () => {
    const dir = await scope.tempDir('concord-analytics-bad-');
    const bad = join(dir, 'bad.csv');
    await writeFile(bad, 'patient_id,age,sex,smoker,bmi,systolic_bp,glucose [mg/dL],cholesterol,followup,event,outcome\np1,61,X,never,27,130,99,5.1,300,no,low\np2,abc,female,never,27,130,99,5.1,300,no,medium\n');
    const schemaFile = sites[0]!.spec.match(/schema=([^,]+)/)![1]!;
    const child = concord(['node', '--coordinator', url, '--name', 'hospital-bad', '--data', `csv:${bad},schema=${schemaFile}`, '--state-dir', join(dir, 'nodes')]);
    scope.children.push(child);
    let stderr = '';
    child.stderr!.on('data', (d: Buffer) => (stderr += d.toString()));
    const code = await new Promise<number | null>((resolve) => child.once('exit', resolve));
    assert.notEqual(code, 0);
    assert.match(stderr, /3 problems/);
    assert.match(stderr, /bad\.csv row 1 \(line 2\), column "sex": "X" is not one of the agreed values/);
    assert.match(stderr, /bad\.csv row 2 \(line 3\), column "age": expected a number, found "abc"/);
    assert.match(stderr, /row 2 \(line 3\), column "outcome": "medium" is not one of the agreed values \[value "medium"\]; expected one of low, high/);
    assert.ok(!(await storage.listMembers()).some((m) => m.name === 'hospital-bad'));
  });
});
