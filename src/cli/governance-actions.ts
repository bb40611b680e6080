// What `concord invite`, `concord tokens …`, `concord members …` and `concord audit …` do
// (registered in governance-commands.ts). The audit log is verified against a running
// coordinator or, offline, straight from its database file.

import { readFile, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { toJsonLines, verifyChain, type AuditEntry, type ChainVerification } from '../governance/audit.js';
import { assertPublicKey, fingerprint } from '../governance/identity.js';
import type { ApiTokenRecord } from '../governance/roles.js';
import { ConcordError, ErrorCode } from '../protocol/errors.js';
import { assertDatabaseExists, parseStorageUrl } from '../storage/index.js';
import { SqliteStorage } from '../storage/sqlite.js';
import type { MemberRecord } from '../storage/storage.js';
import { operatorRequest, operatorToken } from './operator-api.js';
import { coordinatorUrl } from './options.js';
import type { Conn } from './run-commands.js';

interface AuditSource extends Conn {
  db?: string;
  publicKey?: string;
}

const print = (json: boolean | undefined, value: unknown, human: string): void => {
  process.stdout.write(json ? JSON.stringify(value) + '\n' : human + '\n');
};

export async function invite(opts: Conn & { name?: string; role: string; expires?: number }): Promise<void> {
  const body = { role: opts.role, ...(opts.name ? { name: opts.name } : {}), ...(opts.expires !== undefined ? { expiresInMs: opts.expires } : {}) };
  const created = await operatorRequest<{ code: string; invitationId: string; role: string; memberName: string | null; expiresAt: number }>(
    coordinatorUrl(opts.coordinator),
    operatorToken(opts.token),
    'POST',
    '/v1/invitations',
    body,
  );
  const how = created.role === 'member' ? `concord node --name ${created.memberName ?? 'NAME'} --invitation ${created.code} …` : `concord tokens redeem --invitation ${created.code} --name NAME`;
  print(opts.json, created, `invitation ${created.invitationId} (${created.role}${created.memberName ? ` ${created.memberName}` : ''}), valid until ${new Date(created.expiresAt).toISOString()}:\n${created.code}\nredeem with: ${how}`);
}

export async function tokensCreate(opts: Conn & { role: string; scopes?: string; expires?: number; label?: string }): Promise<void> {
  const body = {
    role: opts.role,
    ...(opts.scopes ? { scopes: opts.scopes.split(',').map((s) => s.trim()).filter(Boolean) } : {}),
    ...(opts.expires !== undefined ? { expiresInMs: opts.expires } : {}),
    ...(opts.label ? { label: opts.label } : {}),
  };
  const created = await operatorRequest<Omit<ApiTokenRecord, 'tokenHash'> & { token: string }>(coordinatorUrl(opts.coordinator), operatorToken(opts.token), 'POST', '/v1/tokens', body);
  print(opts.json, created, `${created.role} token ${created.tokenId} (${created.scopes.join(', ')})${created.expiresAt ? `, expires ${new Date(created.expiresAt).toISOString()}` : ''}:\n${created.token}`);
}

export async function tokensList(opts: Conn): Promise<void> {
  const { tokens: list } = await operatorRequest<{ tokens: Omit<ApiTokenRecord, 'tokenHash'>[] }>(coordinatorUrl(opts.coordinator), operatorToken(opts.token), 'GET', '/v1/tokens');
  print(opts.json, { tokens: list }, list.map((t) => `${t.tokenId}  ${t.role.padEnd(10)}  ${t.revokedAt ? 'REVOKED' : 'active '}  ${t.label ?? ''}  ${t.scopes.join(',')}`).join('\n') || 'no API tokens');
}

export async function tokensRevoke(tokenId: string, opts: Conn): Promise<void> {
  const revoked = await operatorRequest<Omit<ApiTokenRecord, 'tokenHash'>>(coordinatorUrl(opts.coordinator), operatorToken(opts.token), 'POST', `/v1/tokens/${encodeURIComponent(tokenId)}/revoke`);
  print(opts.json, revoked, `revoked token ${revoked.tokenId}`);
}

export async function tokensRedeem(opts: Conn & { invitation: string; name: string }): Promise<void> {
  const created = await operatorRequest<Omit<ApiTokenRecord, 'tokenHash'> & { token: string }>(coordinatorUrl(opts.coordinator), '-', 'POST', '/v1/invitations/redeem', {
    invitation: opts.invitation,
    name: opts.name,
  });
  print(opts.json, created, `${created.role} token ${created.tokenId}:\n${created.token}`);
}

export async function membersList(opts: Conn): Promise<void> {
  const { members: list } = await operatorRequest<{ members: (MemberRecord & { online: boolean })[] }>(coordinatorUrl(opts.coordinator), operatorToken(opts.token), 'GET', '/v1/members');
  print(
    opts.json,
    { members: list },
    list.map((m) => `${m.name.padEnd(16)} ${m.memberId}  key ${m.publicKey ? fingerprint(m.publicKey) : '(none: must enroll again)'}  ${m.revoked ? 'REVOKED' : m.online ? 'online' : 'offline'}`).join('\n') || 'no members',
  );
}

export async function membersRevoke(member: string, opts: Conn): Promise<void> {
  const revoked = await operatorRequest<{ memberId: string; name: string }>(coordinatorUrl(opts.coordinator), operatorToken(opts.token), 'POST', `/v1/members/${encodeURIComponent(member)}/revoke`);
  print(opts.json, revoked, `revoked ${revoked.name} (${revoked.memberId})`);
}

export async function auditVerify(opts: AuditSource & { expectHead?: string }): Promise<void> {
  const { entries, publicKey, problem } = await readAudit(opts);
  const expectedHead = opts.expectHead ? parseHead(opts.expectHead) : undefined;
  const result: ChainVerification = problem ?? verifyChain(entries, publicKey, expectedHead ? { expectedHead } : {});
  const key = fingerprint(publicKey);
  if (result.ok) {
    print(opts.json, { ...result, coordinatorKey: key }, `audit log OK: ${result.count} entries${result.head ? `, head ${result.head.seq}:${result.head.hash}` : ''}; signed by ${key}`);
  } else {
    print(opts.json, { ...result, coordinatorKey: key }, `audit log BROKEN at entry ${result.firstBad} (${result.problem}): ${result.reason}; ${result.verified} entries before it verified (key ${key})`);
    process.exitCode = 1;
  }
}

export async function auditExport(opts: AuditSource & { out: string }): Promise<void> {
  const { entries, publicKey } = await readAudit(opts);
  await writeFile(opts.out, toJsonLines(entries));
  const last = entries.at(-1);
  print(opts.json, { out: opts.out, count: entries.length, head: last ? { seq: last.seq, hash: last.hash } : null, publicKey }, `wrote ${entries.length} entries to ${opts.out} (coordinator key ${publicKey})`);
}

/** The entries and the key to check them with; `problem` when the served key is not the pinned one. */
async function readAudit(opts: AuditSource): Promise<{ entries: AuditEntry[]; publicKey: string; problem?: ChainVerification }> {
  if (opts.publicKey) assertPublicKey(opts.publicKey, '--public-key');
  if (opts.db) {
    const target = parseStorageUrl(opts.db);
    if (target.kind === 'postgres') {
      // A shared database has no file beside it: the key is pinned out of band.
      if (!opts.publicKey) {
        throw new ConcordError(ErrorCode.INVALID_ARGUMENT, "offline verification of a PostgreSQL database needs the coordinator's public key: pass --public-key (concord coordinator --json prints its fingerprint; GET /v1/identity gives the key)", {
          details: { field: '--public-key', expected: 'base64url Ed25519 public key' },
        });
      }
      const { PostgresStorage } = await import('../storage/postgres.js');
      const storage = new PostgresStorage({ url: target.url });
      try {
        await storage.assertMigrated(); // read only: nothing is created or migrated
        return { entries: await storage.listAudit(), publicKey: opts.publicKey };
      } finally {
        await storage.close();
      }
    }
    // Opened without migrating: verifying must not change the evidence (nor create a database).
    assertDatabaseExists(target.path);
    const publicKey = opts.publicKey ?? (await keyBeside(target.path));
    const storage = new SqliteStorage(target.path);
    try {
      return { entries: await storage.listAudit(), publicKey };
    } finally {
      await storage.close();
    }
  }
  const url = coordinatorUrl(opts.coordinator);
  const token = operatorToken(opts.token);
  // The identity endpoint is public; the token is sent but not needed.
  const identity = await operatorRequest<{ publicKey: string }>(url, token, 'GET', '/v1/identity');
  const entries: AuditEntry[] = [];
  for (let fromSeq = 1; ; ) {
    const page = await operatorRequest<{ entries: AuditEntry[] }>(url, token, 'GET', `/v1/audit?fromSeq=${fromSeq}&limit=5000`);
    entries.push(...page.entries);
    if (page.entries.length < 5000) break;
    fromSeq = Math.max(...page.entries.map((e) => e.seq)) + 1;
  }
  const publicKey = opts.publicKey ?? identity.publicKey;
  if (publicKey !== identity.publicKey) {
    return {
      entries,
      publicKey,
      problem: { ok: false, firstBad: 1, problem: 'bad-signature', reason: `the coordinator now presents key ${fingerprint(identity.publicKey)}, not the pinned ${fingerprint(publicKey)}`, verified: 0 },
    };
  }
  return { entries, publicKey };
}

async function keyBeside(dbPath: string): Promise<string> {
  const file = join(dirname(dbPath), 'coordinator.identity.json');
  let parsed: { publicKey?: unknown };
  try {
    parsed = JSON.parse(await readFile(file, 'utf8')) as { publicKey?: unknown };
  } catch (cause) {
    throw new ConcordError(ErrorCode.NOT_FOUND, `no coordinator key: cannot read ${file} (${(cause as Error).message}); pass --public-key`, { details: { field: '--public-key' }, cause });
  }
  assertPublicKey(parsed.publicKey, `${file}: publicKey`);
  return parsed.publicKey;
}

function parseHead(value: string): { seq: number; hash: string } {
  const match = /^(\d+):([0-9a-f]{64})$/.exec(value.trim());
  if (!match) throw new ConcordError(ErrorCode.INVALID_ARGUMENT, '--expect-head must be SEQ:HASH (the hash as 64 hex digits)', { details: { field: '--expect-head', received: value } });
  return { seq: Number(match[1]), hash: match[2]! };
}
