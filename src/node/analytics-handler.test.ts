import assert from 'node:assert/strict';
import { readFile, writeFile } from 'node:fs/promises';
import { test } from 'node:test';
import { ANALYTICS_PLAIN_STAGE } from '../analytics/wire.js';
import { hospitalSchema, writeHospitals } from '../data/hospitals.js';
import { schemaHash } from '../data/schema/schema.js';
import { PrivacyBudgetLedger } from '../privacy/dp/budget.js';
import { nodePrimitives } from '../privacy/secagg/primitives-node.js';
import { PROTOCOL_VERSION, type AnalyticsTaskHeader } from '../protocol/messages.js';
import { withAnalytics } from './analytics-handler.js';
import { temporaryDirs } from '../core/temp-dirs.fixture.js';

const tempDir = temporaryDirs();

const refuse = async (): Promise<never> => {
  throw new Error('analytics only');
};

const task = (query: Record<string, unknown>, extra: Record<string, unknown> = {}): AnalyticsTaskHeader => ({
  protocolVersion: PROTOCOL_VERSION,
  taskId: 't',
  kind: 'analytics',
  stage: ANALYTICS_PLAIN_STAGE,
  payload: { query: { secureAggregation: false, ...query }, schemaHash: schemaHash(hospitalSchema()), minCount: 10, limbBits: 28, ...extra },
  runId: 'qry_1',
  round: 1,
  deadline: 0,
});

test('a member checks every query against its own rules, its own budget and its freshly validated data', async () => {
  const { files } = await writeHospitals({ out: await tempDir('concord-member-analytics-'), sites: 2 });
  const file = files[1]!;
  const ledger = new PrivacyBudgetLedger();
  const handler = withAnalytics(
    { train: refuse, evaluate: refuse },
    { data: file.spec, memberId: () => 'm1', primitives: nodePrimitives, allowedQueries: ['mean', 'histogram', 'count'], privacy: { budget: { epsilon: 2, delta: 1e-5 }, datasetId: 'b/d', store: { load: async () => ledger, save: async () => undefined } } },
  );
  const dp = { type: 'mean', field: 'glucose', privacy: { epsilon: 1.5, delta: 1e-5 } };
  const answered = await handler.analytics!(task(dp));
  assert.ok(answered.parameters && answered.parameters.data.length > 0);
  assert.ok(Math.abs(ledger.spent('b/d').epsilon - 1.5) < 0.01, `own ledger: ${ledger.spent('b/d').epsilon}`);
  await assert.rejects(handler.analytics!(task(dp)), /privacy budget of b\/d: this query would spend ε=2\.\d+ > budget 2/);
  await assert.rejects(handler.analytics!(task({ type: 'count' })), /only under differential privacy/);
  await assert.rejects(handler.analytics!(task({ type: 'variance', field: 'age', privacy: { epsilon: 0.1, delta: 1e-5 } })), /does not answer variance queries/);
  await assert.rejects(handler.analytics!(task(dp, { minCount: 2 })), /minimum count 2 is below this member's 5/);
  await assert.rejects(handler.analytics!(task(dp, { schemaHash: '0'.repeat(64) })), /compiled against another data schema/);

  // The file is read again before every query: a broken file refuses the next one, listing the problem.
  const text = await readFile(file.path, 'utf8');
  await writeFile(file.path, text.replace(/\n(low|high),/, '\nunknown,'));
  const fresh = withAnalytics({ train: refuse, evaluate: refuse }, { data: file.spec, memberId: () => 'm1', primitives: nodePrimitives });
  await assert.rejects(fresh.analytics!(task({ type: 'count' })), /does not match data schema cardio-risk v1 \(1 problem\):\n.*row 1 \(line 2\), column "outcome": "unknown" is not one of the agreed values/);
});

test("a member started with its data owner's key answers only queries that owner signed, and checks the signature itself", async () => {
  const { approveQuery } = await import('../analytics/approval.js');
  const { generateIdentity } = await import('../governance/identity.js');
  const { parseQuery } = await import('../analytics/query.js');
  const { files } = await writeHospitals({ out: await tempDir('concord-member-approval-'), sites: 1 });
  const owner = generateIdentity();
  const stranger = generateIdentity();
  const handler = withAnalytics({ train: refuse, evaluate: refuse }, { data: files[0]!.spec, memberId: () => 'm1', primitives: nodePrimitives, owner: { key: owner.publicKey, member: 'hospital-0' } });
  const raw = { type: 'mean', field: 'glucose', secureAggregation: false };
  const query = parseQuery(raw);
  await assert.rejects(handler.analytics!(task(raw)), /carries no approval from this node's data owner/);
  // Signed by someone else (a coordinator cannot forge the owner's consent).
  await assert.rejects(handler.analytics!(task(raw, { approvals: [approveQuery(query, { member: 'hospital-0', identity: stranger })] })), /not signed by this node's data owner/);
  // Approved, but another query: a changed query needs a new approval.
  const other = approveQuery(parseQuery({ ...raw, field: 'age' }), { member: 'hospital-0', identity: owner });
  await assert.rejects(handler.analytics!(task(raw, { approvals: [other] })), /is for another query/);
  // Another member's approval does not count for this one.
  await assert.rejects(handler.analytics!(task(raw, { approvals: [approveQuery(query, { member: 'hospital-1', identity: owner })] })), /carries no approval/);
  const approval = approveQuery(query, { member: 'hospital-0', identity: owner }, { now: 1000 });
  const answered = await handler.analytics!(task(raw, { approvals: [approval] }));
  assert.ok(answered.parameters && answered.parameters.data.length > 0);
  // The owner's later rejection wins.
  const rejection = approveQuery(query, { member: 'hospital-0', identity: owner }, { decision: 'reject', reason: 'not this quarter', now: 2000 });
  await assert.rejects(handler.analytics!(task(raw, { approvals: [approval, rejection] })), /rejected query .*: not this quarter/);
});
