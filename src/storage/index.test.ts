import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { ConcordError, ErrorCode } from '../protocol/errors.js';
import { openStorage, parseStorageUrl, SqliteStorage } from './index.js';
import { dataset } from './storage-conformance.js';

const dir = mkdtempSync(join(tmpdir(), 'concord-open-storage-'));
after(() => rmSync(dir, { recursive: true, force: true }));

describe('parseStorageUrl', () => {
  it('reads sqlite URLs and plain paths as SQLite files', () => {
    assert.deepEqual(parseStorageUrl('.concord/coordinator.sqlite'), { kind: 'sqlite', path: '.concord/coordinator.sqlite' });
    assert.deepEqual(parseStorageUrl('sqlite:data/c.sqlite'), { kind: 'sqlite', path: 'data/c.sqlite' });
    assert.deepEqual(parseStorageUrl('sqlite:///var/lib/c.sqlite'), { kind: 'sqlite', path: '/var/lib/c.sqlite' });
    assert.deepEqual(parseStorageUrl('sqlite::memory:'), { kind: 'sqlite', path: ':memory:' });
    assert.deepEqual(parseStorageUrl(':memory:'), { kind: 'sqlite', path: ':memory:' });
  });

  it('recognises PostgreSQL URLs and refuses other schemes or an empty path', () => {
    assert.deepEqual(parseStorageUrl('postgres://u:p@db:5432/concord'), { kind: 'postgres', url: 'postgres://u:p@db:5432/concord' });
    assert.deepEqual(parseStorageUrl('postgresql://db/concord'), { kind: 'postgres', url: 'postgresql://db/concord' });
    for (const url of ['mysql://db/concord', 'sqlite:', '']) {
      assert.throws(
        () => parseStorageUrl(url),
        (error: unknown) => error instanceof ConcordError && error.code === ErrorCode.INVALID_ARGUMENT && error.details.field === 'db',
        url,
      );
    }
  });
});

describe('openStorage', () => {
  it('opens a migrated SQLite store, creating missing parent directories', async () => {
    const path = join(dir, 'a', 'b', 'coordinator.sqlite');
    const storage = await openStorage(`sqlite:${path}`);
    assert.ok(storage instanceof SqliteStorage);
    assert.ok(existsSync(path));
    const member = await storage.addMember({ name: 'a', publicKey: 'k', dataset: dataset('d', 1) });
    await storage.close();

    const again = await openStorage(path);
    assert.deepEqual(await again.listMembers(), [member]);
    await again.close();
  });

  it('opens an in-memory store', async () => {
    const storage = await openStorage('sqlite::memory:');
    assert.deepEqual(await storage.listRuns(), []);
    await storage.close();
  });

  it('opens PostgreSQL for postgres:// URLs, saying an unreachable server is UNAVAILABLE without echoing the password', async () => {
    await assert.rejects(openStorage('postgres://concord:s3cret@127.0.0.1:1/concord'), (error: unknown) => {
      assert.ok(error instanceof ConcordError);
      assert.equal(error.code, ErrorCode.UNAVAILABLE);
      assert.equal(error.details.field, 'db');
      assert.match(error.message, /PostgreSQL/);
      assert.doesNotMatch(JSON.stringify(error.toJSON()), /s3cret/);
      return true;
    });
  });
});
