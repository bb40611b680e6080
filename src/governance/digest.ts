// Hashes, random secrets and constant-time comparison shared by the governance modules.
// Secrets (invitation codes, API tokens) are stored only as SHA-256 hashes, so a copy of
// the database does not let anyone redeem or use them.

import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';

export function sha256Hex(data: Uint8Array | string): string {
  return createHash('sha256').update(data).digest('hex');
}

/** The SHA-256 of parts taken one after another, as if joined. */
export function sha256HexOfParts(parts: readonly Uint8Array[]): string {
  const hash = createHash('sha256');
  for (const part of parts) hash.update(part);
  return hash.digest('hex');
}

/** A fresh secret: `prefix_` then `bytes` random bytes in base64url. */
export function randomSecret(prefix: string, bytes = 32): string {
  return `${prefix}_${randomBytes(bytes).toString('base64url')}`;
}

/** Compares two hex digests without leaking where they differ. */
export function sameHex(a: string, b: string): boolean {
  if (!/^[0-9a-f]+$/.test(a) || !/^[0-9a-f]+$/.test(b)) return false;
  const ba = Buffer.from(a, 'hex');
  const bb = Buffer.from(b, 'hex');
  return ba.length === bb.length && ba.length > 0 && timingSafeEqual(ba, bb);
}
