// Under a cooperation agreement a federated query reads members' data only with their data
// owners' signed approval, like a training plan: three hospital nodes, each started with its
// owner's key; the owners sign the query offline (`concord analytics approve`), the approvals
// travel with it (`concord analytics run --approval`), the coordinator tallies them against
// the agreement and every node checks its own owner's signature before computing anything.

import assert from 'node:assert/strict';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { AnalyticsResult } from '../src/analytics/release.js';
import { createCoordinator, type Coordinator } from '../src/coordinator/server.js';
import { validateAgreement } from '../src/governance/agreement.js';
import { generateIdentity, saveIdentity } from '../src/governance/identity.js';
import { hospitalSchema, writeHospitals } from '../src/data/hospitals.js';
import { makeParameters } from '../src/protocol/tensors.js';
import { SqliteStorage } from '../src/storage/sqlite.js';
import { concord, concordRun, lastJson, processScope, until } from './support/processes.js';

const scope = processScope();
const OPERATOR = 'analytics-approval-token';
const SITES = ['hospital-0', 'hospital-1', 'hospital-2'];
let coordinator: Coordinator;
let storage: SqliteStorage;
let dir: string;
let conn: string[];
const owners = Object.fromEntries(SITES.map((s) => [s, generateIdentity()]));

before(async () => {
  dir = await scope.tempDir('concord-analytics-approvals-');
  const { files } = await writeHospitals({ out: join(dir, 'data'), sites: 3 });
  for (const site of SITES) await saveIdentity(join(dir, `${site}.owner.json`), owners[site]!);
  const agreement = validateAgreement({
    version: 1,
    consortium: 'cardio-study',
    members: SITES.map((name) => ({ name, jurisdiction: 'DE', publicKey: owners[name]!.publicKey, datasets: [{ id: `${name}-records`, description: 'patient records' }] })),
    purposes: ['cardiovascular-risk'],
    allowedStrategies: ['fedavg'],
    allowedModelFamilies: ['mlp'],
    minContributors: 2,
    secureAggregation: 'optional',
    differentialPrivacy: { required: false },
    residency: Object.fromEntries(SITES.map((s) => [s, 'aggregates'])),
    // Queries follow the rule for plans: every owner of data the query reads.
    approvals: { plansNeed: 'all-data-owners' },
    amendments: { signaturesRequired: 'all' },
  });
  storage = new SqliteStorage(join(dir, 'coordinator.sqlite'));
  await storage.migrate();
  coordinator = await createCoordinator({
    storage,
    operatorToken: OPERATOR,
    agreement,
    initialParameters: async () => makeParameters([{ name: 'w', shape: [1] }]),
    maxPollMs: 2000,
    board: { onlineWindowMs: 10_000, heartbeatTimeoutMs: 10_000 },
    analytics: { schema: hospitalSchema(), timeoutMs: 60_000 },
  });
  const url = await coordinator.listen(0, '127.0.0.1');
  conn = ['--coordinator', url, '--token', OPERATOR, '--json'];
  files.forEach((f, i) => scope.children.push(concord(['node', '--coordinator', url, '--name', SITES[i]!, '--data', f.spec, '--state-dir', join(dir, 'nodes'), '--owner-key', join(dir, `${SITES[i]}.owner.json`)])));
  await until(async () => coordinator.board.available().length === 3 || undefined, 90_000, 'three hospital nodes online');
});

after(async () => {
  await coordinator?.close();
  await storage?.close();
});

async function approve(site: string, queryFile: string, extra: string[] = []): Promise<string> {
  const out = join(dir, `${site}-${Math.random().toString(36).slice(2)}.approval.json`);
  const signed = await concordRun(['analytics', 'approve', '--query', queryFile, '--member', site, '--identity', join(dir, `${site}.owner.json`), '--out', out, '--json', ...extra]);
  assert.equal(signed.code, 0, signed.stdout + signed.stderr);
  return out;
}

describe('analytics under an agreement', () => {
  it('refuses a query until every owner signed it, then releases it from all three', { timeout: 180_000 }, async () => {
    const queryFile = join(dir, 'mean-glucose.yaml');
    await writeFile(queryFile, 'type: mean\nfield: glucose\n');

    const unsigned = await concordRun(['analytics', 'run', '--query', queryFile, ...conn]);
    assert.equal(unsigned.code, 77, unsigned.stdout + unsigned.stderr); // EX_NOPERM
    const refusal = lastJson(unsigned.stdout).error as { message: string; details: { waitingFor: string[]; queryHash: string } };
    assert.match(refusal.message, /only with the approval of the owners of every member holding the data \(analytics\.queriesNeed\): query [0-9a-f]{12}… is pending, waiting for hospital-0, hospital-1, hospital-2/);
    assert.deepEqual(refusal.details.waitingFor, SITES);

    const approvals = [await approve('hospital-0', queryFile), await approve('hospital-1', queryFile)];
    // hospital-2's owner signs with hospital-0's key: ignored, so still waiting for hospital-2.
    const forged = join(dir, 'forged.approval.json');
    const byWrongKey = await concordRun(['analytics', 'approve', '--query', queryFile, '--member', 'hospital-2', '--identity', join(dir, 'hospital-0.owner.json'), '--out', forged, '--json']);
    assert.equal(byWrongKey.code, 0);
    const two = await concordRun(['analytics', 'run', '--query', queryFile, '--approval', ...approvals, forged, ...conn]);
    assert.equal(two.code, 77, two.stdout + two.stderr);
    const pending = lastJson(two.stdout).error as { details: { waitingFor: string[]; approvedBy: string[]; ignored: { member: string; reason: string }[] } };
    assert.deepEqual(pending.details.waitingFor, ['hospital-2']);
    assert.deepEqual(pending.details.approvedBy, ['hospital-0', 'hospital-1']);
    assert.deepEqual(pending.details.ignored, [{ member: 'hospital-2', reason: 'signature does not verify with the key in the agreement' }]);

    approvals.push(await approve('hospital-2', queryFile));
    const run = await concordRun(['analytics', 'run', '--query', queryFile, '--approval', ...approvals, ...conn]);
    assert.equal(run.code, 0, run.stdout + run.stderr);
    const record = lastJson(run.stdout) as { status: string; queryId: string; result: AnalyticsResult };
    assert.equal(record.status, 'completed');
    assert.equal(record.result.contributors, 3);
    const entries = await storage.listAudit();
    const submitted = entries.filter((e) => e.kind === 'analytics.submitted' && e.subject === record.queryId);
    assert.equal(submitted.length, 1);
    assert.deepEqual((submitted[0]!.data as { approvedBy: string[] }).approvedBy, SITES);
  });

  it('an approval of another query does not count: changing the query after approval needs new signatures', { timeout: 60_000 }, async () => {
    const approvedFile = join(dir, 'count.yaml');
    await writeFile(approvedFile, 'type: count\n');
    const approvals = await Promise.all(SITES.map((s) => approve(s, approvedFile)));
    const changedFile = join(dir, 'count-min.yaml');
    await writeFile(changedFile, 'type: count\nminCount: 50\n');
    const run = await concordRun(['analytics', 'run', '--query', changedFile, '--approval', ...approvals, ...conn]);
    assert.equal(run.code, 77, run.stdout + run.stderr);
    const { details } = lastJson(run.stdout).error as { details: { ignored: { reason: string }[] } };
    assert.equal(details.ignored.length, 3);
    assert.match(details.ignored[0]!.reason, /approval is for another query/);
  });
});
