// Bearer tokens of people and programs: reading the Authorization header, and comparing
// with the operator's bootstrap token in constant time. Members do not use tokens; they
// sign their requests (auth.ts). API tokens are made and checked by governance/roles.ts.

import { createHash, timingSafeEqual } from 'node:crypto';
import { ConcordError, ErrorCode } from '../protocol/errors.js';

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
