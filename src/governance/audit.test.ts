import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { ErrorCode, type ConcordError } from '../protocol/errors.js';
import { AuditLog, GENESIS_HASH, MemoryAuditStore, appendEntry, auditEntryHash, auditSigningBytes, fromJsonLines, toJsonLines, verifyChain, type AuditEntry } from './audit.js';
import { generateIdentity, sign } from './identity.js';

const coordinator = generateIdentity();
const forger = generateIdentity();
const T0 = 1_700_000_000_000;

function chain(length: number): AuditEntry[] {
  const entries: AuditEntry[] = [];
  for (let i = 0; i < length; i += 1) {
    entries.push(appendEntry(entries.at(-1), { at: T0 + i, actor: 'coordinator', kind: 'round.completed', subject: 'run-1', data: { round: i + 1, members: ['a', 'b'] } }, coordinator));
  }
  return entries;
}

function failure(result: ReturnType<typeof verifyChain>): { firstBad: number; problem: string; reason: string } {
  assert.equal(result.ok, false, 'tampering must be detected');
  return result as { firstBad: number; problem: string; reason: string };
}

describe('audit chain', () => {
  it('links each entry to the previous hash and hashes the canonical entry', () => {
    const [first, second] = chain(2);
    assert.equal(first!.seq, 1);
    assert.equal(first!.prevHash, GENESIS_HASH);
    assert.equal(second!.prevHash, first!.hash);
    const canonical = `{"actor":"coordinator","at":${T0},"data":{"members":["a","b"],"round":1},"kind":"round.completed","prevHash":"${GENESIS_HASH}","seq":1,"subject":"run-1"}`;
    assert.equal(first!.hash, createHash('sha256').update(canonical).digest('hex'));
    const five = chain(5);
    assert.deepEqual(verifyChain(five, coordinator.publicKey), { ok: true, count: 5, head: { seq: 5, hash: five[4]!.hash } });
  });

  it('detects an edited entry', () => {
    const entries = chain(5);
    entries[2] = { ...entries[2]!, data: { round: 3, members: ['a'] } };
    assert.deepEqual(pick(failure(verifyChain(entries, coordinator.publicKey))), { firstBad: 3, problem: 'edited' });
  });

  it('detects an edited and re-hashed entry by its signature', () => {
    const entries = chain(5);
    const edited = { ...entries[2]!, subject: 'run-2' };
    edited.hash = auditEntryHash(edited);
    entries[2] = edited;
    assert.deepEqual(pick(failure(verifyChain(entries, coordinator.publicKey))), { firstBad: 3, problem: 'bad-signature' });
  });

  it('detects a deleted entry and names the missing seq', () => {
    const entries = chain(5);
    entries.splice(3, 1);
    const result = failure(verifyChain(entries, coordinator.publicKey));
    assert.deepEqual(pick(result), { firstBad: 4, problem: 'deleted' });
    assert.equal(result.reason, 'entry 4 is missing: entry 5 follows entry 3');
  });

  it('detects reordered entries', () => {
    const entries = chain(5);
    [entries[1], entries[2]] = [entries[2]!, entries[1]!];
    const result = failure(verifyChain(entries, coordinator.publicKey));
    assert.deepEqual(pick(result), { firstBad: 2, problem: 'reordered' });
    assert.equal(result.reason, 'entry 2 appears after entry 3: entries were reordered');
  });

  it('detects a duplicated entry', () => {
    const entries = chain(4);
    entries.splice(2, 0, entries[1]!);
    assert.deepEqual(pick(failure(verifyChain(entries, coordinator.publicKey))), { firstBad: 3, problem: 'inserted' });
  });

  it('detects a forged signature and a forged entry signed by another key', () => {
    const entries = chain(4);
    entries[1] = { ...entries[1]!, signature: sign(forger.privateKey, auditSigningBytes(entries[1]!.hash)) };
    assert.deepEqual(pick(failure(verifyChain(entries, coordinator.publicKey))), { firstBad: 2, problem: 'bad-signature' });

    const forgedTail = chain(3);
    forgedTail.push(appendEntry(forgedTail[2], { at: T0, actor: 'operator', kind: 'budget.reset', subject: 'ward-a' }, forger));
    assert.deepEqual(pick(failure(verifyChain(forgedTail, coordinator.publicKey))), { firstBad: 4, problem: 'bad-signature' });
  });

  it('detects an entry re-linked to another chain', () => {
    const entries = chain(3);
    const relinked = appendEntry({ ...entries[1]!, hash: 'f'.repeat(64) }, { at: T0, actor: 'coordinator', kind: 'x', subject: 'y' }, coordinator);
    entries[2] = relinked;
    assert.deepEqual(pick(failure(verifyChain(entries, coordinator.publicKey))), { firstBad: 3, problem: 'broken-link' });
  });

  it('detects truncation only against a known head', () => {
    const entries = chain(5);
    const head = { seq: 5, hash: entries[4]!.hash };
    assert.equal(verifyChain(entries.slice(0, 3), coordinator.publicKey).ok, true);
    assert.deepEqual(pick(failure(verifyChain(entries.slice(0, 3), coordinator.publicKey, { expectedHead: head }))), { firstBad: 4, problem: 'truncated' });
    assert.equal(verifyChain(entries, coordinator.publicKey, { expectedHead: head }).ok, true);
  });

  it('verifies a slice that continues after a known entry', () => {
    const entries = chain(5);
    assert.deepEqual(verifyChain(entries.slice(2), coordinator.publicKey, { after: { seq: 2, hash: entries[1]!.hash } }), { ok: true, count: 3, head: { seq: 5, hash: entries[4]!.hash } });
    assert.equal(failure(verifyChain(entries.slice(2), coordinator.publicKey)).problem, 'deleted');
  });

  it('keeps a detached copy of the data it logs', () => {
    const data = { spent: 1 };
    const entry = appendEntry(undefined, { at: T0, actor: 'coordinator', kind: 'budget.spent', subject: 'ward-a', data }, coordinator);
    data.spent = 99;
    assert.deepEqual(entry.data, { spent: 1 });
    assert.equal(verifyChain([entry], coordinator.publicKey).ok, true);
  });

  it('exports JSON lines that read back and verify', () => {
    const entries = chain(3);
    const text = toJsonLines(entries);
    assert.equal(text.split('\n').length, 4);
    assert.deepEqual(fromJsonLines(text), entries);
    assert.throws(() => fromJsonLines(`${text}{"seq":"x"}\n`), (e: ConcordError) => e.code === ErrorCode.INVALID_ARGUMENT && e.message.startsWith('audit log line 4'));
  });
});

describe('AuditLog over MemoryAuditStore', () => {
  it('serializes concurrent appends into one valid chain', async () => {
    const log = new AuditLog(new MemoryAuditStore(), coordinator);
    const written = await Promise.all(Array.from({ length: 20 }, (_, i) => log.record({ at: T0 + i, actor: 'm-1', kind: 'query', subject: `q-${i}` })));
    assert.deepEqual(written.map((e) => e.seq), Array.from({ length: 20 }, (_, i) => i + 1));
    assert.equal(await log.store.count(), 20);
    assert.deepEqual(await log.verify(), { ok: true, count: 20, head: { seq: 20, hash: written[19]!.hash } });
    assert.deepEqual((await log.store.list({ fromSeq: 19 })).map((e) => e.subject), ['q-18', 'q-19']);
    assert.deepEqual(fromJsonLines(await log.exportJsonLines()).length, 20);
  });

  it('the store refuses an entry that does not extend it', async () => {
    const store = new MemoryAuditStore();
    const [first, second] = chain(2);
    await assert.rejects(store.append(second!), (e: ConcordError) => e.code === ErrorCode.CONFLICT && e.details.expected === 1);
    await store.append(first!);
    assert.equal((await store.last())?.seq, 1);
  });
});

function pick(result: { firstBad: number; problem: string }): { firstBad: number; problem: string } {
  return { firstBad: result.firstBad, problem: result.problem };
}
