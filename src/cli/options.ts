// Shared CLI plumbing: where the coordinator is, the operator token, JSON vs. human output.

import { InvalidArgumentError } from 'commander';
import { readFileSync } from 'node:fs';
import { coordinatorFetch, readCa, unreachableError, type Fetch } from '../node/coordinator-fetch.js';
import { ConcordError, ErrorCode, toConcordError } from '../protocol/errors.js';
import { PROTOCOL_HEADER, PROTOCOL_VERSION } from '../protocol/messages.js';

export const DEFAULT_COORDINATOR = 'http://127.0.0.1:8470';

export function coordinatorUrl(flag?: string): string {
  return flag ?? process.env.CONCORD_COORDINATOR ?? DEFAULT_COORDINATOR;
}

/** --token, then $CONCORD_OPERATOR_TOKEN, then the file the coordinator wrote beside its database. */
export function operatorToken(flag?: string, tokenFile = '.concord/operator-token'): string {
  const token = flag ?? process.env.CONCORD_OPERATOR_TOKEN;
  if (token) return token;
  try {
    return readFileSync(tokenFile, 'utf8').trim();
  } catch {
    throw new ConcordError(ErrorCode.UNAUTHENTICATED, `no operator token: pass --token, set CONCORD_OPERATOR_TOKEN, or run next to the coordinator's ${tokenFile}`, {
      details: { field: '--token' },
    });
  }
}

let pinnedCa: string | undefined;
let pinnedFetch: Fetch | undefined;

/** Pins the coordinator's CA certificate (--ca) for this process's requests; $CONCORD_CA otherwise. */
export function useCa(file: string | undefined): void {
  pinnedCa = file;
  pinnedFetch = undefined;
}

/** fetch for the coordinator, trusting only the pinned CA when one is given. */
export function caFetch(): Fetch {
  const file = pinnedCa ?? process.env.CONCORD_CA;
  if (!file) return globalThis.fetch;
  pinnedFetch ??= coordinatorFetch(readCa(file, pinnedCa ? '--ca' : 'CONCORD_CA'));
  return pinnedFetch;
}

/** Calls the coordinator's operator API and returns parsed JSON (or bytes for frames). */
export async function operatorRequest<T>(url: string, token: string, method: string, path: string, body?: unknown): Promise<T> {
  let response: Response;
  const fetch = caFetch();
  try {
    response = await fetch(url.replace(/\/+$/, '') + path, {
      method,
      headers: {
        authorization: `Bearer ${token}`,
        [PROTOCOL_HEADER]: String(PROTOCOL_VERSION),
        ...(body !== undefined ? { 'content-type': 'application/json' } : {}),
      },
      ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
    });
  } catch (cause) {
    throw unreachableError(url, cause, '--coordinator');
  }
  if (!response.ok) {
    const parsed = (await response.json().catch(() => ({}))) as { error?: { code?: ErrorCode; message?: string; details?: Record<string, unknown> } };
    throw new ConcordError(parsed.error?.code ?? ErrorCode.INTERNAL, parsed.error?.message ?? `HTTP ${response.status}`, { details: parsed.error?.details ?? {} });
  }
  if (response.headers.get('content-type')?.includes('application/json')) return (await response.json()) as T;
  return new Uint8Array(await response.arrayBuffer()) as T;
}

export function parseIntOption(name: string) {
  return (value: string): number => {
    const n = Number(value);
    if (!Number.isInteger(n)) throw new InvalidArgumentError(`${name} must be an integer, got ${JSON.stringify(value)}`);
    return n;
  };
}

export function parseNumberOption(name: string) {
  return (value: string): number => {
    const n = Number(value);
    if (!Number.isFinite(n)) throw new InvalidArgumentError(`${name} must be a number, got ${JSON.stringify(value)}`);
    return n;
  };
}

/** Prints an error the way a person (or, with --json, a program) wants it, and exits non-zero. */
export function fail(raw: unknown, json: boolean): never {
  const error = toConcordError(raw);
  if (json) process.stdout.write(JSON.stringify({ error: error.toJSON() }) + '\n');
  else process.stderr.write(`concord: ${error.message}${error.details.field ? ` [${error.details.field}]` : ''} (${error.code})\n`);
  process.exit(error.code === ErrorCode.INTERNAL ? 70 : 1);
}
