// ResourceStore contract: each member's latest declaration, in first-declared order;
// unknown members NOT_FOUND.

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ErrorCode } from '../../protocol/errors.js';
import { dataset, rejectsWith, storeRunner, type MakeStorage } from './fixtures.js';

export function resourceStoreConformance(name: string, make: MakeStorage): void {
  const withStore = storeRunner(make);

  describe(`${name}: ResourceStore conformance`, () => {
    describe('declared resources', () => {
      it("keeps each member's latest declaration, in first-declared order", () =>
        withStore(async (s) => {
          const a = await s.addMember({ name: 'a', publicKey: 'ka', dataset: dataset('d', 1) });
          const b = await s.addMember({ name: 'b', publicKey: 'kb', dataset: dataset('d', 2) });
          await s.setMemberResources(b.memberId, { capacity: 200, efficiency: 0.6 });
          await s.setMemberResources(a.memberId, { capacity: 100, efficiency: 0.8 });
          await s.setMemberResources(b.memberId, { capacity: 250, efficiency: 0.6 });
          const list = await s.listMemberResources();
          assert.deepEqual(list.map((r) => [r.memberId, r.declaration]), [[b.memberId, { capacity: 250, efficiency: 0.6 }], [a.memberId, { capacity: 100, efficiency: 0.8 }]]);
          await rejectsWith(s.setMemberResources('mem_nobody', { capacity: 1, efficiency: 1 }), ErrorCode.NOT_FOUND, 'memberId');
        }));
    });
  });
}
