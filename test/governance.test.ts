// Governance over real HTTP: every member request is signed, and unsigned, impostor,
// replayed, stale and tampered requests are refused with the specific reason, recorded in
// the audit log (rate-limited) and credited to nobody; a revoked member leaves the round it
// was in; invitations are single-use, expiring and bound to a name; API tokens carry only
// their scopes; and the signed audit log verifies, with each round's model hash in it.

import assert from 'node:assert/strict';
import { afterEach, describe, it } from 'node:test';
import { verifyChain, type AuditEntry } from '../src/governance/audit.js';
import { canonicalJson } from '../src/governance/canonical.js';
import { sha256Hex } from '../src/governance/digest.js';
import { generateIdentity, type Identity } from '../src/governance/identity.js';
import { signRequest } from '../src/governance/signed-request.js';
import { CoordinatorClient } from '../src/node/client.js';
import { ConcordError, ErrorCode } from '../src/protocol/errors.js';
import { RunConfigSchema, type TaskHeader } from '../src/protocol/messages.js';
import { OPERATOR, addMember, plus, startHarness, startRun, waitForRun, type Harness } from './support/harness.js';

let h: Harness | undefined;
afterEach(async () => {
  await h?.close();
  h = undefined;
});

const dataset = { name: 'synthetic', numExamples: 10, numHoldout: 10, inputShape: [2], classes: 2 };

interface ErrorBody {
  error: { code: string; message: string; details: Record<string, unknown> };
}

/** Sends a member request signed by `identity` under `memberId` (or with the given headers). */
async function send(path: string, init: { method?: string; body?: string; headers?: Record<string, string>; identity?: Identity; memberId?: string; now?: number } = {}) {
  const method = init.method ?? (init.body === undefined ? 'GET' : 'POST');
  const signed = init.identity ? signRequest(init.identity, { method, path, memberId: init.memberId!, ...(init.body !== undefined ? { body: init.body } : {}), ...(init.now ? { now: init.now } : {}) }) : {};
  const headers = { ...signed, ...(init.body !== undefined ? { 'content-type': 'application/json' } : {}), ...init.headers };
  const res = await fetch(h!.url + path, { method, headers, ...(init.body !== undefined ? { body: init.body } : {}) });
  return { status: res.status, headers, body: (await res.json().catch(() => ({}))) as ErrorBody & Record<string, unknown> };
}

async function api<T>(path: string, token = OPERATOR, init: { method?: string; body?: unknown } = {}): Promise<{ status: number; body: T & ErrorBody }> {
  const res = await fetch(h!.url + path, {
    method: init.method ?? (init.body === undefined ? 'GET' : 'POST'),
    headers: { authorization: `Bearer ${token}`, ...(init.body !== undefined ? { 'content-type': 'application/json' } : {}) },
    ...(init.body !== undefined ? { body: JSON.stringify(init.body) } : {}),
  });
  return { status: res.status, body: (await res.json()) as T & ErrorBody };
}

async function auditLog(): Promise<AuditEntry[]> {
  const { body } = await api<{ entries: AuditEntry[] }>('/v1/audit');
  return body.entries;
}

function refusal(status: number, code: ErrorCode, reason: string) {
  return (r: { status: number; body: ErrorBody }): void => {
    assert.equal(r.status, status, JSON.stringify(r.body));
    assert.equal(r.body.error.code, code);
    assert.equal(r.body.error.details.reason, reason, r.body.error.message);
  };
}

describe('signed member requests', () => {
  it('refuses unsigned, impostor, replayed, stale and tampered requests, and records the refusals rate-limited', async () => {
    h = await startHarness();
    const member = new CoordinatorClient(h.url);
    const { memberId } = await member.enroll('hospital-a', dataset);
    const mallory = generateIdentity();

    refusal(401, ErrorCode.UNAUTHENTICATED, 'unsigned')(await send('/v1/tasks/next'));
    // Signed with another key under hospital-a's id.
    const impostor = await send('/v1/members/heartbeat', { body: '{}', identity: mallory, memberId });
    refusal(401, ErrorCode.UNAUTHENTICATED, 'bad-signature')(impostor);
    assert.match(impostor.body.error.message, /does not verify with the key enrolled for member/);
    // A genuine request works once; the very same bytes again are a replay.
    const genuine = await send('/v1/members/heartbeat', { body: '{}', identity: member.identity, memberId });
    assert.equal(genuine.status, 200);
    refusal(401, ErrorCode.UNAUTHENTICATED, 'replayed')(await send('/v1/members/heartbeat', { body: '{}', headers: genuine.headers }));
    // Signed two minutes ago: outside the 60 s window.
    const stale = await send('/v1/members/heartbeat', { body: '{}', identity: member.identity, memberId, now: Date.now() - 120_000 });
    refusal(401, ErrorCode.UNAUTHENTICATED, 'expired')(stale);
    assert.match(stale.body.error.message, /requests older than 60 s are refused/);
    // The signature covers the body: a changed body no longer verifies.
    const signedHeaders = signRequest(member.identity, { method: 'POST', path: '/v1/tasks/t1/decline', body: '{"reason":"busy"}', memberId });
    refusal(401, ErrorCode.UNAUTHENTICATED, 'bad-signature')(await send('/v1/tasks/t1/decline', { body: '{"reason":"other"}', headers: signedHeaders }));
    // …and the path.
    refusal(401, ErrorCode.UNAUTHENTICATED, 'bad-signature')(await send('/v1/tasks/t2/decline', { body: '{"reason":"busy"}', headers: signedHeaders }));
    // An id nobody enrolled.
    refusal(401, ErrorCode.UNAUTHENTICATED, 'unknown-member')(await send('/v1/members/heartbeat', { body: '{}', identity: mallory, memberId: 'mem_nobody' }));

    // Five refusals concerned hospital-a, two nobody known: one entry each per minute.
    const refused = (await auditLog()).filter((e) => e.kind === 'request.refused');
    assert.deepEqual(
      refused.map((e) => [e.actor, e.subject, (e.data as { reason: string }).reason]),
      [
        ['unknown', 'GET /v1/tasks/next', 'unsigned'],
        [memberId, 'POST /v1/members/heartbeat', 'bad-signature'],
      ],
    );
  });

  it('credits nothing to an impostor, and a member revoked mid-round leaves the round', async () => {
    h = await startHarness();
    addMember(h, 'honest-1', 10, plus(1));
    addMember(h, 'honest-2', 10, plus(1));
    let delivered: (task: TaskHeader) => void = () => undefined;
    const taskSeen = new Promise<TaskHeader>((resolve) => (delivered = resolve));
    let release: () => void = () => undefined;
    const gate = new Promise<void>((resolve) => (release = resolve));
    const revoked = addMember(h, 'revoked', 10, async (g, task) => {
      delivered(task);
      await gate;
      return plus(1000)(g);
    });
    const runId = await startRun(h, { rounds: 1, minAvailableMembers: 3, minTrainMembers: 2, roundDeadlineSeconds: 20, fractionEvaluate: 0, minEvaluateMembers: 0 });
    const task = await taskSeen;
    const victimId = revoked.client.credentials!.memberId;

    // Someone else answers the revoked member's task under its id: refused, not counted.
    const forged = new CoordinatorClient(h.url, { identity: generateIdentity(), credentials: { memberId: victimId } });
    await assert.rejects(forged.submitResult({ taskId: task.taskId, runId, round: 1, kind: 'train', numExamples: 10, metrics: {} }), (e: unknown) => {
      assert.ok(e instanceof ConcordError);
      assert.equal(e.code, ErrorCode.UNAUTHENTICATED);
      assert.equal(e.details.reason, 'bad-signature');
      return true;
    });

    const res = await api<{ memberId: string; revoked: boolean }>('/v1/members/revoked/revoke', OPERATOR, { method: 'POST' });
    assert.deepEqual(res.body, { memberId: victimId, name: 'revoked', revoked: true });
    release();
    assert.equal(await waitForRun(h, runId), 'completed');
    const [round] = await h.storage.listRounds(runId);
    assert.equal(round!.participants.length, 2);
    assert.ok(!round!.participants.includes(victimId));
    assert.deepEqual(round!.failures, [{ memberId: victimId, reason: 'member was revoked by the operator' }]);
    // Only the honest +1 updates were averaged.
    for (const v of (await h.storage.getCheckpoint(runId, 1))!.parameters.data) assert.equal(v, 1);
    // Its late result was refused as FORBIDDEN, and so is everything it sends from now on.
    for (let waited = 0; revoked.rejected.length === 0 && waited < 5000; waited += 10) await new Promise((r) => setTimeout(r, 10));
    assert.equal(revoked.rejected[0]?.code, ErrorCode.FORBIDDEN);
    assert.equal(revoked.rejected[0]?.details.reason, 'revoked');
    assert.ok(!h.coordinator.board.available().some((m) => m.memberId === victimId));
    await assert.rejects(revoked.client.heartbeat(), (e: unknown) => e instanceof ConcordError && e.code === ErrorCode.FORBIDDEN);
    // Re-enrolling does not undo the revocation.
    await assert.rejects(revoked.client.enroll('revoked', dataset), (e: unknown) => e instanceof ConcordError && e.code === ErrorCode.FORBIDDEN);

    const entries = await auditLog();
    const kinds = entries.map((e) => `${e.kind}:${e.subject === victimId || e.actor === victimId ? 'victim' : ''}`);
    assert.ok(kinds.includes('request.refused:victim'), kinds.join(' '));
    assert.ok(kinds.includes('member.revoked:victim'));
    const aggregated = entries.find((e) => e.kind === 'round.aggregated')!;
    assert.deepEqual((aggregated.data as { participants: string[] }).participants.sort(), [...round!.participants].sort());
  });
});

describe('invitations', () => {
  it('are required without open enrollment, bound to a name, single-use and expiring', async () => {
    h = await startHarness({ openEnrollment: false });
    const enroll = (name: string, invitation?: string) => new CoordinatorClient(h!.url, invitation ? { invitation } : {}).enroll(name, dataset);
    const rejects = (p: Promise<unknown>, code: ErrorCode, reason: string) =>
      assert.rejects(p, (e: unknown) => {
        assert.ok(e instanceof ConcordError, String(e));
        assert.equal(e.code, code, e.message);
        assert.equal(e.details.reason, reason, e.message);
        return true;
      });

    await rejects(enroll('hospital-a'), ErrorCode.UNAUTHENTICATED, 'invitation-required');
    const named = (await api<{ code: string; invitationId: string; expiresAt: number }>('/v1/invitations', OPERATOR, { body: { name: 'hospital-a' } })).body;
    assert.match(named.code, /^inv_/);
    await rejects(enroll('hospital-b', named.code), ErrorCode.FORBIDDEN, 'name-mismatch');
    const first = new CoordinatorClient(h.url, { invitation: named.code });
    const { memberId } = await first.enroll('hospital-a', dataset);
    // Re-enrolling the same name with its key needs no invitation; another key gets CONFLICT.
    assert.deepEqual(await new CoordinatorClient(h.url, { identity: first.identity }).enroll('hospital-a', dataset), { memberId });
    await rejects(enroll('hospital-a'), ErrorCode.CONFLICT, 'name-taken');

    // Two nodes race for one unbound code: exactly one gets in.
    const shared = (await api<{ code: string }>('/v1/invitations', OPERATOR, { body: {} })).body.code;
    const raced = await Promise.allSettled([enroll('lab-1', shared), enroll('lab-2', shared)]);
    assert.equal(raced.filter((r) => r.status === 'fulfilled').length, 1);
    const loser = raced.find((r) => r.status === 'rejected') as PromiseRejectedResult;
    assert.equal((loser.reason as ConcordError).code, ErrorCode.CONFLICT);
    await rejects(enroll('lab-3', shared), ErrorCode.CONFLICT, 'used');

    const brief = (await api<{ code: string }>('/v1/invitations', OPERATOR, { body: { expiresInMs: 1 } })).body.code;
    await new Promise((r) => setTimeout(r, 5));
    await rejects(enroll('late', brief), ErrorCode.UNAUTHENTICATED, 'expired');
    await rejects(enroll('guess', 'inv_not-a-real-code'), ErrorCode.UNAUTHENTICATED, 'unknown');

    // A researcher's invitation is traded for a token, never for a node's enrollment.
    const researcher = (await api<{ code: string }>('/v1/invitations', OPERATOR, { body: { role: 'researcher' } })).body.code;
    await rejects(enroll('sneaky', researcher), ErrorCode.FORBIDDEN, 'wrong-role');
    const redeemed = await fetch(`${h.url}/v1/invitations/redeem`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ invitation: researcher, name: 'Dr. Alice' }) });
    const token = (await redeemed.json()) as { token: string; role: string };
    assert.equal(token.role, 'researcher');
    assert.equal((await api('/v1/runs', token.token)).status, 200);

    const members = (await h.storage.listMembers()).map((m) => m.name).sort();
    assert.equal(members.length, 2);
    assert.equal(members[0], 'hospital-a');
    assert.match(members[1]!, /^lab-[12]$/);
    const entries = await auditLog();
    const enrolled = entries.filter((e) => e.kind === 'member.enrolled').map((e) => e.data as { via: string; invitationId: string });
    assert.deepEqual(enrolled.map((d) => d.via), ['invitation', 'invitation']);
    assert.equal(enrolled[0]!.invitationId, named.invitationId);
    assert.equal(entries.filter((e) => e.kind === 'invitation.created').length, 4);
    assert.equal(entries.filter((e) => e.kind === 'invitation.redeemed').length, 3);
    assert.equal(entries.filter((e) => e.kind === 'member.re-enrolled').length, 1);
  });
});

describe('scoped API tokens', () => {
  it('lets each role do what its scopes allow and names the missing scope otherwise', async () => {
    h = await startHarness();
    const create = async (body: Record<string, unknown>) => api<{ token: string; tokenId: string; scopes: string[] }>('/v1/tokens', OPERATOR, { body });
    const auditor = (await create({ role: 'auditor', label: 'ethics board' })).body;
    const researcher = (await create({ role: 'researcher' })).body;
    assert.deepEqual(auditor.scopes, ['agreement:read', 'audit:read', 'budgets:read', 'members:read', 'plans:read', 'runs:read']);

    const config = RunConfigSchema.parse({ model: { family: 'mlp', inputShape: [2], hidden: [], classes: 2 }, rounds: 1, minAvailableMembers: 2, minTrainMembers: 2 });
    const denied = await api('/v1/runs', auditor.token, { body: config });
    assert.equal(denied.status, 403);
    assert.equal(denied.body.error.code, ErrorCode.FORBIDDEN);
    assert.equal(denied.body.error.details.expected, 'runs:write');
    assert.match(denied.body.error.message, /this auditor token lacks scope runs:write/);
    const started = await api<{ runId: string }>('/v1/runs', researcher.token, { body: config });
    assert.equal(started.status, 200);

    assert.equal((await api('/v1/audit', auditor.token)).status, 200);
    assert.equal((await api('/v1/privacy', auditor.token)).status, 200);
    assert.equal((await api('/v1/members', auditor.token)).status, 200);
    const noAudit = await api('/v1/audit', researcher.token);
    assert.equal(noAudit.status, 403);
    assert.equal(noAudit.body.error.details.expected, 'audit:read');
    // Only the operator hands out tokens, and never beyond a role's scopes.
    assert.equal((await api('/v1/tokens', researcher.token, { body: { role: 'operator' } })).body.error.details.expected, 'members:admin');
    const tooWide = await create({ role: 'researcher', scopes: ['runs:read', 'audit:read'] });
    assert.equal(tooWide.status, 400);
    assert.match(tooWide.body.error.message, /a researcher token may not carry audit:read/);
    // A narrowed token has only what it was given.
    const readOnly = (await create({ role: 'researcher', scopes: ['runs:read'] })).body;
    assert.equal((await api('/v1/runs', readOnly.token)).status, 200);
    assert.equal((await api('/v1/runs', readOnly.token, { body: config })).status, 403);

    // Expired, revoked and unknown tokens are not credentials at all.
    const brief = (await create({ role: 'auditor', expiresInMs: 1 })).body;
    await new Promise((r) => setTimeout(r, 5));
    assert.equal((await api('/v1/runs', brief.token)).body.error.details.reason, 'expired');
    assert.equal((await api(`/v1/tokens/${auditor.tokenId}/revoke`, OPERATOR, { method: 'POST' })).status, 200);
    assert.equal((await api('/v1/audit', auditor.token)).body.error.details.reason, 'revoked');
    assert.equal((await api('/v1/runs', 'cct_AAAAAAAAAAAA_' + 'A'.repeat(43))).status, 401);

    const entries = await auditLog();
    const runStarted = entries.find((e) => e.kind === 'run.started')!;
    assert.equal(runStarted.actor, `token:${researcher.tokenId}`);
    assert.equal((runStarted.data as { configSha256: string }).configSha256, sha256Hex(canonicalJson(config)));
    assert.equal(entries.filter((e) => e.kind === 'token.created').length, 4);
    assert.ok(entries.some((e) => e.kind === 'token.revoked' && e.subject === auditor.tokenId));
    const refused = entries.filter((e) => e.kind === 'request.refused').map((e) => e.actor);
    assert.deepEqual(refused, [`token:${auditor.tokenId}`, `token:${researcher.tokenId}`, `token:${readOnly.tokenId}`]);
  });
});

describe('the audit trail', () => {
  it('verifies with the coordinator key and holds each round with the hash of its model', async () => {
    h = await startHarness();
    addMember(h, 'a', 1, plus(1));
    addMember(h, 'b', 3, plus(3));
    const runId = await startRun(h, { rounds: 2 });
    assert.equal(await waitForRun(h, runId), 'completed');

    const identity = (await (await fetch(`${h.url}/v1/identity`)).json()) as { publicKey: string; fingerprint: string; algorithm: string };
    assert.equal(identity.publicKey, h.coordinator.publicKey);
    assert.equal(identity.algorithm, 'Ed25519');
    const entries = await auditLog();
    assert.deepEqual(verifyChain(entries, identity.publicKey), { ok: true, count: entries.length, head: { seq: entries.length, hash: entries.at(-1)!.hash } });
    // Members enroll while the run is being started: those three come in either order.
    assert.deepEqual(entries.slice(0, 3).map((e) => e.kind).sort(), ['member.enrolled', 'member.enrolled', 'run.started']);
    assert.deepEqual(entries.slice(3).map((e) => e.kind), ['round.aggregated', 'round.aggregated', 'run.completed']);
    for (const round of [1, 2]) {
      const entry = entries.find((e) => e.kind === 'round.aggregated' && (e.data as { round: number }).round === round)!;
      const res: Response = await fetch(`${h.url}/v1/runs/${runId}/model?round=${round}`, { headers: { authorization: `Bearer ${OPERATOR}` } });
      const model: Buffer = Buffer.from(await res.arrayBuffer());
      assert.equal((entry.data as { modelSha256: string }).modelSha256, sha256Hex(model));
      assert.equal((entry.data as { participants: string[] }).participants.length, 2);
    }
    // A key that is not the coordinator's does not verify the log.
    const other = verifyChain(entries, generateIdentity().publicKey);
    assert.equal(other.ok, false);
    assert.deepEqual(other.ok ? null : [other.firstBad, other.problem], [1, 'bad-signature']);
  });
});
