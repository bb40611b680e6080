// Record ids: a short kind prefix (`run_`, `mem_`) for readable logs, then 96 random bits
// so ids never collide across coordinators or restarts.

import { randomBytes } from 'node:crypto';

export function newId(prefix: string): string {
  return `${prefix}_${randomBytes(12).toString('base64url')}`;
}
