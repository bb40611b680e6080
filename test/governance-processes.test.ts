// Governance across real processes: a coordinator serving HTTPS with a throwaway
// certificate and enrollment by invitation only; the CLI and a member node that pin the
// certificate (and clients that do not, refused by TLS); an invited node joins and is
// revoked with the CLI; then the audit log is verified online and offline, and every kind
// of tampering with the SQLite file — an edited, re-hashed, deleted or reordered entry —
// is detected by `concord audit verify`, which names the first bad entry.

import assert from 'node:assert/strict';
import { readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { it } from 'node:test';
import { auditEntryHash } from '../src/governance/audit.js';
import { CoordinatorClient } from '../src/node/client.js';
import { coordinatorFetch, readCa } from '../src/node/coordinator-fetch.js';
import { ConcordError, ErrorCode } from '../src/protocol/errors.js';
import { openDatabase } from '../src/storage/sqlite-driver.js';
import { concord, concordRun, exited, freePort, until, waitForEvent, lastJson, processScope } from './support/processes.js';
import { selfSignedCertificate } from './support/tls.js';

const TOKEN = 'op-governance-test';
const { children, tempDir } = processScope();

const json = lastJson;

it('serves pinned HTTPS, admits an invited node, revokes it, and detects every tampering with the audit log', { timeout: 180_000 }, async () => {
  const dir = await tempDir('concord-governance-');
  const server = selfSignedCertificate(dir, 'coordinator');
  const stranger = selfSignedCertificate(dir, 'stranger');
  const db = join(dir, 'coordinator.sqlite');
  const port = await freePort();

  const coordinator = concord(['coordinator', '--port', String(port), '--db', db, '--operator-token', TOKEN, '--tls-cert', server.certFile, '--tls-key', server.keyFile, '--no-open-enrollment', '--json']);
  children.push(coordinator);
  const listening = await waitForEvent(coordinator, 'listening');
  const url = listening.url as string;
  assert.equal(url, `https://127.0.0.1:${port}`);
  assert.equal(listening.openEnrollment, false);
  const conn = ['--coordinator', url, '--token', TOKEN, '--json'];

  // Only a client that pins the coordinator's certificate gets through.
  for (const ca of [[], ['--ca', stranger.certFile]]) {
    const refused = await concordRun(['invite', '--name', 'org-0', ...conn, ...ca]);
    assert.equal(refused.code, 69); // EX_UNAVAILABLE
    const error = json(refused.stdout).error as { code: string; message: string; details: { reason: string } };
    assert.equal(error.code, ErrorCode.UNAVAILABLE);
    assert.equal(error.details.reason, 'tls');
    assert.match(error.message, /presented a certificate this client does not trust/);
  }
  const invited = await concordRun(['invite', '--name', 'org-0', '--expires', '1h', ...conn, '--ca', server.certFile]);
  assert.equal(invited.code, 0, invited.stderr);
  const invitation = json(invited.stdout) as { code: string; role: string; memberName: string; expiresAt: number };
  assert.equal(invitation.role, 'member');
  assert.equal(invitation.memberName, 'org-0');
  assert.ok(invitation.expiresAt > Date.now() + 59 * 60_000 && invitation.expiresAt <= Date.now() + 3600_000);

  // A node without the certificate cannot even reach the enrollment.
  await assert.rejects(new CoordinatorClient(url, { invitation: invitation.code }).enroll('org-0', { name: 'd', numExamples: 1, numHoldout: 0, inputShape: [784], classes: 10 }), (e: unknown) => {
    assert.ok(e instanceof ConcordError);
    assert.equal(e.details.reason, 'tls');
    return true;
  });

  // The real node pins the certificate and enrolls with the invitation.
  const nodes = join(dir, 'nodes');
  const node = concord(['node', '--coordinator', url, '--name', 'org-0', '--data', 'mnist:member=0,members=20,partition=iid,seed=3,test=100', '--state-dir', nodes, '--json'], {
    env: { CONCORD_INVITATION: invitation.code, CONCORD_CA: server.certFile },
  });
  children.push(node);
  let nodeLog = '';
  node.stderr!.on('data', (d: Buffer) => (nodeLog += d.toString()));
  node.stdout!.on('data', (d: Buffer) => (nodeLog += d.toString()));
  const pinned = coordinatorFetch(readCa(server.certFile));
  const members = async () =>
    ((await (await pinned(`${url}/v1/members`, { headers: { authorization: `Bearer ${TOKEN}` } })).json()) as { members: { name: string; online: boolean; publicKey: string }[] }).members;
  const enrolled = await until(async () => (await members()).find((m) => m.name === 'org-0' && m.online), 90_000, 'org-0 online');
  const identity = JSON.parse(await readFile(join(nodes, 'org-0.identity.json'), 'utf8')) as { publicKey: string };
  assert.equal(identity.publicKey, enrolled.publicKey);
  assert.equal((await stat(join(nodes, 'org-0.identity.json'))).mode & 0o777, 0o600);

  const revoked = await concordRun(['members', 'revoke', 'org-0', ...conn, '--ca', server.certFile]);
  assert.equal(revoked.code, 0, revoked.stderr);
  assert.equal(json(revoked.stdout).name, 'org-0');
  // Its next request is refused as FORBIDDEN, which stops the node with the reason.
  assert.equal(await exited(node), 77); // EX_NOPERM
  assert.match(nodeLog, /"code":"CONCORD_ERR_FORBIDDEN","message":"member \S+ has been revoked"/);

  const verified = await concordRun(['audit', 'verify', ...conn, '--ca', server.certFile]);
  assert.equal(verified.code, 0, verified.stdout + verified.stderr);
  const online = json(verified.stdout) as { ok: boolean; count: number; coordinatorKey: string };
  assert.equal(online.ok, true);
  assert.equal(online.coordinatorKey, listening.coordinatorKey);
  const exported = await concordRun(['audit', 'export', '--out', join(dir, 'audit.jsonl'), ...conn, '--ca', server.certFile]);
  assert.equal(exported.code, 0, exported.stderr);
  const lines = (await readFile(join(dir, 'audit.jsonl'), 'utf8')).trim().split('\n').map((l) => JSON.parse(l) as { seq: number; kind: string });
  assert.equal(lines.length, online.count);
  const kinds = lines.map((l) => l.kind);
  for (const kind of ['invitation.created', 'invitation.redeemed', 'member.enrolled', 'member.revoked', 'request.refused']) assert.ok(kinds.includes(kind), `${kind} in ${kinds.join(' ')}`);
  assert.ok(kinds.indexOf('member.revoked') < kinds.lastIndexOf('request.refused'), 'the refused request after the revocation is recorded');

  coordinator.kill('SIGTERM');
  await exited(coordinator);

  // Offline, from the database file and the key beside it.
  const offline = await concordRun(['audit', 'verify', '--db', db, '--json']);
  assert.equal(offline.code, 0, offline.stdout + offline.stderr);
  assert.deepEqual(json(offline.stdout), { ...online, coordinatorKey: listening.coordinatorKey });

  const copyWith = (name: string, tamper: (sql: ReturnType<typeof openDatabase>) => void): string => {
    const copy = join(dir, `${name}.sqlite`);
    const source = openDatabase(db, { busyTimeoutMs: 1000 });
    source.exec(`VACUUM INTO '${copy}'`);
    source.close();
    const target = openDatabase(copy, { busyTimeoutMs: 1000 });
    tamper(target);
    target.close();
    return copy;
  };
  const verifyBroken = async (copy: string, ...args: string[]) => {
    const result = await concordRun(['audit', 'verify', '--db', copy, '--json', ...args]);
    assert.equal(result.code, 1, `${copy}: ${result.stdout}${result.stderr}`);
    return json(result.stdout) as { ok: boolean; firstBad: number; problem: string; reason: string };
  };

  let bad = await verifyBroken(copyWith('edited', (sql) => sql.prepare("UPDATE audit_log SET subject = 'someone-else' WHERE seq = 2").run()));
  assert.deepEqual([bad.ok, bad.firstBad, bad.problem], [false, 2, 'edited']);
  // Edited and re-hashed: the hash fits again, but only the coordinator's key could sign it.
  bad = await verifyBroken(
    copyWith('rehashed', (sql) => {
      const row = sql.prepare('SELECT * FROM audit_log WHERE seq = 2').get() as { seq: number; at: number; kind: string; subject: string; data: string; prev_hash: string };
      const hash = auditEntryHash({ seq: row.seq, at: row.at, actor: 'operator', kind: row.kind, subject: row.subject, data: JSON.parse(row.data) as never, prevHash: row.prev_hash });
      sql.prepare("UPDATE audit_log SET actor = 'operator', hash = ? WHERE seq = 2").run(hash);
    }),
  );
  assert.deepEqual([bad.firstBad, bad.problem], [2, 'bad-signature']);
  bad = await verifyBroken(copyWith('deleted', (sql) => sql.prepare('DELETE FROM audit_log WHERE seq = 2').run()));
  assert.deepEqual([bad.firstBad, bad.problem], [2, 'deleted']);
  assert.match(bad.reason, /entry 2 is missing/);
  bad = await verifyBroken(
    copyWith('reordered', (sql) => {
      sql.prepare('UPDATE audit_log SET position = 1000 WHERE seq = 2').run();
      sql.prepare('UPDATE audit_log SET position = 2 WHERE seq = 3').run();
      sql.prepare('UPDATE audit_log SET position = 3 WHERE seq = 2').run();
    }),
  );
  assert.deepEqual([bad.firstBad, bad.problem], [2, 'reordered']);
  // Entries cut from the end leave a valid chain; they show against a head seen before.
  const newest = JSON.parse((await readFile(join(dir, 'audit.jsonl'), 'utf8')).trim().split('\n').at(-1)!) as { seq: number; hash: string };
  const truncated = copyWith('truncated', (sql) => sql.prepare('DELETE FROM audit_log WHERE seq = ?').run(newest.seq));
  assert.equal((await concordRun(['audit', 'verify', '--db', truncated, '--json'])).code, 0);
  bad = await verifyBroken(truncated, '--expect-head', `${newest.seq}:${newest.hash}`);
  assert.deepEqual([bad.firstBad, bad.problem], [newest.seq, 'truncated']);
});

it('has --help on the governance commands', async () => {
  for (const c of [['invite'], ['tokens'], ['tokens', 'create'], ['tokens', 'redeem'], ['members', 'revoke'], ['audit', 'verify'], ['audit', 'export']]) {
    const { code, stdout } = await concordRun([...c, '--help']);
    assert.equal(code, 0, `concord ${c.join(' ')} --help`);
    assert.match(stdout, /Usage: concord/);
  }
});
