// MemberStore contract: ids distinct, names and keys unique (CONFLICT naming the field),
// unknown ids NOT_FOUND, insertion order, touch never moves lastSeenAt backwards,
// re-enrollment keeps the id and any revocation.

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ErrorCode } from '../../protocol/errors.js';
import { dataset, rejectsWith, storeRunner, type MakeStorage } from './fixtures.js';

export function memberStoreConformance(name: string, make: MakeStorage): void {
  const withStore = storeRunner(make);

  describe(`${name}: MemberStore conformance`, () => {
    describe('members', () => {
      it('adds a member and finds it by id and name', () =>
        withStore(async (s) => {
          const before = Date.now();
          const added = await s.addMember({ name: 'hospital-a', publicKey: 'key-a', dataset: dataset('mnist-a', 600) });
          assert.equal(typeof added.memberId, 'string');
          assert.ok(added.memberId.length > 0);
          assert.equal(added.name, 'hospital-a');
          assert.equal(added.publicKey, 'key-a');
          assert.deepEqual(added.dataset, dataset('mnist-a', 600));
          assert.ok(added.enrolledAt >= before && added.enrolledAt <= Date.now());
          assert.equal(added.lastSeenAt, null);
          assert.equal(added.revoked, false);

          assert.deepEqual(await s.getMember(added.memberId), added);
          assert.deepEqual(await s.getMemberByName('hospital-a'), added);
          assert.equal(await s.getMember('mem_unknown'), undefined);
          assert.equal(await s.getMemberByName('hospital-z'), undefined);
        }));

      it('lists members in enrollment order with distinct ids', () =>
        withStore(async (s) => {
          const a = await s.addMember({ name: 'a', publicKey: 'ka', dataset: dataset('d', 1) });
          const b = await s.addMember({ name: 'b', publicKey: 'kb', dataset: dataset('d', 2) });
          const c = await s.addMember({ name: 'c', publicKey: 'kc', dataset: dataset('d', 3) });
          assert.equal(new Set([a.memberId, b.memberId, c.memberId]).size, 3);
          assert.deepEqual(await s.listMembers(), [a, b, c]);
        }));

      it('rejects a duplicate name or public key as CONFLICT and stores nothing', () =>
        withStore(async (s) => {
          const a = await s.addMember({ name: 'lab', publicKey: 'k1', dataset: dataset('d', 1) });
          await rejectsWith(s.addMember({ name: 'lab', publicKey: 'k2', dataset: dataset('d', 1) }), ErrorCode.CONFLICT, 'name');
          await rejectsWith(s.addMember({ name: 'other', publicKey: 'k1', dataset: dataset('d', 1) }), ErrorCode.CONFLICT, 'publicKey');
          assert.deepEqual(await s.listMembers(), [a]);
        }));

      it('touch records the latest time seen and never moves it back', () =>
        withStore(async (s) => {
          const m = await s.addMember({ name: 'a', publicKey: 'k', dataset: dataset('d', 1) });
          await s.touchMember(m.memberId, 1_700_000_000_000);
          assert.equal((await s.getMember(m.memberId))!.lastSeenAt, 1_700_000_000_000);
          await s.touchMember(m.memberId, 1_700_000_005_000);
          assert.equal((await s.getMember(m.memberId))!.lastSeenAt, 1_700_000_005_000);
          await s.touchMember(m.memberId, 1_700_000_001_000);
          assert.equal((await s.getMember(m.memberId))!.lastSeenAt, 1_700_000_005_000);
          await rejectsWith(s.touchMember('mem_unknown', 1), ErrorCode.NOT_FOUND, 'memberId');
        }));

      it('touches many members in one write, never moving a time back and skipping ids no longer enrolled', () =>
        withStore(async (s) => {
          const a = await s.addMember({ name: 'a', publicKey: 'ka', dataset: dataset('d', 1) });
          const b = await s.addMember({ name: 'b', publicKey: 'kb', dataset: dataset('d', 1) });
          await s.touchMember(b.memberId, 1_700_000_009_000);
          await s.touchMembers(new Map([[a.memberId, 1_700_000_002_000], ['mem_unknown', 5], [b.memberId, 1_700_000_003_000]]));
          assert.equal((await s.getMember(a.memberId))!.lastSeenAt, 1_700_000_002_000);
          assert.equal((await s.getMember(b.memberId))!.lastSeenAt, 1_700_000_009_000);
          await s.touchMembers(new Map());
          assert.equal((await s.getMember('mem_unknown')), undefined);
        }));

      it('revokes a member, which stays findable with its key', () =>
        withStore(async (s) => {
          const m = await s.addMember({ name: 'a', publicKey: 'k', dataset: dataset('d', 1) });
          const other = await s.addMember({ name: 'b', publicKey: 'kb', dataset: dataset('d', 1) });
          await s.revokeMember(m.memberId);
          await s.revokeMember(m.memberId);
          assert.deepEqual(await s.getMember(m.memberId), { ...m, revoked: true });
          assert.equal((await s.getMember(other.memberId))!.revoked, false);
          await rejectsWith(s.revokeMember('mem_unknown'), ErrorCode.NOT_FOUND, 'memberId');
        }));

      it('replaces a key and descriptor, keeping the id, enrollment time and revocation', () =>
        withStore(async (s) => {
          const m = await s.addMember({ name: 'a', publicKey: 'old', dataset: dataset('d', 10) });
          await s.addMember({ name: 'b', publicKey: 'taken', dataset: dataset('d', 1) });
          await s.revokeMember(m.memberId);
          const replaced = await s.replaceMemberKey(m.memberId, 'new', dataset('d2', 20));
          assert.deepEqual(replaced, { ...m, publicKey: 'new', dataset: dataset('d2', 20), revoked: true });
          // Presenting the same key again is allowed.
          assert.deepEqual(await s.replaceMemberKey(m.memberId, 'new', dataset('d2', 20)), replaced);
          await rejectsWith(s.replaceMemberKey(m.memberId, 'taken', dataset('d', 1)), ErrorCode.CONFLICT, 'publicKey');
          await rejectsWith(s.replaceMemberKey('mem_unknown', 'x', dataset('d', 1)), ErrorCode.NOT_FOUND, 'memberId');
          assert.deepEqual(await s.getMember(m.memberId), replaced);
        }));
    });
  });
}
