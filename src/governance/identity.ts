// Ed25519 identities of members, data owners and the coordinator (RFC 8032).
//
// Keys travel as base64url strings of their raw bytes, the forms WebCrypto in the browser
// also speaks:
// - publicKey: the raw 32-byte public key (the JWK `x` member);
// - privateKey: the raw 32-byte seed (the JWK `d` member). A browser imports it with
//   `crypto.subtle.importKey('jwk', {kty: 'OKP', crv: 'Ed25519', d, x}, 'Ed25519', …)`.
// Signatures are the raw 64-byte Ed25519 signature in base64url.

import { createPrivateKey, createPublicKey, generateKeyPairSync, sign as edSign, verify as edVerify, type KeyObject } from 'node:crypto';
import { chmod, mkdir, open, readFile, rename, stat } from 'node:fs/promises';
import { dirname } from 'node:path';
import { z } from 'zod';
import { ConcordError, ErrorCode } from '../protocol/errors.js';
import { sha256Hex } from './digest.js';

export interface Identity {
  /** base64url of the raw 32-byte Ed25519 public key. */
  publicKey: string;
  /** base64url of the raw 32-byte Ed25519 seed. Never leaves its owner. */
  privateKey: string;
}

// DER prefixes that wrap a raw key into the PKCS#8 / SPKI structures node:crypto imports (RFC 8410).
const PKCS8_PREFIX = Buffer.from('302e020100300506032b657004220420', 'hex');
const SPKI_PREFIX = Buffer.from('302a300506032b6570032100', 'hex');
const BASE64URL = /^[A-Za-z0-9_-]+$/;

export function generateIdentity(): Identity {
  const { privateKey, publicKey } = generateKeyPairSync('ed25519');
  const jwk = privateKey.export({ format: 'jwk' });
  const pub = publicKey.export({ format: 'jwk' });
  return { publicKey: pub.x!, privateKey: jwk.d! };
}

/** The public key that belongs to a private key (e.g. to check an identity file). */
export function publicKeyOf(privateKey: string): string {
  return createPublicKey(privateKeyObject(privateKey)).export({ format: 'jwk' }).x!;
}

/** Signs `data` (bytes, or a string taken as UTF-8); returns the base64url signature. */
export function sign(privateKey: string, data: Uint8Array | string): string {
  return edSign(null, toBytes(data), privateKeyObject(privateKey)).toString('base64url');
}

/**
 * True when `signature` is a valid Ed25519 signature of `data` by `publicKey`. A malformed
 * signature is simply not valid; a malformed public key is an INVALID_ARGUMENT error,
 * because it means a key was enrolled or configured wrongly.
 */
export function verify(publicKey: string, data: Uint8Array | string, signature: string): boolean {
  const key = publicKeyObject(publicKey);
  if (typeof signature !== 'string' || !BASE64URL.test(signature)) return false;
  const sig = Buffer.from(signature, 'base64url');
  if (sig.length !== 64) return false;
  return edVerify(null, toBytes(data), key, sig);
}

/** Short, human-comparable name of a key: the first 16 hex digits of SHA-256 of its raw bytes. */
export function fingerprint(publicKey: string): string {
  return sha256Hex(rawKey(publicKey, 'publicKey')).slice(0, 16);
}

/** Throws INVALID_ARGUMENT unless `publicKey` is base64url of 32 bytes. */
export function assertPublicKey(publicKey: unknown, field = 'publicKey'): asserts publicKey is string {
  rawKey(publicKey, field);
}

function rawKey(value: unknown, field: string): Buffer {
  if (typeof value === 'string' && BASE64URL.test(value)) {
    const bytes = Buffer.from(value, 'base64url');
    if (bytes.length === 32 && bytes.toString('base64url') === value) return bytes;
  }
  throw new ConcordError(ErrorCode.INVALID_ARGUMENT, `${field}: expected a raw 32-byte Ed25519 key in base64url (43 characters)`, {
    details: { field, expected: 'base64url of 32 bytes', received: typeof value === 'string' ? `${value.length} characters` : typeof value },
  });
}

// Importing a key costs about ten times a signature, and the same few keys sign or verify
// every request, so imported keys are kept (a bounded map; the oldest goes first).
const KEY_CACHE_SIZE = 4096;
const privateKeys = new Map<string, KeyObject>();
const publicKeys = new Map<string, KeyObject>();

function cached(cache: Map<string, KeyObject>, key: string, load: () => KeyObject): KeyObject {
  let value = cache.get(key);
  if (!value) {
    value = load();
    if (cache.size >= KEY_CACHE_SIZE) cache.delete(cache.keys().next().value!);
    cache.set(key, value);
  }
  return value;
}

function privateKeyObject(privateKey: string): KeyObject {
  return cached(privateKeys, privateKey, () => createPrivateKey({ key: Buffer.concat([PKCS8_PREFIX, rawKey(privateKey, 'privateKey')]), format: 'der', type: 'pkcs8' }));
}

function publicKeyObject(publicKey: string): KeyObject {
  return cached(publicKeys, publicKey, () => createPublicKey({ key: Buffer.concat([SPKI_PREFIX, rawKey(publicKey, 'publicKey')]), format: 'der', type: 'spki' }));
}

function toBytes(data: Uint8Array | string): Uint8Array {
  return typeof data === 'string' ? Buffer.from(data, 'utf8') : data;
}

// ---- identity files -------------------------------------------------------------------

const IdentityFileSchema = z.object({
  kind: z.literal('concord-identity'),
  version: z.literal(1),
  algorithm: z.literal('Ed25519'),
  publicKey: z.string(),
  privateKey: z.string(),
});

/**
 * Writes the identity as JSON readable only by its owner (mode 0600). The file is written
 * under a temporary name and renamed, so a crash never leaves half a key behind, and an
 * existing file is replaced only when `overwrite` is true (default false).
 */
export async function saveIdentity(path: string, identity: Identity, options: { overwrite?: boolean } = {}): Promise<void> {
  assertPublicKey(identity.publicKey, 'identity.publicKey');
  if (publicKeyOf(identity.privateKey) !== identity.publicKey) {
    throw new ConcordError(ErrorCode.INVALID_ARGUMENT, 'identity.privateKey does not belong to identity.publicKey', { details: { field: 'identity.privateKey' } });
  }
  if (!options.overwrite && (await exists(path))) {
    throw new ConcordError(ErrorCode.CONFLICT, `identity file ${path} already exists; refusing to replace a key (pass overwrite: true to do so)`, {
      details: { field: 'path', received: path },
    });
  }
  await mkdir(dirname(path), { recursive: true, mode: 0o700 });
  const body = `${JSON.stringify({ kind: 'concord-identity', version: 1, algorithm: 'Ed25519', ...identity }, null, 2)}\n`;
  const temporary = `${path}.${process.pid}.tmp`;
  const handle = await open(temporary, 'w', 0o600);
  try {
    await handle.writeFile(body, 'utf8');
    await handle.sync();
  } finally {
    await handle.close();
  }
  await chmod(temporary, 0o600); // the umask cannot widen it, but an existing temp file could have
  await rename(temporary, path);
}

/**
 * Reads an identity file written by saveIdentity. Like ssh, it refuses a file that group or
 * others may read (on POSIX systems), unless `allowInsecureMode` is true (default false), and
 * it checks that the private key matches the public key.
 */
export async function loadIdentity(path: string, options: { allowInsecureMode?: boolean } = {}): Promise<Identity> {
  let text: string;
  try {
    if (process.platform !== 'win32' && !options.allowInsecureMode) {
      const mode = (await stat(path)).mode & 0o777;
      if ((mode & 0o077) !== 0) {
        throw new ConcordError(ErrorCode.FORBIDDEN, `identity file ${path} has mode 0${mode.toString(8)}, so others can read the private key; run "chmod 600 ${path}"`, {
          details: { field: 'path', expected: '0600', received: `0${mode.toString(8)}` },
        });
      }
    }
    text = await readFile(path, 'utf8');
  } catch (error) {
    if (error instanceof ConcordError) throw error;
    throw new ConcordError(ErrorCode.NOT_FOUND, `cannot read identity file ${path}: ${(error as Error).message}`, { details: { field: 'path', received: path }, cause: error });
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (error) {
    throw new ConcordError(ErrorCode.INVALID_ARGUMENT, `identity file ${path} is not JSON`, { details: { field: 'path' }, cause: error });
  }
  const result = IdentityFileSchema.safeParse(parsed);
  if (!result.success) {
    const issue = result.error.issues[0]!;
    const field = issue.path.join('.') || '(root)';
    throw new ConcordError(ErrorCode.INVALID_ARGUMENT, `identity file ${path}: ${field}: ${issue.message}`, { details: { field } });
  }
  const identity = { publicKey: result.data.publicKey, privateKey: result.data.privateKey };
  assertPublicKey(identity.publicKey, 'publicKey');
  if (publicKeyOf(identity.privateKey) !== identity.publicKey) {
    throw new ConcordError(ErrorCode.INVALID_ARGUMENT, `identity file ${path}: privateKey does not belong to publicKey`, { details: { field: 'privateKey' } });
  }
  return identity;
}

/** Loads the identity at `path`, or creates and saves a fresh one when there is none. */
export async function loadOrCreateIdentity(path: string): Promise<{ identity: Identity; created: boolean }> {
  if (await exists(path)) return { identity: await loadIdentity(path), created: false };
  const identity = generateIdentity();
  await saveIdentity(path, identity);
  return { identity, created: true };
}

async function exists(path: string): Promise<boolean> {
  try {
    await stat(path);
    return true;
  } catch {
    return false;
  }
}
