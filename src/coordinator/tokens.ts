// Bearer tokens for members and the operator. Only SHA-256 hashes are stored, so a
// copy of the database does not let anyone act as a member.

import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import { ConcordError, ErrorCode } from '../protocol/errors.js';

export function newToken(prefix: string): string {
  return `${prefix}_${randomBytes(32).toString('base64url')}`;
}

export function hashToken(token: string): string {
  return createHash('sha256').update(token, 'utf8').digest('hex');
}

export function sameToken(a: string, b: string): boolean {
  const ha = createHash('sha256').update(a).digest();
  const hb = createHash('sha256').update(b).digest();
  return timingSafeEqual(ha, hb);
}

export function bearerToken(header: string | undefined): string {
  const match = header?.match(/^Bearer\s+(\S+)$/i);
  if (!match) {
    throw new ConcordError(ErrorCode.UNAUTHENTICATED, 'missing credentials: send "Authorization: Bearer <token>"', {
      details: { field: 'authorization', expected: 'Bearer <token>' },
    });
  }
  return match[1]!;
}
