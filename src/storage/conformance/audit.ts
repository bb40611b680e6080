// AuditLogStore contract: entries append only as seq = last + 1 and read back exactly, in
// append order; concurrent records through AuditLog form one valid chain.

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { AuditLog, appendEntry, verifyChain, type AuditEntry } from '../../governance/audit.js';
import { generateIdentity } from '../../governance/identity.js';
import { ErrorCode } from '../../protocol/errors.js';
import { rejectsWith, storeRunner, type MakeStorage } from './fixtures.js';

export function auditStoreConformance(name: string, make: MakeStorage): void {
  const withStore = storeRunner(make);

  describe(`${name}: AuditLogStore conformance`, () => {
    describe('audit log', () => {
      const signer = generateIdentity();
      const chain = (n: number): AuditEntry[] => {
        const entries: AuditEntry[] = [];
        for (let i = 0; i < n; i++) {
          entries.push(appendEntry(entries.at(-1), { at: 1_700_000_000_000 + i, actor: 'coordinator', kind: 'test.entry', subject: `s${i + 1}`, data: { i, nested: { x: [1, 0.5, 'é'] } } }, signer));
        }
        return entries;
      };

      it('appends entries in seq order and reads them back exactly', () =>
        withStore(async (s) => {
          const entries = chain(3);
          assert.equal(await s.countAudit(), 0);
          assert.equal(await s.lastAudit(), undefined);
          for (const e of entries) await s.appendAudit(e);
          assert.equal(await s.countAudit(), 3);
          assert.deepEqual(await s.listAudit(), entries);
          assert.deepEqual(await s.listAudit({ fromSeq: 2 }), entries.slice(1));
          assert.deepEqual(await s.listAudit({ fromSeq: 1, limit: 2 }), entries.slice(0, 2));
          assert.deepEqual(await s.lastAudit(), entries[2]);
          assert.deepEqual(verifyChain(await s.listAudit(), signer.publicKey), { ok: true, count: 3, head: { seq: 3, hash: entries[2]!.hash } });
        }));

      it('refuses an entry that does not follow the last one as CONFLICT', () =>
        withStore(async (s) => {
          const entries = chain(3);
          await rejectsWith(s.appendAudit(entries[1]!), ErrorCode.CONFLICT, 'seq');
          await s.appendAudit(entries[0]!);
          await rejectsWith(s.appendAudit(entries[0]!), ErrorCode.CONFLICT, 'seq');
          await rejectsWith(s.appendAudit(entries[2]!), ErrorCode.CONFLICT, 'seq');
          assert.equal(await s.countAudit(), 1);
        }));

      it('serves as the AuditLog store: concurrent records form one valid chain', () =>
        withStore(async (s) => {
          const log = new AuditLog({ append: (e) => s.appendAudit(e), list: (o) => s.listAudit(o), count: () => s.countAudit(), last: () => s.lastAudit() }, signer);
          await Promise.all(Array.from({ length: 5 }, (_, i) => log.record({ actor: 'coordinator', kind: 'test.concurrent', subject: String(i) })));
          const verified = await log.verify();
          assert.equal(verified.ok, true);
          assert.deepEqual((await s.listAudit()).map((e) => e.seq), [1, 2, 3, 4, 5]);
        }));
    });
  });
}
