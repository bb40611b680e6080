import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { chmod, mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ErrorCode } from '../protocol/errors.js';
import { fingerprint, generateIdentity, loadIdentity, loadOrCreateIdentity, publicKeyOf, saveIdentity, sign, verify } from './identity.js';

// RFC 8032 section 7.1, TEST 1 and TEST 2.
const b64 = (hex: string) => Buffer.from(hex, 'hex').toString('base64url');
const TEST1 = {
  privateKey: b64('9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60'),
  publicKey: b64('d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a'),
  signature: b64('e5564300c360ac729086e2cc806e828a84877f1eb8e5d974d873e065224901555fb8821590a33bacc61e39701cf9b46bd25bf5f0595bbe24655141438e7a100b'),
};
const TEST2 = {
  privateKey: b64('4ccd089b28ff96da9db6c346ec114e0f5b8a319f35aba624da8cf6ed4fb8a6fb'),
  publicKey: b64('3d4017c3e843895a92b70aa74d1b7ebc9c982ccf2ec4968cc0cd55f12af4660c'),
  message: Buffer.from('72', 'hex'),
  signature: b64('92a009a9f0d4cab8720e820b5f642540a2b27b5416503f8fb3762223ebdb69da085ac1e43e15996e458f3613d0f11d8c387b2eaeb4302aeeb00d291612bb0c00'),
};

describe('Ed25519 identity', () => {
  it('reproduces the RFC 8032 test vectors', () => {
    assert.equal(publicKeyOf(TEST1.privateKey), TEST1.publicKey);
    assert.equal(sign(TEST1.privateKey, new Uint8Array()), TEST1.signature);
    assert.equal(verify(TEST1.publicKey, new Uint8Array(), TEST1.signature), true);
    assert.equal(sign(TEST2.privateKey, TEST2.message), TEST2.signature);
    assert.equal(verify(TEST2.publicKey, TEST2.message, TEST2.signature), true);
  });

  it('rejects a signature over other data, by another key, or malformed', () => {
    assert.equal(verify(TEST2.publicKey, Buffer.from('73', 'hex'), TEST2.signature), false);
    assert.equal(verify(TEST1.publicKey, TEST2.message, TEST2.signature), false);
    assert.equal(verify(TEST2.publicKey, TEST2.message, TEST2.signature.slice(0, 40)), false);
    assert.equal(verify(TEST2.publicKey, TEST2.message, 'not base64url!'), false);
  });

  it('generates raw 32-byte keys in base64url and signs strings as UTF-8', () => {
    const id = generateIdentity();
    assert.equal(Buffer.from(id.publicKey, 'base64url').length, 32);
    assert.equal(Buffer.from(id.privateKey, 'base64url').length, 32);
    assert.equal(publicKeyOf(id.privateKey), id.publicKey);
    const signature = sign(id.privateKey, 'héllo');
    assert.equal(verify(id.publicKey, Buffer.from('héllo', 'utf8'), signature), true);
  });

  it('fingerprints a key as the first 16 hex digits of SHA-256 of its raw bytes', () => {
    const expected = createHash('sha256').update(Buffer.from('d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a', 'hex')).digest('hex').slice(0, 16);
    assert.equal(fingerprint(TEST1.publicKey), expected);
    assert.equal(fingerprint(TEST1.publicKey).length, 16);
  });

  it('refuses a malformed public key with INVALID_ARGUMENT', () => {
    assert.throws(() => verify('abc', 'x', TEST1.signature), (e: { code: string; details: { field: string } }) => e.code === ErrorCode.INVALID_ARGUMENT && e.details.field === 'publicKey');
  });
});

describe('identity files', () => {
  it('saves with mode 0600, loads back, and refuses to overwrite by default', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'concord-id-'));
    try {
      const path = join(dir, 'keys', 'node.json');
      const id = generateIdentity();
      await saveIdentity(path, id);
      assert.equal((await stat(path)).mode & 0o777, 0o600);
      assert.deepEqual(await loadIdentity(path), id);
      await assert.rejects(saveIdentity(path, generateIdentity()), (e: { code: string }) => e.code === ErrorCode.CONFLICT);
      const other = generateIdentity();
      await saveIdentity(path, other, { overwrite: true });
      assert.deepEqual(await loadIdentity(path), other);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('refuses a file others can read, and one whose keys do not match', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'concord-id-'));
    try {
      const path = join(dir, 'node.json');
      await saveIdentity(path, generateIdentity());
      await chmod(path, 0o644);
      await assert.rejects(loadIdentity(path), (e: { code: string; message: string }) => e.code === ErrorCode.FORBIDDEN && e.message.includes('mode 0644') && e.message.includes('chmod 600'));
      assert.equal((await loadIdentity(path, { allowInsecureMode: true })).publicKey.length, 43);

      const file = JSON.parse(await readFile(path, 'utf8')) as Record<string, string>;
      file.publicKey = generateIdentity().publicKey;
      await writeFile(path, JSON.stringify(file), { mode: 0o600 });
      await chmod(path, 0o600);
      await assert.rejects(loadIdentity(path), (e: { code: string; message: string }) => e.code === ErrorCode.INVALID_ARGUMENT && e.message.includes('privateKey does not belong to publicKey'));
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('creates an identity once and then keeps loading the same one', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'concord-id-'));
    try {
      const path = join(dir, 'node.json');
      const first = await loadOrCreateIdentity(path);
      const second = await loadOrCreateIdentity(path);
      assert.equal(first.created, true);
      assert.equal(second.created, false);
      assert.deepEqual(second.identity, first.identity);
      await assert.rejects(loadIdentity(join(dir, 'missing.json')), (e: { code: string }) => e.code === ErrorCode.NOT_FOUND);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
