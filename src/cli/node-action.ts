// What `concord node` does (registered in node-command.ts): run a member node next to its
// data until SIGINT/SIGTERM.

import { runMemberService } from '../node/service.js';
import { ConcordError, ErrorCode } from '../protocol/errors.js';
import { coordinatorUrl } from './options.js';

export async function runNode(opts: { coordinator?: string; name: string; data: string; stateDir: string; invitation?: string; ca?: string; privacyBudget?: number; privacyDelta: number; ownerKey?: string; powerWatts: number; carbonIntensity: number; json?: boolean }): Promise<void> {
  const json = Boolean(opts.json);
  const abort = new AbortController();
  process.once('SIGINT', () => abort.abort());
  process.once('SIGTERM', () => abort.abort());
  await runMemberService({
    coordinator: coordinatorUrl(opts.coordinator),
    name: opts.name,
    data: opts.data,
    stateDir: opts.stateDir,
    ...optional('invitation', opts.invitation ?? process.env.CONCORD_INVITATION),
    ...optional('caFile', opts.ca ?? process.env.CONCORD_CA),
    ...optional('ownerKey', opts.ownerKey),
    ...(opts.privacyBudget !== undefined ? { privacyBudget: { epsilon: opts.privacyBudget, delta: opts.privacyDelta } } : {}),
    energy: { powerWatts: nonNegative(opts.powerWatts, '--power-watts'), carbonIntensity: nonNegative(opts.carbonIntensity, '--carbon-intensity') },
    signal: abort.signal,
    log: (line) => process.stderr.write(json ? JSON.stringify({ member: opts.name, message: line }) + '\n' : `[${opts.name}] ${line}\n`),
  });
  process.exit(0);
}

function nonNegative(value: number, field: string): number {
  if (!(value >= 0)) throw new ConcordError(ErrorCode.INVALID_ARGUMENT, `${field} must be a number >= 0, got ${value}`, { details: { field, expected: '>= 0', received: value } });
  return value;
}

function optional<K extends string>(key: K, value: string | undefined): Partial<Record<K, string>> {
  return value ? ({ [key]: value } as Record<K, string>) : {};
}
